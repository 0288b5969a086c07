#include "internal.h"

/* The data of the library's own deferred calls, which find their owner
 * with async__container_of: their callbacks are not the user's (the user
 * callbacks they make are timed on their own). */
static char own;

void async_defer_init(async_defer_t *d) {
  if (d != NULL) {
    d->data = NULL;
    d->cb_ = NULL;
    d->link_.next = d->link_.prev = NULL;
  }
}

static void queue(async_loop_t *loop, async_defer_t *d, async_defer_cb cb) {
  d->cb_ = cb;
  async__list_insert_tail(&loop->defers_, &d->link_);
  async__embed_poke(loop);
}

int async_defer(async_loop_t *loop, async_defer_t *d, async_defer_cb cb) {
  if (!async__loop_ok(loop) || d == NULL || cb == NULL)
    return ASYNC_EINVAL;
  if (async__list_linked(&d->link_))
    return ASYNC_EALREADY;
  queue(loop, d, cb);
  return 0;
}

void async__defer_own(async_loop_t *loop, async_defer_t *d, async_defer_cb cb) {
  if (async__list_linked(&d->link_))
    return;
  d->data = &own;
  queue(loop, d, cb);
}

int async_defer_cancel(async_defer_t *d) {
  if (d == NULL)
    return ASYNC_EINVAL;
  if (!async__list_linked(&d->link_))
    return ASYNC_ENOENT;
  async__list_remove(&d->link_);
  return 0;
}

int async_defer_pending(const async_defer_t *d) {
  return d != NULL && async__list_linked(&d->link_);
}

/* Only the calls queued before this step run now: the batch moves to a
 * local list, and calls queued by these callbacks land on the loop's list. */
void async__defers_run(async_loop_t *loop) {
  struct async__link batch;
  async__list_move(&loop->defers_, &batch);
  while (!async__list_empty(&batch)) {
    async_defer_t *d = async__container_of(batch.next, async_defer_t, link_);
    async__list_remove(&d->link_);
    if (ASYNC__UNLIKELY(loop->slow_cb_ != NULL) && d->data != &own)
      ASYNC__CB(loop, ASYNC_CB_DEFER, ASYNC_UNKNOWN_HANDLE, ASYNC_UNKNOWN_REQ, d, d->cb_(d));
    else
      d->cb_(d);
  }
}
