/* signal_storm: signal deliveries per second, on libasync, libuv and libev.
 *
 *   signal_storm [libasync|libuv|libev ...]
 *
 * 200,000 rounds of kill(getpid(), SIGUSR1): the callback for one delivery
 * sends the next, so every delivery is counted (none coalesce) and each round
 * is the full path from the kernel's handler call to the loop's callback.
 * Reports deliveries/s and CPU us per delivery.
 *   libasync  async_signal_t
 *   libuv     uv_signal_t
 *   libev     ev_signal on the default loop
 * Ratio: libasync rate divided by the peer's (higher is better for libasync).
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define ROUNDS 200000L

enum { RATE, CPU_US };

static long rounds;
static double t0, cpu0;

static void start_clock(void) {
  rounds = 0;
  cpu0 = bench_cpu();
  t0 = bench_now();
}

static void finish(struct bench_result *r, const char *backend) {
  double secs = bench_now() - t0;
  r->v[RATE] = (double)rounds / secs;
  r->v[CPU_US] = (bench_cpu() - cpu0) * 1e6 / (double)rounds;
  if (rounds == ROUNDS)
    bench_ok(r, backend);
  else
    bench_fail(r, "%ld of %ld deliveries", rounds, ROUNDS);
}

/* 1 when the storm is over (the caller then stops its watcher). */
static int delivered(void) {
  if (++rounds == ROUNDS)
    return 1;
  kill(getpid(), SIGUSR1);
  return 0;
}

/* ---- libasync ------------------------------------------------------------ */

static async_signal_t a_sig;

static void a_cb(async_signal_t *h, int signum) {
  (void)signum;
  if (delivered())
    async_close((async_handle_t *)h, NULL);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  (void)arg;
  if (async_loop_init(&loop, NULL) != 0 || async_signal_init(&loop, &a_sig) != 0 ||
      async_signal_start(&a_sig, a_cb, SIGUSR1) != 0)
    BENCH_FAIL(r, "async_loop_init/async_signal_start failed");
  start_clock();
  kill(getpid(), SIGUSR1);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  finish(r, async_loop_backend(&loop));
  async_loop_close(&loop);
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_signal_t u_sig;

static void u_cb(uv_signal_t *h, int signum) {
  (void)signum;
  if (delivered())
    uv_close((uv_handle_t *)h, NULL);
}

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t *loop = uv_default_loop();
  (void)arg;
  if (uv_signal_init(loop, &u_sig) != 0 || uv_signal_start(&u_sig, u_cb, SIGUSR1) != 0)
    BENCH_FAIL(r, "uv_signal_start failed");
  start_clock();
  kill(getpid(), SIGUSR1);
  uv_run(loop, UV_RUN_DEFAULT);
  finish(r, "epoll");
  uv_loop_close(loop);
}
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static ev_signal e_sig;

static void e_cb(struct ev_loop *loop, ev_signal *w, int revents) {
  (void)revents;
  if (delivered())
    ev_signal_stop(loop, w);
}

static void run_libev(struct bench_result *r, const void *arg) {
  struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
  (void)arg;
  ev_signal_init(&e_sig, e_cb, SIGUSR1);
  ev_signal_start(loop, &e_sig);
  start_clock();
  kill(getpid(), SIGUSR1);
  ev_run(loop, 0);
  finish(r, ev_backend(loop) == EVBACKEND_EPOLL ? "epoll" : "other");
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {
  {"libasync", run_libasync}, BENCH_IMPL_LIBUV BENCH_IMPL_LIBEV};
#define NIMPLS (sizeof impls / sizeof impls[0])

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a;
  bench_print_env();
  printf("\nsignal_storm: %ld SIGUSR1 deliveries, each callback sending the next\n", ROUNDS);
  bench_run_all(impls, NIMPLS, NULL, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  printf("%-18s %14s %12s  %s\n", "implementation", "deliveries/s", "cpu us/each",
         "libasync advantage (libasync rate / peer's)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %14.0f %12.3f", r->v[RATE], r->v[CPU_US]);
    if (a != NULL && i > 0)
      printf("  %.2fx", a->v[RATE] / r->v[RATE]);
    printf("\n");
  }
  return 0;
}
