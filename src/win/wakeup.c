/* Cross-thread wakeups on Windows: one flag per loop so that a burst of
 * sends costs the backend one wake (a completion packet on IOCP, a datagram
 * on select), and the wakeup handles built on it. Atomics are the
 * Interlocked family: valid for MSVC and MinGW alike. */
#include "win.h"

/* async_wakeup_t.pending_ */
enum { IDLE = 0, PENDING = 1, CLOSED = 2 };

#define ATOMIC_INT(p) ((volatile LONG *)(p))

void async__wake(async_loop_t *loop) {
  if (InterlockedExchange(&loop->wake_pending_, 1) != 0)
    return;
  loop->wake_fn_(loop);
}

/* The flag is cleared before the handles are looked at: a send that lands
 * after a handle was looked at wakes the next poll again. */
void async__wake_process(async_loop_t *loop) {
  struct async__link batch;
  InterlockedExchange(&loop->wake_pending_, 0);
  async__work_done_run(loop);
  async__list_move(&loop->wakeups_, &batch);
  while (!async__list_empty(&batch)) {
    struct async__link *n = batch.next;
    async_wakeup_t *w = async__container_of(n, async_wakeup_t, link_);
    async__list_remove(n);
    async__list_insert_tail(&loop->wakeups_, n);
    if (InterlockedCompareExchange(ATOMIC_INT(&w->pending_), IDLE, PENDING) == PENDING)
      w->cb_.wakeup(w);
  }
}

int async_wakeup_init(async_loop_t *loop, async_wakeup_t *w, async_wakeup_cb cb) {
  int err;
  if (loop == NULL || w == NULL || cb == NULL)
    return ASYNC_EINVAL;
  err = async__handle_init(loop, (async_handle_t *)w, ASYNC_WAKEUP);
  if (err != 0)
    return err;
  w->cb_.wakeup = cb;
  w->pending_ = IDLE;
  w->senders_ = 0;
  async__list_insert_tail(&loop->wakeups_, &w->link_);
  async__handle_start((async_handle_t *)w);
  return 0;
}

/* The sender counts itself on the handle while it uses the loop, so the
 * loop runs the close callback (after which the memory may be freed) only
 * once no sender is inside; nothing spins on it. Interlocked operations
 * are full barriers, which the pairing with the close relies on. */
int async_wakeup_send(async_wakeup_t *w) {
  LONG seen;
  int rc = 0;
  if (w == NULL)
    return ASYNC_EINVAL;
  seen = InterlockedCompareExchange(ATOMIC_INT(&w->pending_), PENDING, PENDING);
  if (seen == PENDING)
    return 0;
  if (seen == CLOSED)
    return ASYNC_EINVAL;
  InterlockedIncrement(ATOMIC_INT(&w->senders_));
  seen = InterlockedCompareExchange(ATOMIC_INT(&w->pending_), PENDING, IDLE);
  if (seen == IDLE)
    async__wake(w->loop);
  else if (seen == CLOSED)
    rc = ASYNC_EINVAL;
  InterlockedDecrement(ATOMIC_INT(&w->senders_));
  return rc;
}

void async__wakeup_close(async_wakeup_t *w) {
  InterlockedExchange(ATOMIC_INT(&w->pending_), CLOSED);
  async__list_remove(&w->link_);
}

int async__wakeup_close_ready(const async_wakeup_t *w) {
  return InterlockedCompareExchange(ATOMIC_INT(&w->senders_), 0, 0) == 0;
}

/* Every wake posts to the backend here (a packet or a datagram), so nothing
 * is owed to an embedder when async_run returns. */
void async__wake_run_end(async_loop_t *loop) { (void)loop; }
