/* The thread pool: work off the loop thread, completion on it, cancel. */
#include "helper.h"

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

static const struct CMUnitTest tests[] = {
  TEST(test_work_runs_off_the_loop_thread),
  TEST(test_ten_thousand_jobs),
  TEST(test_bad_input),
  TEST(test_cancel_queued_work),
  TEST(test_cancelled_work_reports_ecanceled),
  TEST(test_two_loops_get_their_own_completions),
  TEST(test_reuse_and_restart_after_shutdown),
};

TEST_MAIN("work", tests)
