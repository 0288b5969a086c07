/* Embedding a loop in a host loop on the backend under test: the backend fd
 * (where ASYNC_CAP_BACKEND_FD says there is one, ASYNC_ENOTSUP elsewhere) and
 * the timeout a host may block for, in milliseconds and nanoseconds. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS INT64_C(1000000)

/* ---- helpers -------------------------------------------------------------- */

static int calls_timer, calls_watch, calls_wakeup, calls_defer, calls_idle;
static uint64_t fired_at;

static void reset(void) {
  calls_timer = calls_watch = calls_wakeup = calls_defer = calls_idle = 0;
  fired_at = 0;
}

static void on_timer(async_timer_t *t) {
  (void)t;
  calls_timer++;
  fired_at = async_hrtime();
}

static void on_watch(async_watch_t *w, int status, unsigned events) {
  char c;
  ssize_t n;
  (void)status;
  (void)events;
  calls_watch++;
  n = read(w->fd, &c, 1);
  (void)n;
}

static void on_wakeup(async_wakeup_t *w) {
  (void)w;
  calls_wakeup++;
}

static void on_defer(async_defer_t *d) {
  (void)d;
  calls_defer++;
}

static void on_idle(async_idle_t *h) {
  (void)h;
  calls_idle++;
}

/* A hang kills the test program instead of stalling the suite. */
static void guard(unsigned seconds) {
  alarm(seconds);
}

static void unguard(void) {
  alarm(0);
}

static void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* Polls the backend fd for readability; returns poll's result. */
static int fd_ready(int fd, int timeout_ms) {
  struct pollfd pfd;
  int n;
  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  do
    n = poll(&pfd, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    assert_true((pfd.revents & POLLIN) != 0);
  return n;
}

static int has_fd(const async_loop_t *loop) {
  return test_has_caps(loop, ASYNC_CAP_BACKEND_FD);
}

/* A watcher on the read end of an empty pipe: active, referenced, not ready. */
static void idle_watcher(async_loop_t *loop, async_watch_t *w, int p[2]) {
  assert_int_equal(pipe(p), 0);
  assert_int_equal(async_watch_init(loop, w, p[0]), 0);
  assert_int_equal(async_watch_start(w, ASYNC_READABLE, on_watch), 0);
}

/* ---- the fd ------------------------------------------------------------------ */

static void test_embed_backend_fd(void **state) {
  async_loop_t loop;
  int fd;
  (void)state;
  test_loop_init(&loop);
  fd = async_backend_fd(&loop);
  if (has_fd(&loop)) {
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) != -1);
    assert_int_equal(async_backend_fd(&loop), fd); /* stable */
    assert_int_equal(fd_ready(fd, 0), 0);         /* nothing to do yet */
  } else {
    assert_int_equal(fd, ASYNC_ENOTSUP);
    assert_int_equal(async_backend_fd(&loop), ASYNC_ENOTSUP);
  }
  test_loop_close(&loop);
}

static void test_embed_fd_per_loop(void **state) {
  async_loop_t l1, l2;
  (void)state;
  test_loop_init(&l1);
  test_loop_init(&l2);
  if (has_fd(&l1)) {
    int a = async_backend_fd(&l1), b = async_backend_fd(&l2);
    assert_true(a >= 0);
    assert_true(b >= 0);
    assert_true(a != b);
  } else {
    assert_int_equal(async_backend_fd(&l1), ASYNC_ENOTSUP);
    assert_int_equal(async_backend_fd(&l2), ASYNC_ENOTSUP);
  }
  test_loop_close(&l1);
  test_loop_close(&l2);
}

static void test_embed_fd_readable_on_watched_pipe(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2], fd;
  (void)state;
  reset();
  test_loop_init(&loop);
  idle_watcher(&loop, &w, p);
  fd = async_backend_fd(&loop);
  if (!has_fd(&loop)) {
    assert_int_equal(fd, ASYNC_ENOTSUP);
  } else {
    assert_int_equal(fd_ready(fd, 0), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(fd_ready(fd, 2000), 1);
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(calls_watch, 1);
    /* The callback read the byte: nothing left to report. */
    assert_int_equal(fd_ready(fd, 0), 0);
  }
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}

static void test_embed_fd_readable_on_wakeup(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  int fd;
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_wakeup_init(&loop, &w, on_wakeup), 0);
  fd = async_backend_fd(&loop);
  if (!has_fd(&loop)) {
    assert_int_equal(fd, ASYNC_ENOTSUP);
  } else {
    assert_int_equal(fd_ready(fd, 0), 0);
    assert_int_equal(async_wakeup_send(&w), 0);
    assert_int_equal(fd_ready(fd, 2000), 1);
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(calls_wakeup, 1);
    assert_int_equal(fd_ready(fd, 0), 0);
  }
  test_loop_close(&loop);
}

static void *late_send(void *arg) {
  sleep_ns(20 * NS_PER_MS);
  assert_int_equal(async_wakeup_send(arg), 0);
  return NULL;
}

static void test_embed_host_blocks_until_wakeup_from_thread(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  pthread_t th;
  int fd;
  (void)state;
  guard(30);
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_wakeup_init(&loop, &w, on_wakeup), 0);
  /* Nothing is scheduled: a host may block forever. */
  assert_int_equal(async_backend_timeout(&loop), -1);
  assert_int_equal(async_backend_timeout_ns(&loop), -1);
  fd = async_backend_fd(&loop);
  if (!has_fd(&loop)) {
    assert_int_equal(fd, ASYNC_ENOTSUP);
  } else {
    assert_int_equal(pthread_create(&th, NULL, late_send, &w), 0);
    assert_int_equal(fd_ready(fd, async_backend_timeout(&loop)), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(calls_wakeup, 1);
  }
  test_loop_close(&loop);
  unguard();
}

/* The documented host loop: block on the fd (or just sleep where there is
 * none) for async_backend_timeout(), then run NOWAIT. */
static void test_embed_host_loop_runs_timer(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t start;
  int fd, turns = 0;
  (void)state;
  guard(30);
  reset();
  test_loop_init(&loop);
  fd = async_backend_fd(&loop);
  if (!has_fd(&loop))
    assert_int_equal(fd, ASYNC_ENOTSUP);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  start = async_hrtime();
  assert_int_equal(async_timer_start(&t, on_timer, 15, 0), 0);
  while (calls_timer == 0) {
    int timeout = async_backend_timeout(&loop);
    assert_true(timeout >= 0); /* a timer is scheduled */
    if (fd >= 0)
      fd_ready(fd, timeout);
    else
      sleep_ns((int64_t)timeout * NS_PER_MS);
    async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_true(++turns < 1000);
  }
  assert_int_equal(calls_timer, 1);
  assert_true(fired_at >= start + 15 * (uint64_t)NS_PER_MS);
  /* Sleeping as long as told finds the timer due: a handful of turns at most
   * (never one per millisecond of spinning). */
  assert_true(turns <= 3);
  assert_int_equal(async_loop_alive(&loop), 0);
  test_loop_close(&loop);
  unguard();
}

/* ---- the timeout ------------------------------------------------------------------ */

static void test_embed_timeout_forever_with_only_a_watcher(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  idle_watcher(&loop, &w, p);
  assert_int_equal(async_backend_timeout(&loop), -1);
  assert_int_equal(async_backend_timeout_ns(&loop), -1);
  if (!has_fd(&loop))
    assert_int_equal(async_backend_fd(&loop), ASYNC_ENOTSUP);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}

static void test_embed_timeout_zero_with_pending_defer(void **state) {
  async_loop_t loop;
  async_watch_t w;
  async_defer_t d;
  int p[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  idle_watcher(&loop, &w, p);
  async_defer_init(&d);
  assert_int_equal(async_defer(&loop, &d, on_defer), 0);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_backend_timeout_ns(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(calls_defer, 1);
  /* Once it ran, only the watcher is left. */
  assert_int_equal(async_backend_timeout(&loop), -1);
  assert_int_equal(async_backend_timeout_ns(&loop), -1);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}

static void test_embed_timeout_zero_with_active_idle(void **state) {
  async_loop_t loop;
  async_watch_t w;
  async_idle_t idle;
  int p[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  idle_watcher(&loop, &w, p);
  assert_int_equal(async_idle_init(&loop, &idle), 0);
  assert_int_equal(async_backend_timeout(&loop), -1); /* initialised, not started */
  assert_int_equal(async_idle_start(&idle, on_idle), 0);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_backend_timeout_ns(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(calls_idle, 1);
  assert_int_equal(async_backend_timeout(&loop), 0); /* still active */
  assert_int_equal(async_idle_stop(&idle), 0);
  assert_int_equal(async_backend_timeout(&loop), -1);
  assert_int_equal(async_backend_timeout_ns(&loop), -1);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}

static void test_embed_timeout_zero_with_pending_close(void **state) {
  async_loop_t loop;
  async_watch_t w;
  async_timer_t t;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  idle_watcher(&loop, &w, p);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_close((async_handle_t *)&t, NULL), 0);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_backend_timeout_ns(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(async_backend_timeout(&loop), -1);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}

static void test_embed_timeout_follows_timer(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t h0, h1, h2;
  int64_t ns, upper, lower;
  int ms;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  h0 = async_hrtime();
  async_update_time(&loop);
  assert_int_equal(async_timer_start(&t, on_timer, 50, 0), 0);
  h1 = async_hrtime();
  ms = async_backend_timeout(&loop);
  ns = async_backend_timeout_ns(&loop);
  h2 = async_hrtime();
  /* The deadline lies in [h0 + 50 ms, h1 + 50 ms]; the loop's idea of now in
   * [h0, h2]. What is left can be no more than the deadline minus h0, and no
   * less than the earliest deadline minus h2. */
  upper = (int64_t)(h1 - h0) + 50 * NS_PER_MS;
  lower = 50 * NS_PER_MS - (int64_t)(h2 - h0);
  assert_true(ns > 0);
  assert_true(ns <= upper);
  assert_true(ns >= lower);
  /* Milliseconds round up, never down. */
  assert_true((int64_t)ms * NS_PER_MS >= ns);
  assert_true((int64_t)ms * NS_PER_MS >= lower);
  assert_true((int64_t)ms <= (upper + NS_PER_MS - 1) / NS_PER_MS);
  /* A stopped timer leaves nothing to wait for. */
  assert_int_equal(async_timer_stop(&t), 0);
  assert_int_equal(async_loop_alive(&loop), 0);
  test_loop_close(&loop);
}

static void test_embed_timeout_rounds_sub_ms_up(void **state) {
  async_loop_t loop;
  async_watch_t w;
  async_timer_t t;
  uint64_t h0, h2;
  int64_t ns;
  int ms, p[2];
  (void)state;
  test_loop_init(&loop);
  idle_watcher(&loop, &w, p);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  h0 = async_hrtime();
  async_update_time(&loop);
  assert_int_equal(async_timer_start_ns(&t, on_timer, 1500000, 0), 0); /* 1.5 ms */
  ms = async_backend_timeout(&loop);
  ns = async_backend_timeout_ns(&loop);
  h2 = async_hrtime();
  /* Whatever is left must not be cut down to whole milliseconds. */
  assert_true((int64_t)ms * NS_PER_MS >= ns);
  assert_true((int64_t)ms * NS_PER_MS >= 1500000 - (int64_t)(h2 - h0));
  if (ns > 0)
    assert_true(ms >= 1);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}

static void test_embed_timeout_earliest_timer(void **state) {
  async_loop_t loop;
  async_timer_t a, b;
  uint64_t h0, h1, h2;
  int ms_a, ms_b, ms_c;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &a), 0);
  assert_int_equal(async_timer_init(&loop, &b), 0);
  h0 = async_hrtime();
  async_update_time(&loop);
  assert_int_equal(async_timer_start(&a, on_timer, 10000, 0), 0);
  ms_a = async_backend_timeout(&loop);
  h1 = async_hrtime();
  assert_int_equal(async_timer_start(&b, on_timer, 100, 0), 0);
  ms_b = async_backend_timeout(&loop);
  h2 = async_hrtime();
  /* Bounds as in test_embed_timeout_follows_timer: a's deadline lies in
   * [h0, h1] + 10 s, b's in [h1, h2] + 100 ms, and the loop's idea of now
   * in [h0, h1] for a and [h0, h2] for b; milliseconds round up. */
  assert_true((int64_t)ms_a * NS_PER_MS >= 10000 * NS_PER_MS - (int64_t)(h1 - h0));
  assert_true((int64_t)ms_a <= (10000 * NS_PER_MS + (int64_t)(h1 - h0) + NS_PER_MS - 1) / NS_PER_MS);
  assert_true((int64_t)ms_b * NS_PER_MS >= 100 * NS_PER_MS - (int64_t)(h2 - h1));
  assert_true((int64_t)ms_b <= (100 * NS_PER_MS + (int64_t)(h2 - h0) + NS_PER_MS - 1) / NS_PER_MS);
  assert_true(ms_b < ms_a);
  /* Stopping the earlier one brings the later one back. */
  assert_int_equal(async_timer_stop(&b), 0);
  ms_c = async_backend_timeout(&loop);
  assert_true(ms_c > ms_b);
  assert_true(ms_c <= ms_a);
  test_loop_close(&loop);
}

static void test_embed_timeout_zero_once_timer_due(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t start;
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  start = async_hrtime();
  assert_int_equal(async_timer_start(&t, on_timer, 2, 0), 0);
  while (async_hrtime() < start + 3 * (uint64_t)NS_PER_MS)
    sleep_ns(NS_PER_MS);
  async_update_time(&loop);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_backend_timeout_ns(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(calls_timer, 1);
  test_loop_close(&loop);
}

static void test_embed_timeout_zero_when_not_alive_or_stopped(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  /* Nothing alive: nothing to wait for. */
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_backend_timeout_ns(&loop), 0);
  idle_watcher(&loop, &w, p);
  assert_int_equal(async_backend_timeout(&loop), -1);
  async_stop(&loop);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_backend_timeout_ns(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(async_backend_timeout(&loop), -1); /* the stop was used up */
  async_unref((async_handle_t *)&w);
  assert_int_equal(async_backend_timeout(&loop), 0);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
}


/* ---- notices: the loop needs the host sooner ----------------------------------- */

static int notices;
static void on_notice(async_loop_t *loop) {
  (void)loop;
  notices++;
}

static void test_embed_notify_bad_input(void **state) {
  async_loop_t loop;
  void *h = &h;
  (void)state;
  assert_int_equal(async_embed_notify(NULL, on_notice), ASYNC_EINVAL);
  assert_int_equal(async_backend_handle(NULL, &h), ASYNC_EINVAL);
  test_loop_init(&loop);
  assert_int_equal(async_backend_handle(&loop, NULL), ASYNC_EINVAL);
  /* Unix backends have an fd, never a HANDLE. */
  assert_int_equal(async_backend_handle(&loop, &h), ASYNC_ENOTSUP);
  assert_ptr_equal(h, &h);
  assert_false(async_loop_caps(&loop) & ASYNC_CAP_BACKEND_HANDLE);
  assert_int_equal(async_embed_notify(&loop, NULL), 0);
  test_loop_close(&loop);
  assert_int_equal(async_embed_notify(&loop, on_notice), ASYNC_EINVAL);
}

/* Once per change the host has not yet asked about; only what comes sooner. */
static void test_embed_notify_timers(void **state) {
  async_loop_t loop;
  async_timer_t a, b, c, later;
  (void)state;
  test_loop_init(&loop);
  notices = 0;
  assert_int_equal(async_timer_init(&loop, &a), 0);
  assert_int_equal(async_timer_init(&loop, &b), 0);
  assert_int_equal(async_timer_init(&loop, &c), 0);
  assert_int_equal(async_timer_init(&loop, &later), 0);
  assert_int_equal(async_embed_notify(&loop, on_notice), 0);
  assert_int_equal(async_timer_start(&a, on_timer, 1000, 0), 0);
  assert_int_equal(notices, 1);
  assert_int_equal(async_timer_start(&b, on_timer, 500, 0), 0);
  assert_int_equal(notices, 1); /* the host has not asked since */
  assert_true(async_backend_timeout(&loop) <= 500);
  assert_int_equal(async_timer_start(&later, on_timer, 5000, 0), 0);
  assert_int_equal(notices, 1); /* not sooner */
  assert_int_equal(async_timer_start(&c, on_timer, 100, 0), 0);
  assert_int_equal(notices, 2);
  assert_true(async_backend_timeout(&loop) <= 100);
  /* Off: no more notices. */
  assert_int_equal(async_embed_notify(&loop, NULL), 0);
  assert_int_equal(async_timer_start(&c, on_timer, 1, 0), 0);
  assert_int_equal(notices, 2);
  test_loop_close(&loop);
}

static void test_embed_notify_ready_work(void **state) {
  async_loop_t loop;
  async_defer_t d;
  async_idle_t idle;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  reset();
  notices = 0;
  async_defer_init(&d);
  assert_int_equal(async_idle_init(&loop, &idle), 0);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_embed_notify(&loop, on_notice), 0);
  assert_int_equal(async_defer(&loop, &d, on_defer), 0);
  assert_int_equal(notices, 1);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0); /* nothing else alive */
  assert_int_equal(calls_defer, 1);
  assert_int_equal(async_idle_start(&idle, on_idle), 0);
  assert_int_equal(notices, 2);
  assert_int_equal(async_backend_timeout(&loop), 0);
  assert_int_equal(async_idle_stop(&idle), 0);
  assert_int_equal(async_close((async_handle_t *)&t, NULL), 0);
  assert_int_equal(notices, 3);
  assert_int_equal(async_backend_timeout(&loop), 0);
  test_loop_close(&loop);
}

/* Inside async_run the loop computes its own wait: no notices. */
static async_timer_t inner;
static void start_inner(async_timer_t *t) {
  (void)t;
  assert_int_equal(async_timer_start(&inner, on_timer, 0, 0), 0);
}

static void test_embed_notify_not_inside_run(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  reset();
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_timer_init(&loop, &inner), 0);
  assert_int_equal(async_timer_start(&t, start_inner, 0, 0), 0);
  notices = 0;
  assert_int_equal(async_embed_notify(&loop, on_notice), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls_timer, 1);
  assert_int_equal(notices, 0);
  test_loop_close(&loop);
}

/* The host sleeps on its own pipe and the backend fd with libasync's
 * timeout, forever at first (only a watcher is alive). A callback of the
 * host's own starts a 20 ms libasync timer: the notice makes the host
 * recompute its timeout, so it wakes for the timer instead of sleeping on. */
static async_timer_t foreign_timer;
static void test_embed_host_sees_timer_from_foreign_callback(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int lib_pipe[2], host_pipe[2], fd, timeout, rounds = 0;
  uint64_t started = 0;
  (void)state;
  test_loop_init(&loop);
  if (!has_fd(&loop)) {
    assert_int_equal(async_backend_fd(&loop), ASYNC_ENOTSUP);
    test_loop_close(&loop);
    return;
  }
  reset();
  notices = 0;
  guard(20);
  fd = async_backend_fd(&loop);
  idle_watcher(&loop, &w, lib_pipe);
  assert_int_equal(async_timer_init(&loop, &foreign_timer), 0);
  assert_int_equal(async_embed_notify(&loop, on_notice), 0);
  assert_int_equal(pipe(host_pipe), 0);
  assert_int_equal(write(host_pipe[1], "x", 1), 1); /* the host's own event */
  timeout = async_backend_timeout(&loop);
  assert_int_equal(timeout, -1);
  while (calls_timer == 0) {
    struct pollfd pfd[2] = {{host_pipe[0], POLLIN, 0}, {fd, POLLIN, 0}};
    int n;
    assert_true(++rounds < 100);
    do
      n = poll(pfd, 2, timeout);
    while (n < 0 && errno == EINTR);
    assert_true(n >= 0);
    if (pfd[0].revents & POLLIN) {
      char c;
      assert_int_equal(read(host_pipe[0], &c, 1), 1);
      /* The host's callback, outside async_run. */
      assert_int_equal(async_timer_start(&foreign_timer, on_timer, 20, 0), 0);
      started = async_hrtime();
      assert_int_equal(notices, 1);
    }
    if (notices > 0 || n > 0)
      assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
    timeout = async_backend_timeout(&loop);
    /* Once the timer is pending, never "forever" again. */
    if (started != 0 && calls_timer == 0)
      assert_true(timeout >= 0 && timeout <= 20);
  }
  assert_true(fired_at - started >= (uint64_t)(20 * NS_PER_MS));
  unguard();
  close(host_pipe[0]);
  close(host_pipe[1]);
  test_loop_close(&loop);
  close(lib_pipe[0]);
  close(lib_pipe[1]);
}

static void test_embed_null_loop(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_backend_fd(NULL), ASYNC_EINVAL);
  assert_int_equal(async_backend_timeout(NULL), 0);
  assert_int_equal(async_backend_timeout_ns(NULL), 0);
  test_loop_close(&loop);
  assert_int_equal(async_backend_fd(&loop), ASYNC_EINVAL); /* closed */
}

static const struct CMUnitTest tests[] = {
  TEST(test_embed_backend_fd),
  TEST(test_embed_fd_per_loop),
  TEST(test_embed_fd_readable_on_watched_pipe),
  TEST(test_embed_fd_readable_on_wakeup),
  TEST(test_embed_host_blocks_until_wakeup_from_thread),
  TEST(test_embed_host_loop_runs_timer),
  TEST(test_embed_timeout_forever_with_only_a_watcher),
  TEST(test_embed_timeout_zero_with_pending_defer),
  TEST(test_embed_timeout_zero_with_active_idle),
  TEST(test_embed_timeout_zero_with_pending_close),
  TEST(test_embed_timeout_follows_timer),
  TEST(test_embed_timeout_rounds_sub_ms_up),
  TEST(test_embed_timeout_earliest_timer),
  TEST(test_embed_timeout_zero_once_timer_due),
  TEST(test_embed_timeout_zero_when_not_alive_or_stopped),
  TEST(test_embed_null_loop),
  TEST(test_embed_notify_bad_input),
  TEST(test_embed_notify_timers),
  TEST(test_embed_notify_ready_work),
  TEST(test_embed_notify_not_inside_run),
  TEST(test_embed_host_sees_timer_from_foreign_callback),
};

TEST_MAIN("embed", tests)
