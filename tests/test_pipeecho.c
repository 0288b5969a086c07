/* Pipes through the public API only, so that every platform runs it: a
 * named endpoint (a Unix socket path on Unix, \\.\pipe\ on Windows) with
 * echo over several clients, a missing name, a name in use, cancellation
 * on close, and async_pipe() pairs with EOF. 64 clients at once: more than
 * a Windows server keeps waiting, so some wait for an instance. */
#include "helper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
# include <process.h>
# define test_getpid() _getpid()
#else
# include <unistd.h>
# define test_getpid() getpid()
#endif

static void pipe_name(char *buf, size_t len, const char *tag) {
#if defined(_WIN32)
  snprintf(buf, len, "\\\\.\\pipe\\async-test-%d-%s", (int)test_getpid(), tag);
#else
  snprintf(buf, len, "/tmp/async-test-%d-%s.sock", (int)test_getpid(), tag);
#endif
}

/* Named endpoints need pipes, and on Unix Unix sockets. */
static int named_caps(async_loop_t *loop) {
  async_pipe_t p;
  unsigned need = ASYNC_CAP_PIPE;
#if !defined(_WIN32)
  need |= ASYNC_CAP_UNIX_SOCKET;
#endif
  if (test_has_caps(loop, need))
    return 1;
  assert_int_equal(async_pipe_init(loop, &p), test_has_caps(loop, ASYNC_CAP_PIPE) ? 0 : ASYNC_ENOTSUP);
  if (test_has_caps(loop, ASYNC_CAP_PIPE))
    async_close((async_handle_t *)&p, NULL);
  return 0;
}

/* ---- an echo server -------------------------------------------------------- */

typedef struct {
  async_pipe_t pipe;
  async_write_t w;
  async_buf_t buf;
  char data[4096];
} conn_t;

static async_pipe_t server;
static int accepted;

static void free_conn(async_handle_t *h) { free(h->data); }

static void conn_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  conn_t *c = h->data;
  (void)size;
  buf->base = c->data;
  buf->len = sizeof(c->data);
}

static void conn_read(async_stream_t *s, long n, const async_buf_t *buf);

static void conn_written(async_write_t *w, int status) {
  conn_t *c = w->data;
  if (status == 0 && !async_is_closing((async_handle_t *)&c->pipe))
    async_read_start((async_stream_t *)&c->pipe, conn_alloc, conn_read);
}

static void conn_read(async_stream_t *s, long n, const async_buf_t *buf) {
  conn_t *c = s->data;
  if (n > 0) {
    async_read_stop(s);
    c->buf.base = buf->base;
    c->buf.len = (size_t)n;
    c->w.data = c;
    assert_int_equal(async_write(&c->w, s, &c->buf, 1, conn_written), 0);
  } else if (n < 0) {
    async_close((async_handle_t *)s, free_conn);
  }
}

static void on_connection(async_stream_t *srv, int status) {
  conn_t *c;
  assert_int_equal(status, 0);
  c = calloc(1, sizeof(*c));
  assert_non_null(c);
  assert_int_equal(async_pipe_init(srv->loop, &c->pipe), 0);
  c->pipe.data = c;
  assert_int_equal(async_accept(srv, (async_stream_t *)&c->pipe), 0);
  assert_int_equal(async_read_start((async_stream_t *)&c->pipe, conn_alloc, conn_read), 0);
  accepted++;
}

/* ---- clients ------------------------------------------------------------------ */

typedef struct {
  async_pipe_t pipe;
  async_connect_t conn;
  async_write_t w;
  async_buf_t out;
  char msg[64];
  char in[64];
  size_t got;
  int status;
} client_t;

static int clients_done;

static void client_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  client_t *c = h->data;
  (void)size;
  buf->base = c->in + c->got;
  buf->len = sizeof(c->in) - c->got;
}

static void client_read(async_stream_t *s, long n, const async_buf_t *buf) {
  client_t *c = s->data;
  (void)buf;
  assert_true(n >= 0);
  c->got += (size_t)n;
  if (c->got == strlen(c->msg)) {
    clients_done++;
    async_close((async_handle_t *)s, NULL);
  }
}

static void client_connected(async_connect_t *req, int status) {
  client_t *c = req->data;
  c->status = status;
  assert_int_equal(status, 0);
  assert_int_equal(async_read_start((async_stream_t *)&c->pipe, client_alloc, client_read), 0);
  c->out.base = c->msg;
  c->out.len = strlen(c->msg);
  assert_int_equal(async_write(&c->w, (async_stream_t *)&c->pipe, &c->out, 1, NULL), 0);
}

static void stop_when_done(async_idle_t *idle) {
  int *want = idle->data;
  if (clients_done == *want) {
    async_close((async_handle_t *)&server, NULL);
    async_close((async_handle_t *)idle, NULL);
  }
}

#define NCLIENTS 64 /* more than the instances a Windows server keeps waiting */
static void test_named_echo(void **state) {
  async_loop_t loop;
  async_idle_t idle;
  static client_t c[NCLIENTS];
  char name[128];
  int want = NCLIENTS;
  (void)state;
  test_loop_init(&loop);
  if (named_caps(&loop)) {
    pipe_name(name, sizeof(name), "echo");
    accepted = clients_done = 0;
    assert_int_equal(async_pipe_init(&loop, &server), 0);
    assert_int_equal(async_pipe_bind(&server, name), 0);
    assert_int_equal(async_listen((async_stream_t *)&server, 128, on_connection), 0);
    for (int i = 0; i < NCLIENTS; i++) {
      memset(&c[i], 0, sizeof(c[i]));
      snprintf(c[i].msg, sizeof(c[i].msg), "hello from client %d", i);
      assert_int_equal(async_pipe_init(&loop, &c[i].pipe), 0);
      c[i].pipe.data = &c[i];
      c[i].conn.data = &c[i];
      assert_int_equal(async_pipe_connect(&c[i].conn, &c[i].pipe, name, client_connected), 0);
    }
    assert_int_equal(async_idle_init(&loop, &idle), 0);
    idle.data = &want;
    assert_int_equal(async_idle_start(&idle, stop_when_done), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(clients_done, NCLIENTS);
    {
      char got_name[128];
      size_t len = sizeof(got_name);
      assert_int_equal(async_pipe_getsockname(&server, got_name, &len), ASYNC_EINVAL); /* closed */
    }
    assert_int_equal(accepted, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++)
      assert_memory_equal(c[i].in, c[i].msg, strlen(c[i].msg));
  }
  test_loop_close(&loop);
}

static int connect_status;
static void record_connect(async_connect_t *req, int status) {
  (void)req;
  connect_status = status;
}

static void test_missing_name_and_name_in_use(void **state) {
  async_loop_t loop;
  async_pipe_t a, b, c;
  async_connect_t req;
  char name[128];
  (void)state;
  test_loop_init(&loop);
  if (named_caps(&loop)) {
    pipe_name(name, sizeof(name), "nobody");
    connect_status = 1;
    assert_int_equal(async_pipe_init(&loop, &a), 0);
    assert_int_equal(async_pipe_connect(&req, &a, name, record_connect), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(connect_status, ASYNC_ENOENT);
    pipe_name(name, sizeof(name), "taken");
    assert_int_equal(async_pipe_init(&loop, &b), 0);
    assert_int_equal(async_pipe_init(&loop, &c), 0);
    assert_int_equal(async_pipe_bind(&b, name), 0);
    assert_int_equal(async_pipe_bind(&c, name), ASYNC_EADDRINUSE);
    async_close((async_handle_t *)&a, NULL);
    async_close((async_handle_t *)&b, NULL);
    async_close((async_handle_t *)&c, NULL);
  }
  test_loop_close(&loop);
}

static async_pipe_t names_accepted;
static void accept_static(async_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_pipe_init(srv->loop, &names_accepted), 0);
  assert_int_equal(async_accept(srv, (async_stream_t *)&names_accepted), 0);
  accepted++;
}

static void test_names(void **state) {
  async_loop_t loop;
  async_pipe_t srv, cl;
  async_connect_t req;
  char name[128], got_name[128];
  size_t len;
  (void)state;
  test_loop_init(&loop);
  if (named_caps(&loop)) {
    pipe_name(name, sizeof(name), "names");
    assert_int_equal(async_pipe_init(&loop, &srv), 0);
    assert_int_equal(async_pipe_bind(&srv, name), 0);
    len = sizeof(got_name);
    assert_int_equal(async_pipe_getsockname(&srv, got_name, &len), 0);
    assert_int_equal(len, strlen(name));
    assert_string_equal(got_name, name);
    len = 4;
    assert_int_equal(async_pipe_getsockname(&srv, got_name, &len), ASYNC_ENOBUFS);
    assert_int_equal(len, strlen(name));
    accepted = 0;
    assert_int_equal(async_listen((async_stream_t *)&srv, 4, accept_static), 0);
    connect_status = 1;
    assert_int_equal(async_pipe_init(&loop, &cl), 0);
    assert_int_equal(async_pipe_connect(&req, &cl, name, record_connect), 0);
    while (connect_status == 1 || accepted == 0)
      async_run(&loop, ASYNC_RUN_ONCE);
    assert_int_equal(connect_status, 0);
    len = sizeof(got_name); /* the accepted end carries the server's name, its peer none */
    assert_int_equal(async_pipe_getsockname(&names_accepted, got_name, &len), 0);
    assert_string_equal(got_name, name);
    len = sizeof(got_name);
    assert_int_equal(async_pipe_getpeername(&names_accepted, got_name, &len), 0);
    assert_int_equal(len, 0);
    len = sizeof(got_name);
    assert_int_equal(async_pipe_getpeername(&cl, got_name, &len), 0);
    assert_string_equal(got_name, name);
    len = sizeof(got_name); /* the client is unnamed */
    assert_int_equal(async_pipe_getsockname(&cl, got_name, &len), 0);
    assert_int_equal(len, 0);
    async_close((async_handle_t *)&cl, NULL);
    async_close((async_handle_t *)&srv, NULL);
    async_close((async_handle_t *)&names_accepted, NULL);
  }
  test_loop_close(&loop);
}

/* ---- async_pipe pairs ---------------------------------------------------------- */

static char got[64];
static size_t ngot;
static int saw_eof, write_status;

static void pair_read(async_stream_t *s, long n, const async_buf_t *buf) {
  if (n > 0) {
    memcpy(got + ngot, buf->base, (size_t)n);
    ngot += (size_t)n;
  } else if (n == ASYNC_EOF) {
    saw_eof = 1;
    async_close((async_handle_t *)s, NULL);
  }
}

static void closes_writer(async_write_t *w, int status) {
  write_status = status;
  async_close((async_handle_t *)w->handle, NULL);
}

static void test_pair_bytes_then_eof(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req;
  async_buf_t b = {"through the pair", 16};
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  if (test_has_caps(&loop, ASYNC_CAP_PIPE)) {
    ngot = 0;
    saw_eof = 0;
    write_status = 1;
    assert_int_equal(async_pipe(fds, ASYNC_PIPE_NONBLOCK), 0);
    assert_int_equal(async_pipe_init(&loop, &r), 0);
    assert_int_equal(async_pipe_init(&loop, &w), 0);
    assert_int_equal(async_pipe_open(&r, fds[0]), 0);
    assert_int_equal(async_pipe_open(&w, fds[1]), 0);
    assert_int_equal(async_read_start((async_stream_t *)&r, test_alloc_slab, pair_read), 0);
    assert_int_equal(async_write(&req, (async_stream_t *)&w, &b, 1, closes_writer), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(write_status, 0);
    assert_int_equal(ngot, 16);
    assert_memory_equal(got, "through the pair", 16);
    assert_int_equal(saw_eof, 1);
  }
  test_loop_close(&loop);
}

/* Writes nobody reads stay pending; closing completes each with ECANCELED. */
static void test_close_cancels_pending_writes(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req[4];
  async_buf_t b;
  size_t len = (size_t)8 << 20;
  char *big;
  int fds[2], cancelled = 0;
  (void)state;
  test_loop_init(&loop);
  if (test_has_caps(&loop, ASYNC_CAP_PIPE)) {
    big = calloc(1, len);
    assert_non_null(big);
    b.base = big;
    b.len = len;
    assert_int_equal(async_pipe(fds, ASYNC_PIPE_NONBLOCK), 0);
    assert_int_equal(async_pipe_init(&loop, &r), 0);
    assert_int_equal(async_pipe_init(&loop, &w), 0);
    assert_int_equal(async_pipe_open(&r, fds[0]), 0);
    assert_int_equal(async_pipe_open(&w, fds[1]), 0);
    for (int i = 0; i < 4; i++) {
      req[i].data = &cancelled;
      assert_int_equal(async_write(&req[i], (async_stream_t *)&w, &b, 1, NULL), 0);
    }
    assert_true(async_stream_write_queue_size((async_stream_t *)&w) > 0);
    async_run(&loop, ASYNC_RUN_NOWAIT);
    async_close((async_handle_t *)&w, NULL);
    async_close((async_handle_t *)&r, NULL);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    for (int i = 0; i < 4; i++)
      cancelled += req[i].status_ == ASYNC_ECANCELED;
    assert_true(cancelled >= 1);
    free(big);
  }
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_named_echo),
  TEST(test_missing_name_and_name_in_use),
  TEST(test_names),
  TEST(test_pair_bytes_then_eof),
  TEST(test_close_cancels_pending_writes),
};

TEST_MAIN("pipeecho", tests)
