/* million_timers: libuv's timer benchmark on libasync and every peer found.
 *
 *   million_timers [--10m] [libasync|libuv|libev|libevent ...]
 *
 * N timers (1,000,000 by default; --10m runs libuv's original 10,000,000, which
 * takes over 10 s per implementation because the last deadline is 10 s out)
 * with timeouts 1..N/1000 ms, 1 ms longer every 1,000 timers. The benchmark
 * allocates the timer array; each implementation runs in its own forked child.
 * Reported per implementation:
 *   start    wall time to init and start every timer
 *   run      wall time of the loop until every timer fired (about the last timeout)
 *   close    wall time to close every timer and run the loop until that is done
 *   cpu      process CPU time (user + sys) over start + run + close, and per timer;
 *            "user" is the user-mode part (the rest is mostly page faults on the
 *            memory the timers occupy, which varies from run to run in a VM)
 *   B/timer  RSS growth from before the timer array was allocated to after every
 *            timer was started, divided by N: the handle plus the library's heap slot
 * Peer equivalents: libuv uv_timer_init/start + uv_close; libev ev_timer_init/
 * start on ev_loop_new (no close exists: ev_timer_stop, a no-op once fired);
 * libevent evtimer_assign on a preallocated struct event + evtimer_add (close:
 * event_del). $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>


enum { START, RUN, CLOSE, CPU, BYTES, FIRED, USER };

static long ntimers;
static long fired;
static double t_begin, t_started, t_ran, cpu_begin, user_begin, rss_begin, rss_started;

static uint64_t timeout_ms(long i) { return 1 + (uint64_t)i / 1000; }

/* Marks the phases; mark_begin comes before the timer array is allocated. */
static void mark_begin(void) {
  rss_begin = bench_rss();
  cpu_begin = bench_cpu();
  user_begin = bench_cpu_user();
  t_begin = bench_now();
}
static void mark_started(void) {
  t_started = bench_now();
  rss_started = bench_rss();
}
static void mark_ran(void) { t_ran = bench_now(); }
static void mark_closed(struct bench_result *r, const char *backend) {
  double t_closed = bench_now();
  r->v[CPU] = bench_cpu() - cpu_begin;
  r->v[USER] = bench_cpu_user() - user_begin;
  r->v[START] = t_started - t_begin;
  r->v[RUN] = t_ran - t_started;
  r->v[CLOSE] = t_closed - t_ran;
  r->v[BYTES] = (rss_started - rss_begin) / (double)ntimers;
  r->v[FIRED] = (double)fired;
  if (fired == ntimers)
    bench_ok(r, backend);
  else
    bench_fail(r, "%ld of %ld timers fired", fired, ntimers);
}

/* ---- libasync ------------------------------------------------------------ */

static void on_async_timer(async_timer_t *t) { (void)t; fired++; }

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  async_timer_t *t;
  int err = async_loop_init(&loop, NULL);
  (void)arg;
  if (err != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  mark_begin();
  if ((t = malloc((size_t)ntimers * sizeof *t)) == NULL)
    BENCH_FAIL(r, "out of memory");
  for (long i = 0; i < ntimers; i++)
    if ((err = async_timer_init(&loop, &t[i])) != 0 ||
        (err = async_timer_start(&t[i], on_async_timer, timeout_ms(i), 0)) != 0)
      BENCH_FAIL(r, "timer %ld: %s", i, async_strerror(err));
  mark_started();
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  mark_ran();
  for (long i = 0; i < ntimers; i++)
    async_close((async_handle_t *)&t[i], NULL);
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  mark_closed(r, async_loop_backend(&loop));
  if ((err = async_loop_close(&loop)) != 0)
    bench_fail(r, "async_loop_close: %s", async_strerror(err));
  free(t);
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
#ifdef __linux__
#define UV_BACKEND_NAME "epoll" /* libuv has no backend choice on Linux */
#else
#define UV_BACKEND_NAME "default"
#endif

static void on_uv_timer(uv_timer_t *t) { (void)t; fired++; }

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t loop;
  uv_timer_t *t;
  int err = uv_loop_init(&loop);
  (void)arg;
  if (err != 0)
    BENCH_FAIL(r, "uv_loop_init: %s", uv_strerror(err));
  mark_begin();
  if ((t = malloc((size_t)ntimers * sizeof *t)) == NULL)
    BENCH_FAIL(r, "out of memory");
  for (long i = 0; i < ntimers; i++)
    if ((err = uv_timer_init(&loop, &t[i])) != 0 ||
        (err = uv_timer_start(&t[i], on_uv_timer, timeout_ms(i), 0)) != 0)
      BENCH_FAIL(r, "timer %ld: %s", i, uv_strerror(err));
  mark_started();
  uv_run(&loop, UV_RUN_DEFAULT);
  mark_ran();
  for (long i = 0; i < ntimers; i++)
    uv_close((uv_handle_t *)&t[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  mark_closed(r, UV_BACKEND_NAME);
  if ((err = uv_loop_close(&loop)) != 0)
    bench_fail(r, "uv_loop_close: %s", uv_strerror(err));
  free(t);
}
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static void on_ev_timer(struct ev_loop *loop, ev_timer *t, int revents) {
  (void)loop, (void)t, (void)revents;
  fired++;
}

static const char *libev_backend_name(unsigned b) {
  return b == EVBACKEND_EPOLL ? "epoll" : b == EVBACKEND_POLL ? "poll"
       : b == EVBACKEND_SELECT ? "select" : "other";
}

static void run_libev(struct bench_result *r, const void *arg) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer *t;
  (void)arg;
  if (loop == NULL)
    BENCH_FAIL(r, "ev_loop_new failed");
  mark_begin();
  if ((t = malloc((size_t)ntimers * sizeof *t)) == NULL)
    BENCH_FAIL(r, "out of memory");
  for (long i = 0; i < ntimers; i++) {
    ev_timer_init(&t[i], on_ev_timer, (double)timeout_ms(i) / 1e3, 0.);
    ev_timer_start(loop, &t[i]);
  }
  mark_started();
  ev_run(loop, 0);
  mark_ran();
  for (long i = 0; i < ntimers; i++)
    ev_timer_stop(loop, &t[i]);
  ev_run(loop, 0);
  mark_closed(r, libev_backend_name(ev_backend(loop)));
  ev_loop_destroy(loop);
  free(t);
}
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static void on_event_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
  fired++;
}

static void run_libevent(struct bench_result *r, const void *arg) {
  struct event_base *base = event_base_new();
  size_t size = event_get_struct_event_size();
  char *ev;
  (void)arg;
  if (base == NULL)
    BENCH_FAIL(r, "event_base_new failed");
  mark_begin();
  if ((ev = malloc((size_t)ntimers * size)) == NULL)
    BENCH_FAIL(r, "out of memory");
  for (long i = 0; i < ntimers; i++) {
    struct event *e = (struct event *)(ev + (size_t)i * size);
    uint64_t ms = timeout_ms(i);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (evtimer_assign(e, base, on_event_timer, NULL) != 0 || evtimer_add(e, &tv) != 0)
      BENCH_FAIL(r, "timer %ld: evtimer_assign/add failed", i);
  }
  mark_started();
  event_base_dispatch(base);
  mark_ran();
  for (long i = 0; i < ntimers; i++)
    event_del((struct event *)(ev + (size_t)i * size));
  event_base_dispatch(base);
  mark_closed(r, event_base_get_method(base));
  event_base_free(base);
  free(ev);
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {BENCH_IMPLS};
#define NIMPLS (sizeof impls / sizeof impls[0])

/* Peer cost / libasync cost for column k; -1 when either is missing. */
static double advantage(const struct bench_result *a, const struct bench_result *p, int k) {
  return a != NULL && p != NULL && a->v[k] > 0 ? p->v[k] / a->v[k] : -1;
}

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *uv, *ev;

  ntimers = bench_flag(argc, argv, "--10m") ? 10000000 : 1000000;
  bench_print_env();
  printf("million_timers: %ld timers, timeouts 1..%ld ms (1 ms more every 1,000 timers)\n",
         ntimers, ntimers / 1000);
  bench_run_all(impls, NIMPLS, NULL, res, ntimers > 1000000 ? 900 : 180, argc, argv);

  printf("%-18s %9s %9s %9s %9s %9s %12s %9s\n", "implementation", "start s", "run s",
         "close s", "cpu s", "user s", "cpu ns/timer", "B/timer");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %9.3f %9.3f %9.3f %9.3f %9.3f %12.1f %9.2f\n", r->v[START], r->v[RUN],
           r->v[CLOSE], r->v[CPU], r->v[USER], r->v[CPU] * 1e9 / (double)ntimers, r->v[BYTES]);
  }

  a = bench_find(impls, NIMPLS, res, "libasync");
  printf("libasync advantage = peer cost / libasync cost (higher is better for libasync):\n");
  for (size_t i = 1; i < NIMPLS; i++) {
    const struct bench_result *p = bench_find(impls, NIMPLS, res, impls[i].name);
    if (a == NULL || p == NULL)
      continue;
    printf("  vs %-9s start %.2fx  close %.2fx  cpu %.2fx  user cpu %.2fx  bytes/timer %.2fx\n",
           impls[i].name, advantage(a, p, START), advantage(a, p, CLOSE), advantage(a, p, CPU),
           advantage(a, p, USER), advantage(a, p, BYTES));
  }
  uv = bench_find(impls, NIMPLS, res, "libuv");
  ev = bench_find(impls, NIMPLS, res, "libev");
  printf("targets:\n");
  bench_target("timer CPU <= libev's", advantage(a, ev, CPU), 1.0);
  bench_target("timer CPU <= 0.2x libuv's", advantage(a, uv, CPU), 5.0);
  /* RSS is page-granular and picks up a few unrelated pages: judge whole bytes. */
  bench_target("bytes per timer <= libev's (whole bytes)",
               a && ev ? round(ev->v[BYTES]) / round(a->v[BYTES]) : -1, 1.0);
  return 0;
}
