/* Private declarations shared by the portable core and the platform code. */
#ifndef ASYNC_INTERNAL_H
#define ASYNC_INTERNAL_H

#include "async.h"
#include "queue.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
# define ASYNC__LIKELY(x) __builtin_expect(!!(x), 1)
# define ASYNC__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
# define ASYNC__LIKELY(x) (x)
# define ASYNC__UNLIKELY(x) (x)
#endif

#define ASYNC__NO_TIMEOUT (-1)

/* The platform's monotonic clock in ns. */
uint64_t async__hrtime(void);

/* Handle flags. */
enum {
  ASYNC__ACTIVE = 1u << 0,
  ASYNC__REF = 1u << 1,
  ASYNC__CLOSING = 1u << 2,
  ASYNC__CLOSED = 1u << 3,
  ASYNC__INTERNAL = 1u << 4, /* the loop's own: not walked, not counted */
  ASYNC__WALKED = 1u << 5,
  ASYNC__STARTED = 1u << 6   /* timer: started at least once (for again) */
};

/* The validity marks: an open loop's mark_, and the mark_ byte of a handle
 * from a successful init until its close callback. Zeroed memory, a failed
 * init and a closed loop or handle lack them, so public calls refuse them
 * with ASYNC_EINVAL instead of following their pointers. */
#define ASYNC__LOOP_MARK 0x6c6f6f70u
#define ASYNC__HANDLE_MARK 0xa5u

static inline int async__loop_ok(const async_loop_t *loop) {
  return loop != NULL && loop->mark_ == ASYNC__LOOP_MARK;
}

/* An open handle: marked and not closing. */
static inline int async__handle_open(const async_handle_t *h) {
  return h != NULL && h->mark_ == ASYNC__HANDLE_MARK && !(h->flags_ & (ASYNC__CLOSING | ASYNC__CLOSED));
}

/* A handle of the given type from its init until its close callback
 * (closing allowed): what getters accept. */
static inline int async__handle_is(const void *p, async_handle_type type) {
  const async_handle_t *h = (const async_handle_t *)p;
  return h != NULL && h->mark_ == ASYNC__HANDLE_MARK && h->type == type;
}

/* An open handle of the given type (p: any handle pointer). */
static inline int async__handle_ok(const void *p, async_handle_type type) {
  const async_handle_t *h = (const async_handle_t *)p;
  return async__handle_open(h) && h->type == type;
}

/* An open TCP or pipe handle. */
static inline int async__stream_ok(const async_stream_t *s) {
  return async__handle_open((const async_handle_t *)s) &&
         (s->type == ASYNC_TCP || s->type == ASYNC_PIPE);
}

/* Loop flags. */
enum {
  ASYNC__LOOP_STOP = 1u << 0,
  ASYNC__LOOP_STALLED = 1u << 1,   /* virtual clock: only timers left, none due */
  ASYNC__LOOP_CLOSE_WAIT = 1u << 2 /* a wakeup's close waits for its senders */
};

/* The backend interface: one const instance per backend file. A backend
 * knows fds and events only; the io layer (src/unix/io.c) owns the fd table. */
struct async__backend {
  const char *name;
  unsigned caps;                      /* what it can offer (built caps mask it) */
  long fd_limit;                      /* 0: the process's limit only */
  /* 0 if usable on this machine (may clear bits of *caps), else an error. May be NULL. */
  int (*probe)(unsigned *caps);
  /* Creates the kernel state; may clear bits of loop->caps_. A forked child
   * calls close then init again, and the io layer re-registers every fd. */
  int (*init)(async_loop_t *loop);
  void (*close)(async_loop_t *loop);
  /* Changes fd's interest from old to new (ASYNC_READABLE|ASYNC_WRITABLE);
   * old == 0 adds the fd, new == 0 removes it. tag comes back with its events. */
  int (*modify)(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events, uint32_t tag);
  /* Waits up to timeout_ns (-1: forever) and reports events through
   * async__io_event. Returns the number reported or a negative error. */
  int (*poll)(async_loop_t *loop, int64_t timeout_ns);
  int (*backend_fd)(const async_loop_t *loop); /* NULL: none */
  /* Hands queued interest changes to the kernel as async_run returns, for an
   * embedder that polls backend_fd. NULL: modify applies them at once. */
  void (*flush)(async_loop_t *loop);
  /* Reports pid's exit through async__child_event. NULL: pidfds or SIGCHLD. */
  int (*watch_pid)(async_loop_t *loop, int pid);
  /* The waitable handle for async_backend_handle, made on the first call. NULL: none. */
  int (*backend_handle)(async_loop_t *loop, void **handle);
  /* Once that handle exists: async_run begins (running_ set: stop watching
   * for the host), ends, or something changed outside it (watch again). */
  void (*embed_sync)(async_loop_t *loop);
};

/* backend.c */
const struct async__backend *async__backend_find(const char *name, int *err);
extern const unsigned async__built_caps;

/* alloc.c */
void async__loop_opened(void);
void async__loop_closed(void);
void *async__malloc(size_t size);
void *async__realloc(void *ptr, size_t size);
void *async__calloc(size_t count, size_t size);
void async__free(void *ptr);

/* slots.c: the loop's handle tables; element i's handle has slot_ == i. */
int async__slots_grow(struct async__slots *s);
static inline int async__slots_push(struct async__slots *s, async_handle_t *h, uint64_t key) {
  if (ASYNC__UNLIKELY(s->len == s->cap) && async__slots_grow(s) != 0)
    return ASYNC_ENOMEM;
  s->v[s->len].key = key;
  s->v[s->len].handle = h;
  h->slot_ = s->len++;
  return 0;
}
void async__slots_remove(struct async__slots *s, uint32_t i);
void async__slots_free(struct async__slots *s);

/* handle.c */
/* The first step of every *_init: unmarks h, so that if this init fails
 * (here, for a loop that is not open, or later) every call, async_close
 * included, refuses h. Nothing of h is read: the caller's memory may be
 * uninitialised (and a handle already open cannot be told from it). */
static inline int async__handle_claim(async_loop_t *loop, void *p) {
  async_handle_t *h = (async_handle_t *)p;
  if (h == NULL)
    return ASYNC_EINVAL;
  h->mark_ = 0;
  h->type = ASYNC_UNKNOWN_HANDLE;
  return async__loop_ok(loop) ? 0 : ASYNC_EINVAL;
}
int async__handle_init(async_loop_t *loop, async_handle_t *h, async_handle_type type);
void async__handle_init_internal(async_loop_t *loop, async_handle_t *h, async_handle_type type);
void async__handle_uninit(async_handle_t *h);
void async__handle_count_ref(async_handle_t *h, int delta);

/* Inline: every start and stop of every handle goes through these. */
static inline void async__handle_start(async_handle_t *h) {
  if (h->flags_ & ASYNC__ACTIVE)
    return;
  h->flags_ |= ASYNC__ACTIVE;
  if (h->flags_ & ASYNC__REF)
    async__handle_count_ref(h, 1);
}

static inline void async__handle_stop(async_handle_t *h) {
  if (!(h->flags_ & ASYNC__ACTIVE))
    return;
  h->flags_ &= (uint16_t)~ASYNC__ACTIVE;
  if (h->flags_ & ASYNC__REF)
    async__handle_count_ref(h, -1);
}
void async__closing_run(async_loop_t *loop);
#define async__is_active(h) (((h)->flags_ & ASYNC__ACTIVE) != 0)
#define async__is_closing(h) (((h)->flags_ & (ASYNC__CLOSING | ASYNC__CLOSED)) != 0)

/* metrics.c: slow-callback reports. */
void async__slow_report(async_loop_t *loop, int kind, int htype, int rtype, void *obj, void *data,
                        uint64_t from);

/* Runs call, a callback the user gave for obj (a handle, request or
 * async_defer_t: each starts with data). Timed only while slow reports are
 * on: one predictable branch otherwise. The types and data are read first,
 * since the callback may free obj. */
#define ASYNC__CB(loop, kind, htype, rtype, obj, call)                                    \
  do {                                                                                    \
    async_loop_t *cb_loop_ = (loop);                                                      \
    if (ASYNC__UNLIKELY(cb_loop_->slow_cb_ != NULL)) {                                    \
      void *cb_obj_ = (void *)(obj);                                                      \
      int cb_ht_ = (htype), cb_rt_ = (rtype);                                             \
      void *cb_data_ = *(void **)cb_obj_;                                                 \
      uint64_t cb_from_ = async__hrtime();                                                \
      call;                                                                               \
      async__slow_report(cb_loop_, kind, cb_ht_, cb_rt_, cb_obj_, cb_data_, cb_from_);    \
    } else {                                                                              \
      call;                                                                               \
    }                                                                                     \
  } while (0)
#define ASYNC__HANDLE_CB(h, kind, call) \
  ASYNC__CB((h)->loop, kind, (h)->type, ASYNC_UNKNOWN_REQ, h, call)
#define ASYNC__REQ_CB(r, kind, call) \
  ASYNC__CB((r)->loop, kind, ASYNC_UNKNOWN_HANDLE, (r)->type, r, call)

/* The user callbacks that many places make. */
static inline void async__alloc_call(async_handle_t *h, async_alloc_cb cb, size_t size,
                                     async_buf_t *buf) {
  ASYNC__HANDLE_CB(h, ASYNC_CB_ALLOC, cb(h, size, buf));
}
static inline void async__read_call(async_stream_t *s, long n, const async_buf_t *buf) {
  ASYNC__HANDLE_CB(s, ASYNC_CB_READ, s->cb_.read(s, n, buf));
}
static inline void async__recv_call(async_udp_t *udp, long n, const async_buf_t *buf,
                                    const struct sockaddr *addr, unsigned flags) {
  ASYNC__HANDLE_CB(udp, ASYNC_CB_UDP_RECV, udp->cb_.udp_recv(udp, n, buf, addr, flags));
}

/* A user's watcher is timed (metrics.c); a handle's own watcher is not:
 * the user callbacks it makes are. */
void async__slow_watch(async_watch_t *w, int status, unsigned events);
static inline void async__watch_call(async_watch_t *w, int status, unsigned events) {
  if (ASYNC__UNLIKELY(w->loop->slow_cb_ != NULL) && !(w->flags_ & ASYNC__INTERNAL))
    async__slow_watch(w, status, events);
  else
    w->cb_.watch(w, status, events);
}

/* Events a backend reports besides ASYNC_READABLE/WRITABLE/HANGUP/ERROR. */
#define ASYNC__INVALID 0x100u /* fd or socket not open (POLLNVAL, EBADF, a failed AFD poll) */

void async__watch_stop(async_watch_t *w); /* sock/watch.c; also for handles' own watchers */

/* Hands a backend's report to a watcher: only the events it asked for, a
 * hang-up with readability to readers, an error to every interest; a
 * closed fd stops it with ASYNC_EBADF. Inline: every I/O event passes here. */
static inline void async__watch_report(async_watch_t *w, unsigned events) {
  unsigned want, ev;
  if (events & ASYNC__INVALID) {
    async__watch_stop(w);
    async__watch_call(w, ASYNC_EBADF, 0);
    return;
  }
  want = w->events_;
  ev = events & want;
  if (events & ASYNC_HANGUP)
    ev |= ASYNC_HANGUP | (want & ASYNC_READABLE);
  if (events & ASYNC_ERROR)
    ev |= ASYNC_ERROR | want;
  if (ev != 0)
    async__watch_call(w, 0, ev);
}

/* embed.c: loop->embed_ bits. */
enum {
  ASYNC__EMBED_NOTIFY = 1u << 0,  /* async_embed_notify has a callback */
  ASYNC__EMBED_NOTICED = 1u << 1, /* it ran; the host has not asked since */
  ASYNC__EMBED_HANDLE = 1u << 2   /* async_backend_handle made the backend's handle */
};
void async__embed_changed(async_loop_t *loop);
/* The backend's host handle, once made, follows the loop's state. */
static inline void async__embed_sync(async_loop_t *loop) {
  if (ASYNC__UNLIKELY(loop->embed_ & ASYNC__EMBED_HANDLE))
    loop->backend_->embed_sync(loop);
}
void async__embed_told(async_loop_t *loop);
/* A call outside async_run may have made the loop need the host sooner. */
static inline void async__embed_poke(async_loop_t *loop) {
  if (ASYNC__UNLIKELY(loop->embed_ != 0) && !loop->running_)
    async__embed_changed(loop);
}

/* timer.c and heap.c */
void async__timers_run(async_loop_t *loop);
int64_t async__timer_next_ns(const async_loop_t *loop); /* -1 if none */
void async__timer_close(async_timer_t *timer);
int async__heap_insert(async_loop_t *loop, async_timer_t *t, uint64_t deadline);
void async__heap_remove(async_loop_t *loop, async_timer_t *t);
#define async__heap_min(loop) ((loop)->timers_.v[0])

/* defer.c, hook.c */
void async__defers_run(async_loop_t *loop);
/* Queues one of the library's own deferred calls (none if d is queued). */
void async__defer_own(async_loop_t *loop, async_defer_t *d, async_defer_cb cb);
void async__hooks_run(struct async__link *list);
void async__hook_close(struct async_hook_s *hook);

/* loop.c */
uint64_t async__clock_now(const async_loop_t *loop);

/* Refreshes the cached time of a real clock (a virtual one is left alone). */
static inline void async__time_update(async_loop_t *loop) {
  if (loop->clock_ == ASYNC_CLOCK_REAL)
    loop->time_ = async__hrtime();
}

/* spawn_check.c: async_spawn's checks that mean the same on every platform
 * (NULLs, flags, stdio entries, the capability bit, an empty file), in the
 * order of the error table in docs/api.md; an inherited fd is only checked
 * for being negative. 0 or the error. */
int async__spawn_check(async_loop_t *loop, async_process_t *p, const async_process_options_t *o,
                       int max_stdio);

/* threadpool.c; dns.c finishes its own requests on the loop thread. */
int async__work_submit(async_loop_t *loop, async_req_t *req, async_req_type type,
                       async_work_cb work);
void async__work_done_run(async_loop_t *loop);
void async__dns_done(async_req_t *req);

/* Platform layer (src/unix or src/win). */
void async__wake(async_loop_t *loop); /* async-signal-safe */
/* async_run is returning: wakes from now on must reach the backend fd. */
void async__wake_run_end(async_loop_t *loop);
int async__thread_create(async__thread_t *t, void *(*fn)(void *), void *arg);
void async__thread_join(async__thread_t t);
void async__mutex_init(async__mutex_t *m);
void async__mutex_destroy(async__mutex_t *m);
void async__mutex_lock(async__mutex_t *m);
void async__mutex_unlock(async__mutex_t *m);
void async__cond_wait(async__cond_t *c, async__mutex_t *m);
void async__cond_signal(async__cond_t *c);
void async__cond_broadcast(async__cond_t *c);
void async__atfork_child(void (*fn)(void));
int async__platform_init(async_loop_t *loop);
void async__platform_close(async_loop_t *loop);
int async__platform_fork(async_loop_t *loop);
int async__io_poll(async_loop_t *loop, int64_t timeout_ns);
long async__process_fd_limit(void);
int async__fd_check(int fd); /* 0 if fd may be watched, else why not */
void async__watch_close(async_watch_t *w);
void async__wakeup_close(async_wakeup_t *w);
/* signal.c (shared) and the platform's signal.c: a handle's start with
 * its checks, its stop (a stopped one is left alone), and the dispatch. */
int async__signal_start(async_signal_t *h, async_signal_cb cb, int signum, int oneshot);
void async__signal_stop(async_signal_t *h);
void async__signals_run(async_loop_t *loop, uint64_t pending);
void async__process_close(async_process_t *p);
void async__udp_close(async_udp_t *udp);
void async__udp_finish_close(async_udp_t *udp);
void async__stream_close(async_stream_t *s);
void async__stream_finish_close(async_stream_t *s);
/* Listeners that ran out of fds watch again (a handle of the loop closed). */
void async__streams_unstarve(async_loop_t *loop);
int async__wakeup_close_ready(const async_wakeup_t *w);
/* wakeup.c: runs the callbacks of the pending wakeup handles. */
void async__wakeups_run(async_loop_t *loop);

#endif /* ASYNC_INTERNAL_H */
