/* Unix domain sockets under pipe handles: echo on a path and in the abstract
 * namespace, name limits, names, chmod, peer credentials, connect errors. */
#include "helper.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXC 64

struct conn {
  async_pipe_t pipe;
  async_write_t wreq;
  async_shutdown_t sreq;
  async_connect_t creq;
  char buf[256];
  size_t len;
  int eof;
};

static async_pipe_t server;
static struct conn accepted[MAXC], clients[MAXC];
static int naccepted, connects_done, last_connect_status, eofs;
static char path[108];

static void reset(void) {
  memset(accepted, 0, sizeof(accepted));
  memset(clients, 0, sizeof(clients));
  naccepted = connects_done = eofs = 0;
  last_connect_status = 1;
}

/* A fresh name per test: a filesystem path, or the same in the abstract namespace. */
static const char *fresh_path(void) {
  static int n;
  snprintf(path, sizeof(path), "/tmp/async-test-%d-%d.sock", (int)getpid(), n++);
  unlink(path);
  return path;
}

static size_t fresh_abstract(void) {
  static int n;
  int len = snprintf(path + 1, sizeof(path) - 1, "async-test-%d-%d", (int)getpid(), n++);
  path[0] = '\0';
  return (size_t)len + 1;
}

/* 1 if the loop takes abstract names. Otherwise checks that naming one is
 * refused with ASYNC_ENOTSUP and leaves the handle as it was. */
static int abstract_or_refused(async_loop_t *loop) {
  async_pipe_t p;
  async_connect_t req;
  size_t len;
  if (async_loop_caps(loop) & ASYNC_CAP_UNIX_ABSTRACT)
    return 1;
  len = fresh_abstract();
  assert_int_equal(async_pipe_init(loop, &p), 0);
  assert_int_equal(async_pipe_bind2(&p, path, len), ASYNC_ENOTSUP);
  assert_int_equal(async_pipe_connect2(&req, &p, path, len, NULL), ASYNC_ENOTSUP);
  assert_int_equal(async_pipe_bind(&p, fresh_path()), 0);
  async_close((async_handle_t *)&p, NULL);
  return 0;
}

static void echo_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct conn *c = (struct conn *)s;
  if (nread == ASYNC_EOF) {
    async_shutdown(&c->sreq, s, NULL);
    return;
  }
  if (nread > 0) {
    async_buf_t out = {c->buf, (size_t)nread};
    memcpy(c->buf, buf->base, (size_t)nread);
    assert_int_equal(async_write(&c->wreq, s, &out, 1, NULL), 0);
  }
}

static void on_connection(async_stream_t *srv, int status) {
  struct conn *c;
  assert_int_equal(status, 0);
  c = &accepted[naccepted++];
  assert_int_equal(async_pipe_init(srv->loop, &c->pipe), 0);
  assert_int_equal(async_accept(srv, (async_stream_t *)&c->pipe), 0);
  assert_int_equal(async_read_start((async_stream_t *)&c->pipe, test_alloc_slab, echo_read), 0);
}

static void client_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct conn *c = (struct conn *)s;
  if (nread == ASYNC_EOF) {
    c->eof = 1;
    eofs++;
    return;
  }
  if (nread > 0) {
    memcpy(c->buf + c->len, buf->base, (size_t)nread);
    c->len += (size_t)nread;
  }
}

static void on_connect(async_connect_t *req, int status) {
  struct conn *c = (struct conn *)req->handle;
  async_buf_t msg = {(char *)"hello", 5};
  connects_done++;
  last_connect_status = status;
  if (status != 0)
    return;
  assert_int_equal(async_read_start((async_stream_t *)&c->pipe, test_alloc_slab, client_read), 0);
  assert_int_equal(async_write(&c->wreq, (async_stream_t *)&c->pipe, &msg, 1, NULL), 0);
  assert_int_equal(async_shutdown(&c->sreq, (async_stream_t *)&c->pipe, NULL), 0);
}

static void listen_on(async_loop_t *loop, const char *name, size_t len) {
  assert_int_equal(async_pipe_init(loop, &server), 0);
  assert_int_equal(async_pipe_bind2(&server, name, len), 0);
  assert_int_equal(async_listen((async_stream_t *)&server, 128, on_connection), 0);
}

static void run_clients(async_loop_t *loop, const char *name, size_t len, int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(async_pipe_init(loop, &clients[i].pipe), 0);
    assert_int_equal(async_pipe_connect2(&clients[i].creq, &clients[i].pipe, name, len, on_connect), 0);
  }
  for (int i = 0; i < 100000 && eofs < n; i++)
    async_run(loop, ASYNC_RUN_ONCE);
}

static void check_echoed(int n) {
  assert_int_equal(connects_done, n);
  assert_int_equal(naccepted, n);
  assert_int_equal(eofs, n);
  for (int i = 0; i < n; i++) {
    assert_int_equal(clients[i].len, 5);
    assert_memory_equal(clients[i].buf, "hello", 5);
  }
}

static void test_path_echo(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  test_loop_init(&loop);
  if (!test_has_caps(&loop, ASYNC_CAP_UNIX_SOCKET)) {
    async_pipe_t p;
    assert_int_equal(async_pipe_init(&loop, &p), 0);
    assert_int_equal(async_pipe_bind(&p, fresh_path()), ASYNC_ENOTSUP);
    test_loop_close(&loop);
    return;
  }
  fresh_path();
  listen_on(&loop, path, strlen(path));
  run_clients(&loop, path, strlen(path), 1);
  check_echoed(1);
  test_loop_close(&loop);
}

static void test_abstract_echo(void **state) {
  async_loop_t loop;
  size_t len;
  (void)state;
  reset();
  test_loop_init(&loop);
  if (!abstract_or_refused(&loop)) {
    test_loop_close(&loop);
    return;
  }
  len = fresh_abstract();
  listen_on(&loop, path, len);
  run_clients(&loop, path, len, 1);
  check_echoed(1);
  test_loop_close(&loop);
}

static void test_many_clients_on_a_path(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  test_loop_init(&loop);
  fresh_path();
  listen_on(&loop, path, strlen(path));
  run_clients(&loop, path, strlen(path), MAXC);
  check_echoed(MAXC);
  test_loop_close(&loop);
}

static void test_path_too_long_is_refused_not_truncated(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  async_connect_t req;
  char name[200];
  struct sockaddr_un un;
  (void)state;
  test_loop_init(&loop);
  memset(name, 'x', sizeof(name));
  name[0] = '/';
  name[sizeof(un.sun_path)] = '\0'; /* one byte too many for the NUL */
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_bind(&p, name), ASYNC_ENAMETOOLONG);
  assert_int_equal(async_pipe_connect(&req, &p, name, NULL), ASYNC_ENAMETOOLONG);
  name[sizeof(name) - 1] = '\0';
  assert_int_equal(async_pipe_bind(&p, name), ASYNC_ENAMETOOLONG);
  /* nothing changed: the handle still takes a name that fits */
  assert_int_equal(async_pipe_bind(&p, fresh_path()), 0);
  assert_int_equal(access(path, F_OK), 0);
  test_loop_close(&loop);
}

static void test_abstract_name_limits(void **state) {
  async_loop_t loop;
  async_pipe_t p, q;
  char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t got = sizeof(name);
  char back[sizeof(name)];
  (void)state;
  test_loop_init(&loop);
  if (!abstract_or_refused(&loop)) {
    test_loop_close(&loop);
    return;
  }
  memset(name, 'a', sizeof(name));
  name[0] = '\0';
  snprintf(name + 1, 12, "%08d", (int)getpid());
  name[9] = 'a';
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_bind2(&p, name, sizeof(name)), ASYNC_ENAMETOOLONG);
  /* a full sun_path is fine: abstract names need no terminator */
  assert_int_equal(async_pipe_bind2(&p, name, sizeof(name) - 1), 0);
  assert_int_equal(async_pipe_getsockname(&p, back, &got), 0);
  assert_int_equal(got, sizeof(name) - 1);
  assert_memory_equal(back, name, got);
  assert_int_equal(async_pipe_init(&loop, &q), 0);
  assert_int_equal(async_pipe_bind2(&q, name, sizeof(name) - 1), ASYNC_EADDRINUSE);
  test_loop_close(&loop);
}

static void test_bind_address_in_use(void **state) {
  async_loop_t loop;
  async_pipe_t a, b;
  int fd;
  (void)state;
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &a), 0);
  assert_int_equal(async_pipe_init(&loop, &b), 0);
  assert_int_equal(async_pipe_bind(&a, path), 0);
  assert_int_equal(async_pipe_bind(&b, path), ASYNC_EADDRINUSE);
  assert_int_equal(async_fileno((async_handle_t *)&b, &fd), ASYNC_EBADF); /* left as it was */
  assert_int_equal(async_pipe_bind(&a, path), ASYNC_EBUSY);
  test_loop_close(&loop);
}

static void test_connect_to_missing_path(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &clients[0].pipe), 0);
  assert_int_equal(async_pipe_connect(&clients[0].creq, &clients[0].pipe, path, on_connect), 0);
  assert_int_equal(connects_done, 0); /* never from inside the call */
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(connects_done, 1);
  assert_int_equal(last_connect_status, ASYNC_ENOENT);
  test_loop_close(&loop);
}

static void test_connect_without_listener(void **state) {
  async_loop_t loop;
  async_pipe_t bound;
  (void)state;
  reset();
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &bound), 0);
  assert_int_equal(async_pipe_bind(&bound, path), 0);
  assert_int_equal(async_pipe_init(&loop, &clients[0].pipe), 0);
  assert_int_equal(async_pipe_connect(&clients[0].creq, &clients[0].pipe, path, on_connect), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(connects_done, 1);
  assert_int_equal(last_connect_status, ASYNC_ECONNREFUSED);
  test_loop_close(&loop);
}

static void test_connect_answer_survives_close(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &clients[0].pipe), 0);
  assert_int_equal(async_pipe_connect(&clients[0].creq, &clients[0].pipe, path, on_connect), 0);
  assert_int_equal(async_close((async_handle_t *)&clients[0].pipe, NULL), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  /* a Unix connect is answered at once: the answer, not ECANCELED, comes once */
  assert_int_equal(connects_done, 1);
  assert_int_equal(last_connect_status, ASYNC_ENOENT);
  test_loop_close(&loop);
}

static void test_names_of_path_sockets(void **state) {
  async_loop_t loop;
  char name[128];
  size_t len;
  (void)state;
  reset();
  test_loop_init(&loop);
  fresh_path();
  listen_on(&loop, path, strlen(path));
  len = sizeof(name);
  assert_int_equal(async_pipe_getsockname(&server, name, &len), 0);
  assert_int_equal(len, strlen(path));
  assert_string_equal(name, path);
  assert_int_equal(async_pipe_init(&loop, &clients[0].pipe), 0);
  assert_int_equal(async_pipe_connect(&clients[0].creq, &clients[0].pipe, path, NULL), 0);
  for (int i = 0; i < 1000 && naccepted < 1; i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(naccepted, 1);
  len = sizeof(name);
  assert_int_equal(async_pipe_getpeername(&clients[0].pipe, name, &len), 0);
  assert_string_equal(name, path);
  len = sizeof(name); /* the client never bound: an unnamed socket */
  assert_int_equal(async_pipe_getsockname(&clients[0].pipe, name, &len), 0);
  assert_int_equal(len, 0);
  len = sizeof(name);
  assert_int_equal(async_pipe_getpeername(&accepted[0].pipe, name, &len), 0);
  assert_int_equal(len, 0);
  test_loop_close(&loop);
}

static void test_name_buffer_too_small(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  char name[8];
  size_t len = sizeof(name);
  (void)state;
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_bind(&p, path), 0);
  assert_int_equal(async_pipe_getsockname(&p, name, &len), ASYNC_ENOBUFS);
  assert_int_equal(len, strlen(path)); /* the size needed */
  len = strlen(path); /* exactly the name, no room for a NUL: fine */
  {
    char exact[128];
    memset(exact, 'z', sizeof(exact));
    assert_int_equal(async_pipe_getsockname(&p, exact, &len), 0);
    assert_memory_equal(exact, path, len);
    assert_int_equal(exact[len], 'z');
  }
  test_loop_close(&loop);
}

static void test_name_errors(void **state) {
  async_loop_t loop;
  async_pipe_t p, q;
  char name[64];
  size_t len = sizeof(name);
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_getsockname(&p, name, &len), ASYNC_EBADF);
  assert_int_equal(async_pipe_getpeername(&p, name, &len), ASYNC_EBADF);
  assert_int_equal(async_pipe_getsockname(NULL, name, &len), ASYNC_EINVAL);
  assert_int_equal(async_pipe_getsockname(&p, NULL, &len), ASYNC_EINVAL);
  assert_int_equal(async_pipe_getsockname(&p, name, NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_open(&p, fds[0]), 0);
  assert_int_equal(async_pipe_getsockname(&p, name, &len), ASYNC_ENOTSOCK);
  close(fds[1]);
  assert_int_equal(async_pipe_init(&loop, &q), 0); /* bound but not connected */
  assert_int_equal(async_pipe_bind(&q, fresh_path()), 0);
  assert_int_equal(async_pipe_getpeername(&q, name, &len), ASYNC_ENOTCONN);
  test_loop_close(&loop);
}

static void test_chmod(void **state) {
  async_loop_t loop;
  async_pipe_t p, q, r;
  struct stat st;
  (void)state;
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_chmod(&p, ASYNC_READABLE), ASYNC_EINVAL); /* no name */
  assert_int_equal(async_pipe_bind(&p, path), 0);
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(async_pipe_chmod(&p, ASYNC_READABLE), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  assert_int_equal(async_pipe_chmod(&p, ASYNC_WRITABLE), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0666);
  assert_int_equal(async_pipe_chmod(&p, 0), ASYNC_EINVAL);
  assert_int_equal(async_pipe_chmod(&p, 4), ASYNC_EINVAL);
  assert_int_equal(async_pipe_chmod(NULL, ASYNC_READABLE), ASYNC_EINVAL);
  assert_int_equal(async_pipe_init(&loop, &q), 0);
  assert_int_equal(async_pipe_bind2(&q, path, 0), ASYNC_EINVAL);
  if (abstract_or_refused(&loop)) {
    fresh_abstract();
    assert_int_equal(async_pipe_bind2(&q, path, 1 + strlen(path + 1)), 0);
    assert_int_equal(async_pipe_chmod(&q, ASYNC_READABLE), ASYNC_EINVAL); /* no file */
  }
  assert_int_equal(async_pipe_init(&loop, &r), 0);
  assert_int_equal(async_pipe_bind2(&r, "/tmp/a\0b", 8), ASYNC_EINVAL); /* NUL inside a path */
  test_loop_close(&loop);
}

static void test_close_removes_the_socket_file(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  (void)state;
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_bind(&p, path), 0);
  assert_int_equal(access(path, F_OK), 0);
  assert_int_equal(async_close((async_handle_t *)&p, NULL), 0);
  assert_int_not_equal(access(path, F_OK), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  test_loop_close(&loop);
}

static void test_peer_credentials(void **state) {
  async_loop_t loop;
  async_pipe_t a, b, c;
  async_peercred_t cred = {0, 0, 0};
  int sv[2], fds[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(async_pipe_init(&loop, &a), 0);
  assert_int_equal(async_pipe_init(&loop, &b), 0);
  assert_int_equal(async_pipe_getpeercred(&a, &cred), ASYNC_EBADF);
  assert_int_equal(async_pipe_open(&a, sv[0]), 0);
  assert_int_equal(async_pipe_open(&b, sv[1]), 0);
  assert_int_equal(async_pipe_getpeercred(&a, &cred), 0);
  assert_int_equal(cred.pid, (long)getpid());
  assert_int_equal(cred.uid, (long)getuid());
  assert_int_equal(cred.gid, (long)getgid());
  assert_int_equal(async_pipe_getpeercred(&a, NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_getpeercred(NULL, &cred), ASYNC_EINVAL);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_init(&loop, &c), 0);
  assert_int_equal(async_pipe_open(&c, fds[0]), 0);
  assert_int_equal(async_pipe_getpeercred(&c, &cred), ASYNC_ENOTSOCK);
  close(fds[1]);
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_pipe_t p, q;
  async_connect_t req;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_pipe_bind(NULL, "/tmp/x"), ASYNC_EINVAL);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_bind(&p, NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_bind(&p, ""), ASYNC_EINVAL);
  assert_int_equal(async_pipe_connect(NULL, &p, "/tmp/x", NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_connect(&req, NULL, "/tmp/x", NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_connect(&req, &p, NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_connect2(&req, &p, "", 0, NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_init_ex(&loop, &q, 2), ASYNC_EINVAL);
  assert_int_equal(async_pipe_init_ex(NULL, &q, 0), ASYNC_EINVAL);
  assert_int_equal(async_pipe_bind(&p, fresh_path()), 0);
  assert_int_equal(async_pipe_connect(&req, &p, path, NULL), ASYNC_EBUSY);
  assert_int_equal(async_close((async_handle_t *)&p, NULL), 0);
  assert_int_equal(async_pipe_bind(&p, path), ASYNC_EINVAL); /* closing */
  assert_int_equal(async_pipe_connect(&req, &p, path, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
}

/* IPC pipes connected by path pass fds like socketpairs do. */
static async_pipe_t ipc_server_side;
static int ipc_accepted, ipc_got_fd;
static void ipc_on_connection(async_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_pipe_init_ex(srv->loop, &ipc_server_side, ASYNC_PIPE_IPC), 0);
  assert_int_equal(async_accept(srv, (async_stream_t *)&ipc_server_side), 0);
  ipc_accepted = 1;
}

static void ipc_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  (void)buf;
  if (nread > 0)
    ipc_got_fd = async_pipe_pending_count((async_pipe_t *)s);
}

static void test_ipc_over_a_path(void **state) {
  async_loop_t loop;
  async_pipe_t client;
  async_connect_t req;
  async_write_t w;
  async_buf_t b = {(char *)"fd", 2};
  int fds[2], got;
  char c = 0;
  (void)state;
  ipc_accepted = ipc_got_fd = 0;
  test_loop_init(&loop);
  fresh_path();
  assert_int_equal(async_pipe_init(&loop, &server), 0);
  assert_int_equal(async_pipe_bind(&server, path), 0);
  assert_int_equal(async_listen((async_stream_t *)&server, 4, ipc_on_connection), 0);
  assert_int_equal(async_pipe_init_ex(&loop, &client, ASYNC_PIPE_IPC), 0);
  assert_int_equal(async_pipe_connect(&req, &client, path, NULL), 0);
  for (int i = 0; i < 1000 && !ipc_accepted; i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(async_read_start((async_stream_t *)&ipc_server_side, test_alloc_slab, ipc_read), 0);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_write_fd(&w, (async_stream_t *)&client, &b, 1, fds[1], NULL), 0);
  close(fds[1]);
  for (int i = 0; i < 1000 && !ipc_got_fd; i++)
    async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(ipc_got_fd, 1);
  got = async_pipe_take_fd(&ipc_server_side);
  assert_true(got >= 0);
  assert_int_equal(write(got, "k", 1), 1);
  assert_int_equal(read(fds[0], &c, 1), 1);
  assert_int_equal(c, 'k');
  close(got);
  close(fds[0]);
  test_loop_close(&loop);
}

/* A socketpair end handed in answers name queries with an empty name. */
static void test_adopted_socketpair_is_unnamed(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  char name[16];
  size_t len = sizeof(name);
  int sv[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_open(&p, sv[0]), 0);
  assert_int_equal(async_pipe_getsockname(&p, name, &len), 0);
  assert_int_equal(len, 0);
  len = sizeof(name);
  assert_int_equal(async_pipe_getpeername(&p, name, &len), 0);
  assert_int_equal(len, 0);
  assert_int_equal(async_pipe_chmod(&p, ASYNC_READABLE), ASYNC_EINVAL); /* no file */
  close(sv[1]);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_ipc_over_a_path),
  TEST(test_adopted_socketpair_is_unnamed),
  TEST(test_path_echo),
  TEST(test_abstract_echo),
  TEST(test_many_clients_on_a_path),
  TEST(test_path_too_long_is_refused_not_truncated),
  TEST(test_abstract_name_limits),
  TEST(test_bind_address_in_use),
  TEST(test_connect_to_missing_path),
  TEST(test_connect_without_listener),
  TEST(test_connect_answer_survives_close),
  TEST(test_names_of_path_sockets),
  TEST(test_name_buffer_too_small),
  TEST(test_name_errors),
  TEST(test_chmod),
  TEST(test_close_removes_the_socket_file),
  TEST(test_peer_credentials),
  TEST(test_bad_input),
};

TEST_MAIN("unix", tests)
