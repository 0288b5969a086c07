/* Reader/writer watchers on sockets, the kind every backend that has
 * ASYNC_CAP_FD_WATCH can watch (on Windows the only kind): readiness,
 * hang-up, changes of interest, closing while polled, many sockets, and
 * the backend's limit where it has one. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>

static int calls, last_status;
static unsigned last_events, seen_events;

static void reset(void) {
  calls = 0;
  last_status = 1;
  last_events = seen_events = 0;
}

static void record(async_watch_t *w, int status, unsigned events) {
  (void)w;
  calls++;
  last_status = status;
  last_events = events;
  seen_events |= events;
}

static void record_and_stop(async_watch_t *w, int status, unsigned events) {
  record(w, status, events);
  async_watch_stop(w);
}

/* Each test needs watchers: a backend without them must say so. */
static int watching(async_loop_t *loop, int fd) {
  async_watch_t w;
  if (test_has_caps(loop, ASYNC_CAP_FD_WATCH))
    return 1;
  assert_int_equal(async_watch_init(loop, &w, fd), ASYNC_ENOTSUP);
  return 0;
}

/* A loop and a connected socket pair; 1 if the backend watches sockets. */
struct pair {
  async_loop_t loop;
  int fds[2];
};

static int pair_open(struct pair *p) {
  reset();
  test_loop_init(&p->loop);
  assert_int_equal(test_socket_pair(p->fds), 0);
  return watching(&p->loop, p->fds[0]);
}

static void pair_close(struct pair *p) {
  test_loop_close(&p->loop);
  for (int i = 0; i < 2; i++)
    if (p->fds[i] >= 0)
      test_fd_close(p->fds[i]);
}

static void test_readable_after_write(void **state) {
  struct pair p;
  async_watch_t w;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[0]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record_and_stop), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(calls, 0); /* nothing to read yet */
    assert_int_equal(test_fd_write(p.fds[1], "hi", 2), 2);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(last_status, 0);
    assert_true(last_events & ASYNC_READABLE);
    assert_false(last_events & ASYNC_WRITABLE);
  }
  pair_close(&p);
}

static void test_writable_at_once(void **state) {
  struct pair p;
  async_watch_t w;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[1]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_WRITABLE, record_and_stop), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(last_events & (ASYNC_READABLE | ASYNC_WRITABLE), ASYNC_WRITABLE);
  }
  pair_close(&p);
}

/* Level-triggered: unread data reports again on every turn. */
static void test_level_triggered(void **state) {
  struct pair p;
  async_watch_t w;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[0]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record), 0);
    assert_int_equal(test_fd_write(p.fds[1], "x", 1), 1);
    for (int i = 0; i < 50 && calls < 3; i++)
      async_run(&p.loop, ASYNC_RUN_ONCE);
    assert_int_equal(calls, 3);
    async_close((async_handle_t *)&w, NULL);
  }
  pair_close(&p);
}

/* Replacing the interest takes effect: from readable to writable. */
static void test_change_interest(void **state) {
  struct pair p;
  async_watch_t w;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[0]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record_and_stop), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(calls, 0);
    assert_int_equal(async_watch_start(&w, ASYNC_WRITABLE, record_and_stop), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 1);
    assert_true(last_events & ASYNC_WRITABLE);
    /* Stopped, then started again for reading with data waiting. */
    assert_int_equal(test_fd_write(p.fds[1], "x", 1), 1);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record_and_stop), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 2);
    assert_true(last_events & ASYNC_READABLE);
  }
  pair_close(&p);
}

/* The peer closing shows as readable (EOF), with ASYNC_HANGUP where the
 * backend reports hang-ups apart. */
static void test_hangup(void **state) {
  struct pair p;
  async_watch_t w;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[0]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record_and_stop), 0);
    test_fd_close(p.fds[1]);
    p.fds[1] = -1;
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(last_status, 0);
    assert_true(last_events & ASYNC_READABLE);
    if (test_has_caps(&p.loop, ASYNC_CAP_HANGUP))
      assert_true(last_events & ASYNC_HANGUP);
  }
  pair_close(&p);
}

/* Closed while its poll is in flight: no callback, nothing left behind
 * (the teardown counts memory and handles). */
static void test_close_while_polled(void **state) {
  struct pair p;
  async_watch_t w;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[0]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(test_fd_write(p.fds[1], "x", 1), 1);
    assert_int_equal(async_close((async_handle_t *)&w, NULL), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 0);
    /* The same socket can be watched again afterwards. */
    assert_int_equal(async_watch_init(&p.loop, &w, p.fds[0]), 0);
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, record_and_stop), 0);
    assert_int_equal(async_run(&p.loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(calls, 1);
  }
  pair_close(&p);
}

/* A loop closed right after its watchers, with polls still in flight. */
static void test_loop_close_with_polls_in_flight(void **state) {
  async_loop_t loop;
  async_watch_t w[4];
  int fds[4][2];
  (void)state;
  test_loop_init(&loop);
  for (int i = 0; i < 4; i++)
    assert_int_equal(test_socket_pair(fds[i]), 0);
  if (watching(&loop, fds[0][0])) {
    for (int i = 0; i < 4; i++) {
      assert_int_equal(async_watch_init(&loop, &w[i], fds[i][0]), 0);
      assert_int_equal(async_watch_start(&w[i], ASYNC_READABLE, record), 0);
    }
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  }
  test_loop_close(&loop);
  for (int i = 0; i < 4; i++) {
    test_fd_close(fds[i][0]);
    test_fd_close(fds[i][1]);
  }
}

static void test_watch_twice_eexist(void **state) {
  struct pair p;
  async_watch_t a, b;
  (void)state;
  if (pair_open(&p)) {
    assert_int_equal(async_watch_init(&p.loop, &a, p.fds[0]), 0);
    assert_int_equal(async_watch_init(&p.loop, &b, p.fds[0]), ASYNC_EEXIST);
    assert_int_equal(async_watch_start(&a, 0, record), ASYNC_EINVAL);
    assert_int_equal(async_watch_start(&a, ASYNC_HANGUP, record), ASYNC_EINVAL);
    assert_int_equal(async_watch_start(&a, ASYNC_READABLE, NULL), ASYNC_EINVAL);
  }
  pair_close(&p);
}

#define MANY 100
static int many_calls[MANY];
static void many_cb(async_watch_t *w, int status, unsigned events) {
  assert_int_equal(status, 0);
  assert_true(events & ASYNC_READABLE);
  many_calls[(intptr_t)w->data]++;
  async_watch_stop(w);
}

static void test_many_sockets(void **state) {
  static async_watch_t w[MANY];
  static int fds[MANY][2];
  async_loop_t loop;
  (void)state;
  memset(many_calls, 0, sizeof(many_calls));
  test_loop_init(&loop);
  for (int i = 0; i < MANY; i++)
    assert_int_equal(test_socket_pair(fds[i]), 0);
  if (watching(&loop, fds[0][0])) {
    for (int i = 0; i < MANY; i++) {
      assert_int_equal(async_watch_init(&loop, &w[i], fds[i][0]), 0);
      w[i].data = (void *)(intptr_t)i;
      assert_int_equal(async_watch_start(&w[i], ASYNC_READABLE, many_cb), 0);
    }
    for (int i = 0; i < MANY; i += 2)
      assert_int_equal(test_fd_write(fds[i][1], "x", 1), 1);
    while (async_run(&loop, ASYNC_RUN_ONCE) != 0) {
      int done = 0;
      for (int i = 0; i < MANY; i += 2)
        done += many_calls[i];
      if (done == MANY / 2)
        break;
    }
    for (int i = 0; i < MANY; i++)
      assert_int_equal(many_calls[i], i % 2 == 0);
  }
  test_loop_close(&loop);
  for (int i = 0; i < MANY; i++) {
    test_fd_close(fds[i][0]);
    test_fd_close(fds[i][1]);
  }
}

/* Where the backend counts watched sockets (Windows select), the one past
 * the limit is refused with ASYNC_ERANGE and the others still work. */
static void test_limit_refuses_clearly(void **state) {
  async_loop_t loop;
  async_watch_t *w;
  int *socks, n;
  long limit;
  (void)state;
  test_loop_init(&loop);
  limit = async_loop_fd_limit(&loop);
  assert_int_equal(limit > 0, test_has_caps(&loop, ASYNC_CAP_FD_LIMIT));
  if (limit <= 0 || limit > 4096 || !test_has_caps(&loop, ASYNC_CAP_FD_WATCH)) {
    test_loop_close(&loop); /* no count-based limit to reach here */
    return;
  }
  n = (int)limit + 1;
  w = calloc((size_t)n, sizeof(*w));
  socks = calloc((size_t)n, sizeof(*socks));
  assert_non_null(w);
  assert_non_null(socks);
  for (int i = 0; i < n; i++) {
    socks[i] = test_udp_socket();
    assert_true(socks[i] >= 0);
  }
  for (int i = 0; i < n - 1; i++) {
    assert_int_equal(async_watch_init(&loop, &w[i], socks[i]), 0);
    assert_int_equal(async_watch_start(&w[i], ASYNC_WRITABLE, record_and_stop), 0);
  }
  assert_int_equal(async_watch_init(&loop, &w[n - 1], socks[n - 1]), ASYNC_ERANGE);
  reset();
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls, n - 1);
  test_loop_close(&loop);
  for (int i = 0; i < n; i++)
    test_fd_close(socks[i]);
  free(w);
  free(socks);
}

static const struct CMUnitTest tests[] = {
  TEST(test_readable_after_write),
  TEST(test_writable_at_once),
  TEST(test_level_triggered),
  TEST(test_change_interest),
  TEST(test_hangup),
  TEST(test_close_while_polled),
  TEST(test_loop_close_with_polls_in_flight),
  TEST(test_watch_twice_eexist),
  TEST(test_many_sockets),
  TEST(test_limit_refuses_clearly),
};

TEST_MAIN("sockwatch", tests)
