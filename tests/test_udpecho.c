/* UDP through the public API only, so that every platform runs it:
 * datagrams both ways on loopback, a connected peer, truncation, try_send,
 * the send queue's accounting, cancellation on close, bad input. */
#include "helper.h"

#if defined(_WIN32)
# include <ws2tcpip.h> /* through async.h already; named for the reader */
#else
# include <arpa/inet.h>
# include <netinet/in.h>
#endif
#include <string.h>

static int udp_caps(async_loop_t *loop) {
  async_udp_t u;
  if (test_has_caps(loop, ASYNC_CAP_UDP))
    return 1;
  assert_int_equal(async_udp_init(loop, &u), ASYNC_ENOTSUP);
  return 0;
}

static void bind_loopback(async_udp_t *u, struct sockaddr_in *addr) {
  int len = (int)sizeof(*addr);
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(async_udp_bind(u, (struct sockaddr *)addr, 0), 0);
  assert_int_equal(async_udp_getsockname(u, (struct sockaddr *)addr, &len), 0);
  assert_true(addr->sin_port != 0);
}

/* Two sockets bound to loopback ports of their own. */
static void open_two(async_loop_t *loop, async_udp_t *a, struct sockaddr_in *aa, async_udp_t *b,
                     struct sockaddr_in *ba) {
  assert_int_equal(async_udp_init(loop, a), 0);
  assert_int_equal(async_udp_init(loop, b), 0);
  bind_loopback(a, aa);
  bind_loopback(b, ba);
}

static char small_buf[8];
static void alloc_small(async_handle_t *h, size_t size, async_buf_t *buf) {
  (void)h;
  (void)size;
  buf->base = small_buf;
  buf->len = sizeof(small_buf);
}

static int received, send_status, sends_done;
static long last_n;
static unsigned last_flags;
static char last_data[65536];
static struct sockaddr_in last_from;

static void on_recv(async_udp_t *u, long n, const async_buf_t *buf, const struct sockaddr *from,
                    unsigned flags) {
  if (n == 0 && from == NULL)
    return; /* nothing more for now */
  assert_true(n >= 0);
  received++;
  last_n = n;
  last_flags = flags;
  memcpy(last_data, buf->base, (size_t)n);
  memcpy(&last_from, from, sizeof(last_from));
  async_udp_recv_stop(u);
}

static void on_sent(async_udp_send_t *req, int status) {
  (void)req;
  send_status = status;
  sends_done++;
}

static void test_datagram_both_ways(void **state) {
  async_loop_t loop;
  async_udp_t a, b;
  async_udp_send_t req;
  struct sockaddr_in aa, ba;
  async_buf_t bufs[2] = {{"hello, ", 7}, {"udp", 3}};
  (void)state;
  test_loop_init(&loop);
  if (udp_caps(&loop)) {
    open_two(&loop, &a, &aa, &b, &ba);
    received = sends_done = 0;
    send_status = 1;
    assert_int_equal(async_udp_recv_start(&b, test_alloc_slab, on_recv), 0);
    assert_int_equal(async_udp_recv_start(&b, test_alloc_slab, on_recv), ASYNC_EALREADY);
    assert_int_equal(async_udp_send(&req, &a, bufs, 2, (struct sockaddr *)&ba, on_sent), 0);
    assert_int_equal(sends_done, 0); /* never inside the call */
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(send_status, 0);
    assert_int_equal(received, 1);
    assert_int_equal(last_n, 10);
    assert_memory_equal(last_data, "hello, udp", 10);
    assert_int_equal(last_from.sin_port, aa.sin_port);
    assert_int_equal(a.send_queue_count, 0);
    assert_int_equal(a.send_queue_size, 0);
    /* And back, from the other side. */
    assert_int_equal(async_udp_recv_start(&a, test_alloc_slab, on_recv), 0);
    assert_int_equal(async_udp_try_send(&b, bufs + 1, 1, (struct sockaddr *)&aa), 3);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(received, 2);
    assert_memory_equal(last_data, "udp", 3);
    assert_int_equal(last_from.sin_port, ba.sin_port);
    async_close((async_handle_t *)&a, NULL);
    async_close((async_handle_t *)&b, NULL);
  }
  test_loop_close(&loop);
}

static void test_connected_peer(void **state) {
  async_loop_t loop;
  async_udp_t a, b;
  async_udp_send_t req;
  struct sockaddr_in aa, ba, peer;
  int len = (int)sizeof(peer);
  async_buf_t buf = {"ping", 4};
  (void)state;
  test_loop_init(&loop);
  if (udp_caps(&loop)) {
    open_two(&loop, &a, &aa, &b, &ba);
    assert_int_equal(async_udp_getpeername(&a, (struct sockaddr *)&peer, &len), ASYNC_ENOTCONN);
    assert_int_equal(async_udp_connect(&a, NULL), ASYNC_ENOTCONN);
    assert_int_equal(async_udp_connect(&a, (struct sockaddr *)&ba), 0);
    assert_int_equal(async_udp_connect(&a, (struct sockaddr *)&ba), ASYNC_EISCONN);
    assert_int_equal(async_udp_getpeername(&a, (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(peer.sin_port, ba.sin_port);
    /* A connected socket takes no address. */
    assert_int_equal(async_udp_send(&req, &a, &buf, 1, (struct sockaddr *)&ba, on_sent),
                     ASYNC_EINVAL);
    received = 0;
    assert_int_equal(async_udp_recv_start(&b, test_alloc_slab, on_recv), 0);
    assert_int_equal(async_udp_send(&req, &a, &buf, 1, NULL, on_sent), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(received, 1);
    assert_memory_equal(last_data, "ping", 4);
    assert_int_equal(async_udp_connect(&a, NULL), 0);
    assert_int_equal(async_udp_send(&req, &a, &buf, 1, NULL, on_sent), ASYNC_EINVAL);
    async_close((async_handle_t *)&a, NULL);
    async_close((async_handle_t *)&b, NULL);
  }
  test_loop_close(&loop);
}

static void test_truncated_datagram_is_partial(void **state) {
  async_loop_t loop;
  async_udp_t a, b;
  struct sockaddr_in aa, ba;
  async_buf_t buf = {"0123456789abcdef", 16};
  (void)state;
  test_loop_init(&loop);
  if (udp_caps(&loop)) {
    open_two(&loop, &a, &aa, &b, &ba);
    received = 0;
    assert_int_equal(async_udp_recv_start(&b, alloc_small, on_recv), 0);
    assert_int_equal(async_udp_try_send(&a, &buf, 1, (struct sockaddr *)&ba), 16);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(received, 1);
    assert_int_equal(last_n, (long)sizeof(small_buf));
    assert_true(last_flags & ASYNC_UDP_PARTIAL);
    assert_memory_equal(last_data, "01234567", 8);
    async_close((async_handle_t *)&a, NULL);
    async_close((async_handle_t *)&b, NULL);
  }
  test_loop_close(&loop);
}

/* Sends queued and closed before the loop runs: each callback once, with
 * success for what went out and ASYNC_ECANCELED for the rest. */
static void test_close_reports_every_send(void **state) {
  async_loop_t loop;
  async_udp_t a, b;
  async_udp_send_t req[8];
  struct sockaddr_in aa, ba;
  async_buf_t buf = {"x", 1};
  (void)state;
  test_loop_init(&loop);
  if (udp_caps(&loop)) {
    open_two(&loop, &a, &aa, &b, &ba);
    sends_done = 0;
    for (int i = 0; i < 8; i++)
      assert_int_equal(async_udp_send(&req[i], &a, &buf, 1, (struct sockaddr *)&ba, on_sent), 0);
    async_close((async_handle_t *)&a, NULL);
    async_close((async_handle_t *)&b, NULL);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(sends_done, 8);
    assert_true(send_status == 0 || send_status == ASYNC_ECANCELED);
  }
  test_loop_close(&loop);
}

static void test_options_and_bad_input(void **state) {
  async_loop_t loop;
  async_udp_t a;
  async_udp_send_t req;
  struct sockaddr_in aa;
  async_buf_t buf = {"x", 1};
  (void)state;
  test_loop_init(&loop);
  if (udp_caps(&loop)) {
    assert_int_equal(async_udp_init(NULL, &a), ASYNC_EINVAL);
    assert_int_equal(async_udp_init_ex(&loop, &a, 12345), ASYNC_EINVAL);
    assert_int_equal(async_udp_init(&loop, &a), 0);
    assert_int_equal(async_udp_set_ttl(&a, 10), ASYNC_EBADF); /* no socket yet */
    assert_int_equal(async_udp_send(&req, &a, &buf, 1, NULL, on_sent), ASYNC_EINVAL);
    bind_loopback(&a, &aa);
    assert_int_equal(async_udp_set_ttl(&a, 10), 0);
    assert_int_equal(async_udp_set_ttl(&a, 0), ASYNC_EINVAL);
    assert_int_equal(async_udp_set_broadcast(&a, 1), 0);
    assert_int_equal(async_udp_set_multicast_ttl(&a, 4), 0);
    assert_int_equal(async_udp_set_multicast_loop(&a, 1), 0);
    assert_int_equal(async_udp_recv_start(&a, NULL, on_recv), ASYNC_EINVAL);
    assert_int_equal(async_udp_recv_stop(&a), 0);
    async_close((async_handle_t *)&a, NULL);
    assert_int_equal(async_udp_recv_stop(&a), ASYNC_EINVAL);
  }
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_datagram_both_ways),
  TEST(test_connected_peer),
  TEST(test_truncated_datagram_is_partial),
  TEST(test_close_reports_every_send),
  TEST(test_options_and_bad_input),
};

TEST_MAIN("udpecho", tests)
