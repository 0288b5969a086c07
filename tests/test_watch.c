/* Reader/writer fd watchers on the backend under test: argument checks,
 * readiness, level triggering, hang-up and error reports, stopping and
 * closing from callbacks, stale events after fd reuse, many fds and the
 * select backend's fd limit. */
#include "helper.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

/* What a watcher's callback saw. */
typedef struct {
  int calls;
  int status;         /* last status */
  unsigned events;    /* last events */
  unsigned seen;      /* every event seen */
  unsigned asked;     /* what the watcher was started with */
  int bad;            /* calls with status != 0, no events or events never asked for */
  int drain;          /* read one byte per call */
  int stop_after;     /* stop the watcher after this many calls (0: never) */
  int close_after;    /* close the watcher after this many calls (0: never) */
  int after_close;    /* calls made while the watcher was closing */
  int closes;         /* close callbacks */
} rec_t;

static void rec_cb(async_watch_t *w, int status, unsigned events) {
  rec_t *r = w->data;
  if (async_is_closing((async_handle_t *)w))
    r->after_close++;
  r->calls++;
  r->status = status;
  r->events = events;
  r->seen |= events;
  if (status != 0 || events == 0 ||
      (events & ~(r->asked | (unsigned)ASYNC_HANGUP | (unsigned)ASYNC_ERROR)) != 0)
    r->bad++;
  if (r->drain) {
    char c;
    ssize_t n = read(w->fd, &c, 1);
    (void)n;
  }
  if (r->stop_after != 0 && r->calls == r->stop_after)
    assert_int_equal(async_watch_stop(w), 0);
  if (r->close_after != 0 && r->calls == r->close_after)
    assert_int_equal(async_close((async_handle_t *)w, NULL), 0);
}

static void rec_close_cb(async_handle_t *h) {
  rec_t *r = h->data;
  r->closes++;
}

/* A hang kills the test program instead of stalling the suite; every
 * guarded test disarms the alarm at its end. */
static void guard(unsigned seconds) {
  alarm(seconds);
}

static void unguard(void) {
  alarm(0);
}

static void mkpipe(int p[2]) {
  assert_int_equal(pipe(p), 0);
}

static void close2(int p[2]) {
  close(p[0]);
  close(p[1]);
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  assert_true(fl >= 0);
  assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void put(int fd, const char *s) {
  size_t n = strlen(s);
  assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static int pending_bytes(int fd) {
  int n = -1;
  assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
  return n;
}

static void watch(async_loop_t *loop, async_watch_t *w, int fd, unsigned events, rec_t *r) {
  memset(r, 0, sizeof(*r));
  r->asked = events;
  assert_int_equal(async_watch_init(loop, w, fd), 0);
  w->data = r;
  assert_int_equal(async_watch_start(w, events, rec_cb), 0);
}

static void nowait(async_loop_t *loop, int turns) {
  for (int i = 0; i < turns; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

static void count_cb(async_handle_t *h, void *arg) {
  (void)h;
  (*(int *)arg)++;
}

static int count_handles(async_loop_t *loop) {
  int n = 0;
  async_walk(loop, count_cb, &n);
  return n;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

static unsigned hangup_if_cap(const async_loop_t *loop, unsigned bit) {
  return test_has_caps(loop, ASYNC_CAP_HANGUP) ? bit : 0u;
}

/* ---- init ------------------------------------------------------------------- */

static void test_watch_init_einval(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  assert_int_equal(async_watch_init(NULL, &w, p[0]), ASYNC_EINVAL);
  assert_int_equal(async_watch_init(&loop, NULL, p[0]), ASYNC_EINVAL);
  assert_int_equal(async_watch_init(&loop, &w, -1), ASYNC_EINVAL);
  assert_int_equal(async_watch_init(&loop, &w, INT_MIN), ASYNC_EINVAL);
  assert_int_equal(count_handles(&loop), 0);
  /* None of that bound the fd. */
  assert_int_equal(async_watch_init(&loop, &w, p[0]), 0);
  assert_int_equal(count_handles(&loop), 1);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_init_ebadf(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  close2(p);
  assert_int_equal(async_watch_init(&loop, &w, p[0]), ASYNC_EBADF);
  assert_int_equal(async_watch_init(&loop, &w, p[1]), ASYNC_EBADF);
  if (fcntl(4000, F_GETFD) == -1)
    assert_int_equal(async_watch_init(&loop, &w, 4000), ASYNC_EBADF);
  /* Not open is reported before the select limit is looked at. */
  if (fcntl(70000, F_GETFD) == -1)
    assert_int_equal(async_watch_init(&loop, &w, 70000), ASYNC_EBADF);
  assert_int_equal(count_handles(&loop), 0);
  assert_int_equal(async_loop_alive(&loop), 0);
  test_loop_close(&loop);
}

static void test_watch_init_regular_file_eperm(void **state) {
  async_loop_t loop;
  async_watch_t w;
  char path[] = "/tmp/async-watch-XXXXXX";
  int fd;
  (void)state;
  test_loop_init(&loop);
  fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  assert_int_equal(async_watch_init(&loop, &w, fd), ASYNC_EPERM);
  assert_int_equal(count_handles(&loop), 0);
  test_loop_close(&loop);
  close(fd);
}

static void test_watch_init_directory_eperm(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int fd;
  (void)state;
  test_loop_init(&loop);
  fd = open("/", O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  assert_int_equal(async_watch_init(&loop, &w, fd), ASYNC_EPERM);
  assert_int_equal(count_handles(&loop), 0);
  test_loop_close(&loop);
  close(fd);
}

static void test_watch_init_eexist(void **state) {
  async_loop_t loop;
  async_watch_t w1, w2;
  rec_t r1, r2;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w1, p[0], ASYNC_READABLE, &r1);
  assert_int_equal(async_watch_init(&loop, &w2, p[0]), ASYNC_EEXIST);
  assert_int_equal(count_handles(&loop), 1);
  /* The first watcher is not disturbed by the refused one. */
  put(p[1], "x");
  nowait(&loop, 1);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r1.events, ASYNC_READABLE);
  /* The refused memory can watch another fd. */
  watch(&loop, &w2, p[1], ASYNC_WRITABLE, &r2);
  nowait(&loop, 1);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r2.events, ASYNC_WRITABLE);
  assert_int_equal(r1.bad + r2.bad, 0);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_reinit_after_close(void **state) {
  async_loop_t loop;
  async_watch_t w1, w2;
  rec_t r1, r2;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w1, p[0], ASYNC_READABLE, &r1);
  assert_int_equal(async_close((async_handle_t *)&w1, rec_close_cb), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r1.closes, 1);
  watch(&loop, &w2, p[0], ASYNC_READABLE, &r2);
  put(p[1], "x");
  nowait(&loop, 1);
  assert_int_equal(r1.calls, 0);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r2.events, ASYNC_READABLE);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static void test_watch_fd_released_at_close(void **state) {
  async_loop_t loop;
  async_watch_t w1, w2;
  rec_t r1, r2;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w1, p[0], ASYNC_READABLE, &r1);
  assert_int_equal(async_close((async_handle_t *)&w1, rec_close_cb), 0);
  /* Bound again before the first one's close callback has run. */
  watch(&loop, &w2, p[0], ASYNC_READABLE, &r2);
  put(p[1], "x");
  nowait(&loop, 1);
  assert_int_equal(r1.closes, 1);
  assert_int_equal(r1.calls, 0);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r2.events, ASYNC_READABLE);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_stopped_watcher_keeps_fd(void **state) {
  async_loop_t loop;
  async_watch_t w1, w2;
  rec_t r1;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  memset(&r1, 0, sizeof(r1));
  /* Bound at init, before any start. */
  assert_int_equal(async_watch_init(&loop, &w1, p[0]), 0);
  assert_int_equal(async_watch_init(&loop, &w2, p[0]), ASYNC_EEXIST);
  w1.data = &r1;
  r1.asked = ASYNC_READABLE;
  assert_int_equal(async_watch_start(&w1, ASYNC_READABLE, rec_cb), 0);
  assert_int_equal(async_watch_stop(&w1), 0);
  /* Still bound while stopped. */
  assert_int_equal(async_watch_init(&loop, &w2, p[0]), ASYNC_EEXIST);
  assert_int_equal(count_handles(&loop), 1);
  test_loop_close(&loop);
  close2(p);
}

/* Documented per backend: poll and select notice a closed fd on the next
 * poll (callback with ASYNC_EBADF, watcher stopped); epoll cannot see it. */
static void test_watch_fd_closed_under_watcher(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  const char *name;
  (void)state;
  test_loop_init(&loop);
  name = async_loop_backend(&loop);
  mkpipe(p);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  close(p[0]);
  nowait(&loop, 2);
  if (strcmp(name, "poll") == 0 || strcmp(name, "select") == 0) {
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, ASYNC_EBADF);
    assert_int_equal(r.events, 0);
    assert_int_equal(async_is_active((async_handle_t *)&w), 0);
  } else if (strcmp(name, "epoll") == 0) {
    assert_int_equal(r.calls, 0);
    assert_int_equal(async_is_active((async_handle_t *)&w), 1);
  }
  /* Closing the watcher of a closed fd is fine. */
  assert_int_equal(async_close((async_handle_t *)&w, rec_close_cb), 0);
  nowait(&loop, 1);
  assert_int_equal(r.closes, 1);
  test_loop_close(&loop);
  close(p[1]);
}

static void test_watch_same_fd_two_loops(void **state) {
  async_loop_t l1, l2;
  async_watch_t w1, w2;
  rec_t r1, r2;
  int p[2];
  (void)state;
  test_loop_init(&l1);
  test_loop_init(&l2);
  mkpipe(p);
  watch(&l1, &w1, p[0], ASYNC_READABLE, &r1);
  watch(&l2, &w2, p[0], ASYNC_READABLE, &r2);
  nowait(&l1, 1);
  nowait(&l2, 1);
  assert_int_equal(r1.calls + r2.calls, 0);
  put(p[1], "x");
  nowait(&l1, 1);
  nowait(&l2, 1);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r1.events, ASYNC_READABLE);
  assert_int_equal(r2.events, ASYNC_READABLE);
  /* Closing one loop's watcher leaves the other one watching. */
  assert_int_equal(async_close((async_handle_t *)&w1, NULL), 0);
  nowait(&l1, 1);
  nowait(&l2, 1);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r2.calls, 2);
  test_loop_close(&l1);
  test_loop_close(&l2);
  close2(p);
}

static void test_watch_handle_basics(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  memset(&r, 0, sizeof(r));
  assert_int_equal(async_watch_init(&loop, &w, p[0]), 0);
  w.data = &r;
  assert_int_equal(w.fd, p[0]);
  assert_ptr_equal(w.loop, &loop);
  assert_int_equal(async_handle_get_type((async_handle_t *)&w), ASYNC_WATCH);
  assert_string_equal(async_handle_type_name(ASYNC_WATCH), "watch");
  assert_true(async_handle_size(ASYNC_WATCH) >= sizeof(async_watch_t));
  assert_int_equal(async_is_active((async_handle_t *)&w), 0);
  assert_int_equal(async_has_ref((async_handle_t *)&w), 1);
  assert_int_equal(async_loop_alive(&loop), 0);
  r.asked = ASYNC_READABLE;
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, rec_cb), 0);
  assert_int_equal(async_is_active((async_handle_t *)&w), 1);
  assert_int_equal(async_loop_alive(&loop), 1);
  assert_ptr_equal(w.data, &r);
  test_loop_close(&loop);
  close2(p);
}

/* ---- start ------------------------------------------------------------------ */

static void test_watch_start_einval(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  memset(&r, 0, sizeof(r));
  assert_int_equal(async_watch_init(&loop, &w, p[0]), 0);
  w.data = &r;
  assert_int_equal(async_watch_start(NULL, ASYNC_READABLE, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, NULL), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, 0, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ASYNC_HANGUP, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ASYNC_ERROR, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE | ASYNC_HANGUP, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ASYNC_WRITABLE | ASYNC_ERROR, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, 16, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ~0u, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_is_active((async_handle_t *)&w), 0);
  assert_int_equal(async_loop_alive(&loop), 0);
  /* The refused starts armed nothing. */
  put(p[1], "x");
  nowait(&loop, 2);
  assert_int_equal(r.calls, 0);
  /* A refused start leaves an active watcher as it was. */
  r.asked = ASYNC_READABLE;
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, rec_cb), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_WRITABLE | 32, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_watch_start(&w, ASYNC_WRITABLE, NULL), ASYNC_EINVAL);
  assert_int_equal(async_is_active((async_handle_t *)&w), 1);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_READABLE);
  /* A closing watcher cannot start. */
  assert_int_equal(async_close((async_handle_t *)&w, NULL), 0);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, rec_cb), ASYNC_EINVAL);
  assert_int_equal(async_is_active((async_handle_t *)&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 1);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

/* ---- readiness ----------------------------------------------------------- */

static void test_watch_readable(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  nowait(&loop, 2);
  assert_int_equal(r.calls, 0);
  put(p[1], "x");
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.events, ASYNC_READABLE);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_writable(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[1], ASYNC_WRITABLE, &r);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.events, ASYNC_WRITABLE);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_readable_and_writable(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int s[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  watch(&loop, &w, s[0], ASYNC_READABLE | ASYNC_WRITABLE, &r);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_WRITABLE);
  put(s[1], "x");
  nowait(&loop, 1);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.events, ASYNC_READABLE | ASYNC_WRITABLE);
  assert_int_equal(r.bad, 0);
  test_loop_close(&loop);
  close2(s);
}

static void test_watch_level_triggered(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  char buf[8];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  put(p[1], "abc");
  /* Nothing is read: the fd stays ready and is reported on every turn. */
  nowait(&loop, 3);
  assert_int_equal(r.calls, 3);
  assert_int_equal(read(p[0], buf, sizeof(buf)), 3);
  nowait(&loop, 3);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.bad, 0);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_drain_until_stopped(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  put(p[1], "abcde");
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  r.drain = 1;
  r.stop_after = 5;
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 5);
  assert_int_equal(pending_bytes(p[0]), 0);
  assert_int_equal(async_is_active((async_handle_t *)&w), 0);
  assert_int_equal(r.bad, 0);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static void *late_writer(void *arg) {
  int fd = *(int *)arg;
  sleep_ms(20);
  assert_int_equal(write(fd, "x", 1), 1);
  return NULL;
}

static void test_watch_readable_from_thread_wakes_poll(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  pthread_t th;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  r.drain = 1;
  r.stop_after = 1;
  assert_int_equal(pthread_create(&th, NULL, late_writer, &p[1]), 0);
  /* Blocks in the backend until the other thread writes. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_READABLE);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static void test_watch_writable_after_drain(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  char buf[4096];
  long filled = 0;
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  set_nonblock(p[0]);
  set_nonblock(p[1]);
  memset(buf, 'z', sizeof(buf));
  for (;;) {
    ssize_t n = write(p[1], buf, sizeof(buf));
    if (n < 0)
      break;
    filled += n;
  }
  assert_true(filled > 0);
  watch(&loop, &w, p[1], ASYNC_WRITABLE, &r);
  nowait(&loop, 3);
  assert_int_equal(r.calls, 0);
  while (read(p[0], buf, sizeof(buf)) > 0)
    ;
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_WRITABLE);
  test_loop_close(&loop);
  close2(p);
}

static void test_watch_switch_events(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int s[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  put(s[1], "x"); /* s[0] is now readable and writable */
  watch(&loop, &w, s[0], ASYNC_READABLE, &r);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_READABLE);
  assert_int_equal(async_watch_start(&w, ASYNC_WRITABLE, rec_cb), 0);
  r.asked = ASYNC_WRITABLE;
  nowait(&loop, 1);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.events, ASYNC_WRITABLE);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.events, ASYNC_WRITABLE);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE | ASYNC_WRITABLE, rec_cb), 0);
  r.asked = ASYNC_READABLE | ASYNC_WRITABLE;
  nowait(&loop, 1);
  assert_int_equal(r.calls, 4);
  assert_int_equal(r.events, ASYNC_READABLE | ASYNC_WRITABLE);
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, rec_cb), 0);
  r.asked = ASYNC_READABLE;
  nowait(&loop, 1);
  assert_int_equal(r.calls, 5);
  assert_int_equal(r.events, ASYNC_READABLE);
  assert_int_equal(r.bad, 0);
  test_loop_close(&loop);
  close2(s);
}

/* The callback turns a reader into a writer. */
static void switch_cb(async_watch_t *w, int status, unsigned events);

static void switch_cb(async_watch_t *w, int status, unsigned events) {
  rec_t *r = w->data;
  rec_cb(w, status, events);
  if (r->calls == 1) {
    assert_int_equal(async_watch_start(w, ASYNC_WRITABLE, switch_cb), 0);
    r->asked = ASYNC_WRITABLE;
  } else {
    assert_int_equal(async_watch_stop(w), 0);
  }
}

static void test_watch_switch_events_from_callback(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int s[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  put(s[1], "x");
  memset(&r, 0, sizeof(r));
  r.asked = ASYNC_READABLE;
  assert_int_equal(async_watch_init(&loop, &w, s[0]), 0);
  w.data = &r;
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, switch_cb), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.events, ASYNC_WRITABLE);
  assert_int_equal(r.bad, 0);
  test_loop_close(&loop);
  close2(s);
  unguard();
}

/* ---- stop, ref ---------------------------------------------------------------- */

static void test_watch_stop(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  put(p[1], "x");
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  assert_int_equal(async_watch_stop(&w), 0);
  assert_int_equal(async_is_active((async_handle_t *)&w), 0);
  assert_int_equal(async_loop_alive(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  nowait(&loop, 2);
  assert_int_equal(r.calls, 0);
  /* Stopping twice, and NULL. */
  assert_int_equal(async_watch_stop(&w), 0);
  assert_int_equal(async_watch_stop(NULL), ASYNC_EINVAL);
  /* Starting again re-arms it. */
  assert_int_equal(async_watch_start(&w, ASYNC_READABLE, rec_cb), 0);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_READABLE);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static void test_watch_stop_self_in_callback(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  put(p[1], "xyz");
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  r.stop_after = 1;
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  nowait(&loop, 2);
  assert_int_equal(r.calls, 1);
  assert_int_equal(pending_bytes(p[0]), 3);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static void test_watch_close_self_in_callback(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  put(p[1], "xyz");
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  r.close_after = 1;
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.after_close, 0);
  assert_int_equal(async_is_closing((async_handle_t *)&w), 1);
  assert_int_equal(count_handles(&loop), 0);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static void test_watch_close_before_run(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  put(p[1], "x");
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  assert_int_equal(async_close((async_handle_t *)&w, rec_close_cb), 0);
  assert_int_equal(r.closes, 0); /* never inside async_close */
  assert_int_equal(async_close((async_handle_t *)&w, rec_close_cb), ASYNC_EINVAL);
  /* The watcher was closed first: the fd may go now. */
  close2(p);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 0);
  assert_int_equal(r.closes, 1);
  test_loop_close(&loop);
  unguard();
}

static void test_watch_unref_does_not_keep_loop_alive(void **state) {
  async_loop_t loop;
  async_watch_t w, keep;
  rec_t r, rk;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  async_unref((async_handle_t *)&w);
  assert_int_equal(async_has_ref((async_handle_t *)&w), 0);
  assert_int_equal(async_is_active((async_handle_t *)&w), 1);
  assert_int_equal(async_loop_alive(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* returns: nothing referenced */
  assert_int_equal(r.calls, 0);
  /* Unreferenced is not stopped: it still reports whenever something else
   * makes the loop turn (here a referenced writer, ready at once). */
  watch(&loop, &keep, p[1], ASYNC_WRITABLE, &rk);
  put(p[1], "x");
  nowait(&loop, 1);
  assert_int_equal(rk.calls, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_READABLE);
  assert_int_equal(async_close((async_handle_t *)&keep, NULL), 0);
  async_ref((async_handle_t *)&w);
  assert_int_equal(async_has_ref((async_handle_t *)&w), 1);
  assert_int_equal(async_loop_alive(&loop), 1);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

/* ---- hang-up and error --------------------------------------------------------- */

static void test_watch_pipe_writer_closed(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  char c;
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  close(p[1]);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.events, ASYNC_READABLE | hangup_if_cap(&loop, ASYNC_HANGUP));
  assert_int_equal(read(p[0], &c, 1), 0); /* end of file */
  test_loop_close(&loop);
  close(p[0]);
}

static void test_watch_pipe_writer_closed_after_data(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  char buf[4];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  put(p[1], "ab");
  close(p[1]);
  watch(&loop, &w, p[0], ASYNC_READABLE, &r);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.events, ASYNC_READABLE | hangup_if_cap(&loop, ASYNC_HANGUP));
  assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
  assert_int_equal(read(p[0], buf, sizeof(buf)), 0);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.events, ASYNC_READABLE | hangup_if_cap(&loop, ASYNC_HANGUP));
  assert_int_equal(r.bad, 0);
  test_loop_close(&loop);
  close(p[0]);
}

static void test_watch_pipe_reader_closed(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int p[2];
  (void)state;
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &w, p[1], ASYNC_WRITABLE, &r);
  close(p[0]);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.events, ASYNC_WRITABLE | hangup_if_cap(&loop, ASYNC_ERROR));
  test_loop_close(&loop);
  close(p[1]);
}

static void test_watch_socketpair_peer_closed(void **state) {
  async_loop_t loop;
  async_watch_t w;
  rec_t r;
  int s[2];
  char c;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  watch(&loop, &w, s[0], ASYNC_READABLE, &r);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 0);
  close(s[1]);
  nowait(&loop, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.events, ASYNC_READABLE | hangup_if_cap(&loop, ASYNC_HANGUP));
  assert_int_equal(read(s[0], &c, 1), 0);
  test_loop_close(&loop);
  close(s[0]);
}

/* ---- stopping and closing others from callbacks ------------------------------ */

typedef struct {
  async_watch_t w;
  rec_t r;
  int p[2];
  int mode;        /* 0: close the others, 1: stop the others */
  async_watch_t *victims[16];
  int nvictims;
  int *done;       /* shared: somebody already acted */
} peer_t;

static void peer_cb(async_watch_t *w, int status, unsigned events) {
  peer_t *pe = (peer_t *)(void *)w; /* the watcher is the peer's first member */
  rec_cb(w, status, events);
  if (*pe->done)
    return;
  *pe->done = 1;
  for (int i = 0; i < pe->nvictims; i++) {
    async_watch_t *v = pe->victims[i];
    if (pe->mode == 0)
      assert_int_equal(async_close((async_handle_t *)v, rec_close_cb), 0);
    else
      assert_int_equal(async_watch_stop(v), 0);
  }
}

/* n readable watchers; the first to run closes (or stops) all the others. */
static void run_peers(int mode, int n) {
  async_loop_t loop;
  peer_t *pe = calloc((size_t)n, sizeof(*pe));
  int done = 0, total = 0, acted = -1;
  assert_non_null(pe);
  test_loop_init(&loop);
  for (int i = 0; i < n; i++) {
    mkpipe(pe[i].p);
    put(pe[i].p[1], "x");
    pe[i].mode = mode;
    pe[i].done = &done;
  }
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) {
      if (j == i)
        continue;
      pe[i].victims[pe[i].nvictims++] = &pe[j].w;
    }
    memset(&pe[i].r, 0, sizeof(pe[i].r));
    pe[i].r.asked = ASYNC_READABLE;
    assert_int_equal(async_watch_init(&loop, &pe[i].w, pe[i].p[0]), 0);
    pe[i].w.data = &pe[i].r;
    assert_int_equal(async_watch_start(&pe[i].w, ASYNC_READABLE, peer_cb), 0);
  }
  /* All n fds are ready in the same poll; only the first callback may run. */
  nowait(&loop, 1);
  for (int i = 0; i < n; i++) {
    total += pe[i].r.calls;
    if (pe[i].r.calls != 0)
      acted = i;
  }
  assert_int_equal(total, 1);
  assert_true(acted >= 0);
  for (int i = 0; i < n; i++) {
    assert_int_equal(pe[i].r.after_close, 0);
    if (i != acted) {
      assert_int_equal(async_is_active((async_handle_t *)&pe[i].w), 0);
      assert_int_equal(async_is_closing((async_handle_t *)&pe[i].w), mode == 0);
      assert_int_equal(pe[i].r.closes, mode == 0 ? 1 : 0);
    }
  }
  /* Next turn: only the survivor (or, for stop, still only the one not stopped). */
  nowait(&loop, 1);
  assert_int_equal(pe[acted].r.calls, 2);
  for (int i = 0; i < n; i++)
    if (i != acted)
      assert_int_equal(pe[i].r.calls, 0);
  if (mode == 1) {
    /* Stopped ones come back when started again. */
    for (int i = 0; i < n; i++)
      if (i != acted)
        assert_int_equal(async_watch_start(&pe[i].w, ASYNC_READABLE, peer_cb), 0);
    nowait(&loop, 1);
    for (int i = 0; i < n; i++)
      assert_int_equal(pe[i].r.calls, i == acted ? 3 : 1);
  }
  test_loop_close(&loop);
  for (int i = 0; i < n; i++)
    close2(pe[i].p);
  free(pe);
}

static void test_watch_close_other_same_round(void **state) {
  (void)state;
  run_peers(0, 2);
}

static void test_watch_stop_other_same_round(void **state) {
  (void)state;
  run_peers(1, 2);
}

static void test_watch_close_many_others_same_round(void **state) {
  (void)state;
  run_peers(0, 12);
}

/* Two watchers ready for reading and writing in the same poll; the first
 * callback narrows the other one to READABLE: the other must then be told
 * only what it asks for now, in this very round too. */
typedef struct {
  async_watch_t w[2];
  rec_t r[2];
  int s[2][2];
  int acted;      /* index of the first callback, -1 before */
} narrow_t;

static narrow_t *narrow_state;

static void narrow_cb(async_watch_t *w, int status, unsigned events) {
  narrow_t *n = narrow_state;
  int i = w == &n->w[0] ? 0 : 1;
  rec_cb(w, status, events);
  if (n->acted >= 0)
    return;
  n->acted = i;
  n->r[1 - i].asked = ASYNC_READABLE;
  assert_int_equal(async_watch_start(&n->w[1 - i], ASYNC_READABLE, narrow_cb), 0);
}

static void test_watch_change_other_events_same_round(void **state) {
  async_loop_t loop;
  narrow_t n;
  int o;
  (void)state;
  memset(&n, 0, sizeof(n));
  n.acted = -1;
  narrow_state = &n;
  test_loop_init(&loop);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, n.s[i]), 0);
    put(n.s[i][1], "x");
    n.r[i].asked = ASYNC_READABLE | ASYNC_WRITABLE;
    assert_int_equal(async_watch_init(&loop, &n.w[i], n.s[i][0]), 0);
    n.w[i].data = &n.r[i];
    assert_int_equal(async_watch_start(&n.w[i], ASYNC_READABLE | ASYNC_WRITABLE, narrow_cb), 0);
  }
  nowait(&loop, 1);
  assert_true(n.acted == 0 || n.acted == 1);
  o = 1 - n.acted;
  assert_int_equal(n.r[n.acted].calls, 1);
  assert_int_equal(n.r[n.acted].events, ASYNC_READABLE | ASYNC_WRITABLE);
  /* Reported readable and writable by the poll, narrowed before its turn. */
  assert_int_equal(n.r[o].bad, 0);
  if (n.r[o].calls > 0)
    assert_int_equal(n.r[o].events, ASYNC_READABLE);
  nowait(&loop, 1);
  assert_true(n.r[o].calls >= 1);
  assert_int_equal(n.r[o].events, ASYNC_READABLE);
  assert_int_equal(n.r[o].seen, ASYNC_READABLE);
  assert_int_equal(n.r[0].bad + n.r[1].bad, 0);
  test_loop_close(&loop);
  close2(n.s[0]);
  close2(n.s[1]);
}

/* ---- stale events after fd reuse ------------------------------------------------ */

typedef struct {
  async_loop_t *loop;
  async_watch_t a[2];
  rec_t ra[2];
  int pa[2][2];
  async_watch_t b;
  rec_t rb;
  int pb[2];        /* the new pipe; pb[0] has the number of the closed fd */
  int swapped;      /* index of the watcher replaced, -1 before */
} swap_t;

static swap_t *swap_state;

static void swap_cb(async_watch_t *w, int status, unsigned events) {
  swap_t *s = swap_state;
  int i = w == &s->a[0] ? 0 : 1, j = 1 - i, x, np[2];
  rec_cb(w, status, events);
  if (s->swapped >= 0)
    return;
  /* Close the other watcher and its fd, which the backend reported ready in
   * this same poll, and put an empty pipe's read end on the same number. */
  s->swapped = j;
  x = s->pa[j][0];
  assert_int_equal(async_close((async_handle_t *)&s->a[j], NULL), 0);
  assert_int_equal(close(x), 0);
  assert_int_equal(pipe(np), 0);
  if (np[0] != x) {
    assert_int_equal(dup2(np[0], x), x);
    close(np[0]);
  }
  s->pb[0] = x;
  s->pb[1] = np[1];
  s->pa[j][0] = -1;
  memset(&s->rb, 0, sizeof(s->rb));
  s->rb.asked = ASYNC_READABLE;
  assert_int_equal(async_watch_init(s->loop, &s->b, x), 0);
  s->b.data = &s->rb;
  assert_int_equal(async_watch_start(&s->b, ASYNC_READABLE, rec_cb), 0);
}

static void test_watch_no_stale_events_after_fd_reuse(void **state) {
  async_loop_t loop;
  swap_t s;
  int j;
  (void)state;
  memset(&s, 0, sizeof(s));
  s.loop = &loop;
  s.swapped = -1;
  swap_state = &s;
  test_loop_init(&loop);
  for (int i = 0; i < 2; i++) {
    mkpipe(s.pa[i]);
    put(s.pa[i][1], "x");
    s.ra[i].asked = ASYNC_READABLE;
    assert_int_equal(async_watch_init(&loop, &s.a[i], s.pa[i][0]), 0);
    s.a[i].data = &s.ra[i];
    assert_int_equal(async_watch_start(&s.a[i], ASYNC_READABLE, swap_cb), 0);
  }
  nowait(&loop, 1);
  j = s.swapped;
  assert_true(j == 0 || j == 1);
  assert_int_equal(s.ra[j].calls, 0);      /* closed before its turn came */
  assert_int_equal(s.ra[1 - j].calls, 1);
  assert_int_equal(s.rb.calls, 0);         /* the new pipe is empty: no stale report */
  nowait(&loop, 2);
  assert_int_equal(s.rb.calls, 0);
  assert_int_equal(s.ra[j].calls, 0);
  put(s.pb[1], "y");
  nowait(&loop, 1);
  assert_int_equal(s.rb.calls, 1);
  assert_int_equal(s.rb.events, ASYNC_READABLE);
  assert_int_equal(s.ra[j].after_close + s.ra[1 - j].after_close, 0);
  test_loop_close(&loop);
  close2(s.pa[1 - j]);
  close(s.pa[j][1]);
  close2(s.pb);
}

/* ---- the fd stays the caller's ---------------------------------------------------- */

static void test_watch_fd_untouched_after_close(void **state) {
  async_loop_t loop;
  async_watch_t wr, ww;
  rec_t rr, rw;
  int p[2], fl0, fl1, fd0, fd1;
  char c;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  set_nonblock(p[1]); /* one end blocking, the other not */
  assert_int_equal(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
  fl0 = fcntl(p[0], F_GETFL);
  fl1 = fcntl(p[1], F_GETFL);
  fd0 = fcntl(p[0], F_GETFD);
  fd1 = fcntl(p[1], F_GETFD);
  watch(&loop, &wr, p[0], ASYNC_READABLE, &rr);
  watch(&loop, &ww, p[1], ASYNC_WRITABLE, &rw);
  put(p[1], "x");
  nowait(&loop, 1);
  assert_int_equal(rr.calls, 1);
  assert_int_equal(rw.calls, 1);
  assert_int_equal(async_close((async_handle_t *)&wr, NULL), 0);
  assert_int_equal(async_close((async_handle_t *)&ww, NULL), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fcntl(p[0], F_GETFL), fl0);
  assert_int_equal(fcntl(p[1], F_GETFL), fl1);
  assert_int_equal(fcntl(p[0], F_GETFD), fd0);
  assert_int_equal(fcntl(p[1], F_GETFD), fd1);
  test_loop_close(&loop);
  /* Still open, same flags, and working after the loop is gone too. */
  assert_int_equal(fcntl(p[0], F_GETFL), fl0);
  assert_int_equal(fcntl(p[1], F_GETFL), fl1);
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(c, 'x');
  put(p[1], "y");
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(c, 'y');
  close2(p);
  unguard();
}

/* ---- many fds ------------------------------------------------------------------------ */

static void raise_nofile(rlim_t want, struct rlimit *old) {
  struct rlimit r;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, old), 0);
  r = *old;
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
    r.rlim_cur = (r.rlim_max == RLIM_INFINITY || r.rlim_max >= want) ? want : r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
}

#define MANY 500

static void test_watch_many_fds(void **state) {
  async_loop_t loop;
  struct rlimit old, now;
  async_watch_t *w;
  rec_t *r;
  int (*p)[2];
  int n = MANY;
  (void)state;
  raise_nofile(2 * MANY + 64, &old);
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
  if (now.rlim_cur != RLIM_INFINITY && now.rlim_cur < 2 * MANY + 64)
    n = ((int)now.rlim_cur - 64) / 2;
  assert_true(n >= 100);
  w = calloc((size_t)n, sizeof(*w));
  r = calloc((size_t)n, sizeof(*r));
  p = calloc((size_t)n, sizeof(*p));
  assert_non_null(w);
  assert_non_null(r);
  assert_non_null(p);
  test_loop_init(&loop);
  for (int i = 0; i < n; i++) {
    mkpipe(p[i]);
    watch(&loop, &w[i], p[i][0], ASYNC_READABLE, &r[i]);
  }
  nowait(&loop, 1);
  for (int i = 0; i < n; i++)
    assert_int_equal(r[i].calls, 0);
  for (int i = 0; i < n; i += 7)
    put(p[i][1], "x");
  put(p[n - 1][1], "x");
  nowait(&loop, 1);
  for (int i = 0; i < n; i++) {
    int readable = i % 7 == 0 || i == n - 1;
    assert_int_equal(r[i].calls, readable);
    if (readable)
      assert_int_equal(r[i].events, ASYNC_READABLE);
  }
  /* Stop every other readable one: the rest keep coming. */
  for (int i = 0; i < n; i += 14)
    assert_int_equal(async_watch_stop(&w[i]), 0);
  nowait(&loop, 1);
  for (int i = 0; i < n; i++) {
    int expect = 0;
    if (i % 7 == 0 || i == n - 1)
      expect = i % 14 == 0 ? 1 : 2;
    assert_int_equal(r[i].calls, expect);
    assert_int_equal(r[i].bad, 0);
  }
  test_loop_close(&loop);
  for (int i = 0; i < n; i++)
    close2(p[i]);
  free(w);
  free(r);
  free(p);
  (void)setrlimit(RLIMIT_NOFILE, &old);
}

/* ---- the select backend's limit ----------------------------------------------------- */

static void test_watch_fd_limit(void **state) {
  async_loop_t loop;
  async_watch_t w, below;
  rec_t r, rb;
  struct rlimit old, want;
  long limit;
  int target, p[2];
  (void)state;
  test_loop_init(&loop);
  limit = async_loop_fd_limit(&loop);
  if (test_has_caps(&loop, ASYNC_CAP_FD_LIMIT)) {
    assert_true(limit > 0);
    if (strcmp(async_loop_backend(&loop), "select") == 0)
      assert_int_equal(limit, 65536);
  } else {
    assert_int_equal(limit, 0);
  }
  target = limit > 0 ? (int)limit : 65536;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  want = old;
  if (want.rlim_cur == RLIM_INFINITY || want.rlim_cur < (rlim_t)target + 16)
    want.rlim_cur = (rlim_t)target + 16;
  if (want.rlim_max != RLIM_INFINITY && want.rlim_max < want.rlim_cur)
    want.rlim_max = want.rlim_cur;
  if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
    /* No fd can reach the limit in this process: nothing may exceed it. */
    if (limit > 0)
      assert_true(old.rlim_max != RLIM_INFINITY && old.rlim_max <= (rlim_t)limit);
    test_loop_close(&loop);
    return;
  }
  mkpipe(p);
  assert_int_equal(dup2(p[0], target), target);
  assert_int_equal(dup2(p[0], target - 1), target - 1);
  if (limit > 0) {
    assert_int_equal(async_watch_init(&loop, &w, target), ASYNC_ERANGE);
    assert_int_equal(count_handles(&loop), 0);
    /* One below the limit is fine. */
    watch(&loop, &below, target - 1, ASYNC_READABLE, &rb);
    put(p[1], "x");
    nowait(&loop, 1);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rb.events, ASYNC_READABLE);
  } else {
    watch(&loop, &w, target, ASYNC_READABLE, &r);
    nowait(&loop, 1);
    assert_int_equal(r.calls, 0);
    put(p[1], "x");
    nowait(&loop, 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.events, ASYNC_READABLE);
  }
  test_loop_close(&loop);
  close(target);
  close(target - 1);
  close2(p);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* ---- both ends in one loop ----------------------------------------------------------- */

static void echo_writer_cb(async_watch_t *w, int status, unsigned events) {
  rec_cb(w, status, events);
  assert_int_equal(write(w->fd, "q", 1), 1);
  assert_int_equal(async_watch_stop(w), 0);
}

static void test_watch_both_ends_one_loop(void **state) {
  async_loop_t loop;
  async_watch_t wr, ww;
  rec_t rr, rw;
  int p[2];
  (void)state;
  guard(30);
  test_loop_init(&loop);
  mkpipe(p);
  watch(&loop, &wr, p[0], ASYNC_READABLE, &rr);
  rr.drain = 1;
  rr.stop_after = 1;
  memset(&rw, 0, sizeof(rw));
  rw.asked = ASYNC_WRITABLE;
  assert_int_equal(async_watch_init(&loop, &ww, p[1]), 0);
  ww.data = &rw;
  assert_int_equal(async_watch_start(&ww, ASYNC_WRITABLE, echo_writer_cb), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(rw.calls, 1);
  assert_int_equal(rr.calls, 1);
  assert_int_equal(rr.events, ASYNC_READABLE);
  assert_int_equal(pending_bytes(p[0]), 0);
  test_loop_close(&loop);
  close2(p);
  unguard();
}

static const struct CMUnitTest tests[] = {
  TEST(test_watch_init_einval),
  TEST(test_watch_init_ebadf),
  TEST(test_watch_init_regular_file_eperm),
  TEST(test_watch_init_directory_eperm),
  TEST(test_watch_init_eexist),
  TEST(test_watch_reinit_after_close),
  TEST(test_watch_fd_released_at_close),
  TEST(test_watch_stopped_watcher_keeps_fd),
  TEST(test_watch_fd_closed_under_watcher),
  TEST(test_watch_same_fd_two_loops),
  TEST(test_watch_handle_basics),
  TEST(test_watch_start_einval),
  TEST(test_watch_readable),
  TEST(test_watch_writable),
  TEST(test_watch_readable_and_writable),
  TEST(test_watch_level_triggered),
  TEST(test_watch_drain_until_stopped),
  TEST(test_watch_readable_from_thread_wakes_poll),
  TEST(test_watch_writable_after_drain),
  TEST(test_watch_switch_events),
  TEST(test_watch_switch_events_from_callback),
  TEST(test_watch_stop),
  TEST(test_watch_stop_self_in_callback),
  TEST(test_watch_close_self_in_callback),
  TEST(test_watch_close_before_run),
  TEST(test_watch_unref_does_not_keep_loop_alive),
  TEST(test_watch_pipe_writer_closed),
  TEST(test_watch_pipe_writer_closed_after_data),
  TEST(test_watch_pipe_reader_closed),
  TEST(test_watch_socketpair_peer_closed),
  TEST(test_watch_close_other_same_round),
  TEST(test_watch_stop_other_same_round),
  TEST(test_watch_close_many_others_same_round),
  TEST(test_watch_change_other_events_same_round),
  TEST(test_watch_no_stale_events_after_fd_reuse),
  TEST(test_watch_fd_untouched_after_close),
  TEST(test_watch_many_fds),
  TEST(test_watch_fd_limit),
  TEST(test_watch_both_ends_one_loop),
};

TEST_MAIN("watch", tests)
