/* Deferred calls: FIFO, cancel, re-queue, liveness, bad input. */
#include "helper.h"

#include <string.h>

static char trace[32];
static int ntrace;

static void record(async_defer_t *d) {
  trace[ntrace++] = (char)(intptr_t)d->data;
  trace[ntrace] = '\0';
}

static void reset(void) {
  ntrace = 0;
  trace[0] = '\0';
}

static void test_fifo(void **state) {
  async_loop_t loop;
  async_defer_t d[5];
  (void)state;
  reset();
  test_loop_init(&loop);
  for (int i = 0; i < 5; i++) {
    async_defer_init(&d[i]);
    d[i].data = (void *)(intptr_t)('a' + i);
    assert_int_equal(async_defer(&loop, &d[i], record), 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(trace, "abcde");
  for (int i = 0; i < 5; i++)
    assert_false(async_defer_pending(&d[i]));
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  test_loop_init(&loop);
  async_defer_init(&d);
  assert_int_equal(async_defer(NULL, &d, record), ASYNC_EINVAL);
  assert_int_equal(async_defer(&loop, NULL, record), ASYNC_EINVAL);
  assert_int_equal(async_defer(&loop, &d, NULL), ASYNC_EINVAL);
  assert_int_equal(async_defer_cancel(NULL), ASYNC_EINVAL);
  assert_int_equal(async_defer_cancel(&d), ASYNC_ENOENT);
  assert_false(async_defer_pending(NULL));
  async_defer_init(NULL); /* harmless */
  test_loop_close(&loop);
}

static void test_twice_is_already(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  reset();
  test_loop_init(&loop);
  memset(&d, 0, sizeof(d)); /* zeroed memory is a prepared record */
  d.data = (void *)(intptr_t)'x';
  assert_int_equal(async_defer(&loop, &d, record), 0);
  assert_int_equal(async_defer(&loop, &d, record), ASYNC_EALREADY);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_string_equal(trace, "x");
  test_loop_close(&loop);
}

static void test_cancel(void **state) {
  async_loop_t loop;
  async_defer_t a, b, c;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_defer_init(&a);
  async_defer_init(&b);
  async_defer_init(&c);
  a.data = (void *)(intptr_t)'a';
  b.data = (void *)(intptr_t)'b';
  c.data = (void *)(intptr_t)'c';
  async_defer(&loop, &a, record);
  async_defer(&loop, &b, record);
  async_defer(&loop, &c, record);
  assert_int_equal(async_defer_cancel(&b), 0);
  assert_int_equal(async_defer_cancel(&b), ASYNC_ENOENT);
  assert_false(async_defer_pending(&b));
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_string_equal(trace, "ac");
  assert_int_equal(async_defer_cancel(&a), ASYNC_ENOENT); /* ran already */
  test_loop_close(&loop);
}

static async_defer_t later;
static void cancel_later(async_defer_t *d) {
  record(d);
  assert_int_equal(async_defer_cancel(&later), 0);
}

static void test_cancel_from_earlier_callback(void **state) {
  async_loop_t loop;
  async_defer_t first;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_defer_init(&first);
  async_defer_init(&later);
  first.data = (void *)(intptr_t)'1';
  later.data = (void *)(intptr_t)'2';
  async_defer(&loop, &first, cancel_later);
  async_defer(&loop, &later, record);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_string_equal(trace, "1");
  test_loop_close(&loop);
}

static async_defer_t queued_in_cb;
static int turn_of_inner;
static int turns;
static void count_turn(async_check_t *c) { (void)c; turns++; }
static void inner(async_defer_t *d) {
  (void)d;
  turn_of_inner = turns;
}
static void outer(async_defer_t *d) {
  (void)d;
  assert_int_equal(async_defer(d->data, &queued_in_cb, inner), 0);
}

static void test_queued_while_running_waits_a_turn(void **state) {
  async_loop_t loop;
  async_defer_t d;
  async_check_t check;
  (void)state;
  turns = 0;
  turn_of_inner = -1;
  test_loop_init(&loop);
  async_check_init(&loop, &check);
  async_check_start(&check, count_turn);
  async_unref((async_handle_t *)&check);
  async_defer_init(&d);
  async_defer_init(&queued_in_cb);
  d.data = &loop;
  async_defer(&loop, &d, outer);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(turn_of_inner, -1);
  assert_true(async_defer_pending(&queued_in_cb));
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_int_equal(turn_of_inner, 1);
  test_loop_close(&loop);
}

static void far_cb(async_timer_t *t) { (void)t; fail(); }

static void test_pending_defer_keeps_alive_and_poll_nonblocking(void **state) {
  async_loop_t loop;
  async_defer_t d;
  async_timer_t far;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_timer_init(&loop, &far);
  async_timer_start(&far, far_cb, 10000, 0);
  async_unref((async_handle_t *)&far);
  async_defer_init(&d);
  d.data = (void *)(intptr_t)'d';
  async_defer(&loop, &d, record);
  assert_true(async_loop_alive(&loop));
  assert_int_equal(async_backend_timeout(&loop), 0);
  /* ONCE must not block: the deferred call is ready now. */
  uint64_t t0 = async_hrtime();
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_true(async_hrtime() - t0 < UINT64_C(5000000000));
  assert_string_equal(trace, "d");
  test_loop_close(&loop);
}

static int counted;
static void count_defer(async_defer_t *d) {
  (void)d;
  counted++;
}

static void test_many_defers(void **state) {
  static async_defer_t d[10000];
  async_loop_t loop;
  (void)state;
  reset();
  counted = 0;
  test_loop_init(&loop);
  for (int i = 0; i < 10000; i++) {
    async_defer_init(&d[i]);
    d[i].data = (void *)(intptr_t)'z';
    async_defer(&loop, &d[i], i == 9999 ? record : count_defer);
  }
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_string_equal(trace, "z");
  assert_int_equal(counted, 9999);
  for (int i = 0; i < 10000; i++)
    assert_false(async_defer_pending(&d[i]));
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_fifo),
  TEST(test_bad_input),
  TEST(test_twice_is_already),
  TEST(test_cancel),
  TEST(test_cancel_from_earlier_callback),
  TEST(test_queued_while_running_waits_a_turn),
  TEST(test_pending_defer_keeps_alive_and_poll_nonblocking),
  TEST(test_many_defers),
};

TEST_MAIN("defer", tests)
