/* Cross-thread wakeup handles, for every platform: a send marks the handle
 * pending and wakes the loop (async__wake, the platform's), and the loop
 * runs the pending handles' callbacks (async__wakeups_run) when the
 * platform processes the wake. */
#include "internal.h"
#include "atomic.h"

/* async_wakeup_t.pending_ */
enum { IDLE = 0, PENDING = 1, CLOSED = 2 };

/* Every handle is looked at once per call; the list order rotates with it.
 * The platform clears its wake flag before calling this, so a send landing
 * after a handle was looked at is seen next turn. */
void async__wakeups_run(async_loop_t *loop) {
  struct async__link batch;
  async__list_move(&loop->wakeups_, &batch);
  while (!async__list_empty(&batch)) {
    struct async__link *n = batch.next;
    async_wakeup_t *w = async__container_of(n, async_wakeup_t, link_);
    async__list_remove(n);
    async__list_insert_tail(&loop->wakeups_, n);
    if (async__atomic_cas(&w->pending_, &(int){PENDING}, IDLE))
      ASYNC__HANDLE_CB(w, ASYNC_CB_WAKEUP, w->cb_.wakeup(w));
  }
}

int async_wakeup_init(async_loop_t *loop, async_wakeup_t *w, async_wakeup_cb cb) {
  int err = async__handle_claim(loop, w);
  if (err != 0)
    return err;
  if (cb == NULL)
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

/* The sender counts itself on the handle while it uses the loop: the loop
 * runs a wakeup's close callback (after which its memory may be freed) only
 * when no sender is inside. Nothing spins: the loop re-checks on a later
 * turn. A send that starts after the close callback could have run is the
 * caller's use after free, as with any handle. */
int async_wakeup_send(async_wakeup_t *w) {
  async_loop_t *loop;
  int expected, rc = 0;
  /* Any thread may call: the mark and type are read, not the flags, which
   * belong to the loop's thread (a closing handle says CLOSED below). */
  if (w == NULL || w->mark_ != ASYNC__HANDLE_MARK || w->type != ASYNC_WAKEUP)
    return ASYNC_EINVAL;
  /* Already pending: nothing to write. The fence pairs with the loop's
   * sequentially consistent exchange: either this load sees the handle
   * idle again, or the callback about to run sees what the caller wrote. */
  async__atomic_fence();
  expected = async__atomic_load_relaxed(&w->pending_);
  if (expected == PENDING)
    return 0;
  if (expected == CLOSED)
    return ASYNC_EINVAL;
  expected = IDLE;
  loop = w->loop;
  /* Sequentially consistent, paired with the close: either the exchange
   * below sees CLOSED or the loop's close phase sees this sender inside. */
  async__atomic_add_sc(&w->senders_, 1);
  if (async__atomic_cas(&w->pending_, &expected, PENDING))
    async__wake(loop);
  else if (expected == CLOSED)
    rc = ASYNC_EINVAL;
  async__atomic_sub(&w->senders_, 1);
  return rc;
}

void async__wakeup_close(async_wakeup_t *w) {
  async__atomic_store_sc(&w->pending_, CLOSED);
  async__list_remove(&w->link_);
}

int async__wakeup_close_ready(const async_wakeup_t *w) {
  /* The CLOSED store comes before this load on every machine, emulated
   * ones too (src/unix/wakeup.c says why the fence is spelt out). */
  async__atomic_fence();
  return async__atomic_load_sc(&w->senders_) == 0;
}
