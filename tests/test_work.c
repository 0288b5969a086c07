/* The thread pool: work off the loop thread, completion on it, cancel. */
#include "helper.h"

#if defined(_WIN32)
# include <ws2tcpip.h> /* through async.h already; named for the reader */
#else
# include <netdb.h>
# include <netinet/in.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_t loop_thread;
static int after_calls, last_status, work_on_loop_thread;
static long ran;

static void note_work(async_work_t *req) {
  if (pthread_equal(pthread_self(), loop_thread))
    __atomic_add_fetch(&work_on_loop_thread, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&ran, 1, __ATOMIC_RELAXED);
  (void)req;
}

static void note_after(async_work_t *req, int status) {
  assert_true(pthread_equal(pthread_self(), loop_thread));
  after_calls++;
  last_status = status;
  (void)req;
}

static void reset(void) {
  loop_thread = pthread_self();
  after_calls = work_on_loop_thread = 0;
  last_status = 1;
  ran = 0;
}

static void test_work_runs_off_the_loop_thread(void **state) {
  async_loop_t loop;
  async_work_t req;
  (void)state;
  reset();
  memset(&req, 0, sizeof(req));
  test_loop_init(&loop);
  assert_int_equal(async_work_queue(&loop, &req, note_work, note_after), 0);
  assert_true(async_loop_alive(&loop));
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ran, 1);
  assert_int_equal(work_on_loop_thread, 0);
  assert_int_equal(after_calls, 1);
  assert_int_equal(last_status, 0);
  assert_int_equal(async_cancel((async_req_t *)&req), ASYNC_EBUSY); /* done */
  test_loop_close(&loop);
}

static void test_ten_thousand_jobs(void **state) {
  static async_work_t reqs[10000];
  async_loop_t loop;
  (void)state;
  reset();
  memset(reqs, 0, sizeof(reqs));
  test_loop_init(&loop);
  for (int i = 0; i < 10000; i++)
    assert_int_equal(async_work_queue(&loop, &reqs[i], note_work, note_after), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ran, 10000);
  assert_int_equal(after_calls, 10000);
  assert_int_equal(work_on_loop_thread, 0);
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_work_t req;
  (void)state;
  memset(&req, 0, sizeof(req));
  test_loop_init(&loop);
  assert_int_equal(async_work_queue(NULL, &req, note_work, note_after), ASYNC_EINVAL);
  assert_int_equal(async_work_queue(&loop, NULL, note_work, note_after), ASYNC_EINVAL);
  assert_int_equal(async_work_queue(&loop, &req, NULL, note_after), ASYNC_EINVAL);
  assert_int_equal(async_cancel(NULL), ASYNC_EINVAL);
  assert_int_equal(async_cancel((async_req_t *)&req), ASYNC_EINVAL); /* never queued */
  assert_false(async_loop_alive(&loop));
  assert_int_equal(async_req_size(ASYNC_WORK), sizeof(async_work_t));
  assert_int_equal(async_req_size(ASYNC_UNKNOWN_REQ), 0);
  test_loop_close(&loop);
}

/* Occupies every pool thread until released, so that later work stays queued. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, blocked;

static void block_work(async_work_t *req) {
  (void)req;
  pthread_mutex_lock(&gate_mu);
  blocked++;
  pthread_cond_broadcast(&gate_cv);
  while (!gate_open)
    pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
}

static int pool_size(void) {
  const char *s = getenv("ASYNC_THREADPOOL_SIZE");
  int n = s != NULL ? atoi(s) : 0;
  return n > 0 ? n : 4;
}

static void close_gate(async_loop_t *loop, async_work_t *blockers, int n) {
  gate_open = blocked = 0;
  for (int i = 0; i < n; i++)
    assert_int_equal(async_work_queue(loop, &blockers[i], block_work, NULL), 0);
  pthread_mutex_lock(&gate_mu);
  while (blocked < n)
    pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
}

static void open_gate(void) {
  pthread_mutex_lock(&gate_mu);
  gate_open = 1;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
}

static void test_cancel_queued_work(void **state) {
  async_loop_t loop;
  async_work_t blockers[64], victim, survivor;
  int n = pool_size();
  (void)state;
  reset();
  assert_true(n <= 64);
  memset(blockers, 0, sizeof(blockers));
  memset(&victim, 0, sizeof(victim));
  memset(&survivor, 0, sizeof(survivor));
  test_loop_init(&loop);
  close_gate(&loop, blockers, n);
  assert_int_equal(async_work_queue(&loop, &victim, note_work, note_after), 0);
  assert_int_equal(async_work_queue(&loop, &survivor, note_work, note_after), 0);
  assert_int_equal(async_work_queue(&loop, &victim, note_work, note_after), ASYNC_EBUSY);
  assert_int_equal(async_cancel((async_req_t *)&victim), 0);
  assert_int_equal(async_cancel((async_req_t *)&victim), ASYNC_EBUSY);
  assert_int_equal(async_cancel((async_req_t *)&blockers[0]), ASYNC_EBUSY); /* running */
  assert_int_equal(after_calls, 0); /* never from inside async_cancel */
  open_gate();
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(after_calls, 2);
  assert_int_equal(ran, 1); /* the survivor only */
  test_loop_close(&loop);
}

static int cancelled_status;
static void note_cancel(async_work_t *req, int status) {
  (void)req;
  cancelled_status = status;
}

static void test_cancelled_work_reports_ecanceled(void **state) {
  async_loop_t loop;
  async_work_t blockers[64], victim;
  int n = pool_size();
  (void)state;
  reset();
  memset(blockers, 0, sizeof(blockers));
  memset(&victim, 0, sizeof(victim));
  test_loop_init(&loop);
  close_gate(&loop, blockers, n);
  async_work_queue(&loop, &victim, note_work, note_cancel);
  assert_int_equal(async_cancel((async_req_t *)&victim), 0);
  open_gate();
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(cancelled_status, ASYNC_ECANCELED);
  assert_int_equal(ran, 0);
  test_loop_close(&loop);
}

static void test_two_loops_get_their_own_completions(void **state) {
  async_loop_t a, b;
  async_work_t ra, rb;
  (void)state;
  reset();
  memset(&ra, 0, sizeof(ra));
  memset(&rb, 0, sizeof(rb));
  test_loop_init(&a);
  test_loop_init(&b);
  async_work_queue(&a, &ra, note_work, note_after);
  async_work_queue(&b, &rb, note_work, note_after);
  assert_int_equal(async_run(&a, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(after_calls, 1);
  assert_true(async_loop_alive(&b));
  assert_int_equal(async_run(&b, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(after_calls, 2);
  test_loop_close(&a);
  test_loop_close(&b);
}

static void test_reuse_and_restart_after_shutdown(void **state) {
  async_loop_t loop;
  async_work_t req;
  (void)state;
  reset();
  memset(&req, 0, sizeof(req));
  test_loop_init(&loop);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(async_work_queue(&loop, &req, note_work, NULL), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    async_threadpool_shutdown();
  }
  assert_int_equal(ran, 3);
  test_loop_close(&loop);
}

static int dns_status, name_status;
static void on_dns(async_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  dns_status = status;
  async_freeaddrinfo(res);
}
static void on_name(async_getnameinfo_t *req, int status, const char *host, const char *service) {
  (void)req;
  (void)host;
  (void)service;
  name_status = status;
}

static void test_cancel_dns_requests(void **state) {
  async_loop_t loop;
  async_work_t blockers[64];
  async_getaddrinfo_t ai;
  async_getnameinfo_t ni;
  struct sockaddr_in sin;
  (void)state;
  reset();
  memset(blockers, 0, sizeof(blockers));
  memset(&ai, 0, sizeof(ai));
  memset(&ni, 0, sizeof(ni));
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  dns_status = name_status = 1;
  test_loop_init(&loop);
  close_gate(&loop, blockers, pool_size());
  assert_int_equal(async_getaddrinfo(&loop, &ai, on_dns, "localhost", NULL, NULL), 0);
  assert_int_equal(async_getnameinfo(&loop, &ni, on_name, (struct sockaddr *)&sin, 0), 0);
  assert_int_equal(async_cancel((async_req_t *)&ai), 0);
  assert_int_equal(async_cancel((async_req_t *)&ni), 0);
  open_gate();
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(dns_status, ASYNC_EAI_CANCELED);
  assert_int_equal(name_status, ASYNC_EAI_CANCELED);
  test_loop_close(&loop);
}

/* Each after_cb queues the next job: 100 in a chain, all on the loop thread. */
static async_work_t chained[100];
static void chain_after(async_work_t *req, int status) {
  int i = (int)(req - chained);
  note_after(req, status);
  if (i + 1 < 100)
    assert_int_equal(async_work_queue(req->loop, &chained[i + 1], note_work, chain_after), 0);
}

static void test_after_callback_queues_more(void **state) {
  async_loop_t loop;
  (void)state;
  reset();
  memset(chained, 0, sizeof(chained));
  test_loop_init(&loop);
  assert_int_equal(async_work_queue(&loop, &chained[0], note_work, chain_after), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(after_calls, 100);
  assert_int_equal(ran, 100);
  assert_int_equal(work_on_loop_thread, 0);
  test_loop_close(&loop);
}

static void test_no_after_callback(void **state) {
  async_loop_t loop;
  async_work_t req;
  (void)state;
  reset();
  memset(&req, 0, sizeof(req));
  test_loop_init(&loop);
  assert_int_equal(async_work_queue(&loop, &req, note_work, NULL), 0);
  assert_true(async_loop_alive(&loop));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ran, 1);
  assert_false(async_loop_alive(&loop));
  assert_int_equal(async_work_queue(&loop, &req, note_work, NULL), 0); /* reusable once done */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ran, 2);
  test_loop_close(&loop);
}

/* A loop with work in flight refuses to close and stays usable. */
static void test_loop_close_waits_for_work(void **state) {
  async_loop_t loop;
  async_work_t blockers[64], req;
  (void)state;
  reset();
  memset(blockers, 0, sizeof(blockers));
  memset(&req, 0, sizeof(req));
  test_loop_init(&loop);
  close_gate(&loop, blockers, pool_size());
  assert_int_equal(async_work_queue(&loop, &req, note_work, note_after), 0);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  open_gate();
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(after_calls, 1);
  test_loop_close(&loop);
}

/* Four threads, each with its own loop, share the pool. */
static void *loop_thread_main(void *arg) {
  async_loop_t loop;
  async_loop_options_t opts;
  async_work_t *reqs = arg;
  memset(&opts, 0, sizeof(opts));
  opts.backend = test_backend();
  if (async_loop_init(&loop, &opts) != 0)
    return NULL;
  for (int i = 0; i < 250; i++)
    async_work_queue(&loop, &reqs[i], note_work, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  return async_loop_close(&loop) == 0 ? arg : NULL;
}

static void test_four_loops_on_four_threads(void **state) {
  static async_work_t reqs[4][250];
  pthread_t t[4];
  (void)state;
  reset();
  memset(reqs, 0, sizeof(reqs));
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, loop_thread_main, reqs[i]), 0);
  for (int i = 0; i < 4; i++) {
    void *ret = NULL;
    assert_int_equal(pthread_join(t[i], &ret), 0);
    assert_ptr_equal(ret, reqs[i]);
  }
  assert_int_equal(ran, 1000);
}

static const struct CMUnitTest tests[] = {
  TEST(test_cancel_dns_requests),
  TEST(test_after_callback_queues_more),
  TEST(test_no_after_callback),
  TEST(test_loop_close_waits_for_work),
  TEST(test_four_loops_on_four_threads),
  TEST(test_work_runs_off_the_loop_thread),
  TEST(test_ten_thousand_jobs),
  TEST(test_bad_input),
  TEST(test_cancel_queued_work),
  TEST(test_cancelled_work_reports_ecanceled),
  TEST(test_two_loops_get_their_own_completions),
  TEST(test_reuse_and_restart_after_shutdown),
};

TEST_MAIN("work", tests)
