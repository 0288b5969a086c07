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
  assert_int_equal(test_fd_pair(fds), 0);
  for (int k = 0; k < 3; k++)
    async_timer_init(&loop, &t[k]);
  async_timer_start(&t[1], nothing_timer, 100, 0);
  async_idle_init(&loop, &i);
  async_wakeup_init(&loop, &w, nothing_wakeup);
  /* Without fd watchers (IOCP for now) the watcher is refused, and not walked. */
  int watching = test_has_caps(&loop, ASYNC_CAP_FD_WATCH);
  assert_int_equal(async_watch_init(&loop, &wa, fds[0]), watching ? 0 : ASYNC_ENOTSUP);
  async_close((async_handle_t *)&t[2], NULL); /* closing ones are walked too */
  async_walk(&loop, count_walk, &seen);
  assert_int_equal(seen.timers, 3);
  assert_int_equal(seen.idles, 1);
  assert_int_equal(seen.wakeups, 1);
  assert_int_equal(seen.watches, watching); /* the loop's own wake watcher is not walked */
  assert_int_equal(seen.total, 5 + watching);
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
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

/* ---- close: when the callback runs, what it may do ---------------------------- */

#define MS UINT64_C(1000000)

static char trace[64];
static int ntrace;
static void mark(char c) {
  if (ntrace < (int)sizeof(trace) - 1)
    trace[ntrace++] = c;
  trace[ntrace] = '\0';
}
static void reset_trace(void) {
  ntrace = 0;
  trace[0] = '\0';
}

static void mark_close(async_handle_t *h) {
  (void)h;
  mark('x');
}
static void check_mark(async_check_t *h) {
  (void)h;
  mark('c');
}
static void timer_closes_itself(async_timer_t *t) {
  mark('t');
  assert_int_equal(async_close((async_handle_t *)t, mark_close), 0);
  mark('r'); /* the close callback has not run inside async_close */
}

static void test_close_callback_runs_after_check_in_same_turn(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_check_t c;
  (void)state;
  reset_trace();
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  async_timer_start(&t, timer_closes_itself, 1, 1);
  async_check_init(&loop, &c);
  async_check_start(&c, check_mark);
  async_unref((async_handle_t *)&c);
  async_loop_advance(&loop, MS);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_string_equal(trace, "trcx");
  test_loop_close(&loop);
}

static void test_is_closing_through_the_lifecycle(void **state) {
  async_loop_t loop;
  async_prepare_t p;
  (void)state;
  reset_trace();
  test_loop_init(&loop);
  async_prepare_init(&loop, &p);
  assert_false(async_is_closing((async_handle_t *)&p));
  async_prepare_start(&p, check_mark);
  assert_true(async_is_active((async_handle_t *)&p));
  assert_int_equal(async_close((async_handle_t *)&p, mark_close), 0);
  assert_true(async_is_closing((async_handle_t *)&p));
  assert_false(async_is_active((async_handle_t *)&p));
  assert_string_equal(trace, "");
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "x");
  assert_true(async_is_closing((async_handle_t *)&p)); /* still, after the callback */
  test_loop_close(&loop);
}

static void free_on_close(async_handle_t *h) {
  ncloses++;
  free(h);
}
static void idle_closes_itself(async_idle_t *h) {
  mark('i');
  async_close((async_handle_t *)h, free_on_close);
}

static void test_close_from_own_callback_then_free(void **state) {
  async_loop_t loop;
  async_idle_t *h[20];
  (void)state;
  reset_trace();
  ncloses = 0;
  test_loop_init(&loop);
  for (int k = 0; k < 20; k++) {
    h[k] = malloc(sizeof(*h[k]));
    assert_non_null(h[k]);
    async_idle_init(&loop, h[k]);
    async_idle_start(h[k], idle_closes_itself);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ncloses, 20);
  assert_int_equal(ntrace, 20); /* each ran once, none after closing */
  test_loop_close(&loop);
}

static int refire;
static void reborn_fired(async_timer_t *t) {
  (void)t;
  refire++;
}
static async_loop_t *reuse_loop;
static void reuse_memory_as_timer(async_handle_t *h) {
  async_timer_t *t = (async_timer_t *)h;
  memset(t, 0xa5, sizeof(*t));
  assert_int_equal(async_timer_init(reuse_loop, t), 0);
  assert_int_equal(async_timer_start(t, reborn_fired, 0, 0), 0);
}

static void test_close_callback_may_reuse_the_memory(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  refire = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  reuse_loop = &loop;
  async_timer_init(&loop, &t);
  async_timer_start(&t, reborn_fired, 10, 0);
  async_close((async_handle_t *)&t, reuse_memory_as_timer);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(refire, 1);
  assert_false(async_is_closing((async_handle_t *)&t));
  test_loop_close(&loop);
}

static async_idle_t chain2[2];
static void close_second(async_handle_t *h) {
  (void)h;
  ncloses++;
  async_close((async_handle_t *)&chain2[1], mark_close);
}

static void test_handle_closed_by_close_callback_waits_a_turn(void **state) {
  async_loop_t loop;
  (void)state;
  ncloses = 0;
  reset_trace();
  test_loop_init(&loop);
  async_idle_init(&loop, &chain2[0]);
  async_idle_init(&loop, &chain2[1]);
  async_close((async_handle_t *)&chain2[0], close_second);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 1); /* a close callback is pending */
  assert_int_equal(ncloses, 1);
  assert_string_equal(trace, "");
  assert_true(async_is_closing((async_handle_t *)&chain2[1]));
  assert_int_equal(async_loop_close(&loop), ASYNC_EBUSY);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_string_equal(trace, "x");
  test_loop_close(&loop);
}

static int reclose_rc;
static void close_again_inside(async_handle_t *h) {
  reclose_rc = async_close(h, mark_close);
}

static void test_close_inside_own_close_callback_refused(void **state) {
  async_loop_t loop;
  async_check_t c;
  (void)state;
  reset_trace();
  reclose_rc = 12345;
  test_loop_init(&loop);
  async_check_init(&loop, &c);
  async_close((async_handle_t *)&c, close_again_inside);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(reclose_rc, ASYNC_EINVAL);
  assert_string_equal(trace, ""); /* mark_close never ran */
  test_loop_close(&loop);
}

static int due_fired;
static void due_cb(async_timer_t *t) {
  (void)t;
  due_fired++;
}

static void test_closed_due_timer_never_fires(void **state) {
  async_loop_t loop;
  async_timer_t t;
  (void)state;
  due_fired = 0;
  ncloses = 0;
  test_loop_init_clock(&loop, ASYNC_CLOCK_VIRTUAL);
  async_timer_init(&loop, &t);
  t.data = (void *)0;
  async_timer_start(&t, due_cb, 5, 5);
  async_loop_advance(&loop, 50 * MS); /* due, many times over */
  async_close((async_handle_t *)&t, record_close);
  assert_int_equal(async_run(&loop, ASYNC_RUN_NOWAIT), 0);
  assert_int_equal(due_fired, 0);
  assert_int_equal(ncloses, 1);
  test_loop_close(&loop);
}

static void test_start_refused_once_closing(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  async_prepare_t p;
  async_check_t c;
  async_wakeup_t w;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_idle_init(&loop, &i);
  async_prepare_init(&loop, &p);
  async_check_init(&loop, &c);
  async_wakeup_init(&loop, &w, nothing_wakeup);
  async_close((async_handle_t *)&t, NULL);
  async_close((async_handle_t *)&i, NULL);
  async_close((async_handle_t *)&p, NULL);
  async_close((async_handle_t *)&c, NULL);
  async_close((async_handle_t *)&w, NULL);
  for (int pass = 0; pass < 2; pass++) {
    /* closing (pass 0) and closed (pass 1) */
    assert_int_equal(async_timer_start(&t, nothing_timer, 1, 0), ASYNC_EINVAL);
    assert_int_equal(async_idle_start(&i, nothing_hook), ASYNC_EINVAL);
    assert_int_equal(async_prepare_start(&p, nothing_hook), ASYNC_EINVAL);
    assert_int_equal(async_check_start(&c, nothing_hook), ASYNC_EINVAL);
    assert_int_equal(async_wakeup_send(&w), ASYNC_EINVAL);
    assert_false(async_is_active((async_handle_t *)&t));
    assert_false(async_is_active((async_handle_t *)&i));
    async_run(&loop, ASYNC_RUN_DEFAULT);
  }
  test_loop_close(&loop);
}

/* ---- init fields ---------------------------------------------------------------- */

static void test_init_sets_loop_and_type_keeps_data(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  async_prepare_t p;
  async_check_t c;
  async_wakeup_t w;
  int tag;
  (void)state;
  test_loop_init(&loop);
  t.data = i.data = p.data = c.data = w.data = &tag;
  async_timer_init(&loop, &t);
  async_idle_init(&loop, &i);
  async_prepare_init(&loop, &p);
  async_check_init(&loop, &c);
  async_wakeup_init(&loop, &w, nothing_wakeup);
  assert_ptr_equal(t.data, &tag);
  assert_ptr_equal(i.data, &tag);
  assert_ptr_equal(p.data, &tag);
  assert_ptr_equal(c.data, &tag);
  assert_ptr_equal(w.data, &tag);
  assert_ptr_equal(t.loop, &loop);
  assert_ptr_equal(w.loop, &loop);
  assert_int_equal(async_handle_get_type((async_handle_t *)&t), ASYNC_TIMER);
  assert_int_equal(async_handle_get_type((async_handle_t *)&i), ASYNC_IDLE);
  assert_int_equal(async_handle_get_type((async_handle_t *)&p), ASYNC_PREPARE);
  assert_int_equal(async_handle_get_type((async_handle_t *)&c), ASYNC_CHECK);
  assert_int_equal(async_handle_get_type((async_handle_t *)&w), ASYNC_WAKEUP);
  assert_int_equal(t.type, ASYNC_TIMER);
  /* Fresh handles: referenced; only the wakeup starts active. */
  assert_true(async_has_ref((async_handle_t *)&i));
  assert_false(async_is_active((async_handle_t *)&i));
  assert_true(async_is_active((async_handle_t *)&w));
  test_loop_close(&loop);
}

static void test_more_types_and_sizes(void **state) {
  (void)state;
  assert_int_equal(async_handle_size(ASYNC_PREPARE), sizeof(async_prepare_t));
  assert_int_equal(async_handle_size(ASYNC_CHECK), sizeof(async_check_t));
  assert_int_equal(async_handle_size(ASYNC_HANDLE_TYPE_MAX), 0);
  assert_int_equal(async_handle_size((async_handle_type)99), 0);
  assert_null(async_handle_type_name((async_handle_type)99));
  assert_null(async_handle_type_name((async_handle_type)-1));
  /* Every known type has a distinct name. */
  for (int a = ASYNC_TIMER; a < ASYNC_HANDLE_TYPE_MAX; a++)
    for (int b = a + 1; b < ASYNC_HANDLE_TYPE_MAX; b++)
      assert_string_not_equal(async_handle_type_name((async_handle_type)a),
                              async_handle_type_name((async_handle_type)b));
}

/* ---- ref/unref on each kind ----------------------------------------------------- */

static void test_unref_wakeup_and_hooks(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  async_check_t c;
  (void)state;
  test_loop_init(&loop);
  async_wakeup_init(&loop, &w, nothing_wakeup);
  assert_true(async_loop_alive(&loop)); /* active from init */
  async_unref((async_handle_t *)&w);
  assert_false(async_loop_alive(&loop));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  async_check_init(&loop, &c);
  async_check_start(&c, nothing_hook);
  assert_true(async_loop_alive(&loop));
  async_unref((async_handle_t *)&c);
  assert_false(async_loop_alive(&loop));
  async_ref((async_handle_t *)&w);
  assert_true(async_loop_alive(&loop));
  async_close((async_handle_t *)&w, NULL);
  async_close((async_handle_t *)&c, NULL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_unref_survives_stop_and_start(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  (void)state;
  test_loop_init(&loop);
  async_timer_init(&loop, &t);
  async_idle_init(&loop, &i);
  async_timer_start(&t, nothing_timer, 1000, 0);
  async_idle_start(&i, nothing_hook);
  async_unref((async_handle_t *)&t);
  async_unref((async_handle_t *)&i);
  async_timer_stop(&t);
  async_idle_stop(&i);
  async_timer_start(&t, nothing_timer, 1000, 0);
  async_idle_start(&i, nothing_hook);
  assert_false(async_has_ref((async_handle_t *)&t));
  assert_false(async_has_ref((async_handle_t *)&i));
  assert_false(async_loop_alive(&loop));
  /* Restarting an active timer does not count it twice either. */
  async_ref((async_handle_t *)&t);
  async_timer_start(&t, nothing_timer, 2000, 0);
  async_timer_start(&t, nothing_timer, 3000, 0);
  async_timer_stop(&t);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_unref_idle_does_not_hold_default(void **state) {
  async_loop_t loop;
  async_idle_t i;
  async_timer_t t;
  (void)state;
  due_fired = 0;
  test_loop_init(&loop);
  async_idle_init(&loop, &i);
  async_idle_start(&i, nothing_hook);
  async_unref((async_handle_t *)&i);
  async_timer_init(&loop, &t);
  async_timer_start(&t, due_cb, 2, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(due_fired, 1);
  assert_true(async_is_active((async_handle_t *)&i));
  test_loop_close(&loop);
}

/* ---- walk: callbacks that close ----------------------------------------------------- */

#define WALK_TIMERS 100
#define WALK_IDLES 50
static async_timer_t wt[WALK_TIMERS];
static async_idle_t wi[WALK_IDLES];
static int visits[WALK_TIMERS + WALK_IDLES];

static int index_of(async_handle_t *h) {
  if (async_handle_get_type(h) == ASYNC_TIMER)
    return (int)((async_timer_t *)h - wt);
  return WALK_TIMERS + (int)((async_idle_t *)h - wi);
}

static void walk_close_self(async_handle_t *h, void *arg) {
  (void)arg;
  visits[index_of(h)]++;
  if (!async_is_closing(h))
    async_close(h, NULL);
}

static void walk_close_partner(async_handle_t *h, void *arg) {
  int k = index_of(h);
  int partner = WALK_TIMERS + WALK_IDLES - 1 - k;
  async_handle_t *ph = partner < WALK_TIMERS ? (async_handle_t *)&wt[partner]
                                             : (async_handle_t *)&wi[partner - WALK_TIMERS];
  (void)arg;
  visits[k]++;
  if (!async_is_closing(ph))
    async_close(ph, NULL);
}

static void walk_setup(async_loop_t *loop) {
  memset(visits, 0, sizeof(visits));
  for (int k = 0; k < WALK_TIMERS; k++) {
    async_timer_init(loop, &wt[k]);
    if (k % 2)
      async_timer_start(&wt[k], nothing_timer, (uint64_t)(1000 + (k * 37) % 100), 0);
  }
  for (int k = 0; k < WALK_IDLES; k++) {
    async_idle_init(loop, &wi[k]);
    if (k % 3)
      async_idle_start(&wi[k], nothing_hook);
  }
}

static void test_walk_closing_each_visits_each_once(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  walk_setup(&loop);
  async_walk(&loop, walk_close_self, NULL);
  for (int k = 0; k < WALK_TIMERS + WALK_IDLES; k++)
    assert_int_equal(visits[k], 1);
  for (int k = 0; k < WALK_TIMERS; k++)
    assert_true(async_is_closing((async_handle_t *)&wt[k]));
  /* A second walk still sees them all (closing, callbacks not run yet). */
  async_walk(&loop, walk_close_self, NULL);
  for (int k = 0; k < WALK_TIMERS + WALK_IDLES; k++)
    assert_int_equal(visits[k], 2);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static void test_walk_closing_others_visits_each_once(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  walk_setup(&loop);
  async_walk(&loop, walk_close_partner, NULL);
  for (int k = 0; k < WALK_TIMERS + WALK_IDLES; k++)
    assert_int_equal(visits[k], 1);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  test_loop_close(&loop);
}

static void count_arg(async_handle_t *h, void *arg) {
  (void)h;
  (*(int *)arg)++;
}

static void test_walk_passes_arg_and_skips_called_back(void **state) {
  async_loop_t loop;
  async_timer_t t[4];
  int n = 0;
  (void)state;
  test_loop_init(&loop);
  for (int k = 0; k < 4; k++)
    async_timer_init(&loop, &t[k]);
  async_walk(&loop, count_arg, &n);
  assert_int_equal(n, 4);
  async_close((async_handle_t *)&t[1], NULL);
  async_close((async_handle_t *)&t[3], NULL);
  n = 0;
  async_walk(&loop, count_arg, &n);
  assert_int_equal(n, 4); /* two open, two closing */
  async_run(&loop, ASYNC_RUN_NOWAIT);
  n = 0;
  async_walk(&loop, count_arg, &n);
  assert_int_equal(n, 2);
  test_loop_close(&loop);
}

/* ---- many handles, freed from their close callbacks ------------------------------------ */

static void test_many_mixed_handles_freed_on_close(void **state) {
  enum { N = 600 };
  async_loop_t loop;
  async_handle_t *h[N];
  (void)state;
  ncloses = 0;
  test_loop_init(&loop);
  for (int k = 0; k < N; k++) {
    switch (k % 3) {
    case 0:
      h[k] = malloc(sizeof(async_timer_t));
      async_timer_init(&loop, (async_timer_t *)h[k]);
      async_timer_start((async_timer_t *)h[k], nothing_timer, (uint64_t)k, 0);
      break;
    case 1:
      h[k] = malloc(sizeof(async_idle_t));
      async_idle_init(&loop, (async_idle_t *)h[k]);
      break;
    default:
      h[k] = malloc(sizeof(async_check_t));
      async_check_init(&loop, (async_check_t *)h[k]);
      async_check_start((async_check_t *)h[k], nothing_hook);
      break;
    }
  }
  /* Close in an order unrelated to creation. */
  for (int k = 0; k < N; k++)
    assert_int_equal(async_close(h[(k * 7) % N], free_on_close), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ncloses, N);
  test_loop_close(&loop);
}

static void test_stop_on_closing_handles_refused(void **state) {
  async_loop_t loop;
  async_timer_t t;
  async_idle_t i;
  async_watch_t w;
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(test_fd_pair(fds), 0);
  async_timer_init(&loop, &t);
  async_idle_init(&loop, &i);
  int watching = test_has_caps(&loop, ASYNC_CAP_FD_WATCH);
  assert_int_equal(async_watch_init(&loop, &w, fds[0]), watching ? 0 : ASYNC_ENOTSUP);
  async_close((async_handle_t *)&t, NULL);
  async_close((async_handle_t *)&i, NULL);
  if (watching)
    async_close((async_handle_t *)&w, NULL);
  assert_int_equal(async_timer_stop(&t), ASYNC_EINVAL);
  assert_int_equal(async_idle_stop(&i), ASYNC_EINVAL);
  if (watching)
    assert_int_equal(async_watch_stop(&w), ASYNC_EINVAL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_timer_stop(&t), ASYNC_EINVAL); /* closed */
  if (watching)
    assert_int_equal(async_watch_start(&w, ASYNC_READABLE, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
  test_fd_close(fds[0]);
  test_fd_close(fds[1]);
}

static const struct CMUnitTest tests[] = {
  TEST(test_stop_on_closing_handles_refused),
  TEST(test_close_null_and_twice),
  TEST(test_close_callbacks_in_close_order),
  TEST(test_close_stops_active_handles),
  TEST(test_close_from_close_callback),
  TEST(test_ref_unref),
  TEST(test_types_and_sizes),
  TEST(test_walk_sees_every_kind_not_internal),
  TEST(test_walk_empty_and_after_close),
  TEST(test_walk_while_callbacks_reshuffle),
  TEST(test_close_callback_runs_after_check_in_same_turn),
  TEST(test_is_closing_through_the_lifecycle),
  TEST(test_close_from_own_callback_then_free),
  TEST(test_close_callback_may_reuse_the_memory),
  TEST(test_handle_closed_by_close_callback_waits_a_turn),
  TEST(test_close_inside_own_close_callback_refused),
  TEST(test_closed_due_timer_never_fires),
  TEST(test_start_refused_once_closing),
  TEST(test_init_sets_loop_and_type_keeps_data),
  TEST(test_more_types_and_sizes),
  TEST(test_unref_wakeup_and_hooks),
  TEST(test_unref_survives_stop_and_start),
  TEST(test_unref_idle_does_not_hold_default),
  TEST(test_walk_closing_each_visits_each_once),
  TEST(test_walk_closing_others_visits_each_once),
  TEST(test_walk_passes_arg_and_skips_called_back),
  TEST(test_many_mixed_handles_freed_on_close),
};

TEST_MAIN("handle", tests)
