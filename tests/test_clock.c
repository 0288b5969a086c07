/* Virtual clocks: manual advance and autojump. */
#include "helper.h"

#include <string.h>

#define MS UINT64_C(1000000)

static int fired;
static uint64_t seen_ms;
static void record(async_timer_t *t) {
  fired++;
  seen_ms = async_now(t->loop);
}

static void test_virtual_starts_where_told(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  memset(&o, 0, sizeof(o));
  o.backend = test_backend();
  o.clock = ASYNC_CLOCK_VIRTUAL;
  o.clock_start_ns = 5000 * MS;
  assert_int_equal(async_loop_init(&loop, &o), 0);
  assert_int_equal(async_now(&loop), 5000);
  assert_int_equal(async_now_ns(&loop), 5000 * MS);
  async_update_time(&loop); /* no effect on a virtual clock */
  assert_int_equal(async_now_ns(&loop), 5000 * MS);
  assert_int_equal(async_loop_advance(&loop, 250 * MS), 0);
  assert_int_equal(async_now(&loop), 5250);
  test_loop_close(&loop);
}

static void test_advance_refused_on_real_clock(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_loop_advance(&loop, MS), ASYNC_EINVAL);
  assert_int_equal(async_loop_advance(NULL, MS), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_bad_clock_mode(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  memset(&o, 0, sizeof(o));
  o.backend = test_backend();
  o.clock = (async_clock_mode)9;
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_EINVAL);
}

static void test_virtual_timer_waits_for_advance(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 30000, 0);
  /* Only a timer keeps the loop alive and none is due: run returns at once. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(fired, 0);
  async_loop_advance(&loop, 29999 * MS);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(fired, 0);
  async_loop_advance(&loop, MS);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 30000);
  test_loop_close(&loop);
}

static void test_autojump_thirty_seconds_at_once(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t real0;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 30000, 0);
  real0 = async_hrtime();
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 30000);
  /* generous: a jump, not a 30 s sleep */
  assert_true(async_hrtime() - real0 < 10000 * MS);
  test_loop_close(&loop);
}

static int ticks;
static void tick(async_timer_t *t) {
  if (++ticks == 100)
    async_timer_stop(t);
}

static void test_autojump_repeating(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  ticks = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, tick, 1000, 1000);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ticks, 100);
  assert_int_equal(async_now(&loop), 100000);
  test_loop_close(&loop);
}

static void test_autojump_does_not_jump_past_ready_work(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t idle;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 500, 0);
  async_idle_init(&loop, &idle);
  async_close((async_handle_t *)&idle, NULL);
  /* A pending close is ready work: this turn must not jump. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(async_now(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(seen_ms, 500);
  test_loop_close(&loop);
}

static void on_wakeup(async_wakeup_t *w) { (void)w; }

static void test_virtual_timer_beside_other_work(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_wakeup_t w;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 10, 0);
  assert_int_equal(async_wakeup_init(&loop, &w, on_wakeup), 0);
  /* Not due: the wakeup keeps the loop alive, the timer does not fire. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(fired, 0);
  assert_int_equal(async_backend_timeout(&loop), -1); /* a virtual clock never sleeps for a timer */
  async_loop_advance(&loop, 10 * MS);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 10);
  test_loop_close(&loop);
}

static void test_ns_timer_exact_on_virtual_clock(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start_ns(&t, record, 1500, 0);
  async_loop_advance(&loop, 1499);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 0);
  async_loop_advance(&loop, 1);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static void test_hrtime_monotonic(void **state) {
  uint64_t a, b;
  (void)state;
  a = async_hrtime();
  for (int i = 0; i < 1000; i++) {
    b = async_hrtime();
    assert_true(b >= a);
    a = b;
  }
}

static void test_real_clock_updates(void **state) {
  async_loop_t loop;
  uint64_t before;
  (void)state;
  test_loop_init(&loop);
  before = async_now_ns(&loop);
  while (async_hrtime() < before + 2 * MS)
    ;
  async_update_time(&loop);
  assert_true(async_now_ns(&loop) >= before + 2 * MS);
  assert_true(async_now_ns(&loop) <= async_hrtime());
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_virtual_starts_where_told),
  TEST(test_advance_refused_on_real_clock),
  TEST(test_bad_clock_mode),
  TEST(test_virtual_timer_waits_for_advance),
  TEST(test_autojump_thirty_seconds_at_once),
  TEST(test_autojump_repeating),
  TEST(test_autojump_does_not_jump_past_ready_work),
  TEST(test_virtual_timer_beside_other_work),
  TEST(test_ns_timer_exact_on_virtual_clock),
  TEST(test_hrtime_monotonic),
  TEST(test_real_clock_updates),
};

TEST_MAIN("clock", tests)
