/* Loop creation, closing, liveness, stop, and loops on several threads. */
#include "helper.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void test_init_null(void **state) {
  (void)state;
  assert_int_equal(async_loop_init(NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_loop_close(NULL), ASYNC_EINVAL);
  assert_int_equal(async_loop_alive(NULL), 0);
  assert_null(async_loop_backend(NULL));
  assert_int_equal(async_loop_caps(NULL), 0);
  async_stop(NULL);
  async_update_time(NULL);
  async_walk(NULL, NULL, NULL);
}

static void test_unknown_backend(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  memset(&loop, 0x5a, sizeof(loop));
  memset(&o, 0, sizeof(o));
  o.backend = "nope";
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOENT);
  o.backend = "kqueue";
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOTSUP);
  o.backend = "iocp";
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOTSUP);
  /* A refused name changes nothing in the caller's memory. */
  for (size_t i = 0; i < sizeof(loop); i++)
    assert_int_equal(((unsigned char *)&loop)[i], 0x5a);
}

static void test_keeps_user_data(void **state) {
  async_loop_t loop;
  int x;
  (void)state;
  loop.data = &x;
  test_loop_init(&loop);
  assert_ptr_equal(loop.data, &x);
  test_loop_close(&loop);
}

static void test_close_twice(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_loop_close(&loop), 0);
  assert_int_equal(async_loop_close(&loop), ASYNC_EINVAL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), ASYNC_EINVAL);
}

static int fired;
static void count(async_timer_t *t) { (void)t; fired++; }

static void test_close_busy_changes_nothing(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  /* still a working loop */
  assert_int_equal(async_timer_start(&t, count, 1, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  async_close((async_handle_t *)&t, NULL);
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY); /* close callback pending */
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_loop_close(&loop), 0);
}

static void test_alive(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  assert_false(async_loop_alive(&loop));
  async_timer_init(&loop, &t);
  assert_false(async_loop_alive(&loop)); /* inactive handles do not count */
  async_timer_start(&t, count, 100, 0);
  assert_true(async_loop_alive(&loop));
  async_unref((async_handle_t *)&t);
  assert_false(async_loop_alive(&loop));
  async_ref((async_handle_t *)&t);
  assert_true(async_loop_alive(&loop));
  async_timer_stop(&t);
  assert_false(async_loop_alive(&loop));
  async_close((async_handle_t *)&t, NULL);
  assert_true(async_loop_alive(&loop)); /* close callback pending */
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_stop_before_run(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 1, 0);
  async_stop(&loop);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 1);
  assert_int_equal(fired, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* the flag was cleared */
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static void test_nowait_does_not_block(void **state) {
  async_loop_t loop;
  async_timer_t t;
  uint64_t t0;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count, 60000, 0);
  t0 = async_hrtime();
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_true(async_hrtime() - t0 < UINT64_C(30000000000));
  assert_int_equal(fired, 0);
  test_loop_close(&loop);
}

static void test_unref_timer_beside_ref_timer(void **state) {
  async_loop_t loop;
  async_timer_t bg, fg;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &bg);
  async_timer_init(&loop, &fg);
  async_timer_start(&bg, count, 1, 1);
  async_unref((async_handle_t *)&bg);
  async_timer_start(&fg, count, 5, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_true(fired >= 1);
  assert_true(async_is_active((async_handle_t *)&bg));
  assert_false(async_is_active((async_handle_t *)&fg));
  test_loop_close(&loop);
}

#define THREAD_TIMERS 200
static void thread_tick(async_timer_t *t) {
  long *n = t->data;
  (*n)++;
}

/* Each thread owns a loop; nothing is shared between them. */
static void *thread_loop(void *arg) {
  async_loop_t loop;
  async_loop_options_t o;
  async_timer_t *timers = calloc(THREAD_TIMERS, sizeof(*timers));
  long n = 0;
  (void)arg;
  memset(&o, 0, sizeof(o));
  o.backend = test_backend();
  if (timers == NULL || async_loop_init(&loop, &o) != 0)
    return (void *)-1L;
  for (int i = 0; i < THREAD_TIMERS; i++) {
    async_timer_init(&loop, &timers[i]);
    timers[i].data = &n;
    async_timer_start(&timers[i], thread_tick, (uint64_t)(i % 5), 0);
  }
  async_run(&loop, ASYNC_RUN_DEFAULT);
  for (int i = 0; i < THREAD_TIMERS; i++)
    async_close((async_handle_t *)&timers[i], NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  if (async_loop_close(&loop) != 0)
    n = -2;
  free(timers);
  return (void *)n;
}

static void test_one_loop_per_thread(void **state) {
  pthread_t th[4];
  (void)state;
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, thread_loop, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_int_equal((long)r, THREAD_TIMERS);
  }
}

static const struct CMUnitTest tests[] = {
  TEST(test_init_null),
  TEST(test_unknown_backend),
  TEST(test_keeps_user_data),
  TEST(test_close_twice),
  TEST(test_close_busy_changes_nothing),
  TEST(test_alive),
  TEST(test_stop_before_run),
  TEST(test_nowait_does_not_block),
  TEST(test_unref_timer_beside_ref_timer),
  TEST(test_one_loop_per_thread),
};

TEST_MAIN("loop", tests)
