/* The stream contract, checked on every transport: each behaviour below runs
 * over a TCP connection, a Unix socket connection and a pipe. "a" writes,
 * "b" reads (a pipe goes one way only). */
#include "helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum transport { TCP, UNIX_SOCKET, PIPE };

union stream {
  async_stream_t s;
  async_tcp_t tcp;
  async_pipe_t pipe;
};

static union stream a, b, listener;
static async_connect_t creq;
static int ready;

/* ---- reader and writer bookkeeping --------------------------------------- */

static char rx[1 << 16];
static size_t rx_len;
static int eofs, read_errors, last_read_error, reads, writes_done, last_write_status;
static int order_ok, next_write, closes;
static int stop_after_first_read, close_in_read;

static void reset(void) {
  rx_len = 0;
  eofs = read_errors = reads = writes_done = next_write = closes = 0;
  last_read_error = last_write_status = 1;
  order_ok = 1;
  stop_after_first_read = close_in_read = 0;
}

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  if (nread == ASYNC_EOF) {
    eofs++;
    return;
  }
  if (nread < 0) {
    read_errors++;
    last_read_error = (int)nread;
    return;
  }
  if (nread == 0)
    return; /* nothing for now: the buffer comes back unused */
  reads++;
  if (rx_len + (size_t)nread <= sizeof(rx))
    memcpy(rx + rx_len, buf->base, (size_t)nread);
  rx_len += (size_t)nread;
  if (stop_after_first_read)
    async_read_stop(s);
  if (close_in_read)
    async_close((async_handle_t *)s, NULL);
}

static void on_write(async_write_t *req, int status) {
  (void)req;
  writes_done++;
  last_write_status = status;
}

static void on_close(async_handle_t *h) {
  (void)h;
  closes++;
}

static void run_until(async_loop_t *loop, int *counter, int want) {
  for (int i = 0; i < 200000 && *counter < want; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

static void run_until_bytes(async_loop_t *loop, size_t want) {
  for (int i = 0; i < 200000 && rx_len < want; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

/* ---- making a connected pair ---------------------------------------------- */

static void on_accept(async_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  if (srv->type == ASYNC_TCP)
    assert_int_equal(async_tcp_init(srv->loop, &b.tcp), 0);
  else
    assert_int_equal(async_pipe_init(srv->loop, &b.pipe), 0);
  assert_int_equal(async_accept(srv, &b.s), 0);
  ready++;
}

static void on_connected(async_connect_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  ready++;
}

static void wait_ready(async_loop_t *loop) {
  run_until(loop, &ready, 2);
  assert_int_equal(ready, 2);
  assert_int_equal(async_close((async_handle_t *)&listener, NULL), 0);
}

static void tcp_pair(async_loop_t *loop) {
  struct sockaddr_in addr;
  int len = sizeof(addr);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(async_tcp_init(loop, &listener.tcp), 0);
  assert_int_equal(async_tcp_bind(&listener.tcp, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_listen(&listener.s, 4, on_accept), 0);
  assert_int_equal(async_tcp_getsockname(&listener.tcp, (struct sockaddr *)&addr, &len), 0);
  assert_int_equal(async_tcp_init(loop, &a.tcp), 0);
  assert_int_equal(async_tcp_connect(&creq, &a.tcp, (struct sockaddr *)&addr, on_connected), 0);
  wait_ready(loop);
}

static void unix_pair(async_loop_t *loop) {
  char name[64];
  size_t len = (size_t)snprintf(name + 1, sizeof(name) - 1, "async-stream-%d", (int)getpid()) + 1;
  name[0] = '\0'; /* abstract: nothing to clean up on disk */
  assert_int_equal(async_pipe_init(loop, &listener.pipe), 0);
  assert_int_equal(async_pipe_bind2(&listener.pipe, name, len), 0);
  assert_int_equal(async_listen(&listener.s, 4, on_accept), 0);
  assert_int_equal(async_pipe_init(loop, &a.pipe), 0);
  assert_int_equal(async_pipe_connect2(&creq, &a.pipe, name, len, on_connected), 0);
  wait_ready(loop);
}

static void pipe_pair(async_loop_t *loop) {
  int fds[2];
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_init(loop, &a.pipe), 0);
  assert_int_equal(async_pipe_init(loop, &b.pipe), 0);
  assert_int_equal(async_pipe_open(&a.pipe, fds[1]), 0);
  assert_int_equal(async_pipe_open(&b.pipe, fds[0]), 0);
}

static void make_pair(async_loop_t *loop, enum transport t) {
  reset();
  ready = 0;
  test_loop_init(loop);
  if (t == TCP)
    tcp_pair(loop);
  else if (t == UNIX_SOCKET)
    unix_pair(loop);
  else
    pipe_pair(loop);
}

/* ---- behaviours ------------------------------------------------------------ */

static void round_trip_and_eof(enum transport t) {
  async_loop_t loop;
  async_write_t w;
  async_buf_t msg = {(char *)"hello", 5};
  make_pair(&loop, t);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&w, &a.s, &msg, 1, on_write), 0);
  run_until_bytes(&loop, 5);
  assert_memory_equal(rx, "hello", 5);
  assert_int_equal(async_close((async_handle_t *)&a, NULL), 0);
  run_until(&loop, &eofs, 1);
  assert_int_equal(eofs, 1);
  assert_int_equal(async_is_readable(&b.s), 0); /* the end was read */
  assert_int_equal(async_is_active((async_handle_t *)&b), 0);
  test_loop_close(&loop);
}

static void read_start_twice(enum transport t) {
  async_loop_t loop;
  make_pair(&loop, t);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), ASYNC_EALREADY);
  assert_int_equal(async_read_stop(&b.s), 0);
  assert_int_equal(async_read_stop(&b.s), 0); /* idempotent */
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  test_loop_close(&loop);
}

/* Stopping inside the callback leaves the rest in the kernel until a restart. */
static void read_stop_in_callback(enum transport t) {
  async_loop_t loop;
  async_write_t w1, w2;
  async_buf_t one = {(char *)"one", 3}, two = {(char *)"two", 3};
  make_pair(&loop, t);
  stop_after_first_read = 1;
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&w1, &a.s, &one, 1, on_write), 0);
  run_until(&loop, &reads, 1);
  assert_int_equal(async_write(&w2, &a.s, &two, 1, on_write), 0);
  run_until(&loop, &writes_done, 2);
  for (int i = 0; i < 20; i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(reads, 1);
  assert_int_equal(rx_len, 3);
  stop_after_first_read = 0;
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  run_until_bytes(&loop, 6);
  assert_memory_equal(rx, "onetwo", 6);
  test_loop_close(&loop);
}

static void close_in_read_callback(enum transport t) {
  async_loop_t loop;
  async_write_t w;
  async_buf_t msg = {(char *)"bye", 3};
  make_pair(&loop, t);
  close_in_read = 1;
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&w, &a.s, &msg, 1, on_write), 0);
  run_until(&loop, &reads, 1);
  assert_int_equal(async_close((async_handle_t *)&a, NULL), 0);
  for (int i = 0; i < 20; i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(reads, 1);
  assert_int_equal(eofs, 0); /* nothing after the close */
  assert_int_equal(async_is_closing((async_handle_t *)&b), 1);
  test_loop_close(&loop);
}

/* Each write's callback queues the next: 100 in a chain, in order. */
static async_write_t chain[100];
static char chain_text[100][4];
static void chain_next(async_write_t *req, int status) {
  int i = (int)(req - chain);
  assert_int_equal(status, 0);
  order_ok &= i == next_write;
  next_write++;
  writes_done++;
  if (i + 1 < 100) {
    async_buf_t b2 = {chain_text[i + 1], 3};
    assert_int_equal(async_write(&chain[i + 1], req->handle, &b2, 1, chain_next), 0);
  }
}

static void writes_chained_from_callbacks(enum transport t) {
  async_loop_t loop;
  async_buf_t first;
  make_pair(&loop, t);
  for (int i = 0; i < 100; i++)
    snprintf(chain_text[i], sizeof(chain_text[i]), "%03d", i);
  first.base = chain_text[0];
  first.len = 3;
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&chain[0], &a.s, &first, 1, chain_next), 0);
  run_until_bytes(&loop, 300);
  run_until(&loop, &writes_done, 100);
  assert_int_equal(writes_done, 100);
  assert_true(order_ok);
  for (int i = 0; i < 100; i++)
    assert_memory_equal(rx + 3 * i, chain_text[i], 3);
  test_loop_close(&loop);
}

/* More buffers than one system call takes, in one request. */
static void many_buffers_in_one_write(enum transport t) {
  enum { N = 300 };
  static async_buf_t bufs[N];
  static char text[N][4];
  async_loop_t loop;
  async_write_t w;
  make_pair(&loop, t);
  for (int i = 0; i < N; i++) {
    snprintf(text[i], sizeof(text[i]), "%03d", i);
    bufs[i].base = text[i];
    bufs[i].len = 3;
  }
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&w, &a.s, bufs, N, on_write), 0);
  run_until_bytes(&loop, 3 * N);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, 0);
  assert_int_equal(rx_len, 3 * N);
  for (int i = 0; i < N; i++)
    assert_memory_equal(rx + 3 * i, text[i], 3);
  test_loop_close(&loop);
}

static void zero_length_write_completes(enum transport t) {
  async_loop_t loop;
  async_write_t w;
  make_pair(&loop, t);
  assert_int_equal(async_write(&w, &a.s, NULL, 0, on_write), 0);
  assert_int_equal(writes_done, 0); /* never inside the call */
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, 0);
  test_loop_close(&loop);
}

/* Nobody reads: what the kernel refused is counted, try_write says EAGAIN
 * behind a queue, and reading drains everything. */
static void queue_accounting_and_try_write(enum transport t) {
  static char big[4 << 20];
  async_loop_t loop;
  async_write_t w;
  async_buf_t bb = {big, sizeof(big)}, small = {(char *)"x", 1};
  size_t queued;
  make_pair(&loop, t);
  assert_int_equal(async_write(&w, &a.s, &bb, 1, on_write), 0);
  queued = async_stream_write_queue_size(&a.s);
#if defined(_WIN32)
  /* Windows pipes are completion-based: a write is queued whole until the
   * kernel says it is done, never partly written within the call. */
  if (t == PIPE)
    assert_true(queued == sizeof(big));
  else
#endif
  assert_true(queued > 0 && queued < sizeof(big));
  assert_int_equal(a.s.write_queue_size, queued);
  assert_int_equal(async_try_write(&a.s, &small, 1), ASYNC_EAGAIN);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, 0);
  assert_int_equal(async_stream_write_queue_size(&a.s), 0);
  run_until_bytes(&loop, sizeof(big)); /* the kernel buffer is empty again */
#if defined(_WIN32)
  /* ... and have no non-blocking write to try. */
  if (t == PIPE) {
    assert_int_equal(async_try_write(&a.s, &small, 1), ASYNC_EAGAIN);
    assert_int_equal(rx_len, sizeof(big));
    test_loop_close(&loop);
    return;
  }
#endif
  assert_int_equal(async_try_write(&a.s, &small, 1), 1);
  run_until_bytes(&loop, sizeof(big) + 1);
  assert_int_equal(rx_len, sizeof(big) + 1);
  test_loop_close(&loop);
}

static void shutdown_rules(enum transport t) {
  async_loop_t loop;
  async_shutdown_t s1, s2;
  async_write_t w;
  async_buf_t msg = {(char *)"last", 4};
  make_pair(&loop, t);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&w, &a.s, &msg, 1, on_write), 0);
  assert_int_equal(async_shutdown(&s1, &a.s, NULL), 0);
  assert_int_equal(async_shutdown(&s2, &a.s, NULL), ASYNC_EALREADY);
  assert_int_equal(async_is_writable(&a.s), 0);
  assert_int_equal(async_write(&w, &a.s, &msg, 1, on_write), ASYNC_EINVAL);
  assert_int_equal(async_try_write(&a.s, &msg, 1), ASYNC_EINVAL);
  run_until(&loop, &eofs, 1);
  assert_int_equal(eofs, 1); /* the bytes, then the end */
  assert_int_equal(rx_len, 4);
  assert_int_equal(writes_done, 1);
  test_loop_close(&loop);
}

/* The reader is gone: the write fails once (EPIPE, or ECONNRESET when a
 * socket peer reset first), the process gets no SIGPIPE. */
static void write_to_vanished_reader(enum transport t) {
  async_loop_t loop;
  async_write_t w;
  static char data[1 << 20];
  async_buf_t bb = {data, sizeof(data)};
  make_pair(&loop, t);
  assert_int_equal(async_close((async_handle_t *)&b, NULL), 0);
  run_until(&loop, &closes, 0);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(async_write(&w, &a.s, &bb, 1, on_write), 0);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(writes_done, 1);
  assert_true(last_write_status == ASYNC_EPIPE || last_write_status == ASYNC_ECONNRESET);
  test_loop_close(&loop);
}

static void close_cancels_in_order(enum transport t) {
  static char big[4 << 20];
  async_loop_t loop;
  async_write_t w1, w2;
  async_shutdown_t sh;
  async_buf_t bb = {big, sizeof(big)};
  make_pair(&loop, t);
  assert_int_equal(async_write(&w1, &a.s, &bb, 1, on_write), 0);
  assert_int_equal(async_write(&w2, &a.s, &bb, 1, on_write), 0);
  assert_int_equal(async_shutdown(&sh, &a.s, NULL), 0);
  assert_int_equal(async_close((async_handle_t *)&a, on_close), 0);
  assert_int_equal(async_write(&w1, &a.s, &bb, 1, on_write), ASYNC_EINVAL); /* closing */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(writes_done, 2);
  assert_int_equal(last_write_status, ASYNC_ECANCELED);
  assert_int_equal(closes, 1);
  test_loop_close(&loop);
}

/* A one-byte buffer from the alloc callback: every byte still arrives. */
static void alloc_one_byte(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  static char one;
  (void)h;
  (void)suggested;
  buf->base = &one;
  buf->len = 1;
}

static void tiny_read_buffers(enum transport t) {
  async_loop_t loop;
  async_write_t w;
  async_buf_t msg = {(char *)"abcdefghijklmnopqrstuvwxyz", 26};
  make_pair(&loop, t);
  assert_int_equal(async_read_start(&b.s, alloc_one_byte, on_read), 0);
  assert_int_equal(async_write(&w, &a.s, &msg, 1, on_write), 0);
  run_until_bytes(&loop, 26);
  assert_memory_equal(rx, msg.base, 26);
  assert_int_equal(reads, 26);
  test_loop_close(&loop);
}

/* An unreferenced reading stream does not keep the loop running. */
static void unref_reader_lets_run_return(enum transport t) {
  async_loop_t loop;
  make_pair(&loop, t);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_is_active((async_handle_t *)&b), 1);
  async_unref((async_handle_t *)&b);
  if (t != PIPE)
    async_unref((async_handle_t *)&a);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(reads, 0);
  test_loop_close(&loop);
}

static void fileno_and_directions(enum transport t) {
  async_loop_t loop;
  int fa = -1, fb = -1;
  make_pair(&loop, t);
  assert_int_equal(async_fileno((async_handle_t *)&a, &fa), 0);
  assert_int_equal(async_fileno((async_handle_t *)&b, &fb), 0);
  assert_true(fa >= 0 && fb >= 0 && fa != fb);
  assert_int_equal(async_is_writable(&a.s), 1);
  assert_int_equal(async_is_readable(&b.s), 1);
  assert_int_equal(async_is_readable(&a.s), t != PIPE);
  assert_int_equal(async_is_writable(&b.s), t != PIPE);
  test_loop_close(&loop);
}

/* A stream that is reading cannot listen; a connected one cannot connect. */
static void listen_and_accept_misuse(enum transport t) {
  async_loop_t loop;
  union stream other;
  make_pair(&loop, t);
  assert_int_equal(async_read_start(&b.s, test_alloc_slab, on_read), 0);
  assert_int_equal(async_listen(&b.s, 4, on_accept), ASYNC_EINVAL);
  if (t == TCP)
    assert_int_equal(async_tcp_init(&loop, &other.tcp), 0);
  else
    assert_int_equal(async_pipe_init(&loop, &other.pipe), 0);
  assert_int_equal(async_accept(&b.s, &other.s), ASYNC_EINVAL); /* not listening */
  test_loop_close(&loop);
}

/* ---- one test case per behaviour and transport ----------------------------- */

/* A transport the backend under test lacks is refused with ASYNC_ENOTSUP
 * and its capability bit is off (Windows: no Unix sockets; select there:
 * no pipes). */
static int have(enum transport t) {
  async_loop_t loop;
  async_pipe_t p;
  unsigned cap = t == TCP ? ASYNC_CAP_TCP : t == PIPE ? ASYNC_CAP_PIPE : ASYNC_CAP_UNIX_SOCKET;
  int ok;
  test_loop_init(&loop);
  ok = test_has_caps(&loop, cap);
  if (!ok && t == UNIX_SOCKET && test_has_caps(&loop, ASYNC_CAP_PIPE)) {
    assert_int_equal(async_pipe_init(&loop, &p), 0);
    assert_int_equal(async_pipe_bind2(&p, "\0async-stream", 13), ASYNC_ENOTSUP);
    async_close((async_handle_t *)&p, NULL);
  } else if (!ok && t != TCP) {
    assert_int_equal(async_pipe_init(&loop, &p), ASYNC_ENOTSUP);
  }
  test_loop_close(&loop);
  return ok;
}

#define ON_EVERY_TRANSPORT(name)                                  \
  static void name##_tcp(void **state) { (void)state; if (have(TCP)) name(TCP); } \
  static void name##_unix(void **state) { (void)state; if (have(UNIX_SOCKET)) name(UNIX_SOCKET); } \
  static void name##_pipe(void **state) { (void)state; if (have(PIPE)) name(PIPE); }
#define CASES(name) TEST(name##_tcp), TEST(name##_unix), TEST(name##_pipe)

ON_EVERY_TRANSPORT(round_trip_and_eof)
ON_EVERY_TRANSPORT(read_start_twice)
ON_EVERY_TRANSPORT(read_stop_in_callback)
ON_EVERY_TRANSPORT(close_in_read_callback)
ON_EVERY_TRANSPORT(writes_chained_from_callbacks)
ON_EVERY_TRANSPORT(many_buffers_in_one_write)
ON_EVERY_TRANSPORT(zero_length_write_completes)
ON_EVERY_TRANSPORT(queue_accounting_and_try_write)
ON_EVERY_TRANSPORT(shutdown_rules)
ON_EVERY_TRANSPORT(write_to_vanished_reader)
ON_EVERY_TRANSPORT(close_cancels_in_order)
ON_EVERY_TRANSPORT(tiny_read_buffers)
ON_EVERY_TRANSPORT(unref_reader_lets_run_return)
ON_EVERY_TRANSPORT(fileno_and_directions)
ON_EVERY_TRANSPORT(listen_and_accept_misuse)

static const struct CMUnitTest tests[] = {
  CASES(round_trip_and_eof),
  CASES(read_start_twice),
  CASES(read_stop_in_callback),
  CASES(close_in_read_callback),
  CASES(writes_chained_from_callbacks),
  CASES(many_buffers_in_one_write),
  CASES(zero_length_write_completes),
  CASES(queue_accounting_and_try_write),
  CASES(shutdown_rules),
  CASES(write_to_vanished_reader),
  CASES(close_cancels_in_order),
  CASES(tiny_read_buffers),
  CASES(unref_reader_lets_run_return),
  CASES(fileno_and_directions),
  CASES(listen_and_accept_misuse),
};

TEST_MAIN("stream", tests)
