/* Idle, prepare and check hooks. */
#include "helper.h"

#include <stdlib.h>
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

/* ---- per kind: started in own phase, stop from own callback, close and free ---------- */

#define MS UINT64_C(1000000)

static struct async_hook_s phase_late;
static int phase_kind;
static int late_calls;
static void late_cb(struct async_hook_s *h) {
  (void)h;
  late_calls++;
}
static void start_late_same_kind(struct async_hook_s *h) {
  calls++;
  if (!async_is_active((async_handle_t *)&phase_late))
    kinds[phase_kind].start(&phase_late, late_cb);
  kinds[phase_kind].stop(h);
}

static void test_every_kind_started_in_own_phase_waits(void **state) {
  (void)state;
  for (int k = 0; k < 3; k++) {
    async_loop_t loop;
    struct async_hook_s first;
    calls = late_calls = 0;
    phase_kind = k;
    test_loop_init(&loop);
    kinds[k].init(&loop, &first);
    kinds[k].init(&loop, &phase_late);
    kinds[k].start(&first, start_late_same_kind);
    async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(calls, 1);
    assert_int_equal(late_calls, 0);
    assert_true(async_is_active((async_handle_t *)&phase_late));
    async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(calls, 1); /* stopped itself */
    assert_int_equal(late_calls, 1);
    test_loop_close(&loop);
  }
}

static void stop_own(struct async_hook_s *h) {
  calls++;
  assert_int_equal(kinds[phase_kind].stop(h), 0);
  assert_false(async_is_active((async_handle_t *)h));
}

static void test_every_kind_stops_from_own_callback(void **state) {
  (void)state;
  for (int k = 0; k < 3; k++) {
    async_loop_t loop;
    struct async_hook_s h;
    calls = 0;
    phase_kind = k;
    test_loop_init(&loop);
    kinds[k].init(&loop, &h);
    kinds[k].start(&h, stop_own);
    for (int turn = 0; turn < 4; turn++)
      async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(calls, 1);
    /* and it can be started again */
    assert_int_equal(kinds[k].start(&h, stop_own), 0);
    async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(calls, 2);
    test_loop_close(&loop);
  }
}

static int freed;
static void free_hook(async_handle_t *h) {
  freed++;
  free(h);
}
static void close_own_and_free(struct async_hook_s *h) {
  calls++;
  async_close((async_handle_t *)h, free_hook);
}

static void test_every_kind_closes_itself_and_is_freed(void **state) {
  (void)state;
  for (int k = 0; k < 3; k++) {
    async_loop_t loop;
    struct async_hook_s *h[10];
    calls = freed = 0;
    test_loop_init(&loop);
    for (int i = 0; i < 10; i++) {
      h[i] = malloc(sizeof(*h[i]));
      assert_non_null(h[i]);
      kinds[k].init(&loop, h[i]);
      kinds[k].start(h[i], close_own_and_free);
    }
    async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(calls, 10);
    assert_int_equal(freed, 10);
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
    assert_int_equal(calls, 10);
    test_loop_close(&loop);
  }
}

static void restart_own(struct async_hook_s *h) {
  calls++;
  kinds[phase_kind].stop(h);
  assert_int_equal(kinds[phase_kind].start(h, restart_own), 0);
}

static void test_stop_and_restart_in_own_callback_runs_once_per_turn(void **state) {
  (void)state;
  for (int k = 0; k < 3; k++) {
    async_loop_t loop;
    struct async_hook_s h;
    calls = 0;
    phase_kind = k;
    test_loop_init(&loop);
    kinds[k].init(&loop, &h);
    kinds[k].start(&h, restart_own);
    for (int turn = 1; turn <= 3; turn++) {
      async_run(&loop, ASYNC_RUN_NOWAIT);
      assert_int_equal(calls, turn);
    }
    test_loop_close(&loop);
  }
}

/* ---- several hooks ----------------------------------------------------------------- */

static int per_hook[3];
static void count_per_hook(async_idle_t *h) { per_hook[(int)(intptr_t)h->data]++; }

static void test_each_active_hook_runs_once_per_turn(void **state) {
  async_loop_t loop;
  async_idle_t h[3];
  (void)state;
  memset(per_hook, 0, sizeof(per_hook));
  test_loop_init(&loop);
  for (int i = 0; i < 3; i++) {
    async_idle_init(&loop, &h[i]);
    h[i].data = (void *)(intptr_t)i;
    async_idle_start(&h[i], count_per_hook);
  }
  for (int turn = 0; turn < 4; turn++)
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  for (int i = 0; i < 3; i++)
    assert_int_equal(per_hook[i], 4);
  async_idle_stop(&h[1]);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(per_hook[0], 5);
  assert_int_equal(per_hook[1], 4);
  assert_int_equal(per_hook[2], 5);
  test_loop_close(&loop);
}

static async_prepare_t cross_p;
static async_check_t cross_c;
static void idle_stops_prepare_closes_check(async_idle_t *h) {
  mark('i');
  async_prepare_stop(&cross_p);
  async_close((async_handle_t *)&cross_c, NULL);
  async_idle_stop(h);
}

static void test_idle_stops_later_kinds_in_same_turn(void **state) {
  async_loop_t loop;
  async_idle_t i;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_idle_init(&loop, &i);
  async_prepare_init(&loop, &cross_p);
  async_check_init(&loop, &cross_c);
  async_idle_start(&i, idle_stops_prepare_closes_check);
  async_prepare_start(&cross_p, prepare_mark);
  async_check_start(&cross_c, check_mark);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "i");
  assert_false(async_is_active((async_handle_t *)&cross_p));
  test_loop_close(&loop);
}

static void timer_mark(async_timer_t *t) {
  (void)t;
  mark('t');
}

static void test_hooks_run_after_due_timers(void **state) {
  async_loop_t loop;
  async_idle_t i;
  async_check_t c;
  async_timer_t t;
  (void)state;
  reset();
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_idle_init(&loop, &i);
  async_check_init(&loop, &c);
  async_timer_init(&loop, &t);
  async_check_start(&c, check_mark);
  async_idle_start(&i, idle_mark);
  async_timer_start(&t, timer_mark, 2, 0);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  async_loop_advance(&loop, 2 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "ictic");
  test_loop_close(&loop);
}

static uint64_t prepare_at, check_at;
static void prepare_time(async_prepare_t *h) {
  (void)h;
  if (prepare_at == 0)
    prepare_at = async_hrtime();
}
static void check_time(async_check_t *h) {
  (void)h;
  if (check_at == 0)
    check_at = async_hrtime();
}

static void test_prepare_before_and_check_after_a_sleeping_poll(void **state) {
  async_loop_t loop;
  async_prepare_t p;
  async_check_t c;
  async_timer_t t;
  uint64_t start;
  (void)state;
  prepare_at = check_at = 0;
  test_loop_init(&loop);
  async_prepare_init(&loop, &p);
  async_check_init(&loop, &c);
  async_prepare_start(&p, prepare_time);
  async_check_start(&c, check_time);
  async_timer_init(&loop, &t);
  start = async_hrtime();
  async_timer_start(&t, nothing, 5, 0);
  async_run(&loop, ASYNC_RUN_ONCE);
  assert_true(prepare_at != 0);
  assert_true(check_at != 0);
  /* The poll slept until the timer's deadline between the two hooks. */
  assert_true(check_at >= start + 5 * MS);
  assert_true(check_at >= prepare_at);
  test_loop_close(&loop);
}

static void test_start_twice_and_stop_stopped(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  for (int k = 0; k < 3; k++) {
    struct async_hook_s h;
    calls = 0;
    kinds[k].init(&loop, &h);
    assert_int_equal(kinds[k].stop(&h), 0); /* never started: fine */
    assert_int_equal(kinds[k].start(&h, late_cb), 0);
    assert_int_equal(kinds[k].start(&h, count_and_stop), ASYNC_EALREADY);
    /* the refused start kept the first callback */
    late_calls = 0;
    async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(late_calls, 1);
    assert_int_equal(calls, 0);
    async_close((async_handle_t *)&h, NULL);
    async_run(&loop, ASYNC_RUN_NOWAIT);
  }
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
  TEST(test_every_kind_started_in_own_phase_waits),
  TEST(test_every_kind_stops_from_own_callback),
  TEST(test_every_kind_closes_itself_and_is_freed),
  TEST(test_stop_and_restart_in_own_callback_runs_once_per_turn),
  TEST(test_each_active_hook_runs_once_per_turn),
  TEST(test_idle_stops_later_kinds_in_same_turn),
  TEST(test_hooks_run_after_due_timers),
  TEST(test_prepare_before_and_check_after_a_sleeping_poll),
  TEST(test_start_twice_and_stop_stopped),
};

TEST_MAIN("hook", tests)
