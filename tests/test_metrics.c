/* Loop metrics and slow-callback reports on the backend under test: the
 * counters against known sequences of runs (times against a virtual clock,
 * and bounds a real clock guarantees), and reports of each callback kind. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
# include <winsock2.h>
#else
# include <netinet/in.h>
#endif

#define MS INT64_C(1000000)

static async_loop_metrics_t metrics_of(const async_loop_t *loop) {
  async_loop_metrics_t m;
  memset(&m, 0xee, sizeof(m));
  assert_int_equal(async_loop_metrics(loop, &m), 0);
  assert_int_equal(m.busy_ns, m.run_ns - m.wait_ns);
  assert_true(m.wait_ns <= m.run_ns);
  return m;
}

/* Spins for ns of real time: a callback that blocks the loop. */
static void spin(uint64_t ns) {
  uint64_t end = async_hrtime() + ns;
  while (async_hrtime() < end) {
  }
}

static void noop_timer(async_timer_t *t) { (void)t; }
static void noop_hook(async_idle_t *h) { (void)h; }
static void noop_wake(async_wakeup_t *w) { (void)w; }

/* ---- metrics ------------------------------------------------------------- */

static void test_metrics_bad_input(void **state) {
  async_loop_t loop;
  async_loop_metrics_t m;
  (void)state;
  assert_int_equal(async_loop_metrics(NULL, &m), ASYNC_EINVAL);
  test_loop_init(&loop);
  assert_int_equal(async_loop_metrics(&loop, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
  assert_int_equal(async_loop_metrics(&loop, &m), ASYNC_EINVAL);
}

static void test_metrics_start_at_zero(void **state) {
  async_loop_t loop;
  async_loop_metrics_t m;
  (void)state;
  test_loop_init(&loop);
  m = metrics_of(&loop);
  assert_int_equal(m.turns, 0);
  assert_int_equal(m.events, 0);
  assert_int_equal(m.run_ns, 0);
  assert_int_equal(m.wait_ns, 0);
  assert_int_equal(m.requests, 0);
  assert_int_equal(m.handles, 0);
  assert_int_equal(m.active_handles, 0);
  for (int t = 0; t < ASYNC_HANDLE_TYPE_MAX; t++)
    assert_int_equal(m.by_type[t], 0);
  /* Nothing alive: async_run runs no turn. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(metrics_of(&loop).turns, 0);
  test_loop_close(&loop);
}

/* A 100 ms timer on an autojump clock: one turn jumps (all of it waiting),
 * the next runs the timer; nothing is busy on a clock that only jumps. */
static void test_metrics_turns_and_wait_on_virtual_clock(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t idle;
  async_loop_metrics_t m;
  (void)state;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_timer_start(&t, noop_timer, 100, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  m = metrics_of(&loop);
  assert_int_equal(m.turns, 2);
  assert_int_equal(m.wait_ns, 100 * MS);
  assert_int_equal(m.run_ns, 100 * MS);
  assert_int_equal(m.busy_ns, 0);

  /* NOWAIT and ONCE: one turn each; an idle hook keeps every wait at 0. */
  assert_int_equal(async_idle_init(&loop, &idle), 0);
  assert_int_equal(async_idle_start(&idle, noop_hook), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  for (int i = 0; i < 3; i++)
    assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  m = metrics_of(&loop);
  assert_int_equal(m.turns, 2 + 5 + 3);
  assert_int_equal(m.wait_ns, 100 * MS);

  /* A manual advance between runs is not time inside async_run. */
  assert_int_equal(async_loop_advance(&loop, 50 * MS), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  m = metrics_of(&loop);
  assert_int_equal(m.run_ns, 100 * MS);
  assert_int_equal(m.turns, 11);
  test_loop_close(&loop);
}

static void busy_timer(async_timer_t *t) {
  (void)t;
  spin((uint64_t)(30 * MS));
}

/* A real clock: a 20 ms timer never fires early, so the run lasts at least
 * that long, most of it waiting; a callback that spins 30 ms is busy time. */
static void test_metrics_real_clock_bounds(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_loop_metrics_t m;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_timer_start(&t, noop_timer, 20, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  m = metrics_of(&loop);
  assert_true(m.run_ns >= (uint64_t)(20 * MS));
  assert_true(m.wait_ns > 0);
  assert_true(m.turns >= 2);

  assert_int_equal(async_timer_start(&t, busy_timer, 0, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  m = metrics_of(&loop);
  assert_true(m.busy_ns >= (uint64_t)(30 * MS));
  test_loop_close(&loop);
}

static void test_metrics_count_handles_and_requests(void **state) {
  async_loop_t loop;
  async_timer_t t1, t2;
  async_idle_t i1;
  async_check_t c1;
  async_wakeup_t w;
  async_loop_metrics_t m;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &t1), 0);
  assert_int_equal(async_timer_init(&loop, &t2), 0);
  assert_int_equal(async_idle_init(&loop, &i1), 0);
  assert_int_equal(async_check_init(&loop, &c1), 0);
  assert_int_equal(async_wakeup_init(&loop, &w, noop_wake), 0);
  assert_int_equal(async_timer_start(&t1, noop_timer, 1000, 0), 0);
  assert_int_equal(async_check_start(&c1, noop_hook), 0);
  m = metrics_of(&loop);
  assert_int_equal(m.handles, 5);
  assert_int_equal(m.by_type[ASYNC_TIMER], 2);
  assert_int_equal(m.by_type[ASYNC_IDLE], 1);
  assert_int_equal(m.by_type[ASYNC_CHECK], 1);
  assert_int_equal(m.by_type[ASYNC_WAKEUP], 1);
  assert_int_equal(m.by_type[ASYNC_PREPARE], 0);
  assert_int_equal(m.by_type[ASYNC_TIMER] + m.by_type[ASYNC_IDLE] + m.by_type[ASYNC_CHECK] +
                       m.by_type[ASYNC_WAKEUP],
                   m.handles);
  /* The wakeup is active and referenced too. */
  assert_int_equal(m.active_handles, 3);
  assert_int_equal(m.requests, 0);

  /* A closing handle is counted until its close callback has run. */
  async_close((async_handle_t *)&t2, NULL);
  assert_int_equal(metrics_of(&loop).by_type[ASYNC_TIMER], 2);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  m = metrics_of(&loop);
  assert_int_equal(m.by_type[ASYNC_TIMER], 1);
  assert_int_equal(m.handles, 4);
  test_loop_close(&loop);
}

static void slow_work(async_work_t *req) {
  (void)req;
  spin((uint64_t)(5 * MS));
}

static int work_done_calls;
static void work_done(async_work_t *req, int status) {
  async_loop_metrics_t m = metrics_of(req->loop);
  (void)status;
  /* The request is no longer in flight once its callback runs. */
  assert_int_equal(m.requests, 0);
  work_done_calls++;
}

static void test_metrics_requests_in_flight(void **state) {
  async_loop_t loop;
  async_work_t work;
  async_loop_metrics_t m;
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_THREADPOOL)) {
    assert_int_equal(async_work_queue(&loop, &work, slow_work, work_done), ASYNC_ENOTSUP);
    test_loop_close(&loop);
    return;
  }
  work_done_calls = 0;
  memset(&work, 0, sizeof(work)); /* a request starts zeroed: its state is read */
  assert_int_equal(async_work_queue(&loop, &work, slow_work, work_done), 0);
  m = metrics_of(&loop);
  assert_int_equal(m.requests, 1);
  assert_int_equal(m.pool_requests, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(work_done_calls, 1);
  m = metrics_of(&loop);
  assert_int_equal(m.requests, 0);
  assert_int_equal(m.pool_requests, 0);
  /* The pool's completion reached the loop as an event. */
  assert_true(m.events >= 1);
  test_loop_close(&loop);
}

static int wake_calls;
static void on_wake(async_wakeup_t *w) {
  wake_calls++;
  async_close((async_handle_t *)w, NULL);
}

static void test_metrics_count_events(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  uint64_t before;
  (void)state;
  test_loop_init(&loop);
  wake_calls = 0;
  assert_int_equal(async_wakeup_init(&loop, &w, on_wake), 0);
  before = metrics_of(&loop).events;
  assert_int_equal(async_wakeup_send(&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(wake_calls, 1);
  assert_true(metrics_of(&loop).events >= before + 1);
  test_loop_close(&loop);
}

/* ---- slow-callback reports ----------------------------------------------- */

#define MAX_REPORTS 64

static async_slow_report_t reports[MAX_REPORTS];
static int nreports;

static void record(async_loop_t *loop, const async_slow_report_t *r) {
  (void)loop;
  if (nreports < MAX_REPORTS)
    reports[nreports] = *r;
  nreports++;
}

static const async_slow_report_t *find_kind(async_cb_kind kind) {
  for (int i = 0; i < nreports && i < MAX_REPORTS; i++)
    if (reports[i].kind == kind)
      return &reports[i];
  return NULL;
}

static void test_slow_bad_input(void **state) {
  async_loop_t loop;
  (void)state;
  assert_int_equal(async_loop_report_slow(NULL, 0, record), ASYNC_EINVAL);
  test_loop_init(&loop);
  assert_int_equal(async_loop_report_slow(&loop, 0, NULL), 0); /* off while off */
  test_loop_close(&loop);
  assert_int_equal(async_loop_report_slow(&loop, 0, record), ASYNC_EINVAL);
}

static void test_slow_kind_names(void **state) {
  (void)state;
  assert_null(async_cb_kind_name(ASYNC_CB_UNKNOWN));
  assert_null(async_cb_kind_name(ASYNC_CB_KIND_MAX));
  assert_null(async_cb_kind_name((async_cb_kind)-1));
  for (int k = 1; k < ASYNC_CB_KIND_MAX; k++) {
    const char *name = async_cb_kind_name((async_cb_kind)k);
    assert_non_null(name);
    for (int j = 1; j < k; j++)
      assert_string_not_equal(name, async_cb_kind_name((async_cb_kind)j));
  }
  assert_string_equal(async_cb_kind_name(ASYNC_CB_TIMER), "timer");
  assert_string_equal(async_cb_kind_name(ASYNC_CB_WORK_DONE), "work-done");
}

static void slow_timer(async_timer_t *t) {
  (void)t;
  spin((uint64_t)(100 * MS));
}

/* The 100 ms callback is reported with what it was and how long it took;
 * the quick one beside it, below the threshold, is not. */
static void test_slow_timer_reported_quick_one_not(void **state) {
  async_loop_t loop;
  async_timer_t slow, quick;
  int tag;
  (void)state;
  test_loop_init(&loop);
  nreports = 0;
  assert_int_equal(async_loop_report_slow(&loop, 50 * MS, record), 0);
  assert_int_equal(async_timer_init(&loop, &slow), 0);
  assert_int_equal(async_timer_init(&loop, &quick), 0);
  slow.data = &tag;
  assert_int_equal(async_timer_start(&slow, slow_timer, 1, 0), 0);
  assert_int_equal(async_timer_start(&quick, noop_timer, 1, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(nreports, 1);
  assert_int_equal(reports[0].kind, ASYNC_CB_TIMER);
  assert_int_equal(reports[0].handle_type, ASYNC_TIMER);
  assert_int_equal(reports[0].req_type, ASYNC_UNKNOWN_REQ);
  assert_ptr_equal(reports[0].object, &slow);
  assert_ptr_equal(reports[0].data, &tag);
  assert_true(reports[0].duration_ns >= (uint64_t)(100 * MS));

  /* Off: nothing is timed or reported. */
  assert_int_equal(async_loop_report_slow(&loop, 0, NULL), 0);
  assert_int_equal(async_timer_start(&slow, slow_timer, 1, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(nreports, 1);
  test_loop_close(&loop);
}

static void stop_reports_then_spin(async_timer_t *t) {
  async_loop_report_slow(t->loop, 0, NULL);
  spin((uint64_t)(2 * MS));
}

static void test_slow_callback_turns_reports_off(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  nreports = 0;
  assert_int_equal(async_loop_report_slow(&loop, 1 * MS, record), 0);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_timer_start(&t, stop_reports_then_spin, 0, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(nreports, 0);
  test_loop_close(&loop);
}

/* Threshold 0 reports every user callback, each with its kind; the loop's
 * own machinery (its wake channel, its own deferred calls) never shows. */
static void on_defer(async_defer_t *d) { (void)d; }
static void on_close_free(async_handle_t *h) { free(h); }
static void on_wake_keep(async_wakeup_t *w) { (void)w; }

static void test_slow_every_core_kind(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t idle;
  async_prepare_t prep;
  async_check_t check;
  async_defer_t d;
  async_wakeup_t w;
  async_timer_t *heap_timer = malloc(sizeof(*heap_timer));
  int tag;
  const async_slow_report_t *r;
  (void)state;
  assert_non_null(heap_timer);
  test_loop_init(&loop);
  nreports = 0;
  assert_int_equal(async_loop_report_slow(&loop, 0, record), 0);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_idle_init(&loop, &idle), 0);
  assert_int_equal(async_prepare_init(&loop, &prep), 0);
  assert_int_equal(async_check_init(&loop, &check), 0);
  assert_int_equal(async_wakeup_init(&loop, &w, on_wake_keep), 0);
  assert_int_equal(async_timer_init(&loop, heap_timer), 0);
  heap_timer->data = &tag;
  async_defer_init(&d);
  assert_int_equal(async_timer_start(&t, noop_timer, 0, 0), 0);
  assert_int_equal(async_idle_start(&idle, noop_hook), 0);
  assert_int_equal(async_prepare_start(&prep, noop_hook), 0);
  assert_int_equal(async_check_start(&check, noop_hook), 0);
  assert_int_equal(async_defer(&loop, &d, on_defer), 0);
  assert_int_equal(async_wakeup_send(&w), 0);
  /* Its close callback frees it: the report still says which it was. */
  assert_int_equal(async_close((async_handle_t *)heap_timer, on_close_free), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);

  assert_non_null(r = find_kind(ASYNC_CB_TIMER));
  assert_ptr_equal(r->object, &t);
  assert_non_null(r = find_kind(ASYNC_CB_IDLE));
  assert_int_equal(r->handle_type, ASYNC_IDLE);
  assert_non_null(r = find_kind(ASYNC_CB_PREPARE));
  assert_int_equal(r->handle_type, ASYNC_PREPARE);
  assert_non_null(r = find_kind(ASYNC_CB_CHECK));
  assert_int_equal(r->handle_type, ASYNC_CHECK);
  assert_non_null(r = find_kind(ASYNC_CB_DEFER));
  assert_ptr_equal(r->object, &d);
  assert_int_equal(r->handle_type, ASYNC_UNKNOWN_HANDLE);
  assert_non_null(r = find_kind(ASYNC_CB_WAKEUP));
  assert_ptr_equal(r->object, &w);
  assert_non_null(r = find_kind(ASYNC_CB_CLOSE));
  assert_int_equal(r->handle_type, ASYNC_TIMER);
  assert_ptr_equal(r->data, &tag);
  /* No watcher is the user's here: the wake channel's is the loop's own. */
  assert_null(find_kind(ASYNC_CB_WATCH));
  assert_true(nreports <= MAX_REPORTS);
  test_loop_close(&loop);
}

static void work_fn(async_work_t *req) { (void)req; }
static void work_after(async_work_t *req, int status) {
  (void)req;
  (void)status;
}

static void test_slow_work_done(void **state) {
  async_loop_t loop;
  async_work_t work;
  const async_slow_report_t *r;
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_THREADPOOL)) {
    test_loop_close(&loop);
    return;
  }
  nreports = 0;
  memset(&work, 0, sizeof(work));
  assert_int_equal(async_loop_report_slow(&loop, 0, record), 0);
  assert_int_equal(async_work_queue(&loop, &work, work_fn, work_after), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_non_null(r = find_kind(ASYNC_CB_WORK_DONE));
  assert_int_equal(r->req_type, ASYNC_WORK);
  assert_int_equal(r->handle_type, ASYNC_UNKNOWN_HANDLE);
  assert_ptr_equal(r->object, &work);
  /* The work function runs on a pool thread: it is not the loop's to time. */
  assert_int_equal(nreports, 1);
  test_loop_close(&loop);
}

/* ---- streams: read, write, connection, connect, shutdown, alloc ----------- */

static async_tcp_t server, client, accepted;
static async_connect_t conn_req;
static async_write_t write_req;
static async_shutdown_t shut_req;
static char wbuf[] = "ping";

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  (void)buf;
  if (nread < 0) {
    async_close((async_handle_t *)s, NULL);
    async_close((async_handle_t *)&client, NULL);
    async_close((async_handle_t *)&server, NULL);
  }
}

static void on_connection(async_stream_t *s, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_tcp_init(s->loop, &accepted), 0);
  assert_int_equal(async_accept(s, (async_stream_t *)&accepted), 0);
  assert_int_equal(async_read_start((async_stream_t *)&accepted, test_alloc_slab, on_read), 0);
}

static void on_shutdown(async_shutdown_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
}

static void on_write(async_write_t *req, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_shutdown(&shut_req, req->handle, on_shutdown), 0);
}

static void on_connect(async_connect_t *req, int status) {
  async_buf_t b = {wbuf, 4};
  assert_int_equal(status, 0);
  assert_int_equal(async_write(&write_req, req->handle, &b, 1, on_write), 0);
}

static void test_slow_stream_kinds(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  static const async_cb_kind want[] = {ASYNC_CB_CONNECTION, ASYNC_CB_CONNECT, ASYNC_CB_WRITE,
                                       ASYNC_CB_SHUTDOWN, ASYNC_CB_ALLOC, ASYNC_CB_READ};
  (void)state;
  test_loop_init(&loop);
  if (!test_tcp_caps(&loop)) {
    test_loop_close(&loop);
    return;
  }
  nreports = 0;
  assert_int_equal(async_loop_report_slow(&loop, 0, record), 0);
  test_tcp_listen(&loop, &server, &addr, 8, on_connection);
  assert_int_equal(async_tcp_init(&loop, &client), 0);
  assert_int_equal(async_tcp_connect(&conn_req, &client, (const struct sockaddr *)&addr, on_connect),
                   0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    const async_slow_report_t *r = find_kind(want[i]);
    assert_non_null(r);
  }
  assert_int_equal(find_kind(ASYNC_CB_CONNECT)->req_type, ASYNC_CONNECT);
  assert_ptr_equal(find_kind(ASYNC_CB_CONNECT)->object, &conn_req);
  assert_ptr_equal(find_kind(ASYNC_CB_WRITE)->object, &write_req);
  assert_int_equal(find_kind(ASYNC_CB_CONNECTION)->handle_type, ASYNC_TCP);
  assert_ptr_equal(find_kind(ASYNC_CB_CONNECTION)->object, &server);
  assert_ptr_equal(find_kind(ASYNC_CB_READ)->object, &accepted);
  /* The streams' own watchers and report queue are not the user's. */
  assert_null(find_kind(ASYNC_CB_WATCH));
  assert_null(find_kind(ASYNC_CB_DEFER));
  test_loop_close(&loop);
}

/* ---- a user's fd watcher ---------------------------------------------------- */

static int watch_fds[2];
static void on_watch(async_watch_t *w, int status, unsigned events) {
  char c;
  (void)status;
  (void)events;
  test_fd_read(w->fd, &c, 1);
  async_close((async_handle_t *)w, NULL);
}

static void test_slow_watch(void **state) {
  async_loop_t loop;
  async_watch_t w;
  const async_slow_report_t *r;
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_FD_WATCH)) {
    assert_int_equal(test_fd_pair(watch_fds), 0);
    assert_int_equal(async_watch_init(&loop, &w, watch_fds[0]), ASYNC_ENOTSUP);
    test_fd_close(watch_fds[0]);
    test_fd_close(watch_fds[1]);
    test_loop_close(&loop);
    return;
  }
  assert_int_equal(test_fd_pair(watch_fds), 0);
  nreports = 0;
  assert_int_equal(async_loop_report_slow(&loop, 0, record), 0);
  assert_int_equal(async_watch_init(&loop, &w, watch_fds[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch), 0);
  assert_int_equal(test_fd_write(watch_fds[1], "x", 1), 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_non_null(r = find_kind(ASYNC_CB_WATCH));
  assert_ptr_equal(r->object, &w);
  assert_int_equal(r->handle_type, ASYNC_WATCH);
  test_fd_close(watch_fds[0]);
  test_fd_close(watch_fds[1]);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_metrics_bad_input),
  TEST(test_metrics_start_at_zero),
  TEST(test_metrics_turns_and_wait_on_virtual_clock),
  TEST(test_metrics_real_clock_bounds),
  TEST(test_metrics_count_handles_and_requests),
  TEST(test_metrics_requests_in_flight),
  TEST(test_metrics_count_events),
  TEST(test_slow_bad_input),
  TEST(test_slow_kind_names),
  TEST(test_slow_timer_reported_quick_one_not),
  TEST(test_slow_callback_turns_reports_off),
  TEST(test_slow_every_core_kind),
  TEST(test_slow_work_done),
  TEST(test_slow_stream_kinds),
  TEST(test_slow_watch),
};

TEST_MAIN("metrics", tests)
