/* Every capability bit the loop under test lacks is refused by the call
 * that needs it with ASYNC_ENOTSUP; every bit it has lets that call work. */
#include "helper.h"

#include <string.h>

static void check(async_loop_t *loop, unsigned cap, int rc, async_handle_t *h) {
  if (test_has_caps(loop, cap)) {
    assert_int_equal(rc, 0);
    async_close(h, NULL);
  } else {
    assert_int_equal(rc, ASYNC_ENOTSUP);
  }
}

static void test_tcp_cap(void **state) {
  async_loop_t loop;
  async_tcp_t tcp;
  (void)state;
  test_loop_init(&loop);
  check(&loop, ASYNC_CAP_TCP, async_tcp_init(&loop, &tcp), (async_handle_t *)&tcp);
  test_loop_close(&loop);
}

static void test_udp_cap(void **state) {
  async_loop_t loop;
  async_udp_t udp;
  (void)state;
  test_loop_init(&loop);
  check(&loop, ASYNC_CAP_UDP, async_udp_init(&loop, &udp), (async_handle_t *)&udp);
  test_loop_close(&loop);
}

static void test_pipe_cap(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  (void)state;
  test_loop_init(&loop);
  check(&loop, ASYNC_CAP_PIPE, async_pipe_init(&loop, &p), (async_handle_t *)&p);
  test_loop_close(&loop);
}

static void test_unix_socket_cap(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  (void)state;
  test_loop_init(&loop);
  check(&loop, ASYNC_CAP_UNIX_SOCKET | ASYNC_CAP_PIPE,
        async_pipe_init_ex(&loop, &p, ASYNC_PIPE_IPC), (async_handle_t *)&p);
  test_loop_close(&loop);
}

static void test_signal_cap(void **state) {
  async_loop_t loop;
  async_signal_t sig;
  (void)state;
  test_loop_init(&loop);
  check(&loop, ASYNC_CAP_SIGNAL, async_signal_init(&loop, &sig), (async_handle_t *)&sig);
  test_loop_close(&loop);
}

static void test_fork_cap(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_FORK))
    assert_int_equal(async_loop_fork(&loop), ASYNC_ENOTSUP);
  test_loop_close(&loop);
}

static void test_backend_fd_cap(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  if (test_has_caps(&loop, ASYNC_CAP_BACKEND_FD))
    assert_true(async_backend_fd(&loop) >= 0);
  else
    assert_int_equal(async_backend_fd(&loop), ASYNC_ENOTSUP);
  test_loop_close(&loop);
}

static void test_fd_watch_cap(void **state) {
  async_loop_t loop;
  async_watch_t w;
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(test_fd_pair(fds), 0);
  check(&loop, ASYNC_CAP_FD_WATCH, async_watch_init(&loop, &w, fds[0]), (async_handle_t *)&w);
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

/* The calls of a missing feature refuse without touching their arguments. */
static void test_refusals_are_plain(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_TCP)) {
    assert_int_equal(async_tcp_bind(NULL, NULL, 0), ASYNC_ENOTSUP);
    assert_int_equal(async_listen(NULL, 1, NULL), ASYNC_ENOTSUP);
    assert_int_equal(async_read_start(NULL, NULL, NULL), ASYNC_ENOTSUP);
    assert_int_equal(async_write(NULL, NULL, NULL, 0, NULL), ASYNC_ENOTSUP);
  }
  if (!test_has_caps(&loop, ASYNC_CAP_UDP))
    assert_int_equal(async_udp_bind(NULL, NULL, 0), ASYNC_ENOTSUP);
  if (!test_has_caps(&loop, ASYNC_CAP_SIGNAL)) {
    async_signal_t h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(async_signal_init(&loop, &h), ASYNC_ENOTSUP);
    /* No signal handle was made, so none can be started or closed. */
    assert_int_equal(async_signal_start(&h, NULL, 2), ASYNC_EINVAL);
    assert_int_equal(async_close((async_handle_t *)&h, NULL), ASYNC_EINVAL);
  }
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_tcp_cap),
  TEST(test_udp_cap),
  TEST(test_pipe_cap),
  TEST(test_unix_socket_cap),
  TEST(test_signal_cap),
  TEST(test_fork_cap),
  TEST(test_backend_fd_cap),
  TEST(test_fd_watch_cap),
  TEST(test_refusals_are_plain),
};

TEST_MAIN("caps", tests)
