/* pump: one-way TCP throughput with 8 KiB writes, libasync beside libuv,
 * libevent and a raw baseline (libev has no write queue to compare).
 *
 *   pump [1] [100] [--seconds N | --quick] [libasync|libuv|libevent|raw ...]
 *
 * 1 or 100 TCP connections over loopback, both ends in one loop (one thread).
 * Each client keeps 4 writes of the same 8 KiB buffer queued and queues
 * another from each write callback; each server end reads (64 KiB buffer)
 * and throws the bytes away. Runs N seconds (5 by default, 1 with --quick)
 * and reports MiB/s read by the servers and process CPU time per 8 KiB.
 *   libasync  async_tcp_t, async_write, read_start
 *   libuv     uv_tcp_t, uv_write, uv_read_start
 *   libevent  bufferevents (evconnlistener for the server): each client's
 *             output buffer holds references to the same 8 KiB buffer
 *             (evbuffer_add_reference, no copy), refilled to 4 chunks by the
 *             write callback, which a low watermark of 3 chunks triggers;
 *             the servers drain their input (libevent reads at most 16 KiB
 *             per read by default)
 *   raw       no loop: one thread, non-blocking sockets, the connections
 *             in turn: 8 KiB writes to the client end until the kernel
 *             refuses (EAGAIN), then 64 KiB reads from the server end until
 *             it is empty: the loops' pattern and system calls without any
 *             poll, the machine's limit for this workload.
 * Every connection has TCP_NODELAY, so each 8 KiB write is its own segment
 * for everyone (with Nagle on, blocking lockstep writes stall on delayed
 * ACKs, and the loops' segments merge by chance).
 * Ratios: libasync MiB/s / the other's; "of raw" is each rate / raw's.
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef HAVE_LIBEVENT
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#endif

#define MAXCONN 100
#define CHUNK 8192
#define QUEUED 4

enum { BYTES, SECS, CPU_US };

struct config {
  int nconn;
};

static const struct config *cfg;
static double seconds;
static double received;    /* bytes the servers read */
static long reads;
static int stopping;
static double t0, cpu0;
static char chunk[CHUNK];
static char rbuf[65536];

static void start_clock(void) {
  t0 = bench_now();
  cpu0 = bench_cpu();
}

/* A server read n bytes; 1 when time is up. The clock is read every 64 reads. */
static int on_received(size_t n) {
  received += (double)n;
  return (++reads & 63) == 0 && bench_now() - t0 >= seconds;
}

static void finish(struct bench_result *r, const char *backend) {
  r->v[SECS] = bench_now() - t0;
  r->v[BYTES] = received;
  r->v[CPU_US] = received > 0 ? (bench_cpu() - cpu0) * 1e6 / (received / CHUNK) : 0;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else if (received == 0)
    bench_fail(r, "nothing arrived");
  else
    bench_ok(r, backend);
}

/* ---- libasync ------------------------------------------------------------ */

static async_tcp_t a_listener, a_clients[MAXCONN], a_servers[MAXCONN];
static async_connect_t a_connects[MAXCONN];
static async_write_t a_writes[MAXCONN][QUEUED];
static int a_accepted, a_connected;

static void a_close_all(void) {
  stopping = 1;
  if (!async_is_closing((async_handle_t *)&a_listener))
    async_close((async_handle_t *)&a_listener, NULL);
  for (int i = 0; i < cfg->nconn; i++) {
    if (i < a_accepted && !async_is_closing((async_handle_t *)&a_servers[i]))
      async_close((async_handle_t *)&a_servers[i], NULL);
    if (!async_is_closing((async_handle_t *)&a_clients[i]))
      async_close((async_handle_t *)&a_clients[i], NULL);
  }
}

static void a_fail(const char *what, int err) {
  bench_note_failure(what, async_strerror(err));
  a_close_all();
}

static void a_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  (void)h, (void)size;
  buf->base = rbuf;
  buf->len = sizeof rbuf;
}

static void a_written(async_write_t *req, int status);

static void a_write(async_write_t *req, async_stream_t *s) {
  async_buf_t b = {chunk, CHUNK};
  int err = async_write(req, s, &b, 1, a_written);
  if (err != 0)
    a_fail("async_write", err);
}

/* Each finished write queues the next from the same request. */
static void a_written(async_write_t *req, int status) {
  if (stopping)
    return;
  if (status != 0)
    a_fail("write", status);
  else
    a_write(req, req->handle);
}

static void a_server_read(async_stream_t *s, long n, const async_buf_t *buf) {
  (void)s, (void)buf;
  if (n == 0 || stopping)
    return;
  if (n < 0)
    a_fail("server read", (int)n);
  else if (on_received((size_t)n))
    a_close_all();
}

static void a_on_connection(async_stream_t *server, int status) {
  async_tcp_t *t = &a_servers[a_accepted];
  int err = status;
  if (err == 0 && a_accepted == cfg->nconn)
    err = ASYNC_EINVAL;
  if (err == 0 && (err = async_tcp_init(server->loop, t)) == 0) {
    a_accepted++;
    if ((err = async_accept(server, (async_stream_t *)t)) == 0 &&
        (err = async_tcp_nodelay(t, 1)) == 0)
      err = async_read_start((async_stream_t *)t, a_alloc, a_server_read);
  }
  if (err != 0)
    a_fail("accept", err);
}

/* Writing starts once every client is connected. */
static void a_on_connect(async_connect_t *req, int status) {
  if (status == 0)
    status = async_tcp_nodelay((async_tcp_t *)req->handle, 1);
  if (status != 0) {
    a_fail("connect", status);
    return;
  }
  if (++a_connected < cfg->nconn)
    return;
  start_clock();
  for (int i = 0; i < cfg->nconn; i++)
    for (int k = 0; k < QUEUED; k++)
      a_write(&a_writes[i][k], (async_stream_t *)&a_clients[i]);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof addr, err;
  cfg = arg;
  if ((err = async_loop_init(&loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if ((err = async_tcp_init(&loop, &a_listener)) != 0 ||
      (err = async_tcp_bind(&a_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = async_listen((async_stream_t *)&a_listener, MAXCONN, a_on_connection)) != 0 ||
      (err = async_tcp_getsockname(&a_listener, (struct sockaddr *)&addr, &len)) != 0)
    BENCH_FAIL(r, "listen: %s", async_strerror(err));
  for (int i = 0; i < cfg->nconn; i++)
    if ((err = async_tcp_init(&loop, &a_clients[i])) != 0 ||
        (err = async_tcp_connect(&a_connects[i], &a_clients[i], (struct sockaddr *)&addr,
                                 a_on_connect)) != 0)
      BENCH_FAIL(r, "connect: %s", async_strerror(err));
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  finish(r, async_loop_backend(&loop));
  if ((err = async_loop_close(&loop)) != 0)
    bench_fail(r, "async_loop_close: %s", async_strerror(err));
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_tcp_t u_listener, u_clients[MAXCONN], u_servers[MAXCONN];
static uv_connect_t u_connects[MAXCONN];
static uv_write_t u_writes[MAXCONN][QUEUED];
static int u_accepted, u_connected;

static void u_close_all(void) {
  stopping = 1;
  if (!uv_is_closing((uv_handle_t *)&u_listener))
    uv_close((uv_handle_t *)&u_listener, NULL);
  for (int i = 0; i < cfg->nconn; i++) {
    if (i < u_accepted && !uv_is_closing((uv_handle_t *)&u_servers[i]))
      uv_close((uv_handle_t *)&u_servers[i], NULL);
    if (!uv_is_closing((uv_handle_t *)&u_clients[i]))
      uv_close((uv_handle_t *)&u_clients[i], NULL);
  }
}

static void u_fail(const char *what, int err) {
  bench_note_failure(what, uv_strerror(err));
  u_close_all();
}

static void u_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void u_written(uv_write_t *req, int status);

static void u_write(uv_write_t *req, uv_stream_t *s) {
  uv_buf_t b = uv_buf_init(chunk, CHUNK);
  int err = uv_write(req, s, &b, 1, u_written);
  if (err != 0)
    u_fail("uv_write", err);
}

static void u_written(uv_write_t *req, int status) {
  if (stopping)
    return;
  if (status != 0)
    u_fail("write", status);
  else
    u_write(req, req->handle);
}

static void u_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)s, (void)buf;
  if (n == 0 || stopping)
    return;
  if (n < 0)
    u_fail("server read", (int)n);
  else if (on_received((size_t)n))
    u_close_all();
}

static void u_on_connection(uv_stream_t *server, int status) {
  uv_tcp_t *t = &u_servers[u_accepted];
  int err = status;
  if (err == 0 && u_accepted == cfg->nconn)
    err = UV_EINVAL;
  if (err == 0 && (err = uv_tcp_init(server->loop, t)) == 0) {
    u_accepted++;
    if ((err = uv_accept(server, (uv_stream_t *)t)) == 0 && (err = uv_tcp_nodelay(t, 1)) == 0)
      err = uv_read_start((uv_stream_t *)t, u_alloc, u_server_read);
  }
  if (err != 0)
    u_fail("accept", err);
}

static void u_on_connect(uv_connect_t *req, int status) {
  if (status == 0)
    status = uv_tcp_nodelay((uv_tcp_t *)req->handle, 1);
  if (status != 0) {
    u_fail("connect", status);
    return;
  }
  if (++u_connected < cfg->nconn)
    return;
  start_clock();
  for (int i = 0; i < cfg->nconn; i++)
    for (int k = 0; k < QUEUED; k++)
      u_write(&u_writes[i][k], (uv_stream_t *)&u_clients[i]);
}

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof addr, err;
  cfg = arg;
  if ((err = uv_loop_init(&loop)) != 0)
    BENCH_FAIL(r, "uv_loop_init: %s", uv_strerror(err));
  if ((err = uv_tcp_init(&loop, &u_listener)) != 0 ||
      (err = uv_tcp_bind(&u_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = uv_listen((uv_stream_t *)&u_listener, MAXCONN, u_on_connection)) != 0 ||
      (err = uv_tcp_getsockname(&u_listener, (struct sockaddr *)&addr, &len)) != 0)
    BENCH_FAIL(r, "listen: %s", uv_strerror(err));
  for (int i = 0; i < cfg->nconn; i++)
    if ((err = uv_tcp_init(&loop, &u_clients[i])) != 0 ||
        (err = uv_tcp_connect(&u_connects[i], &u_clients[i], (struct sockaddr *)&addr,
                              u_on_connect)) != 0)
      BENCH_FAIL(r, "connect: %s", uv_strerror(err));
  uv_run(&loop, UV_RUN_DEFAULT);
  finish(r, "epoll");
  if ((err = uv_loop_close(&loop)) != 0)
    bench_fail(r, "uv_loop_close: %s", uv_strerror(err));
}
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static struct event_base *le_base;
static struct evconnlistener *le_listener;
static struct bufferevent *le_clients[MAXCONN], *le_servers[MAXCONN];
static int le_accepted, le_connected;

static void le_fail(const char *what) {
  bench_note_failure(what, "failed");
  event_base_loopbreak(le_base);
}

static int nodelay(evutil_socket_t fd) {
  int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Tops the output buffer up to QUEUED chunks, all references to one buffer. */
static void le_fill(struct bufferevent *bev, void *arg) {
  struct evbuffer *out = bufferevent_get_output(bev);
  (void)arg;
  while (evbuffer_get_length(out) < QUEUED * CHUNK)
    if (evbuffer_add_reference(out, chunk, CHUNK, NULL, NULL) != 0) {
      le_fail("evbuffer_add_reference");
      return;
    }
}

static void le_server_read(struct bufferevent *bev, void *arg) {
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n = evbuffer_get_length(in);
  (void)arg;
  evbuffer_drain(in, n);
  if (on_received(n))
    event_base_loopbreak(le_base);
}

static void le_event(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (!(what & BEV_EVENT_CONNECTED)) {
    le_fail(what & BEV_EVENT_EOF ? "unexpected EOF" : "socket error");
    return;
  }
  if (nodelay(bufferevent_getfd(bev)) != 0)
    le_fail("TCP_NODELAY");
  if (++le_connected < cfg->nconn)
    return;
  start_clock();
  for (int i = 0; i < cfg->nconn; i++) {
    bufferevent_setwatermark(le_clients[i], EV_WRITE, (QUEUED - 1) * CHUNK, 0);
    le_fill(le_clients[i], NULL);
  }
}

static void le_on_connection(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int len, void *arg) {
  struct bufferevent *bev;
  (void)l, (void)sa, (void)len, (void)arg;
  if (le_accepted == cfg->nconn || nodelay(fd) != 0 ||
      (bev = bufferevent_socket_new(le_base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
    evutil_closesocket(fd);
    le_fail("accept");
    return;
  }
  le_servers[le_accepted++] = bev;
  bufferevent_setcb(bev, le_server_read, NULL, NULL, NULL);
  bufferevent_enable(bev, EV_READ);
}

static void le_free_all(void) {
  for (int i = 0; i < cfg->nconn; i++)
    if (le_clients[i] != NULL)
      bufferevent_free(le_clients[i]);
  for (int i = 0; i < le_accepted; i++)
    bufferevent_free(le_servers[i]);
  evconnlistener_free(le_listener);
  event_base_free(le_base);
}

static void run_libevent(struct bench_result *r, const void *arg) {
  struct sockaddr_in addr = bench_loopback();
  socklen_t len = sizeof addr;
  cfg = arg;
  if ((le_base = event_base_new()) == NULL)
    BENCH_FAIL(r, "event_base_new failed");
  le_listener = evconnlistener_new_bind(le_base, le_on_connection, NULL,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, MAXCONN,
                                        (struct sockaddr *)&addr, sizeof addr);
  if (le_listener == NULL ||
      getsockname(evconnlistener_get_fd(le_listener), (struct sockaddr *)&addr, &len) != 0)
    BENCH_FAIL(r, "evconnlistener_new_bind failed");
  for (int i = 0; i < cfg->nconn; i++) {
    if ((le_clients[i] = bufferevent_socket_new(le_base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
      BENCH_FAIL(r, "bufferevent_socket_new failed");
    bufferevent_setcb(le_clients[i], NULL, le_fill, le_event, NULL);
    if (bufferevent_socket_connect(le_clients[i], (struct sockaddr *)&addr, sizeof addr) != 0)
      BENCH_FAIL(r, "bufferevent_socket_connect failed");
  }
  event_base_dispatch(le_base);
  finish(r, event_base_get_method(le_base));
  le_free_all();
}
#endif

/* ---- raw ----------------------------------------------------------------- */

/* Per connection in turn: 8 KiB writes until the kernel takes no more
 * (EAGAIN), then 64 KiB reads until nothing is left: the loops' pattern
 * (writes queue up while the reader waits its turn) without any poll. */
static int raw_turn(const int pair[2]) {
  ssize_t n;
  while ((n = write(pair[0], chunk, CHUNK)) > 0)
    ;
  if (n < 0 && errno != EAGAIN)
    return -1;
  while ((n = read(pair[1], rbuf, sizeof rbuf)) > 0)
    if (on_received((size_t)n))
      return 1;
  return n < 0 && errno != EAGAIN ? -1 : 0;
}

static void run_raw(struct bench_result *r, const void *arg) {
  static int pairs[MAXCONN][2];
  int done = 0;
  cfg = arg;
  for (int i = 0; i < cfg->nconn; i++)
    if (bench_tcp_pair(pairs[i], 1) != 0)
      BENCH_FAIL(r, "the TCP pairs failed");
  start_clock();
  while (!done)
    for (int i = 0; i < cfg->nconn && !done; i++)
      if ((done = raw_turn(pairs[i])) < 0)
        bench_note_failure("raw", strerror(errno));
  finish(r, "no poll");
  for (int i = 0; i < cfg->nconn; i++) {
    close(pairs[i][0]);
    close(pairs[i][1]);
  }
}

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {
    {"libasync", run_libasync}, BENCH_IMPL_LIBUV BENCH_IMPL_LIBEVENT {"raw", run_raw}};
#define NIMPLS (sizeof impls / sizeof impls[0])

static double mibs(const struct bench_result *r) { return r->v[BYTES] / r->v[SECS] / 1048576.0; }

static void section(const struct config *c, int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *raw;
  char what[64];

  printf("\npump %d: %d TCP connection%s over loopback, 8 KiB writes (%d queued per connection), "
         "%.0f s each\n", c->nconn, c->nconn, c->nconn > 1 ? "s" : "", QUEUED, seconds);
  bench_run_all(impls, NIMPLS, c, res, (unsigned)seconds + 60, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  raw = bench_find(impls, NIMPLS, res, "raw");
  printf("%-18s %10s %12s %8s  %s\n", "implementation", "MiB/s", "cpu us/8KiB", "of raw",
         "libasync advantage (libasync MiB/s / other's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %10.1f %12.2f", mibs(r), r->v[CPU_US]);
    bench_print_of_raw(mibs(r), raw != NULL ? mibs(raw) : 0);
    if (a != NULL && i > 0)
      printf("  %.2fx", mibs(a) / mibs(r));
    printf("\n");
  }
  printf("targets:\n");
  snprintf(what, sizeof what, "pump %d >= 0.98x raw", c->nconn);
  bench_target(what, a && raw ? mibs(a) / mibs(raw) : -1, 0.98);
}

int main(int argc, char **argv) {
  int one = bench_flag(argc, argv, "1"), many = bench_flag(argc, argv, "100");
  static const struct config configs[] = {{1}, {MAXCONN}};

  if (!one && !many)
    one = many = 1;
  seconds = bench_seconds(argc, argv, 5);
  memset(chunk, 'p', sizeof chunk);
  bench_raise_nofile();
  bench_print_env();
  if (one)
    section(&configs[0], argc, argv);
  if (many)
    section(&configs[1], argc, argv);
  return 0;
}
