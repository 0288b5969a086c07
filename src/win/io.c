/* The loop's table of watched sockets: which watcher owns which socket and
 * what the backend was told. Dense (a removal moves the last entry into
 * the hole), since Windows socket values are sparse handle numbers. */
#include "win.h"

/* Watchers take sockets only. A closed socket and a non-socket handle look
 * alike to Winsock (WSAENOTSOCK): both are refused as not watchable. */
int async__fd_check(int fd) {
  int type, len = (int)sizeof(type);
  if (getsockopt((SOCKET)(uintptr_t)fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0) {
    int err = WSAGetLastError();
    return err == WSAENOTSOCK ? ASYNC_ENOTSUP : async_translate_sys_error(err);
  }
  return 0;
}

static int find(const async_loop_t *loop, SOCKET sock) {
  for (uint32_t i = 0; i < loop->nsocks_; i++)
    if (loop->socks_[i].sock == sock)
      return (int)i;
  return -1;
}

static int grow(async_loop_t *loop) {
  uint32_t cap = loop->socks_cap_ ? loop->socks_cap_ * 2 : 16;
  struct async__sock_entry *t;
  if (loop->nsocks_ < loop->socks_cap_)
    return 0;
  t = async__realloc(loop->socks_, (size_t)cap * sizeof(*t));
  if (t == NULL)
    return ASYNC_ENOMEM;
  loop->socks_ = t;
  loop->socks_cap_ = cap;
  return 0;
}

/* The backend's limit counts sockets watched at once (an fd_set's size on
 * the select backend), not socket values. */
int async__io_attach(async_loop_t *loop, async_watch_t *w, SOCKET sock) {
  long limit = loop->backend_->fd_limit;
  struct async__sock_entry *e;
  int err;
  if (find(loop, sock) >= 0)
    return ASYNC_EEXIST;
  if (limit > 0 && (long)loop->nsocks_ >= limit)
    return ASYNC_ERANGE;
  err = grow(loop);
  if (err != 0)
    return err;
  e = &loop->socks_[loop->nsocks_++];
  e->sock = sock;
  e->watcher = w;
  e->gen = ++loop->io_gen_;
  e->registered = 0;
  e->poll_ = NULL;
  return 0;
}

struct async__sock_entry *async__io_entry(async_loop_t *loop, SOCKET sock) {
  int i = find(loop, sock);
  return i >= 0 ? &loop->socks_[i] : NULL;
}

/* The watcher a handle keeps for its own socket (TCP, UDP): not walked,
 * not counted, active from the start. */
int async__io_attach_internal(async_loop_t *loop, async_watch_t *w, SOCKET sock,
                              async_watch_cb cb) {
  async__handle_init_internal(loop, (async_handle_t *)w, ASYNC_WATCH);
  w->fd = (int)sock;
  w->events_ = 0;
  w->cb_.watch = cb;
  w->flags_ |= ASYNC__ACTIVE;
  return async__io_attach(loop, w, sock);
}

int async__io_set(async_loop_t *loop, SOCKET sock, unsigned events) {
  int i = find(loop, sock);
  struct async__sock_entry *e;
  int err;
  if (i < 0)
    return ASYNC_EBADF;
  e = &loop->socks_[i];
  if (e->registered == events)
    return 0;
  err = loop->backend_->modify(loop, (int)sock, e->registered, events, e->gen);
  if (err == 0)
    e->registered = events;
  return err;
}

void async__io_detach(async_loop_t *loop, SOCKET sock) {
  int i = find(loop, sock);
  if (i < 0)
    return;
  async__io_set(loop, sock, 0);
  loop->socks_[i] = loop->socks_[--loop->nsocks_];
}

/* Reports for a socket whose watcher changed since the poll began are
 * dropped: the gen tells. */
void async__io_event(async_loop_t *loop, SOCKET sock, uint32_t gen, unsigned events) {
  int i = find(loop, sock);
  async_watch_t *w;
  if (i < 0 || loop->socks_[i].gen != gen || gen > loop->io_gen_poll_)
    return;
  w = loop->socks_[i].watcher;
  if (!async__is_active(w))
    return;
  async__watch_report(w, events);
}

void async__io_free(async_loop_t *loop) {
  async__free(loop->socks_);
  loop->socks_ = NULL;
  loop->nsocks_ = loop->socks_cap_ = 0;
}

int async__io_poll(async_loop_t *loop, int64_t timeout_ns) {
  loop->io_gen_poll_ = loop->io_gen_;
  return loop->backend_->poll(loop, timeout_ns);
}
