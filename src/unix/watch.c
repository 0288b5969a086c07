/* Reader/writer fd watchers: the public face of the fd table. */
#include "unix.h"

int async_watch_init(async_loop_t *loop, async_watch_t *w, int fd) {
  int err;
  if (loop == NULL || w == NULL || fd < 0)
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_FD_WATCH))
    return ASYNC_ENOTSUP;
  err = async__fd_check(fd);
  if (err != 0)
    return err;
  err = async__io_attach(loop, w, fd);
  if (err != 0)
    return err;
  err = async__handle_init(loop, (async_handle_t *)w, ASYNC_WATCH);
  if (err != 0) {
    async__io_detach(loop, fd);
    return err;
  }
  w->fd = fd;
  w->events_ = 0;
  return 0;
}

int async_watch_start(async_watch_t *w, unsigned events, async_watch_cb cb) {
  int err;
  if (w == NULL || cb == NULL || events == 0 ||
      (events & ~(unsigned)(ASYNC_READABLE | ASYNC_WRITABLE)) != 0 || async__is_closing(w))
    return ASYNC_EINVAL;
  err = async__io_set(w->loop, w->fd, events);
  if (err != 0)
    return err;
  w->events_ = events;
  w->cb_.watch = cb;
  async__handle_start((async_handle_t *)w);
  return 0;
}

int async_watch_stop(async_watch_t *w) {
  if (w == NULL || async__is_closing(w))
    return ASYNC_EINVAL;
  if (async__is_active(w)) {
    async__io_set(w->loop, w->fd, 0);
    w->events_ = 0;
    async__handle_stop((async_handle_t *)w);
  }
  return 0;
}

void async__watch_close(async_watch_t *w) {
  async_watch_stop(w);
  async__io_detach(w->loop, w->fd);
}
