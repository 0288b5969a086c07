/* Timers: ordering, repeat, again, restart and stop from callbacks, bad input. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS UINT64_C(1000000)

static int fired;
static int order[64];
static int norder;

static void count_cb(async_timer_t *t) {
  (void)t;
  fired++;
}

static void order_cb(async_timer_t *t) {
  order[norder++] = (int)(intptr_t)t->data;
}

static void test_init_bad_input(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(NULL, &t), ASYNC_EINVAL);
  assert_int_equal(async_timer_init(&loop, NULL), ASYNC_EINVAL);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_handle_get_type((async_handle_t *)&t), ASYNC_TIMER);
  assert_false(async_is_active((async_handle_t *)&t));
  test_loop_close(&loop);
}

static void test_start_bad_input(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_start(NULL, count_cb, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_timer_start(&t, NULL, 1, 0), ASYNC_EINVAL);
  assert_false(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_timer_stop(NULL), ASYNC_EINVAL);
  assert_int_equal(async_timer_again(NULL), ASYNC_EINVAL);
  async_close((async_handle_t *)&t, NULL);
  assert_int_equal(async_timer_start(&t, count_cb, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_timer_again(&t), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_deadline_order(void **state) {
  async_loop_t loop;
  async_timer_t t[5];
  static const uint64_t timeouts[5] = {30, 10, 50, 20, 40};
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  for (int i = 0; i < 5; i++) {
    async_timer_init(&loop, &t[i]);
    t[i].data = (void *)(intptr_t)i;
    async_timer_start(&t[i], order_cb, timeouts[i], 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(norder, 5);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 3);
  assert_int_equal(order[2], 0);
  assert_int_equal(order[3], 4);
  assert_int_equal(order[4], 2);
  test_loop_close(&loop);
}

static void test_equal_deadlines_in_start_order(void **state) {
  async_loop_t loop;
  async_timer_t t[40];
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < 40; i++)
    async_timer_init(&loop, &t[i]);
  /* Start them in a scrambled order; the start order is what counts. */
  for (int k = 0; k < 40; k++) {
    int i = (k * 17) % 40;
    t[i].data = (void *)(intptr_t)k;
    async_timer_start(&t[i], order_cb, 5, 0);
  }
  async_loop_advance(&loop, 5 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(norder, 40);
  for (int k = 0; k < 40; k++)
    assert_int_equal(order[k], k);
  test_loop_close(&loop);
}

static void test_restart_moves_deadline(void **state) {
  async_loop_t loop;
  async_timer_t a, b;
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &a);
  async_timer_init(&loop, &b);
  a.data = (void *)0;
  b.data = (void *)1;
  async_timer_start(&a, order_cb, 10, 0);
  async_timer_start(&b, order_cb, 20, 0);
  async_timer_start(&a, order_cb, 30, 0); /* restart, not a second timer */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(norder, 2);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 0);
  assert_int_equal(async_now(&loop), 30);
  test_loop_close(&loop);
}

static void test_stop_prevents_callback(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 1, 0);
  assert_int_equal(async_timer_stop(&t), 0);
  assert_int_equal(async_timer_stop(&t), 0); /* twice is fine */
  assert_false(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 0);
  test_loop_close(&loop);
}

static void stop_after_three(async_timer_t *t) {
  if (++fired == 3)
    async_timer_stop(t);
}

static void test_repeat(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, stop_after_three, 10, 5);
  assert_int_equal(async_timer_get_repeat(&t), 5);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 3);
  assert_int_equal(async_now(&loop), 20);
  test_loop_close(&loop);
}

static void test_repeat_no_drift(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 10, 10);
  async_loop_advance(&loop, 13 * MS); /* late by 3 ms */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  /* Next deadline is 20 ms (previous + repeat), not 23 ms. */
  assert_int_equal(async_timer_get_due_in_ns(&t), 7 * MS);
  test_loop_close(&loop);
}

static void test_repeat_no_catch_up_burst(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 10, 10);
  async_loop_advance(&loop, 100 * MS); /* nine periods behind */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_int_equal(async_timer_get_due_in_ns(&t), 10 * MS);
  test_loop_close(&loop);
}

static void test_again(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_again(&t), ASYNC_EINVAL); /* never started */
  async_timer_start(&t, count_cb, 50, 0);
  async_timer_set_repeat(&t, 20);
  assert_int_equal(async_timer_again(&t), 0);
  assert_int_equal(async_timer_get_due_in(&t), 20);
  async_timer_set_repeat(&t, 0);
  assert_int_equal(async_timer_again(&t), 0);
  assert_false(async_is_active((async_handle_t *)&t));
  test_loop_close(&loop);
}

static void test_repeat_ns_round_trip(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_set_repeat_ns(&t, 1500000);
  assert_int_equal(async_timer_get_repeat_ns(&t), 1500000);
  assert_int_equal(async_timer_get_repeat(&t), 1);
  async_timer_set_repeat(&t, 7);
  assert_int_equal(async_timer_get_repeat_ns(&t), 7 * MS);
  test_loop_close(&loop);
}

static void test_due_in(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_get_due_in(&t), 0);
  async_timer_start_ns(&t, count_cb, 2500000, 0);
  assert_int_equal(async_timer_get_due_in_ns(&t), 2500000);
  assert_int_equal(async_timer_get_due_in(&t), 3); /* rounded up */
  async_loop_advance(&loop, 3 * MS);
  assert_int_equal(async_timer_get_due_in(&t), 0);
  async_timer_stop(&t);
  assert_int_equal(async_timer_get_due_in_ns(&t), 0);
  test_loop_close(&loop);
}

static async_timer_t victims[3];
static void stop_others_cb(async_timer_t *t) {
  (void)t;
  fired++;
  async_timer_stop(&victims[1]);
  async_close((async_handle_t *)&victims[2], NULL);
}

static void test_callback_stops_and_closes_others(void **state) {
  async_loop_t loop;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < 3; i++)
    async_timer_init(&loop, &victims[i]);
  async_timer_start(&victims[0], stop_others_cb, 5, 0);
  async_timer_start(&victims[1], count_cb, 5, 0);
  async_timer_start(&victims[2], count_cb, 5, 0);
  async_loop_advance(&loop, 5 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_false(async_is_active((async_handle_t *)&victims[1]));
  assert_true(async_is_closing((async_handle_t *)&victims[2]));
  test_loop_close(&loop);
}

static void restart_from_cb(async_timer_t *t) {
  if (++fired < 4)
    async_timer_start(t, restart_from_cb, 10, 0);
}

static void test_restart_from_own_callback(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, restart_from_cb, 10, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 4);
  assert_int_equal(async_now(&loop), 40);
  test_loop_close(&loop);
}

static int close_cb_calls;
static void count_close(async_handle_t *h) {
  (void)h;
  close_cb_calls++;
}
static void close_self(async_timer_t *t) {
  fired++;
  async_close((async_handle_t *)t, count_close);
}

static void test_repeating_timer_closes_itself(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = close_cb_calls = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, close_self, 1, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(close_cb_calls, 1);
  test_loop_close(&loop);
}

#define RANDOM_TIMERS 1000
static async_timer_t rnd[RANDOM_TIMERS];
static uint64_t rnd_due[RANDOM_TIMERS];
static uint64_t last_due;
static int order_broken;
static void random_cb(async_timer_t *t) {
  int i = (int)(t - rnd);
  if (rnd_due[i] < last_due || async_now_ns(t->loop) < rnd_due[i])
    order_broken++;
  last_due = rnd_due[i];
  fired++;
}

static void test_thousand_random_timers_in_order(void **state) {
  async_loop_t loop;
  (void)state;
  fired = order_broken = 0;
  last_due = 0;
  srand(42);
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  for (int i = 0; i < RANDOM_TIMERS; i++) {
    async_timer_init(&loop, &rnd[i]);
    rnd_due[i] = (uint64_t)(rand() % 100000) * 1000;
    async_timer_start_ns(&rnd[i], random_cb, rnd_due[i], 0);
  }
  /* Stop a third of them, restart some with new timeouts. */
  for (int i = 0; i < RANDOM_TIMERS; i += 3)
    async_timer_stop(&rnd[i]);
  for (int i = 0; i < RANDOM_TIMERS; i += 9) {
    rnd_due[i] = (uint64_t)(rand() % 100000) * 1000;
    async_timer_start_ns(&rnd[i], random_cb, rnd_due[i], 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(order_broken, 0);
  assert_int_equal(fired, RANDOM_TIMERS - RANDOM_TIMERS / 3 - 1 + (RANDOM_TIMERS / 9 + 1));
  test_loop_close(&loop);
}

static void test_huge_timeout_saturates(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_start(&t, count_cb, UINT64_MAX, 0), 0);
  assert_true(async_timer_get_due_in(&t) > UINT64_C(1) << 40);
  async_unref((async_handle_t *)&t);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static void free_handle(async_handle_t *h) { free(h); }

static void test_timer_memory_freed_in_close_cb(void **state) {
  async_loop_t loop;
  async_timer_t *t[50];
  (void)state;
  test_loop_init(&loop);
  for (int i = 0; i < 50; i++) {
    t[i] = malloc(sizeof(*t[i]));
    async_timer_init(&loop, t[i]);
    async_timer_start(t[i], count_cb, 1000, 0);
  }
  for (int i = 0; i < 50; i++)
    async_close((async_handle_t *)t[i], free_handle);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_init_bad_input),
  TEST(test_start_bad_input),
  TEST(test_deadline_order),
  TEST(test_equal_deadlines_in_start_order),
  TEST(test_restart_moves_deadline),
  TEST(test_stop_prevents_callback),
  TEST(test_repeat),
  TEST(test_repeat_no_drift),
  TEST(test_repeat_no_catch_up_burst),
  TEST(test_again),
  TEST(test_repeat_ns_round_trip),
  TEST(test_due_in),
  TEST(test_callback_stops_and_closes_others),
  TEST(test_restart_from_own_callback),
  TEST(test_repeating_timer_closes_itself),
  TEST(test_thousand_random_timers_in_order),
  TEST(test_huge_timeout_saturates),
  TEST(test_timer_memory_freed_in_close_cb),
};

TEST_MAIN("timer", tests)
