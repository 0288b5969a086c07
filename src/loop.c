/* The loop: creation, the turn, run modes and the clock. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_MS INT64_C(1000000)
/* How long a turn waits while a wakeup's close waits for its senders. */
#define CLOSE_WAIT_NS NS_PER_MS

int async_loop_init(async_loop_t *loop, const async_loop_options_t *options) {
  const struct async__backend *backend;
  const char *name = NULL;
  async_clock_mode clock = ASYNC_CLOCK_REAL;
  void *data;
  int err;

  /* The memory is not read before it is written: it may be uninitialised
   * (valgrind would say so), so a loop that is open cannot be told apart. */
  if (loop == NULL)
    return ASYNC_EINVAL;
  if (options != NULL) {
    clock = options->clock;
    name = options->backend;
  }
  if ((unsigned)clock > ASYNC_CLOCK_AUTOJUMP)
    return ASYNC_EINVAL;
  if (name == NULL || *name == '\0')
    name = getenv("ASYNC_BACKEND");
  if (name != NULL && *name == '\0')
    name = NULL;
  backend = async__backend_find(name, &err);
  if (backend == NULL)
    return err;

  data = loop->data;
  memset(loop, 0, sizeof(*loop));
  loop->data = data;
  loop->backend_ = backend;
  loop->mark_ = ASYNC__LOOP_MARK; /* the platform's set-up below may use loop calls */
  loop->caps_ = backend->caps & async__built_caps;
  loop->clock_ = (uint16_t)clock;
  loop->time_ = clock == ASYNC_CLOCK_REAL ? async__hrtime() : options->clock_start_ns;
  async__list_init(&loop->defers_);
  async__list_init(&loop->idle_);
  async__list_init(&loop->prepare_);
  async__list_init(&loop->check_);
  async__list_init(&loop->work_done_);
  async__mutex_init(&loop->work_mutex_);

  err = backend->init(loop);
  if (err == 0) {
    err = async__platform_init(loop);
    if (err != 0)
      backend->close(loop);
  }
  if (err != 0) {
    async__mutex_destroy(&loop->work_mutex_);
    loop->backend_ = NULL;
    loop->mark_ = 0; /* every call refuses it */
    return err;
  }
  async__loop_opened();
  return 0;
}

int async_loop_close(async_loop_t *loop) {
  if (!async__loop_ok(loop))
    return ASYNC_EINVAL;
  if (loop->running_)
    return ASYNC_EBUSY;
  if (loop->nhandles_ != 0 || loop->active_reqs_ != 0 || !async__list_empty(&loop->defers_))
    return ASYNC_EBUSY;
  async__platform_close(loop);
  if (loop->backend_state_ != NULL) /* NULL after a failed async_loop_fork */
    loop->backend_->close(loop);
  async__slots_free(&loop->timers_);
  async__slots_free(&loop->handles_);
  async__mutex_destroy(&loop->work_mutex_);
  loop->backend_ = NULL;
  loop->mark_ = 0;
  async__loop_closed();
  return 0;
}

static int ready_now(const async_loop_t *loop) {
  return !async__list_empty(&loop->defers_) || !async__list_empty(&loop->idle_) ||
         loop->closing_head_ != NULL;
}

int async_loop_alive(const async_loop_t *loop) {
  if (!async__loop_ok(loop))
    return 0;
  return loop->active_refs_ > 0 || loop->active_reqs_ > 0 ||
         !async__list_empty(&loop->defers_) || loop->closing_head_ != NULL;
}

uint64_t async__clock_now(const async_loop_t *loop) {
  return loop->clock_ == ASYNC_CLOCK_REAL ? async__hrtime() : loop->time_;
}

void async_update_time(async_loop_t *loop) {
  if (async__loop_ok(loop))
    async__time_update(loop);
}

uint64_t async_now_ns(const async_loop_t *loop) { return async__loop_ok(loop) ? loop->time_ : 0; }
uint64_t async_now(const async_loop_t *loop) { return async_now_ns(loop) / (uint64_t)NS_PER_MS; }
uint64_t async_hrtime(void) { return async__hrtime(); }

int async_loop_advance(async_loop_t *loop, uint64_t ns) {
  if (!async__loop_ok(loop) || loop->clock_ == ASYNC_CLOCK_REAL)
    return ASYNC_EINVAL;
  loop->time_ = loop->time_ > UINT64_MAX - ns ? UINT64_MAX : loop->time_ + ns;
  loop->flags_ &= (uint16_t)~ASYNC__LOOP_STALLED;
  return 0;
}

/* Only a wakeup's close, waiting for its senders, is ready: the poll may
 * block a little while rather than spin. */
static int close_wait_only(const async_loop_t *loop) {
  return (loop->flags_ & ASYNC__LOOP_CLOSE_WAIT) && loop->closing_head_ != NULL &&
         async__list_empty(&loop->defers_) && async__list_empty(&loop->idle_);
}

/* The next timer's deadline less the time now. The turn's cached time may
 * be old by the time its callbacks took: a real clock is read again before
 * a wait is computed from it, so the wait ends at the deadline, and so that
 * the wait's own length is measured from its start (the metrics). */
static int64_t next_timer_ns(async_loop_t *loop) {
  int64_t next = async__timer_next_ns(loop);
  if (next != 0 && loop->clock_ == ASYNC_CLOCK_REAL) {
    async__time_update(loop);
    next = async__timer_next_ns(loop);
  }
  return next;
}

/* How long the poll may block: 0 when anything is ready, else until the next
 * timer, -1 (forever) with none. A virtual clock never sleeps for a timer:
 * autojump polls without blocking and then jumps (*jump set); a manual clock
 * waits for I/O only, or marks the loop stalled when only timers are left. */
static int64_t poll_timeout(async_loop_t *loop, int *jump) {
  int64_t next;
  *jump = 0;
  if ((loop->flags_ & ASYNC__LOOP_STOP) || !async_loop_alive(loop))
    return 0;
  if (ready_now(loop) && !close_wait_only(loop))
    return 0;
  next = next_timer_ns(loop);
  if (ready_now(loop))
    return next >= 0 && next < CLOSE_WAIT_NS ? next : CLOSE_WAIT_NS;
  if (next <= 0 || loop->clock_ == ASYNC_CLOCK_REAL)
    return next;
  if (loop->clock_ == ASYNC_CLOCK_AUTOJUMP) {
    /* Pool work ends on its own, in real time: wait for it (its completion
     * wakes the poll) rather than jump past timers it may be racing. */
    if (loop->pool_reqs_ > 0)
      return -1;
    *jump = 1;
    return 0;
  }
  if (loop->active_refs_ == loop->active_timer_refs_ && loop->active_reqs_ == 0) {
    loop->flags_ |= ASYNC__LOOP_STALLED;
    return 0;
  }
  return -1;
}

int64_t async_backend_timeout_ns(async_loop_t *loop) {
  int jump;
  int64_t t;
  if (!async__loop_ok(loop))
    return 0;
  async__embed_told(loop);
  t = poll_timeout(loop, &jump);
  loop->flags_ &= (uint16_t)~ASYNC__LOOP_STALLED;
  return t;
}

int async_backend_timeout(async_loop_t *loop) {
  int64_t ns = async_backend_timeout_ns(loop);
  if (ns < 0)
    return -1;
  ns = ns / NS_PER_MS + (ns % NS_PER_MS != 0); /* round up: never wake early */
  return ns > 0x7fffffff ? 0x7fffffff : (int)ns;
}

/* One turn from the timers on; the caller has read the clock. Returns 0,
 * or the backend's error: a poll that fails for good must end async_run
 * rather than spin. A wait that may block counts from the clock read its
 * timeout was computed with (a virtual clock: its jump) to the read the
 * backend makes as it returns. */
static int turn(async_loop_t *loop, async_run_mode mode) {
  int jump = 0, events;
  int64_t timeout;
  uint64_t wait_from;
  loop->turns_++;
  async__timers_run(loop);
  async__defers_run(loop);
  async__hooks_run(&loop->idle_);
  async__hooks_run(&loop->prepare_);
  timeout = mode == ASYNC_RUN_NOWAIT ? 0 : poll_timeout(loop, &jump);
  wait_from = loop->time_;
  events = async__io_poll(loop, timeout);
  if (events < 0)
    return events;
  loop->events_ += (unsigned)events;
  if (jump && events == 0 && !ready_now(loop) && loop->timer_heap_len_ > 0)
    loop->time_ = loop->timers_.v[0].key;
  /* A poll skipped (wake already pending) leaves the time where it was. */
  if ((timeout != 0 || jump) && loop->time_ > wait_from)
    loop->wait_ns_ += loop->time_ - wait_from;
  async__hooks_run(&loop->check_);
  async__closing_run(loop);
  if (mode == ASYNC_RUN_ONCE) {
    /* The poll may have slept until a timer: run it, so ONCE makes progress. */
    async_update_time(loop);
    async__timers_run(loop);
  }
  return 0;
}

int async_run(async_loop_t *loop, async_run_mode mode) {
  int alive;
  uint64_t from;
  if (!async__loop_ok(loop) || (unsigned)mode > ASYNC_RUN_NOWAIT)
    return ASYNC_EINVAL;
  if (loop->running_)
    return ASYNC_EBUSY;
  loop->running_ = 1;
  async__embed_told(loop);
  async__embed_sync(loop);
  async__time_update(loop);
  from = loop->time_;
  alive = async_loop_alive(loop);
  while (alive && !(loop->flags_ & ASYNC__LOOP_STOP)) {
    int err = turn(loop, mode);
    if (err != 0) {
      alive = err;
      break;
    }
    alive = async_loop_alive(loop);
    if (mode != ASYNC_RUN_DEFAULT || (loop->flags_ & ASYNC__LOOP_STALLED))
      break;
    async__time_update(loop);
  }
  loop->flags_ &= (uint16_t)~(ASYNC__LOOP_STOP | ASYNC__LOOP_STALLED);
  loop->run_ns_ += async__clock_now(loop) - from;
  loop->running_ = 0;
  if (loop->backend_->flush != NULL)
    loop->backend_->flush(loop);
  async__wake_run_end(loop);
  async__embed_sync(loop);
  return alive;
}

void async_stop(async_loop_t *loop) {
  if (async__loop_ok(loop))
    loop->flags_ |= ASYNC__LOOP_STOP;
}

const char *async_loop_backend(const async_loop_t *loop) {
  return async__loop_ok(loop) ? loop->backend_->name : NULL;
}

unsigned async_loop_caps(const async_loop_t *loop) {
  return async__loop_ok(loop) ? loop->caps_ : 0;
}

long async_loop_fd_limit(const async_loop_t *loop) {
  return async__loop_ok(loop) ? loop->backend_->fd_limit : 0;
}

int async_backend_fd(async_loop_t *loop) {
  if (!async__loop_ok(loop))
    return ASYNC_EINVAL;
  /* A backend may have an fd that is no use to a host (libkqueue's). */
  if (loop->backend_->backend_fd == NULL || !(loop->caps_ & ASYNC_CAP_BACKEND_FD))
    return ASYNC_ENOTSUP;
  return loop->backend_->backend_fd(loop);
}

int async_loop_fork(async_loop_t *loop) {
  if (!async__loop_ok(loop))
    return ASYNC_EINVAL;
  return async__platform_fork(loop);
}

size_t async_loop_size(void) { return sizeof(async_loop_t); }
