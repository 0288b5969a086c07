/* echo_many: 100 TCP connections echoing 4 KiB messages, on libasync, every
 * peer found and a raw baseline.
 *
 *   echo_many [--quick] [libasync|libuv|libev|libevent|raw ...]
 *
 * 100 client connections and their 100 server ends live in one loop (one
 * thread). Each client writes a 4 KiB message, the server end echoes what it
 * reads, and the client writes the next message once the whole echo is back:
 * 100 messages in flight, 200 MiB sent in all (2 MiB per connection; 20 MiB
 * with --quick). Reports MiB/s of messages echoed (one direction counted)
 * and process CPU time per message.
 *   libasync  async_tcp_t: listen/accept/connect, read_start, async_write; the
 *             server copies each read into a malloc'd write request, as
 *             libuv's echo server does
 *   libuv     uv_tcp_t, the same structure
 *   libev     ev_io readers on connected non-blocking pairs, read(2)/write(2)
 *   libevent  persistent EV_READ events on the same pairs, read(2)/write(2)
 *   raw       no loop: one thread, blocking sockets, the connections in
 *             lockstep: 100 client writes, then 100 server reads + echoes,
 *             then 100 client reads. No poll at all, so this is the cost of
 *             the data system calls alone.
 * With one message in flight per connection no write ever meets a full
 * socket buffer; the readiness peers treat a short write as a failure.
 * Ratios: libasync MiB/s / the other's; "of raw" is each rate / raw's.
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NCONN 100
#define MSG 4096

enum { BYTES, SECS, CPU_US };

enum { WAIT, SEND, DONE };  /* what a client does after some echo bytes */

struct progress {
  size_t got;    /* bytes of the current echo received so far */
  long echoed;   /* whole messages echoed back */
};

static long msgs_per_conn;
static int conns_done;
static struct progress prog[NCONN];
static double t0, cpu0;
static char msg[MSG];      /* what every client sends */
static char rbuf[65536];   /* every read lands here; it is consumed at once */

static void start_clock(void) {
  t0 = bench_now();
  cpu0 = bench_cpu();
}

static int on_echo_bytes(struct progress *p, size_t n) {
  p->got += n;
  if (p->got < MSG)
    return WAIT;
  p->got -= MSG;
  if (++p->echoed < msgs_per_conn)
    return SEND;
  conns_done++;
  return DONE;
}

static void finish(struct bench_result *r, const char *backend) {
  long echoed = 0;
  for (int i = 0; i < NCONN; i++)
    echoed += prog[i].echoed;
  r->v[SECS] = bench_now() - t0;
  r->v[BYTES] = (double)echoed * MSG;
  r->v[CPU_US] = echoed > 0 ? (bench_cpu() - cpu0) * 1e6 / (double)echoed : 0;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else if (echoed != msgs_per_conn * NCONN)
    bench_fail(r, "%ld of %ld messages echoed", echoed, msgs_per_conn * NCONN);
  else
    bench_ok(r, backend);
}

/* ---- libasync ------------------------------------------------------------ */

struct a_echo {
  async_write_t req;
  char data[];
};

static async_tcp_t a_listener, a_clients[NCONN], a_servers[NCONN];
static async_connect_t a_connects[NCONN];
static async_write_t a_sends[NCONN];
static int a_accepted, a_connected;

static void a_close_all(void) {
  if (!async_is_closing((async_handle_t *)&a_listener))
    async_close((async_handle_t *)&a_listener, NULL);
  for (int i = 0; i < NCONN; i++) {
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

static void a_sent(async_write_t *req, int status) {
  (void)req;
  if (status != 0)
    a_fail("client write", status);
}

static void a_send(int i) {
  async_buf_t b = {msg, MSG};
  int err = async_write(&a_sends[i], (async_stream_t *)&a_clients[i], &b, 1, a_sent);
  if (err != 0)
    a_fail("async_write", err);
}

static void a_echoed(async_write_t *req, int status) {
  free(req);
  if (status != 0)
    a_fail("server write", status);
}

static void a_server_read(async_stream_t *s, long n, const async_buf_t *buf) {
  struct a_echo *e;
  async_buf_t b;
  int err;
  if (n == 0 || n == ASYNC_EOF)
    return;
  if (n < 0) {
    a_fail("server read", (int)n);
    return;
  }
  if ((e = malloc(sizeof *e + (size_t)n)) == NULL) {
    a_fail("malloc", ASYNC_ENOMEM);
    return;
  }
  memcpy(e->data, buf->base, (size_t)n);
  b.base = e->data;
  b.len = (size_t)n;
  if ((err = async_write(&e->req, s, &b, 1, a_echoed)) != 0) {
    free(e);
    a_fail("async_write", err);
  }
}

static void a_client_read(async_stream_t *s, long n, const async_buf_t *buf) {
  int i = (int)((async_tcp_t *)s - a_clients);
  (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    a_fail("client read", (int)n);
    return;
  }
  switch (on_echo_bytes(&prog[i], (size_t)n)) {
  case SEND: a_send(i); break;
  case DONE:
    if (conns_done == NCONN)
      a_close_all();
    break;
  default: break;
  }
}

static void a_on_connection(async_stream_t *server, int status) {
  async_tcp_t *t = &a_servers[a_accepted];
  int err = status;
  if (err == 0 && a_accepted == NCONN)
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

/* Sending starts once every client is connected, so the clock times only
 * the echoing. */
static void a_on_connect(async_connect_t *req, int status) {
  async_tcp_t *c = (async_tcp_t *)req->handle;
  int err = status;
  if (err == 0 && (err = async_tcp_nodelay(c, 1)) == 0)
    err = async_read_start((async_stream_t *)c, a_alloc, a_client_read);
  if (err != 0) {
    a_fail("connect", err);
    return;
  }
  if (++a_connected < NCONN)
    return;
  start_clock();
  for (int i = 0; i < NCONN; i++)
    a_send(i);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof addr, err;
  (void)arg;
  if ((err = async_loop_init(&loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if ((err = async_tcp_init(&loop, &a_listener)) != 0 ||
      (err = async_tcp_bind(&a_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = async_listen((async_stream_t *)&a_listener, NCONN, a_on_connection)) != 0 ||
      (err = async_tcp_getsockname(&a_listener, (struct sockaddr *)&addr, &len)) != 0)
    BENCH_FAIL(r, "listen: %s", async_strerror(err));
  for (int i = 0; i < NCONN; i++)
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
struct u_echo {
  uv_write_t req;
  char data[];
};

static uv_tcp_t u_listener, u_clients[NCONN], u_servers[NCONN];
static uv_connect_t u_connects[NCONN];
static uv_write_t u_sends[NCONN];
static int u_accepted, u_connected;

static void u_close_all(void) {
  if (!uv_is_closing((uv_handle_t *)&u_listener))
    uv_close((uv_handle_t *)&u_listener, NULL);
  for (int i = 0; i < NCONN; i++) {
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

static void u_sent(uv_write_t *req, int status) {
  (void)req;
  if (status != 0)
    u_fail("client write", status);
}

static void u_send(int i) {
  uv_buf_t b = uv_buf_init(msg, MSG);
  int err = uv_write(&u_sends[i], (uv_stream_t *)&u_clients[i], &b, 1, u_sent);
  if (err != 0)
    u_fail("uv_write", err);
}

static void u_echoed(uv_write_t *req, int status) {
  free(req);
  if (status != 0)
    u_fail("server write", status);
}

static void u_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct u_echo *e;
  uv_buf_t b;
  int err;
  if (n == 0 || n == UV_EOF)
    return;
  if (n < 0) {
    u_fail("server read", (int)n);
    return;
  }
  if ((e = malloc(sizeof *e + (size_t)n)) == NULL) {
    u_fail("malloc", UV_ENOMEM);
    return;
  }
  memcpy(e->data, buf->base, (size_t)n);
  b = uv_buf_init(e->data, (unsigned)n);
  if ((err = uv_write(&e->req, s, &b, 1, u_echoed)) != 0) {
    free(e);
    u_fail("uv_write", err);
  }
}

static void u_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  int i = (int)((uv_tcp_t *)s - u_clients);
  (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    u_fail("client read", (int)n);
    return;
  }
  switch (on_echo_bytes(&prog[i], (size_t)n)) {
  case SEND: u_send(i); break;
  case DONE:
    if (conns_done == NCONN)
      u_close_all();
    break;
  default: break;
  }
}

static void u_on_connection(uv_stream_t *server, int status) {
  uv_tcp_t *t = &u_servers[u_accepted];
  int err = status;
  if (err == 0 && u_accepted == NCONN)
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
  uv_tcp_t *c = (uv_tcp_t *)req->handle;
  int err = status;
  if (err == 0 && (err = uv_tcp_nodelay(c, 1)) == 0)
    err = uv_read_start((uv_stream_t *)c, u_alloc, u_client_read);
  if (err != 0) {
    u_fail("connect", err);
    return;
  }
  if (++u_connected < NCONN)
    return;
  start_clock();
  for (int i = 0; i < NCONN; i++)
    u_send(i);
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
      (err = uv_listen((uv_stream_t *)&u_listener, NCONN, u_on_connection)) != 0 ||
      (err = uv_tcp_getsockname(&u_listener, (struct sockaddr *)&addr, &len)) != 0)
    BENCH_FAIL(r, "listen: %s", uv_strerror(err));
  for (int i = 0; i < NCONN; i++)
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

/* ---- readiness peers: the work done in libev's and libevent's callbacks -- */

/* Connected pairs for libev, libevent and raw: [i][0] client, [i][1] server. */
static int pairs[NCONN][2];

static int open_pairs(int nonblock) {
  for (int i = 0; i < NCONN; i++)
    if (bench_tcp_pair(pairs[i], nonblock) != 0)
      return -1;
  return 0;
}

static void close_pairs(void) {
  for (int i = 0; i < NCONN; i++) {
    close(pairs[i][0]);
    close(pairs[i][1]);
  }
}

#if defined(HAVE_LIBEV) || defined(HAVE_LIBEVENT)
static int fd_send(int i) {
  if (write(pairs[i][0], msg, MSG) == MSG)
    return 0;
  bench_note_failure("client write", errno != 0 ? strerror(errno) : "short write");
  return -1;
}

/* Echoes what arrived at server end i; -1 on an error (the loop should end). */
static int fd_server_readable(int i) {
  int fd = pairs[i][1];
  ssize_t n = read(fd, rbuf, sizeof rbuf);
  if (n > 0 && write(fd, rbuf, (size_t)n) == n)
    return 0;
  if (n < 0 && errno == EAGAIN)
    return 0;
  bench_note_failure("server", n == 0 ? "EOF" : "read or short write");
  return -1;
}

/* SEND (the next message went out), WAIT, or DONE: every connection is
 * finished or something failed, and the loop should end. */
static int fd_client_readable(int i) {
  ssize_t n = read(pairs[i][0], rbuf, sizeof rbuf);
  int next;
  if (n < 0 && errno == EAGAIN)
    return WAIT;
  if (n <= 0) {
    bench_note_failure("client", n == 0 ? "EOF" : strerror(errno));
    return DONE;
  }
  next = on_echo_bytes(&prog[i], (size_t)n);
  if (next == SEND)
    return fd_send(i) == 0 ? SEND : DONE;
  return next == DONE && conns_done < NCONN ? WAIT : next;
}
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static ev_io e_watch[NCONN][2];

static void e_stop(struct ev_loop *loop) {
  for (int i = 0; i < NCONN; i++) {
    ev_io_stop(loop, &e_watch[i][0]);
    ev_io_stop(loop, &e_watch[i][1]);
  }
}

static void e_cb(struct ev_loop *loop, ev_io *w, int revents) {
  int i = (int)((w - &e_watch[0][0]) / 2), side = (int)((w - &e_watch[0][0]) % 2);
  (void)revents;
  if (side == 1 ? fd_server_readable(i) != 0 : fd_client_readable(i) == DONE)
    e_stop(loop);
}

static void run_libev(struct bench_result *r, const void *arg) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  (void)arg;
  if (loop == NULL || open_pairs(1) != 0)
    BENCH_FAIL(r, "ev_loop_new or the TCP pairs failed");
  for (int i = 0; i < NCONN; i++)
    for (int side = 0; side < 2; side++) {
      ev_io_init(&e_watch[i][side], e_cb, pairs[i][side], BENCH_EV_READ);
      ev_io_start(loop, &e_watch[i][side]);
    }
  start_clock();
  for (int i = 0; i < NCONN; i++)
    if (fd_send(i) != 0)
      BENCH_FAIL(r, "%s", bench_failure());
  ev_run(loop, 0);
  finish(r, ev_backend(loop) == EVBACKEND_EPOLL ? "epoll" : "other");
  ev_loop_destroy(loop);
  close_pairs();
}
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static struct event *le_ev[NCONN][2];

static void le_stop(void) {
  for (int i = 0; i < NCONN; i++) {
    event_del(le_ev[i][0]);
    event_del(le_ev[i][1]);
  }
}

static void le_cb(evutil_socket_t fd, short what, void *arg) {
  int id = (int)(intptr_t)arg, i = id / 2;
  (void)fd, (void)what;
  if (id % 2 == 1 ? fd_server_readable(i) != 0 : fd_client_readable(i) == DONE)
    le_stop();
}

static void run_libevent(struct bench_result *r, const void *arg) {
  struct event_base *base = event_base_new();
  (void)arg;
  if (base == NULL || open_pairs(1) != 0)
    BENCH_FAIL(r, "event_base_new or the TCP pairs failed");
  for (int i = 0; i < NCONN; i++)
    for (int side = 0; side < 2; side++)
      if ((le_ev[i][side] = event_new(base, pairs[i][side], EV_READ | EV_PERSIST, le_cb,
                                      (void *)(intptr_t)(2 * i + side))) == NULL ||
          event_add(le_ev[i][side], NULL) != 0)
        BENCH_FAIL(r, "event_new/event_add failed");
  start_clock();
  for (int i = 0; i < NCONN; i++)
    if (fd_send(i) != 0)
      BENCH_FAIL(r, "%s", bench_failure());
  event_base_dispatch(base);
  finish(r, event_base_get_method(base));
  for (int i = 0; i < NCONN; i++) {
    event_free(le_ev[i][0]);
    event_free(le_ev[i][1]);
  }
  event_base_free(base);
  close_pairs();
}
#endif

/* ---- raw ----------------------------------------------------------------- */

/* One message through every connection; 0 or -1. */
static int raw_round(void) {
  for (int i = 0; i < NCONN; i++)
    if (write(pairs[i][0], msg, MSG) != MSG)
      return -1;
  for (int i = 0; i < NCONN; i++)
    if (bench_read_full(pairs[i][1], rbuf, MSG) != 0 || write(pairs[i][1], rbuf, MSG) != MSG)
      return -1;
  for (int i = 0; i < NCONN; i++) {
    if (bench_read_full(pairs[i][0], rbuf, MSG) != 0)
      return -1;
    on_echo_bytes(&prog[i], MSG);
  }
  return 0;
}

static void run_raw(struct bench_result *r, const void *arg) {
  (void)arg;
  if (open_pairs(0) != 0)
    BENCH_FAIL(r, "the TCP pairs failed");
  start_clock();
  for (long m = 0; m < msgs_per_conn; m++)
    if (raw_round() != 0) {
      bench_note_failure("raw", strerror(errno));
      break;
    }
  finish(r, "blocking");
  close_pairs();
}

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {BENCH_IMPLS {"raw", run_raw}};
#define NIMPLS (sizeof impls / sizeof impls[0])

static double mibs(const struct bench_result *r) { return r->v[BYTES] / r->v[SECS] / 1048576.0; }

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *raw;
  long total_mib = bench_flag(argc, argv, "--quick") ? 20 : 200;

  msgs_per_conn = total_mib * 1048576 / NCONN / MSG;
  /* glibc hands the freed top of the heap back to the kernel and faults it
   * in again on the next malloc: with a 4 KiB request per echo that was a
   * page fault every second message, more than the loop's own cost. Keep
   * the memory, so the per-echo mallocs measure malloc, not the VM. */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  memset(msg, 'e', sizeof msg);
  if (bench_raise_nofile() < 4 * NCONN + 64) {
    fprintf(stderr, "echo_many: needs %d fds\n", 4 * NCONN + 64);
    return 1;
  }
  bench_print_env();
  printf("\necho_many: %d TCP connections over loopback echoing %d-byte messages, %ld MiB in all\n",
         NCONN, MSG, total_mib);
  bench_run_all(impls, NIMPLS, NULL, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  raw = bench_find(impls, NIMPLS, res, "raw");
  printf("%-18s %9s %10s %10s %8s  %s\n", "implementation", "seconds", "MiB/s", "cpu us/msg",
         "of raw", "libasync advantage (libasync MiB/s / other's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %9.3f %10.1f %10.2f", r->v[SECS], mibs(r), r->v[CPU_US]);
    bench_print_of_raw(mibs(r), raw != NULL ? mibs(raw) : 0);
    if (a != NULL && i > 0)
      printf("  %.2fx", mibs(a) / mibs(r));
    printf("\n");
  }
  printf("targets:\n");
  bench_target("echo_many >= 0.98x raw", a && raw ? mibs(a) / mibs(raw) : -1, 0.98);
  return 0;
}
