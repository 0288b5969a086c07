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

/* ---- more -------------------------------------------------------------------------- */

static void test_busy_until_every_loop_is_closed(void **state) {
  async_loop_t a, b;
  (void)state;
  assert_int_equal(async_loop_init(&a, NULL), 0);
  assert_int_equal(async_loop_init(&b, NULL), 0);
  assert_int_equal(async_loop_close(&a), 0);
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free),
                   ASYNC_EBUSY);
  assert_int_equal(async_loop_close(&b), 0);
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free),
                   0);
  restore();
}

static void test_failed_init_holds_nothing(void **state) {
  async_loop_t loop;
  async_loop_options_t o;
  (void)state;
  live = calls = 0;
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free), 0);
  memset(&o, 0, sizeof(o));
  o.backend = "nope";
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_ENOENT);
  o.backend = NULL;
  o.clock = (async_clock_mode)42;
  assert_int_equal(async_loop_init(&loop, &o), ASYNC_EINVAL);
  assert_int_equal(async_loop_init(NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(live, 0);
  /* A refused init left no loop open: the allocator can still change. */
  restore();
}

static void count_fire(async_timer_t *t) { (*(int *)t->data)++; }

static void test_timers_run_to_completion_return_every_byte(void **state) {
  static async_timer_t timers[3000];
  async_loop_t loop;
  async_loop_options_t o;
  int n = 0;
  long calls_before;
  (void)state;
  live = calls = 0;
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free), 0);
  memset(&o, 0, sizeof(o));
  o.clock = ASYNC_CLOCK_AUTOJUMP;
  assert_int_equal(async_loop_init(&loop, &o), 0);
  calls_before = calls;
  for (int i = 0; i < 3000; i++) {
    timers[i].data = &n;
    assert_int_equal(async_timer_init(&loop, &timers[i]), 0);
    assert_int_equal(async_timer_start(&timers[i], count_fire, (uint64_t)(i % 97), 0), 0);
  }
  assert_true(calls > calls_before); /* the tables grew through the replacement */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(n, 3000);
  for (int i = 0; i < 3000; i++)
    async_close((async_handle_t *)&timers[i], NULL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(async_loop_close(&loop), 0);
  assert_int_equal(live, 0);
  restore();
}

static int deferred;
static void count_defer(async_defer_t *d) { (void)d; deferred++; }

static void test_defers_and_timer_restarts_allocate_nothing(void **state) {
  static async_defer_t d[1000];
  static async_timer_t t[100];
  async_loop_t loop;
  long before;
  (void)state;
  live = calls = 0;
  deferred = 0;
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free), 0);
  assert_int_equal(async_loop_init(&loop, NULL), 0);
  for (int i = 0; i < 100; i++)
    assert_int_equal(async_timer_init(&loop, &t[i]), 0);
  before = calls;
  for (int i = 0; i < 1000; i++) {
    async_defer_init(&d[i]);
    assert_int_equal(async_defer(&loop, &d[i], count_defer), 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(deferred, 1000);
  /* Starting, restarting and stopping timers that exist: no allocation either. */
  for (int round = 0; round < 10; round++)
    for (int i = 0; i < 100; i++)
      async_timer_start(&t[i], noop_timer, (uint64_t)((i * 13 + round) % 50) + 1000, 0);
  for (int i = 0; i < 100; i++)
    async_timer_stop(&t[i]);
  assert_int_equal(calls, before);
  for (int i = 0; i < 100; i++)
    async_close((async_handle_t *)&t[i], NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_loop_close(&loop), 0);
  assert_int_equal(live, 0);
  restore();
}

static void test_several_loops_closed_out_of_order(void **state) {
  enum { LOOPS = 5, PER = 300 };
  static async_timer_t t[LOOPS][PER];
  async_loop_t loops[LOOPS];
  (void)state;
  live = calls = 0;
  assert_int_equal(async_replace_allocator(count_malloc, count_realloc, count_calloc, count_free), 0);
  for (int l = 0; l < LOOPS; l++) {
    assert_int_equal(async_loop_init(&loops[l], NULL), 0);
    for (int i = 0; i < PER; i++)
      assert_int_equal(async_timer_init(&loops[l], &t[l][i]), 0);
  }
  for (int k = 0; k < LOOPS; k++) {
    int l = (k * 3) % LOOPS;
    for (int i = 0; i < PER; i++)
      async_close((async_handle_t *)&t[l][i], NULL);
    async_run(&loops[l], ASYNC_RUN_DEFAULT);
    assert_int_equal(async_loop_close(&loops[l]), 0);
    if (k < LOOPS - 1)
      assert_true(live > 0);
  }
  assert_int_equal(live, 0);
  restore();
}

static const struct CMUnitTest tests[] = {
  TEST(test_null_functions_refused),
  TEST(test_busy_while_a_loop_is_open),
  TEST(test_every_byte_returned),
  TEST(test_out_of_memory_is_reported),
  TEST(test_busy_until_every_loop_is_closed),
  TEST(test_failed_init_holds_nothing),
  TEST(test_timers_run_to_completion_return_every_byte),
  TEST(test_defers_and_timer_restarts_allocate_nothing),
  TEST(test_several_loops_closed_out_of_order),
};

TEST_MAIN("alloc", tests)
