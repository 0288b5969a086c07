#include "internal.h"

void async_defer_init(async_defer_t *d) {
  if (d != NULL) {
    d->data = NULL;
    d->cb_ = NULL;
    d->link_.next = d->link_.prev = NULL;
  }
}

int async_defer(async_loop_t *loop, async_defer_t *d, async_defer_cb cb) {
  if (!async__loop_ok(loop) || d == NULL || cb == NULL)
    return ASYNC_EINVAL;
  if (async__list_linked(&d->link_))
    return ASYNC_EALREADY;
  d->cb_ = cb;
  async__list_insert_tail(&loop->defers_, &d->link_);
  return 0;
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
    d->cb_(d);
  }
}
