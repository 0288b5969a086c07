/* pound: many short connections against an accepting server, libasync
 * beside libuv and libevent (libev has no connect/accept layer).
 *
 *   pound [100] [1000] [--quick] [libasync|libuv|libevent ...]
 *
 * One loop (one thread) holds the server and the clients. 100 or 1,000
 * clients run at once; each connects to 127.0.0.1, writes 5 bytes and
 * closes, and its close callback starts the next connection in its place,
 * until 20,000 connections were made (4,000 with --quick). The server
 * accepts each, reads until EOF and closes it (its handles are malloc'd per
 * connection, as a real server would). Reports accepts/s over the whole run
 * and process CPU time per connection (both ends). RLIMIT_NOFILE is raised
 * to its hard limit first. The client closes first, so its port sits in
 * TIME_WAIT; Linux reuses those for loopback connects (tcp_tw_reuse = 2).
 *   libasync  async_tcp_t: listen/accept, tcp_connect, async_write, close
 *   libuv     uv_tcp_t: the same calls in libuv
 *   libevent  evconnlistener for the server, whose connections are
 *             bufferevents that drain their input and are freed at EOF;
 *             each client is a bufferevent: bufferevent_socket_connect,
 *             bufferevent_write once connected, bufferevent_free once the
 *             output has drained (its write callback)
 * Ratio: libasync accepts/s / the other's (higher is better for libasync).
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifdef HAVE_LIBEVENT
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#endif

#define MAXCLIENTS 1000
#define MSG "PING\n"
#define MSG_LEN 5

enum { RATE, CPU_US, ACCEPTED };

struct config {
  int clients;
  long total;
};

static const struct config *cfg;
static long started, accepted, server_closed;
static double t0, cpu0;
static char rbuf[65536];
static struct sockaddr_in addr;

static void record(struct bench_result *r, const char *backend) {
  r->v[RATE] = (double)accepted / (bench_now() - t0);
  r->v[CPU_US] = accepted > 0 ? (bench_cpu() - cpu0) * 1e6 / (double)accepted : 0;
  r->v[ACCEPTED] = (double)accepted;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else if (accepted != cfg->total || server_closed != cfg->total)
    bench_fail(r, "%ld accepted, %ld closed of %ld", accepted, server_closed, cfg->total);
  else
    bench_ok(r, backend);
}

/* ---- libasync ------------------------------------------------------------ */

struct a_client {
  async_tcp_t tcp;
  async_connect_t connect;
  async_write_t write;
};

static async_tcp_t a_listener;
static struct a_client a_clients[MAXCLIENTS];

static void a_start(struct a_client *c);

/* The slot's handle is free again: the next connection takes it. */
static void a_client_closed(async_handle_t *h) {
  if (started < cfg->total && !bench_failed())
    a_start((struct a_client *)(void *)h);
}

static void a_wrote(async_write_t *req, int status) {
  if (status != 0)
    bench_note_failure("write", async_strerror(status));
  async_close((async_handle_t *)req->handle, a_client_closed);
}

static void a_connected(async_connect_t *req, int status) {
  struct a_client *c = (struct a_client *)(void *)req->handle;
  async_buf_t b = {MSG, MSG_LEN};
  int err = status;
  if (err != 0 || (err = async_write(&c->write, (async_stream_t *)&c->tcp, &b, 1, a_wrote)) != 0) {
    bench_note_failure("connect/write", async_strerror(err));
    async_close((async_handle_t *)&c->tcp, a_client_closed);
  }
}

static void a_start(struct a_client *c) {
  int err;
  if ((err = async_tcp_init(a_listener.loop, &c->tcp)) != 0 ||
      (err = async_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&addr, a_connected)) != 0) {
    bench_note_failure("async_tcp_connect", async_strerror(err));
    return;
  }
  started++;
}

static void a_server_closed(async_handle_t *h) {
  free(h);
  if (++server_closed == cfg->total)
    async_close((async_handle_t *)&a_listener, NULL);
}

static void a_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  (void)h, (void)size;
  buf->base = rbuf;
  buf->len = sizeof rbuf;
}

static void a_server_read(async_stream_t *s, long n, const async_buf_t *buf) {
  (void)buf;
  if (n >= 0)
    return;
  if (n != ASYNC_EOF)
    bench_note_failure("server read", async_strerror((int)n));
  async_close((async_handle_t *)s, a_server_closed);
}

static void a_on_connection(async_stream_t *server, int status) {
  async_tcp_t *t;
  int err = status;
  if (err != 0) {
    bench_note_failure("connection", async_strerror(err));
    return;
  }
  if ((t = malloc(sizeof *t)) == NULL || (err = async_tcp_init(server->loop, t)) != 0) {
    bench_note_failure("server handle", t == NULL ? "out of memory" : async_strerror(err));
    free(t);
    return;
  }
  accepted++;
  if ((err = async_accept(server, (async_stream_t *)t)) != 0 ||
      (err = async_read_start((async_stream_t *)t, a_alloc, a_server_read)) != 0) {
    bench_note_failure("accept", async_strerror(err));
    async_close((async_handle_t *)t, a_server_closed);
  }
}

static void run_libasync(struct bench_result *r, const void *arg) {
  async_loop_t loop;
  int len = sizeof addr, err;
  cfg = arg;
  addr = bench_loopback();
  if ((err = async_loop_init(&loop, NULL)) != 0)
    BENCH_FAIL(r, "async_loop_init: %s", async_strerror(err));
  if ((err = async_tcp_init(&loop, &a_listener)) != 0 ||
      (err = async_tcp_bind(&a_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = async_listen((async_stream_t *)&a_listener, 1024, a_on_connection)) != 0 ||
      (err = async_tcp_getsockname(&a_listener, (struct sockaddr *)&addr, &len)) != 0)
    BENCH_FAIL(r, "listen: %s", async_strerror(err));
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < cfg->clients; i++)
    a_start(&a_clients[i]);
  if ((err = async_run(&loop, ASYNC_RUN_DEFAULT)) < 0)
    BENCH_FAIL(r, "async_run: %s", async_strerror(err));
  record(r, async_loop_backend(&loop));
  if ((err = async_loop_close(&loop)) != 0)
    bench_fail(r, "async_loop_close: %s", async_strerror(err));
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
struct u_client {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
};

static uv_tcp_t u_listener;
static struct u_client u_clients[MAXCLIENTS];

static void u_start(struct u_client *c);

static void u_client_closed(uv_handle_t *h) {
  if (started < cfg->total && !bench_failed())
    u_start((struct u_client *)(void *)h);
}

static void u_wrote(uv_write_t *req, int status) {
  if (status != 0)
    bench_note_failure("write", uv_strerror(status));
  uv_close((uv_handle_t *)req->handle, u_client_closed);
}

static void u_connected(uv_connect_t *req, int status) {
  struct u_client *c = (struct u_client *)(void *)req->handle;
  uv_buf_t b = uv_buf_init(MSG, MSG_LEN);
  int err = status;
  if (err != 0 || (err = uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, u_wrote)) != 0) {
    bench_note_failure("connect/write", uv_strerror(err));
    uv_close((uv_handle_t *)&c->tcp, u_client_closed);
  }
}

static void u_start(struct u_client *c) {
  int err;
  if ((err = uv_tcp_init(u_listener.loop, &c->tcp)) != 0 ||
      (err = uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&addr, u_connected)) != 0) {
    bench_note_failure("uv_tcp_connect", uv_strerror(err));
    return;
  }
  started++;
}

static void u_server_closed(uv_handle_t *h) {
  free(h);
  if (++server_closed == cfg->total)
    uv_close((uv_handle_t *)&u_listener, NULL);
}

static void u_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void u_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n >= 0)
    return;
  if (n != UV_EOF)
    bench_note_failure("server read", uv_strerror((int)n));
  uv_close((uv_handle_t *)s, u_server_closed);
}

static void u_on_connection(uv_stream_t *server, int status) {
  uv_tcp_t *t;
  int err = status;
  if (err != 0) {
    bench_note_failure("connection", uv_strerror(err));
    return;
  }
  if ((t = malloc(sizeof *t)) == NULL || (err = uv_tcp_init(server->loop, t)) != 0) {
    bench_note_failure("server handle", t == NULL ? "out of memory" : uv_strerror(err));
    free(t);
    return;
  }
  accepted++;
  if ((err = uv_accept(server, (uv_stream_t *)t)) != 0 ||
      (err = uv_read_start((uv_stream_t *)t, u_alloc, u_server_read)) != 0) {
    bench_note_failure("accept", uv_strerror(err));
    uv_close((uv_handle_t *)t, u_server_closed);
  }
}

static void run_libuv(struct bench_result *r, const void *arg) {
  uv_loop_t loop;
  int len = sizeof addr, err;
  cfg = arg;
  addr = bench_loopback();
  if ((err = uv_loop_init(&loop)) != 0)
    BENCH_FAIL(r, "uv_loop_init: %s", uv_strerror(err));
  if ((err = uv_tcp_init(&loop, &u_listener)) != 0 ||
      (err = uv_tcp_bind(&u_listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (err = uv_listen((uv_stream_t *)&u_listener, 1024, u_on_connection)) != 0 ||
      (err = uv_tcp_getsockname(&u_listener, (struct sockaddr *)&addr, &len)) != 0)
    BENCH_FAIL(r, "listen: %s", uv_strerror(err));
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < cfg->clients; i++)
    u_start(&u_clients[i]);
  uv_run(&loop, UV_RUN_DEFAULT);
  record(r, "epoll");
  if ((err = uv_loop_close(&loop)) != 0)
    bench_fail(r, "uv_loop_close: %s", uv_strerror(err));
}
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static struct event_base *le_base;
static struct evconnlistener *le_listener;

static void le_start(int slot);

static void le_client_written(struct bufferevent *bev, void *arg) {
  bufferevent_free(bev);
  if (started < cfg->total && !bench_failed())
    le_start((int)(intptr_t)arg);
}

static void le_client_event(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (what & BEV_EVENT_CONNECTED) {
    if (bufferevent_write(bev, MSG, MSG_LEN) != 0)
      bench_note_failure("bufferevent_write", "failed");
    return;
  }
  bench_note_failure("client", what & BEV_EVENT_ERROR ? "error" : "EOF before writing");
  bufferevent_free(bev);
}

static void le_start(int slot) {
  struct bufferevent *bev = bufferevent_socket_new(le_base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (bev == NULL) {
    bench_note_failure("bufferevent_socket_new", "failed");
    return;
  }
  bufferevent_setcb(bev, NULL, le_client_written, le_client_event, (void *)(intptr_t)slot);
  if (bufferevent_socket_connect(bev, (struct sockaddr *)&addr, sizeof addr) != 0) {
    bench_note_failure("bufferevent_socket_connect", "failed");
    bufferevent_free(bev);
    return;
  }
  started++;
}

static void le_server_read(struct bufferevent *bev, void *arg) {
  struct evbuffer *in = bufferevent_get_input(bev);
  (void)arg;
  evbuffer_drain(in, evbuffer_get_length(in));
}

static void le_server_event(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (!(what & BEV_EVENT_EOF))
    bench_note_failure("server", "error");
  bufferevent_free(bev);
  if (++server_closed == cfg->total)
    evconnlistener_free(le_listener);
}

static void le_on_connection(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int len, void *arg) {
  struct bufferevent *bev = bufferevent_socket_new(le_base, fd, BEV_OPT_CLOSE_ON_FREE);
  (void)l, (void)sa, (void)len, (void)arg;
  accepted++;
  if (bev == NULL) {
    bench_note_failure("bufferevent_socket_new", "failed");
    server_closed++;
    return;
  }
  bufferevent_setcb(bev, le_server_read, NULL, le_server_event, NULL);
  bufferevent_enable(bev, EV_READ);
}

static void run_libevent(struct bench_result *r, const void *arg) {
  socklen_t len = sizeof addr;
  cfg = arg;
  addr = bench_loopback();
  if ((le_base = event_base_new()) == NULL)
    BENCH_FAIL(r, "event_base_new failed");
  le_listener = evconnlistener_new_bind(le_base, le_on_connection, NULL,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                        (struct sockaddr *)&addr, sizeof addr);
  if (le_listener == NULL ||
      getsockname(evconnlistener_get_fd(le_listener), (struct sockaddr *)&addr, &len) != 0)
    BENCH_FAIL(r, "evconnlistener_new_bind failed");
  t0 = bench_now();
  cpu0 = bench_cpu();
  for (int i = 0; i < cfg->clients; i++)
    le_start(i);
  event_base_dispatch(le_base);
  record(r, event_base_get_method(le_base));
  event_base_free(le_base);
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {{"libasync", run_libasync},
                                          BENCH_IMPL_LIBUV BENCH_IMPL_LIBEVENT};
#define NIMPLS (sizeof impls / sizeof impls[0])

static void section(const struct config *c, int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *uv;
  char what[64];

  printf("\npound %d: %d concurrent connect-write-close clients, %ld connections\n", c->clients,
         c->clients, c->total);
  bench_run_all(impls, NIMPLS, c, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  uv = bench_find(impls, NIMPLS, res, "libuv");
  printf("%-18s %12s %12s %10s  %s\n", "implementation", "accepts/s", "cpu us/conn", "accepted",
         "libasync advantage (libasync accepts/s / other's; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    if (!bench_row(impls[i].name, r))
      continue;
    printf(" %12.0f %12.2f %10.0f", r->v[RATE], r->v[CPU_US], r->v[ACCEPTED]);
    if (a != NULL && i > 0)
      printf("  %.2fx", a->v[RATE] / r->v[RATE]);
    printf("\n");
  }
  printf("targets:\n");
  snprintf(what, sizeof what, "pound %d >= libuv's", c->clients);
  bench_target(what, a && uv ? a->v[RATE] / uv->v[RATE] : -1, 1.0);
}

int main(int argc, char **argv) {
  int small = bench_flag(argc, argv, "100"), big = bench_flag(argc, argv, "1000");
  long total = bench_flag(argc, argv, "--quick") ? 4000 : 20000;
  struct config configs[] = {{100, total}, {MAXCLIENTS, total}};

  if (!small && !big)
    small = big = 1;
  if (bench_raise_nofile() < 2 * MAXCLIENTS + 64) {
    fprintf(stderr, "pound: needs %d fds\n", 2 * MAXCLIENTS + 64);
    return 1;
  }
  bench_print_env();
  if (small)
    section(&configs[0], argc, argv);
  if (big)
    section(&configs[1], argc, argv);
  return 0;
}
