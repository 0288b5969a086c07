/* The fd table: which watcher owns which fd, what the backend was told, and
 * the dispatch of reported events to watchers. */
#include "unix.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int grow(async_loop_t *loop, int fd) {
  int n = loop->nfds_ ? loop->nfds_ : 64;
  struct async__fd_entry *t;
  while (n <= fd)
    n *= 2;
  if (n == loop->nfds_)
    return 0;
  t = async__realloc(loop->fds_, (size_t)n * sizeof(*t));
  if (t == NULL)
    return ASYNC_ENOMEM;
  for (int i = loop->nfds_; i < n; i++) {
    t[i].watcher = NULL;
    t[i].gen = 0;
    t[i].registered = 0;
    t[i].error = 0;
  }
  loop->fds_ = t;
  loop->nfds_ = n;
  return 0;
}

/* Regular files and directories are always "ready" to poll and select, and
 * epoll refuses them: no backend can watch them honestly. */
int async__fd_check(int fd) {
  struct stat st;
  if (fd < 0)
    return ASYNC_EINVAL;
  if (fcntl(fd, F_GETFD) == -1 || fstat(fd, &st) != 0)
    return ASYNC_EBADF;
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
    return ASYNC_EPERM;
  return 0;
}

/* A backend that cannot watch terminals says so before it is asked to. */
static int char_device(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode);
}

int async__io_attach(async_loop_t *loop, async_watch_t *w, int fd) {
  long limit = loop->backend_->fd_limit;
  int err;
  if (limit > 0 && fd >= limit)
    return ASYNC_ERANGE;
  if (fd < loop->nfds_ && loop->fds_[fd].watcher != NULL)
    return ASYNC_EEXIST;
  if (!(loop->caps_ & ASYNC_CAP_CHAR_DEVICE) && char_device(fd))
    return ASYNC_ENOTSUP;
  err = grow(loop, fd);
  if (err != 0)
    return err;
  loop->fds_[fd].watcher = w;
  loop->fds_[fd].gen = ++loop->io_gen_;
  loop->fds_[fd].error = 0;
  return 0;
}

/* libkqueue reads a socket's error to report it, which clears it: the
 * error is kept here for the read or connect that would otherwise see none. */
void async__io_error(async_loop_t *loop, int fd, int err) {
  if (fd >= 0 && fd < loop->nfds_ && loop->fds_[fd].watcher != NULL)
    loop->fds_[fd].error = err;
}

int async__io_take_error(async_loop_t *loop, int fd) {
  int err = 0;
  if (fd >= 0 && fd < loop->nfds_) {
    err = loop->fds_[fd].error;
    loop->fds_[fd].error = 0;
  }
  return err;
}

/* The fd watcher a handle keeps for its own fd (streams, UDP, the wake
 * channel): not walked, not counted, active from the start. */
int async__io_attach_internal(async_loop_t *loop, async_watch_t *w, int fd, async_watch_cb cb) {
  async__handle_init_internal(loop, (async_handle_t *)w, ASYNC_WATCH);
  w->fd = fd;
  w->events_ = 0;
  w->cb_.watch = cb;
  w->flags_ |= ASYNC__ACTIVE;
  return async__io_attach(loop, w, fd);
}

/* Applies the change at once, so an error reaches the caller. */
int async__io_set(async_loop_t *loop, int fd, unsigned events) {
  struct async__fd_entry *e = &loop->fds_[fd];
  int err;
  if (e->registered == events)
    return 0;
  err = loop->backend_->modify(loop, fd, e->registered, events, e->gen);
  if (err != 0)
    return err;
  loop->nregistered_ += (e->registered == 0) - (events == 0);
  e->registered = events;
  return 0;
}

void async__io_detach(async_loop_t *loop, int fd) {
  async__io_set(loop, fd, 0);
  loop->fds_[fd].watcher = NULL;
}

/* Drops reports that belong to an earlier owner of the fd: a watcher
 * attached after this poll began, or a kernel registration that outlived
 * its watcher (the tag tells). */
void async__io_event(async_loop_t *loop, int fd, uint32_t tag, unsigned events) {
  struct async__fd_entry *e;
  async_watch_t *w;
  if (fd < 0 || fd >= loop->nfds_)
    return;
  e = &loop->fds_[fd];
  w = e->watcher;
  if (w == NULL || e->gen > loop->io_gen_poll_ || (tag != ASYNC__TAG_ANY && tag != e->gen) ||
      !async__is_active(w))
    return;
  async__watch_report(w, events);
}

/* After close and init of the backend in a forked child. */
int async__io_reregister(async_loop_t *loop) {
  loop->nregistered_ = 0;
  for (int fd = 0; fd < loop->nfds_; fd++) {
    struct async__fd_entry *e = &loop->fds_[fd];
    unsigned events = e->registered;
    int err;
    if (events == 0)
      continue;
    e->registered = 0;
    err = async__io_set(loop, fd, events);
    if (err != 0)
      return err;
  }
  return 0;
}

void async__io_free(async_loop_t *loop) {
  async__free(loop->fds_);
  loop->fds_ = NULL;
  loop->nfds_ = 0;
}

/* Skips the backend's system call when a turn must not block and no fd but
 * the loop's own wake channel is watched: its flag says all there is to know
 * (then the clock is read only if that flag has callbacks to run).
 * Wakes that arrive while the loop is awake write nothing (see
 * async__wake): the flag is checked before a blocking poll, which then does
 * not block, and after every poll. */
int async__io_poll(async_loop_t *loop, int64_t timeout_ns) {
  int n = 0, waited = 0;
  loop->io_gen_poll_ = loop->io_gen_;
  if (timeout_ns != 0 && async__wake_sleep(loop))
    timeout_ns = 0;
  if (timeout_ns != 0 || loop->nregistered_ > 1) {
    n = loop->backend_->poll(loop, timeout_ns);
    waited = 1;
  }
  __atomic_store_n(&loop->awake_, 1, __ATOMIC_RELAXED);
  if (n >= 0 && __atomic_load_n(&loop->wake_pending_, __ATOMIC_ACQUIRE)) {
    if (!waited)
      async__time_update(loop);
    async__wake_process(loop);
    n++;
  }
  return n;
}
