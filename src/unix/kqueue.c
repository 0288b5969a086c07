/* The kqueue backend (the BSDs, macOS; on Linux over libkqueue). Interest
 * changes are queued and handed to the kernel with the next wait, so a
 * watcher started and stopped within a turn costs no system call; child
 * exits come as EVFILT_PROC events. */
#include "unix.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

/* Also the most changes handed over per call: libkqueue answers at most 512
 * entries a call and drops the changes past a full answer list. */
#define MAX_EVENTS 512

#if defined(ASYNC_KQUEUE_LIBKQUEUE)
/* Recent libkqueue only: looked up at run time. */
extern void libkqueue_drain_pending_close(void) __attribute__((weak));
#endif

struct kq_state {
  int kq;
  pid_t owner;              /* the process that made kq (a forked child has none) */
  struct kevent *changes;   /* queued for the next kevent call, in order */
  int nchanges, cap;
  struct kevent events[MAX_EVENTS];
};

/* kevent's udata: a pointer on the BSDs, an integer type on some others. */
#define TAG_DATA(tag) ((void *)(uintptr_t)(tag))
#define DATA_TAG(ev) ((uint32_t)(uintptr_t)(ev)->udata)

static int kq_open(void) {
  int kq = kqueue();
  if (kq >= 0)
    fcntl(kq, F_SETFD, FD_CLOEXEC); /* libkqueue's fd is an ordinary one */
  return kq;
}

static void kq_release(int kq) {
  close(kq);
#if defined(ASYNC_KQUEUE_LIBKQUEUE)
  /* libkqueue frees a closed kqueue's fds from a thread of its own: wait,
   * so that none outlives the call that closed it. */
  if (libkqueue_drain_pending_close != NULL)
    libkqueue_drain_pending_close();
#endif
}

/* Whether kevent takes a terminal (old macOS refuses character devices). */
static int takes_char_devices(int kq) {
  struct kevent ev, out;
  struct timespec zero = {0, 0};
  int ok, fd = posix_openpt(O_RDWR | O_NOCTTY);
  if (fd < 0)
    return 1; /* no pty to try: nothing known against it */
  EV_SET(&ev, (uintptr_t)fd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, 0);
  ok = kevent(kq, &ev, 1, &out, 1, &zero) == 1 && (!(out.flags & EV_ERROR) || out.data == 0);
  close(fd);
  return ok;
}

/* What this system's kqueue lacks, found once (a pty is opened to see). */
static unsigned lacking(int kq) {
  static unsigned known; /* bit 0: found; the rest: caps lacking */
  unsigned v = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (v == 0) {
    v = 1u | (takes_char_devices(kq) ? 0u : (unsigned)ASYNC_CAP_CHAR_DEVICE);
#if defined(ASYNC_KQUEUE_LIBKQUEUE)
    /* libkqueue's kqueue fd is a pipe end it watches for its own close: a
     * host polling it would never see an event. */
    v |= ASYNC_CAP_BACKEND_FD;
#endif
    __atomic_store_n(&known, v, __ATOMIC_RELAXED);
  }
  return v & ~1u;
}

static int kq_probe(unsigned *caps) {
  int kq = kq_open();
  if (kq < 0)
    return async_translate_sys_error(errno);
  *caps &= ~lacking(kq);
  kq_release(kq);
  return 0;
}

static int kq_init(async_loop_t *loop) {
  struct kq_state *st = async__malloc(sizeof(*st));
  if (st == NULL)
    return ASYNC_ENOMEM;
  st->kq = kq_open();
  if (st->kq < 0) {
    int err = async_translate_sys_error(errno);
    async__free(st);
    return err;
  }
  st->owner = getpid();
  st->changes = NULL;
  st->nchanges = st->cap = 0;
  loop->caps_ &= ~lacking(st->kq);
  loop->backend_state_ = st;
  return 0;
}

static void kq_close(async_loop_t *loop) {
  struct kq_state *st = loop->backend_state_;
  /* A kqueue does not survive fork (libkqueue closes its own in the child
   * too): there its number may already name another file. */
  if (st->owner == getpid())
    kq_release(st->kq);
  async__free(st->changes);
  async__free(st);
  loop->backend_state_ = NULL;
}

static int reserve(struct kq_state *st, int n) {
  if (st->nchanges + n > st->cap) {
    int cap = st->cap ? st->cap * 2 : 64;
    struct kevent *c = async__realloc(st->changes, (size_t)cap * sizeof(*c));
    if (c == NULL)
      return ASYNC_ENOMEM;
    st->changes = c;
    st->cap = cap;
  }
  return 0;
}

static void queue(struct kq_state *st, uintptr_t ident, short filter, unsigned short flags,
                  unsigned fflags, uint32_t tag) {
  EV_SET(&st->changes[st->nchanges++], ident, filter, flags, fflags, 0, TAG_DATA(tag));
}

/* A removal the kernel refuses because the fd is gone is no error. */
static int change_error(const struct kevent *e) {
  return (e->flags & EV_DELETE) && (e->data == ENOENT || e->data == EBADF) ? 0 : (int)e->data;
}

/* Applies the changes from `from` on at once, answered one by one
 * (EV_RECEIPT, in a list no longer than the changes: no event is taken
 * away), and drops them from the queue. Returns the first error. */
static int apply(struct kq_state *st, int from) {
  static const struct timespec zero = {0, 0};
  int err = 0;
  for (int done = from; done < st->nchanges;) {
    int batch = st->nchanges - done < MAX_EVENTS ? st->nchanges - done : MAX_EVENTS, n;
    for (int i = done; i < done + batch; i++)
      st->changes[i].flags |= EV_RECEIPT;
    n = kevent(st->kq, st->changes + done, batch, st->events, batch, &zero);
    if (n < 0 && err == 0)
      err = errno;
    for (int i = 0; i < n; i++)
      if ((st->events[i].flags & EV_ERROR) && err == 0)
        err = change_error(&st->events[i]);
    done += batch;
  }
  st->nchanges = from;
  return async_translate_sys_error(err);
}

/* Inside async_run, queued for the next wait: the order of the queue is the
 * order of the calls, so a stale removal for an fd closed and reused
 * meanwhile finds nothing (ENOENT, ignored) or precedes the new owner's
 * addition. */
static int kq_modify(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events,
                     uint32_t tag) {
  struct kq_state *st = loop->backend_state_;
  unsigned changed = old_events ^ new_events;
  int from = st->nchanges;
  if (reserve(st, 2) != 0)
    return ASYNC_ENOMEM;
  if (changed & ASYNC_READABLE)
    queue(st, (uintptr_t)fd, EVFILT_READ, new_events & ASYNC_READABLE ? EV_ADD : EV_DELETE, 0, tag);
  if (changed & ASYNC_WRITABLE)
    queue(st, (uintptr_t)fd, EVFILT_WRITE, new_events & ASYNC_WRITABLE ? EV_ADD : EV_DELETE, 0, tag);
  /* Outside async_run (a host's code between its polls of the kqueue fd)
   * no wait will carry the change: it is applied now, its error the caller's. */
  return loop->running_ ? 0 : apply(st, from);
}

#if !defined(ASYNC_KQUEUE_LIBKQUEUE)
/* Child exits: registered at once, so that a child already gone is known
 * now (ESRCH) rather than never. */
static int kq_watch_pid(async_loop_t *loop, int pid) {
  struct kq_state *st = loop->backend_state_;
  struct kevent ev;
  EV_SET(&ev, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, 0);
  return kevent(st->kq, &ev, 1, NULL, 0, NULL) == 0 ? 0 : async_translate_sys_error(errno);
}
#endif

static unsigned events_of(const struct kevent *e) {
  if (e->flags & EV_ERROR) /* a queued change the kernel refused */
    return change_error(e) != 0 ? ASYNC_ERROR : 0u;
  if (e->filter == EVFILT_READ)
    return ASYNC_READABLE | (e->flags & EV_EOF ? ASYNC_HANGUP : 0u) |
           (e->flags & EV_EOF && e->fflags != 0 ? ASYNC_ERROR : 0u);
  /* A writer whose reader went away: epoll says EPOLLERR, and so do we. */
  return ASYNC_WRITABLE | (e->flags & EV_EOF ? ASYNC_ERROR : 0u);
}

/* Reads and writes of one fd often come side by side: one report for both. */
static void dispatch(async_loop_t *loop, struct kq_state *st, int n) {
  for (int i = 0; i < n; i++) {
    const struct kevent *e = &st->events[i];
    unsigned ev;
    if (e->filter == EVFILT_PROC) {
      if (!(e->flags & EV_ERROR))
        async__child_event(loop, (int)e->ident);
      continue;
    }
    if (e->flags & EV_EOF && e->fflags != 0)
      async__io_error(loop, (int)e->ident, (int)e->fflags);
    ev = events_of(e);
    while (i + 1 < n && st->events[i + 1].ident == e->ident &&
           st->events[i + 1].filter != EVFILT_PROC && DATA_TAG(&st->events[i + 1]) == DATA_TAG(e))
      ev |= events_of(&st->events[++i]);
    if (ev != 0)
      async__io_event(loop, (int)e->ident, DATA_TAG(e), ev);
  }
}

/* Hands the queue to the kernel, MAX_EVENTS at a time so that every refused
 * change has room to come back: a full event list would make kevent fail
 * and drop the rest. Returns what was reported, or -1. */
static int submit(async_loop_t *loop, struct kq_state *st, const struct timespec *ts) {
  int done = 0, reported = 0;
  static const struct timespec zero = {0, 0};
  for (;;) {
    int batch = st->nchanges - done, last = batch <= MAX_EVENTS, n;
    if (!last)
      batch = MAX_EVENTS;
    n = kevent(st->kq, st->changes + done, batch, st->events, MAX_EVENTS,
               last && reported == 0 ? ts : &zero);
    done += batch;
    if (last)
      st->nchanges = 0;
    if (n < 0) {
      st->nchanges = 0; /* the kernel took the changes before it failed to wait */
      return reported > 0 ? reported : -1;
    }
    if (last)
      async__io_waited(loop);
    dispatch(loop, st, n);
    reported += n;
    if (last)
      return reported;
  }
}

static int kq_poll(async_loop_t *loop, int64_t timeout_ns) {
  struct kq_state *st = loop->backend_state_;
  struct timespec ts;
  int n;
  ts.tv_sec = (time_t)(timeout_ns / 1000000000);
  ts.tv_nsec = (long)(timeout_ns % 1000000000);
  n = submit(loop, st, timeout_ns < 0 ? NULL : &ts);
  if (n < 0) {
    int err = errno;
    async__io_waited(loop);
    return err == EINTR ? 0 : async_translate_sys_error(err);
  }
  return n;
}

/* async_run is returning: an embedder polling the kqueue fd must find the
 * interest the loop has now. A change refused here concerns an fd closed
 * under its watcher, which epoll would forget as silently. */
static void kq_flush(async_loop_t *loop) {
  apply(loop->backend_state_, 0);
}

static int kq_fd(const async_loop_t *loop) {
  return ((const struct kq_state *)loop->backend_state_)->kq;
}

const struct async__backend async__kqueue_backend = {
  "kqueue",
  ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP |
      ASYNC_CAP_SUBMS_TIMERS | ASYNC_CAP_BACKEND_FD | ASYNC_CAP_FORK | ASYNC_CAP_TCP |
      ASYNC_CAP_UDP | ASYNC_CAP_PIPE | ASYNC_CAP_UNIX_SOCKET | ASYNC_CAP_PROCESS |
      ASYNC_CAP_SIGNAL | ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS | ASYNC_CAP_CHAR_DEVICE |
      ASYNC_CAP_UNIX_ABSTRACT,
  0,
  kq_probe,
  kq_init,
  kq_close,
  kq_modify,
  kq_poll,
  kq_fd,
  kq_flush,
#if defined(ASYNC_KQUEUE_LIBKQUEUE)
  /* libkqueue's EVFILT_PROC is a pidfd it opens per child and closes from a
   * thread of its own some time after the exit: the loop's own pidfd watch
   * is the same mechanism, without fds that outlive the child. */
  NULL,
#else
  kq_watch_pid,
#endif
  NULL, /* backend_handle */
  NULL, /* embed_sync */
};
