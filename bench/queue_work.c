/* queue_work: trivial work items through the thread pool, libasync beside
 * libuv (libev and libevent have no thread pool).
 *
 *   queue_work [serial] [batch] [--quick] [libasync|libuv ...]
 *
 * The work callback does nothing, so what is measured is the pool's own path:
 * queueing, waking a pool thread, handing the finished item back and waking
 * the loop. Each after-work callback queues the next item until all are done.
 * serial  one item in flight: 20,000 items, each a full round trip loop ->
 *         pool thread -> loop (latency)
 * batch   1,000 items in flight: 1,000,000 items (throughput; completions
 *         reach the loop in batches)
 * A tenth of the items with --quick. Both pools have 4 threads (the default
 * of each; $ASYNC_THREADPOOL_SIZE and $UV_THREADPOOL_SIZE are cleared).
 *   libasync  async_work_queue
 *   libuv     uv_queue_work
 * Reports items/s and process CPU time per item (pool threads included).
 * Ratio: libasync items/s / libuv's (higher is better for libasync). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH_INFLIGHT 1000

enum { RATE, CPU_US, DONE_ITEMS };

struct config {
  int batch;    /* 0: serial */
  long items;
};

static const struct config *cfg;
static long queued, finished;

static int inflight(void) { return cfg->batch ? BATCH_INFLIGHT : 1; }

/* Called from each after-work callback: whether another item should go in. */
static int want_more(void) {
  finished++;
  return queued < cfg->items;
}

static void record(struct bench_result *r, double t0, double cpu0, const char *backend) {
  double secs = bench_now() - t0;
  r->v[RATE] = (double)finished / secs;
  r->v[CPU_US] = (bench_cpu() - cpu0) * 1e6 / (double)finished;
  r->v[DONE_ITEMS] = (double)finished;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else if (finished != cfg->items)
    bench_fail(r, "%ld of %ld items finished", finished, cfg->items);
  else
    bench_ok(r, backend);
}

/* ---- libasync ------------------------------------------------------------ */

static async_loop_t a_loop;
static async_work_t *a_reqs;

static void a_work(async_work_t *req) { (void)req; }

static void a_after(async_work_t *req, int status);

static void a_queue(async_work_t *req) {
  int err = async_work_queue(&a_loop, req, a_work, a_after);
  if (err != 0)
    bench_note_failure("async_work_queue", async_strerror(err));
  else
    queued++;
}

static void a_after(async_work_t *req, int status) {
  if (status != 0)
    bench_note_failure("after_cb", async_strerror(status));
  if (want_more() && !bench_failed())
    a_queue(req);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  double t0, cpu0;
  int err;
  cfg = arg;
  if ((err = async_loop_init(&a_loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if ((a_reqs = calloc((size_t)inflight(), sizeof *a_reqs)) == NULL)
    BENCH_FAIL(r, "out of memory");
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < inflight(); i++)
    a_queue(&a_reqs[i]);
  async_run(&a_loop, ASYNC_RUN_DEFAULT);
  record(r, t0, cpu0, async_loop_backend(&a_loop));
  async_threadpool_shutdown();
  async_loop_close(&a_loop);
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_loop_t u_loop;
static uv_work_t *u_reqs;

static void u_work(uv_work_t *req) { (void)req; }

static void u_after(uv_work_t *req, int status);

static void u_queue(uv_work_t *req) {
  int err = uv_queue_work(&u_loop, req, u_work, u_after);
  if (err != 0)
    bench_note_failure("uv_queue_work", uv_strerror(err));
  else
    queued++;
}

static void u_after(uv_work_t *req, int status) {
  if (status != 0)
    bench_note_failure("after_work_cb", uv_strerror(status));
  if (want_more() && !bench_failed())
    u_queue(req);
}

static void run_libuv(struct bench_result *r, const void *arg) {
  double t0, cpu0;
  cfg = arg;
  if (uv_loop_init(&u_loop) != 0 || (u_reqs = calloc((size_t)inflight(), sizeof *u_reqs)) == NULL)
    BENCH_FAIL(r, "uv_loop_init or out of memory");
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < inflight(); i++)
    u_queue(&u_reqs[i]);
  uv_run(&u_loop, UV_RUN_DEFAULT);
  record(r, t0, cpu0, "epoll");
  uv_loop_close(&u_loop);
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {{"libasync", run_libasync}, BENCH_IMPL_LIBUV};
#define NIMPLS (sizeof impls / sizeof impls[0])

static void section(const struct config *c, int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *uv;

  printf("\nqueue_work %s: %ld empty work items, %d in flight, 4 pool threads\n",
         c->batch ? "batch" : "serial", c->items, c->batch ? BATCH_INFLIGHT : 1);
  bench_run_all(impls, NIMPLS, c, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  uv = bench_find(impls, NIMPLS, res, "libuv");
  printf("%-18s %12s %12s  %s\n", "implementation", "items/s", "cpu us/item",
         "libasync advantage (libasync items/s / libuv's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %12.0f %12.3f", r->v[RATE], r->v[CPU_US]);
    if (a != NULL && i > 0)
      printf("  %.2fx", a->v[RATE] / r->v[RATE]);
    printf("\n");
  }
  printf("targets:\n");
  bench_target(c->batch ? "queue_work batch >= libuv's" : "queue_work serial >= libuv's",
               a && uv ? a->v[RATE] / uv->v[RATE] : -1, 1.0);
}

int main(int argc, char **argv) {
  int serial = bench_flag(argc, argv, "serial"), batch = bench_flag(argc, argv, "batch");
  long scale = bench_flag(argc, argv, "--quick") ? 10 : 1;
  struct config configs[] = {{0, 20000 / scale}, {1, 1000000 / scale}};

  if (!serial && !batch)
    serial = batch = 1;
  unsetenv("ASYNC_THREADPOOL_SIZE");
  unsetenv("UV_THREADPOOL_SIZE");
  bench_print_env();
  if (serial)
    section(&configs[0], argc, argv);
  if (batch)
    section(&configs[1], argc, argv);
  return 0;
}
