/* The poll backend: a pollfd array with an fd → index map. */
#include "unix.h"

#include <poll.h>
#include <time.h>

struct poll_state {
  struct pollfd *fds;
  int *index;     /* fd → position in fds, -1 if absent */
  int n, cap, index_cap;
  int dispatching; /* removals leave holes (fd -1) until the next poll */
  int holes;
};

static int poll_init(async_loop_t *loop) {
  struct poll_state *st = async__calloc(1, sizeof(*st));
  if (st == NULL)
    return ASYNC_ENOMEM;
  loop->backend_state_ = st;
  return 0;
}

static void poll_close(async_loop_t *loop) {
  struct poll_state *st = loop->backend_state_;
  async__free(st->fds);
  async__free(st->index);
  async__free(st);
  loop->backend_state_ = NULL;
}

static int reserve(struct poll_state *st, int fd) {
  if (fd >= st->index_cap) {
    int cap = st->index_cap ? st->index_cap : 64;
    int *index;
    while (cap <= fd)
      cap *= 2;
    index = async__realloc(st->index, (size_t)cap * sizeof(*index));
    if (index == NULL)
      return ASYNC_ENOMEM;
    for (int i = st->index_cap; i < cap; i++)
      index[i] = -1;
    st->index = index;
    st->index_cap = cap;
  }
  if (st->n == st->cap) {
    int cap = st->cap ? st->cap * 2 : 64;
    struct pollfd *fds = async__realloc(st->fds, (size_t)cap * sizeof(*fds));
    if (fds == NULL)
      return ASYNC_ENOMEM;
    st->fds = fds;
    st->cap = cap;
  }
  return 0;
}

static void remove_at(struct poll_state *st, int i) {
  st->index[st->fds[i].fd] = -1;
  if (st->dispatching || st->holes) {
    st->fds[i].fd = -1;
    st->holes++;
    return;
  }
  st->fds[i] = st->fds[--st->n];
  if (i != st->n)
    st->index[st->fds[i].fd] = i;
}

static void compact(struct poll_state *st) {
  int j = 0;
  for (int i = 0; i < st->n; i++) {
    if (st->fds[i].fd < 0)
      continue;
    st->fds[j] = st->fds[i];
    st->index[st->fds[j].fd] = j;
    j++;
  }
  st->n = j;
  st->holes = 0;
}

static int poll_modify(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events,
                       uint32_t tag) {
  struct poll_state *st = loop->backend_state_;
  short events = (short)(((new_events & ASYNC_READABLE) ? POLLIN : 0) |
                         ((new_events & ASYNC_WRITABLE) ? POLLOUT : 0));
  (void)tag;
  if (old_events == 0) {
    int err = reserve(st, fd);
    if (err != 0)
      return err;
    st->fds[st->n].fd = fd;
    st->fds[st->n].events = events;
    st->fds[st->n].revents = 0;
    st->index[fd] = st->n++;
  } else if (new_events == 0) {
    remove_at(st, st->index[fd]);
  } else {
    st->fds[st->index[fd]].events = events;
  }
  return 0;
}

/* ppoll only when the wait has a sub-millisecond part: poll is cheaper. */
static int wait_ns(struct poll_state *st, int64_t timeout_ns) {
#if defined(ASYNC_HAVE_PPOLL)
  if (timeout_ns > 0 && timeout_ns % 1000000 != 0) {
    struct timespec ts;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    return ppoll(st->fds, (nfds_t)st->n, &ts, NULL);
  }
#endif
  return poll(st->fds, (nfds_t)st->n, async__timeout_ms(timeout_ns));
}

static int poll_poll(async_loop_t *loop, int64_t timeout_ns) {
  struct poll_state *st = loop->backend_state_;
  int n, end, found = 0;
  if (st->holes)
    compact(st);
  n = wait_ns(st, timeout_ns);
  async__io_waited(loop);
  if (n <= 0)
    return n == 0 || errno == EINTR ? 0 : async_translate_sys_error(errno);
  st->dispatching = 1;
  end = st->n; /* fds added by callbacks were not polled */
  for (int i = 0; i < end && found < n; i++) {
    short r = st->fds[i].revents;
    if (r == 0)
      continue;
    found++;
    if (st->fds[i].fd < 0)
      continue;
    async__io_event(loop, st->fds[i].fd, ASYNC__TAG_ANY,
                    ((r & POLLIN) ? ASYNC_READABLE : 0u) | ((r & POLLOUT) ? ASYNC_WRITABLE : 0u) |
                        ((r & POLLHUP) ? ASYNC_HANGUP : 0u) | ((r & POLLERR) ? ASYNC_ERROR : 0u) |
                        ((r & POLLNVAL) ? ASYNC__INVALID : 0u));
  }
  st->dispatching = 0;
  return n;
}

const struct async__backend async__poll_backend = {
  "poll",
  ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP |
#if defined(ASYNC_HAVE_PPOLL)
      ASYNC_CAP_SUBMS_TIMERS |
#endif
      ASYNC_CAP_FORK | ASYNC_CAP_TCP | ASYNC_CAP_UDP | ASYNC_CAP_PIPE | ASYNC_CAP_UNIX_SOCKET |
      ASYNC_CAP_PROCESS | ASYNC_CAP_SIGNAL | ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS |
      ASYNC_CAP_CHAR_DEVICE | ASYNC_CAP_UNIX_ABSTRACT,
  0,
  NULL,
  poll_init,
  poll_close,
  poll_modify,
  poll_poll,
  NULL,
  NULL, /* flush: changes are applied as they are made */
  NULL, /* watch_pid */
  NULL, /* backend_handle */
  NULL, /* embed_sync */
};
