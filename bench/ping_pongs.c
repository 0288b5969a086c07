/* ping_pongs: libuv's ping-pong workload on libasync, every peer found and a
 * raw baseline.
 *
 *   ping_pongs [--seconds N | --quick] [libasync|libuv|libev|libevent|raw ...]
 *
 * One TCP connection over loopback; the client writes "PING\n" (5 bytes), the
 * server echoes what it reads, and the client sends the next PING once the
 * whole echo is back. Client and server live in the same loop (one thread),
 * as in libuv's benchmark. Runs for N seconds (5 by default, 1 with --quick)
 * and reports round trips/s and process CPU time per round trip.
 *   libasync  async_tcp_t: listen/accept/connect, read_start, async_write
 *   libuv     uv_tcp_t: the same calls in libuv
 *   libev     ev_io readers on a connected non-blocking pair; read(2)/write(2)
 *             in the callbacks (libev has no stream layer)
 *   libevent  persistent EV_READ events on the same kind of pair, plain
 *             read(2)/write(2) (the lightest way libevent offers; bufferevents
 *             add a copy)
 *   raw       no loop: one thread, blocking sockets, write/read/write/read per
 *             round trip. Loopback delivers during write(2), so no read ever
 *             sleeps: four system calls per trip, the machine's limit.
 * Every connection has TCP_NODELAY. Ratios: libasync rate / the other's
 * (higher is better for libasync); the "of raw" column is each rate / raw's.
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PING "PING\n"
#define PING_LEN 5

enum { TRIPS, SECS, CPU_US };

enum { WAIT, SEND, STOP };  /* what the client does after some pong bytes */

static double seconds;
static long trips;
static size_t pong_bytes;  /* bytes of the current echo received so far */
static double t0, cpu0;
static char rbuf[65536];   /* every read lands here; it is consumed at once */

static void start_clock(void) {
  t0 = bench_now();
  cpu0 = bench_cpu();
}

/* The clock is read every 64 trips: often enough at ~100 k trips/s, rare
 * enough to cost nothing. */
static int on_pong_bytes(size_t n) {
  pong_bytes += n;
  if (pong_bytes < PING_LEN)
    return WAIT;
  pong_bytes -= PING_LEN;
  trips++;
  if ((trips & 63) == 0 && bench_now() - t0 >= seconds)
    return STOP;
  return SEND;
}

static void finish(struct bench_result *r, const char *backend) {
  r->v[SECS] = bench_now() - t0;
  r->v[TRIPS] = (double)trips;
  r->v[CPU_US] = trips > 0 ? (bench_cpu() - cpu0) * 1e6 / (double)trips : 0;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else if (trips == 0)
    bench_fail(r, "no round trip completed");
  else
    bench_ok(r, backend);
}

/* ---- libasync ------------------------------------------------------------ */

static async_tcp_t a_listener, a_server, a_client;
static async_connect_t a_connect;
static async_write_t a_ping_req, a_echo_req;
static char a_echo[65536];
static int a_echo_busy;

static void a_close_all(void) {
  async_close((async_handle_t *)&a_client, NULL);
  async_close((async_handle_t *)&a_server, NULL);
  async_close((async_handle_t *)&a_listener, NULL);
}

static void a_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  (void)h, (void)size;
  buf->base = rbuf;
  buf->len = sizeof rbuf;
}

static void a_ping_written(async_write_t *req, int status) {
  (void)req;
  if (status != 0)
    bench_note_failure("write", async_strerror(status));
}

static void a_echo_written(async_write_t *req, int status) {
  (void)req;
  a_echo_busy = 0;
  if (status != 0)
    bench_note_failure("write", async_strerror(status));
}

static void a_send_ping(void) {
  async_buf_t b = {PING, PING_LEN};
  int err = async_write(&a_ping_req, (async_stream_t *)&a_client, &b, 1, a_ping_written);
  if (err != 0) {
    bench_note_failure("async_write", async_strerror(err));
    a_close_all();
  }
}

/* The echo is copied: the read buffer is reused before the write completes. */
static void a_server_read(async_stream_t *s, long n, const async_buf_t *buf) {
  async_buf_t b = {a_echo, (size_t)n};
  int err;
  if (n == 0 || n == ASYNC_EOF)
    return;
  if (n < 0 || a_echo_busy) {
    bench_note_failure("server read", n < 0 ? async_strerror((int)n) : "echo still in flight");
    a_close_all();
    return;
  }
  memcpy(a_echo, buf->base, (size_t)n);
  a_echo_busy = 1;
  if ((err = async_write(&a_echo_req, s, &b, 1, a_echo_written)) != 0) {
    bench_note_failure("async_write", async_strerror(err));
    a_close_all();
  }
}

static void a_client_read(async_stream_t *s, long n, const async_buf_t *buf) {
  (void)s, (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    bench_note_failure("client read", async_strerror((int)n));
    a_close_all();
    return;
  }
  switch (on_pong_bytes((size_t)n)) {
  case SEND: a_send_ping(); break;
  case STOP: a_close_all(); break;
  default: break;
  }
}

static void a_on_connection(async_stream_t *server, int status) {
  int err = status;
  if (err == 0 && (err = async_tcp_init(server->loop, &a_server)) == 0 &&
      (err = async_accept(server, (async_stream_t *)&a_server)) == 0 &&
      (err = async_tcp_nodelay(&a_server, 1)) == 0)
    err = async_read_start((async_stream_t *)&a_server, a_alloc, a_server_read);
  if (err != 0) {
    bench_note_failure("accept", async_strerror(err));
    a_close_all();
  }
}

static void a_on_connect(async_connect_t *req, int status) {
  int err = status;
  (void)req;
  if (err == 0 && (err = async_tcp_nodelay(&a_client, 1)) == 0)
    err = async_read_start((async_stream_t *)&a_client, a_alloc, a_client_read);
  if (err != 0) {
    bench_note_failure("connect", async_strerror(err));
    a_close_all();
    return;
  }
  start_clock();
  a_send_ping();
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof addr, err;
  (void)arg;
  if ((err = bench_async_loop_init(&loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if ((err = async_tcp_init(&loop, &a_listener)) != 0 ||
      (err = async_tcp_bind(&a_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = async_listen((async_stream_t *)&a_listener, 16, a_on_connection)) != 0 ||
      (err = async_tcp_getsockname(&a_listener, (struct sockaddr *)&addr, &len)) != 0 ||
      (err = async_tcp_init(&loop, &a_client)) != 0 ||
      (err = async_tcp_connect(&a_connect, &a_client, (struct sockaddr *)&addr, a_on_connect)) != 0)
    BENCH_FAIL(r, "setup: %s", async_strerror(err));
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  finish(r, async_loop_backend(&loop));
  if ((err = async_loop_close(&loop)) != 0)
    bench_fail(r, "async_loop_close: %s", async_strerror(err));
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_tcp_t u_listener, u_server, u_client;
static uv_connect_t u_connect;
static uv_write_t u_ping_req, u_echo_req;
static char u_echo[65536];
static int u_echo_busy;

static void u_close_all(void) {
  uv_close((uv_handle_t *)&u_client, NULL);
  uv_close((uv_handle_t *)&u_server, NULL);
  uv_close((uv_handle_t *)&u_listener, NULL);
}

static void u_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void u_ping_written(uv_write_t *req, int status) {
  (void)req;
  if (status != 0)
    bench_note_failure("write", uv_strerror(status));
}

static void u_echo_written(uv_write_t *req, int status) {
  (void)req;
  u_echo_busy = 0;
  if (status != 0)
    bench_note_failure("write", uv_strerror(status));
}

static void u_send_ping(void) {
  uv_buf_t b = uv_buf_init(PING, PING_LEN);
  int err = uv_write(&u_ping_req, (uv_stream_t *)&u_client, &b, 1, u_ping_written);
  if (err != 0) {
    bench_note_failure("uv_write", uv_strerror(err));
    u_close_all();
  }
}

static void u_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  uv_buf_t b = uv_buf_init(u_echo, (unsigned)n);
  int err;
  if (n == 0 || n == UV_EOF)
    return;
  if (n < 0 || u_echo_busy) {
    bench_note_failure("server read", n < 0 ? uv_strerror((int)n) : "echo still in flight");
    u_close_all();
    return;
  }
  memcpy(u_echo, buf->base, (size_t)n);
  u_echo_busy = 1;
  if ((err = uv_write(&u_echo_req, s, &b, 1, u_echo_written)) != 0) {
    bench_note_failure("uv_write", uv_strerror(err));
    u_close_all();
  }
}

static void u_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)s, (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    bench_note_failure("client read", uv_strerror((int)n));
    u_close_all();
    return;
  }
  switch (on_pong_bytes((size_t)n)) {
  case SEND: u_send_ping(); break;
  case STOP: u_close_all(); break;
  default: break;
  }
}

static void u_on_connection(uv_stream_t *server, int status) {
  int err = status;
  if (err == 0 && (err = uv_tcp_init(server->loop, &u_server)) == 0 &&
      (err = uv_accept(server, (uv_stream_t *)&u_server)) == 0 &&
      (err = uv_tcp_nodelay(&u_server, 1)) == 0)
    err = uv_read_start((uv_stream_t *)&u_server, u_alloc, u_server_read);
  if (err != 0) {
    bench_note_failure("accept", uv_strerror(err));
    u_close_all();
  }
}

static void u_on_connect(uv_connect_t *req, int status) {
  int err = status;
  (void)req;
  if (err == 0 && (err = uv_tcp_nodelay(&u_client, 1)) == 0)
    err = uv_read_start((uv_stream_t *)&u_client, u_alloc, u_client_read);
  if (err != 0) {
    bench_note_failure("connect", uv_strerror(err));
    u_close_all();
    return;
  }
  start_clock();
  u_send_ping();
}

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof addr, err;
  (void)arg;
  if ((err = uv_loop_init(&loop)) != 0)
    BENCH_FAIL(r, "uv_loop_init: %s", uv_strerror(err));
  if ((err = uv_tcp_init(&loop, &u_listener)) != 0 ||
      (err = uv_tcp_bind(&u_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = uv_listen((uv_stream_t *)&u_listener, 16, u_on_connection)) != 0 ||
      (err = uv_tcp_getsockname(&u_listener, (struct sockaddr *)&addr, &len)) != 0 ||
      (err = uv_tcp_init(&loop, &u_client)) != 0 ||
      (err = uv_tcp_connect(&u_connect, &u_client, (struct sockaddr *)&addr, u_on_connect)) != 0)
    BENCH_FAIL(r, "setup: %s", uv_strerror(err));
  uv_run(&loop, UV_RUN_DEFAULT);
  finish(r, "epoll");
  if ((err = uv_loop_close(&loop)) != 0)
    bench_fail(r, "uv_loop_close: %s", uv_strerror(err));
}
#endif

/* ---- readiness peers: the work done in libev's and libevent's callbacks -- */

#if defined(HAVE_LIBEV) || defined(HAVE_LIBEVENT)
static int pair[2];  /* [0] client, [1] server; non-blocking */

static int fd_send_ping(void) {
  if (write(pair[0], PING, PING_LEN) == PING_LEN)
    return 0;
  bench_note_failure("write", strerror(errno));
  return -1;
}

/* Echoes what arrived; -1 on an error or EOF (the loop should end). */
static int fd_server_readable(void) {
  ssize_t n = read(pair[1], rbuf, sizeof rbuf);
  if (n > 0 && write(pair[1], rbuf, (size_t)n) == n)
    return 0;
  if (n < 0 && errno == EAGAIN)
    return 0;
  bench_note_failure("server", n == 0 ? "EOF" : strerror(errno));
  return -1;
}

/* SEND after sending the next ping, WAIT, or STOP (time is up or an error). */
static int fd_client_readable(void) {
  ssize_t n = read(pair[0], rbuf, sizeof rbuf);
  int next;
  if (n < 0 && errno == EAGAIN)
    return WAIT;
  if (n <= 0) {
    bench_note_failure("client", n == 0 ? "EOF" : strerror(errno));
    return STOP;
  }
  next = on_pong_bytes((size_t)n);
  if (next == SEND && fd_send_ping() != 0)
    return STOP;
  return next;
}
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static ev_io e_server, e_client;

static void e_stop(struct ev_loop *loop) {
  ev_io_stop(loop, &e_server);
  ev_io_stop(loop, &e_client);
}

static void e_server_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)w, (void)revents;
  if (fd_server_readable() != 0)
    e_stop(loop);
}

static void e_client_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)w, (void)revents;
  if (fd_client_readable() == STOP)
    e_stop(loop);
}

static void run_libev(struct bench_result *r, const void *arg) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  (void)arg;
  if (loop == NULL || bench_tcp_pair(pair, 1) != 0)
    BENCH_FAIL(r, "ev_loop_new or the TCP pair failed");
  ev_io_init(&e_server, e_server_cb, pair[1], BENCH_EV_READ);
  ev_io_init(&e_client, e_client_cb, pair[0], BENCH_EV_READ);
  ev_io_start(loop, &e_server);
  ev_io_start(loop, &e_client);
  start_clock();
  if (fd_send_ping() == 0)
    ev_run(loop, 0);
  finish(r, ev_backend(loop) == EVBACKEND_EPOLL ? "epoll" : "other");
  ev_loop_destroy(loop);
}
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static struct event *le_server, *le_client;

static void le_stop(void) {
  event_del(le_server);
  event_del(le_client);
}

static void le_server_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
  if (fd_server_readable() != 0)
    le_stop();
}

static void le_client_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
  if (fd_client_readable() == STOP)
    le_stop();
}

static void run_libevent(struct bench_result *r, const void *arg) {
  struct event_base *base = event_base_new();
  (void)arg;
  if (base == NULL || bench_tcp_pair(pair, 1) != 0)
    BENCH_FAIL(r, "event_base_new or the TCP pair failed");
  le_server = event_new(base, pair[1], EV_READ | EV_PERSIST, le_server_cb, NULL);
  le_client = event_new(base, pair[0], EV_READ | EV_PERSIST, le_client_cb, NULL);
  if (le_server == NULL || le_client == NULL || event_add(le_server, NULL) != 0 ||
      event_add(le_client, NULL) != 0)
    BENCH_FAIL(r, "event_new/event_add failed");
  start_clock();
  if (fd_send_ping() == 0)
    event_base_dispatch(base);
  finish(r, event_base_get_method(base));
  event_free(le_server);
  event_free(le_client);
  event_base_free(base);
}
#endif

/* ---- raw ----------------------------------------------------------------- */

static void run_raw(struct bench_result *r, const void *arg) {
  int fds[2];
  char buf[PING_LEN];
  (void)arg;
  if (bench_tcp_pair(fds, 0) != 0)
    BENCH_FAIL(r, "the TCP pair failed");
  start_clock();
  for (;;) {
    if (write(fds[0], PING, PING_LEN) != PING_LEN || bench_read_full(fds[1], buf, PING_LEN) != 0 ||
        write(fds[1], buf, PING_LEN) != PING_LEN || bench_read_full(fds[0], buf, PING_LEN) != 0) {
      bench_note_failure("raw", strerror(errno));
      break;
    }
    if (on_pong_bytes(PING_LEN) == STOP)
      break;
  }
  finish(r, "blocking");
  close(fds[0]);
  close(fds[1]);
}

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {BENCH_IMPLS {"raw", run_raw}};
#define NIMPLS (sizeof impls / sizeof impls[0])

static double rate(const struct bench_result *r) { return r->v[TRIPS] / r->v[SECS]; }

static double advantage(const struct bench_result *a, const char *other,
                        const struct bench_result *res) {
  const struct bench_result *p = bench_find(impls, NIMPLS, res, other);
  return a != NULL && p != NULL ? rate(a) / rate(p) : -1;
}

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *raw;
  char what[64];

  seconds = bench_seconds(argc, argv, 5);
  bench_print_env();
  printf("\nping_pongs: one TCP connection over loopback, 5-byte PING echoed, %.0f s each\n",
         seconds);
  bench_run_all(impls, NIMPLS, NULL, res, (unsigned)seconds + 60, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  raw = bench_find(impls, NIMPLS, res, "raw");
  printf("%-18s %12s %12s %12s %8s  %s\n", "implementation", "trips", "trips/s", "cpu us/trip",
         "of raw", "libasync advantage (libasync trips/s / other's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %12.0f %12.0f %12.2f", r->v[TRIPS], rate(r), r->v[CPU_US]);
    bench_print_of_raw(rate(r), raw != NULL ? rate(raw) : 0);
    if (a != NULL && i > 0)
      printf("  %.2fx", rate(a) / rate(r));
    printf("\n");
  }
  printf("targets:\n");
  bench_target("ping_pongs >= 0.95x raw", advantage(a, "raw", res), 0.95);
  for (size_t i = 1; i + 1 < NIMPLS; i++) {
    snprintf(what, sizeof what, "ping_pongs ahead of %s", impls[i].name);
    bench_target(what, advantage(a, impls[i].name, res), 1.0);
  }
  return 0;
}
