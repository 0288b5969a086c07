/* docs/guide.md, "Testing your own code with a virtual clock": the code under
 * test is a request that gives up after 30 seconds without an answer. Its
 * tests run in microseconds: one loop's clock jumps to the next timer
 * whenever the loop would sleep (ASYNC_CLOCK_AUTOJUMP), the other's moves
 * only when the test says so (ASYNC_CLOCK_VIRTUAL, async_loop_advance). */
#undef NDEBUG /* the asserts are the point of the program: keep them in every build */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "common.h"

/* ---- the code under test ------------------------------------------------------ */

#define REQUEST_TIMEOUT_MS 30000

struct request {
  async_timer_t timer;
  int answered, timed_out;
  uint64_t ended_at; /* loop time in ms */
};

static void on_request_closed(async_handle_t *handle) {
  (void)handle; /* a real program would free the request here */
}

static void request_end(struct request *r) {
  r->ended_at = async_now(r->timer.loop);
  async_close((async_handle_t *)&r->timer, on_request_closed);
}

static void on_request_timeout(async_timer_t *timer) {
  struct request *r = (struct request *)timer;
  r->timed_out = 1;
  request_end(r);
}

static void request_start(async_loop_t *loop, struct request *r) {
  memset(r, 0, sizeof(*r));
  check(async_timer_init(loop, &r->timer), "timer_init");
  check(async_timer_start(&r->timer, on_request_timeout, REQUEST_TIMEOUT_MS, 0), "timer_start");
}

/* The answer arrived: no timeout any more. */
static void request_answer(struct request *r) {
  if (r->answered || r->timed_out)
    return;
  r->answered = 1;
  request_end(r);
}

/* ---- the tests ----------------------------------------------------------------- */

static void open_loop(async_loop_t *loop, async_clock_mode clock) {
  async_loop_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.clock = clock;
  opts.clock_start_ns = 0; /* the test's time starts at 0 */
  if (example_loop_init(loop, &opts) != 0)
    exit(1);
}

/* Nobody answers: the request gives up at exactly 30 s, as the loop sees it. */
static void test_gives_up_after_30_s(void) {
  async_loop_t loop;
  struct request r;
  int rc;
  open_loop(&loop, ASYNC_CLOCK_AUTOJUMP);
  request_start(&loop, &r);
  rc = async_run(&loop, ASYNC_RUN_DEFAULT); /* jumps to 30 s, then nothing is left */
  assert(rc == 0);
  assert(r.timed_out && !r.answered);
  assert(r.ended_at == REQUEST_TIMEOUT_MS);
  check(async_loop_close(&loop), "loop_close");
}

/* The answer comes from a fake server after 10 s: no timeout. */
static void on_fake_answer(async_timer_t *timer) {
  request_answer(timer->data);
  async_close((async_handle_t *)timer, NULL);
}

static void test_answer_in_time(void) {
  async_loop_t loop;
  async_timer_t fake_server;
  struct request r;
  int rc;
  open_loop(&loop, ASYNC_CLOCK_AUTOJUMP);
  request_start(&loop, &r);
  check(async_timer_init(&loop, &fake_server), "timer_init");
  fake_server.data = &r;
  check(async_timer_start(&fake_server, on_fake_answer, 10000, 0), "timer_start");
  rc = async_run(&loop, ASYNC_RUN_DEFAULT);
  assert(rc == 0);
  assert(r.answered && !r.timed_out);
  assert(r.ended_at == 10000);
  check(async_loop_close(&loop), "loop_close");
}

/* The edge, step by step: still waiting at 29.999 s, given up at 30 s. */
static void test_edge_by_hand(void) {
  async_loop_t loop;
  struct request r;
  int rc;
  open_loop(&loop, ASYNC_CLOCK_VIRTUAL);
  request_start(&loop, &r);
  check(async_loop_advance(&loop, 29999 * UINT64_C(1000000)), "advance");
  rc = async_run(&loop, ASYNC_RUN_DEFAULT); /* returns 1: only a timer is left, not due */
  assert(rc == 1);
  assert(!r.timed_out);
  check(async_loop_advance(&loop, 1 * UINT64_C(1000000)), "advance");
  rc = async_run(&loop, ASYNC_RUN_DEFAULT);
  assert(rc == 0);
  assert(r.timed_out && r.ended_at == REQUEST_TIMEOUT_MS);
  check(async_loop_close(&loop), "loop_close");
}

int main(void) {
  uint64_t t0 = async_hrtime();
  test_gives_up_after_30_s();
  test_answer_in_time();
  test_edge_by_hand();
  printf("3 tests passed; 70 s of loop time took %.3f ms here\n",
         (double)(async_hrtime() - t0) / 1e6);
  return 0;
}
