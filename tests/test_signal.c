/* Signal handles: delivery to every handle and loop, coalescing, oneshot,
 * dispositions restored, bad input. */
#include "helper.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int calls, last_signum;

static void count_signal(async_signal_t *h, int signum) {
  (void)h;
  calls++;
  last_signum = signum;
}

static void stop_after_one(async_signal_t *h, int signum) {
  count_signal(h, signum);
  async_signal_stop(h);
}

/* Runs turns until the counter reaches want (a raise is delivered before
 * raise returns, but the callback needs a turn). */
static void run_until(async_loop_t *loop, int *counter, int want) {
  for (int i = 0; i < 1000 && *counter < want; i++)
    async_run(loop, ASYNC_RUN_ONCE);
}

static void test_one_handle(void **state) {
  async_loop_t loop;
  async_signal_t h;
  (void)state;
  calls = 0;
  test_loop_init(&loop);
  assert_int_equal(async_signal_init(&loop, &h), 0);
  assert_int_equal(async_handle_get_type((async_handle_t *)&h), ASYNC_SIGNAL);
  assert_string_equal(async_handle_type_name(ASYNC_SIGNAL), "signal");
  assert_int_equal(async_signal_start(&h, stop_after_one, SIGUSR1), 0);
  assert_int_equal(h.signum, SIGUSR1);
  assert_true(async_is_active((async_handle_t *)&h));
  raise(SIGUSR1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls, 1);
  assert_int_equal(last_signum, SIGUSR1);
  test_loop_close(&loop);
}

static void test_two_handles_one_loop(void **state) {
  async_loop_t loop;
  async_signal_t a, b;
  (void)state;
  calls = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &a);
  async_signal_init(&loop, &b);
  async_signal_start(&a, stop_after_one, SIGUSR2);
  async_signal_start(&b, stop_after_one, SIGUSR2);
  raise(SIGUSR2);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls, 2);
  test_loop_close(&loop);
}

static void test_only_the_signal_asked_for(void **state) {
  async_loop_t loop;
  async_signal_t a, b;
  (void)state;
  calls = 0;
  last_signum = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &a);
  async_signal_init(&loop, &b);
  async_signal_start(&a, count_signal, SIGUSR1);
  async_signal_start(&b, count_signal, SIGUSR2);
  raise(SIGUSR2);
  run_until(&loop, &calls, 1);
  assert_int_equal(calls, 1);
  assert_int_equal(last_signum, SIGUSR2);
  test_loop_close(&loop);
}

/* A one-shot meeting point for n threads (macOS has no pthread_barrier_t). */
struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int waiting;
};

static void gate_wait(struct gate *g) {
  pthread_mutex_lock(&g->lock);
  if (--g->waiting == 0)
    pthread_cond_broadcast(&g->cond);
  while (g->waiting > 0)
    pthread_cond_wait(&g->cond, &g->lock);
  pthread_mutex_unlock(&g->lock);
}

struct thread_loop {
  async_loop_t loop;
  async_signal_t h;
  int calls;
  struct gate *ready;
};

static void thread_cb(async_signal_t *h, int signum) {
  struct thread_loop *t = h->data;
  (void)signum;
  t->calls++;
  async_close((async_handle_t *)h, NULL);
}

static void *thread_main(void *arg) {
  struct thread_loop *t = arg;
  async_signal_start(&t->h, thread_cb, SIGUSR1);
  gate_wait(t->ready);
  async_run(&t->loop, ASYNC_RUN_DEFAULT);
  return NULL;
}

static void test_two_loops_two_threads(void **state) {
  static struct thread_loop t[2];
  pthread_t th[2];
  struct gate ready = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 3};
  (void)state;
  for (int i = 0; i < 2; i++) {
    memset(&t[i], 0, sizeof(t[i]));
    test_loop_init(&t[i].loop);
    async_signal_init(&t[i].loop, &t[i].h);
    t[i].h.data = &t[i];
    t[i].ready = &ready;
    pthread_create(&th[i], NULL, thread_main, &t[i]);
  }
  gate_wait(&ready);
  kill(getpid(), SIGUSR1);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(t[i].calls, 1);
    test_loop_close(&t[i].loop);
  }
}

static void test_oneshot(void **state) {
  async_loop_t loop;
  async_signal_t h;
  (void)state;
  calls = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &h);
  assert_int_equal(async_signal_start_oneshot(&h, count_signal, SIGUSR1), 0);
  raise(SIGUSR1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* stopped itself */
  assert_int_equal(calls, 1);
  assert_false(async_is_active((async_handle_t *)&h));
  test_loop_close(&loop);
}

static volatile sig_atomic_t own_handler_calls;
static void own_handler(int signum) {
  (void)signum;
  own_handler_calls++;
}

static void test_stop_restores_previous_disposition(void **state) {
  async_loop_t loop;
  async_signal_t a, b;
  struct sigaction sa, now, old;
  (void)state;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = own_handler;
  sigaction(SIGUSR2, &sa, &old);
  own_handler_calls = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &a);
  async_signal_init(&loop, &b);
  async_signal_start(&a, count_signal, SIGUSR2);
  async_signal_start(&b, count_signal, SIGUSR2);
  sigaction(SIGUSR2, NULL, &now);
  assert_ptr_not_equal(now.sa_handler, own_handler);
  async_signal_stop(&a);
  sigaction(SIGUSR2, NULL, &now);
  assert_ptr_not_equal(now.sa_handler, own_handler); /* b still watches */
  async_close((async_handle_t *)&b, NULL);           /* closing the last one restores too */
  sigaction(SIGUSR2, NULL, &now);
  assert_ptr_equal(now.sa_handler, own_handler);
  raise(SIGUSR2);
  assert_int_equal(own_handler_calls, 1);
  test_loop_close(&loop);
  sigaction(SIGUSR2, &old, NULL);
}

static volatile sig_atomic_t sent_all;
static int after_last;
static void burst_cb(async_signal_t *h, int signum) {
  (void)signum;
  calls++;
  if (sent_all) {
    after_last = 1;
    async_close((async_handle_t *)h, NULL);
  }
}

static void test_burst_ends_with_a_callback(void **state) {
  async_loop_t loop;
  async_signal_t h;
  (void)state;
  calls = after_last = 0;
  sent_all = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &h);
  async_signal_start(&h, burst_cb, SIGUSR1);
  for (int i = 0; i < 10000; i++) {
    kill(getpid(), SIGUSR1);
    if (i % 1000 == 0)
      async_run(&loop, ASYNC_RUN_NOWAIT);
  }
  sent_all = 1;
  kill(getpid(), SIGUSR1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(after_last, 1);
  print_message("10,001 deliveries of SIGUSR1 gave %d callbacks\n", calls);
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_signal_t h;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_signal_init(NULL, &h), ASYNC_EINVAL);
  assert_int_equal(async_signal_init(&loop, NULL), ASYNC_EINVAL);
  assert_int_equal(async_signal_init(&loop, &h), 0);
  assert_int_equal(async_signal_start(NULL, count_signal, SIGUSR1), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, NULL, SIGUSR1), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, count_signal, 0), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, count_signal, -1), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, count_signal, 65), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, count_signal, 100000), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, count_signal, SIGKILL), ASYNC_EINVAL);
  assert_int_equal(async_signal_start_oneshot(&h, count_signal, SIGSTOP), ASYNC_EINVAL);
  assert_false(async_is_active((async_handle_t *)&h));
  assert_int_equal(async_signal_start(&h, count_signal, SIGUSR1), 0);
  assert_int_equal(async_signal_start(&h, count_signal, SIGUSR2), ASYNC_EALREADY);
  assert_int_equal(async_signal_stop(&h), 0);
  assert_int_equal(async_signal_stop(&h), 0);
  assert_int_equal(async_signal_stop(NULL), ASYNC_EINVAL);
  async_close((async_handle_t *)&h, NULL);
  assert_int_equal(async_signal_start(&h, count_signal, SIGUSR1), ASYNC_EINVAL);
  assert_int_equal(async_signal_stop(&h), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_unref_handle_does_not_keep_loop(void **state) {
  async_loop_t loop;
  async_signal_t h;
  (void)state;
  test_loop_init(&loop);
  async_signal_init(&loop, &h);
  async_signal_start(&h, count_signal, SIGUSR1);
  assert_true(async_loop_alive(&loop));
  async_unref((async_handle_t *)&h);
  assert_false(async_loop_alive(&loop));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static void test_restart_on_another_signal(void **state) {
  async_loop_t loop;
  async_signal_t h;
  (void)state;
  calls = 0;
  last_signum = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &h);
  async_signal_start(&h, count_signal, SIGUSR1);
  async_signal_stop(&h);
  assert_int_equal(h.signum, 0);
  async_signal_start(&h, count_signal, SIGUSR2);
  raise(SIGUSR2);
  run_until(&loop, &calls, 1);
  assert_int_equal(calls, 1);
  assert_int_equal(last_signum, SIGUSR2);
  test_loop_close(&loop);
}

static async_signal_t victim;
static void close_the_other(async_signal_t *h, int signum) {
  count_signal(h, signum);
  if (!async_is_closing((async_handle_t *)&victim))
    async_close((async_handle_t *)&victim, NULL);
  async_close((async_handle_t *)h, NULL);
}

static void test_callback_closes_another_handle(void **state) {
  async_loop_t loop;
  async_signal_t first;
  (void)state;
  calls = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &first);
  async_signal_init(&loop, &victim);
  async_signal_start(&first, close_the_other, SIGUSR1);
  async_signal_start(&victim, close_the_other, SIGUSR1);
  raise(SIGUSR1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls, 1); /* the closed one is not called afterwards */
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_one_handle),
  TEST(test_two_handles_one_loop),
  TEST(test_only_the_signal_asked_for),
  TEST(test_two_loops_two_threads),
  TEST(test_oneshot),
  TEST(test_stop_restores_previous_disposition),
  TEST(test_burst_ends_with_a_callback),
  TEST(test_bad_input),
  TEST(test_unref_handle_does_not_keep_loop),
  TEST(test_restart_on_another_signal),
  TEST(test_callback_closes_another_handle),
};

TEST_MAIN("signal", tests)
