/* async_replace_allocator: the library's tables go through it, every byte
 * comes back, and it refuses to change while a loop holds memory. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>

static long live, calls;

/* Each block carries its size in front, so frees can be balanced. */
static void *count_malloc(size_t n) {
  size_t *p = malloc(n + sizeof(size_t));
  if (p == NULL)
    return NULL;
  *p = n;
  live++;
  calls++;
  return p + 1;
}

static void *count_calloc(size_t c, size_t n) {
  void *p = count_malloc(c * n);
  if (p != NULL)
    memset(p, 0, c * n);
  return p;
}

static void *count_realloc(void *ptr, size_t n) {
  size_t *p;
  calls++;
  if (ptr == NULL)
    return count_malloc(n);
  p = realloc((size_t *)ptr - 1, n + sizeof(size_t));
  if (p == NULL)
    return NULL;
  *p = n;
  return p + 1;
}

static void count_free(void *ptr) {
  if (ptr == NULL)
    return;
  live--;
  free((size_t *)ptr - 1);
}

static void restore(void) {
  assert_int_equal(async_replace_allocator(malloc, realloc, calloc, free), 0);
}

static void test_null_functions_refused(void **state) {
  (void)state;
  assert_int_equal(async_replace_allocator(NULL, realloc, calloc, free), ASYNC_EINVAL);
  assert_int_equal(async_replace_allocator(malloc, NULL, calloc, free), ASYNC_EINVAL);
  assert_int_equal(async_replace_allocator(malloc, realloc, NULL, free), ASYNC_EINVAL);
  assert_int_equal(async_replace_allocator(malloc, realloc, calloc, NULL), ASYNC_EINVAL);
}

static void test_busy_while_a_loop_is_open(void **state) {
  async_loop_t loop;
  (void)state;
  assert_int_equal(async_loop_init(&loop, NULL), 0);
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free),
                   ASYNC_EBUSY);
  assert_int_equal(async_loop_close(&loop), 0);
  restore();
}

#define TIMERS 5000
static void noop_timer(async_timer_t *t) { (void)t; }

static void test_every_byte_returned(void **state) {
  static async_timer_t timers[TIMERS];
  static async_idle_t idles[100];
  async_loop_t loop;
  (void)state;
  live = calls = 0;
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free), 0);
  assert_int_equal(async_loop_init(&loop, NULL), 0);
  for (int i = 0; i < TIMERS; i++) {
    assert_int_equal(async_timer_init(&loop, &timers[i]), 0);
    assert_int_equal(async_timer_start(&timers[i], noop_timer, 1000 + (uint64_t)i, 0), 0);
  }
  for (int i = 0; i < 100; i++)
    assert_int_equal(async_idle_init(&loop, &idles[i]), 0);
  assert_true(calls > 0);
  assert_true(live > 0);
  for (int i = 0; i < TIMERS; i++)
    async_close((async_handle_t *)&timers[i], NULL);
  for (int i = 0; i < 100; i++)
    async_close((async_handle_t *)&idles[i], NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_loop_close(&loop), 0);
  assert_int_equal(live, 0);
  restore();
}

static void *failing_realloc(void *p, size_t n) {
  (void)p;
  (void)n;
  return NULL;
}

static void test_out_of_memory_is_reported(void **state) {
  static async_timer_t timers[200];
  async_loop_t loop;
  int err = 0, made = 0;
  (void)state;
  assert_int_equal(async_replace_allocator(malloc, failing_realloc, calloc, free), 0);
  err = async_loop_init(&loop, NULL);
  if (err == 0) {
    /* Handle tables grow with realloc: the first handle already needs it. */
    for (; made < 200; made++) {
      err = async_timer_init(&loop, &timers[made]);
      if (err != 0)
        break;
    }
    assert_int_equal(err, ASYNC_ENOMEM);
    for (int i = 0; i < made; i++)
      async_close((async_handle_t *)&timers[i], NULL);
    async_run(&loop, ASYNC_RUN_DEFAULT);
    assert_int_equal(async_loop_close(&loop), 0);
  } else {
    assert_int_equal(err, ASYNC_ENOMEM);
  }
  restore();
}

static const struct CMUnitTest tests[] = {
  TEST(test_null_functions_refused),
  TEST(test_busy_while_a_loop_is_open),
  TEST(test_every_byte_returned),
  TEST(test_out_of_memory_is_reported),
};

TEST_MAIN("alloc", tests)
