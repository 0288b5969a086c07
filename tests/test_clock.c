/* The loop's clock: virtual clocks (manual advance and autojump), and the
 * real clock's cached time around the backend's wait. */
#include "helper.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

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
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 30000, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 30000);
  assert_int_equal(async_now_ns(&loop), 30000 * MS);
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

/* ---- virtual clock: more ----------------------------------------------------------- */

static void init_clock_at(async_loop_t *loop, async_clock_mode mode, uint64_t start_ns) {
  async_loop_options_t o;
  memset(&o, 0, sizeof(o));
  o.backend = test_backend();
  o.clock = mode;
  o.clock_start_ns = start_ns;
  assert_int_equal(async_loop_init(loop, &o), 0);
}

static void test_advances_accumulate(void **state) {
  async_loop_t loop;
  (void)state;
  init_clock_at(&loop, ASYNC_CLOCK_VIRTUAL, 17);
  assert_int_equal(async_now_ns(&loop), 17);
  assert_int_equal(async_loop_advance(&loop, 0), 0);
  assert_int_equal(async_now_ns(&loop), 17);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(async_loop_advance(&loop, 3), 0);
  assert_int_equal(async_now_ns(&loop), 3017);
  async_run(&loop, ASYNC_RUN_NOWAIT); /* a turn does not move it either */
  assert_int_equal(async_now_ns(&loop), 3017);
  test_loop_close(&loop);
}

static void test_deadline_counts_from_virtual_now(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  init_clock_at(&loop, ASYNC_CLOCK_VIRTUAL, 1000 * MS);
  async_loop_advance(&loop, 100 * MS);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 5, 0);
  assert_int_equal(async_timer_get_due_in_ns(&t), 5 * MS);
  async_loop_advance(&loop, 5 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 1105);
  test_loop_close(&loop);
}

#define STEP_TIMERS 1000
static async_timer_t step_t[STEP_TIMERS];
static uint64_t step_timeout[STEP_TIMERS];
static int step_fired, step_late;
static void step_cb(async_timer_t *t) {
  int i = (int)(t - step_t);
  step_fired++;
  /* stepping 1 ms at a time: each runs in the step that reaches its deadline */
  if (async_now(t->loop) != step_timeout[i])
    step_late++;
}

static void test_stepping_runs_exactly_the_due_timers(void **state) {
  async_loop_t loop;
  (void)state;
  step_fired = step_late = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < STEP_TIMERS; i++) {
    step_timeout[i] = (uint64_t)((i * 7907) % 200) + 1;
    async_timer_init(&loop, &step_t[i]);
    async_timer_start(&step_t[i], step_cb, step_timeout[i], 0);
  }
  for (uint64_t ms = 1; ms <= 200; ms++) {
    int due = 0;
    async_loop_advance(&loop, MS);
    async_run(&loop, ASYNC_RUN_NOWAIT);
    for (int i = 0; i < STEP_TIMERS; i++)
      due += step_timeout[i] <= ms;
    assert_int_equal(step_fired, due);
  }
  assert_int_equal(step_late, 0);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static async_timer_t later_timer;
static void advance_inside(async_timer_t *t) {
  fired++;
  async_loop_advance(t->loop, 10 * MS);
}

static void test_advance_from_a_callback_runs_next_turn(void **state) {
  async_loop_t loop;
  async_timer_t first;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &first);
  async_timer_init(&loop, &later_timer);
  async_timer_start(&first, advance_inside, 1, 0);
  async_timer_start(&later_timer, record, 5, 0);
  async_loop_advance(&loop, MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1); /* the 5 ms timer became due during the phase: next turn */
  assert_int_equal(async_now(&loop), 11);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 2);
  assert_int_equal(seen_ms, 11);
  test_loop_close(&loop);
}

/* ---- autojump: more ------------------------------------------------------------------ */

static uint64_t seen_list[8];
static int nseen;
static void record_list(async_timer_t *t) {
  seen_list[nseen++] = async_now(t->loop);
}

static void test_autojump_steps_through_each_deadline(void **state) {
  async_loop_t loop;
  async_timer_t t[3];
  (void)state;
  nseen = 0;
  init_clock_at(&loop, ASYNC_CLOCK_AUTOJUMP, 7000 * MS);
  for (int i = 0; i < 3; i++)
    async_timer_init(&loop, &t[i]);
  async_timer_start(&t[2], record_list, 3000, 0);
  async_timer_start(&t[0], record_list, 1000, 0);
  async_timer_start(&t[1], record_list, 2000, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(nseen, 3);
  assert_int_equal(seen_list[0], 8000);
  assert_int_equal(seen_list[1], 9000);
  assert_int_equal(seen_list[2], 10000);
  assert_int_equal(async_now(&loop), 10000);
  test_loop_close(&loop);
}

static void test_autojump_far_from_zero(void **state) {
  async_loop_t loop;
  async_timer_t t;
  const uint64_t start = UINT64_C(1) << 62;
  (void)state;
  fired = 0;
  init_clock_at(&loop, ASYNC_CLOCK_AUTOJUMP, start);
  async_timer_init(&loop, &t);
  async_timer_start_ns(&t, record, 1234567, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(async_now_ns(&loop), start + 1234567);
  test_loop_close(&loop);
}

static int idle_calls;
static uint64_t idle_saw_other;
static void idle_watch_clock(async_idle_t *h) {
  if (async_now_ns(h->loop) != 0)
    idle_saw_other++;
  if (++idle_calls == 5)
    async_idle_stop(h);
}

static void test_autojump_waits_while_idle_is_active(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  (void)state;
  fired = 0;
  idle_calls = 0;
  idle_saw_other = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 1000, 0);
  async_idle_init(&loop, &i);
  async_idle_start(&i, idle_watch_clock);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(idle_calls, 5);
  assert_int_equal(idle_saw_other, 0); /* no jump while the idle hook kept turns coming */
  assert_int_equal(seen_ms, 1000);
  test_loop_close(&loop);
}

static void test_autojump_once_runs_the_next_timer(void **state) {
  async_loop_t loop;
  async_timer_t a, b;
  (void)state;
  nseen = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &a);
  async_timer_init(&loop, &b);
  async_timer_start(&a, record_list, 100, 0);
  async_timer_start(&b, record_list, 200, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(nseen, 1);
  assert_int_equal(seen_list[0], 100);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 0);
  assert_int_equal(nseen, 2);
  assert_int_equal(seen_list[1], 200);
  test_loop_close(&loop);
}

static void test_autojump_update_time_is_a_no_op(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  init_clock_at(&loop, ASYNC_CLOCK_AUTOJUMP, 42 * MS);
  async_update_time(&loop);
  assert_int_equal(async_now_ns(&loop), 42 * MS);
  assert_int_equal(async_loop_advance(&loop, MS), 0); /* advance works on autojump too */
  assert_int_equal(async_now_ns(&loop), 43 * MS);
  /* Nothing to wait for: nothing to jump to. */
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 500, 0);
  async_unref((async_handle_t *)&t);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(async_now_ns(&loop), 43 * MS);
  test_loop_close(&loop);
}

static async_wakeup_t jump_wakeup;
static void close_wakeup_timer(async_timer_t *t) {
  record(t);
  async_close((async_handle_t *)&jump_wakeup, NULL);
}

static void test_autojump_beside_a_quiet_wakeup(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  assert_int_equal(async_wakeup_init(&loop, &jump_wakeup, on_wakeup), 0);
  async_timer_init(&loop, &t);
  async_timer_start(&t, close_wakeup_timer, 5000, 0);
  /* The wakeup keeps the loop alive but never fires: the clock still jumps. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 5000);
  test_loop_close(&loop);
}

static uint64_t watch_saw_ns;
static void read_and_stop(async_watch_t *w, int status, unsigned events) {
  char c;
  (void)events;
  assert_int_equal(status, 0);
  assert_int_equal(test_fd_read(w->fd, &c, 1), 1);
  watch_saw_ns = async_now_ns(w->loop);
  nseen = fired; /* how many timers ran before the I/O */
  async_watch_stop(w);
}

static void test_autojump_does_not_jump_past_ready_io(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_watch_t w;
  int fds[2];
  (void)state;
  fired = 0;
  nseen = -1;
  watch_saw_ns = UINT64_MAX;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  if (!test_has_caps(&loop, ASYNC_CAP_FD_WATCH)) {
    test_loop_close(&loop);
    skip();
  }
  assert_int_equal(test_fd_pair(fds), 0);
  assert_int_equal(test_fd_write(fds[1], "x", 1), 1);
  async_timer_init(&loop, &t);
  async_timer_start(&t, record, 10000, 0);
  assert_int_equal(async_watch_init(&loop, &w, fds[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, read_and_stop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(watch_saw_ns, 0);
  assert_int_equal(nseen, 0);
  assert_int_equal(fired, 1);
  assert_int_equal(seen_ms, 10000);
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

/* A 30 s timeout beside a 50 ms pool job: the job finishes first, because
 * autojump waits for pool work instead of jumping past it. */
static int order_job, order_timer, order_next;
static void job_sleeps(async_work_t *req) {
  (void)req;
  usleep(50 * 1000);
}
static void job_done(async_work_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  order_job = ++order_next;
}
static void timeout_fired(async_timer_t *t) {
  (void)t;
  order_timer = ++order_next;
}

static void test_autojump_waits_for_pool_work(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_work_t req;
  (void)state;
  order_job = order_timer = order_next = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  memset(&req, 0, sizeof(req));
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_timer_start(&t, timeout_fired, 30000, 0), 0);
  assert_int_equal(async_work_queue(&loop, &req, job_sleeps, job_done), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(order_job, 1);
  assert_int_equal(order_timer, 2);
  assert_int_equal(async_now(&loop), 30000); /* then the clock jumped all the same */
  test_loop_close(&loop);
}

/* ---- real clock: more ---------------------------------------------------------------- */

static void test_real_now_taken_at_init(void **state) {
  async_loop_t loop;
  uint64_t before, after;
  (void)state;
  before = async_hrtime();
  test_loop_init(&loop);
  after = async_hrtime();
  assert_true(async_now_ns(&loop) >= before);
  assert_true(async_now_ns(&loop) <= after);
  assert_int_equal(async_loop_advance(&loop, 0), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static uint64_t now_seen[2];
static int nnow;
static void busy_then_record(async_timer_t *t) {
  uint64_t until = async_hrtime() + 2 * MS;
  now_seen[nnow++] = async_now_ns(t->loop);
  while (async_hrtime() < until)
    ;
}

static void test_now_is_fixed_within_a_turn(void **state) {
  async_loop_t loop;
  async_timer_t a, b;
  uint64_t until;
  (void)state;
  nnow = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &a);
  async_timer_init(&loop, &b);
  async_timer_start(&a, busy_then_record, 0, 0);
  async_timer_start(&b, busy_then_record, 0, 0);
  until = async_hrtime() + MS;
  while (async_hrtime() < until) /* both surely due at the next turn */
    ;
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(nnow, 2);
  /* The first callback spent 2 ms; the second still reads the turn's time. */
  assert_int_equal(now_seen[1], now_seen[0]);
  assert_true(async_hrtime() >= now_seen[0] + 4 * MS);
  test_loop_close(&loop);
}


/* ---- real clock: the cached time around the backend's wait ----------------------------- */

static void spin_ns(uint64_t ns) {
  uint64_t until = async_hrtime() + ns;
  while (async_hrtime() < until)
    ;
}

/* What another thread did, and when by the monotonic clock (read just
 * before the act, so the loop cannot have seen the act earlier). */
static uint64_t acted_at;
static uint64_t seen_at;
static int acted_fd;
static async_wakeup_t fresh_wakeup;

static void *write_later(void *arg) {
  (void)arg;
  usleep(100 * 1000);
  __atomic_store_n(&acted_at, async_hrtime(), __ATOMIC_SEQ_CST);
  assert_int_equal(test_fd_write(acted_fd, "x", 1), 1);
  return NULL;
}

static void read_fresh(async_watch_t *w, int status, unsigned events) {
  char c;
  assert_int_equal(status, 0);
  assert_true(events & ASYNC_READABLE);
  seen_at = async_now_ns(w->loop);
  assert_int_equal(test_fd_read(w->fd, &c, 1), 1);
  async_close((async_handle_t *)w, NULL);
}

/* The loop slept 100 ms in its wait: the I/O callback's async_now has moved
 * with it, not stayed at the turn's start. */
static void test_now_refreshed_for_io_callbacks(void **state) {
  async_loop_t loop;
  async_watch_t w;
  pthread_t th;
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_FD_WATCH)) {
    assert_int_equal(async_watch_init(&loop, &w, 0), ASYNC_ENOTSUP);
    test_loop_close(&loop);
    return;
  }
  assert_int_equal(test_fd_pair(fds), 0);
  acted_fd = fds[1];
  seen_at = 0;
  assert_int_equal(async_watch_init(&loop, &w, fds[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, read_fresh), 0);
  assert_int_equal(pthread_create(&th, NULL, write_later, NULL), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  pthread_join(th, NULL);
  assert_true(seen_at >= acted_at);
  assert_true(seen_at <= async_hrtime());
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

static void *send_later(void *arg) {
  (void)arg;
  usleep(100 * 1000);
  __atomic_store_n(&acted_at, async_hrtime(), __ATOMIC_SEQ_CST);
  assert_int_equal(async_wakeup_send(&fresh_wakeup), 0);
  return NULL;
}

static void wakeup_fresh(async_wakeup_t *w) {
  seen_at = async_now_ns(w->loop);
  async_close((async_handle_t *)w, NULL);
}

static void test_now_refreshed_for_wakeup_callbacks(void **state) {
  async_loop_t loop;
  pthread_t th;
  (void)state;
  test_loop_init(&loop);
  seen_at = 0;
  assert_int_equal(async_wakeup_init(&loop, &fresh_wakeup, wakeup_fresh), 0);
  assert_int_equal(pthread_create(&th, NULL, send_later, NULL), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  pthread_join(th, NULL);
  assert_true(seen_at >= acted_at);
  test_loop_close(&loop);
}

static void work_slowly(async_work_t *req) {
  (void)req;
  usleep(100 * 1000);
  __atomic_store_n(&acted_at, async_hrtime(), __ATOMIC_SEQ_CST);
}

static void work_fresh(async_work_t *req, int status) {
  assert_int_equal(status, 0);
  seen_at = async_now_ns(req->loop);
}

static void test_now_refreshed_for_work_callbacks(void **state) {
  async_loop_t loop;
  async_work_t req;
  (void)state;
  test_loop_init(&loop);
  memset(&req, 0, sizeof(req));
  seen_at = 0;
  assert_int_equal(async_work_queue(&loop, &req, work_slowly, work_fresh), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_true(seen_at >= acted_at);
  test_loop_close(&loop);
}

/* Timer a spins, then starts b: the wait the loop computes for b (asked
 * from a prepare hook, the last thing before the wait) ends at b's
 * deadline as the clock reads when asked, not as it read when the turn
 * began. */
static async_timer_t timer_b;
static uint64_t b_started_before, b_started_after, b_fired_at, asked_at, asked_ns;
static int asked;

static void b_fires(async_timer_t *t) {
  (void)t;
  b_fired_at = async_hrtime();
}

static void a_spins_then_starts_b(async_timer_t *t) {
  (void)t;
  spin_ns(30 * MS);
  b_started_before = async_hrtime();
  assert_int_equal(async_timer_start(&timer_b, b_fires, 10, 0), 0);
  b_started_after = async_hrtime();
}

static void ask_timeout(async_prepare_t *p) {
  if (asked++ != 0)
    return;
  asked_at = async_hrtime();
  asked_ns = (uint64_t)async_backend_timeout_ns(p->loop);
}

static void test_wait_measured_from_the_clock_at_the_wait(void **state) {
  async_loop_t loop;
  async_timer_t a;
  async_prepare_t p;
  (void)state;
  asked = 0;
  b_fired_at = 0;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &a), 0);
  assert_int_equal(async_timer_init(&loop, &timer_b), 0);
  assert_int_equal(async_prepare_init(&loop, &p), 0);
  assert_int_equal(async_prepare_start(&p, ask_timeout), 0);
  async_unref((async_handle_t *)&p);
  assert_int_equal(async_timer_start(&a, a_spins_then_starts_b, 0, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_true(asked >= 1);
  /* b's deadline is at most b_started_after + 10 ms; the time at the ask at
   * least asked_at. Measured from the turn's start it would be 30 ms longer. */
  assert_true(asked_ns <= b_started_after + 10 * MS - asked_at);
  assert_true(b_fired_at >= b_started_before + 10 * MS); /* never early */
  test_loop_close(&loop);
}

/* The same, as the backend really waits: a 150 ms callback must not make a
 * 1 ms timer started at its end fire 150 ms late. The bound is half the
 * spin, far above any scheduling delay. */
static void a_spins_long_then_starts_b(async_timer_t *t) {
  (void)t;
  spin_ns(150 * MS);
  b_started_before = async_hrtime();
  assert_int_equal(async_timer_start(&timer_b, b_fires, 1, 0), 0);
}

static void test_no_oversleep_after_a_slow_callback(void **state) {
  async_loop_t loop;
  async_timer_t a;
  (void)state;
  b_fired_at = 0;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &a), 0);
  assert_int_equal(async_timer_init(&loop, &timer_b), 0);
  assert_int_equal(async_timer_start(&a, a_spins_long_then_starts_b, 0, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_true(b_fired_at >= b_started_before + MS);
  assert_true(b_fired_at < b_started_before + 75 * MS);
  test_loop_close(&loop);
}

/* A timer restarted from its own callback with timeout 0 is due when the
 * next turn polls: the poll must not block, not even for a nanosecond. */
static int zero_runs, nonzero_waits;
static void zero_again(async_timer_t *t) {
  if (++zero_runs < 50)
    assert_int_equal(async_timer_start(t, zero_again, 0, 0), 0);
}
static void check_zero_wait(async_prepare_t *p) {
  if (async_backend_timeout_ns(p->loop) != 0)
    nonzero_waits++;
}

static void test_zero_restart_polls_without_waiting(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_prepare_t p;
  (void)state;
  zero_runs = nonzero_waits = 0;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_prepare_init(&loop, &p), 0);
  assert_int_equal(async_prepare_start(&p, check_zero_wait), 0);
  async_unref((async_handle_t *)&p);
  assert_int_equal(async_timer_start(&t, zero_again, 0, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(zero_runs, 50);
  assert_int_equal(nonzero_waits, 0);
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
  TEST(test_advances_accumulate),
  TEST(test_deadline_counts_from_virtual_now),
  TEST(test_stepping_runs_exactly_the_due_timers),
  TEST(test_advance_from_a_callback_runs_next_turn),
  TEST(test_autojump_steps_through_each_deadline),
  TEST(test_autojump_far_from_zero),
  TEST(test_autojump_waits_while_idle_is_active),
  TEST(test_autojump_once_runs_the_next_timer),
  TEST(test_autojump_update_time_is_a_no_op),
  TEST(test_autojump_beside_a_quiet_wakeup),
  TEST(test_autojump_does_not_jump_past_ready_io),
  TEST(test_autojump_waits_for_pool_work),
  TEST(test_real_now_taken_at_init),
  TEST(test_now_is_fixed_within_a_turn),
  TEST(test_now_refreshed_for_io_callbacks),
  TEST(test_now_refreshed_for_wakeup_callbacks),
  TEST(test_now_refreshed_for_work_callbacks),
  TEST(test_wait_measured_from_the_clock_at_the_wait),
  TEST(test_no_oversleep_after_a_slow_callback),
  TEST(test_zero_restart_polls_without_waiting),
};

TEST_MAIN("clock", tests)
