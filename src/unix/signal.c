/* Signal handles. The process-wide part is a table of the loops that watch
 * signals, each with the set it watches: the handler walks it, marks the
 * signal pending on each interested loop and wakes it through its wake
 * channel (an atomic or and at most one write: async-signal-safe). Each loop
 * then calls its own handles on its own thread. */
#include "unix.h"
#include "../atomic.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#define MAX_SIGNAL 64       /* signals 1..64 fit the per-loop pending mask */
#define MAX_SIGNAL_LOOPS 64 /* loops with signal handles at the same time */

/* Process-wide by nature: dispositions belong to the process. */
static struct {
  async_loop_t *loop;   /* read by handlers */
  uint64_t mask;        /* read by handlers: bit n for signal n+1 */
  int busy;             /* handlers inside this slot */
} slots[MAX_SIGNAL_LOOPS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards the rest */
static int users[MAX_SIGNAL + 1];                        /* started handles per signal */
static struct sigaction saved[MAX_SIGNAL + 1];           /* disposition before the first */

static uint64_t bit(int signum) { return UINT64_C(1) << (signum - 1); }

static void handler(int signum) {
  int saved_errno = errno;
  for (int i = 0; i < MAX_SIGNAL_LOOPS; i++) {
    async_loop_t *loop;
    /* An empty slot costs one plain load: a loop that is not there when the
     * signal arrives was not watching it. */
    if (__atomic_load_n(&slots[i].loop, __ATOMIC_RELAXED) == NULL)
      continue;
    /* Sequentially consistent, paired with async__signal_loop_close: either
     * this sees the slot emptied or the close sees this handler inside. */
    __atomic_add_fetch(&slots[i].busy, 1, __ATOMIC_SEQ_CST);
    loop = __atomic_load_n(&slots[i].loop, __ATOMIC_SEQ_CST);
    if (loop != NULL && (__atomic_load_n(&slots[i].mask, __ATOMIC_ACQUIRE) & bit(signum))) {
      __atomic_fetch_or(&loop->signals_pending_, bit(signum), __ATOMIC_ACQ_REL);
      async__wake(loop);
    }
    __atomic_sub_fetch(&slots[i].busy, 1, __ATOMIC_SEQ_CST);
  }
  errno = saved_errno;
}

/* With the lock held: what this loop's started handles watch (counted, not
 * read off the handle list, which a dispatch has half moved aside). */
static void publish_mask(async_loop_t *loop) {
  uint64_t mask = 0;
  for (int s = 1; s <= MAX_SIGNAL; s++)
    if (loop->signal_users_[s - 1] != 0)
      mask |= bit(s);
  __atomic_store_n(&slots[loop->signal_slot_].mask, mask, __ATOMIC_RELEASE);
}

/* With the lock held. */
static int claim_slot(async_loop_t *loop) {
  if (loop->signal_slot_ >= 0)
    return 0;
  for (int i = 0; i < MAX_SIGNAL_LOOPS; i++) {
    if (__atomic_load_n(&slots[i].loop, __ATOMIC_ACQUIRE) == NULL) {
      __atomic_store_n(&slots[i].mask, 0, __ATOMIC_RELEASE);
      __atomic_store_n(&slots[i].loop, loop, __ATOMIC_RELEASE);
      loop->signal_slot_ = i;
      return 0;
    }
  }
  return ASYNC_EBUSY;
}

void async__signal_loop_init(async_loop_t *loop) {
  async__list_init(&loop->signals_);
  loop->signals_pending_ = 0;
  memset(loop->signal_users_, 0, sizeof(loop->signal_users_));
  loop->signal_slot_ = -1;
}

/* The loop is going away: no handler may hold it afterwards. A handler
 * inside the slot finishes in a few instructions, so the wait is short. */
void async__signal_loop_close(async_loop_t *loop) {
  int i = loop->signal_slot_;
  if (i < 0)
    return;
  pthread_mutex_lock(&lock);
  __atomic_store_n(&slots[i].mask, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&slots[i].loop, NULL, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&lock);
  while (__atomic_load_n(&slots[i].busy, __ATOMIC_SEQ_CST) != 0)
    sched_yield();
  loop->signal_slot_ = -1;
}

int async__signal_start(async_signal_t *h, async_signal_cb cb, int signum, int oneshot) {
  int err = 0;
  if (!async__handle_ok(h, ASYNC_SIGNAL) || cb == NULL || signum < 1 || signum > MAX_SIGNAL ||
      signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
    return ASYNC_EINVAL;
  if (async__is_active(h))
    return ASYNC_EALREADY;
  pthread_mutex_lock(&lock);
  err = claim_slot(h->loop);
  if (err == 0 && users[signum] == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(signum, &sa, &saved[signum]) != 0)
      err = async_translate_sys_error(errno);
  }
  if (err == 0) {
    users[signum]++;
    h->signum = signum;
    h->oneshot_ = oneshot;
    h->cb_.signal = cb;
    async__list_insert_tail(&h->loop->signals_, &h->link_);
    h->loop->signal_users_[signum - 1]++;
    publish_mask(h->loop);
  }
  pthread_mutex_unlock(&lock);
  if (err == 0)
    async__handle_start((async_handle_t *)h);
  return err;
}

void async__signal_stop(async_signal_t *h) {
  if (!async__is_active(h))
    return;
  pthread_mutex_lock(&lock);
  async__list_remove(&h->link_);
  h->loop->signal_users_[h->signum - 1]--;
  publish_mask(h->loop);
  if (--users[h->signum] == 0)
    sigaction(h->signum, &saved[h->signum], NULL);
  pthread_mutex_unlock(&lock);
  h->signum = 0;
  async__handle_stop((async_handle_t *)h);
}

/* On the loop thread, after a wake: call the handles of what arrived. */
void async__signal_dispatch(async_loop_t *loop) {
  if (__atomic_load_n(&loop->signals_pending_, __ATOMIC_ACQUIRE) != 0)
    async__signals_run(loop, __atomic_exchange_n(&loop->signals_pending_, 0, __ATOMIC_ACQ_REL));
}
