/* Cross-thread wakeups on the backend under test: argument checks, liveness,
 * coalescing, no lost final callback under a storm of sends from several
 * threads, sends racing with close, and sends from a signal handler. */
#include "helper.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

typedef struct {
  int calls;
  int closes;
  int close_at;   /* close the handle from the callback at this call (0: never) */
  int resend_until; /* send again from the callback while calls < this */
} wrec_t;

static void wrec_close_cb(async_handle_t *h) {
  wrec_t *r = h->data;
  r->closes++;
}

static void wrec_cb(async_wakeup_t *w) {
  wrec_t *r = w->data;
  r->calls++;
  if (r->resend_until != 0 && r->calls < r->resend_until)
    assert_int_equal(async_wakeup_send(w), 0);
  if (r->close_at != 0 && r->calls == r->close_at)
    assert_int_equal(async_close((async_handle_t *)w, wrec_close_cb), 0);
}

static void wakeup(async_loop_t *loop, async_wakeup_t *w, wrec_t *r) {
  memset(r, 0, sizeof(*r));
  assert_int_equal(async_wakeup_init(loop, w, wrec_cb), 0);
  w->data = r;
}

/* A hang kills the test program instead of stalling the suite (on Windows,
 * which has no alarm, meson's timeout does). */
static void guard(unsigned seconds) {
#if !defined(_WIN32)
  alarm(seconds);
#else
  (void)seconds;
#endif
}

static void unguard(void) {
#if !defined(_WIN32)
  alarm(0);
#endif
}

static void nowait(async_loop_t *loop, int turns) {
  for (int i = 0; i < turns; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* ---- basics ------------------------------------------------------------------ */

static void test_wakeup_init_einval(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_wakeup_init(NULL, &w, wrec_cb), ASYNC_EINVAL);
  assert_int_equal(async_wakeup_init(&loop, NULL, wrec_cb), ASYNC_EINVAL);
  assert_int_equal(async_wakeup_init(&loop, &w, NULL), ASYNC_EINVAL);
  assert_int_equal(async_loop_alive(&loop), 0);
  test_loop_close(&loop);
}

static void test_wakeup_send_null(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  assert_int_equal(async_wakeup_send(NULL), ASYNC_EINVAL);
  nowait(&loop, 2);
  assert_int_equal(r.calls, 0); /* a bad call wakes nothing */
  test_loop_close(&loop);
}

static void test_wakeup_handle_basics(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  assert_ptr_equal(w.loop, &loop);
  assert_int_equal(async_handle_get_type((async_handle_t *)&w), ASYNC_WAKEUP);
  assert_string_equal(async_handle_type_name(ASYNC_WAKEUP), "wakeup");
  assert_true(async_handle_size(ASYNC_WAKEUP) >= sizeof(async_wakeup_t));
  /* Active and referenced from init on. */
  assert_int_equal(async_is_active((async_handle_t *)&w), 1);
  assert_int_equal(async_has_ref((async_handle_t *)&w), 1);
  assert_int_equal(async_loop_alive(&loop), 1);
  test_loop_close(&loop);
}

static void test_wakeup_no_send_no_callback(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  nowait(&loop, 5);
  assert_int_equal(r.calls, 0);
  test_loop_close(&loop);
}

static void test_wakeup_send_same_thread(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  assert_int_equal(async_wakeup_send(&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 1);
  nowait(&loop, 3);
  assert_int_equal(r.calls, 1);
  /* Again: the handle is reusable. */
  assert_int_equal(async_wakeup_send(&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 2);
  test_loop_close(&loop);
  unguard();
}

static void test_wakeup_sends_coalesce(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(async_wakeup_send(&w), 0);
  nowait(&loop, 3);
  assert_int_equal(r.calls, 1);
  test_loop_close(&loop);
}

static void test_wakeup_keeps_loop_alive_until_closed(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  r.close_at = 1;
  assert_int_equal(async_wakeup_send(&w), 0);
  /* DEFAULT runs until the callback closed the handle. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.closes, 1);
  assert_int_equal(async_loop_alive(&loop), 0);
  test_loop_close(&loop);
  unguard();
}

static void test_wakeup_unref(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  async_unref((async_handle_t *)&w);
  assert_int_equal(async_has_ref((async_handle_t *)&w), 0);
  assert_int_equal(async_is_active((async_handle_t *)&w), 1);
  assert_int_equal(async_loop_alive(&loop), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* does not block */
  assert_int_equal(r.calls, 0);
  async_ref((async_handle_t *)&w);
  assert_int_equal(async_loop_alive(&loop), 1);
  assert_int_equal(async_wakeup_send(&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 1);
  test_loop_close(&loop);
  unguard();
}

static void test_wakeup_send_after_close(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  assert_int_equal(async_wakeup_send(&w), 0); /* pending when closed: no callback then */
  assert_int_equal(async_close((async_handle_t *)&w, wrec_close_cb), 0);
  assert_int_equal(async_wakeup_send(&w), ASYNC_EINVAL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.closes, 1);
  assert_int_equal(r.calls, 0);
  /* After the close callback too (the memory is still the caller's). */
  assert_int_equal(async_wakeup_send(&w), ASYNC_EINVAL);
  nowait(&loop, 2);
  assert_int_equal(r.calls, 0);
  assert_int_equal(async_close((async_handle_t *)&w, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
  unguard();
}

static void test_wakeup_two_handles_independent(void **state) {
  async_loop_t loop;
  async_wakeup_t a, b;
  wrec_t ra, rb;
  (void)state;
  test_loop_init(&loop);
  wakeup(&loop, &a, &ra);
  wakeup(&loop, &b, &rb);
  assert_int_equal(async_wakeup_send(&a), 0);
  nowait(&loop, 2);
  assert_int_equal(ra.calls, 1);
  assert_int_equal(rb.calls, 0);
  assert_int_equal(async_wakeup_send(&b), 0);
  nowait(&loop, 2);
  assert_int_equal(ra.calls, 1);
  assert_int_equal(rb.calls, 1);
  assert_int_equal(async_wakeup_send(&a), 0);
  assert_int_equal(async_wakeup_send(&b), 0);
  nowait(&loop, 2);
  assert_int_equal(ra.calls, 2);
  assert_int_equal(rb.calls, 2);
  /* Closing one leaves the other working. */
  assert_int_equal(async_close((async_handle_t *)&a, NULL), 0);
  assert_int_equal(async_wakeup_send(&b), 0);
  nowait(&loop, 2);
  assert_int_equal(ra.calls, 2);
  assert_int_equal(rb.calls, 3);
  test_loop_close(&loop);
}

#define NHANDLES 64

static void test_wakeup_many_handles(void **state) {
  async_loop_t loop;
  async_wakeup_t w[NHANDLES];
  wrec_t r[NHANDLES];
  (void)state;
  test_loop_init(&loop);
  for (int i = 0; i < NHANDLES; i++)
    wakeup(&loop, &w[i], &r[i]);
  for (int i = 0; i < NHANDLES; i += 3)
    assert_int_equal(async_wakeup_send(&w[i]), 0);
  nowait(&loop, 2);
  for (int i = 0; i < NHANDLES; i++)
    assert_int_equal(r[i].calls, i % 3 == 0);
  test_loop_close(&loop);
}

static void test_wakeup_send_from_callback(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  r.resend_until = 5; /* calls 1..4 send again */
  r.close_at = 5;
  assert_int_equal(async_wakeup_send(&w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(r.calls, 5);
  assert_int_equal(r.closes, 1);
  test_loop_close(&loop);
  unguard();
}

static char order[8];
static int norder;

static void order_cb(async_wakeup_t *w) {
  if (norder < (int)sizeof(order) - 1)
    order[norder++] = *(const char *)w->data;
  order[norder] = '\0';
}

static void test_wakeup_callbacks_in_init_order(void **state) {
  async_loop_t loop;
  async_wakeup_t w[3];
  static const char names[] = "abc";
  (void)state;
  norder = 0;
  order[0] = '\0';
  test_loop_init(&loop);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(async_wakeup_init(&loop, &w[i], order_cb), 0);
    w[i].data = (void *)&names[i];
  }
  assert_int_equal(async_wakeup_send(&w[2]), 0);
  assert_int_equal(async_wakeup_send(&w[0]), 0);
  assert_int_equal(async_wakeup_send(&w[1]), 0);
  nowait(&loop, 2);
  assert_string_equal(order, "abc");
  test_loop_close(&loop);
}

/* ---- other threads ---------------------------------------------------------------- */

static void *late_sender(void *arg) {
  sleep_ms(20);
  assert_int_equal(async_wakeup_send(arg), 0);
  return NULL;
}

static void test_wakeup_from_thread_ends_blocking_run(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  pthread_t th;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  r.close_at = 1;
  assert_int_equal(pthread_create(&th, NULL, late_sender, &w), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.closes, 1);
  test_loop_close(&loop);
  unguard();
}

#define STORM_THREADS 4
#define STORM_SENDS 100000

typedef struct {
  async_wakeup_t w;
  atomic_long sent;    /* incremented before every send */
  atomic_int done;     /* threads past their last counted send */
  atomic_int errors;   /* sends that did not return 0 */
  long observed;       /* sent as the last callback saw it */
  long calls;
  int closes;
  int done_seen;
} storm_t;

static void storm_close_cb(async_handle_t *h) {
  storm_t *s = h->data;
  s->closes++;
}

static void storm_cb(async_wakeup_t *w) {
  storm_t *s = w->data;
  s->calls++;
  /* Read done first: once every thread is done, sent is final. */
  s->done_seen = atomic_load(&s->done);
  s->observed = atomic_load(&s->sent);
  if (s->done_seen == STORM_THREADS)
    assert_int_equal(async_close((async_handle_t *)w, storm_close_cb), 0);
}

static void *storm_thread(void *arg) {
  storm_t *s = arg;
  for (int i = 0; i < STORM_SENDS; i++) {
    atomic_fetch_add(&s->sent, 1);
    if (async_wakeup_send(&s->w) != 0)
      atomic_fetch_add(&s->errors, 1);
  }
  /* Tell the loop this thread is done, then wake it once more: the callback
   * after this send is the one that must see everything. */
  atomic_fetch_add(&s->done, 1);
  {
    /* A callback that already saw every thread done may have closed the
     * handle before this last send: then it is refused, nothing else. */
    int rc = async_wakeup_send(&s->w);
    if (rc != 0 && rc != ASYNC_EINVAL)
      atomic_fetch_add(&s->errors, 1);
  }
  return NULL;
}

static void test_wakeup_storm_no_lost_final_callback(void **state) {
  async_loop_t loop;
  storm_t *s = calloc(1, sizeof(*s));
  pthread_t th[STORM_THREADS];
  (void)state;
  guard(120);
  assert_non_null(s);
  test_loop_init(&loop);
  atomic_init(&s->sent, 0);
  atomic_init(&s->done, 0);
  atomic_init(&s->errors, 0);
  assert_int_equal(async_wakeup_init(&loop, &s->w, storm_cb), 0);
  s->w.data = s;
  for (int i = 0; i < STORM_THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, storm_thread, s), 0);
  /* Runs until a callback saw every thread done; a lost last send would
   * leave the loop blocked (and the guard would end the test). */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  for (int i = 0; i < STORM_THREADS; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  assert_int_equal(s->done_seen, STORM_THREADS);
  assert_int_equal(s->observed, (long)STORM_THREADS * STORM_SENDS);
  assert_int_equal(atomic_load(&s->errors), 0);
  assert_int_equal(s->closes, 1);
  assert_true(s->calls >= 1);
  assert_true(s->calls <= (long)STORM_THREADS * (STORM_SENDS + 1));
  test_loop_close(&loop);
  free(s);
  unguard();
}

/* A thread sends as fast as it can while the loop closes the handle. */
typedef struct {
  async_wakeup_t *w;
  atomic_int started;
  atomic_long sends;
  int last_rc;
} racer_t;

static void *racer_thread(void *arg) {
  racer_t *ra = arg;
  int rc;
  atomic_store(&ra->started, 1);
  do {
    rc = async_wakeup_send(ra->w);
    if (rc == 0)
      atomic_fetch_add(&ra->sends, 1);
  } while (rc == 0);
  ra->last_rc = rc;
  return NULL;
}

static void test_wakeup_send_races_with_close(void **state) {
  (void)state;
  guard(120);
  for (int iter = 0; iter < 40; iter++) {
    async_loop_t loop;
    async_wakeup_t *w = malloc(sizeof(*w));
    wrec_t r;
    racer_t ra;
    pthread_t th;
    assert_non_null(w);
    test_loop_init(&loop);
    wakeup(&loop, w, &r);
    memset(&ra, 0, sizeof(ra));
    ra.w = w;
    atomic_init(&ra.started, 0);
    atomic_init(&ra.sends, 0);
    assert_int_equal(pthread_create(&th, NULL, racer_thread, &ra), 0);
    while (!atomic_load(&ra.started))
      sched_yield();
    if (iter % 2 == 0) {
      r.close_at = 1 + iter % 5; /* from the callback */
    } else {
      while (atomic_load(&ra.sends) < iter)
        sched_yield();
      assert_int_equal(async_close((async_handle_t *)w, wrec_close_cb), 0); /* from outside */
    }
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(r.closes, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(ra.last_rc, ASYNC_EINVAL);
    assert_int_equal(async_wakeup_send(w), ASYNC_EINVAL);
    test_loop_close(&loop);
    free(w);
  }
  unguard();
}

/* ---- signal handlers -------------------------------------------------------------- */
/* POSIX signal handlers: Windows has none to send from. */
#if !defined(_WIN32)

static async_wakeup_t *sig_wakeup;
static volatile sig_atomic_t sig_rc = 1;
static volatile sig_atomic_t sig_count;

static void on_usr1(int sig) {
  (void)sig;
  sig_rc = async_wakeup_send(sig_wakeup);
  sig_count++;
}

static void install_usr1(struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: the backend sees EINTR */
  assert_int_equal(sigaction(SIGUSR1, &sa, old), 0);
}

static void test_wakeup_send_from_signal_handler(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  struct sigaction old;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  sig_wakeup = &w;
  sig_rc = 1;
  sig_count = 0;
  install_usr1(&old);
  assert_int_equal(raise(SIGUSR1), 0);
  assert_int_equal(sig_count, 1);
  assert_int_equal(sig_rc, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
  test_loop_close(&loop);
  unguard();
}

typedef struct {
  pthread_t target;
} killer_t;

static void *killer_thread(void *arg) {
  killer_t *k = arg;
  sleep_ms(20);
  assert_int_equal(pthread_kill(k->target, SIGUSR1), 0);
  return NULL;
}

static void test_wakeup_signal_interrupts_blocking_run(void **state) {
  async_loop_t loop;
  async_wakeup_t w;
  wrec_t r;
  struct sigaction old;
  killer_t k;
  pthread_t th;
  (void)state;
  guard(30);
  test_loop_init(&loop);
  wakeup(&loop, &w, &r);
  r.close_at = 1;
  sig_wakeup = &w;
  sig_rc = 1;
  sig_count = 0;
  install_usr1(&old);
  k.target = pthread_self();
  assert_int_equal(pthread_create(&th, NULL, killer_thread, &k), 0);
  /* The loop sleeps in the backend; the handler's send must end the run. */
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(sig_count, 1);
  assert_int_equal(sig_rc, 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.closes, 1);
  assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
  test_loop_close(&loop);
  unguard();
}
#endif

/* ---- wakeups beside other handles ------------------------------------------------- */

static void test_wakeup_two_loops_independent(void **state) {
  async_loop_t l1, l2;
  async_wakeup_t a, b;
  wrec_t ra, rb;
  (void)state;
  test_loop_init(&l1);
  test_loop_init(&l2);
  wakeup(&l1, &a, &ra);
  wakeup(&l2, &b, &rb);
  assert_int_equal(async_wakeup_send(&a), 0);
  nowait(&l2, 2);
  assert_int_equal(rb.calls, 0);
  nowait(&l1, 2);
  assert_int_equal(ra.calls, 1);
  assert_int_equal(rb.calls, 0);
  test_loop_close(&l1);
  test_loop_close(&l2);
}

static const struct CMUnitTest tests[] = {
  TEST(test_wakeup_init_einval),
  TEST(test_wakeup_send_null),
  TEST(test_wakeup_handle_basics),
  TEST(test_wakeup_no_send_no_callback),
  TEST(test_wakeup_send_same_thread),
  TEST(test_wakeup_sends_coalesce),
  TEST(test_wakeup_keeps_loop_alive_until_closed),
  TEST(test_wakeup_unref),
  TEST(test_wakeup_send_after_close),
  TEST(test_wakeup_two_handles_independent),
  TEST(test_wakeup_many_handles),
  TEST(test_wakeup_callbacks_in_init_order),
  TEST(test_wakeup_send_from_callback),
  TEST(test_wakeup_from_thread_ends_blocking_run),
  TEST(test_wakeup_storm_no_lost_final_callback),
  TEST(test_wakeup_send_races_with_close),
#if !defined(_WIN32)
  TEST(test_wakeup_send_from_signal_handler),
  TEST(test_wakeup_signal_interrupts_blocking_run),
#endif
  TEST(test_wakeup_two_loops_independent),
};

TEST_MAIN("wakeup", tests)
