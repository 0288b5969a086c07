/* Timers: ordering, repeat, again, restart and stop from callbacks, bad input. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS UINT64_C(1000000)

static int fired;
static int order[64];
static int norder;

static void count_cb(async_timer_t *t) {
  (void)t;
  fired++;
}

static void order_cb(async_timer_t *t) {
  order[norder++] = (int)(intptr_t)t->data;
}

static void test_init_bad_input(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_timer_init(NULL, &t), ASYNC_EINVAL);
  assert_int_equal(async_timer_init(&loop, NULL), ASYNC_EINVAL);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_handle_get_type((async_handle_t *)&t), ASYNC_TIMER);
  assert_false(async_is_active((async_handle_t *)&t));
  test_loop_close(&loop);
}

static void test_start_bad_input(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_start(NULL, count_cb, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_timer_start(&t, NULL, 1, 0), ASYNC_EINVAL);
  assert_false(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_timer_stop(NULL), ASYNC_EINVAL);
  assert_int_equal(async_timer_again(NULL), ASYNC_EINVAL);
  async_close((async_handle_t *)&t, NULL);
  assert_int_equal(async_timer_start(&t, count_cb, 1, 0), ASYNC_EINVAL);
  assert_int_equal(async_timer_again(&t), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_deadline_order(void **state) {
  async_loop_t loop;
  async_timer_t t[5];
  static const uint64_t timeouts[5] = {30, 10, 50, 20, 40};
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  for (int i = 0; i < 5; i++) {
    async_timer_init(&loop, &t[i]);
    t[i].data = (void *)(intptr_t)i;
    async_timer_start(&t[i], order_cb, timeouts[i], 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(norder, 5);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 3);
  assert_int_equal(order[2], 0);
  assert_int_equal(order[3], 4);
  assert_int_equal(order[4], 2);
  test_loop_close(&loop);
}

static void test_equal_deadlines_in_start_order(void **state) {
  async_loop_t loop;
  async_timer_t t[40];
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < 40; i++)
    async_timer_init(&loop, &t[i]);
  /* Start them in a scrambled order; the start order is what counts. */
  for (int k = 0; k < 40; k++) {
    int i = (k * 17) % 40;
    t[i].data = (void *)(intptr_t)k;
    async_timer_start(&t[i], order_cb, 5, 0);
  }
  async_loop_advance(&loop, 5 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(norder, 40);
  for (int k = 0; k < 40; k++)
    assert_int_equal(order[k], k);
  test_loop_close(&loop);
}

static void test_restart_moves_deadline(void **state) {
  async_loop_t loop;
  async_timer_t a, b;
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &a);
  async_timer_init(&loop, &b);
  a.data = (void *)0;
  b.data = (void *)1;
  async_timer_start(&a, order_cb, 10, 0);
  async_timer_start(&b, order_cb, 20, 0);
  async_timer_start(&a, order_cb, 30, 0); /* restart, not a second timer */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(norder, 2);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 0);
  assert_int_equal(async_now(&loop), 30);
  test_loop_close(&loop);
}

static void test_stop_prevents_callback(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 1, 0);
  assert_int_equal(async_timer_stop(&t), 0);
  assert_int_equal(async_timer_stop(&t), 0); /* twice is fine */
  assert_false(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 0);
  test_loop_close(&loop);
}

static void stop_after_three(async_timer_t *t) {
  if (++fired == 3)
    async_timer_stop(t);
}

static void test_repeat(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, stop_after_three, 10, 5);
  assert_int_equal(async_timer_get_repeat(&t), 5);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 3);
  assert_int_equal(async_now(&loop), 20);
  test_loop_close(&loop);
}

static void test_repeat_no_drift(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 10, 10);
  async_loop_advance(&loop, 13 * MS); /* late by 3 ms */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  /* Next deadline is 20 ms (previous + repeat), not 23 ms. */
  assert_int_equal(async_timer_get_due_in_ns(&t), 7 * MS);
  test_loop_close(&loop);
}

static void test_repeat_no_catch_up_burst(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 10, 10);
  async_loop_advance(&loop, 100 * MS); /* nine periods behind */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_int_equal(async_timer_get_due_in_ns(&t), 10 * MS);
  test_loop_close(&loop);
}

static void test_again(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_again(&t), ASYNC_EINVAL); /* never started */
  async_timer_start(&t, count_cb, 50, 0);
  async_timer_set_repeat(&t, 20);
  assert_int_equal(async_timer_again(&t), 0);
  assert_int_equal(async_timer_get_due_in(&t), 20);
  async_timer_set_repeat(&t, 0);
  assert_int_equal(async_timer_again(&t), 0);
  assert_false(async_is_active((async_handle_t *)&t));
  test_loop_close(&loop);
}

static void test_repeat_ns_round_trip(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_set_repeat_ns(&t, 1500000);
  assert_int_equal(async_timer_get_repeat_ns(&t), 1500000);
  assert_int_equal(async_timer_get_repeat(&t), 1);
  async_timer_set_repeat(&t, 7);
  assert_int_equal(async_timer_get_repeat_ns(&t), 7 * MS);
  test_loop_close(&loop);
}

static void test_due_in(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_get_due_in(&t), 0);
  async_timer_start_ns(&t, count_cb, 2500000, 0);
  assert_int_equal(async_timer_get_due_in_ns(&t), 2500000);
  assert_int_equal(async_timer_get_due_in(&t), 3); /* rounded up */
  async_loop_advance(&loop, 3 * MS);
  assert_int_equal(async_timer_get_due_in(&t), 0);
  async_timer_stop(&t);
  assert_int_equal(async_timer_get_due_in_ns(&t), 0);
  test_loop_close(&loop);
}

static async_timer_t victims[3];
static void stop_others_cb(async_timer_t *t) {
  (void)t;
  fired++;
  async_timer_stop(&victims[1]);
  async_close((async_handle_t *)&victims[2], NULL);
}

static void test_callback_stops_and_closes_others(void **state) {
  async_loop_t loop;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < 3; i++)
    async_timer_init(&loop, &victims[i]);
  async_timer_start(&victims[0], stop_others_cb, 5, 0);
  async_timer_start(&victims[1], count_cb, 5, 0);
  async_timer_start(&victims[2], count_cb, 5, 0);
  async_loop_advance(&loop, 5 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_false(async_is_active((async_handle_t *)&victims[1]));
  assert_true(async_is_closing((async_handle_t *)&victims[2]));
  test_loop_close(&loop);
}

static void restart_from_cb(async_timer_t *t) {
  if (++fired < 4)
    async_timer_start(t, restart_from_cb, 10, 0);
}

static void test_restart_from_own_callback(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, restart_from_cb, 10, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 4);
  assert_int_equal(async_now(&loop), 40);
  test_loop_close(&loop);
}

static int close_cb_calls;
static void count_close(async_handle_t *h) {
  (void)h;
  close_cb_calls++;
}
static void close_self(async_timer_t *t) {
  fired++;
  async_close((async_handle_t *)t, count_close);
}

static void test_repeating_timer_closes_itself(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = close_cb_calls = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &t);
  async_timer_start(&t, close_self, 1, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(close_cb_calls, 1);
  test_loop_close(&loop);
}

#define RANDOM_TIMERS 1000
static async_timer_t rnd[RANDOM_TIMERS];
static uint64_t rnd_due[RANDOM_TIMERS];
static uint64_t last_due;
static int order_broken;
static void random_cb(async_timer_t *t) {
  int i = (int)(t - rnd);
  if (rnd_due[i] < last_due || async_now_ns(t->loop) < rnd_due[i])
    order_broken++;
  last_due = rnd_due[i];
  fired++;
}

static void test_thousand_random_timers_in_order(void **state) {
  async_loop_t loop;
  (void)state;
  fired = order_broken = 0;
  last_due = 0;
  srand(42);
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  for (int i = 0; i < RANDOM_TIMERS; i++) {
    async_timer_init(&loop, &rnd[i]);
    rnd_due[i] = (uint64_t)(rand() % 100000) * 1000;
    async_timer_start_ns(&rnd[i], random_cb, rnd_due[i], 0);
  }
  /* Stop a third of them, restart some with new timeouts. */
  for (int i = 0; i < RANDOM_TIMERS; i += 3)
    async_timer_stop(&rnd[i]);
  for (int i = 0; i < RANDOM_TIMERS; i += 9) {
    rnd_due[i] = (uint64_t)(rand() % 100000) * 1000;
    async_timer_start_ns(&rnd[i], random_cb, rnd_due[i], 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(order_broken, 0);
  assert_int_equal(fired, RANDOM_TIMERS - RANDOM_TIMERS / 3 - 1 + (RANDOM_TIMERS / 9 + 1));
  test_loop_close(&loop);
}

static void test_huge_timeout_saturates(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  assert_int_equal(async_timer_start(&t, count_cb, UINT64_MAX, 0), 0);
  assert_true(async_timer_get_due_in(&t) > UINT64_C(1) << 40);
  async_unref((async_handle_t *)&t);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static void free_handle(async_handle_t *h) { free(h); }

static void test_timer_memory_freed_in_close_cb(void **state) {
  async_loop_t loop;
  async_timer_t *t[50];
  (void)state;
  test_loop_init(&loop);
  for (int i = 0; i < 50; i++) {
    t[i] = malloc(sizeof(*t[i]));
    async_timer_init(&loop, t[i]);
    async_timer_start(t[i], count_cb, 1000, 0);
  }
  for (int i = 0; i < 50; i++)
    async_close((async_handle_t *)t[i], free_handle);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

/* ---- never early on the real clock ---------------------------------------------- */

struct timed {
  async_timer_t t;
  uint64_t not_before;
  int early;
  int calls;
};

static void timed_cb(async_timer_t *t) {
  struct timed *x = (struct timed *)t;
  x->calls++;
  if (async_hrtime() < x->not_before)
    x->early++;
  if (async_now_ns(t->loop) < x->not_before)
    x->early++;
}

static void test_real_clock_never_early(void **state) {
  async_loop_t loop;
  struct timed x[8];
  (void)state;
  test_loop_init(&loop);
  for (int i = 0; i < 8; i++) {
    uint64_t timeout = (uint64_t)(i * 2 + 1);
    memset(&x[i], 0, sizeof(x[i]));
    async_timer_init(&loop, &x[i].t);
    x[i].not_before = async_hrtime() + timeout * MS;
    async_timer_start(&x[i].t, timed_cb, timeout, 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(x[i].calls, 1);
    assert_int_equal(x[i].early, 0);
  }
  test_loop_close(&loop);
}

static void test_deadline_from_fresh_clock_after_stale_turn(void **state) {
  async_loop_t loop;
  struct timed x;
  (void)state;
  memset(&x, 0, sizeof(x));
  test_loop_init(&loop);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  /* The cached time is now 20 ms old: the timer must still wait its 5 ms. */
  {
    uint64_t until = async_hrtime() + 20 * MS;
    while (async_hrtime() < until)
      ;
  }
  async_timer_init(&loop, &x.t);
  x.not_before = async_hrtime() + 5 * MS;
  async_timer_start(&x.t, timed_cb, 5, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(x.calls, 1);
  assert_int_equal(x.early, 0);
  test_loop_close(&loop);
}

static void test_repeating_real_timer_never_early(void **state) {
  async_loop_t loop;
  struct timed x;
  (void)state;
  memset(&x, 0, sizeof(x));
  test_loop_init(&loop);
  async_timer_init(&loop, &x.t);
  x.not_before = async_hrtime() + 2 * MS;
  async_timer_start(&x.t, timed_cb, 2, 2);
  while (x.calls < 5) {
    int calls = x.calls;
    async_run(&loop, ASYNC_RUN_ONCE);
    if (x.calls != calls)
      x.not_before += 2 * MS; /* the next period, without drift */
  }
  assert_int_equal(x.early, 0);
  test_loop_close(&loop);
}

static void test_zero_timeout_fires_in_default(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 0, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  assert_false(async_is_active((async_handle_t *)&t));
  test_loop_close(&loop);
}

/* ---- restarts from callbacks wait for the next turn --------------------------------- */

static void zero_restart(async_timer_t *t) {
  fired++;
  async_timer_start(t, zero_restart, 0, 0);
}

static void test_zero_restart_from_callback_once_per_turn(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, zero_restart, 0, 0);
  for (int turn = 1; turn <= 10; turn++) {
    assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
    assert_int_equal(fired, turn);
  }
  test_loop_close(&loop);
}

static async_timer_t second;
static void start_second(async_timer_t *t) {
  order[norder++] = 1;
  async_timer_start(&second, order_cb, 0, 0);
  (void)t;
}

static void test_timer_started_by_timer_waits_a_turn(void **state) {
  async_loop_t loop;
  async_timer_t first;
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &first);
  async_timer_init(&loop, &second);
  second.data = (void *)2;
  async_timer_start(&first, start_second, 3, 0);
  async_loop_advance(&loop, 3 * MS);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1);
  assert_int_equal(norder, 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(norder, 2);
  assert_int_equal(order[1], 2);
  test_loop_close(&loop);
}

/* ---- ties ---------------------------------------------------------------------- */

static void test_restart_moves_to_end_of_ties(void **state) {
  async_loop_t loop;
  async_timer_t t[3];
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < 3; i++) {
    async_timer_init(&loop, &t[i]);
    t[i].data = (void *)(intptr_t)i;
    async_timer_start(&t[i], order_cb, 5, 0);
  }
  async_timer_start(&t[0], order_cb, 5, 0); /* same deadline, started last */
  async_loop_advance(&loop, 5 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(norder, 3);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 2);
  assert_int_equal(order[2], 0);
  test_loop_close(&loop);
}

static void test_repeating_ties_keep_their_order(void **state) {
  async_loop_t loop;
  async_timer_t t[3];
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  for (int i = 0; i < 3; i++) {
    async_timer_init(&loop, &t[i]);
    t[i].data = (void *)(intptr_t)i;
  }
  async_timer_start(&t[2], order_cb, 10, 10);
  async_timer_start(&t[0], order_cb, 10, 10);
  async_timer_start(&t[1], order_cb, 10, 10);
  for (int period = 0; period < 4; period++) {
    async_loop_advance(&loop, 10 * MS);
    async_run(&loop, ASYNC_RUN_NOWAIT);
  }
  assert_int_equal(norder, 12);
  for (int k = 0; k < 12; k += 3) {
    assert_int_equal(order[k], 2);
    assert_int_equal(order[k + 1], 0);
    assert_int_equal(order[k + 2], 1);
  }
  test_loop_close(&loop);
}

#define TIE_TIMERS 2000
static async_timer_t ties[TIE_TIMERS];
static int tie_seen[TIE_TIMERS];
static int ntie;
static void tie_cb(async_timer_t *t) { tie_seen[ntie++] = (int)(t - ties); }

static void test_many_ties_in_start_order(void **state) {
  async_loop_t loop;
  (void)state;
  ntie = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  for (int i = 0; i < TIE_TIMERS; i++) {
    async_timer_init(&loop, &ties[i]);
    async_timer_start(&ties[i], tie_cb, (uint64_t)((i * 7919) % 10) + 1, 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ntie, TIE_TIMERS);
  for (int k = 1; k < TIE_TIMERS; k++) {
    int a = tie_seen[k - 1], b = tie_seen[k];
    int da = (a * 7919) % 10, db = (b * 7919) % 10;
    /* deadline order, then start (= index) order */
    assert_true(da < db || (da == db && a < b));
  }
  test_loop_close(&loop);
}

/* ---- stopping many from a callback (removal from the middle of the heap) ------------- */

#define MID_TIMERS 500
static async_timer_t mid[MID_TIMERS];
static int mid_bad, mid_fired;
static uint64_t mid_last;
static void mid_cb(async_timer_t *t) {
  int i = (int)(t - mid);
  if (i % 5 == 2 || async_now_ns(t->loop) < mid_last)
    mid_bad++;
  mid_last = async_now_ns(t->loop);
  mid_fired++;
}
static void stop_every_fifth(async_timer_t *t) {
  (void)t;
  for (int i = 2; i < MID_TIMERS; i += 5)
    async_timer_stop(&mid[i]);
}

static void test_stop_many_from_callback(void **state) {
  async_loop_t loop;
  async_timer_t first;
  (void)state;
  mid_bad = mid_fired = 0;
  mid_last = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  async_timer_init(&loop, &first);
  async_timer_start(&first, stop_every_fifth, 1, 0);
  for (int i = 0; i < MID_TIMERS; i++) {
    async_timer_init(&loop, &mid[i]);
    async_timer_start(&mid[i], mid_cb, (uint64_t)(2 + (i * 31) % 400), 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(mid_bad, 0);
  assert_int_equal(mid_fired, MID_TIMERS - MID_TIMERS / 5);
  test_loop_close(&loop);
}

/* ---- again, repeat, due-in --------------------------------------------------------- */

static void test_again_counts_from_now(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 100, 30);
  async_loop_advance(&loop, 10 * MS);
  assert_int_equal(async_timer_again(&t), 0);
  assert_int_equal(async_timer_get_due_in(&t), 30);
  async_loop_advance(&loop, 29 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 0);
  async_loop_advance(&loop, 1 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_true(async_is_active((async_handle_t *)&t)); /* and it repeats */
  assert_int_equal(async_timer_get_due_in(&t), 30);
  test_loop_close(&loop);
}

static void test_again_restarts_a_stopped_timer(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 5, 20);
  async_timer_stop(&t);
  assert_false(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_timer_again(&t), 0);
  assert_true(async_is_active((async_handle_t *)&t));
  assert_int_equal(async_timer_get_due_in(&t), 20);
  async_loop_advance(&loop, 20 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  test_loop_close(&loop);
}

static void test_set_repeat_applies_to_next_expiry(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 10, 10);
  async_timer_set_repeat(&t, 30);
  assert_int_equal(async_timer_get_repeat(&t), 30);
  async_loop_advance(&loop, 10 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 1);
  assert_int_equal(async_timer_get_due_in(&t), 30);
  async_timer_set_repeat(&t, 0);
  async_loop_advance(&loop, 30 * MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(fired, 2);
  assert_false(async_is_active((async_handle_t *)&t)); /* repeat 0: done */
  test_loop_close(&loop);
}

static void test_due_in_follows_the_clock(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, count_cb, 100, 0);
  assert_int_equal(async_timer_get_due_in(&t), 100);
  async_loop_advance(&loop, 30 * MS);
  assert_int_equal(async_timer_get_due_in(&t), 70);
  assert_int_equal(async_timer_get_due_in_ns(&t), 70 * MS);
  async_loop_advance(&loop, 80 * MS); /* past due: 0, not a wrapped huge value */
  assert_int_equal(async_timer_get_due_in(&t), 0);
  assert_int_equal(async_timer_get_due_in_ns(&t), 0);
  test_loop_close(&loop);
}

static void test_sub_ms_repeat_on_virtual_clock(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  fired = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start_ns(&t, count_cb, 500000, 250000);
  assert_int_equal(async_timer_get_repeat_ns(&t), 250000);
  assert_int_equal(async_timer_get_repeat(&t), 0);
  for (int step = 0; step < 8; step++) {
    async_loop_advance(&loop, 125000);
    async_run(&loop, ASYNC_RUN_NOWAIT);
  }
  /* 1 ms: fired at 0.5, 0.75 and 1.0 ms */
  assert_int_equal(fired, 3);
  test_loop_close(&loop);
}

static void test_callback_sees_its_handle_and_data(void **state) {
  async_loop_t loop;
  async_timer_t t[3];
  (void)state;
  norder = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_AUTOJUMP);
  for (int i = 0; i < 3; i++) {
    t[i].data = (void *)(intptr_t)(10 + i); /* set before init: kept */
    async_timer_init(&loop, &t[i]);
    async_timer_start(&t[i], order_cb, (uint64_t)(3 - i), 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(norder, 3);
  assert_int_equal(order[0], 12);
  assert_int_equal(order[1], 11);
  assert_int_equal(order[2], 10);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_init_bad_input),
  TEST(test_start_bad_input),
  TEST(test_deadline_order),
  TEST(test_equal_deadlines_in_start_order),
  TEST(test_restart_moves_deadline),
  TEST(test_stop_prevents_callback),
  TEST(test_repeat),
  TEST(test_repeat_no_drift),
  TEST(test_repeat_no_catch_up_burst),
  TEST(test_again),
  TEST(test_repeat_ns_round_trip),
  TEST(test_due_in),
  TEST(test_callback_stops_and_closes_others),
  TEST(test_restart_from_own_callback),
  TEST(test_repeating_timer_closes_itself),
  TEST(test_thousand_random_timers_in_order),
  TEST(test_huge_timeout_saturates),
  TEST(test_timer_memory_freed_in_close_cb),
  TEST(test_real_clock_never_early),
  TEST(test_deadline_from_fresh_clock_after_stale_turn),
  TEST(test_repeating_real_timer_never_early),
  TEST(test_zero_timeout_fires_in_default),
  TEST(test_zero_restart_from_callback_once_per_turn),
  TEST(test_timer_started_by_timer_waits_a_turn),
  TEST(test_restart_moves_to_end_of_ties),
  TEST(test_repeating_ties_keep_their_order),
  TEST(test_many_ties_in_start_order),
  TEST(test_stop_many_from_callback),
  TEST(test_again_counts_from_now),
  TEST(test_again_restarts_a_stopped_timer),
  TEST(test_set_repeat_applies_to_next_expiry),
  TEST(test_due_in_follows_the_clock),
  TEST(test_sub_ms_repeat_on_virtual_clock),
  TEST(test_callback_sees_its_handle_and_data),
};

TEST_MAIN("timer", tests)
