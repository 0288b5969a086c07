/* Misuse that C programs commit: closing a handle whose init failed,
 * using zeroed memory that was never initialised, a handle of another type,
 * a loop that is closed or was never opened, and the two TCP calls whose
 * documented errors came late or never.
 * Each gets a clear error and changes nothing: never a crash. */
#include "helper.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Every handle type in one piece of memory. */
union any_handle {
  async_handle_t handle;
  async_timer_t timer;
  async_idle_t hook;
  async_watch_t watch;
  async_wakeup_t wakeup;
  async_signal_t signal;
  async_udp_t udp;
  async_tcp_t tcp;
  async_pipe_t pipe;
  async_stream_t stream;
  async_process_t process;
};

static int calls; /* callbacks that ran: none may */
static void on_timer(async_timer_t *t) { (void)t; calls++; }
static void on_hook(async_idle_t *h) { (void)h; calls++; }
static void on_watch(async_watch_t *w, int status, unsigned events) {
  (void)w; (void)status; (void)events;
  calls++;
}
static void on_wakeup(async_wakeup_t *w) { (void)w; calls++; }
static void on_signal(async_signal_t *h, int signum) { (void)h; (void)signum; calls++; }
static void on_alloc(async_handle_t *h, size_t n, async_buf_t *buf) {
  (void)h; (void)n;
  buf->base = NULL;
  buf->len = 0;
  calls++;
}
static void on_udp(async_udp_t *u, long n, const async_buf_t *b, const struct sockaddr *a,
                   unsigned f) {
  (void)u; (void)n; (void)b; (void)a; (void)f;
  calls++;
}
static void on_read(async_stream_t *s, long n, const async_buf_t *b) {
  (void)s; (void)n; (void)b;
  calls++;
}
static void on_write(async_write_t *r, int status) { (void)r; (void)status; calls++; }
static void on_send(async_udp_send_t *r, int status) { (void)r; (void)status; calls++; }
static void on_shutdown(async_shutdown_t *r, int status) { (void)r; (void)status; calls++; }
static void on_connection(async_stream_t *s, int status) { (void)s; (void)status; calls++; }
static void on_connect(async_connect_t *r, int status) { (void)r; (void)status; calls++; }
static void on_walk(async_handle_t *h, void *arg) { (void)h; (void)arg; calls++; }
static void on_work(async_work_t *r) { (void)r; calls++; }
static void on_defer(async_defer_t *d) { (void)d; calls++; }

static void loopback(struct sockaddr_in *a) {
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a->sin_port = htons(9);
}

/* Every call that takes h must refuse it, and h's memory must not change:
 * h is zeroed memory, a handle whose init failed, or one already closed. */
static void assert_refused(union any_handle *h) {
  union any_handle before, other;
  async_buf_t buf = {(char *)"x", 1};
  async_write_t wr;
  async_shutdown_t sh;
  async_connect_t conn;
  async_udp_send_t send;
  struct sockaddr_in addr;
  struct sockaddr_storage name;
  int namelen = (int)sizeof(name), fd = -1;
  char text[64];
  size_t textlen = sizeof(text);
  async_peercred_t cred;
  int closing = async_is_closing(&h->handle);
  memcpy(&before, h, sizeof(before));
  memset(&other, 0, sizeof(other));
  loopback(&addr);
  calls = 0;

  assert_int_equal(async_close(&h->handle, NULL), ASYNC_EINVAL);
  async_ref(&h->handle);
  async_unref(&h->handle);
  assert_int_equal(async_has_ref(&h->handle), 0);
  assert_int_equal(async_is_active(&h->handle), 0);
  assert_int_equal(async_fileno(&h->handle, &fd), ASYNC_EINVAL);

  assert_int_equal(async_timer_start(&h->timer, on_timer, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_timer_start_ns(&h->timer, on_timer, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_timer_stop(&h->timer), ASYNC_EINVAL);
  assert_int_equal(async_timer_again(&h->timer), ASYNC_EINVAL);
  async_timer_set_repeat(&h->timer, 5);
  async_timer_set_repeat_ns(&h->timer, 5);
  assert_int_equal(async_timer_get_repeat(&h->timer), 0);
  assert_int_equal(async_timer_get_due_in_ns(&h->timer), 0);

  assert_int_equal(async_idle_start(&h->hook, on_hook), ASYNC_EINVAL);
  assert_int_equal(async_idle_stop(&h->hook), ASYNC_EINVAL);
  assert_int_equal(async_prepare_start(&h->hook, on_hook), ASYNC_EINVAL);
  assert_int_equal(async_prepare_stop(&h->hook), ASYNC_EINVAL);
  assert_int_equal(async_check_start(&h->hook, on_hook), ASYNC_EINVAL);
  assert_int_equal(async_check_stop(&h->hook), ASYNC_EINVAL);

  assert_int_equal(async_watch_start(&h->watch, ASYNC_READABLE, on_watch), ASYNC_EINVAL);
  assert_int_equal(async_watch_stop(&h->watch), ASYNC_EINVAL);
  assert_int_equal(async_wakeup_send(&h->wakeup), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h->signal, on_signal, SIGINT), ASYNC_EINVAL);
  assert_int_equal(async_signal_start_oneshot(&h->signal, on_signal, SIGINT), ASYNC_EINVAL);
  assert_int_equal(async_signal_stop(&h->signal), ASYNC_EINVAL);
  assert_int_equal(async_process_kill(&h->process, SIGTERM), ASYNC_EINVAL);

  assert_int_equal(async_udp_open(&h->udp, 0), ASYNC_EINVAL);
  assert_int_equal(async_udp_bind(&h->udp, (struct sockaddr *)&addr, 0), ASYNC_EINVAL);
  assert_int_equal(async_udp_connect(&h->udp, (struct sockaddr *)&addr), ASYNC_EINVAL);
  assert_int_equal(async_udp_getsockname(&h->udp, (struct sockaddr *)&name, &namelen),
                   ASYNC_EINVAL);
  assert_int_equal(async_udp_getpeername(&h->udp, (struct sockaddr *)&name, &namelen),
                   ASYNC_EINVAL);
  assert_int_equal(async_udp_send(&send, &h->udp, &buf, 1, (struct sockaddr *)&addr, on_send),
                   ASYNC_EINVAL);
  assert_int_equal(async_udp_try_send(&h->udp, &buf, 1, (struct sockaddr *)&addr), ASYNC_EINVAL);
  assert_int_equal(async_udp_recv_start(&h->udp, on_alloc, on_udp), ASYNC_EINVAL);
  assert_int_equal(async_udp_recv_stop(&h->udp), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_membership(&h->udp, "239.1.1.1", NULL, ASYNC_JOIN_GROUP),
                   ASYNC_EINVAL);
  assert_int_equal(async_udp_set_multicast_loop(&h->udp, 1), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_multicast_ttl(&h->udp, 1), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_multicast_interface(&h->udp, "127.0.0.1"), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_broadcast(&h->udp, 1), ASYNC_EINVAL);
  assert_int_equal(async_udp_set_ttl(&h->udp, 1), ASYNC_EINVAL);

  assert_int_equal(async_listen(&h->stream, 1, on_connection), ASYNC_EINVAL);
  assert_int_equal(async_accept(&h->stream, &other.stream), ASYNC_EINVAL);
  assert_int_equal(async_read_start(&h->stream, on_alloc, on_read), ASYNC_EINVAL);
  assert_int_equal(async_read_stop(&h->stream), ASYNC_EINVAL);
  assert_int_equal(async_write(&wr, &h->stream, &buf, 1, on_write), ASYNC_EINVAL);
  assert_int_equal(async_try_write(&h->stream, &buf, 1), ASYNC_EINVAL);
  assert_int_equal(async_shutdown(&sh, &h->stream, on_shutdown), ASYNC_EINVAL);
  assert_int_equal(async_is_readable(&h->stream), 0);
  assert_int_equal(async_is_writable(&h->stream), 0);
  assert_int_equal(async_stream_write_queue_size(&h->stream), 0);

  assert_int_equal(async_tcp_open(&h->tcp, 0), ASYNC_EINVAL);
  assert_int_equal(async_tcp_bind(&h->tcp, (struct sockaddr *)&addr, 0), ASYNC_EINVAL);
  assert_int_equal(async_tcp_connect(&conn, &h->tcp, (struct sockaddr *)&addr, on_connect),
                   ASYNC_EINVAL);
  assert_int_equal(async_tcp_nodelay(&h->tcp, 1), ASYNC_EINVAL);
  assert_int_equal(async_tcp_keepalive(&h->tcp, 1, 10), ASYNC_EINVAL);
  assert_int_equal(async_tcp_getsockname(&h->tcp, (struct sockaddr *)&name, &namelen),
                   ASYNC_EINVAL);
  assert_int_equal(async_tcp_getpeername(&h->tcp, (struct sockaddr *)&name, &namelen),
                   ASYNC_EINVAL);
  assert_int_equal(async_tcp_close_reset(&h->tcp, NULL), ASYNC_EINVAL);

  assert_int_equal(async_pipe_open(&h->pipe, 0), ASYNC_EINVAL);
  assert_int_equal(async_pipe_bind(&h->pipe, "misuse"), ASYNC_EINVAL);
  assert_int_equal(async_pipe_bind2(&h->pipe, "misuse", 6), ASYNC_EINVAL);
  assert_int_equal(async_pipe_connect(&conn, &h->pipe, "misuse", on_connect), ASYNC_EINVAL);
  assert_int_equal(async_pipe_connect2(&conn, &h->pipe, "misuse", 6, on_connect), ASYNC_EINVAL);
  assert_int_equal(async_pipe_getsockname(&h->pipe, text, &textlen), ASYNC_EINVAL);
  assert_int_equal(async_pipe_getpeername(&h->pipe, text, &textlen), ASYNC_EINVAL);
  assert_int_equal(async_pipe_chmod(&h->pipe, ASYNC_READABLE), ASYNC_EINVAL);
  assert_int_equal(async_pipe_getpeercred(&h->pipe, &cred), ASYNC_EINVAL);
  assert_int_equal(async_write2(&wr, &h->stream, &buf, 1, &other.handle, on_write), ASYNC_EINVAL);
  assert_int_equal(async_write_fd(&wr, &h->stream, &buf, 1, 0, on_write), ASYNC_EINVAL);
  assert_int_equal(async_pipe_pending_count(&h->pipe), 0);
  assert_int_equal(async_pipe_pending_type(&h->pipe), ASYNC_UNKNOWN_HANDLE);
  assert_int_equal(async_pipe_take_fd(&h->pipe), ASYNC_EINVAL);

  assert_int_equal(async_is_closing(&h->handle), closing);
  assert_memory_equal(&before, h, sizeof(before));
  assert_int_equal(calls, 0);
}

/* ---- zeroed memory, never initialised -------------------------------------------------- */

static void test_zeroed_handle_refused(void **state) {
  union any_handle h;
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop); /* an open loop beside it: nothing reaches it either */
  memset(&h, 0, sizeof(h));
  assert_refused(&h);
  assert_int_equal(async_handle_get_type(&h.handle), ASYNC_UNKNOWN_HANDLE);
  assert_int_equal(async_process_get_pid(&h.process), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  test_loop_close(&loop);
}

/* ---- failed init ---------------------------------------------------------------------- */

/* An allocator that fails on request, counting what it handed out. */
static int failing;
static long blocks;
static void *fail_malloc(size_t n) {
  void *p = failing ? NULL : malloc(n);
  blocks += p != NULL;
  return p;
}
static void *fail_calloc(size_t c, size_t n) {
  void *p = failing ? NULL : calloc(c, n);
  blocks += p != NULL;
  return p;
}
static void *fail_realloc(void *old, size_t n) {
  void *p = failing ? NULL : realloc(old, n);
  blocks += old == NULL && p != NULL;
  return p;
}
static void fail_free(void *p) {
  blocks -= p != NULL;
  free(p);
}

enum kind { TIMER, IDLE, PREPARE, CHECK, WAKEUP, SIGNAL, TCP, TCP_EX, UDP, UDP_EX, PIPE, WATCH,
            NKINDS };

static int init_kind(async_loop_t *loop, union any_handle *h, enum kind k, int fd) {
  switch (k) {
  case TIMER: return async_timer_init(loop, &h->timer);
  case IDLE: return async_idle_init(loop, &h->hook);
  case PREPARE: return async_prepare_init(loop, &h->hook);
  case CHECK: return async_check_init(loop, &h->hook);
  case WAKEUP: return async_wakeup_init(loop, &h->wakeup, on_wakeup);
  case SIGNAL: return async_signal_init(loop, &h->signal);
  case TCP: return async_tcp_init(loop, &h->tcp);
  case TCP_EX: return async_tcp_init_ex(loop, &h->tcp, AF_INET);
  case UDP: return async_udp_init(loop, &h->udp);
  case UDP_EX: return async_udp_init_ex(loop, &h->udp, AF_INET);
  case PIPE: return async_pipe_init(loop, &h->pipe);
  default: return async_watch_init(loop, &h->watch, fd);
  }
}

/* Out of memory in each init: the handle is left refused by every call,
 * async_close included, and the loop closes with nothing left. */
static void test_close_after_failed_init(void **state) {
  int fds[2];
  (void)state;
  assert_int_equal(test_fd_pair(fds), 0);
  assert_int_equal(async_replace_allocator(fail_malloc, fail_realloc, fail_calloc, fail_free), 0);
  for (int k = 0; k < NKINDS; k++) {
    async_loop_t loop;
    union any_handle h;
    int err;
    memset(&h, 0x5a, sizeof(h)); /* what the stack held: the init must not trust it */
    test_loop_init(&loop);
    failing = 1;
    err = init_kind(&loop, &h, (enum kind)k, fds[0]);
    failing = 0;
    /* ENOTSUP where the backend lacks the handle's kind: refused just the same. */
    assert_true(err == ASYNC_ENOMEM || err == ASYNC_ENOTSUP);
    assert_refused(&h);
    assert_int_equal(async_handle_get_type(&h.handle), ASYNC_UNKNOWN_HANDLE);
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
    assert_int_equal(async_loop_close(&loop), 0);
  }
  assert_int_equal(blocks, 0);
  assert_int_equal(async_replace_allocator(malloc, realloc, calloc, free), 0);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

/* ---- closed handles ---------------------------------------------------------------------- */

static void test_closed_handle_refused(void **state) {
  int fds[2];
  (void)state;
  assert_int_equal(test_fd_pair(fds), 0);
  for (int k = 0; k < NKINDS; k++) {
    async_loop_t loop;
    union any_handle h;
    int err;
    test_loop_init(&loop);
    memset(&h, 0, sizeof(h));
    err = init_kind(&loop, &h, (enum kind)k, fds[0]);
    if (err == ASYNC_ENOTSUP) {
      assert_refused(&h);
      test_loop_close(&loop);
      continue;
    }
    assert_int_equal(err, 0);
    assert_int_equal(async_close(&h.handle, NULL), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* the close callback ran */
    assert_int_equal(async_is_closing(&h.handle), 1);
    assert_refused(&h);
    assert_int_equal(async_loop_close(&loop), 0);
  }
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

/* A closing handle (its close callback still to come) is refused too, and
 * closing it again does not queue it twice. */
static void test_closing_handle_refused(void **state) {
  async_loop_t loop;
  union any_handle h;
  (void)state;
  test_loop_init(&loop);
  memset(&h, 0, sizeof(h));
  assert_int_equal(async_timer_init(&loop, &h.timer), 0);
  assert_int_equal(async_timer_start(&h.timer, on_timer, 10, 0), 0);
  assert_int_equal(async_close(&h.handle, NULL), 0);
  assert_refused(&h);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls, 0);
  test_loop_close(&loop);
}

/* ---- a handle of another type ---------------------------------------------------------- */

static void test_other_type_refused(void **state) {
  async_loop_t loop;
  async_timer_t timer;
  async_prepare_t prepare;
  async_idle_t idle;
  async_udp_t udp;
  async_buf_t buf = {(char *)"x", 1};
  async_write_t wr;
  struct sockaddr_in addr;
  (void)state;
  test_loop_init(&loop);
  loopback(&addr);
  assert_int_equal(async_timer_init(&loop, &timer), 0);
  assert_int_equal(async_prepare_init(&loop, &prepare), 0);
  assert_int_equal(async_idle_init(&loop, &idle), 0);
  assert_int_equal(async_idle_start(&prepare, on_hook), ASYNC_EINVAL);
  assert_int_equal(async_check_stop(&idle), ASYNC_EINVAL);
  assert_int_equal(async_timer_start((async_timer_t *)(void *)&idle, on_timer, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_watch_start((async_watch_t *)(void *)&timer, ASYNC_READABLE, on_watch),
                   ASYNC_EINVAL);
  assert_int_equal(async_wakeup_send((async_wakeup_t *)(void *)&timer), ASYNC_EINVAL);
  if (test_has_caps(&loop, ASYNC_CAP_UDP)) {
    assert_int_equal(async_udp_init(&loop, &udp), 0);
    assert_int_equal(async_read_start((async_stream_t *)(void *)&udp, on_alloc, on_read),
                     ASYNC_EINVAL);
    assert_int_equal(async_write(&wr, (async_stream_t *)(void *)&udp, &buf, 1, on_write),
                     ASYNC_EINVAL);
    assert_int_equal(async_tcp_bind((async_tcp_t *)(void *)&udp, (struct sockaddr *)&addr, 0),
                     ASYNC_EINVAL);
  }
  assert_int_equal(async_is_active((async_handle_t *)&idle), 0);
  assert_int_equal(calls, 0);
  test_loop_close(&loop);
}

/* ---- memory used again ---------------------------------------------------------------- */

/* After its close callback a handle's memory may be initialised afresh,
 * and the new handle works. */
static void test_init_again_after_close(void **state) {
  int fds[2];
  (void)state;
  assert_int_equal(test_fd_pair(fds), 0);
  for (int k = 0; k < NKINDS; k++) {
    async_loop_t loop;
    union any_handle h;
    int err;
    test_loop_init(&loop);
    memset(&h, 0, sizeof(h));
    err = init_kind(&loop, &h, (enum kind)k, fds[0]);
    if (err == ASYNC_ENOTSUP) {
      test_loop_close(&loop);
      continue;
    }
    assert_int_equal(err, 0);
    assert_int_equal(async_close(&h.handle, NULL), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(init_kind(&loop, &h, (enum kind)k, fds[0]), 0);
    assert_int_equal(async_is_closing(&h.handle), 0);
    assert_int_equal(async_close(&h.handle, NULL), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(async_loop_close(&loop), 0);
  }
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

/* ---- closed and zeroed loops ----------------------------------------------------------- */

/* Every call that takes loop refuses it and writes neither it nor the
 * handle or request given. */
static void assert_loop_refused(async_loop_t *loop) {
  async_loop_t before;
  union any_handle h;
  async_work_t work;
  async_defer_t defer;
  async_getaddrinfo_t gai;
  async_getnameinfo_t gni;
  async_process_options_t o;
  char *args[] = {(char *)"true", NULL};
  struct sockaddr_in addr;
  int fds[2];
  if (loop != NULL)
    memcpy(&before, loop, sizeof(before));
  memset(&h, 0x5a, sizeof(h));
  memset(&work, 0, sizeof(work));
  memset(&gai, 0, sizeof(gai));
  memset(&gni, 0, sizeof(gni));
  memset(&o, 0, sizeof(o));
  async_defer_init(&defer);
  o.file = args[0];
  o.args = args;
  loopback(&addr);
  calls = 0;
  assert_int_equal(test_fd_pair(fds), 0);

  assert_int_equal(async_run(loop, ASYNC_RUN_NOWAIT), ASYNC_EINVAL);
  assert_int_equal(async_loop_close(loop), ASYNC_EINVAL);
  assert_int_equal(async_loop_alive(loop), 0);
  assert_int_equal(async_now(loop), 0);
  assert_int_equal(async_now_ns(loop), 0);
  async_update_time(loop);
  async_stop(loop);
  assert_int_equal(async_loop_advance(loop, 1), ASYNC_EINVAL);
  async_walk(loop, on_walk, NULL);
  assert_null(async_loop_backend(loop));
  assert_int_equal(async_loop_caps(loop), 0);
  assert_int_equal(async_loop_fd_limit(loop), 0);
  assert_int_equal(async_backend_fd(loop), ASYNC_EINVAL);
  assert_int_equal(async_backend_timeout(loop), 0);
  assert_int_equal(async_backend_timeout_ns(loop), 0);
  assert_int_equal(async_loop_fork(loop), ASYNC_EINVAL);

  /* Each init unmarks the handle it was given: it is refused afterwards. */
  for (int k = 0; k < NKINDS; k++) {
    assert_int_equal(init_kind(loop, &h, (enum kind)k, fds[0]), ASYNC_EINVAL);
    assert_refused(&h);
  }
  assert_int_equal(async_pipe_init_ex(loop, &h.pipe, 0), ASYNC_EINVAL);
  assert_int_equal(async_spawn(loop, &h.process, &o), ASYNC_EINVAL);
  assert_refused(&h);

  assert_int_equal(async_defer(loop, &defer, on_defer), ASYNC_EINVAL);
  assert_int_equal(async_defer_pending(&defer), 0);
  assert_int_equal(async_work_queue(loop, &work, on_work, NULL), ASYNC_EINVAL);
  assert_int_equal(async_cancel((async_req_t *)&work), ASYNC_EINVAL);
  assert_int_equal(async_getaddrinfo(loop, &gai, NULL, "localhost", NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_getnameinfo(loop, &gni, NULL, (struct sockaddr *)&addr, 0), ASYNC_EINVAL);

  if (loop != NULL)
    assert_memory_equal(&before, loop, sizeof(before));
  assert_int_equal(calls, 0);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

static void test_closed_loop_refused(void **state) {
  async_loop_t loop;
  (void)state;
  loop.data = NULL; /* kept by init: compared below */
  test_loop_init(&loop);
  test_loop_close(&loop);
  assert_loop_refused(&loop);
}

static void test_closed_virtual_loop_refused(void **state) {
  async_loop_t loop;
  (void)state;
  loop.data = NULL;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  test_loop_close(&loop);
  assert_loop_refused(&loop);
}

static void test_zeroed_loop_refused(void **state) {
  async_loop_t loop;
  (void)state;
  memset(&loop, 0, sizeof(loop));
  assert_loop_refused(&loop);
  memset(&loop, 0, sizeof(loop));
  assert_loop_refused(NULL);
}

/* A loop whose init failed (an unknown backend) is no loop either. */
static void test_failed_loop_refused(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  memset(&loop, 0, sizeof(loop));
  memset(&o, 0, sizeof(o));
  o.backend = "no-such-backend";
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOENT);
  assert_loop_refused(&loop);
}

/* ---- TCP: errors the documentation promised at the call ---------------------------------- */

static async_tcp_t server, client, accepted;
static int connected, shut;
static void accept_one(async_stream_t *s, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_tcp_init(s->loop, &accepted), 0);
  assert_int_equal(async_accept(s, (async_stream_t *)&accepted), 0);
}
static void note_connected(async_connect_t *r, int status) {
  assert_int_equal(status, 0);
  connected = 1;
  async_stop(r->loop); /* ONCE would then wait on the listener for nothing */
}
static void note_shut(async_shutdown_t *r, int status) {
  assert_int_equal(status, 0);
  shut = 1;
  async_stop(r->loop);
}

/* A reset after a shutdown would throw away what the shutdown promised to
 * deliver first: refused while it is pending and after it is done. */
static void test_close_reset_after_shutdown(void **state) {
  async_loop_t loop;
  async_connect_t conn;
  async_shutdown_t sh;
  struct sockaddr_in addr;
  (void)state;
  test_loop_init(&loop);
  if (!test_tcp_caps(&loop)) {
    test_loop_close(&loop);
    return;
  }
  connected = shut = 0;
  test_tcp_listen(&loop, &server, &addr, 4, accept_one);
  assert_int_equal(async_tcp_init(&loop, &client), 0);
  assert_int_equal(async_tcp_connect(&conn, &client, (struct sockaddr *)&addr, note_connected), 0);
  for (int i = 0; i < 1000 && !connected; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_true(connected);
  assert_int_equal(async_shutdown(&sh, (async_stream_t *)&client, note_shut), 0);
  assert_int_equal(async_tcp_close_reset(&client, NULL), ASYNC_EINVAL);
  for (int i = 0; i < 1000 && !shut; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_true(shut);
  assert_int_equal(async_tcp_close_reset(&client, NULL), ASYNC_EINVAL);
  assert_int_equal(async_is_closing((async_handle_t *)&client), 0);
  test_loop_close(&loop);
}

/* A socket of one family cannot connect to an address of the other: the
 * call says so, and no callback comes later. */
static void test_connect_other_family(void **state) {
  async_loop_t loop;
  async_tcp_t t4, t6;
  async_connect_t conn;
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  (void)state;
  test_loop_init(&loop);
  if (!test_tcp_caps(&loop)) {
    test_loop_close(&loop);
    return;
  }
  calls = 0;
  loopback(&a4);
  memset(&a6, 0, sizeof(a6));
  a6.sin6_family = AF_INET6;
  a6.sin6_addr.s6_addr[15] = 1;
  a6.sin6_port = htons(9);
  assert_int_equal(async_tcp_init_ex(&loop, &t4, AF_INET), 0);
  assert_int_equal(async_tcp_connect(&conn, &t4, (struct sockaddr *)&a6, on_connect),
                   ASYNC_EINVAL);
  if (async_tcp_init_ex(&loop, &t6, AF_INET6) == 0) { /* a machine may have no IPv6 */
    assert_int_equal(async_tcp_connect(&conn, &t6, (struct sockaddr *)&a4, on_connect),
                     ASYNC_EINVAL);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0); /* no connect is under way */
  assert_int_equal(calls, 0);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_zeroed_handle_refused),
  TEST(test_close_after_failed_init),
  TEST(test_closed_handle_refused),
  TEST(test_closing_handle_refused),
  TEST(test_other_type_refused),
  TEST(test_init_again_after_close),
  TEST(test_closed_loop_refused),
  TEST(test_closed_virtual_loop_refused),
  TEST(test_zeroed_loop_refused),
  TEST(test_failed_loop_refused),
  TEST(test_close_reset_after_shutdown),
  TEST(test_connect_other_family),
};

TEST_MAIN("misuse", tests)
