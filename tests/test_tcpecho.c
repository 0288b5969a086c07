/* TCP through the public API only, so that every platform runs it: echo
 * with 100 connections at once, 64 MiB with a checksum, EOF after
 * shutdown, refused connects, cancellation on close, names, try_write. */
#include "helper.h"

#if defined(_WIN32)
# include <ws2tcpip.h> /* through async.h already; named for the reader */
#else
# include <arpa/inet.h>
# include <netinet/in.h>
#endif
#include <stdlib.h>
#include <string.h>

/* ---- a server that echoes everything back ------------------------------- */

typedef struct {
  async_tcp_t tcp;
  async_write_t w;
  async_buf_t buf;
  char data[65536];
  int busy;
} echo_conn_t;

static async_tcp_t server;
static int server_conns;

static void free_conn(async_handle_t *h) { free(h->data); }

static void echo_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  echo_conn_t *c = h->data;
  (void)size;
  buf->base = c->data;
  buf->len = sizeof(c->data);
}

static void echo_read(async_stream_t *s, long n, const async_buf_t *buf);

static void echo_written(async_write_t *w, int status) {
  echo_conn_t *c = w->data;
  c->busy = 0;
  if (status == 0 && !async_is_closing((async_handle_t *)&c->tcp))
    async_read_start((async_stream_t *)&c->tcp, echo_alloc, echo_read);
}

/* One buffer per connection: stop reading until it is written back. */
static void echo_read(async_stream_t *s, long n, const async_buf_t *buf) {
  echo_conn_t *c = s->data;
  if (n > 0) {
    async_read_stop(s);
    c->buf.base = buf->base;
    c->buf.len = (size_t)n;
    c->w.data = c;
    c->busy = 1;
    assert_int_equal(async_write(&c->w, s, &c->buf, 1, echo_written), 0);
  } else if (n < 0) {
    async_close((async_handle_t *)s, free_conn);
  }
}

static void on_connection(async_stream_t *srv, int status) {
  echo_conn_t *c;
  assert_int_equal(status, 0);
  c = calloc(1, sizeof(*c));
  assert_non_null(c);
  assert_int_equal(async_tcp_init(srv->loop, &c->tcp), 0);
  c->tcp.data = c;
  assert_int_equal(async_accept(srv, (async_stream_t *)&c->tcp), 0);
  assert_int_equal(async_read_start((async_stream_t *)&c->tcp, echo_alloc, echo_read), 0);
  server_conns++;
}

static void start_server(async_loop_t *loop, struct sockaddr_in *addr) {
  server_conns = 0;
  test_tcp_listen(loop, &server, addr, 128, on_connection);
}

/* ---- clients -------------------------------------------------------------- */

typedef struct {
  async_tcp_t tcp;
  async_connect_t conn;
  async_write_t w;
  async_buf_t out;
  size_t to_send, sent_total, got;
  uint32_t sum_out, sum_in;
  char *payload;
  char in[65536];
  int connected, done;
} client_t;

static int clients_done;

static uint32_t checksum(uint32_t sum, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    sum = sum * 31u + (unsigned char)p[i];
  return sum;
}

static void client_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  client_t *c = h->data;
  (void)size;
  buf->base = c->in;
  buf->len = sizeof(c->in);
}

static void client_read(async_stream_t *s, long n, const async_buf_t *buf) {
  client_t *c = s->data;
  assert_true(n >= 0);
  c->sum_in = checksum(c->sum_in, buf->base, (size_t)n);
  c->got += (size_t)n;
  if (c->got == c->to_send) {
    c->done = 1;
    clients_done++;
    async_close((async_handle_t *)s, NULL);
  }
}

static void client_send_next(client_t *c);

static void client_written(async_write_t *w, int status) {
  client_t *c = w->data;
  assert_int_equal(status, 0);
  client_send_next(c);
}

/* 1 MiB a write, so that a large transfer is many queued writes in turn. */
static void client_send_next(client_t *c) {
  size_t chunk = c->to_send - c->sent_total;
  if (chunk == 0)
    return;
  if (chunk > (1u << 20))
    chunk = 1u << 20;
  c->out.base = c->payload + c->sent_total;
  c->out.len = chunk;
  c->sent_total += chunk;
  c->w.data = c;
  assert_int_equal(async_write(&c->w, (async_stream_t *)&c->tcp, &c->out, 1, client_written), 0);
}

static void client_connected(async_connect_t *req, int status) {
  client_t *c = req->data;
  assert_int_equal(status, 0);
  c->connected = 1;
  assert_int_equal(async_read_start((async_stream_t *)&c->tcp, client_alloc, client_read), 0);
  client_send_next(c);
}

static void client_start(async_loop_t *loop, client_t *c, const struct sockaddr_in *addr,
                         char *payload, size_t len) {
  memset(c, 0, offsetof(client_t, in));
  c->payload = payload;
  c->to_send = len;
  c->sum_out = checksum(0, payload, len);
  assert_int_equal(async_tcp_init(loop, &c->tcp), 0);
  c->tcp.data = c;
  c->conn.data = c;
  assert_int_equal(async_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)addr,
                                     client_connected), 0);
}

static void close_server_when_done(async_idle_t *idle) {
  int *want = idle->data;
  if (clients_done == *want) {
    async_close((async_handle_t *)&server, NULL);
    async_close((async_handle_t *)idle, NULL);
  }
}

static void run_clients(async_loop_t *loop, int want) {
  async_idle_t idle;
  clients_done = 0;
  assert_int_equal(async_idle_init(loop, &idle), 0);
  idle.data = &want;
  assert_int_equal(async_idle_start(&idle, close_server_when_done), 0);
  assert_int_equal(async_run(loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(clients_done, want);
}

static void test_echo_one(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  static client_t c;
  char msg[] = "hello, echo";
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    start_server(&loop, &addr);
    client_start(&loop, &c, &addr, msg, sizeof(msg));
    run_clients(&loop, 1);
    assert_int_equal(c.sum_in, c.sum_out);
    assert_int_equal(server_conns, 1);
  }
  test_loop_close(&loop);
}

#define NCLIENTS 100
static void test_echo_100_connections(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  static client_t c[NCLIENTS];
  static char payload[NCLIENTS][4096];
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    start_server(&loop, &addr);
    for (int i = 0; i < NCLIENTS; i++) {
      for (size_t j = 0; j < sizeof(payload[i]); j++)
        payload[i][j] = (char)(i * 7 + j * 13);
      client_start(&loop, &c[i], &addr, payload[i], sizeof(payload[i]));
    }
    run_clients(&loop, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++) {
      assert_int_equal(c[i].got, sizeof(payload[i]));
      assert_int_equal(c[i].sum_in, c[i].sum_out);
    }
    assert_int_equal(server_conns, NCLIENTS);
  }
  test_loop_close(&loop);
}

static void test_64mib_with_checksum(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  static client_t c;
  size_t len = (size_t)64 << 20;
  char *big;
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    big = malloc(len);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++)
      big[i] = (char)((i * 2654435761u) >> 13);
    start_server(&loop, &addr);
    client_start(&loop, &c, &addr, big, len);
    run_clients(&loop, 1);
    assert_int_equal(c.got, len);
    assert_int_equal(c.sum_in, c.sum_out);
    free(big);
  }
  test_loop_close(&loop);
}

/* ---- connection edges ------------------------------------------------------- */

static int connect_status, shutdown_status, read_eof, write_status;

static void record_connect(async_connect_t *req, int status) {
  (void)req;
  connect_status = status;
}

static void test_connect_refused(void **state) {
  async_loop_t loop;
  async_tcp_t t, probe;
  async_connect_t req;
  struct sockaddr_in addr;
  int len = (int)sizeof(addr);
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    /* A port that was just free: bound, named, closed. */
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(async_tcp_init(&loop, &probe), 0);
    assert_int_equal(async_tcp_bind(&probe, (struct sockaddr *)&addr, 0), 0);
    assert_int_equal(async_tcp_getsockname(&probe, (struct sockaddr *)&addr, &len), 0);
    async_close((async_handle_t *)&probe, NULL);
    async_run(&loop, ASYNC_RUN_DEFAULT);
    connect_status = 1;
    assert_int_equal(async_tcp_init(&loop, &t), 0);
    assert_int_equal(async_tcp_connect(&req, &t, (struct sockaddr *)&addr, record_connect), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(connect_status, ASYNC_ECONNREFUSED);
    async_close((async_handle_t *)&t, NULL);
  }
  test_loop_close(&loop);
}

static void test_connect_cancelled_by_close(void **state) {
  async_loop_t loop;
  async_tcp_t t;
  async_connect_t req;
  struct sockaddr_in addr;
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    start_server(&loop, &addr);
    connect_status = 1;
    assert_int_equal(async_tcp_init(&loop, &t), 0);
    assert_int_equal(async_tcp_connect(&req, &t, (struct sockaddr *)&addr, record_connect), 0);
    async_close((async_handle_t *)&t, NULL);
    async_close((async_handle_t *)&server, NULL);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_true(connect_status == ASYNC_ECANCELED || connect_status == 0);
  }
  test_loop_close(&loop);
}

static async_tcp_t accepted;
static void accept_one(async_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_tcp_init(srv->loop, &accepted), 0);
  assert_int_equal(async_accept(srv, (async_stream_t *)&accepted), 0);
  server_conns++;
}

static void read_until_eof(async_stream_t *s, long n, const async_buf_t *buf) {
  (void)buf;
  if (n == ASYNC_EOF) {
    read_eof = 1;
    async_close((async_handle_t *)s, NULL);
  }
}

static void record_shutdown(async_shutdown_t *req, int status) {
  (void)req;
  shutdown_status = status;
}

static void record_write(async_write_t *req, int status) {
  (void)req;
  write_status = status;
}

/* Connects a client to a fresh listener and runs until accepted. */
static void pair(async_loop_t *loop, async_tcp_t *client, struct sockaddr_in *addr) {
  async_connect_t req;
  server_conns = 0;
  test_tcp_listen(loop, &server, addr, 8, accept_one);
  connect_status = 1;
  assert_int_equal(async_tcp_init(loop, client), 0);
  assert_int_equal(async_tcp_connect(&req, client, (struct sockaddr *)addr, record_connect), 0);
  while (connect_status == 1 || server_conns == 0)
    async_run(loop, ASYNC_RUN_ONCE);
  assert_int_equal(connect_status, 0);
  async_close((async_handle_t *)&server, NULL);
}

static void test_shutdown_gives_peer_eof(void **state) {
  async_loop_t loop;
  async_tcp_t client;
  async_shutdown_t sh;
  struct sockaddr_in addr;
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    pair(&loop, &client, &addr);
    read_eof = 0;
    shutdown_status = 1;
    assert_int_equal(async_read_start((async_stream_t *)&accepted, test_alloc_slab, read_until_eof), 0);
    assert_int_equal(async_shutdown(&sh, (async_stream_t *)&client, record_shutdown), 0);
    assert_int_equal(async_shutdown(&sh, (async_stream_t *)&client, record_shutdown), ASYNC_EALREADY);
    while (!read_eof)
      async_run(&loop, ASYNC_RUN_ONCE);
    assert_int_equal(shutdown_status, 0);
    assert_false(async_is_writable((async_stream_t *)&client));
    async_close((async_handle_t *)&client, NULL);
  }
  test_loop_close(&loop);
}

/* A write the peer never reads stays queued; closing cancels it. */
static void test_close_cancels_queued_write(void **state) {
  async_loop_t loop;
  async_tcp_t client;
  async_write_t w;
  async_buf_t b;
  struct sockaddr_in addr;
  size_t len = (size_t)32 << 20;
  char *big;
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    big = calloc(1, len);
    assert_non_null(big);
    pair(&loop, &client, &addr);
    b.base = big;
    b.len = len;
    write_status = 1;
    assert_int_equal(async_write(&w, (async_stream_t *)&client, &b, 1, record_write), 0);
    assert_true(async_stream_write_queue_size((async_stream_t *)&client) > 0);
    assert_int_equal(async_try_write((async_stream_t *)&client, &b, 1), ASYNC_EAGAIN);
    async_close((async_handle_t *)&client, NULL);
    async_close((async_handle_t *)&accepted, NULL);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(write_status, ASYNC_ECANCELED);
    free(big);
  }
  test_loop_close(&loop);
}

static void test_names_and_options(void **state) {
  async_loop_t loop;
  async_tcp_t client;
  struct sockaddr_in addr, mine, peer;
  int len;
  async_buf_t b = {"ping", 4};
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    pair(&loop, &client, &addr);
    len = (int)sizeof(peer);
    assert_int_equal(async_tcp_getpeername(&client, (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(peer.sin_port, addr.sin_port);
    len = (int)sizeof(mine);
    assert_int_equal(async_tcp_getpeername(&accepted, (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(async_tcp_getsockname(&client, (struct sockaddr *)&mine, &len), 0);
    assert_int_equal(mine.sin_port, peer.sin_port);
    assert_int_equal(async_tcp_nodelay(&client, 1), 0);
    assert_int_equal(async_tcp_keepalive(&client, 1, 60), 0);
    assert_int_equal(async_tcp_keepalive(&client, 1, 0), ASYNC_EINVAL);
    assert_int_equal(async_try_write((async_stream_t *)&client, &b, 1), 4);
    assert_true(async_is_readable((async_stream_t *)&client));
    assert_true(async_is_writable((async_stream_t *)&client));
    async_close((async_handle_t *)&client, NULL);
    async_close((async_handle_t *)&accepted, NULL);
  }
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_tcp_t t;
  async_write_t w;
  (void)state;
  test_loop_init(&loop);
  if (test_tcp_caps(&loop)) {
    assert_int_equal(async_tcp_init(NULL, &t), ASYNC_EINVAL);
    assert_int_equal(async_tcp_init_ex(&loop, &t, 12345), ASYNC_EINVAL);
    assert_int_equal(async_tcp_init(&loop, &t), 0);
    assert_int_equal(async_read_start((async_stream_t *)&t, test_alloc_slab, read_until_eof),
                     ASYNC_ENOTCONN);
    assert_int_equal(async_write(&w, (async_stream_t *)&t, NULL, 0, NULL), ASYNC_EINVAL);
    assert_int_equal(async_listen((async_stream_t *)&t, 1, on_connection), ASYNC_EINVAL);
    assert_int_equal(async_accept((async_stream_t *)&t, (async_stream_t *)&t), ASYNC_EINVAL);
    async_close((async_handle_t *)&t, NULL);
  }
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_echo_one),
  TEST(test_echo_100_connections),
  TEST(test_64mib_with_checksum),
  TEST(test_connect_refused),
  TEST(test_connect_cancelled_by_close),
  TEST(test_shutdown_gives_peer_eof),
  TEST(test_close_cancels_queued_write),
  TEST(test_names_and_options),
  TEST(test_bad_input),
};

TEST_MAIN("tcpecho", tests)
