#include "internal.h"

#define NS_PER_MS UINT64_C(1000000)

static uint64_t ms_to_ns(uint64_t ms) {
  return ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX : ms * NS_PER_MS;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int async_timer_init(async_loop_t *loop, async_timer_t *timer) {
  int err = async__handle_claim(loop, timer);
  if (err != 0)
    return err;
  timer->repeat_ns = 0;
  return async__handle_init(loop, (async_handle_t *)timer, ASYNC_TIMER);
}

static void unschedule(async_timer_t *timer) {
  if (async__is_active(timer)) {
    async__heap_remove(timer->loop, timer);
    async__handle_stop((async_handle_t *)timer);
  }
}

int async_timer_start_ns(async_timer_t *timer, async_timer_cb cb, uint64_t timeout_ns,
                         uint64_t repeat_ns) {
  if (!async__handle_ok(timer, ASYNC_TIMER) || cb == NULL)
    return ASYNC_EINVAL;
  unschedule(timer);
  /* A fresh clock read, not the turn's cached time: the deadline is measured
   * from the moment of the call, so the timer can never fire early. */
  async__heap_insert(timer->loop, timer, add_sat(async__clock_now(timer->loop), timeout_ns));
  timer->cb_.timer = cb;
  timer->repeat_ns = repeat_ns;
  timer->flags_ |= ASYNC__STARTED;
  async__handle_start((async_handle_t *)timer);
  /* Due before any other: a host may be sleeping past it. (Read from the
   * table: the heap wrote the slot through an async_handle_t pointer.) */
  if (ASYNC__UNLIKELY(timer->loop->embed_ != 0) &&
      timer->loop->timers_.v[0].handle == (async_handle_t *)timer)
    async__embed_poke(timer->loop);
  return 0;
}

int async_timer_start(async_timer_t *timer, async_timer_cb cb, uint64_t timeout_ms,
                      uint64_t repeat_ms) {
  return async_timer_start_ns(timer, cb, ms_to_ns(timeout_ms), ms_to_ns(repeat_ms));
}

int async_timer_stop(async_timer_t *timer) {
  if (!async__handle_ok(timer, ASYNC_TIMER))
    return ASYNC_EINVAL;
  unschedule(timer);
  return 0;
}

int async_timer_again(async_timer_t *timer) {
  if (!async__handle_ok(timer, ASYNC_TIMER) || !(timer->flags_ & ASYNC__STARTED))
    return ASYNC_EINVAL;
  if (timer->repeat_ns == 0)
    return async_timer_stop(timer);
  return async_timer_start_ns(timer, timer->cb_.timer, timer->repeat_ns, timer->repeat_ns);
}

void async_timer_set_repeat_ns(async_timer_t *timer, uint64_t repeat_ns) {
  if (async__handle_ok(timer, ASYNC_TIMER))
    timer->repeat_ns = repeat_ns;
}

void async_timer_set_repeat(async_timer_t *timer, uint64_t repeat_ms) {
  async_timer_set_repeat_ns(timer, ms_to_ns(repeat_ms));
}

uint64_t async_timer_get_repeat_ns(const async_timer_t *timer) {
  return async__handle_is(timer, ASYNC_TIMER) ? timer->repeat_ns : 0;
}

uint64_t async_timer_get_repeat(const async_timer_t *timer) {
  return async_timer_get_repeat_ns(timer) / NS_PER_MS;
}

uint64_t async_timer_get_due_in_ns(const async_timer_t *timer) {
  uint64_t deadline, now;
  if (!async__handle_ok(timer, ASYNC_TIMER) || !async__is_active(timer))
    return 0;
  deadline = timer->loop->timers_.v[timer->slot_].key;
  now = timer->loop->time_;
  return deadline > now ? deadline - now : 0;
}

/* Rounded up: a caller that sleeps this long finds the timer due. */
uint64_t async_timer_get_due_in(const async_timer_t *timer) {
  uint64_t ns = async_timer_get_due_in_ns(timer);
  return ns / NS_PER_MS + (ns % NS_PER_MS != 0);
}

void async__timer_close(async_timer_t *timer) {
  unschedule(timer);
}

int64_t async__timer_next_ns(const async_loop_t *loop) {
  uint64_t deadline;
  if (loop->timer_heap_len_ == 0)
    return -1;
  deadline = loop->timers_.v[0].key;
  if (deadline <= loop->time_)
    return 0;
  deadline -= loop->time_;
  return deadline > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)deadline;
}

/* Runs the timers due at the turn's time. Timers (re)started by these
 * callbacks carry a later start sequence and wait for the next turn, so a
 * timer restarting itself with timeout 0 cannot hold the loop here. */
void async__timers_run(async_loop_t *loop) {
  uint64_t now = loop->time_, seq_end = loop->timer_seq_;
  while (loop->timer_heap_len_ > 0) {
    struct async__slot top = loop->timers_.v[0];
    async_timer_t *timer = (async_timer_t *)top.handle;
    if (top.key > now || timer->u_.seq >= seq_end)
      break;
    async__heap_remove(loop, timer);
    if (timer->repeat_ns != 0) {
      /* Keep the period without drift, but never queue a burst of catch-ups. */
      uint64_t next = add_sat(top.key, timer->repeat_ns);
      async__heap_insert(loop, timer, next > now ? next : add_sat(now, timer->repeat_ns));
    } else {
      async__handle_stop((async_handle_t *)timer);
    }
    ASYNC__HANDLE_CB(timer, ASYNC_CB_TIMER, timer->cb_.timer(timer));
  }
}
