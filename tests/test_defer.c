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
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
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

/* ---- re-queueing ------------------------------------------------------------------ */

#define MS UINT64_C(1000000)

static int defer_runs, idle_runs, timer_runs;
static void requeue_self(async_defer_t *d) {
  defer_runs++;
  assert_int_equal(async_defer(d->data, d, requeue_self), 0);
}
static void idle_count(async_idle_t *h) { (void)h; idle_runs++; }
static void timer_count(async_timer_t *t) { (void)t; timer_runs++; }

static void test_self_requeue_does_not_starve(void **state) {
  async_loop_t loop;
  async_defer_t d;
  async_idle_t idle;
  async_timer_t t;
  (void)state;
  defer_runs = idle_runs = timer_runs = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_defer_init(&d);
  d.data = &loop;
  async_defer(&loop, &d, requeue_self);
  async_idle_init(&loop, &idle);
  async_idle_start(&idle, idle_count);
  async_timer_init(&loop, &t);
  async_timer_start(&t, timer_count, 1, 1);
  for (int turn = 1; turn <= 10; turn++) {
    async_loop_advance(&loop, MS);
    assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
    assert_int_equal(defer_runs, turn);
    assert_int_equal(idle_runs, turn);
    assert_int_equal(timer_runs, turn);
  }
  assert_int_equal(async_defer_cancel(&d), 0);
  test_loop_close(&loop);
}

static int seen_pending_before, seen_pending_after, seen_again, seen_cancel;
static void requeue_checks(async_defer_t *d) {
  seen_pending_before = async_defer_pending(d);
  seen_cancel = async_defer_cancel(d); /* running: no longer queued */
  async_defer(d->data, d, requeue_checks);
  seen_pending_after = async_defer_pending(d);
  seen_again = async_defer(d->data, d, requeue_checks);
}

static void test_requeue_from_own_callback(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  seen_pending_before = seen_pending_after = seen_again = seen_cancel = 12345;
  test_loop_init(&loop);
  async_defer_init(&d);
  d.data = &loop;
  async_defer(&loop, &d, requeue_checks);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1); /* re-queued: still alive */
  assert_int_equal(seen_pending_before, 0);
  assert_int_equal(seen_cancel, ASYNC_ENOENT);
  assert_int_equal(seen_pending_after, 1);
  assert_int_equal(seen_again, ASYNC_EALREADY);
  assert_true(async_defer_pending(&d));
  assert_int_equal(async_defer_cancel(&d), 0);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_requeue_after_cancel_goes_to_the_back(void **state) {
  async_loop_t loop;
  async_defer_t d[3];
  (void)state;
  reset();
  test_loop_init(&loop);
  for (int i = 0; i < 3; i++) {
    async_defer_init(&d[i]);
    d[i].data = (void *)(intptr_t)('a' + i);
    async_defer(&loop, &d[i], record);
  }
  assert_int_equal(async_defer_cancel(&d[0]), 0);
  assert_int_equal(async_defer(&loop, &d[0], record), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_string_equal(trace, "bca");
  test_loop_close(&loop);
}

static int chain_left;
static void chain(async_defer_t *d) {
  defer_runs++;
  if (--chain_left > 0)
    async_defer(d->data, d, chain);
}

static void test_chain_keeps_default_running_without_handles(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  defer_runs = 0;
  chain_left = 100;
  test_loop_init(&loop);
  async_defer_init(&d);
  d.data = &loop;
  async_defer(&loop, &d, chain);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(defer_runs, 100);
  assert_false(async_defer_pending(&d));
  test_loop_close(&loop);
}

/* ---- where in the turn -------------------------------------------------------------- */

static void timer_mark(async_timer_t *t) { (void)t; trace[ntrace++] = 't'; trace[ntrace] = '\0'; }

static void test_runs_after_due_timers(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_defer_t d;
  (void)state;
  reset();
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_defer_init(&d);
  d.data = (void *)(intptr_t)'d';
  async_defer(&loop, &d, record); /* queued before the timer was even started */
  async_timer_init(&loop, &t);
  async_timer_start(&t, timer_mark, 1, 0);
  async_loop_advance(&loop, MS);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "td");
  test_loop_close(&loop);
}

static async_defer_t from_idle;
static void idle_queues(async_idle_t *h) {
  trace[ntrace++] = 'i';
  trace[ntrace] = '\0';
  if (!async_defer_pending(&from_idle) && ntrace < 3)
    async_defer(h->loop, &from_idle, record);
  if (ntrace >= 3)
    async_idle_stop(h);
}

static void test_queued_by_idle_runs_next_turn_before_idle(void **state) {
  async_loop_t loop;
  async_idle_t idle;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_defer_init(&from_idle);
  from_idle.data = (void *)(intptr_t)'d';
  async_idle_init(&loop, &idle);
  async_idle_start(&idle, idle_queues);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "i");
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "idi");
  test_loop_close(&loop);
}

static async_defer_t from_close;
static void close_queues(async_handle_t *h) {
  async_defer(h->loop, &from_close, record);
}

static void test_queued_by_close_callback_still_runs(void **state) {
  async_loop_t loop;
  async_check_t c;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_defer_init(&from_close);
  from_close.data = (void *)(intptr_t)'z';
  async_check_init(&loop, &c);
  async_close((async_handle_t *)&c, close_queues);
  /* The close callback runs last in the turn; the call it queues keeps the loop going. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(trace, "z");
  assert_false(async_defer_pending(&from_close));
  test_loop_close(&loop);
}

static async_defer_t from_prepare;
static int64_t timeout_in_prepare;
static void prepare_queues(async_prepare_t *h) {
  idle_runs++;
  async_defer(h->loop, &from_prepare, record);
  timeout_in_prepare = async_backend_timeout_ns(h->loop);
}

static void test_defer_queued_before_poll_keeps_once_from_blocking(void **state) {
  async_loop_t loop;
  async_prepare_t p;
  (void)state;
  reset();
  idle_runs = 0;
  timeout_in_prepare = -7;
  test_loop_init(&loop);
  async_prepare_init(&loop, &p);
  async_prepare_start(&p, prepare_queues);
  async_defer_init(&from_prepare);
  from_prepare.data = (void *)(intptr_t)'q';
  /* An active prepare hook alone lets the poll sleep forever... */
  assert_int_equal(async_backend_timeout(&loop), -1);
  /* ...but the call it queues right before the poll makes the poll return at once. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(idle_runs, 1);
  assert_int_equal(timeout_in_prepare, 0);
  assert_string_equal(trace, "");
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(idle_runs, 2);
  assert_string_equal(trace, "q");
  async_prepare_stop(&p);
  async_defer_cancel(&from_prepare);
  test_loop_close(&loop);
}

static async_defer_t victims[4];
static void cancel_all_later(async_defer_t *d) {
  record(d);
  for (int i = 1; i < 4; i++)
    assert_int_equal(async_defer_cancel(&victims[i]), 0);
}

static void test_cancel_every_later_call(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  test_loop_init(&loop);
  for (int i = 0; i < 4; i++) {
    async_defer_init(&victims[i]);
    victims[i].data = (void *)(intptr_t)('0' + i);
    async_defer(&loop, &victims[i], i == 0 ? cancel_all_later : record);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "0");
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_record_moves_between_loops(void **state) {
  async_loop_t a, b;
  async_defer_t d;
  (void)state;
  reset();
  test_loop_init(&a);
  test_loop_init(&b);
  async_defer_init(&d);
  d.data = (void *)(intptr_t)'1';
  async_defer(&a, &d, record);
  assert_int_equal(async_run(&b, ASYNC_RUN_NOWAIT), 0); /* not b's */
  assert_string_equal(trace, "");
  assert_int_equal(async_run(&a, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "1");
  d.data = (void *)(intptr_t)'2';
  assert_int_equal(async_defer(&b, &d, record), 0);
  assert_false(async_loop_alive(&a));
  assert_true(async_loop_alive(&b));
  assert_int_equal(async_run(&b, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "12");
  test_loop_close(&a);
  test_loop_close(&b);
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
  TEST(test_self_requeue_does_not_starve),
  TEST(test_requeue_from_own_callback),
  TEST(test_requeue_after_cancel_goes_to_the_back),
  TEST(test_chain_keeps_default_running_without_handles),
  TEST(test_runs_after_due_timers),
  TEST(test_queued_by_idle_runs_next_turn_before_idle),
  TEST(test_queued_by_close_callback_still_runs),
  TEST(test_defer_queued_before_poll_keeps_once_from_blocking),
  TEST(test_cancel_every_later_call),
  TEST(test_record_moves_between_loops),
};

TEST_MAIN("defer", tests)
