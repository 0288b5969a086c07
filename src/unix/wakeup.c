/* The loop's wake channel (an eventfd, or a pipe where there is none); the
 * wakeup handles built on it are src/wakeup.c. */
#include "unix.h"
#include "../atomic.h"

#include <fcntl.h>
#include <unistd.h>
#if defined(ASYNC_HAVE_EVENTFD)
# include <sys/eventfd.h>
#endif

/* async_wakeup_t.pending_ */
enum { IDLE = 0, PENDING = 1, CLOSED = 2 };

/* loop->wake_pending_ */
enum { NONE = 0, NO_BYTE = 1, BYTE = 2 /* the channel was (or is being) written */ };

static void drain(async_loop_t *loop) {
  char buf[64];
  while (read(loop->wake_rfd_, buf, sizeof(buf)) > 0 && loop->wake_rfd_ != loop->wake_wfd_)
    ;
}

static void wake_cb(async_watch_t *w, int status, unsigned events) {
  (void)status;
  (void)events;
  drain(w->loop);
  async__wake_process(w->loop);
}

static int open_channel(async_loop_t *loop) {
#if defined(ASYNC_HAVE_EVENTFD)
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    return async_translate_sys_error(errno);
  loop->wake_rfd_ = loop->wake_wfd_ = fd;
#else
  int fds[2], err = async_pipe(fds, ASYNC_PIPE_NONBLOCK);
  if (err != 0)
    return err;
  loop->wake_rfd_ = fds[0];
  loop->wake_wfd_ = fds[1];
#endif
  return 0;
}

static void close_channel(async_loop_t *loop) {
  if (loop->wake_wfd_ != loop->wake_rfd_)
    close(loop->wake_wfd_);
  close(loop->wake_rfd_);
  loop->wake_rfd_ = loop->wake_wfd_ = -1;
}

int async__wake_init(async_loop_t *loop) {
  async_watch_t *w = &loop->wake_watch_;
  int err = open_channel(loop);
  if (err != 0)
    return err;
  err = async__io_attach_internal(loop, w, loop->wake_rfd_, wake_cb);
  w->events_ = ASYNC_READABLE;
  if (err == 0)
    err = async__io_set(loop, w->fd, ASYNC_READABLE);
  if (err != 0) {
    if (w->fd < loop->nfds_)
      loop->fds_[w->fd].watcher = NULL;
    close_channel(loop);
  }
  return err;
}

/* A forked child must not tell the backend: its kernel state is the parent's. */
void async__wake_close(async_loop_t *loop, int tell_backend) {
  if (loop->wake_rfd_ < 0) /* a failed async_loop_fork closed it already */
    return;
  if (tell_backend) {
    async__io_detach(loop, loop->wake_rfd_);
  } else {
    loop->fds_[loop->wake_rfd_].watcher = NULL;
    loop->fds_[loop->wake_rfd_].registered = 0;
    loop->nregistered_--;
  }
  close_channel(loop);
}

static void write_channel(async_loop_t *loop) {
  static const uint64_t one = 1;
  ssize_t r;
  do
    r = write(loop->wake_wfd_, &one, loop->wake_wfd_ == loop->wake_rfd_ ? sizeof(one) : 1);
  while (r < 0 && errno == EINTR);
}

/* Async-signal-safe: two atomic operations, a fence and at most one write.
 * A loop that is awake looks at the flag before it next sleeps, so it needs
 * no byte (saving the write here and the read there). The exchange and the
 * load are sequentially consistent, paired with async__wake_sleep: either
 * this load sees the loop asleep, or the loop's load sees the flag. The
 * fence between them is what C11 already promises, spelt out for machines
 * that order a store-release before a later load-acquire only at a full
 * barrier: qemu-user's aarch64 emulation on an x86 host lets the load pass
 * the store, and a wakeup was lost there without it. */
void async__wake(async_loop_t *loop) {
  int expected = NONE;
  if (!__atomic_compare_exchange_n(&loop->wake_pending_, &expected, NO_BYTE, 0, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST))
    return;
  async__atomic_fence();
  if (!__atomic_load_n(&loop->awake_, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(&loop->wake_pending_, BYTE, __ATOMIC_SEQ_CST);
    write_channel(loop);
  }
}

/* The loop is about to block in a poll (or to return from async_run, after
 * which an embedder may poll the backend fd): from now on wakes write the
 * channel. Returns 1 if a wake came while it was awake (then it must not
 * block: nothing was written). */
int async__wake_sleep(async_loop_t *loop) {
  __atomic_store_n(&loop->awake_, 0, __ATOMIC_SEQ_CST);
  async__atomic_fence(); /* store before load: see async__wake */
  return __atomic_load_n(&loop->wake_pending_, __ATOMIC_SEQ_CST) != 0;
}

/* async_run is returning: a wake that found the loop awake wrote nothing,
 * so write for it now, or an embedder's poll of the backend fd would miss it. */
void async__wake_run_end(async_loop_t *loop) {
  int expected = NO_BYTE;
  if (async__wake_sleep(loop) &&
      __atomic_compare_exchange_n(&loop->wake_pending_, &expected, BYTE, 0, __ATOMIC_SEQ_CST,
                                  __ATOMIC_SEQ_CST))
    write_channel(loop);
}

/* The flag is cleared before the handles are looked at: a send that lands
 * after a handle was looked at sets it again and is seen next turn. */
void async__wake_process(async_loop_t *loop) {
  if (__atomic_exchange_n(&loop->wake_pending_, NONE, __ATOMIC_SEQ_CST) == BYTE)
    drain(loop); /* without it the backend fd would stay ready for an embedder */
  async__work_done_run(loop);
  async__signal_dispatch(loop);
  async__wakeups_run(loop);
}
