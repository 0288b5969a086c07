/* udp_pingpong: round trips of one small datagram over loopback UDP, on
 * libasync, every peer found and a raw baseline.
 *
 *   udp_pingpong [--seconds N | --quick] [libasync|libuv|libev|libevent|raw ...]
 *
 * Two UDP sockets bound to 127.0.0.1 in one loop (one thread): the client
 * sends "PING\n" to the server's address, the server sends each datagram
 * back to where it came from, and the client sends the next one when the
 * echo arrives. Runs N seconds (5 by default, 1 with --quick); reports round
 * trips/s and process CPU time per trip.
 *   libasync  async_udp_t: bind, recv_start, async_udp_send with an address
 *   libuv     uv_udp_t: bind, uv_udp_recv_start, uv_udp_send with an address
 *   libev     ev_io readers on non-blocking sockets, recvfrom/sendto
 *   libevent  persistent EV_READ events on the same sockets, recvfrom/sendto
 *   raw       no loop: one thread, blocking sockets, sendto/recvfrom/
 *             sendto/recvfrom per trip (the machine's limit)
 * Ratios: libasync trips/s / the other's; "of raw" is each rate / raw's.
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

static double seconds;
static long trips;
static double t0, cpu0;
static char rbuf[65536];
static struct sockaddr_in server_addr;  /* where the client sends */

static void start_clock(void) {
  t0 = bench_now();
  cpu0 = bench_cpu();
}

/* One echo came back; 1 if the client should send another. The clock is
 * read every 64 trips. */
static int trip_done(void) {
  trips++;
  return (trips & 63) != 0 || bench_now() - t0 < seconds;
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

/* Two UDP sockets on 127.0.0.1: [0] client, [1] server; server_addr is set. */
static int open_sockets(int fds[2], int nonblock) {
  struct sockaddr_in a = bench_loopback();
  socklen_t len = sizeof server_addr;
  int type = SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
  for (int i = 0; i < 2; i++)
    if ((fds[i] = socket(AF_INET, type, 0)) < 0 ||
        bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0)
      return -1;
  return getsockname(fds[1], (struct sockaddr *)&server_addr, &len);
}

/* ---- libasync ------------------------------------------------------------ */

static async_udp_t a_client, a_server;
static async_udp_send_t a_ping_req, a_echo_req;
static char a_echo[65536];
static struct sockaddr_storage a_echo_to;

static void a_close_all(void) {
  async_close((async_handle_t *)&a_client, NULL);
  async_close((async_handle_t *)&a_server, NULL);
}

static void a_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  (void)h, (void)size;
  buf->base = rbuf;
  buf->len = sizeof rbuf;
}

static void a_sent(async_udp_send_t *req, int status) {
  (void)req;
  if (status != 0)
    bench_note_failure("send", async_strerror(status));
}

static void a_send_ping(void) {
  async_buf_t b = {PING, PING_LEN};
  int err = async_udp_send(&a_ping_req, &a_client, &b, 1, (struct sockaddr *)&server_addr, a_sent);
  if (err != 0) {
    bench_note_failure("async_udp_send", async_strerror(err));
    a_close_all();
  }
}

/* The echo is copied with its address: both must outlive the read. */
static void a_server_recv(async_udp_t *u, long n, const async_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  async_buf_t b = {a_echo, (size_t)n};
  int err;
  (void)flags;
  if (n == 0 && addr == NULL)
    return;
  if (n < 0) {
    bench_note_failure("server recv", async_strerror((int)n));
    a_close_all();
    return;
  }
  memcpy(a_echo, buf->base, (size_t)n);
  memcpy(&a_echo_to, addr, sizeof(struct sockaddr_in));
  if ((err = async_udp_send(&a_echo_req, u, &b, 1, (struct sockaddr *)&a_echo_to, a_sent)) != 0) {
    bench_note_failure("async_udp_send", async_strerror(err));
    a_close_all();
  }
}

static void a_client_recv(async_udp_t *u, long n, const async_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)u, (void)buf, (void)flags;
  if (n == 0 && addr == NULL)
    return;
  if (n < 0) {
    bench_note_failure("client recv", async_strerror((int)n));
    a_close_all();
  } else if (trip_done()) {
    a_send_ping();
  } else {
    a_close_all();
  }
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof server_addr, err;
  (void)arg;
  if ((err = async_loop_init(&loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if ((err = async_udp_init(&loop, &a_server)) != 0 ||
      (err = async_udp_bind(&a_server, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = async_udp_getsockname(&a_server, (struct sockaddr *)&server_addr, &len)) != 0 ||
      (err = async_udp_recv_start(&a_server, a_alloc, a_server_recv)) != 0 ||
      (err = async_udp_init(&loop, &a_client)) != 0 ||
      (err = async_udp_bind(&a_client, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = async_udp_recv_start(&a_client, a_alloc, a_client_recv)) != 0)
    BENCH_FAIL(r, "setup: %s", async_strerror(err));
  start_clock();
  a_send_ping();
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  finish(r, async_loop_backend(&loop));
  if ((err = async_loop_close(&loop)) != 0)
    bench_fail(r, "async_loop_close: %s", async_strerror(err));
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_udp_t u_client, u_server;
static uv_udp_send_t u_ping_req, u_echo_req;
static char u_echo[65536];
static struct sockaddr_storage u_echo_to;

static void u_close_all(void) {
  uv_close((uv_handle_t *)&u_client, NULL);
  uv_close((uv_handle_t *)&u_server, NULL);
}

static void u_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void u_sent(uv_udp_send_t *req, int status) {
  (void)req;
  if (status != 0)
    bench_note_failure("send", uv_strerror(status));
}

static void u_send_ping(void) {
  uv_buf_t b = uv_buf_init(PING, PING_LEN);
  int err = uv_udp_send(&u_ping_req, &u_client, &b, 1, (struct sockaddr *)&server_addr, u_sent);
  if (err != 0) {
    bench_note_failure("uv_udp_send", uv_strerror(err));
    u_close_all();
  }
}

static void u_server_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  uv_buf_t b = uv_buf_init(u_echo, (unsigned)n);
  int err;
  (void)flags;
  if (n == 0 && addr == NULL)
    return;
  if (n < 0) {
    bench_note_failure("server recv", uv_strerror((int)n));
    u_close_all();
    return;
  }
  memcpy(u_echo, buf->base, (size_t)n);
  memcpy(&u_echo_to, addr, sizeof(struct sockaddr_in));
  if ((err = uv_udp_send(&u_echo_req, u, &b, 1, (struct sockaddr *)&u_echo_to, u_sent)) != 0) {
    bench_note_failure("uv_udp_send", uv_strerror(err));
    u_close_all();
  }
}

static void u_client_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)u, (void)buf, (void)flags;
  if (n == 0 && addr == NULL)
    return;
  if (n < 0) {
    bench_note_failure("client recv", uv_strerror((int)n));
    u_close_all();
  } else if (trip_done()) {
    u_send_ping();
  } else {
    u_close_all();
  }
}

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t loop;
  struct sockaddr_in addr = bench_loopback();
  int len = sizeof server_addr, err;
  (void)arg;
  if ((err = uv_loop_init(&loop)) != 0)
    BENCH_FAIL(r, "uv_loop_init: %s", uv_strerror(err));
  if ((err = uv_udp_init(&loop, &u_server)) != 0 ||
      (err = uv_udp_bind(&u_server, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = uv_udp_getsockname(&u_server, (struct sockaddr *)&server_addr, &len)) != 0 ||
      (err = uv_udp_recv_start(&u_server, u_alloc, u_server_recv)) != 0 ||
      (err = uv_udp_init(&loop, &u_client)) != 0 ||
      (err = uv_udp_bind(&u_client, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = uv_udp_recv_start(&u_client, u_alloc, u_client_recv)) != 0)
    BENCH_FAIL(r, "setup: %s", uv_strerror(err));
  start_clock();
  u_send_ping();
  uv_run(&loop, UV_RUN_DEFAULT);
  finish(r, "epoll");
  if ((err = uv_loop_close(&loop)) != 0)
    bench_fail(r, "uv_loop_close: %s", uv_strerror(err));
}
#endif

/* ---- readiness peers and raw: the system calls ---------------------------- */

static int socks[2];  /* [0] client, [1] server */

static int fd_send_ping(void) {
  if (sendto(socks[0], PING, PING_LEN, 0, (struct sockaddr *)&server_addr,
             sizeof server_addr) == PING_LEN)
    return 0;
  bench_note_failure("sendto", strerror(errno));
  return -1;
}

/* Sends what the server socket received back to its sender; -1 on an error. */
static int fd_echo(void) {
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  ssize_t n = recvfrom(socks[1], rbuf, sizeof rbuf, 0, (struct sockaddr *)&from, &len);
  if (n >= 0 && sendto(socks[1], rbuf, (size_t)n, 0, (struct sockaddr *)&from, len) == n)
    return 0;
  if (n < 0 && errno == EAGAIN)
    return 0;
  bench_note_failure("server", strerror(errno));
  return -1;
}

/* 0 to go on (the next ping went out, or nothing was there), -1 to stop. */
static int fd_client_readable(void) {
  ssize_t n = recv(socks[0], rbuf, sizeof rbuf, 0);
  if (n < 0 && errno == EAGAIN)
    return 0;
  if (n < 0) {
    bench_note_failure("client", strerror(errno));
    return -1;
  }
  return trip_done() ? fd_send_ping() : -1;
}

static void close_sockets(void) {
  close(socks[0]);
  close(socks[1]);
}

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static ev_io e_server, e_client;

static void e_stop(struct ev_loop *loop) {
  ev_io_stop(loop, &e_server);
  ev_io_stop(loop, &e_client);
}

static void e_server_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)w, (void)revents;
  if (fd_echo() != 0)
    e_stop(loop);
}

static void e_client_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)w, (void)revents;
  if (fd_client_readable() != 0)
    e_stop(loop);
}

static void run_libev(struct bench_result *r, const void *arg) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  (void)arg;
  if (loop == NULL || open_sockets(socks, 1) != 0)
    BENCH_FAIL(r, "ev_loop_new or the sockets failed");
  ev_io_init(&e_server, e_server_cb, socks[1], BENCH_EV_READ);
  ev_io_init(&e_client, e_client_cb, socks[0], BENCH_EV_READ);
  ev_io_start(loop, &e_server);
  ev_io_start(loop, &e_client);
  start_clock();
  if (fd_send_ping() == 0)
    ev_run(loop, 0);
  finish(r, ev_backend(loop) == EVBACKEND_EPOLL ? "epoll" : "other");
  ev_loop_destroy(loop);
  close_sockets();
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
  if (fd_echo() != 0)
    le_stop();
}

static void le_client_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
  if (fd_client_readable() != 0)
    le_stop();
}

static void run_libevent(struct bench_result *r, const void *arg) {
  struct event_base *base = event_base_new();
  (void)arg;
  if (base == NULL || open_sockets(socks, 1) != 0)
    BENCH_FAIL(r, "event_base_new or the sockets failed");
  le_server = event_new(base, socks[1], EV_READ | EV_PERSIST, le_server_cb, NULL);
  le_client = event_new(base, socks[0], EV_READ | EV_PERSIST, le_client_cb, NULL);
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
  close_sockets();
}
#endif

/* ---- raw ----------------------------------------------------------------- */

/* Blocking sockets: each recv finds its datagram already queued (loopback
 * delivers inside sendto), so nothing ever sleeps. */
static void run_raw(struct bench_result *r, const void *arg) {
  (void)arg;
  if (open_sockets(socks, 0) != 0)
    BENCH_FAIL(r, "the sockets failed");
  start_clock();
  if (fd_send_ping() == 0)
    while (fd_echo() == 0 && fd_client_readable() == 0)
      ;
  finish(r, "blocking");
  close_sockets();
}

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {BENCH_IMPLS {"raw", run_raw}};
#define NIMPLS (sizeof impls / sizeof impls[0])

static double rate(const struct bench_result *r) { return r->v[TRIPS] / r->v[SECS]; }

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *raw;

  seconds = bench_seconds(argc, argv, 5);
  bench_print_env();
  printf("\nudp_pingpong: one 5-byte datagram echoed over loopback UDP, %.0f s each\n", seconds);
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
  bench_target("udp_pingpong >= libuv's (not a project target)",
               a && bench_find(impls, NIMPLS, res, "libuv")
                   ? rate(a) / rate(bench_find(impls, NIMPLS, res, "libuv"))
                   : -1,
               1.0);
  return 0;
}
