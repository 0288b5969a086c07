/* Telling an embedding host that the loop needs it sooner than it was told,
 * and the waitable handle of backends that have one (Windows). */
#include "internal.h"

int async_embed_notify(async_loop_t *loop, async_embed_cb cb) {
  if (!async__loop_ok(loop))
    return ASYNC_EINVAL;
  loop->embed_cb_ = cb;
  if (cb != NULL)
    loop->embed_ |= ASYNC__EMBED_NOTIFY;
  else
    loop->embed_ &= ~(unsigned)(ASYNC__EMBED_NOTIFY | ASYNC__EMBED_NOTICED);
  return 0;
}

/* The host asked (async_backend_timeout) or ran the loop: it knows. */
void async__embed_told(async_loop_t *loop) {
  loop->embed_ &= ~(unsigned)ASYNC__EMBED_NOTICED;
}

void async__embed_changed(async_loop_t *loop) {
  async__embed_sync(loop);
  if ((loop->embed_ & (ASYNC__EMBED_NOTIFY | ASYNC__EMBED_NOTICED)) == ASYNC__EMBED_NOTIFY) {
    loop->embed_ |= ASYNC__EMBED_NOTICED;
    loop->embed_cb_(loop);
  }
}

int async_backend_handle(async_loop_t *loop, void **handle) {
  int err;
  if (!async__loop_ok(loop) || handle == NULL)
    return ASYNC_EINVAL;
  if (loop->backend_->backend_handle == NULL || !(loop->caps_ & ASYNC_CAP_BACKEND_HANDLE))
    return ASYNC_ENOTSUP;
  err = loop->backend_->backend_handle(loop, handle);
  if (err == 0 && !(loop->embed_ & ASYNC__EMBED_HANDLE)) {
    loop->embed_ |= ASYNC__EMBED_HANDLE;
    if (!loop->running_) /* inside async_run, its end syncs */
      async__embed_sync(loop);
  }
  return err;
}
