/* wakeup: cross-thread wakeups, on libasync and every peer found.
 *
 *   wakeup [pingpong] [pummel] [libasync|libuv|libev|libevent ...]
 *
 * pingpong  Two threads, each running its own loop with one wakeup handle. The
 *           main loop's callback wakes the second loop, whose callback wakes
 *           the main loop back: 100,000 round trips; reports round trips/s and
 *           process CPU time per round trip (spinning shows up there).
 * pummel    libuv's async_pummel_1: a plain thread sends 1,000,000 times as fast
 *           as it can while the loop counts callbacks (sends coalesce); reports
 *           sends/s as timed by the sending thread, and the callbacks seen.
 * Each runs three ways: threads free to use every core (on 2 CPUs the scheduler
 * sometimes keeps both on one CPU, which makes this one bimodal); split, the
 * main thread on CPU 0 and the other on CPU 1 (always across cores); and both
 * on CPU 0 (sched_setaffinity before the second thread is created, which
 * inherits it).
 *   libasync  async_wakeup_t + async_wakeup_send
 *   libuv     uv_async_t + uv_async_send
 *   libev     ev_async + ev_async_send
 *   libevent  evthread_use_pthreads(); an event with no fd, made active from the
 *             other thread with event_active(); the loop runs with
 *             EVLOOP_NO_EXIT_ON_EMPTY and ends with event_base_loopbreak().
 * Ratio: libasync rate divided by the peer's (higher is better for libasync).
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#ifdef HAVE_LIBEVENT
#include <event2/thread.h>
#endif

#define ROUNDS 100000L
#define SENDS 1000000L

enum { RATE, CPU_US, COUNT };

enum { FREE, SPLIT, ONE_CORE };

struct config {
  int pummel;  /* 0: ping-pong */
  int cpus;    /* FREE, SPLIT or ONE_CORE */
};

/* One implementation: side 0 is the main thread's loop, side 1 the second
 * thread's (ping-pong only). Callbacks call on_wake(side). */
struct wk_ops {
  const char *(*setup)(int sides);  /* loops + handles; NULL or an error */
  void (*send)(int side);           /* wakes side's loop (any thread) */
  void (*close)(int side);          /* on side's thread: let its loop end */
  void (*run)(int side);            /* runs side's loop until close(side) */
  void (*teardown)(int sides);
  const char *(*backend)(void);
};

static const struct wk_ops *ops;
static const struct config *cfg;
static long rounds, callbacks;
static atomic_int done;
static double send_secs;

static void on_wake(int side) {
  if (cfg->pummel) {
    callbacks++;
    if (atomic_load(&done))
      ops->close(0);
  } else if (side == 1) {
    if (atomic_load(&done))
      ops->close(1);
    else
      ops->send(0);
  } else if (++rounds == ROUNDS) {
    atomic_store(&done, 1);
    ops->send(1);
    ops->close(0);
  } else {
    ops->send(1);
  }
}

static void *second_loop(void *arg) {
  (void)arg;
  ops->run(1);
  return NULL;
}

static void *sender(void *arg) {
  double t = bench_now();
  (void)arg;
  for (long i = 0; i < SENDS; i++)
    ops->send(0);
  send_secs = bench_now() - t;
  atomic_store(&done, 1);
  ops->send(0);  /* the callback that sees done */
  return NULL;
}

static void drive(struct bench_result *r, const struct wk_ops *o, const struct config *c) {
  int sides = c->pummel ? 1 : 2;
  const char *err;
  double t0, cpu0;
  pthread_t th;

  ops = o;
  cfg = c;
  if (c->cpus != FREE && bench_pin(c->cpus == SPLIT ? 1 : 0) != 0)
    BENCH_FAIL(r, "sched_setaffinity failed");
  if ((err = ops->setup(sides)) != NULL)
    BENCH_FAIL(r, "%s", err);
  cpu0 = bench_cpu();
  if (pthread_create(&th, NULL, c->pummel ? sender : second_loop, NULL) != 0)
    BENCH_FAIL(r, "pthread_create failed");
  if (c->cpus == SPLIT && bench_pin(0) != 0)
    BENCH_FAIL(r, "sched_setaffinity failed");
  t0 = bench_now();
  if (!c->pummel)
    ops->send(1);
  ops->run(0);
  r->v[RATE] = c->pummel ? 0 : (double)ROUNDS / (bench_now() - t0);
  pthread_join(th, NULL);  /* before teardown: a late send may still touch the loop */
  if (c->pummel) {
    r->v[RATE] = (double)SENDS / send_secs;
    r->v[COUNT] = (double)callbacks;
  } else {
    r->v[COUNT] = (double)rounds;
  }
  r->v[CPU_US] = (bench_cpu() - cpu0) * 1e6 / (double)(c->pummel ? SENDS : ROUNDS);
  bench_ok(r, ops->backend());
  ops->teardown(sides);
}

/* ---- libasync ------------------------------------------------------------ */

static async_loop_t a_loop[2];
static async_wakeup_t a_wake[2];

static void a_cb(async_wakeup_t *w) { on_wake(w == &a_wake[1]); }

static const char *a_setup(int sides) {
  for (int s = 0; s < sides; s++)
    if (async_loop_init(&a_loop[s], NULL) != 0 ||
        async_wakeup_init(&a_loop[s], &a_wake[s], a_cb) != 0)
      return "async_loop_init/async_wakeup_init failed";
  return NULL;
}
static void a_send(int side) { async_wakeup_send(&a_wake[side]); }
static void a_close(int side) { async_close((async_handle_t *)&a_wake[side], NULL); }
static void a_run(int side) { async_run(&a_loop[side], ASYNC_RUN_DEFAULT); }
static void a_teardown(int sides) {
  for (int s = 0; s < sides; s++)
    async_loop_close(&a_loop[s]);
}
static const char *a_backend(void) { return async_loop_backend(&a_loop[0]); }

static const struct wk_ops a_ops = {a_setup, a_send, a_close, a_run, a_teardown, a_backend};

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_loop_t u_loops[2];
static uv_async_t u_wake[2];

static void u_cb(uv_async_t *w) { on_wake(w == &u_wake[1]); }

static const char *u_setup(int sides) {
  for (int s = 0; s < sides; s++)
    if (uv_loop_init(&u_loops[s]) != 0 || uv_async_init(&u_loops[s], &u_wake[s], u_cb) != 0)
      return "uv_loop_init/uv_async_init failed";
  return NULL;
}
static void u_send(int side) { uv_async_send(&u_wake[side]); }
static void u_close_side(int side) { uv_close((uv_handle_t *)&u_wake[side], NULL); }
static void u_run_side(int side) { uv_run(&u_loops[side], UV_RUN_DEFAULT); }
static void u_teardown(int sides) {
  for (int s = 0; s < sides; s++)
    uv_loop_close(&u_loops[s]);
}
static const char *u_backend(void) { return "epoll"; }

static const struct wk_ops u_ops = {u_setup, u_send, u_close_side, u_run_side,
                                    u_teardown, u_backend};
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static struct ev_loop *e_loops[2];
static ev_async e_wake[2];

static void e_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop, (void)revents;
  on_wake(w == &e_wake[1]);
}

static const char *e_setup(int sides) {
  for (int s = 0; s < sides; s++) {
    if ((e_loops[s] = ev_loop_new(EVFLAG_AUTO)) == NULL)
      return "ev_loop_new failed";
    ev_async_init(&e_wake[s], e_cb);
    ev_async_start(e_loops[s], &e_wake[s]);
  }
  return NULL;
}
static void e_send(int side) { ev_async_send(e_loops[side], &e_wake[side]); }
static void e_close_side(int side) { ev_async_stop(e_loops[side], &e_wake[side]); }
static void e_run_side(int side) { ev_run(e_loops[side], 0); }
static void e_teardown(int sides) {
  for (int s = 0; s < sides; s++)
    ev_loop_destroy(e_loops[s]);
}
static const char *e_backend_name(void) {
  return ev_backend(e_loops[0]) == EVBACKEND_EPOLL ? "epoll" : "other";
}

static const struct wk_ops e_ops = {e_setup, e_send, e_close_side, e_run_side,
                                    e_teardown, e_backend_name};
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static struct event_base *le_base[2];
static struct event *le_wake[2];

static void le_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  on_wake(arg == &le_wake[1]);
}

static const char *le_setup(int sides) {
  if (evthread_use_pthreads() != 0)
    return "evthread_use_pthreads failed";
  for (int s = 0; s < sides; s++)
    if ((le_base[s] = event_base_new()) == NULL ||
        (le_wake[s] = event_new(le_base[s], -1, 0, le_cb, &le_wake[s])) == NULL)
      return "event_base_new/event_new failed";
  return NULL;
}
static void le_send(int side) { event_active(le_wake[side], EV_READ, 1); }
static void le_close(int side) { event_base_loopbreak(le_base[side]); }
static void le_run(int side) { event_base_loop(le_base[side], EVLOOP_NO_EXIT_ON_EMPTY); }
static void le_teardown(int sides) {
  for (int s = 0; s < sides; s++) {
    event_free(le_wake[s]);
    event_base_free(le_base[s]);
  }
}
static const char *le_backend(void) { return event_base_get_method(le_base[0]); }

static const struct wk_ops le_ops = {le_setup, le_send, le_close, le_run, le_teardown,
                                     le_backend};
#endif

/* ---- report -------------------------------------------------------------- */

#define IMPL(name, o)                                                         \
  static void run_##name(struct bench_result *r, const void *arg) { drive(r, &o, arg); }
IMPL(libasync, a_ops)
#ifdef HAVE_LIBUV
IMPL(libuv, u_ops)
#endif
#ifdef HAVE_LIBEV
IMPL(libev, e_ops)
#endif
#ifdef HAVE_LIBEVENT
IMPL(libevent, le_ops)
#endif

static const struct bench_impl impls[] = {BENCH_IMPLS};
#define NIMPLS (sizeof impls / sizeof impls[0])

static double advantage(const struct bench_result *a, const char *peer,
                        const struct bench_result *res) {
  const struct bench_result *p = bench_find(impls, NIMPLS, res, peer);
  return a != NULL && p != NULL ? a->v[RATE] / p->v[RATE] : -1;
}

static void section(const struct config *c, int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a;

  static const char *const how[] = {"threads free on every core",
                                    "split: main thread on CPU 0, other on CPU 1",
                                    "one core: both threads on CPU 0"};
  printf("\nwakeup %s, %s: %ld %s\n", c->pummel ? "pummel" : "ping-pong", how[c->cpus],
         c->pummel ? SENDS : ROUNDS, c->pummel ? "sends from a second thread" : "round trips");
  bench_run_all(impls, NIMPLS, c, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  printf("%-18s %12s %12s %12s  %s\n", "implementation", c->pummel ? "sends/s" : "trips/s",
         c->pummel ? "cpu us/send" : "cpu us/trip", c->pummel ? "callbacks" : "trips",
         "libasync advantage (libasync rate / peer's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %12.0f %12.3f %12.0f", r->v[RATE], r->v[CPU_US], r->v[COUNT]);
    if (a != NULL && i > 0)
      printf("  %.2fx", a->v[RATE] / r->v[RATE]);
    printf("\n");
  }
  if (c->pummel)
    return;
  printf("targets:\n");
  if (c->cpus == ONE_CORE)
    bench_target("ping-pong on one core >= libev's", advantage(a, "libev", res), 1.0);
  else if (c->cpus == SPLIT)
    bench_target("ping-pong across cores >= libuv's", advantage(a, "libuv", res), 1.0);
  else
    bench_target("ping-pong, threads free, >= libuv's", advantage(a, "libuv", res), 1.0);
}

int main(int argc, char **argv) {
  int pingpong = bench_flag(argc, argv, "pingpong"), pummel = bench_flag(argc, argv, "pummel");
  static const struct config configs[] = {{0, FREE}, {0, SPLIT}, {0, ONE_CORE},
                                          {1, FREE}, {1, SPLIT}, {1, ONE_CORE}};

  if (!pingpong && !pummel)
    pingpong = pummel = 1;
  bench_print_env();
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    printf("one CPU online: the free and split runs share it too\n");
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
    if (configs[i].pummel ? pummel : pingpong)
      section(&configs[i], argc, argv);
  return 0;
}
