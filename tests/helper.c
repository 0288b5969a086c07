#include "helper.h"

#include <stdio.h>
#if !defined(_WIN32)
# include <arpa/inet.h>
# include <netinet/in.h>
# include <sys/socket.h>
# include <unistd.h>
#endif
#include <stdlib.h>
#include <string.h>

const char *test_backend(void) {
  const char *b = getenv("ASYNC_TEST_BACKEND");
  return (b != NULL && *b != '\0') ? b : NULL;
}

void test_loop_init_clock(async_loop_t *loop, async_clock_mode clock) {
  async_loop_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.backend = test_backend();
  opts.clock = clock;
  assert_int_equal(async_loop_init(loop, &opts), 0);
  if (opts.backend != NULL)
    assert_string_equal(async_loop_backend(loop), opts.backend);
}

void test_loop_init(async_loop_t *loop) {
  test_loop_init_clock(loop, ASYNC_CLOCK_REAL);
}

static void close_walk_cb(async_handle_t *h, void *arg) {
  (void)arg;
  if (!async_is_closing(h))
    async_close(h, NULL);
}

void test_loop_close(async_loop_t *loop) {
  async_walk(loop, close_walk_cb, NULL);
  /* Close callbacks run from the loop; a virtual clock never needs to move for them. */
  int rc = async_loop_close(loop);
  for (int i = 0; i < 16 && rc == ASYNC_EBUSY; i++) {
    async_run(loop, ASYNC_RUN_NOWAIT);
    rc = async_loop_close(loop);
  }
  assert_int_equal(rc, 0);
}

#if defined(_WIN32)
/* Every kernel object the process holds: sockets, ports, threads, events.
 * Wine 8 answers 0 (so the per-test check only bites on Windows itself);
 * test_handle_probe counts there. */
int test_fd_count(void) {
  DWORD n = 0;
  if (!GetProcessHandleCount(GetCurrentProcess(), &n))
    return -1;
  return (int)n;
}

/* Probes the low handle values one by one (a leaked handle sits there: the
 * lowest free value is reused). It also sees the handles Wine and
 * winpthreads make on first use of a feature and keep, so it suits a
 * steady-state comparison, not a before/after of one test. */
int test_handle_probe(void) {
  DWORD flags;
  int n = 0;
  for (ULONG_PTR h = 4; h < 0x1000; h += 4)
    n += GetHandleInformation((HANDLE)h, &flags) != 0;
  return n;
}
#else
#include <dirent.h>

int test_handle_probe(void) { return test_fd_count(); }

int test_fd_count(void) {
  DIR *d = opendir(TEST_FD_DIR);
  int n = 0;
  struct dirent *e;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}
#endif

#if defined(_WIN32)
int test_socket_pair(int fds[2]) { return test_fd_pair(fds); }
int test_udp_socket(void) {
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  return s == INVALID_SOCKET ? -1 : (int)s;
}
int test_fd_pair(int fds[2]) {
  struct sockaddr_in addr;
  int len = (int)sizeof(addr);
  SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP), a = INVALID_SOCKET, c = INVALID_SOCKET;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (l != INVALID_SOCKET && bind(l, (struct sockaddr *)&addr, len) == 0 &&
      getsockname(l, (struct sockaddr *)&addr, &len) == 0 && listen(l, 1) == 0) {
    c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (c != INVALID_SOCKET && connect(c, (struct sockaddr *)&addr, len) == 0)
      a = accept(l, NULL, NULL);
  }
  if (l != INVALID_SOCKET)
    closesocket(l);
  if (a == INVALID_SOCKET) {
    if (c != INVALID_SOCKET)
      closesocket(c);
    return -1;
  }
  fds[0] = (int)a;
  fds[1] = (int)c;
  return 0;
}
long test_fd_write(int fd, const void *buf, size_t len) {
  return send((SOCKET)fd, buf, (int)len, 0);
}
long test_fd_read(int fd, void *buf, size_t len) { return recv((SOCKET)fd, buf, (int)len, 0); }
void test_fd_close(int fd) { closesocket((SOCKET)fd); }
void test_setenv(const char *name, const char *value) {
  _putenv_s(name, value != NULL ? value : "");
}
#else
int test_socket_pair(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM, 0, fds); }
int test_udp_socket(void) { return socket(AF_INET, SOCK_DGRAM, 0); }
int test_fd_pair(int fds[2]) { return pipe(fds); }
long test_fd_write(int fd, const void *buf, size_t len) { return (long)write(fd, buf, len); }
long test_fd_read(int fd, void *buf, size_t len) { return (long)read(fd, buf, len); }
void test_fd_close(int fd) { close(fd); }
void test_setenv(const char *name, const char *value) {
  if (value != NULL)
    setenv(name, value, 1);
  else
    unsetenv(name);
}
#endif

int test_has_caps(const async_loop_t *loop, unsigned caps) {
  return (async_loop_caps(loop) & caps) == caps;
}

int test_emulated(void) {
  const char *v = getenv("ASYNC_TEST_EMULATED");
  return v != NULL && *v != '\0';
}

static int fd_baseline;

#if defined(ASYNC_KQUEUE_LIBKQUEUE)
# include <fcntl.h>
# include <sys/event.h>
# include <unistd.h>
/* libkqueue keeps a thread and fds of its own while any kqueue is open: one
 * held for the whole run keeps them out of every test's fd count. */
extern void libkqueue_drain_pending_close(void) __attribute__((weak));
static void hold_libkqueue(void) {
  static int kq = -1;
  if (kq < 0) {
    /* Its fds go above the low numbers tests dup2 onto (fds 7 and 8). */
    int low[16], n = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < 16)
      low[n++] = fd;
    if (fd >= 0)
      close(fd);
    kq = kqueue();
    while (n > 0)
      close(low[--n]);
  }
  if (libkqueue_drain_pending_close != NULL)
    libkqueue_drain_pending_close();
}
int test_libkqueue(void) { return 1; }
/* libkqueue's thread may still be freeing a closed kqueue under load: the
 * count may wait for it (up to a second), it may not differ. */
static int settle_libkqueue(int now) {
  for (int i = 0; i < 1000 && now != fd_baseline; i++) {
    usleep(1000);
    hold_libkqueue();
    now = test_fd_count();
  }
  return now;
}
#else
static void hold_libkqueue(void) {}
int test_libkqueue(void) { return 0; }
static int settle_libkqueue(int now) { return now; }
#endif

/* The library's allocations during a test, counted through the replaceable
 * allocator: blocks come straight from the C library, so a test that installs
 * an allocator of its own mixes with these safely. */
static long live_blocks;
static void *count_malloc(size_t n) {
  void *p = malloc(n);
  if (p != NULL)
    __atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
  return p;
}
static void *count_calloc(size_t c, size_t n) {
  void *p = calloc(c, n);
  if (p != NULL)
    __atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
  return p;
}
static void *count_realloc(void *old, size_t n) {
  void *p = realloc(old, n);
  if (old == NULL && p != NULL)
    __atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
  return p;
}
static void count_free(void *p) {
  if (p != NULL)
    __atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
  free(p);
}

int test_fd_setup(void **state) {
  (void)state;
  async_threadpool_shutdown(); /* the pool's own memory is not the test's */
  __atomic_store_n(&live_blocks, 0, __ATOMIC_RELAXED);
  if (async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free) != 0) {
    fprintf(stderr, "a loop is still open before the test\n");
    return -1;
  }
  hold_libkqueue();
  fd_baseline = test_fd_count();
  return 0;
}

/* No fd and no byte of the library's may outlive a test. */
int test_fd_teardown(void **state) {
  int now;
  long blocks;
  (void)state;
  async_threadpool_shutdown();
  hold_libkqueue();
  now = settle_libkqueue(test_fd_count());
  blocks = __atomic_load_n(&live_blocks, __ATOMIC_RELAXED);
  async_replace_allocator(malloc, realloc, calloc, free);
  if (now != fd_baseline) {
    fprintf(stderr, "fd leak: %d open before the test, %d after\n", fd_baseline, now);
    return -1;
  }
  if (blocks != 0) {
    fprintf(stderr, "memory leak: %ld blocks of the library still allocated\n", blocks);
    return -1;
  }
  return 0;
}

int test_run_group(const char *area, const struct CMUnitTest *tests, size_t n) {
  char name[128];
  const char *b = test_backend();
  const char *only = getenv("ASYNC_TEST_FILTER"); /* one test by name (glob), for debugging */
  snprintf(name, sizeof(name), "%s/%s", area, b != NULL ? b : "default");
  if (only != NULL && *only != '\0')
    cmocka_set_test_filter(only);
  return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

void test_alloc_slab(async_handle_t *handle, size_t suggested, async_buf_t *buf) {
  static char slab[65536];
  (void)handle;
  (void)suggested;
  buf->base = slab;
  buf->len = sizeof(slab);
}

void test_capture_reset(struct test_capture *c) {
  free(c->buf);
  memset(c, 0, sizeof(*c));
}

void test_capture_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct test_capture *c = s->data;
  if (nread == ASYNC_EOF) {
    c->eof++;
    async_close((async_handle_t *)s, NULL);
    return;
  }
  if (nread < 0) {
    c->errors++;
    return;
  }
  if (c->len + (size_t)nread + 1 > c->cap) {
    c->cap = (c->len + (size_t)nread + 1) * 2;
    c->buf = realloc(c->buf, c->cap);
    assert_non_null(c->buf);
  }
  memcpy(c->buf + c->len, buf->base, (size_t)nread);
  c->len += (size_t)nread;
  c->buf[c->len] = '\0';
}

void test_exit_keep(async_process_t *p, int64_t status, int sig) {
  struct test_exit *e = p->data;
  e->calls++;
  e->status = status;
  e->signal = sig;
}

void test_exit_close(async_process_t *p, int64_t status, int sig) {
  test_exit_keep(p, status, sig);
  async_close((async_handle_t *)p, NULL);
}

int test_spawn_run(async_process_options_t *o, struct test_capture *out, struct test_exit *e) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t pipe;
  int err, fd;
  memset(e, 0, sizeof(*e));
  test_capture_reset(out);
  test_loop_init(&loop);
  assert_int_equal(async_pipe_init(&loop, &pipe), 0);
  pipe.data = out;
  p.data = e;
  if (o->stdio_count > 1 && (o->stdio[1].flags & ASYNC_CREATE_PIPE))
    o->stdio[1].data.stream = (async_stream_t *)&pipe;
  err = async_spawn(&loop, &p, o);
  if (err == 0) {
    assert_true(async_is_active((async_handle_t *)&p));
    assert_true(async_process_get_pid(&p) > 0);
    if (pipe.fd_ >= 0)
      assert_int_equal(async_read_start((async_stream_t *)&pipe, test_alloc_slab,
                                        test_capture_read), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  } else {
    assert_int_equal(async_fileno((async_handle_t *)&pipe, &fd), ASYNC_EBADF);
  }
  test_loop_close(&loop);
  return err;
}

int test_tcp_caps(async_loop_t *loop) {
  async_tcp_t t;
  if (test_has_caps(loop, ASYNC_CAP_TCP))
    return 1;
  assert_int_equal(async_tcp_init(loop, &t), ASYNC_ENOTSUP);
  return 0;
}

void test_tcp_listen(async_loop_t *loop, async_tcp_t *server, struct sockaddr_in *addr,
                     int backlog, async_connection_cb cb) {
  int len = (int)sizeof(*addr);
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(async_tcp_init(loop, server), 0);
  assert_int_equal(async_tcp_bind(server, (struct sockaddr *)addr, 0), 0);
  assert_int_equal(async_listen((async_stream_t *)server, backlog, cb), 0);
  assert_int_equal(async_tcp_getsockname(server, (struct sockaddr *)addr, &len), 0);
  assert_true(addr->sin_port != 0);
}
