/* The loop turn as a whole: phase order, run modes, and the handle kinds
 * working together on the backend under test. */
#include "helper.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char trace[64];
static int ntrace;

static void mark(char c) {
  if (ntrace < (int)sizeof(trace) - 1)
    trace[ntrace++] = c;
  trace[ntrace] = '\0';
}

static void reset_trace(void) {
  ntrace = 0;
  trace[0] = '\0';
}

static void on_timer_t(async_timer_t *t) { (void)t; mark('T'); }
static void on_defer_d(async_defer_t *d) { (void)d; mark('D'); }
static void on_idle_i(async_idle_t *h) { mark('I'); async_idle_stop(h); }
static void on_prepare_p(async_prepare_t *h) { mark('P'); async_prepare_stop(h); }
static void on_check_c(async_check_t *h) { mark('C'); async_check_stop(h); }
static void on_close_x(async_handle_t *h) { (void)h; mark('X'); }
static void on_watch_w(async_watch_t *w, int status, unsigned events) {
  (void)status;
  (void)events;
  mark('W');
  async_watch_stop(w);
}

static void test_phase_order(void **state) {
  async_loop_t loop;
  async_timer_t timer, victim;
  async_defer_t d;
  async_idle_t idle;
  async_prepare_t prepare;
  async_check_t check;
  async_watch_t w;
  int fds[2];
  (void)state;
  reset_trace();
  test_loop_init(&loop);
  assert_int_equal(test_fd_pair(fds), 0);
  assert_int_equal(test_fd_write(fds[1], "x", 1), 1);
  assert_int_equal(async_timer_init(&loop, &timer), 0);
  assert_int_equal(async_timer_start(&timer, on_timer_t, 0, 0), 0);
  async_defer_init(&d);
  assert_int_equal(async_defer(&loop, &d, on_defer_d), 0);
  assert_int_equal(async_idle_init(&loop, &idle), 0);
  assert_int_equal(async_idle_start(&idle, on_idle_i), 0);
  assert_int_equal(async_prepare_init(&loop, &prepare), 0);
  assert_int_equal(async_prepare_start(&prepare, on_prepare_p), 0);
  assert_int_equal(async_check_init(&loop, &check), 0);
  assert_int_equal(async_check_start(&check, on_check_c), 0);
  /* Without fd watchers (IOCP for now) the watcher is refused: no W. */
  int watching = test_has_caps(&loop, ASYNC_CAP_FD_WATCH);
  assert_int_equal(async_watch_init(&loop, &w, fds[0]), watching ? 0 : ASYNC_ENOTSUP);
  if (watching)
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch_w), 0);
  assert_int_equal(async_timer_init(&loop, &victim), 0);
  assert_int_equal(async_close((async_handle_t *)&victim, on_close_x), 0);
  /* A zero timeout is due once the clock has moved past the start. */
  while (async_hrtime() == async_now_ns(&loop))
    ;
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, watching ? "TDIPWCX" : "TDIPCX");
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

static void test_run_not_alive_returns_zero(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_loop_alive(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  test_loop_close(&loop);
}

static void test_run_bad_arguments(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_run(NULL, ASYNC_RUN_DEFAULT), ASYNC_EINVAL);
  assert_int_equal(async_run(&loop, (async_run_mode)7), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static int fired;
static void count_timer(async_timer_t *t) { (void)t; fired++; }

static void test_once_runs_a_sleeping_timer(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_timer, 5, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static void stop_loop_timer(async_timer_t *t) {
  fired++;
  async_stop(t->loop);
}

static void test_stop_returns_alive(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, stop_loop_timer, 1, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(fired, 1);
  assert_true(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(fired, 2);
  test_loop_close(&loop);
}

static void reenter_timer(async_timer_t *t) {
  fired = async_run(t->loop, ASYNC_RUN_NOWAIT);
}

static void test_reentrant_run_is_busy(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, reenter_timer, 0, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, ASYNC_EBUSY);
  test_loop_close(&loop);
}

static int close_calls;
static void count_close(async_handle_t *h) { (void)h; close_calls++; }

static void test_close_callback_never_inside_close(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  close_calls = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_close((async_handle_t *)&t, count_close), 0);
  assert_int_equal(close_calls, 0);
  assert_true(async_is_closing((async_handle_t *)&t));
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  assert_int_equal(async_close((async_handle_t *)&t, count_close), ASYNC_EINVAL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(close_calls, 1);
  assert_true(async_is_closing((async_handle_t *)&t));
  test_loop_close(&loop);
}

static void free_on_close(async_handle_t *h) {
  close_calls++;
  free(h);
}

static void close_self_timer(async_timer_t *t) {
  fired++;
  async_close((async_handle_t *)t, free_on_close);
}

static void test_close_self_and_free(void **state) {
  async_loop_t loop;
  async_timer_t *t = malloc(sizeof(*t));
  (void)state;
  fired = close_calls = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, t);
  async_timer_start(t, close_self_timer, 1, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(close_calls, 1);
  test_loop_close(&loop);
}

static int requeues;
static void requeue_defer(async_defer_t *d) {
  requeues++;
  if (requeues < 1000)
    async_defer(d->data, d, requeue_defer);
}

static void test_requeueing_defer_does_not_starve_timers(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_defer_t d;
  (void)state;
  requeues = fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_timer, 0, 0);
  async_defer_init(&d);
  d.data = &loop;
  async_defer(&loop, &d, requeue_defer);
  while (fired == 0)
    assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  /* The timer ran while the call kept re-queueing itself. */
  assert_true(requeues < 1000);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(requeues, 1000);
  test_loop_close(&loop);
}

static uint64_t started_at;
static uint64_t elapsed_ns;
static void measure_timer(async_timer_t *t) {
  (void)t;
  elapsed_ns = async_hrtime() - started_at;
}

static void test_timer_never_early_after_stale_clock(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  usleep(20 * 1000); /* the loop's cached time is now 20 ms old */
  async_timer_init(&loop, &t);
  started_at = async_hrtime();
  async_timer_start(&t, measure_timer, 10, 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_true(elapsed_ns >= 10 * 1000000ull);
  test_loop_close(&loop);
}

static void test_sub_ms_timer_never_early(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  for (int i = 0; i < 20; i++) {
    started_at = async_hrtime();
    async_timer_start_ns(&t, measure_timer, 300 * 1000, 0);
    async_run(&loop, ASYNC_RUN_DEFAULT);
    assert_true(elapsed_ns >= 300 * 1000);
  }
  test_loop_close(&loop);
}

static int turns;
static void count_check(async_check_t *c) { (void)c; turns++; }
static void restart_zero_timer(async_timer_t *t) {
  fired++;
  if (fired < 5)
    async_timer_start(t, restart_zero_timer, 0, 0);
}

static void test_zero_restart_waits_a_turn(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_check_t check;
  (void)state;
  fired = turns = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_check_init(&loop, &check);
  async_check_start(&check, count_check);
  async_unref((async_handle_t *)&check);
  async_timer_init(&loop, &t);
  async_timer_start(&t, restart_zero_timer, 0, 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(fired, 5);
  assert_true(turns >= 5);
  test_loop_close(&loop);
}

static void test_pending_defer_keeps_loop_busy(void **state) {
  async_loop_t loop;
  async_defer_t d;
  (void)state;
  test_loop_init(&loop);
  async_defer_init(&d);
  async_defer(&loop, &d, on_defer_d);
  assert_int_equal(async_loop_alive(&loop), 1);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  assert_int_equal(async_defer_cancel(&d), 0);
  assert_int_equal(async_loop_alive(&loop), 0);
  test_loop_close(&loop);
}

static int pipe_w;
static char got[16];
static void write_pipe_timer(async_timer_t *t) {
  (void)t;
  assert_int_equal(test_fd_write(pipe_w, "ping", 4), 4);
}
static void read_pipe(async_watch_t *w, int status, unsigned events) {
  assert_int_equal(status, 0);
  assert_true(events & ASYNC_READABLE);
  assert_int_equal(test_fd_read(w->fd, got, sizeof(got)), 4);
  async_close((async_handle_t *)w, NULL);
}

static void test_timer_feeds_watcher(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_watch_t w;
  int fds[2];
  (void)state;
  memset(got, 0, sizeof(got));
  test_loop_init(&loop);
  assert_int_equal(test_fd_pair(fds), 0);
  pipe_w = fds[1];
  if (!test_has_caps(&loop, ASYNC_CAP_FD_WATCH)) {
    assert_int_equal(async_watch_init(&loop, &w, fds[0]), ASYNC_ENOTSUP);
    test_loop_close(&loop);
    test_fd_close(fds[0]);
    test_fd_close(fds[1]);
    return;
  }
  async_watch_init(&loop, &w, fds[0]);
  async_watch_start(&w, ASYNC_READABLE, read_pipe);
  async_timer_init(&loop, &t);
  async_timer_start(&t, write_pipe_timer, 2, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_memory_equal(got, "ping", 4);
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

static async_wakeup_t wakeup;
static void on_wakeup(async_wakeup_t *w) {
  fired++;
  async_close((async_handle_t *)w, NULL);
}
static void *send_later(void *arg) {
  (void)arg;
  usleep(10 * 1000);
  async_wakeup_send(&wakeup);
  return NULL;
}

static void test_wakeup_ends_blocking_poll(void **state) {
  async_loop_t loop;
  pthread_t th;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_wakeup_init(&loop, &wakeup, on_wakeup);
  pthread_create(&th, NULL, send_later, NULL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  pthread_join(th, NULL);
  assert_int_equal(fired, 1);
  assert_int_equal(async_wakeup_send(&wakeup), ASYNC_EINVAL);
  test_loop_close(&loop);
}

#define MANY 300
static async_timer_t many[MANY];
static int visits[MANY];
static void close_every_other_walk(async_handle_t *h, void *arg) {
  int i = (int)((async_timer_t *)h - many);
  (void)arg;
  visits[i]++;
  /* Close this one and a later one: tables reshuffle under the walk. */
  if (!async_is_closing(h))
    async_close(h, NULL);
  if (i + 7 < MANY && !async_is_closing((async_handle_t *)&many[i + 7]))
    async_close((async_handle_t *)&many[i + 7], NULL);
}

static void test_walk_visits_once_while_closing(void **state) {
  async_loop_t loop;
  (void)state;
  memset(visits, 0, sizeof(visits));
  test_loop_init(&loop);
  for (int i = 0; i < MANY; i++) {
    async_timer_init(&loop, &many[i]);
    if (i % 3 == 0)
      async_timer_start(&many[i], count_timer, 1000 + (uint64_t)i, 0);
  }
  async_walk(&loop, close_every_other_walk, NULL);
  for (int i = 0; i < MANY; i++)
    assert_int_equal(visits[i], 1);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  test_loop_close(&loop);
}

static void test_two_loops_independent(void **state) {
  async_loop_t a, b;
  async_timer_t ta, tb;
  (void)state;
  fired = 0;
  test_loop_init(&a);
  test_loop_init(&b);
  async_timer_init(&a, &ta);
  async_timer_init(&b, &tb);
  async_timer_start(&ta, count_timer, 1, 0);
  async_timer_start(&tb, count_timer, 1, 0);
  assert_int_equal(async_run(&a, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_true(async_is_active((async_handle_t *)&tb));
  assert_int_equal(async_run(&b, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 2);
  test_loop_close(&a);
  test_loop_close(&b);
}

static const struct CMUnitTest tests[] = {
  TEST(test_phase_order),
  TEST(test_run_not_alive_returns_zero),
  TEST(test_run_bad_arguments),
  TEST(test_once_runs_a_sleeping_timer),
  TEST(test_stop_returns_alive),
  TEST(test_reentrant_run_is_busy),
  TEST(test_close_callback_never_inside_close),
  TEST(test_close_self_and_free),
  TEST(test_requeueing_defer_does_not_starve_timers),
  TEST(test_timer_never_early_after_stale_clock),
  TEST(test_sub_ms_timer_never_early),
  TEST(test_zero_restart_waits_a_turn),
  TEST(test_pending_defer_keeps_loop_busy),
  TEST(test_timer_feeds_watcher),
  TEST(test_wakeup_ends_blocking_poll),
  TEST(test_walk_visits_once_while_closing),
  TEST(test_two_loops_independent),
};

TEST_MAIN("turn", tests)
