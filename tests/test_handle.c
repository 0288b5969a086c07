/* The lifecycle every handle type shares: close, ref/unref, walk, types. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int close_order[16];
static int ncloses;
static void record_close(async_handle_t *h) { close_order[ncloses++] = (int)(intptr_t)h->data; }
static void nothing_timer(async_timer_t *t) { (void)t; }
static void nothing_hook(struct async_hook_s *h) { (void)h; }
static void nothing_wakeup(async_wakeup_t *w) { (void)w; }

static void test_close_null_and_twice(void **state) {
  async_loop_t loop;
  async_idle_t h;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_close(NULL, NULL), ASYNC_EINVAL);
  async_idle_init(&loop, &h);
  assert_int_equal(async_close((async_handle_t *)&h, NULL), 0);
  assert_int_equal(async_close((async_handle_t *)&h, NULL), ASYNC_EINVAL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_close((async_handle_t *)&h, NULL), ASYNC_EINVAL); /* closed */
  test_loop_close(&loop);
}

static void test_close_callbacks_in_close_order(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  async_check_t c;
  async_wakeup_t w;
  (void)state;
  ncloses = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_idle_init(&loop, &i);
  async_check_init(&loop, &c);
  async_wakeup_init(&loop, &w, nothing_wakeup);
  t.data = (void *)3;
  i.data = (void *)1;
  c.data = (void *)4;
  w.data = (void *)2;
  async_close((async_handle_t *)&i, record_close);
  async_close((async_handle_t *)&w, record_close);
  async_close((async_handle_t *)&t, record_close);
  async_close((async_handle_t *)&c, record_close);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ncloses, 4);
  for (int k = 0; k < 4; k++)
    assert_int_equal(close_order[k], k + 1);
  test_loop_close(&loop);
}

static void test_close_stops_active_handles(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_idle_init(&loop, &i);
  async_timer_start(&t, nothing_timer, 1000, 0);
  async_idle_start(&i, nothing_hook);
  async_close((async_handle_t *)&t, NULL);
  async_close((async_handle_t *)&i, NULL);
  assert_false(async_is_active((async_handle_t *)&t));
  assert_false(async_is_active((async_handle_t *)&i));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static async_idle_t chained[2];
static void close_next(async_handle_t *h) {
  ncloses++;
  if (h == (async_handle_t *)&chained[0])
    async_close((async_handle_t *)&chained[1], close_next);
}

static void test_close_from_close_callback(void **state) {
  async_loop_t loop;
  (void)state;
  ncloses = 0;
  test_loop_init(&loop);
  async_idle_init(&loop, &chained[0]);
  async_idle_init(&loop, &chained[1]);
  async_close((async_handle_t *)&chained[0], close_next);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ncloses, 2);
  test_loop_close(&loop);
}

static void test_ref_unref(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_true(async_has_ref((async_handle_t *)&t));
  async_unref((async_handle_t *)&t);
  async_unref((async_handle_t *)&t); /* idempotent */
  assert_false(async_has_ref((async_handle_t *)&t));
  async_timer_start(&t, nothing_timer, 10, 0);
  assert_false(async_loop_alive(&loop));
  async_ref((async_handle_t *)&t);
  async_ref((async_handle_t *)&t);
  assert_true(async_has_ref((async_handle_t *)&t));
  assert_true(async_loop_alive(&loop));
  async_timer_stop(&t);
  assert_false(async_loop_alive(&loop));
  assert_false(async_has_ref(NULL));
  assert_false(async_is_active(NULL));
  assert_false(async_is_closing(NULL));
  async_ref(NULL);
  async_unref(NULL);
  test_loop_close(&loop);
}

static void test_types_and_sizes(void **state) {
  (void)state;
  assert_string_equal(async_handle_type_name(ASYNC_TIMER), "timer");
  assert_string_equal(async_handle_type_name(ASYNC_IDLE), "idle");
  assert_string_equal(async_handle_type_name(ASYNC_PREPARE), "prepare");
  assert_string_equal(async_handle_type_name(ASYNC_CHECK), "check");
  assert_string_equal(async_handle_type_name(ASYNC_WATCH), "watch");
  assert_string_equal(async_handle_type_name(ASYNC_WAKEUP), "wakeup");
  assert_null(async_handle_type_name(ASYNC_UNKNOWN_HANDLE));
  assert_null(async_handle_type_name(ASYNC_HANDLE_TYPE_MAX));
  assert_int_equal(async_handle_size(ASYNC_TIMER), sizeof(async_timer_t));
  assert_int_equal(async_handle_size(ASYNC_IDLE), sizeof(async_idle_t));
  assert_int_equal(async_handle_size(ASYNC_WATCH), sizeof(async_watch_t));
  assert_int_equal(async_handle_size(ASYNC_WAKEUP), sizeof(async_wakeup_t));
  assert_int_equal(async_handle_size(ASYNC_UNKNOWN_HANDLE), 0);
  assert_int_equal(async_loop_size(), sizeof(async_loop_t));
  assert_int_equal(async_handle_get_type(NULL), ASYNC_UNKNOWN_HANDLE);
  /* the lean header the design promises */
  assert_true(sizeof(async_timer_t) <= 48);
  assert_true(sizeof(async_defer_t) <= 32);
}

struct walk_seen {
  int timers, idles, wakeups, watches, total;
};
static void count_walk(async_handle_t *h, void *arg) {
  struct walk_seen *s = arg;
  s->total++;
  switch (async_handle_get_type(h)) {
  case ASYNC_TIMER: s->timers++; break;
  case ASYNC_IDLE: s->idles++; break;
  case ASYNC_WAKEUP: s->wakeups++; break;
  case ASYNC_WATCH: s->watches++; break;
  default: break;
  }
}

static void test_walk_sees_every_kind_not_internal(void **state) {
  async_loop_t loop;
  async_timer_t t[3];
  async_idle_t i;
  async_wakeup_t w;
  async_watch_t wa;
  struct walk_seen seen;
  int fds[2];
  (void)state;
  memset(&seen, 0, sizeof(seen));
  test_loop_init(&loop);
  assert_int_equal(pipe(fds), 0);
  for (int k = 0; k < 3; k++)
    async_timer_init(&loop, &t[k]);
  async_timer_start(&t[1], nothing_timer, 100, 0);
  async_idle_init(&loop, &i);
  async_wakeup_init(&loop, &w, nothing_wakeup);
  async_watch_init(&loop, &wa, fds[0]);
  async_close((async_handle_t *)&t[2], NULL); /* closing ones are walked too */
  async_walk(&loop, count_walk, &seen);
  assert_int_equal(seen.timers, 3);
  assert_int_equal(seen.idles, 1);
  assert_int_equal(seen.wakeups, 1);
  assert_int_equal(seen.watches, 1); /* the loop's own wake watcher is not walked */
  assert_int_equal(seen.total, 6);
  test_loop_close(&loop);
  close(fds[0]);
  close(fds[1]);
}

static void test_walk_empty_and_after_close(void **state) {
  async_loop_t loop;
  async_idle_t i;
  struct walk_seen seen;
  (void)state;
  memset(&seen, 0, sizeof(seen));
  test_loop_init(&loop);
  async_walk(&loop, count_walk, &seen);
  assert_int_equal(seen.total, 0);
  async_idle_init(&loop, &i);
  async_close((async_handle_t *)&i, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  async_walk(&loop, count_walk, &seen);
  assert_int_equal(seen.total, 0);
  async_walk(&loop, NULL, NULL); /* no callback: nothing happens */
  test_loop_close(&loop);
}

static async_timer_t starters[50];
static int walked;
static void start_others_walk(async_handle_t *h, void *arg) {
  (void)arg;
  (void)h;
  walked++;
  /* Starting and stopping timers reshuffles the heap under the walk. */
  for (int k = 0; k < 50; k += 7) {
    if (async_is_active((async_handle_t *)&starters[k]))
      async_timer_stop(&starters[k]);
    else
      async_timer_start(&starters[k], nothing_timer, (uint64_t)(1000 - k), 0);
  }
}

static void test_walk_while_callbacks_reshuffle(void **state) {
  async_loop_t loop;
  (void)state;
  walked = 0;
  test_loop_init(&loop);
  for (int k = 0; k < 50; k++) {
    async_timer_init(&loop, &starters[k]);
    if (k % 2)
      async_timer_start(&starters[k], nothing_timer, (uint64_t)(500 + k), 0);
  }
  async_walk(&loop, start_others_walk, NULL);
  assert_int_equal(walked, 50);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_close_null_and_twice),
  TEST(test_close_callbacks_in_close_order),
  TEST(test_close_stops_active_handles),
  TEST(test_close_from_close_callback),
  TEST(test_ref_unref),
  TEST(test_types_and_sizes),
  TEST(test_walk_sees_every_kind_not_internal),
  TEST(test_walk_empty_and_after_close),
  TEST(test_walk_while_callbacks_reshuffle),
};

TEST_MAIN("handle", tests)
