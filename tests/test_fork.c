/* async_loop_fork on the backend under test: after fork() the child calls it
 * and uses the loop (timers, watchers, wakeups); the parent's loop keeps
 * working undisturbed. The child reports through its exit status. */
#include "helper.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

/* In the child: no cmocka (its state belongs to the parent's test); report
 * the failing line and leave with a nonzero status. */
#define CHILD_CHECK(cond)                                                       \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "child (pid %d) check failed at %s:%d: %s\n", (int)getpid(), \
              __FILE__, __LINE__, #cond);                                       \
      _exit(1);                                                                 \
    }                                                                           \
  } while (0)

static int timer_calls, watch_calls, wakeup_calls;
static unsigned watch_events;

static void on_timer(async_timer_t *t) {
  (void)t;
  timer_calls++;
}

static void on_watch(async_watch_t *w, int status, unsigned events) {
  char c;
  ssize_t n;
  (void)status;
  watch_calls++;
  watch_events = events;
  n = read(w->fd, &c, 1);
  (void)n;
}

static void on_watch_stop(async_watch_t *w, int status, unsigned events) {
  on_watch(w, status, events);
  async_watch_stop(w);
}

static void on_wakeup(async_wakeup_t *w) {
  (void)w;
  wakeup_calls++;
}

static void on_wakeup_close(async_wakeup_t *w) {
  on_wakeup(w);
  async_close((async_handle_t *)w, NULL);
}

static void reset(void) {
  timer_calls = watch_calls = wakeup_calls = 0;
  watch_events = 0;
}

/* A hang kills the test program instead of stalling the suite. */
static void guard(unsigned seconds) {
  alarm(seconds);
}

static void unguard(void) {
  alarm(0);
}

static void nowait(async_loop_t *loop, int turns) {
  for (int i = 0; i < turns; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

/* Forks; returns 0 in the child (with a watchdog armed), the pid in the parent. */
static pid_t fork_child(void) {
  pid_t pid;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    alarm(20);
  return pid;
}

static void expect_child_ok(pid_t pid) {
  int status = 0;
  pid_t r;
  do
    r = waitpid(pid, &status, 0);
  while (r < 0 && errno == EINTR);
  assert_int_equal(r, pid);
  if (WIFSIGNALED(status))
    fail_msg("child killed by signal %d", WTERMSIG(status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* Open fds below the soft limit: a tool such as valgrind keeps its own fds
 * above it, and changes them in a forked child. */
static int app_fd_count(void) {
  struct rlimit rl;
  DIR *d;
  struct dirent *e;
  int n = 0;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -1;
  d = opendir(TEST_FD_DIR);
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    long fd;
    if (e->d_name[0] == '.')
      continue;
    fd = strtol(e->d_name, NULL, 10);
    if (fd != dirfd(d) && (rl.rlim_cur == RLIM_INFINITY || (rlim_t)fd < rl.rlim_cur))
      n++;
  }
  closedir(d);
  return n;
}

static void child_fork_loop(async_loop_t *loop) {
  if (test_has_caps(loop, ASYNC_CAP_FORK))
    CHILD_CHECK(async_loop_fork(loop) == 0);
  else
    CHILD_CHECK(async_loop_fork(loop) == ASYNC_ENOTSUP);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_fork_null(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_loop_fork(NULL), ASYNC_EINVAL);
  assert_true(test_has_caps(&loop, ASYNC_CAP_FORK));
  test_loop_close(&loop);
  assert_int_equal(async_loop_fork(&loop), ASYNC_EINVAL); /* closed */
}

static void test_fork_child_timer(void **state) {
  async_loop_t loop;
  async_timer_t t;
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    CHILD_CHECK(async_timer_init(&loop, &t) == 0);
    CHILD_CHECK(async_timer_start(&t, on_timer, 5, 0) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(timer_calls == 1);
    _exit(0);
  }
  expect_child_ok(pid);
  assert_int_equal(timer_calls, 0);
  test_loop_close(&loop);
  unguard();
}

static void test_fork_child_runs_timer_started_before_fork(void **state) {
  async_loop_t loop;
  async_timer_t t;
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_timer_start(&t, on_timer, 10, 0), 0);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(timer_calls == 1);
    _exit(0);
  }
  expect_child_ok(pid);
  /* The parent's copy of the timer is its own: it fires here too. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(timer_calls, 1);
  test_loop_close(&loop);
  unguard();
}

static void test_fork_child_watcher_registered_before_fork(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2];
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  assert_int_equal(pipe(p), 0);
  assert_int_equal(async_watch_init(&loop, &w, p[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch_stop), 0);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    nowait(&loop, 2);
    CHILD_CHECK(watch_calls == 0);
    CHILD_CHECK(write(p[1], "c", 1) == 1);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(watch_calls == 1);
    CHILD_CHECK(watch_events == ASYNC_READABLE);
    _exit(0);
  }
  expect_child_ok(pid);
  /* The child read its byte from the shared pipe: nothing for the parent. */
  nowait(&loop, 2);
  assert_int_equal(watch_calls, 0);
  assert_int_equal(write(p[1], "p", 1), 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(watch_calls, 1);
  assert_int_equal(watch_events, ASYNC_READABLE);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
  unguard();
}

static void test_fork_child_new_watcher(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2];
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    CHILD_CHECK(pipe(p) == 0);
    CHILD_CHECK(async_watch_init(&loop, &w, p[0]) == 0);
    CHILD_CHECK(async_watch_start(&w, ASYNC_READABLE, on_watch_stop) == 0);
    CHILD_CHECK(write(p[1], "c", 1) == 1);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(watch_calls == 1);
    CHILD_CHECK(watch_events == ASYNC_READABLE);
    _exit(0);
  }
  expect_child_ok(pid);
  assert_int_equal(watch_calls, 0);
  test_loop_close(&loop);
  unguard();
}

static void *send_later(void *arg) {
  struct timespec ts = {0, 10 * 1000000L};
  nanosleep(&ts, NULL);
  async_wakeup_send(arg);
  return NULL;
}

static void test_fork_child_wakeup(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_wakeup_init(&loop, &w, on_wakeup), 0);
  pid = fork_child();
  if (pid == 0) {
    pthread_t th;
    child_fork_loop(&loop);
    nowait(&loop, 2);
    CHILD_CHECK(wakeup_calls == 0);
    /* From the loop's own thread. */
    CHILD_CHECK(async_wakeup_send(&w) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_ONCE) == 1);
    CHILD_CHECK(wakeup_calls == 1);
    /* From another thread while the loop blocks. */
    CHILD_CHECK(pthread_create(&th, NULL, send_later, &w) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_ONCE) == 1);
    CHILD_CHECK(pthread_join(th, NULL) == 0);
    CHILD_CHECK(wakeup_calls == 2);
    _exit(0);
  }
  expect_child_ok(pid);
  /* The child's sends went to its own channel. */
  nowait(&loop, 2);
  assert_int_equal(wakeup_calls, 0);
  assert_int_equal(async_wakeup_send(&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(wakeup_calls, 1);
  test_loop_close(&loop);
  unguard();
}

static void test_fork_wakeup_pending_at_fork(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_wakeup_init(&loop, &w, on_wakeup_close), 0);
  /* Sent, not yet seen by the loop, when the process forks: the callback is
   * still owed after the last send, in both processes. */
  assert_int_equal(async_wakeup_send(&w), 0);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(wakeup_calls == 1);
    _exit(0);
  }
  expect_child_ok(pid);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(wakeup_calls, 1);
  test_loop_close(&loop);
  unguard();
}

static void test_fork_parent_undisturbed(void **state) {
  async_loop_t loop;
  async_watch_t w;
  async_wakeup_t wk;
  async_timer_t t;
  int p[2];
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  assert_int_equal(pipe(p), 0);
  assert_int_equal(async_watch_init(&loop, &w, p[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch), 0);
  assert_int_equal(async_wakeup_init(&loop, &wk, on_wakeup), 0);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  pid = fork_child();
  if (pid == 0) {
    /* The child uses everything, then tears it all down. */
    async_timer_t ct;
    child_fork_loop(&loop);
    CHILD_CHECK(async_wakeup_send(&wk) == 0);
    CHILD_CHECK(async_timer_init(&loop, &ct) == 0);
    CHILD_CHECK(async_timer_start(&ct, on_timer, 1, 0) == 0);
    CHILD_CHECK(async_watch_stop(&w) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_ONCE) == 1);
    CHILD_CHECK(async_close((async_handle_t *)&w, NULL) == 0);
    CHILD_CHECK(async_close((async_handle_t *)&wk, NULL) == 0);
    CHILD_CHECK(async_close((async_handle_t *)&t, NULL) == 0);
    CHILD_CHECK(async_close((async_handle_t *)&ct, NULL) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(async_loop_close(&loop) == 0);
    CHILD_CHECK(wakeup_calls == 1);
    _exit(0);
  }
  expect_child_ok(pid);
  /* The parent's registrations and wake channel survived the child. */
  nowait(&loop, 2);
  assert_int_equal(watch_calls + wakeup_calls + timer_calls, 0);
  assert_int_equal(write(p[1], "p", 1), 1);
  nowait(&loop, 1);
  assert_int_equal(watch_calls, 1);
  assert_int_equal(watch_events, ASYNC_READABLE);
  assert_int_equal(async_wakeup_send(&wk), 0);
  nowait(&loop, 1);
  assert_int_equal(wakeup_calls, 1);
  assert_int_equal(async_timer_start(&t, on_timer, 1, 0), 0);
  assert_int_equal(async_watch_stop(&w), 0);
  async_unref((async_handle_t *)&wk);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(timer_calls, 1);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
  unguard();
}

static void test_fork_child_closes_without_leaking_fds(void **state) {
  async_loop_t loop;
  async_wakeup_t wk;
  async_watch_t w;
  int p[2], before;
  pid_t pid;
  (void)state;
  guard(60);
  before = app_fd_count();
  test_loop_init(&loop);
  assert_int_equal(pipe(p), 0);
  assert_int_equal(async_watch_init(&loop, &w, p[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch), 0);
  assert_int_equal(async_wakeup_init(&loop, &wk, on_wakeup), 0);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    CHILD_CHECK(async_wakeup_send(&wk) == 0);
    nowait(&loop, 1);
    CHILD_CHECK(async_close((async_handle_t *)&w, NULL) == 0);
    CHILD_CHECK(async_close((async_handle_t *)&wk, NULL) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(async_loop_close(&loop) == 0);
    close(p[0]);
    close(p[1]);
    /* Neither the parent's kernel objects nor the child's new ones are left.
     * libkqueue also closes, in the child, the kqueue the suite holds (a
     * kqueue is not inherited), so fewer may remain there. */
    if (test_libkqueue())
      CHILD_CHECK(app_fd_count() <= before);
    else
      CHILD_CHECK(app_fd_count() == before);
    _exit(0);
  }
  expect_child_ok(pid);
  test_loop_close(&loop);
  close(p[0]);
  close(p[1]);
  assert_int_equal(app_fd_count(), before);
  unguard();
}

static void test_fork_grandchild(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_wakeup_t wk;
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_wakeup_init(&loop, &wk, on_wakeup_close), 0);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  pid = fork_child();
  if (pid == 0) {
    pid_t gpid;
    int status = 0;
    child_fork_loop(&loop);
    CHILD_CHECK(async_timer_start(&t, on_timer, 1, 0) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_ONCE) >= 0);
    fflush(stderr);
    gpid = fork();
    CHILD_CHECK(gpid >= 0);
    if (gpid == 0) {
      child_fork_loop(&loop);
      timer_calls = 0;
      CHILD_CHECK(async_timer_start(&t, on_timer, 2, 0) == 0);
      CHILD_CHECK(async_wakeup_send(&wk) == 0);
      CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
      CHILD_CHECK(timer_calls == 1);
      CHILD_CHECK(wakeup_calls == 1);
      _exit(0);
    }
    CHILD_CHECK(waitpid(gpid, &status, 0) == gpid);
    CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The middle process's loop still works after its own child's use. */
    CHILD_CHECK(async_wakeup_send(&wk) == 0);
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(wakeup_calls == 1);
    CHILD_CHECK(timer_calls == 1);
    _exit(0);
  }
  expect_child_ok(pid);
  assert_int_equal(timer_calls + wakeup_calls, 0);
  test_loop_close(&loop);
  unguard();
}

static void test_fork_child_and_parent_run_together(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2], q[2];
  pid_t pid;
  (void)state;
  guard(60);
  reset();
  test_loop_init(&loop);
  /* p: parent → child; q: child → parent. Each side watches its own read end. */
  assert_int_equal(pipe(p), 0);
  assert_int_equal(pipe(q), 0);
  pid = fork_child();
  if (pid == 0) {
    child_fork_loop(&loop);
    close(p[1]);
    close(q[0]);
    CHILD_CHECK(async_watch_init(&loop, &w, p[0]) == 0);
    CHILD_CHECK(async_watch_start(&w, ASYNC_READABLE, on_watch_stop) == 0);
    CHILD_CHECK(write(q[1], "r", 1) == 1); /* ready */
    CHILD_CHECK(async_run(&loop, ASYNC_RUN_DEFAULT) == 0);
    CHILD_CHECK(watch_calls == 1);
    CHILD_CHECK(write(q[1], "d", 1) == 1); /* done */
    _exit(0);
  }
  close(p[0]);
  close(q[1]);
  assert_int_equal(async_watch_init(&loop, &w, q[0]), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch_stop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* the child is ready */
  assert_int_equal(watch_calls, 1);
  assert_int_equal(write(p[1], "g", 1), 1);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, on_watch_stop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* the child is done */
  assert_int_equal(watch_calls, 2);
  expect_child_ok(pid);
  test_loop_close(&loop);
  close(p[1]);
  close(q[0]);
  unguard();
}

static const struct CMUnitTest tests[] = {
  TEST(test_fork_null),
  TEST(test_fork_child_timer),
  TEST(test_fork_child_runs_timer_started_before_fork),
  TEST(test_fork_child_watcher_registered_before_fork),
  TEST(test_fork_child_new_watcher),
  TEST(test_fork_child_wakeup),
  TEST(test_fork_wakeup_pending_at_fork),
  TEST(test_fork_parent_undisturbed),
  TEST(test_fork_child_closes_without_leaking_fds),
  TEST(test_fork_grandchild),
  TEST(test_fork_child_and_parent_run_together),
};

TEST_MAIN("fork", tests)
