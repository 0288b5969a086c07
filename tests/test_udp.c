/* UDP on loopback: echo, connected sockets, truncation, send callbacks,
 * socket options, multicast, bad input. */
#include "helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char rbuf[65536];
static int received, sends_done, last_send_status, order_check;
static long last_nread;
static unsigned last_flags;
static char last_data[64];
static struct sockaddr_storage last_from;

static void alloc_static(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = rbuf;
  buf->len = sizeof(rbuf);
}

static void alloc_small(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = rbuf;
  buf->len = 4;
}

static void alloc_none(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = NULL;
  buf->len = 0;
}

static void on_recv(async_udp_t *udp, long nread, const async_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  (void)udp;
  if (nread == 0 && addr == NULL)
    return; /* nothing more for now */
  received++;
  last_nread = nread;
  last_flags = flags;
  if (nread > 0) {
    size_t n = (size_t)nread < sizeof(last_data) - 1 ? (size_t)nread : sizeof(last_data) - 1;
    memcpy(last_data, buf->base, n);
    last_data[n] = '\0';
  }
  if (addr != NULL)
    memcpy(&last_from, addr, addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                         : sizeof(struct sockaddr_in));
}

static void on_sent(async_udp_send_t *req, int status) {
  (void)req;
  sends_done++;
  last_send_status = status;
}

static void reset(void) {
  received = sends_done = order_check = 0;
  last_send_status = 1;
  last_nread = 0;
  last_flags = 0;
  last_data[0] = '\0';
  memset(&last_from, 0, sizeof(last_from));
}

static void loopback4(struct sockaddr_in *sin, int port) {
  memset(sin, 0, sizeof(*sin));
  sin->sin_family = AF_INET;
  sin->sin_port = htons((uint16_t)port);
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int port_of(async_udp_t *u) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  assert_int_equal(async_udp_getsockname(u, (struct sockaddr *)&ss, &len), 0);
  return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void run_until(async_loop_t *loop, int *counter, int want) {
  for (int i = 0; i < 2000 && *counter < want; i++)
    async_run(loop, ASYNC_RUN_ONCE);
}

static void test_echo_v4(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  async_udp_send_t req;
  struct sockaddr_in addr;
  async_buf_t buf = {(char *)"ping", 4};
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_udp_init(&loop, &server), 0);
  assert_int_equal(async_udp_init(&loop, &client), 0);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_udp_recv_start(&server, alloc_static, on_recv), 0);
  assert_true(port_of(&server) > 0);
  loopback4(&addr, port_of(&server));
  assert_int_equal(async_udp_send(&req, &client, &buf, 1, (struct sockaddr *)&addr, on_sent), 0);
  assert_int_equal(sends_done, 0); /* never inside async_udp_send */
  run_until(&loop, &received, 1);
  assert_int_equal(sends_done, 1);
  assert_int_equal(last_send_status, 0);
  assert_int_equal(received, 1);
  assert_string_equal(last_data, "ping");
  assert_int_equal(ntohs(((struct sockaddr_in *)&last_from)->sin_port), port_of(&client));
  assert_int_equal(last_flags, 0);
  test_loop_close(&loop);
}

static void test_echo_v6(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  async_udp_send_t req;
  struct sockaddr_in6 addr;
  async_buf_t buf = {(char *)"six", 3};
  int err;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init(&loop, &client);
  memset(&addr, 0, sizeof(addr));
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  err = async_udp_bind(&server, (struct sockaddr *)&addr, ASYNC_UDP_IPV6ONLY);
  if (err != 0) {
    /* A machine without IPv6 loopback says so precisely. */
    print_message("no IPv6 loopback here: %s\n", async_err_name(err));
    assert_true(err == ASYNC_EADDRNOTAVAIL || err == ASYNC_EAFNOSUPPORT);
  } else {
    async_udp_recv_start(&server, alloc_static, on_recv);
    addr.sin6_port = htons((uint16_t)port_of(&server));
    assert_int_equal(async_udp_send(&req, &client, &buf, 1, (struct sockaddr *)&addr, on_sent), 0);
    run_until(&loop, &received, 1);
    assert_string_equal(last_data, "six");
    assert_int_equal(last_from.ss_family, AF_INET6);
  }
  test_loop_close(&loop);
}

static void test_connected_peer(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  async_udp_send_t req;
  struct sockaddr_in addr;
  struct sockaddr_storage peer;
  int len = sizeof(peer);
  async_buf_t buf = {(char *)"hello", 5};
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init(&loop, &client);
  loopback4(&addr, 0);
  async_udp_bind(&server, (struct sockaddr *)&addr, 0);
  async_udp_recv_start(&server, alloc_static, on_recv);
  loopback4(&addr, port_of(&server));
  assert_int_equal(async_udp_connect(&client, NULL), ASYNC_ENOTCONN);
  assert_int_equal(async_udp_connect(&client, (struct sockaddr *)&addr), 0);
  assert_int_equal(async_udp_connect(&client, (struct sockaddr *)&addr), ASYNC_EISCONN);
  assert_int_equal(async_udp_getpeername(&client, (struct sockaddr *)&peer, &len), 0);
  assert_int_equal(ntohs(((struct sockaddr_in *)&peer)->sin_port), port_of(&server));
  /* connected: no address; an address is refused */
  assert_int_equal(async_udp_send(&req, &client, &buf, 1, (struct sockaddr *)&addr, on_sent),
                   ASYNC_EINVAL);
  assert_int_equal(async_udp_send(&req, &client, &buf, 1, NULL, on_sent), 0);
  run_until(&loop, &received, 1);
  assert_string_equal(last_data, "hello");
  assert_int_equal(async_udp_try_send(&client, &buf, 1, NULL), 5);
  run_until(&loop, &received, 2);
  assert_int_equal(received, 2);
  assert_int_equal(async_udp_connect(&client, NULL), 0);
  assert_int_equal(async_udp_send(&req, &client, &buf, 1, NULL, on_sent), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_truncated_datagram(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  struct sockaddr_in addr;
  async_buf_t buf = {(char *)"0123456789", 10};
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init(&loop, &client);
  loopback4(&addr, 0);
  async_udp_bind(&server, (struct sockaddr *)&addr, 0);
  async_udp_recv_start(&server, alloc_small, on_recv);
  loopback4(&addr, port_of(&server));
  assert_int_equal(async_udp_try_send(&client, &buf, 1, (struct sockaddr *)&addr), 10);
  run_until(&loop, &received, 1);
  assert_int_equal(last_nread, 4);
  assert_true(last_flags & ASYNC_UDP_PARTIAL);
  assert_string_equal(last_data, "0123");
  test_loop_close(&loop);
}

static void test_no_buffer_is_enobufs(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  struct sockaddr_in addr;
  async_buf_t buf = {(char *)"x", 1};
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init(&loop, &client);
  loopback4(&addr, 0);
  async_udp_bind(&server, (struct sockaddr *)&addr, 0);
  async_udp_recv_start(&server, alloc_none, on_recv);
  loopback4(&addr, port_of(&server));
  async_udp_try_send(&client, &buf, 1, (struct sockaddr *)&addr);
  run_until(&loop, &received, 1);
  assert_int_equal(last_nread, ASYNC_ENOBUFS);
  test_loop_close(&loop);
}

#define MANY 100
static void test_hundred_datagrams_in_order(void **state) {
  static async_udp_send_t reqs[MANY];
  static char payload[MANY][8];
  async_loop_t loop;
  async_udp_t server, client;
  struct sockaddr_in addr;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init(&loop, &client);
  loopback4(&addr, 0);
  async_udp_bind(&server, (struct sockaddr *)&addr, 0);
  async_udp_recv_start(&server, alloc_static, on_recv);
  loopback4(&addr, port_of(&server));
  for (int i = 0; i < MANY; i++) {
    async_buf_t b;
    snprintf(payload[i], sizeof(payload[i]), "%d", i);
    b.base = payload[i];
    b.len = strlen(payload[i]);
    assert_int_equal(async_udp_send(&reqs[i], &client, &b, 1, (struct sockaddr *)&addr, on_sent), 0);
  }
  run_until(&loop, &received, MANY);
  assert_int_equal(sends_done, MANY);
  assert_int_equal(received, MANY);
  assert_string_equal(last_data, "99");
  assert_int_equal(client.send_queue_count, 0);
  assert_int_equal(client.send_queue_size, 0);
  test_loop_close(&loop);
}

static char close_order[8];
static int nclose_order;
static void sent_then(async_udp_send_t *req, int status) {
  (void)req;
  (void)status;
  close_order[nclose_order++] = 's';
}
static void closed_then(async_handle_t *h) {
  (void)h;
  close_order[nclose_order++] = 'c';
}

static void test_send_callbacks_before_close_callback(void **state) {
  async_loop_t loop;
  async_udp_t client;
  async_udp_send_t req;
  struct sockaddr_in addr;
  async_buf_t buf = {(char *)"bye", 3};
  (void)state;
  nclose_order = 0;
  test_loop_init(&loop);
  async_udp_init(&loop, &client);
  loopback4(&addr, 9); /* discard port: nobody needs to listen for a datagram */
  assert_int_equal(async_udp_send(&req, &client, &buf, 1, (struct sockaddr *)&addr, sent_then), 0);
  async_close((async_handle_t *)&client, closed_then);
  assert_int_equal(nclose_order, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(nclose_order, 2);
  assert_memory_equal(close_order, "sc", 2);
  test_loop_close(&loop);
}

static void test_address_in_use_and_reuseport(void **state) {
  async_loop_t loop;
  async_udp_t a, b, c, d;
  struct sockaddr_in addr;
  (void)state;
  test_loop_init(&loop);
  async_udp_init(&loop, &a);
  async_udp_init(&loop, &b);
  async_udp_init(&loop, &c);
  async_udp_init(&loop, &d);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(&a, (struct sockaddr *)&addr, 0), 0);
  loopback4(&addr, port_of(&a));
  assert_int_equal(async_udp_bind(&b, (struct sockaddr *)&addr, 0), ASYNC_EADDRINUSE);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(&c, (struct sockaddr *)&addr, ASYNC_UDP_REUSEPORT), 0);
  loopback4(&addr, port_of(&c));
  assert_int_equal(async_udp_bind(&d, (struct sockaddr *)&addr, ASYNC_UDP_REUSEPORT), 0);
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_udp_t u;
  async_udp_send_t req;
  struct sockaddr_in addr;
  struct sockaddr un;
  async_buf_t buf = {(char *)"x", 1};
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_udp_init(NULL, &u), ASYNC_EINVAL);
  assert_int_equal(async_udp_init(&loop, NULL), ASYNC_EINVAL);
  assert_int_equal(async_udp_init_ex(&loop, &u, AF_UNIX), ASYNC_EINVAL);
  assert_int_equal(async_udp_init(&loop, &u), 0);
  /* no socket yet */
  assert_int_equal(async_udp_set_ttl(&u, 10), ASYNC_EBADF);
  assert_int_equal(async_udp_set_broadcast(&u, 1), ASYNC_EBADF);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(NULL, (struct sockaddr *)&addr, 0), ASYNC_EINVAL);
  assert_int_equal(async_udp_bind(&u, NULL, 0), ASYNC_EINVAL);
  assert_int_equal(async_udp_bind(&u, (struct sockaddr *)&addr, 64), ASYNC_EINVAL);
  assert_int_equal(async_udp_bind(&u, (struct sockaddr *)&addr, ASYNC_UDP_IPV6ONLY), ASYNC_EINVAL);
  memset(&un, 0, sizeof(un));
  un.sa_family = AF_UNIX;
  assert_int_equal(async_udp_bind(&u, &un, 0), ASYNC_EINVAL);
  assert_int_equal(async_udp_send(&req, &u, &buf, 1, NULL, on_sent), ASYNC_EINVAL); /* no peer */
  assert_int_equal(async_udp_send(NULL, &u, &buf, 1, (struct sockaddr *)&addr, on_sent), ASYNC_EINVAL);
  assert_int_equal(async_udp_send(&req, &u, NULL, 1, (struct sockaddr *)&addr, on_sent), ASYNC_EINVAL);
  assert_int_equal(async_udp_recv_start(&u, NULL, on_recv), ASYNC_EINVAL);
  assert_int_equal(async_udp_recv_start(&u, alloc_static, NULL), ASYNC_EINVAL);
  assert_int_equal(async_udp_recv_start(&u, alloc_static, on_recv), 0); /* binds 0.0.0.0:0 */
  assert_true(port_of(&u) > 0);
  assert_int_equal(async_udp_recv_start(&u, alloc_static, on_recv), ASYNC_EALREADY);
  assert_int_equal(async_udp_set_ttl(&u, 0), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_ttl(&u, 256), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_multicast_ttl(&u, -1), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_membership(&u, "not an address", NULL, ASYNC_JOIN_GROUP),
                   ASYNC_EINVAL);
  assert_int_equal(async_udp_open(&u, 0), ASYNC_EBUSY);
  assert_int_equal(async_udp_recv_stop(&u), 0);
  assert_int_equal(async_udp_recv_stop(&u), 0);
  async_close((async_handle_t *)&u, NULL);
  assert_int_equal(async_udp_send(&req, &u, &buf, 1, (struct sockaddr *)&addr, on_sent), ASYNC_EINVAL);
  assert_int_equal(async_udp_recv_start(&u, alloc_static, on_recv), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_options(void **state) {
  async_loop_t loop;
  async_udp_t u;
  int err;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_udp_init_ex(&loop, &u, AF_INET), 0);
  assert_int_equal(async_udp_set_broadcast(&u, 1), 0);
  assert_int_equal(async_udp_set_ttl(&u, 32), 0);
  assert_int_equal(async_udp_set_multicast_ttl(&u, 4), 0);
  assert_int_equal(async_udp_set_multicast_loop(&u, 1), 0);
  /* Where the system does not know the option (qemu-user passes no
   * IP_MULTICAST_IF on), it says so for any interface. */
  err = async_udp_set_multicast_interface(&u, "127.0.0.1");
  assert_true(err == 0 || (test_emulated() && err == ASYNC_ENOTSUP));
  assert_int_equal(async_udp_set_multicast_interface(&u, NULL), err); /* the system's choice */
  assert_int_equal(async_udp_set_multicast_interface(&u, "::1"), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_multicast_on_loopback(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  struct sockaddr_in addr;
  async_buf_t buf = {(char *)"group", 5};
  int err;
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init_ex(&loop, &client, AF_INET);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  assert_int_equal(async_udp_bind(&server, (struct sockaddr *)&addr, ASYNC_UDP_REUSEADDR), 0);
  err = async_udp_set_membership(&server, "239.255.42.1", "127.0.0.1", ASYNC_JOIN_GROUP);
  if (err != 0) {
    /* Loopback without multicast in this network namespace: the error says so. */
    print_message("multicast join on loopback refused: %s\n", async_err_name(err));
    assert_true(err == ASYNC_ENODEV || err == ASYNC_EADDRNOTAVAIL || err == ASYNC_ENOBUFS);
  } else {
    async_udp_recv_start(&server, alloc_static, on_recv);
    assert_int_equal(async_udp_set_multicast_loop(&client, 1), 0);
    inet_pton(AF_INET, "239.255.42.1", &addr.sin_addr);
    addr.sin_port = htons((uint16_t)port_of(&server));
    err = async_udp_set_multicast_interface(&client, "127.0.0.1");
    if (err != 0) {
      /* No IP_MULTICAST_IF here (qemu-user), so no way to send by loopback. */
      print_message("multicast interface option unknown here: %s\n", async_err_name(err));
      assert_true(test_emulated() && err == ASYNC_ENOTSUP);
    } else if ((err = (int)async_udp_try_send(&client, &buf, 1, (struct sockaddr *)&addr)) < 0) {
      print_message("multicast send on loopback refused: %s\n", async_err_name(err));
      assert_true(err == ASYNC_ENETUNREACH || err == ASYNC_EADDRNOTAVAIL);
    } else {
      run_until(&loop, &received, 1);
      assert_string_equal(last_data, "group");
      assert_int_equal(async_udp_set_membership(&server, "239.255.42.1", "127.0.0.1",
                                                ASYNC_LEAVE_GROUP), 0);
    }
  }
  test_loop_close(&loop);
}

static void test_open_existing_socket(void **state) {
  async_loop_t loop;
  async_udp_t u, v;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), sfd = socket(AF_INET, SOCK_STREAM, 0);
  (void)state;
  test_loop_init(&loop);
  async_udp_init(&loop, &u);
  async_udp_init(&loop, &v);
  assert_int_equal(async_udp_open(&v, sfd), ASYNC_EINVAL); /* not a datagram socket */
  assert_int_equal(async_udp_open(&u, -1), ASYNC_EINVAL);
  assert_int_equal(async_udp_open(&u, fd), 0);
  assert_int_equal(async_udp_set_ttl(&u, 9), 0);
  test_loop_close(&loop); /* closes fd with the handle */
  close(sfd);
}

static void test_recv_stop_and_unref(void **state) {
  async_loop_t loop;
  async_udp_t server, client;
  struct sockaddr_in addr;
  async_buf_t buf = {(char *)"q", 1};
  (void)state;
  reset();
  test_loop_init(&loop);
  async_udp_init(&loop, &server);
  async_udp_init(&loop, &client);
  loopback4(&addr, 0);
  async_udp_bind(&server, (struct sockaddr *)&addr, 0);
  async_udp_recv_start(&server, alloc_static, on_recv);
  assert_true(async_loop_alive(&loop));
  async_unref((async_handle_t *)&server);
  assert_false(async_loop_alive(&loop));
  async_ref((async_handle_t *)&server);
  async_udp_recv_stop(&server);
  assert_false(async_is_active((async_handle_t *)&server));
  loopback4(&addr, port_of(&server));
  async_udp_try_send(&client, &buf, 1, (struct sockaddr *)&addr);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(received, 0);
  async_udp_recv_start(&server, alloc_static, on_recv); /* the datagram waited */
  run_until(&loop, &received, 1);
  assert_int_equal(received, 1);
  test_loop_close(&loop);
}

/* ---- batch receive (recvmmsg) --------------------------------------------- */

static int mmsg_allocs, mmsg_frees, mmsg_chunks, mmsg_plain, mmsg_next, mmsg_in_order;
static int mmsg_batch, mmsg_largest_batch;
static size_t mmsg_suggested;

static void alloc_heap(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  (void)h;
  mmsg_suggested = suggested;
  buf->len = 1 << 20;
  buf->base = malloc(buf->len);
  mmsg_allocs++;
  mmsg_batch = 0;
}

static void alloc_heap_small(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  alloc_heap(h, suggested, buf);
  buf->len = 65536; /* too small to batch: one datagram per buffer */
}

/* The buffer is freed exactly once: after its last slice (MMSG_FREE), or
 * with its only datagram, or unused. */
static void on_recv_mmsg(async_udp_t *udp, long nread, const async_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags) {
  (void)udp;
  if (flags & ASYNC_UDP_MMSG_CHUNK) {
    char want[16];
    snprintf(want, sizeof(want), "%d", mmsg_next++);
    mmsg_in_order += nread == (long)strlen(want) && memcmp(buf->base, want, (size_t)nread) == 0;
    mmsg_chunks++;
    if (++mmsg_batch > mmsg_largest_batch)
      mmsg_largest_batch = mmsg_batch;
    assert_non_null(addr);
    return;
  }
  if (nread > 0) {
    char want[16];
    snprintf(want, sizeof(want), "%d", mmsg_next++);
    mmsg_in_order += nread == (long)strlen(want) && memcmp(buf->base, want, (size_t)nread) == 0;
    mmsg_plain++;
  }
  free(buf->base);
  mmsg_frees++;
}

static void send_numbered(async_loop_t *loop, async_udp_t *server, int n) {
  struct sockaddr_in addr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  (void)loop;
  assert_true(fd >= 0);
  loopback4(&addr, port_of(server));
  for (int i = 0; i < n; i++) {
    char msg[16];
    int len = snprintf(msg, sizeof(msg), "%d", i);
    assert_int_equal(sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&addr, sizeof(addr)), len);
  }
  close(fd);
}

static void mmsg_reset(void) {
  mmsg_allocs = mmsg_frees = mmsg_chunks = mmsg_plain = mmsg_next = mmsg_in_order = 0;
  mmsg_batch = mmsg_largest_batch = 0;
}

static void test_recvmmsg_batches(void **state) {
  async_loop_t loop;
  async_udp_t server;
  struct sockaddr_in addr;
  (void)state;
  mmsg_reset();
  test_loop_init(&loop);
  assert_int_equal(async_udp_init_ex(&loop, &server, AF_INET | ASYNC_UDP_RECVMMSG), 0);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_udp_recv_start(&server, alloc_heap, on_recv_mmsg), 0);
  send_numbered(&loop, &server, 200); /* all queued before the loop looks */
  for (int i = 0; i < 2000 && mmsg_next < 200; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(mmsg_next, 200);
  assert_int_equal(mmsg_in_order, 200);
  assert_true(mmsg_suggested > 65536); /* batching asks for a large buffer */
#if defined(__linux__)
  assert_int_equal(mmsg_chunks, 200);
  assert_true(mmsg_largest_batch > 1); /* several datagrams per system call */
#endif
  assert_int_equal(async_udp_recv_stop(&server), 0);
  assert_int_equal(mmsg_allocs, mmsg_frees);
  test_loop_close(&loop);
}

static void test_recvmmsg_with_small_buffer_is_plain(void **state) {
  async_loop_t loop;
  async_udp_t server;
  struct sockaddr_in addr;
  (void)state;
  mmsg_reset();
  test_loop_init(&loop);
  assert_int_equal(async_udp_init_ex(&loop, &server, AF_INET | ASYNC_UDP_RECVMMSG), 0);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_udp_recv_start(&server, alloc_heap_small, on_recv_mmsg), 0);
  send_numbered(&loop, &server, 50);
  for (int i = 0; i < 2000 && mmsg_next < 50; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(mmsg_in_order, 50);
  assert_int_equal(mmsg_chunks, 0);
  assert_int_equal(mmsg_plain, 50);
  assert_int_equal(async_udp_recv_stop(&server), 0);
  assert_int_equal(mmsg_allocs, mmsg_frees);
  test_loop_close(&loop);
}

static void test_recvmmsg_stop_inside_a_batch(void **state);

/* An unbound IPv6 socket that starts receiving is bound to the IPv6 any
 * address, not handed an IPv4 one it would refuse. */
static void test_recv_start_binds_own_family(void **state) {
  async_loop_t loop;
  async_udp_t u;
  struct sockaddr_storage name;
  int len = (int)sizeof(name);
  int err;
  (void)state;
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_UDP) || async_udp_init_ex(&loop, &u, AF_INET6) != 0) {
    test_loop_close(&loop); /* no UDP here, or no IPv6 on this machine */
    return;
  }
  assert_int_equal(async_udp_recv_start(&u, alloc_static, on_recv), 0);
  assert_int_equal(async_udp_getsockname(&u, (struct sockaddr *)&name, &len), 0);
  assert_int_equal(name.ss_family, AF_INET6);
  assert_true(((struct sockaddr_in6 *)&name)->sin6_port != 0);
  /* An IPv6 socket takes its multicast interface as a scope: by index here.
   * A system that does not know the option says so (qemu-user passes no
   * IPV6_MULTICAST_IF on), and then says it for every scope. */
  err = async_udp_set_multicast_interface(&u, NULL);
  assert_true(err == 0 || (test_emulated() && err == ASYNC_ENOTSUP));
  assert_int_equal(async_udp_set_multicast_interface(&u, "::%1"), err);
  assert_int_equal(async_udp_set_multicast_interface(&u, "127.0.0.1"), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_echo_v4),
  TEST(test_echo_v6),
  TEST(test_recv_start_binds_own_family),
  TEST(test_connected_peer),
  TEST(test_truncated_datagram),
  TEST(test_no_buffer_is_enobufs),
  TEST(test_hundred_datagrams_in_order),
  TEST(test_send_callbacks_before_close_callback),
  TEST(test_address_in_use_and_reuseport),
  TEST(test_bad_input),
  TEST(test_options),
  TEST(test_multicast_on_loopback),
  TEST(test_open_existing_socket),
  TEST(test_recv_stop_and_unref),
  TEST(test_recvmmsg_batches),
  TEST(test_recvmmsg_with_small_buffer_is_plain),
  TEST(test_recvmmsg_stop_inside_a_batch),
};

static void stop_after_three(async_udp_t *udp, long nread, const async_buf_t *buf,
                             const struct sockaddr *addr, unsigned flags) {
  on_recv_mmsg(udp, nread, buf, addr, flags);
  if (mmsg_next == 3)
    async_udp_recv_stop(udp);
}

/* Stopping from a slice's callback ends the batch; the buffer still comes back. */
static void test_recvmmsg_stop_inside_a_batch(void **state) {
  async_loop_t loop;
  async_udp_t server;
  struct sockaddr_in addr;
  (void)state;
  mmsg_reset();
  test_loop_init(&loop);
  assert_int_equal(async_udp_init_ex(&loop, &server, AF_INET | ASYNC_UDP_RECVMMSG), 0);
  loopback4(&addr, 0);
  assert_int_equal(async_udp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_udp_recv_start(&server, alloc_heap, stop_after_three), 0);
  send_numbered(&loop, &server, 10);
  for (int i = 0; i < 200 && mmsg_next < 3; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(mmsg_next, 3);
  assert_int_equal(mmsg_in_order, 3);
  assert_int_equal(mmsg_allocs, mmsg_frees);
  {
    async_udp_t other;
    assert_int_equal(async_udp_init_ex(&loop, &other, AF_UNIX | ASYNC_UDP_RECVMMSG), ASYNC_EINVAL);
  }
  test_loop_close(&loop);
}

TEST_MAIN("udp", tests)
