/* TCP on loopback: echo (v4, v6), many connections, refused connects,
 * half-close, reset, cancellation, EMFILE on accept, bad input. */
#include "helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAXC 128

struct conn {
  async_tcp_t tcp;
  async_write_t wreq;
  async_shutdown_t sreq;
  char buf[64];
  size_t len;
  int eof;
};

static async_tcp_t server;
static struct conn accepted[MAXC];
static int naccepted, accept_errors, last_accept_error;
static struct conn clients[MAXC];
static async_connect_t creqs[MAXC];
static int connects_done, last_connect_status, replies, client_eofs, read_errors_seen;

/* An unreferenced ticking timer: a turn waiting for an event that never
 * comes ends after a few milliseconds instead of blocking the test forever. */
static async_timer_t guard;
static void guard_tick(async_timer_t *t) { (void)t; }
static void start_guard(async_loop_t *loop) {
  async_timer_init(loop, &guard);
  async_timer_start(&guard, guard_tick, 5, 5);
  async_unref((async_handle_t *)&guard);
}

static void reset(void) {
  memset(accepted, 0, sizeof(accepted));
  memset(clients, 0, sizeof(clients));
  naccepted = accept_errors = connects_done = replies = client_eofs = read_errors_seen = 0;
  last_connect_status = last_accept_error = 1;
}

/* Server side: echo what arrives, shut down after the peer's EOF. */
static void server_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct conn *c = (struct conn *)s;
  if (nread == ASYNC_EOF) {
    async_shutdown(&c->sreq, s, NULL);
    return;
  }
  if (nread < 0) {
    read_errors_seen++;
    return;
  }
  if (nread > 0) {
    async_buf_t out;
    memcpy(c->buf, buf->base, (size_t)nread < sizeof(c->buf) ? (size_t)nread : sizeof(c->buf));
    out.base = c->buf;
    out.len = (size_t)nread < sizeof(c->buf) ? (size_t)nread : sizeof(c->buf);
    async_write(&c->wreq, s, &out, 1, NULL);
  }
}

static void on_connection(async_stream_t *srv, int status) {
  struct conn *c;
  if (status != 0) {
    accept_errors++;
    last_accept_error = status;
    return;
  }
  c = &accepted[naccepted++];
  assert_int_equal(async_tcp_init(srv->loop, &c->tcp), 0);
  assert_int_equal(async_accept(srv, (async_stream_t *)&c->tcp), 0);
  assert_int_equal(async_read_start((async_stream_t *)&c->tcp, test_alloc_slab, server_read), 0);
}

static void client_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct conn *c = (struct conn *)s;
  if (nread == ASYNC_EOF) {
    c->eof = 1;
    client_eofs++;
    return;
  }
  if (nread < 0) {
    read_errors_seen++;
    return;
  }
  if (nread > 0) {
    memcpy(c->buf + c->len, buf->base, (size_t)nread);
    c->len += (size_t)nread;
    replies++;
  }
}

static void on_connect(async_connect_t *req, int status) {
  struct conn *c = (struct conn *)req->handle;
  async_buf_t msg = {(char *)"echo", 4};
  connects_done++;
  last_connect_status = status;
  if (status != 0)
    return;
  assert_int_equal(async_read_start((async_stream_t *)&c->tcp, test_alloc_slab, client_read), 0);
  assert_int_equal(async_write(&c->wreq, (async_stream_t *)&c->tcp, &msg, 1, NULL), 0);
  assert_int_equal(async_shutdown(&c->sreq, (async_stream_t *)&c->tcp, NULL), 0);
}

static void start_server(async_loop_t *loop, const struct sockaddr *addr) {
  assert_int_equal(async_tcp_init(loop, &server), 0);
  assert_int_equal(async_tcp_bind(&server, addr, 0), 0);
  assert_int_equal(async_listen((async_stream_t *)&server, 128, on_connection), 0);
}

static int server_port(void) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  assert_int_equal(async_tcp_getsockname(&server, (struct sockaddr *)&ss, &len), 0);
  return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void loopback4(struct sockaddr_in *sin, int port) {
  memset(sin, 0, sizeof(*sin));
  sin->sin_family = AF_INET;
  sin->sin_port = htons((uint16_t)port);
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void echo_clients(async_loop_t *loop, const struct sockaddr *to, int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(async_tcp_init(loop, &clients[i].tcp), 0);
    assert_int_equal(async_tcp_connect(&creqs[i], &clients[i].tcp, to, on_connect), 0);
  }
  start_guard(loop);
  for (int i = 0; i < 4000 && client_eofs < n; i++)
    async_run(loop, ASYNC_RUN_ONCE);
}

static void test_echo_v4(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  echo_clients(&loop, (struct sockaddr *)&addr, 1);
  assert_int_equal(connects_done, 1);
  assert_int_equal(last_connect_status, 0);
  assert_int_equal(naccepted, 1);
  assert_int_equal(clients[0].len, 4);
  assert_memory_equal(clients[0].buf, "echo", 4);
  assert_int_equal(clients[0].eof, 1); /* the server shut down after our EOF */
  test_loop_close(&loop);
}

static void test_echo_v6(void **state) {
  async_loop_t loop;
  struct sockaddr_in6 addr;
  int err;
  (void)state;
  reset();
  test_loop_init(&loop);
  memset(&addr, 0, sizeof(addr));
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  assert_int_equal(async_tcp_init(&loop, &server), 0);
  err = async_tcp_bind(&server, (struct sockaddr *)&addr, ASYNC_TCP_IPV6ONLY);
  if (err != 0) {
    print_message("no IPv6 loopback here: %s\n", async_err_name(err));
    assert_true(err == ASYNC_EADDRNOTAVAIL || err == ASYNC_EAFNOSUPPORT);
  } else {
    assert_int_equal(async_listen((async_stream_t *)&server, 16, on_connection), 0);
    addr.sin6_port = htons((uint16_t)server_port());
    echo_clients(&loop, (struct sockaddr *)&addr, 1);
    assert_memory_equal(clients[0].buf, "echo", 4);
  }
  test_loop_close(&loop);
}

static void test_many_connections(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  echo_clients(&loop, (struct sockaddr *)&addr, MAXC);
  assert_int_equal(naccepted, MAXC);
  assert_int_equal(connects_done, MAXC);
  for (int i = 0; i < MAXC; i++) {
    assert_int_equal(clients[i].len, 4);
    assert_memory_equal(clients[i].buf, "echo", 4);
  }
  test_loop_close(&loop);
}

static void test_connect_refused(void **state) {
  async_loop_t loop;
  async_tcp_t probe, c;
  async_connect_t req;
  struct sockaddr_in addr;
  int port;
  (void)state;
  reset();
  test_loop_init(&loop);
  /* a port that was free a moment ago and has no listener */
  loopback4(&addr, 0);
  async_tcp_init(&loop, &probe);
  async_tcp_bind(&probe, (struct sockaddr *)&addr, 0);
  {
    struct sockaddr_in got;
    int len = sizeof(got);
    async_tcp_getsockname(&probe, (struct sockaddr *)&got, &len);
    port = ntohs(got.sin_port);
  }
  async_close((async_handle_t *)&probe, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  loopback4(&addr, port);
  async_tcp_init(&loop, &c);
  assert_int_equal(async_tcp_connect(&req, &c, (struct sockaddr *)&addr, on_connect), 0);
  assert_int_equal(connects_done, 0); /* never inside the call */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(connects_done, 1);
  assert_int_equal(last_connect_status, ASYNC_ECONNREFUSED);
  test_loop_close(&loop);
}

static void test_address_in_use(void **state) {
  async_loop_t loop;
  async_tcp_t other;
  struct sockaddr_in addr;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  async_tcp_init(&loop, &other);
  assert_int_equal(async_tcp_bind(&other, (struct sockaddr *)&addr, 0), ASYNC_EADDRINUSE);
  test_loop_close(&loop);
}

static void test_connect_cancelled_by_close(void **state) {
  async_loop_t loop;
  async_tcp_t c;
  async_connect_t req;
  struct sockaddr_in addr;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  async_tcp_init(&loop, &c);
  assert_int_equal(async_tcp_connect(&req, &c, (struct sockaddr *)&addr, on_connect), 0);
  assert_int_equal(async_tcp_connect(&req, &c, (struct sockaddr *)&addr, on_connect),
                   ASYNC_EALREADY);
  async_close((async_handle_t *)&c, NULL);
  async_close((async_handle_t *)&server, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(connects_done, 1);
  assert_true(last_connect_status == ASYNC_ECANCELED || last_connect_status == 0);
  test_loop_close(&loop);
}

static int resets;
static void read_reset(async_stream_t *s, long nread, const async_buf_t *buf) {
  (void)s;
  (void)buf;
  if (nread == ASYNC_ECONNRESET)
    resets++;
  else if (nread == ASYNC_EOF)
    resets += 100; /* an orderly close is not what was asked for */
}
static void connection_then_reset(async_stream_t *srv, int status) {
  struct conn *c = &accepted[naccepted++];
  assert_int_equal(status, 0);
  async_tcp_init(srv->loop, &c->tcp);
  async_accept(srv, (async_stream_t *)&c->tcp);
  assert_int_equal(async_tcp_close_reset(&c->tcp, NULL), 0);
}
static void connected_reader(async_connect_t *req, int status) {
  if (status == ASYNC_ECONNRESET) { /* the reset beat the connect's completion */
    resets++;
    return;
  }
  assert_int_equal(status, 0);
  async_read_start(req->handle, test_alloc_slab, read_reset);
}

static void test_close_reset(void **state) {
  async_loop_t loop;
  async_tcp_t c;
  async_connect_t req;
  struct sockaddr_in addr;
  (void)state;
  reset();
  resets = 0;
  test_loop_init(&loop);
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_init(&loop, &server), 0);
  async_tcp_bind(&server, (struct sockaddr *)&addr, 0);
  async_listen((async_stream_t *)&server, 4, connection_then_reset);
  loopback4(&addr, server_port());
  async_tcp_init(&loop, &c);
  async_tcp_connect(&req, &c, (struct sockaddr *)&addr, connected_reader);
  start_guard(&loop);
  for (int i = 0; i < 4000 && resets == 0; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(resets, 1);
  test_loop_close(&loop);
}

static int turns;
static void count_turn(async_check_t *c) { (void)c; turns++; }
static void stop_loop(async_timer_t *t) { async_stop(t->loop); }

/* Loop turns in 30 ms with nothing but a timer due (the guard paused). Its
 * two handles are closed before it returns, and one more turn runs. */
static int turns_in_30ms(async_loop_t *loop) {
  async_check_t check;
  async_timer_t t;
  async_timer_stop(&guard);
  turns = 0;
  async_check_init(loop, &check);
  async_check_start(&check, count_turn);
  async_timer_init(loop, &t);
  async_timer_start(&t, stop_loop, 30, 0);
  async_run(loop, ASYNC_RUN_DEFAULT);
  async_close((async_handle_t *)&check, NULL);
  async_close((async_handle_t *)&t, NULL);
  async_run(loop, ASYNC_RUN_NOWAIT);
  async_timer_again(&guard);
  return turns;
}

static void test_emfile_on_accept_recovers(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  struct rlimit old, low;
  int spare[64], nspare = 0;
  async_tcp_t extra;
  async_connect_t req;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  /* Use up the fds below a lowered limit, so the server's accept gets EMFILE. */
  getrlimit(RLIMIT_NOFILE, &old);
  low = old;
  low.rlim_cur = (rlim_t)test_fd_count() + 4;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  async_tcp_init(&loop, &clients[0].tcp);
  assert_int_equal(async_tcp_connect(&creqs[0], &clients[0].tcp, (struct sockaddr *)&addr,
                                     on_connect), 0);
  while (nspare < 64 && (spare[nspare] = dup(0)) >= 0)
    nspare++;
  start_guard(&loop);
  if (nspare == 64) {
    /* The limit is not enforced here (valgrind keeps fds for itself and
     * virtualises RLIMIT_NOFILE): say so, and check plain service below. */
    print_message("RLIMIT_NOFILE is not enforced in this environment: EMFILE not reached\n");
    for (int i = 0; i < 2000 && naccepted == 0; i++)
      async_run(&loop, ASYNC_RUN_ONCE);
    assert_int_equal(naccepted, 1);
    naccepted = 0;
  } else {
    for (int i = 0; i < 2000 && accept_errors == 0 && naccepted == 0; i++)
      async_run(&loop, ASYNC_RUN_ONCE);
  }
  if (nspare < 64 && accept_errors == 0) {
    /* Under valgrind, which keeps the limit itself, neither happens as on a
     * plain process: the released spare fd's number is past the limit. */
    print_message("no EMFILE from accept in this environment (accepted %d)\n", naccepted);
    naccepted = 0;
  } else if (nspare < 64) {
    assert_int_equal(accept_errors, 1);
    assert_int_equal(last_accept_error, ASYNC_EMFILE);
    /* The dropped connection sees its end. */
    for (int i = 0; i < 2000 && client_eofs + read_errors_seen == 0; i++)
      async_run(&loop, ASYNC_RUN_ONCE);
    assert_true(client_eofs + read_errors_seen >= 1);
    /* Still at the limit, with nothing to do: the loop sleeps instead of
     * spinning on the listening socket (a handful of turns, not thousands). */
    assert_true(turns_in_30ms(&loop) < 10);
  }
  while (nspare > 0)
    close(spare[--nspare]);
  setrlimit(RLIMIT_NOFILE, &old);
  /* With fds back, the next client is served. */
  async_tcp_init(&loop, &extra);
  assert_int_equal(async_tcp_connect(&req, &extra, (struct sockaddr *)&addr, NULL), 0);
  for (int i = 0; i < 2000 && naccepted == 0; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(naccepted, 1);
  test_loop_close(&loop);
}

/* A listener that ran out of fds with no spare to give up (here: it started
 * listening at the limit) reports EMFILE once, stops watching instead of
 * spinning, and watches again when the loop closes a handle. */
static void test_emfile_without_spare_waits_for_a_close(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  struct rlimit old, low;
  int spare[256], nspare = 0;
  async_timer_t closed;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_init(&loop, &server), 0);
  assert_int_equal(async_tcp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  loopback4(&addr, server_port());
  assert_int_equal(async_tcp_init_ex(&loop, &clients[0].tcp, AF_INET), 0); /* its socket now */
  getrlimit(RLIMIT_NOFILE, &old);
  low = old;
  low.rlim_cur = (rlim_t)test_fd_count() + 4;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  while (nspare < 256 && (spare[nspare] = dup(0)) >= 0)
    nspare++;
  assert_int_equal(async_listen((async_stream_t *)&server, 128, on_connection), 0);
  assert_int_equal(async_tcp_connect(&creqs[0], &clients[0].tcp, (struct sockaddr *)&addr,
                                     on_connect), 0);
  start_guard(&loop);
  for (int i = 0; i < 2000 && accept_errors == 0 && naccepted == 0; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  if (nspare < 256 && accept_errors == 1)
    assert_true(turns_in_30ms(&loop) < 10); /* asleep, not spinning on the listener */
  if (nspare == 256 || accept_errors == 0 || client_eofs + read_errors_seen > 0) {
    /* valgrind keeps RLIMIT_NOFILE to itself: no EMFILE, or a spare that
     * could be opened after all (the connection was dropped). */
    print_message("no starved listener in this environment (accepted %d, errors %d)\n",
                  naccepted, accept_errors);
    while (nspare > 0)
      close(spare[--nspare]);
    if (naccepted == 0) {
      async_tcp_init(&loop, &clients[1].tcp);
      assert_int_equal(async_tcp_connect(&creqs[1], &clients[1].tcp, (struct sockaddr *)&addr,
                                         on_connect), 0);
      for (int i = 0; i < 2000 && naccepted == 0; i++)
        async_run(&loop, ASYNC_RUN_ONCE);
    }
  } else {
    assert_int_equal(last_accept_error, ASYNC_EMFILE);
    /* The two handles turns_in_30ms closed woke it while fds were still
     * short: one more EMFILE, starved again. */
    assert_int_equal(accept_errors, 2);
    /* Fds freed behind the loop's back are not seen... */
    while (nspare > 0)
      close(spare[--nspare]);
    for (int i = 0; i < 20; i++)
      async_run(&loop, ASYNC_RUN_NOWAIT);
    assert_int_equal(naccepted, 0);
    /* ...a handle of the loop closing is. */
    async_timer_init(&loop, &closed);
    async_close((async_handle_t *)&closed, NULL);
    for (int i = 0; i < 2000 && naccepted == 0; i++)
      async_run(&loop, ASYNC_RUN_ONCE);
    assert_int_equal(accept_errors, 2);
  }
  assert_int_equal(naccepted, 1);
  setrlimit(RLIMIT_NOFILE, &old);
  /* The connection is served: its echo comes back. */
  for (int i = 0; i < 2000 && replies == 0; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(replies, 1);
  test_loop_close(&loop);
}

static void test_options_and_names(void **state) {
  async_loop_t loop;
  async_tcp_t t;
  struct sockaddr_in addr;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_tcp_init(&loop, &t), 0);
  assert_int_equal(async_tcp_nodelay(&t, 1), ASYNC_EBADF); /* no socket yet */
  assert_int_equal(async_tcp_init_ex(&loop, &server, AF_INET), 0);
  assert_int_equal(async_tcp_nodelay(&server, 1), 0);
  assert_int_equal(async_tcp_keepalive(&server, 1, 60), 0);
  assert_int_equal(async_tcp_keepalive(&server, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_tcp_keepalive(&server, 0, 0), 0);
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_tcp_getsockname(&server, (struct sockaddr *)&ss, &len), 0);
  assert_int_equal(ss.ss_family, AF_INET);
  len = sizeof(ss);
  assert_int_equal(async_tcp_getpeername(&server, (struct sockaddr *)&ss, &len), ASYNC_ENOTCONN);
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_tcp_t t, u;
  async_connect_t req;
  async_write_t w;
  async_buf_t buf = {(char *)"x", 1};
  struct sockaddr_in addr;
  struct sockaddr un;
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_tcp_init(NULL, &t), ASYNC_EINVAL);
  assert_int_equal(async_tcp_init_ex(&loop, &t, AF_UNIX), ASYNC_EINVAL);
  assert_int_equal(async_tcp_init(&loop, &t), 0);
  assert_int_equal(async_tcp_init(&loop, &u), 0);
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_bind(&t, NULL, 0), ASYNC_EINVAL);
  assert_int_equal(async_tcp_bind(&t, (struct sockaddr *)&addr, 9), ASYNC_EINVAL);
  memset(&un, 0, sizeof(un));
  un.sa_family = AF_UNIX;
  assert_int_equal(async_tcp_connect(&req, &t, &un, on_connect), ASYNC_EINVAL);
  assert_int_equal(async_listen((async_stream_t *)&t, 4, on_connection), ASYNC_EINVAL); /* no socket */
  assert_int_equal(async_tcp_bind(&t, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_listen((async_stream_t *)&t, 4, NULL), ASYNC_EINVAL);
  assert_int_equal(async_listen((async_stream_t *)&t, 4, on_connection), 0);
  assert_int_equal(async_listen((async_stream_t *)&t, 4, on_connection), ASYNC_EALREADY);
  assert_int_equal(async_accept((async_stream_t *)&t, (async_stream_t *)&u), ASYNC_EAGAIN);
  assert_int_equal(async_write(&w, (async_stream_t *)&t, &buf, 1, NULL), ASYNC_EINVAL);
  assert_int_equal(async_read_start((async_stream_t *)&t, test_alloc_slab, client_read), ASYNC_EINVAL);
  assert_int_equal(async_write(&w, (async_stream_t *)&u, &buf, 1, NULL), ASYNC_EINVAL); /* not connected */
  async_close((async_handle_t *)&t, NULL);
  assert_int_equal(async_accept((async_stream_t *)&t, (async_stream_t *)&u), ASYNC_EINVAL);
  assert_int_equal(async_tcp_close_reset(&t, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
}

/* Connections already waiting in the backlog are taken in one wakeup. */
static void test_accepts_a_batch_per_wakeup(void **state) {
  enum { N = 20 };
  async_loop_t loop;
  struct sockaddr_in addr;
  int raw[N];
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  for (int i = 0; i < N; i++) { /* blocking: each is in the backlog on return */
    raw[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(raw[i], (struct sockaddr *)&addr, sizeof(addr)), 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(naccepted, N);
  for (int i = 0; i < N; i++)
    close(raw[i]);
  test_loop_close(&loop);
}

static int untaken;
static void leave_it(async_stream_t *srv, int status) {
  (void)srv;
  assert_int_equal(status, 0);
  untaken++;
}

/* A connection nobody accepts pauses the listener, and closes with it. */
static void test_untaken_connection_pauses_and_closes_with_server(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  int raw[2];
  (void)state;
  untaken = 0;
  test_loop_init(&loop);
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_init(&loop, &server), 0);
  assert_int_equal(async_tcp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_listen((async_stream_t *)&server, 8, leave_it), 0);
  loopback4(&addr, server_port());
  for (int i = 0; i < 2; i++) {
    raw[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(raw[i], (struct sockaddr *)&addr, sizeof(addr)), 0);
  }
  for (int i = 0; i < 10; i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(untaken, 1); /* the second waits until the first is taken */
  assert_int_equal(async_close((async_handle_t *)&server, NULL), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  for (int i = 0; i < 2; i++)
    close(raw[i]);
  test_loop_close(&loop);
}

static void test_reuseport_lets_two_servers_share_a_port(void **state) {
  async_loop_t loop;
  async_tcp_t a, b, c;
  struct sockaddr_in addr;
  (void)state;
  test_loop_init(&loop);
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_init(&loop, &a), 0);
  assert_int_equal(async_tcp_init(&loop, &b), 0);
  assert_int_equal(async_tcp_init(&loop, &c), 0);
  assert_int_equal(async_tcp_bind(&a, (struct sockaddr *)&addr, ASYNC_TCP_REUSEPORT), 0);
  assert_int_equal(async_listen((async_stream_t *)&a, 8, on_connection), 0);
  {
    struct sockaddr_in got;
    int len = sizeof(got);
    assert_int_equal(async_tcp_getsockname(&a, (struct sockaddr *)&got, &len), 0);
    addr.sin_port = got.sin_port;
  }
  assert_int_equal(async_tcp_bind(&b, (struct sockaddr *)&addr, ASYNC_TCP_REUSEPORT), 0);
  assert_int_equal(async_listen((async_stream_t *)&b, 8, on_connection), 0);
  assert_int_equal(async_tcp_bind(&c, (struct sockaddr *)&addr, 0), ASYNC_EADDRINUSE);
  test_loop_close(&loop);
}

static void test_ipv6only_refuses_ipv4(void **state) {
  async_loop_t loop;
  struct sockaddr_in6 any6;
  struct sockaddr_in addr;
  struct sockaddr_in6 got;
  int len = sizeof(got);
  (void)state;
  reset();
  test_loop_init(&loop);
  memset(&any6, 0, sizeof(any6));
  any6.sin6_family = AF_INET6;
  any6.sin6_addr = in6addr_any;
  assert_int_equal(async_tcp_init(&loop, &server), 0);
  if (async_tcp_bind(&server, (struct sockaddr *)&any6, ASYNC_TCP_IPV6ONLY) != 0) {
    print_message("no IPv6 on this machine\n");
    test_loop_close(&loop);
    return;
  }
  assert_int_equal(async_listen((async_stream_t *)&server, 8, on_connection), 0);
  assert_int_equal(async_tcp_getsockname(&server, (struct sockaddr *)&got, &len), 0);
  loopback4(&addr, ntohs(got.sin6_port));
  assert_int_equal(async_tcp_init(&loop, &clients[0].tcp), 0);
  assert_int_equal(async_tcp_connect(&creqs[0], &clients[0].tcp, (struct sockaddr *)&addr,
                                     on_connect), 0);
  start_guard(&loop);
  for (int i = 0; i < 1000 && connects_done < 1; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(last_connect_status, ASYNC_ECONNREFUSED);
  assert_int_equal(naccepted, 0);
  test_loop_close(&loop);
}

static void test_open_adopts_a_connected_socket(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  async_tcp_t adopted, again;
  int raw, udp;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  raw = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(raw, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(async_tcp_init(&loop, &adopted), 0);
  assert_int_equal(async_tcp_open(&adopted, raw), 0);
  assert_int_equal(async_tcp_open(&adopted, raw), ASYNC_EBUSY);
  assert_int_equal(async_is_readable((async_stream_t *)&adopted), 1);
  assert_int_equal(async_is_writable((async_stream_t *)&adopted), 1);
  assert_int_equal(async_close((async_handle_t *)&adopted, NULL), 0); /* closes raw */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_int_equal(async_tcp_init(&loop, &again), 0);
  assert_int_equal(async_tcp_open(&again, udp), ASYNC_EINVAL);
  assert_int_equal(async_tcp_open(&again, -1), ASYNC_EINVAL);
  close(udp);
  test_loop_close(&loop);
}

static void test_connect_twice(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  async_connect_t again;
  (void)state;
  reset();
  test_loop_init(&loop);
  loopback4(&addr, 0);
  start_server(&loop, (struct sockaddr *)&addr);
  loopback4(&addr, server_port());
  assert_int_equal(async_tcp_init(&loop, &clients[0].tcp), 0);
  assert_int_equal(async_tcp_connect(&creqs[0], &clients[0].tcp, (struct sockaddr *)&addr, NULL), 0);
  assert_int_equal(async_tcp_connect(&again, &clients[0].tcp, (struct sockaddr *)&addr, NULL),
                   ASYNC_EALREADY);
  for (int i = 0; i < 1000 && !async_is_writable((async_stream_t *)&clients[0].tcp); i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(async_tcp_connect(&again, &clients[0].tcp, (struct sockaddr *)&addr, NULL),
                   ASYNC_EISCONN);
  test_loop_close(&loop);
}

static void test_bind_to_foreign_address(void **state) {
  async_loop_t loop;
  async_tcp_t t;
  struct sockaddr_in addr;
  int fd;
  (void)state;
  test_loop_init(&loop);
  loopback4(&addr, 0);
  addr.sin_addr.s_addr = inet_addr("192.0.2.1"); /* TEST-NET-1: never local */
  assert_int_equal(async_tcp_init(&loop, &t), 0);
  assert_int_equal(async_tcp_bind(&t, (struct sockaddr *)&addr, 0), ASYNC_EADDRNOTAVAIL);
  assert_int_equal(async_fileno((async_handle_t *)&t, &fd), 0); /* the socket stays for a retry */
  loopback4(&addr, 0);
  assert_int_equal(async_tcp_bind(&t, (struct sockaddr *)&addr, 0), 0);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_accepts_a_batch_per_wakeup),
  TEST(test_untaken_connection_pauses_and_closes_with_server),
  TEST(test_reuseport_lets_two_servers_share_a_port),
  TEST(test_ipv6only_refuses_ipv4),
  TEST(test_open_adopts_a_connected_socket),
  TEST(test_connect_twice),
  TEST(test_bind_to_foreign_address),
  TEST(test_echo_v4),
  TEST(test_echo_v6),
  TEST(test_many_connections),
  TEST(test_connect_refused),
  TEST(test_address_in_use),
  TEST(test_connect_cancelled_by_close),
  TEST(test_close_reset),
  TEST(test_emfile_on_accept_recovers),
  TEST(test_emfile_without_spare_waits_for_a_close),
  TEST(test_options_and_names),
  TEST(test_bad_input),
};

TEST_MAIN("tcp", tests)
