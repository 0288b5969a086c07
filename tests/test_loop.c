/* Loop creation, closing, liveness, stop, and loops on several threads. */
#include "helper.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void test_init_null(void **state) {
  (void)state;
  assert_int_equal(async_loop_init(NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_loop_close(NULL), ASYNC_EINVAL);
  assert_int_equal(async_loop_alive(NULL), 0);
  assert_null(async_loop_backend(NULL));
  assert_int_equal(async_loop_caps(NULL), 0);
  async_stop(NULL);
  async_update_time(NULL);
  async_walk(NULL, NULL, NULL);
}

static void test_unknown_backend(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  memset(&loop, 0x5a, sizeof(loop));
  memset(&o, 0, sizeof(o));
  o.backend = "nope";
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOENT);
  /* Known names of other platforms' backends: refused as not compiled in. */
  for (size_t k = 0; k < 4; k++) {
    static const char *const others[] = {"kqueue", "iocp", "epoll", "io_uring"};
    size_t n;
    const async_backend_info_t *b = async_backends(&n);
    int built = 0;
    for (size_t i = 0; i < n; i++)
      built |= strcmp(b[i].name, others[k]) == 0;
    if (built)
      continue;
    o.backend = others[k];
    assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOTSUP);
  }
  /* A refused name changes nothing in the caller's memory. */
  for (size_t i = 0; i < sizeof(loop); i++)
    assert_int_equal(((unsigned char *)&loop)[i], 0x5a);
}

static void test_keeps_user_data(void **state) {
  async_loop_t loop;
  int x;
  (void)state;
  loop.data = &x;
  test_loop_init(&loop);
  assert_ptr_equal(loop.data, &x);
  test_loop_close(&loop);
}

static void test_close_twice(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_loop_close(&loop), 0);
  assert_int_equal(async_loop_close(&loop), ASYNC_EINVAL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), ASYNC_EINVAL);
}

static int fired;
static void count(async_timer_t *t) { (void)t; fired++; }

static void test_close_busy_changes_nothing(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  /* still a working loop */
  assert_int_equal(async_timer_start(&t, count, 1, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  async_close((async_handle_t *)&t, NULL);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY); /* close callback pending */
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_loop_close(&loop), 0);
}

static void test_alive(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  assert_false(async_loop_alive(&loop));
  async_timer_init(&loop, &t);
  assert_false(async_loop_alive(&loop)); /* inactive handles do not count */
  async_timer_start(&t, count, 100, 0);
  assert_true(async_loop_alive(&loop));
  async_unref((async_handle_t *)&t);
  assert_false(async_loop_alive(&loop));
  async_ref((async_handle_t *)&t);
  assert_true(async_loop_alive(&loop));
  async_timer_stop(&t);
  assert_false(async_loop_alive(&loop));
  async_close((async_handle_t *)&t, NULL);
  assert_true(async_loop_alive(&loop)); /* close callback pending */
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_stop_before_run(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 1, 0);
  async_stop(&loop);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(fired, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* the flag was cleared */
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static void test_nowait_does_not_block(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 60000, 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(fired, 0);
  assert_true(async_is_active((async_handle_t *)&t));
  test_loop_close(&loop);
}

static void test_unref_timer_beside_ref_timer(void **state) {
  async_loop_t loop;
  async_timer_t bg, fg;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &bg);
  async_timer_init(&loop, &fg);
  async_timer_start(&bg, count, 1, 1);
  async_unref((async_handle_t *)&bg);
  async_timer_start(&fg, count, 5, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_true(fired >= 1);
  assert_true(async_is_active((async_handle_t *)&bg));
  assert_false(async_is_active((async_handle_t *)&fg));
  test_loop_close(&loop);
}

#define THREAD_TIMERS 200
static void thread_tick(async_timer_t *t) {
  long *n = t->data;
  (*n)++;
}

/* Each thread owns a loop; nothing is shared between them. */
static void *thread_loop(void *arg) {
  async_loop_t loop;
  async_loop_options_t o;
  async_timer_t *timers = calloc(THREAD_TIMERS, sizeof(*timers));
  intptr_t n = 0;
  (void)arg;
  memset(&o, 0, sizeof(o));
  o.backend = test_backend();
  if (timers == NULL || async_loop_init(&loop, &o) != 0)
    return (void *)(intptr_t)-1;
  for (int i = 0; i < THREAD_TIMERS; i++) {
    async_timer_init(&loop, &timers[i]);
    timers[i].data = &n;
    async_timer_start(&timers[i], thread_tick, (uint64_t)(i % 5), 0);
  }
  async_run(&loop, ASYNC_RUN_DEFAULT);
  for (int i = 0; i < THREAD_TIMERS; i++)
    async_close((async_handle_t *)&timers[i], NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  if (async_loop_close(&loop) != 0)
    n = -2;
  free(timers);
  return (void *)n;
}

static void test_one_loop_per_thread(void **state) {
  pthread_t th[4];
  (void)state;
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, thread_loop, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_int_equal((intptr_t)r, THREAD_TIMERS);
  }
}

/* ---- more creation checks --------------------------------------------------- */

#define MS UINT64_C(1000000)

static void test_init_bad_clock_mode_bounds(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  memset(&o, 0, sizeof(o));
  o.backend = test_backend();
  o.clock = (async_clock_mode)(ASYNC_CLOCK_AUTOJUMP + 1);
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_EINVAL);
  o.clock = (async_clock_mode)-1;
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_EINVAL);
  /* The highest valid mode is accepted. */
  o.clock = ASYNC_CLOCK_AUTOJUMP;
  assert_int_equal(async_loop_init(&loop, &o), 0);
  test_loop_close(&loop);
}

static void test_backend_name_and_timer_caps(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_non_null(async_loop_backend(&loop));
  if (test_backend() != NULL)
    assert_string_equal(async_loop_backend(&loop), test_backend());
  assert_true(test_has_caps(&loop, ASYNC_CAP_TIMERS));
  test_loop_close(&loop);
}

static void test_init_with_null_options_runs(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  assert_int_equal(async_loop_init(&loop, NULL), 0);
  assert_non_null(async_loop_backend(&loop));
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 1, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

/* ---- run modes ------------------------------------------------------------- */

static void test_refused_run_runs_nothing(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  assert_int_equal(async_run(NULL, ASYNC_RUN_ONCE), ASYNC_EINVAL);
  assert_int_equal(async_run(NULL, ASYNC_RUN_NOWAIT), ASYNC_EINVAL);
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 0, 0);
  assert_int_equal(async_run(&loop, (async_run_mode)(ASYNC_RUN_NOWAIT + 1)), ASYNC_EINVAL);
  assert_int_equal(async_run(&loop, (async_run_mode)-1), ASYNC_EINVAL);
  assert_int_equal(fired, 0);
  assert_true(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static void test_inactive_handles_do_not_make_run_wait(void **state) {
  async_loop_t loop;
  async_timer_t stopped;
  async_idle_t idle;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &stopped);
  async_idle_init(&loop, &idle);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  test_loop_close(&loop);
}

static void test_default_runs_every_timer(void **state) {
  async_loop_t loop;
  async_timer_t t[3];
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  for (int i = 0; i < 3; i++) {
    async_timer_init(&loop, &t[i]);
    async_timer_start(&t[i], count, (uint64_t)i + 1, 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 3);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static uint64_t fired_at;
static void record_hrtime(async_timer_t *t) {
  (void)t;
  fired++;
  fired_at = async_hrtime();
}

static void test_once_runs_a_10ms_timer_not_early(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t start;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  start = async_hrtime();
  async_timer_start(&t, record_hrtime, 10, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_int_equal(fired, 1);
  assert_true(fired_at >= start + 10 * MS);
  test_loop_close(&loop);
}

static void test_once_returns_one_while_alive(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 1, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_true(fired >= 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_true(fired >= 2);
  test_loop_close(&loop);
}

/* ---- re-entrance ----------------------------------------------------------- */

static int rc_seen;

static void reenter_from_defer(async_defer_t *d) {
  rc_seen = async_run(d->data, ASYNC_RUN_DEFAULT);
}

static void test_reentrant_run_from_defer_is_busy(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  rc_seen = 12345;
  test_loop_init(&loop);
  async_defer_init(&d);
  d.data = &loop;
  async_defer(&loop, &d, reenter_from_defer);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(rc_seen, ASYNC_EBUSY);
  test_loop_close(&loop);
}

static void reenter_from_idle(async_idle_t *h) {
  rc_seen = async_run(h->loop, ASYNC_RUN_ONCE);
  async_idle_stop(h);
}

static void test_reentrant_run_from_idle_is_busy(void **state) {
  async_loop_t loop;
  async_idle_t h;
  (void)state;
  rc_seen = 12345;
  test_loop_init(&loop);
  async_idle_init(&loop, &h);
  async_idle_start(&h, reenter_from_idle);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(rc_seen, ASYNC_EBUSY);
  /* The refusal left the loop runnable once the outer run returned. */
  rc_seen = 12345;
  assert_int_equal(async_idle_start(&h, reenter_from_idle), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(rc_seen, ASYNC_EBUSY);
  test_loop_close(&loop);
}

static async_loop_t *other_loop;
static void run_other_loop(async_timer_t *t) {
  (void)t;
  rc_seen = async_run(other_loop, ASYNC_RUN_DEFAULT);
}

static void test_running_another_loop_from_a_callback(void **state) {
  async_loop_t a, b;
  async_timer_t ta, tb;
  (void)state;
  fired = 0;
  rc_seen = 12345;
  test_loop_init(&a);
  test_loop_init(&b);
  other_loop = &b;
  async_timer_init(&a, &ta);
  async_timer_init(&b, &tb);
  async_timer_start(&ta, run_other_loop, 0, 0);
  async_timer_start(&tb, count, 1, 0);
  assert_int_equal(async_run(&a, ASYNC_RUN_DEFAULT), 0);
  /* Only re-entering the same loop is refused. */
  assert_int_equal(rc_seen, 0);
  assert_int_equal(fired, 1);
  test_loop_close(&b);
  test_loop_close(&a);
}

/* ---- async_stop ------------------------------------------------------------ */

static int idle_turns;
static void stop_on_fifth_turn(async_idle_t *h) {
  if (++idle_turns == 5)
    async_stop(h->loop);
}

static void test_stop_ends_default_after_the_turn(void **state) {
  async_loop_t loop;
  async_idle_t i;
  (void)state;
  idle_turns = 0;
  test_loop_init(&loop);
  async_idle_init(&loop, &i);
  async_idle_start(&i, stop_on_fifth_turn);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(idle_turns, 5);
  assert_true(async_is_active((async_handle_t *)&i));
  /* The request is used up: the next run goes on to the next stop. */
  idle_turns = 0;
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(idle_turns, 5);
  test_loop_close(&loop);
}

static int checks;
static void stop_from_check(async_check_t *h) {
  checks++;
  async_stop(h->loop);
}

static void test_stop_from_check_hook(void **state) {
  async_loop_t loop;
  async_check_t c;
  async_timer_t t;
  (void)state;
  checks = 0;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_check_init(&loop, &c);
  async_check_start(&c, stop_from_check);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 10, 10);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(checks, 1); /* one turn */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(checks, 2);
  test_loop_close(&loop);
}

static void stop_from_last_timer(async_timer_t *t) {
  fired++;
  async_stop(t->loop);
}

static void test_stop_with_nothing_left_returns_zero(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, stop_from_last_timer, 1, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static int64_t timeout_after_stop;
static void stop_in_prepare(async_prepare_t *h) {
  async_stop(h->loop);
  timeout_after_stop = async_backend_timeout_ns(h->loop);
  async_prepare_stop(h);
}

static void test_stop_makes_the_poll_nonblocking(void **state) {
  async_loop_t loop;
  async_prepare_t p;
  async_timer_t far;
  (void)state;
  fired = 0;
  timeout_after_stop = -7;
  test_loop_init(&loop);
  async_timer_init(&loop, &far);
  async_timer_start(&far, count, 100000, 0);
  async_prepare_init(&loop, &p);
  async_prepare_start(&p, stop_in_prepare);
  assert_true(async_backend_timeout(&loop) > 1000); /* it would sleep for the timer */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(timeout_after_stop, 0);
  assert_int_equal(fired, 0);
  test_loop_close(&loop);
}

/* ---- liveness and async_loop_close with deferred calls ---------------------- */

static void noop_defer(async_defer_t *d) { (void)d; }

static void test_pending_defer_is_alive(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  test_loop_init(&loop);
  async_defer_init(&d);
  assert_false(async_loop_alive(&loop));
  async_defer(&loop, &d, noop_defer);
  assert_true(async_loop_alive(&loop));
  async_defer_cancel(&d);
  assert_false(async_loop_alive(&loop));
  async_defer(&loop, &d, noop_defer);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_close_busy_with_pending_defer(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  test_loop_init(&loop);
  async_defer_init(&d);
  async_defer(&loop, &d, noop_defer);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  assert_true(async_defer_pending(&d)); /* closing nothing includes the queue */
  assert_int_equal(async_defer_cancel(&d), 0);
  assert_int_equal(async_loop_close(&loop), 0);
}

static int closer_rc;
static void close_loop_from_timer(async_timer_t *t) {
  closer_rc = async_loop_close(t->loop);
}

static void test_close_from_inside_run_is_busy(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  closer_rc = 12345;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, close_loop_from_timer, 0, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(closer_rc, ASYNC_EBUSY);
  test_loop_close(&loop);
}

/* ---- turn details ---------------------------------------------------------- */

static char trace[32];
static int ntrace;
static void mark(char c) {
  if (ntrace < (int)sizeof(trace) - 1)
    trace[ntrace++] = c;
  trace[ntrace] = '\0';
}

static async_defer_t from_timer;
static void defer_mark(async_defer_t *d) {
  (void)d;
  mark('d');
}
static void timer_queues_defer(async_timer_t *t) {
  mark('t');
  async_defer(t->loop, &from_timer, defer_mark);
}
static void idle_mark_stop(async_idle_t *h) {
  mark('i');
  async_idle_stop(h);
}

static void test_defer_queued_by_timer_runs_same_turn(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  (void)state;
  ntrace = 0;
  trace[0] = '\0';
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_defer_init(&from_timer);
  async_timer_init(&loop, &t);
  async_timer_start(&t, timer_queues_defer, 1, 0);
  async_idle_init(&loop, &i);
  async_idle_start(&i, idle_mark_stop);
  async_loop_advance(&loop, 1 * MS);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "tdi");
  test_loop_close(&loop);
}

static void test_cached_time_refreshed_each_turn(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t before;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 60000, 0);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  before = async_now_ns(&loop);
  while (async_hrtime() < before + 3 * MS)
    ;
  assert_int_equal(async_now_ns(&loop), before); /* cached, not live */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_true(async_now_ns(&loop) >= before + 3 * MS);
  assert_true(async_now_ns(&loop) <= async_hrtime());
  assert_int_equal(async_now(&loop), async_now_ns(&loop) / MS);
  test_loop_close(&loop);
}

/* ---- several loops ---------------------------------------------------------- */

static int fired_a, fired_b;
static void count_a(async_timer_t *t) { (void)t; fired_a++; }
static void count_b(async_timer_t *t) { (void)t; fired_b++; }

static void test_two_loops_do_not_share_timers(void **state) {
  async_loop_t a, b;
  async_timer_t ta, tb;
  (void)state;
  fired_a = fired_b = 0;
  test_loop_init_clock(&a, ASYNC_CLOCK_VIRTUAL);
  test_loop_init_clock(&b, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&a, &ta);
  async_timer_init(&b, &tb);
  async_timer_start(&ta, count_a, 5, 0);
  async_timer_start(&tb, count_b, 5, 0);
  async_loop_advance(&a, 5 * MS);
  assert_int_equal(async_run(&a, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(async_run(&b, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(fired_a, 1);
  assert_int_equal(fired_b, 0);
  assert_int_equal(async_now(&b), 0);
  async_loop_advance(&b, 5 * MS);
  assert_int_equal(async_run(&b, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(fired_b, 1);
  test_loop_close(&a);
  test_loop_close(&b);
}

static void test_many_loops_open_at_once(void **state) {
  async_loop_t loops[16];
  async_timer_t t[16];
  (void)state;
  fired = 0;
  for (int i = 0; i < 16; i++) {
    test_loop_init(&loops[i]);
    async_timer_init(&loops[i], &t[i]);
    async_timer_start(&t[i], count, 1, 0);
  }
  for (int i = 15; i >= 0; i--)
    assert_int_equal(async_run(&loops[i], ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 16);
  /* Closed in creation order, not the reverse. */
  for (int i = 0; i < 16; i++)
    test_loop_close(&loops[i]);
}

static const struct CMUnitTest tests[] = {
  TEST(test_init_null),
  TEST(test_unknown_backend),
  TEST(test_keeps_user_data),
  TEST(test_close_twice),
  TEST(test_close_busy_changes_nothing),
  TEST(test_alive),
  TEST(test_stop_before_run),
  TEST(test_nowait_does_not_block),
  TEST(test_unref_timer_beside_ref_timer),
  TEST(test_one_loop_per_thread),
  TEST(test_init_bad_clock_mode_bounds),
  TEST(test_backend_name_and_timer_caps),
  TEST(test_init_with_null_options_runs),
  TEST(test_refused_run_runs_nothing),
  TEST(test_inactive_handles_do_not_make_run_wait),
  TEST(test_default_runs_every_timer),
  TEST(test_once_runs_a_10ms_timer_not_early),
  TEST(test_once_returns_one_while_alive),
  TEST(test_reentrant_run_from_defer_is_busy),
  TEST(test_reentrant_run_from_idle_is_busy),
  TEST(test_running_another_loop_from_a_callback),
  TEST(test_stop_ends_default_after_the_turn),
  TEST(test_stop_from_check_hook),
  TEST(test_stop_with_nothing_left_returns_zero),
  TEST(test_stop_makes_the_poll_nonblocking),
  TEST(test_pending_defer_is_alive),
  TEST(test_close_busy_with_pending_defer),
  TEST(test_close_from_inside_run_is_busy),
  TEST(test_defer_queued_by_timer_runs_same_turn),
  TEST(test_cached_time_refreshed_each_turn),
  TEST(test_two_loops_do_not_share_timers),
  TEST(test_many_loops_open_at_once),
};

TEST_MAIN("loop", tests)
