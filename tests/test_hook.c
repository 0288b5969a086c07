/* Idle, prepare and check hooks. */
#include "helper.h"

#include <string.h>

static char trace[64];
static int ntrace;
static void mark(char c) {
  if (ntrace < 63)
    trace[ntrace++] = c;
  trace[ntrace] = '\0';
}
static void reset(void) {
  ntrace = 0;
  trace[0] = '\0';
}

typedef int (*init_fn)(async_loop_t *, struct async_hook_s *);
typedef int (*start_fn)(struct async_hook_s *, async_hook_cb);
typedef int (*stop_fn)(struct async_hook_s *);

static const struct kind {
  init_fn init;
  start_fn start;
  stop_fn stop;
  async_handle_type type;
} kinds[3] = {
  {async_idle_init, async_idle_start, async_idle_stop, ASYNC_IDLE},
  {async_prepare_init, async_prepare_start, async_prepare_stop, ASYNC_PREPARE},
  {async_check_init, async_check_start, async_check_stop, ASYNC_CHECK},
};

static void nothing(async_timer_t *t) { (void)t; }

static int calls;
static void count_and_stop(struct async_hook_s *h) {
  calls++;
  if (calls == 3)
    async_close((async_handle_t *)h, NULL);
}

static void test_each_kind_runs_until_closed(void **state) {
  (void)state;
  for (int k = 0; k < 3; k++) {
    async_loop_t loop;
    struct async_hook_s h;
    async_timer_t t;
    calls = 0;
    test_loop_init(&loop);
    assert_int_equal(kinds[k].init(&loop, &h), 0);
    assert_int_equal(async_handle_get_type((async_handle_t *)&h), kinds[k].type);
    assert_int_equal(kinds[k].start(&h, count_and_stop), 0);
    assert_true(async_is_active((async_handle_t *)&h));
    if (k != 0) {
      /* prepare and check alone do not keep the poll from blocking: give it a timer */
      async_timer_init(&loop, &t);
      async_timer_start(&t, nothing, 1, 1);
      while (calls < 3)
        async_run(&loop, ASYNC_RUN_ONCE);
      async_close((async_handle_t *)&t, NULL);
    }
    async_run(&loop, ASYNC_RUN_DEFAULT);
    assert_int_equal(calls, 3);
    test_loop_close(&loop);
  }
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  struct async_hook_s h;
  (void)state;
  test_loop_init(&loop);
  for (int k = 0; k < 3; k++) {
    assert_int_equal(kinds[k].init(NULL, &h), ASYNC_EINVAL);
    assert_int_equal(kinds[k].init(&loop, NULL), ASYNC_EINVAL);
    assert_int_equal(kinds[k].start(NULL, count_and_stop), ASYNC_EINVAL);
    assert_int_equal(kinds[k].stop(NULL), ASYNC_EINVAL);
    assert_int_equal(kinds[k].init(&loop, &h), 0);
    assert_int_equal(kinds[k].start(&h, NULL), ASYNC_EINVAL);
    /* the wrong kind's start on this handle */
    assert_int_equal(kinds[(k + 1) % 3].start(&h, count_and_stop), ASYNC_EINVAL);
    assert_int_equal(kinds[k].start(&h, count_and_stop), 0);
    assert_int_equal(kinds[k].start(&h, count_and_stop), ASYNC_EALREADY);
    assert_int_equal(kinds[k].stop(&h), 0);
    assert_int_equal(kinds[k].stop(&h), 0);
    async_close((async_handle_t *)&h, NULL);
    assert_int_equal(kinds[k].start(&h, count_and_stop), ASYNC_EINVAL);
    async_run(&loop, ASYNC_RUN_NOWAIT);
  }
  test_loop_close(&loop);
}

static void idle_mark(async_idle_t *h) { (void)h; mark('i'); }
static void prepare_mark(async_prepare_t *h) { (void)h; mark('p'); }
static void check_mark(async_check_t *h) { (void)h; mark('c'); }

static void test_order_in_a_turn(void **state) {
  async_loop_t loop;
  async_idle_t i;
  async_prepare_t p;
  async_check_t c;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_check_init(&loop, &c);
  async_prepare_init(&loop, &p);
  async_idle_init(&loop, &i);
  async_check_start(&c, check_mark);
  async_prepare_start(&p, prepare_mark);
  async_idle_start(&i, idle_mark);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "ipcipc");
  test_loop_close(&loop);
}

static void test_active_idle_makes_once_nonblocking(void **state) {
  async_loop_t loop;
  async_idle_t i;
  async_timer_t far;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_timer_init(&loop, &far);
  async_timer_start(&far, nothing, 60000, 0);
  async_idle_init(&loop, &i);
  async_idle_start(&i, idle_mark);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_string_equal(trace, "i");
  async_idle_stop(&i);
  assert_true(async_backend_timeout(&loop) > 50000);
  test_loop_close(&loop);
}

static async_idle_t late;
static void start_late(async_idle_t *h) {
  mark('a');
  if (!async_is_active((async_handle_t *)&late))
    async_idle_start(&late, idle_mark);
  async_idle_stop(h);
}

static void test_started_in_own_phase_runs_next_turn(void **state) {
  async_loop_t loop;
  async_idle_t first;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_idle_init(&loop, &first);
  async_idle_init(&loop, &late);
  async_idle_start(&first, start_late);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "a");
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "ai");
  test_loop_close(&loop);
}

static async_check_t others[3];
static void stop_the_others(async_check_t *h) {
  mark('s');
  async_check_stop(&others[1]);
  async_close((async_handle_t *)&others[2], NULL);
  async_check_stop(h);
}

static void test_callback_stops_later_hooks(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  test_loop_init(&loop);
  for (int i = 0; i < 3; i++)
    async_check_init(&loop, &others[i]);
  async_check_start(&others[0], stop_the_others);
  async_check_start(&others[1], check_mark);
  async_check_start(&others[2], check_mark);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "s");
  test_loop_close(&loop);
}

static void test_unref_hook_does_not_keep_loop(void **state) {
  async_loop_t loop;
  async_prepare_t p;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_prepare_init(&loop, &p);
  async_prepare_start(&p, prepare_mark);
  async_unref((async_handle_t *)&p);
  assert_false(async_loop_alive(&loop));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(trace, "");
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_each_kind_runs_until_closed),
  TEST(test_bad_input),
  TEST(test_order_in_a_turn),
  TEST(test_active_idle_makes_once_nonblocking),
  TEST(test_started_in_own_phase_runs_next_turn),
  TEST(test_callback_stops_later_hooks),
  TEST(test_unref_hook_does_not_keep_loop),
};

TEST_MAIN("hook", tests)
