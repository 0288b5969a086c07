/* loop_count: the cost of one loop turn, on libasync and every peer found.
 *
 *   loop_count [bare] [fd] [libasync|libuv|libev|libevent ...]
 *
 * bare  2,000,000 turns with a single idle hook whose callback counts and stops
 *       itself at the last turn (libuv's loop_count workload); the wall time of
 *       the run gives turns per second. The peers poll the kernel without
 *       blocking on every turn; libasync skips that system call while no fd but
 *       its own wake channel is watched (docs/loop.md), so this is the
 *       fixed per-turn overhead as a program with no I/O sees it.
 * fd    The same with one extra fd watched for readability (the read end of
 *       an empty pipe), so that every implementation polls on every turn.
 *   libasync  async_idle_t
 *   libuv     uv_idle_t
 *   libev     ev_idle (runs once per ev_run iteration when nothing else is pending)
 *   libevent  has no idle watcher; the closest honest equivalent is a timer with
 *             a zero timeout that the callback re-adds: it fires once per
 *             event_base_loop iteration, after a non-blocking epoll_wait, as an
 *             idle hook does. (event_active() from the callback is not one: 2.1
 *             runs re-activated events again in the same turn without polling.)
 * Ratio: libasync turns/s divided by the peer's (higher is better for libasync).
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <stdio.h>
#include <unistd.h>


#define TURNS 2000000L

enum { SECS, COUNT };

static long ticks;
static double t0;
static int watch_fd = -1;  /* read end of an empty pipe in the fd variant */

/* In the fd variant, opens the pipe; 0 or -1. */
static int open_pipe(const void *arg) {
  int fds[2];
  if (!*(const int *)arg)
    return 0;
  if (pipe(fds) != 0)
    return -1;
  watch_fd = fds[0];
  return 0;
}

static void finish(struct bench_result *r, const char *backend) {
  r->v[SECS] = bench_now() - t0;
  r->v[COUNT] = (double)ticks;
  if (ticks == TURNS)
    bench_ok(r, backend);
  else
    bench_fail(r, "%ld of %ld turns", ticks, TURNS);
}

/* ---- libasync ------------------------------------------------------------ */

static async_watch_t a_watch;

static void on_async_readable(async_watch_t *w, int status, unsigned events) {
  (void)w, (void)status, (void)events;
}

static void on_async_idle(async_idle_t *idle) {
  if (++ticks < TURNS)
    return;
  async_idle_stop(idle);
  if (watch_fd >= 0)
    async_close((async_handle_t *)&a_watch, NULL);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  async_idle_t idle;
  int err;
  if ((err = bench_async_loop_init(&loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if (open_pipe(arg) != 0)
    BENCH_FAIL(r, "pipe failed");
  if (watch_fd >= 0 && ((err = async_watch_init(&loop, &a_watch, watch_fd)) != 0 ||
                        (err = async_watch_start(&a_watch, ASYNC_READABLE, on_async_readable)) != 0))
    BENCH_FAIL(r, "watch: %s", async_strerror(err));
  if ((err = async_idle_init(&loop, &idle)) != 0 ||
      (err = async_idle_start(&idle, on_async_idle)) != 0)
    BENCH_FAIL(r, "idle: %s", async_strerror(err));
  t0 = bench_now();
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  finish(r, async_loop_backend(&loop));
  async_close((async_handle_t *)&idle, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  if ((err = async_loop_close(&loop)) != 0)
    bench_fail(r, "async_loop_close: %s", async_strerror(err));
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_poll_t uv_watch;

static void on_uv_readable(uv_poll_t *w, int status, int events) {
  (void)w, (void)status, (void)events;
}

static void on_uv_idle(uv_idle_t *idle) {
  if (++ticks < TURNS)
    return;
  uv_idle_stop(idle);
  if (watch_fd >= 0)
    uv_close((uv_handle_t *)&uv_watch, NULL);
}

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t loop;
  uv_idle_t idle;
  int err;
  if ((err = uv_loop_init(&loop)) != 0)
    BENCH_FAIL(r, "uv_loop_init: %s", uv_strerror(err));
  if (open_pipe(arg) != 0)
    BENCH_FAIL(r, "pipe failed");
  if (watch_fd >= 0 && ((err = uv_poll_init(&loop, &uv_watch, watch_fd)) != 0 ||
                        (err = uv_poll_start(&uv_watch, UV_READABLE, on_uv_readable)) != 0))
    BENCH_FAIL(r, "uv_poll: %s", uv_strerror(err));
  uv_idle_init(&loop, &idle);
  uv_idle_start(&idle, on_uv_idle);
  t0 = bench_now();
  uv_run(&loop, UV_RUN_DEFAULT);
  finish(r, "epoll");
  uv_close((uv_handle_t *)&idle, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if ((err = uv_loop_close(&loop)) != 0)
    bench_fail(r, "uv_loop_close: %s", uv_strerror(err));
}
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static ev_io ev_watch;

static void on_ev_readable(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop, (void)w, (void)revents;
}

static void on_ev_idle(struct ev_loop *loop, ev_idle *idle, int revents) {
  (void)revents;
  if (++ticks < TURNS)
    return;
  ev_idle_stop(loop, idle);
  if (watch_fd >= 0)
    ev_io_stop(loop, &ev_watch);
}

static void run_libev(struct bench_result *r, const void *arg) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_idle idle;
  if (loop == NULL || open_pipe(arg) != 0)
    BENCH_FAIL(r, "ev_loop_new or pipe failed");
  if (watch_fd >= 0) {
    ev_io_init(&ev_watch, on_ev_readable, watch_fd, BENCH_EV_READ);
    ev_io_start(loop, &ev_watch);
  }
  ev_idle_init(&idle, on_ev_idle);
  ev_idle_start(loop, &idle);
  t0 = bench_now();
  ev_run(loop, 0);
  finish(r, ev_backend(loop) == EVBACKEND_EPOLL ? "epoll" : "other");
  ev_loop_destroy(loop);
}
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static const struct timeval zero_tv;
static struct event *event_watch;

static void on_event_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
}

static void on_event_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  if (++ticks < TURNS)
    evtimer_add((struct event *)arg, &zero_tv);
  else if (event_watch != NULL)
    event_del(event_watch);
}

static void run_libevent(struct bench_result *r, const void *arg) {
  struct event_base *base = event_base_new();
  struct event *ev;
  if (base == NULL || open_pipe(arg) != 0)
    BENCH_FAIL(r, "event_base_new or pipe failed");
  if (watch_fd >= 0 &&
      ((event_watch = event_new(base, watch_fd, EV_READ | EV_PERSIST, on_event_readable, NULL)) == NULL ||
       event_add(event_watch, NULL) != 0))
    BENCH_FAIL(r, "event_new/event_add failed");
  if ((ev = evtimer_new(base, on_event_tick, event_self_cbarg())) == NULL)
    BENCH_FAIL(r, "evtimer_new failed");
  evtimer_add(ev, &zero_tv);
  t0 = bench_now();
  event_base_dispatch(base);
  finish(r, event_base_get_method(base));
  event_free(ev);
  if (event_watch != NULL)
    event_free(event_watch);
  event_base_free(base);
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {BENCH_IMPLS};
#define NIMPLS (sizeof impls / sizeof impls[0])

static double rate(const struct bench_result *r) { return r->v[COUNT] / r->v[SECS]; }

static void section(int with_fd, int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *uv;

  printf("\nloop_count %s: %ld turns with one idle hook%s\n", with_fd ? "fd" : "bare", TURNS,
         with_fd ? " and one watched fd that never becomes ready" : "");
  bench_run_all(impls, NIMPLS, &with_fd, res, 120, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");

  printf("%-18s %9s %12s %9s  %s\n", "implementation", "seconds", "turns/s", "ns/turn",
         "libasync advantage (libasync turns/s / peer's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %9.3f %12.0f %9.1f", r->v[SECS], rate(r), 1e9 / rate(r));
    if (a != NULL && i > 0)
      printf("  %.2fx", rate(a) / rate(r));
    printf("\n");
  }
  uv = bench_find(impls, NIMPLS, res, "libuv");
  printf("targets:\n");
  bench_target(with_fd ? "loop_count with a watched fd >= 1.5x libuv's (not a project target)"
                       : "loop_count >= 1.5x libuv's",
               a && uv ? rate(a) / rate(uv) : -1, 1.5);
}

int main(int argc, char **argv) {
  int bare = bench_flag(argc, argv, "bare"), fd = bench_flag(argc, argv, "fd");
  if (!bare && !fd)
    bare = fd = 1;
  bench_print_env();
  if (bare)
    section(0, argc, argv);
  if (fd)
    section(1, argc, argv);
  return 0;
}
