/* getaddrinfo: asynchronous getaddrinfo("localhost") on the thread pool,
 * libasync beside libuv (libev has no resolver; libevent's evdns is a DNS
 * client of its own, not getaddrinfo on a pool, so it is left out).
 *
 *   getaddrinfo [--quick] [libasync|libuv ...]
 *
 * 10 requests in flight, 20,000 in all (2,000 with --quick): each callback
 * frees its result and starts the next request. Hints: AF_INET, SOCK_STREAM.
 * "localhost" resolves from /etc/hosts, so the cost is glibc's
 * getaddrinfo plus the pool round trip; no packet leaves the machine. Both
 * pools have 4 threads ($ASYNC_THREADPOOL_SIZE and $UV_THREADPOOL_SIZE are
 * cleared).
 *   libasync  async_getaddrinfo + async_freeaddrinfo
 *   libuv     uv_getaddrinfo + uv_freeaddrinfo
 * Reports lookups/s and process CPU time per lookup (pool threads included).
 * Ratio: libasync lookups/s / libuv's (higher is better for libasync). */
#include "bench.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define INFLIGHT 10

enum { RATE, CPU_US };

static long total, started, finished;
static struct addrinfo hints;

/* Called from each callback: whether another lookup should start. */
static int want_more(void) {
  finished++;
  return started < total && !bench_failed();
}

static void record(struct bench_result *r, double t0, double cpu0, const char *backend) {
  r->v[RATE] = (double)finished / (bench_now() - t0);
  r->v[CPU_US] = (bench_cpu() - cpu0) * 1e6 / (double)finished;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else if (finished != total)
    bench_fail(r, "%ld of %ld lookups finished", finished, total);
  else
    bench_ok(r, backend);
}

/* ---- libasync ------------------------------------------------------------ */

static async_loop_t a_loop;
static async_getaddrinfo_t a_reqs[INFLIGHT];

static void a_resolved(async_getaddrinfo_t *req, int status, struct addrinfo *res);

static void a_start(async_getaddrinfo_t *req) {
  int err = async_getaddrinfo(&a_loop, req, a_resolved, "localhost", NULL, &hints);
  if (err != 0)
    bench_note_failure("async_getaddrinfo", async_strerror(err));
  else
    started++;
}

static void a_resolved(async_getaddrinfo_t *req, int status, struct addrinfo *res) {
  if (status != 0)
    bench_note_failure("callback", async_strerror(status));
  async_freeaddrinfo(res);
  if (want_more())
    a_start(req);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  double t0, cpu0;
  int err;
  (void)arg;
  if ((err = async_loop_init(&a_loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < INFLIGHT; i++)
    a_start(&a_reqs[i]);
  async_run(&a_loop, ASYNC_RUN_DEFAULT);
  record(r, t0, cpu0, async_loop_backend(&a_loop));
  async_threadpool_shutdown();
  async_loop_close(&a_loop);
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_loop_t u_loop;
static uv_getaddrinfo_t u_reqs[INFLIGHT];

static void u_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

static void u_start(uv_getaddrinfo_t *req) {
  int err = uv_getaddrinfo(&u_loop, req, u_resolved, "localhost", NULL, &hints);
  if (err != 0)
    bench_note_failure("uv_getaddrinfo", uv_strerror(err));
  else
    started++;
}

static void u_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  if (status != 0)
    bench_note_failure("callback", uv_strerror(status));
  uv_freeaddrinfo(res);
  if (want_more())
    u_start(req);
}

static void run_libuv(struct bench_result *r, const void *arg) {
  double t0, cpu0;
  (void)arg;
  if (uv_loop_init(&u_loop) != 0)
    BENCH_FAIL(r, "uv_loop_init failed");
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < INFLIGHT; i++)
    u_start(&u_reqs[i]);
  uv_run(&u_loop, UV_RUN_DEFAULT);
  record(r, t0, cpu0, "epoll");
  uv_loop_close(&u_loop);
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {{"libasync", run_libasync}, BENCH_IMPL_LIBUV};
#define NIMPLS (sizeof impls / sizeof impls[0])

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *uv;

  total = bench_flag(argc, argv, "--quick") ? 2000 : 20000;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  unsetenv("ASYNC_THREADPOOL_SIZE");
  unsetenv("UV_THREADPOOL_SIZE");
  bench_print_env();
  printf("\ngetaddrinfo: \"localhost\" %ld times, %d in flight, 4 pool threads\n", total, INFLIGHT);
  bench_run_all(impls, NIMPLS, NULL, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  uv = bench_find(impls, NIMPLS, res, "libuv");
  printf("%-18s %12s %12s  %s\n", "implementation", "lookups/s", "cpu us/each",
         "libasync advantage (libasync lookups/s / libuv's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %12.0f %12.2f", r->v[RATE], r->v[CPU_US]);
    if (a != NULL && i > 0)
      printf("  %.2fx", a->v[RATE] / r->v[RATE]);
    printf("\n");
  }
  printf("targets:\n");
  bench_target("getaddrinfo >= libuv's (not a project target)",
               a && uv ? a->v[RATE] / uv->v[RATE] : -1, 1.0);
  return 0;
}
