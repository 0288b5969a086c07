/* The loop's wake channel (an eventfd, or a pipe where there is none) and
 * the cross-thread wakeup handles built on it. */
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

/* Async-signal-safe: two atomic operations and at most one write. A loop
 * that is awake looks at the flag before it next sleeps, so it needs no
 * byte (saving the write here and the read there). The exchange and the
 * load are sequentially consistent, paired with async__wake_sleep: either
 * this load sees the loop asleep, or the loop's load sees the flag. */
void async__wake(async_loop_t *loop) {
  int expected = NONE;
  if (!__atomic_compare_exchange_n(&loop->wake_pending_, &expected, NO_BYTE, 0, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST))
    return;
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
  struct async__link batch;
  if (__atomic_exchange_n(&loop->wake_pending_, NONE, __ATOMIC_SEQ_CST) == BYTE)
    drain(loop); /* without it the backend fd would stay ready for an embedder */
  async__work_done_run(loop);
  async__signal_dispatch(loop);
  async__list_move(&loop->wakeups_, &batch);
  while (!async__list_empty(&batch)) {
    struct async__link *n = batch.next;
    async_wakeup_t *w = async__container_of(n, async_wakeup_t, link_);
    async__list_remove(n);
    async__list_insert_tail(&loop->wakeups_, n);
    if (__atomic_compare_exchange_n(&w->pending_, &(int){PENDING}, IDLE, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
      w->cb_.wakeup(w);
  }
}

int async_wakeup_init(async_loop_t *loop, async_wakeup_t *w, async_wakeup_cb cb) {
  int err;
  if (loop == NULL || w == NULL || cb == NULL)
    return ASYNC_EINVAL;
  err = async__handle_init(loop, (async_handle_t *)w, ASYNC_WAKEUP);
  if (err != 0)
    return err;
  w->cb_.wakeup = cb;
  w->pending_ = IDLE;
  w->senders_ = 0;
  async__list_insert_tail(&loop->wakeups_, &w->link_);
  async__handle_start((async_handle_t *)w);
  return 0;
}

/* The sender counts itself on the handle while it uses the loop: the loop
 * runs a wakeup's close callback (after which its memory may be freed) only
 * when no sender is inside. Nothing spins: the loop re-checks on a later
 * turn. A send that starts after the close callback could have run is the
 * caller's use after free, as with any handle. */
int async_wakeup_send(async_wakeup_t *w) {
  async_loop_t *loop;
  int expected, rc = 0;
  if (w == NULL)
    return ASYNC_EINVAL;
  /* Already pending: nothing to write. The fence pairs with the loop's
   * sequentially consistent exchange: either this load sees the handle
   * idle again, or the callback about to run sees what the caller wrote. */
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  expected = __atomic_load_n(&w->pending_, __ATOMIC_RELAXED);
  if (expected == PENDING)
    return 0;
  if (expected == CLOSED)
    return ASYNC_EINVAL;
  expected = IDLE;
  loop = w->loop;
  /* Sequentially consistent, paired with the close: either the exchange
   * below sees CLOSED or the loop's close phase sees this sender inside. */
  __atomic_add_fetch(&w->senders_, 1, __ATOMIC_SEQ_CST);
  if (__atomic_compare_exchange_n(&w->pending_, &expected, PENDING, 0, __ATOMIC_SEQ_CST,
                                  __ATOMIC_SEQ_CST))
    async__wake(loop);
  else if (expected == CLOSED)
    rc = ASYNC_EINVAL;
  async__atomic_sub(&w->senders_, 1);
  return rc;
}

void async__wakeup_close(async_wakeup_t *w) {
  __atomic_store_n(&w->pending_, CLOSED, __ATOMIC_SEQ_CST);
  async__list_remove(&w->link_);
}

int async__wakeup_close_ready(const async_wakeup_t *w) {
  return __atomic_load_n(&w->senders_, __ATOMIC_SEQ_CST) == 0;
}
