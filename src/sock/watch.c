/* Reader/writer watchers, the public face of the world's watch table (the
 * fd table on Unix, the socket table on Windows), and async_fileno. What
 * may be watched is the world's to say (async__fd_check). */
#include "sock.h"

int async_watch_init(async_loop_t *loop, async_watch_t *w, int fd) {
  int err = async__handle_claim(loop, w);
  if (err != 0)
    return err;
  if (fd < 0)
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_FD_WATCH))
    return ASYNC_ENOTSUP;
  err = async__fd_check(fd);
  if (err != 0)
    return err;
  err = async__io_attach(loop, w, async__sock(fd));
  if (err != 0)
    return err;
  err = async__handle_init(loop, (async_handle_t *)w, ASYNC_WATCH);
  if (err != 0) {
    async__io_detach(loop, async__sock(fd));
    return err;
  }
  w->fd = fd;
  w->events_ = 0;
  return 0;
}

int async_watch_start(async_watch_t *w, unsigned events, async_watch_cb cb) {
  int err;
  if (!async__handle_ok(w, ASYNC_WATCH) || (w->flags_ & ASYNC__INTERNAL) || cb == NULL ||
      events == 0 || (events & ~(unsigned)(ASYNC_READABLE | ASYNC_WRITABLE)) != 0)
    return ASYNC_EINVAL;
  err = async__io_set(w->loop, async__sock(w->fd), events);
  if (err != 0)
    return err;
  w->events_ = events;
  w->cb_.watch = cb;
  async__handle_start((async_handle_t *)w);
  return 0;
}

/* Also for the watchers handles keep for their own fds. */
void async__watch_stop(async_watch_t *w) {
  if (async__is_active(w)) {
    async__io_set(w->loop, async__sock(w->fd), 0);
    w->events_ = 0;
    async__handle_stop((async_handle_t *)w);
  }
}

int async_watch_stop(async_watch_t *w) {
  if (!async__handle_ok(w, ASYNC_WATCH) || (w->flags_ & ASYNC__INTERNAL))
    return ASYNC_EINVAL;
  async__watch_stop(w);
  return 0;
}

void async__watch_close(async_watch_t *w) {
  async__watch_stop(w);
  async__io_detach(w->loop, async__sock(w->fd));
}

/* The fd or SOCKET under a TCP, UDP, pipe or watch handle, as an int
 * (Windows handle values fit). */
int async_fileno(const async_handle_t *h, int *fd) {
  int f;
  if (!async__handle_open(h) || fd == NULL)
    return ASYNC_EINVAL;
  switch (h->type) {
  case ASYNC_TCP:
  case ASYNC_PIPE: f = ((const async_stream_t *)h)->fd_; break;
  case ASYNC_UDP: f = ((const async_udp_t *)h)->fd_; break;
  case ASYNC_WATCH: f = ((const async_watch_t *)h)->fd; break;
  default: return ASYNC_EINVAL;
  }
  if (f < 0)
    return ASYNC_EBADF;
  *fd = f;
  return 0;
}
