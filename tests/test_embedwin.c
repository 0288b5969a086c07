/* Embedding on Windows: the waitable handle of async_backend_handle (where
 * ASYNC_CAP_BACKEND_HANDLE says there is one, ASYNC_ENOTSUP elsewhere),
 * driven by a host loop written here around MsgWaitForMultipleObjects, as a
 * GUI's message loop would be. Elsewhere: the handle is refused. */
#include "helper.h"

#include <string.h>

#if defined(_WIN32)
# include <windows.h>
#endif

static int has_handle(const async_loop_t *loop) {
  return test_has_caps(loop, ASYNC_CAP_BACKEND_HANDLE);
}

static void test_embedwin_handle(void **state) {
  async_loop_t loop;
  void *h = NULL, *again = NULL;
  (void)state;
  test_loop_init(&loop);
  if (!has_handle(&loop)) {
    assert_int_equal(async_backend_handle(&loop, &h), ASYNC_ENOTSUP);
    assert_null(h);
    test_loop_close(&loop);
    return;
  }
  assert_int_equal(async_backend_handle(&loop, &h), 0);
  assert_non_null(h);
  assert_int_equal(async_backend_handle(&loop, &again), 0);
  assert_ptr_equal(h, again);
  assert_int_equal(async_backend_handle(&loop, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
  assert_int_equal(async_backend_handle(&loop, &h), ASYNC_EINVAL);
}

#if defined(_WIN32)

static int calls_timer, calls_wakeup, calls_work, calls_defer;
static uint64_t fired_at;

static void on_timer(async_timer_t *t) {
  (void)t;
  calls_timer++;
  fired_at = async_hrtime();
}

static void on_wakeup(async_wakeup_t *w) {
  (void)w;
  calls_wakeup++;
}

static void on_defer(async_defer_t *d) {
  (void)d;
  calls_defer++;
}

static void reset(void) {
  calls_timer = calls_wakeup = calls_work = calls_defer = 0;
  fired_at = 0;
}

/* The host: waits on the handle and its message queue with no timeout of
 * its own (a guard ends a hang), gives libasync a NOWAIT turn whenever the
 * handle is signalled, and hands messages to on_message. Returns the
 * number of times it woke. */
static void (*on_message)(MSG *m);

static int host_until(async_loop_t *loop, HANDLE h, const int *done) {
  int wakes = 0;
  ULONGLONG guard = GetTickCount64() + 10000;
  while (!*done) {
    DWORD r = MsgWaitForMultipleObjects(1, &h, FALSE, 10000, QS_ALLINPUT);
    MSG m;
    assert_true(GetTickCount64() < guard);
    assert_true(r == WAIT_OBJECT_0 || r == WAIT_OBJECT_0 + 1);
    wakes++;
    while (PeekMessageW(&m, NULL, 0, 0, PM_REMOVE))
      if (on_message != NULL)
        on_message(&m);
    if (r == WAIT_OBJECT_0)
      assert_true(async_run(loop, ASYNC_RUN_NOWAIT) >= 0);
  }
  return wakes;
}

static int open_handle(async_loop_t *loop, HANDLE *h) {
  void *p = NULL;
  test_loop_init(loop);
  if (!has_handle(loop)) {
    assert_int_equal(async_backend_handle(loop, &p), ASYNC_ENOTSUP);
    test_loop_close(loop);
    return 0;
  }
  assert_int_equal(async_backend_handle(loop, &p), 0);
  *h = p;
  return 1;
}

static void test_embedwin_quiet_until_work(void **state) {
  async_loop_t loop;
  async_defer_t d;
  HANDLE h;
  (void)state;
  if (!open_handle(&loop, &h))
    return;
  reset();
  assert_int_equal(WaitForSingleObject(h, 50), WAIT_TIMEOUT); /* nothing to do */
  async_defer_init(&d);
  assert_int_equal(async_defer(&loop, &d, on_defer), 0); /* outside async_run */
  assert_int_equal(WaitForSingleObject(h, 0), WAIT_OBJECT_0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(calls_defer, 1);
  assert_int_equal(WaitForSingleObject(h, 50), WAIT_TIMEOUT);
  test_loop_close(&loop);
}

/* A timer due in 30 ms signals the handle, never before its time. */
static void test_embedwin_timer(void **state) {
  async_loop_t loop;
  async_timer_t t;
  HANDLE h;
  uint64_t start;
  int wakes;
  (void)state;
  if (!open_handle(&loop, &h))
    return;
  reset();
  on_message = NULL;
  assert_int_equal(async_timer_init(&loop, &t), 0);
  start = async_hrtime();
  assert_int_equal(async_timer_start(&t, on_timer, 30, 0), 0);
  wakes = host_until(&loop, h, &calls_timer);
  assert_int_equal(calls_timer, 1);
  assert_true(fired_at - start >= UINT64_C(30000000));
  assert_true(wakes < 20); /* woken for the timer, not polling */
  test_loop_close(&loop);
}

static async_wakeup_t wake;
static DWORD WINAPI send_later(LPVOID arg) {
  (void)arg;
  Sleep(50);
  async_wakeup_send(&wake);
  return 0;
}

/* A wakeup sent from another thread while the host sleeps. */
static void test_embedwin_wakeup_from_thread(void **state) {
  async_loop_t loop;
  HANDLE h, th;
  (void)state;
  if (!open_handle(&loop, &h))
    return;
  reset();
  on_message = NULL;
  assert_int_equal(async_wakeup_init(&loop, &wake, on_wakeup), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1); /* the host's watch begins */
  th = CreateThread(NULL, 0, send_later, NULL, 0, NULL);
  assert_non_null(th);
  host_until(&loop, h, &calls_wakeup);
  assert_int_equal(calls_wakeup, 1);
  WaitForSingleObject(th, INFINITE);
  CloseHandle(th);
  test_loop_close(&loop);
}

static void work_fn(async_work_t *req) {
  (void)req;
  Sleep(20);
}

static void work_done(async_work_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  calls_work++;
}

static void test_embedwin_pool_work(void **state) {
  async_loop_t loop;
  async_work_t w = {0};
  HANDLE h;
  (void)state;
  if (!open_handle(&loop, &h))
    return;
  reset();
  on_message = NULL;
  assert_int_equal(async_work_queue(&loop, &w, work_fn, work_done), 0);
  host_until(&loop, h, &calls_work);
  assert_int_equal(calls_work, 1);
  test_loop_close(&loop);
}

/* A message of the host's own starts a libasync timer (outside async_run,
 * while the host's watch runs with no timer due): the handle still wakes
 * the host for it. */
static async_timer_t foreign;
static uint64_t foreign_at;
static void start_foreign(MSG *m) {
  if (m->message == WM_APP) {
    assert_int_equal(async_timer_start(&foreign, on_timer, 20, 0), 0);
    foreign_at = async_hrtime();
  }
}

static void test_embedwin_timer_from_host_message(void **state) {
  async_loop_t loop;
  async_wakeup_t keep;
  HANDLE h;
  (void)state;
  if (!open_handle(&loop, &h))
    return;
  reset();
  on_message = start_foreign;
  assert_int_equal(async_timer_init(&loop, &foreign), 0);
  /* Something alive and nothing due: the watch waits without a timeout. */
  assert_int_equal(async_wakeup_init(&loop, &keep, on_wakeup), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  {
    MSG m;
    PeekMessageW(&m, NULL, 0, 0, PM_NOREMOVE); /* the thread's queue exists from here */
  }
  assert_true(PostThreadMessageW(GetCurrentThreadId(), WM_APP, 0, 0));
  host_until(&loop, h, &calls_timer);
  assert_int_equal(calls_timer, 1);
  assert_true(fired_at - foreign_at >= UINT64_C(20000000));
  on_message = NULL;
  test_loop_close(&loop);
}

/* TCP completions on the port reach the host through the handle. */
static async_tcp_t server, client, accepted;
static async_connect_t creq;
static async_write_t wreq;
static char got[8];
static size_t ngot;
static int echo_done;

static void on_read(async_stream_t *s, long n, const async_buf_t *buf) {
  if (n > 0) {
    memcpy(got + ngot, buf->base, (size_t)n);
    ngot += (size_t)n;
  }
  if (n < 0 || ngot == 4) {
    echo_done = 1;
    async_close((async_handle_t *)s, NULL);
    async_close((async_handle_t *)&client, NULL);
    async_close((async_handle_t *)&server, NULL);
  }
}

static void on_connection(async_stream_t *s, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_tcp_init(s->loop, &accepted), 0);
  assert_int_equal(async_accept(s, (async_stream_t *)&accepted), 0);
  assert_int_equal(async_read_start((async_stream_t *)&accepted, test_alloc_slab, on_read), 0);
}

static void on_write(async_write_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
}

static void on_connect(async_connect_t *req, int status) {
  static char ping[] = "ping";
  async_buf_t b = {ping, 4};
  assert_int_equal(status, 0);
  assert_int_equal(async_write(&wreq, req->handle, &b, 1, on_write), 0);
}

static void test_embedwin_tcp(void **state) {
  async_loop_t loop;
  struct sockaddr_in addr;
  HANDLE h;
  (void)state;
  if (!open_handle(&loop, &h))
    return;
  on_message = NULL;
  ngot = 0;
  echo_done = 0;
  test_tcp_listen(&loop, &server, &addr, 8, on_connection);
  assert_int_equal(async_tcp_init(&loop, &client), 0);
  assert_int_equal(async_tcp_connect(&creq, &client, (const struct sockaddr *)&addr, on_connect), 0);
  host_until(&loop, h, &echo_done);
  assert_int_equal(ngot, 4);
  assert_memory_equal(got, "ping", 4);
  test_loop_close(&loop);
}

#endif

static const struct CMUnitTest tests[] = {
  TEST(test_embedwin_handle),
#if defined(_WIN32)
  TEST(test_embedwin_quiet_until_work),
  TEST(test_embedwin_timer),
  TEST(test_embedwin_wakeup_from_thread),
  TEST(test_embedwin_pool_work),
  TEST(test_embedwin_timer_from_host_message),
  TEST(test_embedwin_tcp),
#endif
};

TEST_MAIN("embedwin", tests)
