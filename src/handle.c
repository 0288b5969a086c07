#include "internal.h"

static struct async__slots *table_of(async_handle_t *h) {
  return h->type == ASYNC_TIMER ? &h->loop->timers_ : &h->loop->handles_;
}

static void unmark(async_handle_t *h) {
  h->mark_ = 0;
  h->type = ASYNC_UNKNOWN_HANDLE;
}

/* The loop's own handles: never walked, never counted, never keep it alive. */
void async__handle_init_internal(async_loop_t *loop, async_handle_t *h, async_handle_type type) {
  h->loop = loop;
  h->type = (uint8_t)type;
  h->mark_ = ASYNC__HANDLE_MARK;
  h->flags_ = ASYNC__INTERNAL;
  h->cb_.close = NULL;
  h->u_.seq = 0;
}

int async__handle_init(async_loop_t *loop, async_handle_t *h, async_handle_type type) {
  async__handle_init_internal(loop, h, type);
  h->flags_ = ASYNC__REF;
  if (async__slots_push(table_of(h), h, 0) != 0) {
    unmark(h);
    return ASYNC_ENOMEM;
  }
  loop->nhandles_++;
  loop->walk_gen_++;
  return 0;
}

void async__handle_count_ref(async_handle_t *h, int delta) {
  h->loop->active_refs_ += (uint32_t)delta;
  if (h->type == ASYNC_TIMER)
    h->loop->active_timer_refs_ += (uint32_t)delta;
}

/* A closing handle is stopped for good: its reference no longer matters. */
void async_ref(async_handle_t *h) {
  if (!async__handle_open(h) || (h->flags_ & (ASYNC__REF | ASYNC__INTERNAL)))
    return;
  h->flags_ |= ASYNC__REF;
  if (h->flags_ & ASYNC__ACTIVE)
    async__handle_count_ref(h, 1);
}

void async_unref(async_handle_t *h) {
  if (!async__handle_open(h) || !(h->flags_ & ASYNC__REF))
    return;
  h->flags_ &= (uint16_t)~ASYNC__REF;
  if (h->flags_ & ASYNC__ACTIVE)
    async__handle_count_ref(h, -1);
}

int async_has_ref(const async_handle_t *h) {
  return async__handle_open(h) && (h->flags_ & ASYNC__REF) != 0;
}

int async_is_active(const async_handle_t *h) {
  return async__handle_open(h) && async__is_active(h);
}

int async_is_closing(const async_handle_t *h) {
  return h != NULL && async__is_closing(h);
}

async_handle_type async_handle_get_type(const async_handle_t *h) {
  return h != NULL ? (async_handle_type)h->type : ASYNC_UNKNOWN_HANDLE;
}

const char *async_handle_type_name(async_handle_type type) {
  static const char *const names[ASYNC_HANDLE_TYPE_MAX] = {
    NULL, "timer", "idle", "prepare", "check", "watch", "wakeup", "signal", "udp", "pipe", "tcp", "process"};
  return (unsigned)type < ASYNC_HANDLE_TYPE_MAX ? names[type] : NULL;
}

size_t async_handle_size(async_handle_type type) {
  switch (type) {
  case ASYNC_TIMER: return sizeof(async_timer_t);
  case ASYNC_IDLE:
  case ASYNC_PREPARE:
  case ASYNC_CHECK: return sizeof(struct async_hook_s);
  case ASYNC_WATCH: return sizeof(async_watch_t);
  case ASYNC_WAKEUP: return sizeof(async_wakeup_t);
  case ASYNC_SIGNAL: return sizeof(async_signal_t);
  case ASYNC_UDP: return sizeof(async_udp_t);
  case ASYNC_PIPE: return sizeof(async_pipe_t);
  case ASYNC_TCP: return sizeof(async_tcp_t);
  case ASYNC_PROCESS: return sizeof(async_process_t);
  default: return 0;
  }
}

/* Undoes async__handle_init for an init that fails after it. */
void async__handle_uninit(async_handle_t *h) {
  async__slots_remove(table_of(h), h->slot_);
  h->loop->nhandles_--;
  h->loop->walk_gen_++;
  unmark(h);
}

static void closing_push(async_loop_t *loop, async_handle_t *h) {
  h->u_.next_closing = NULL;
  if (loop->closing_tail_ != NULL)
    loop->closing_tail_->u_.next_closing = h;
  else
    loop->closing_head_ = h;
  loop->closing_tail_ = h;
  async__embed_poke(loop);
}

int async_close(async_handle_t *h, async_close_cb close_cb) {
  async_loop_t *loop;
  if (!async__handle_open(h) || (h->flags_ & ASYNC__INTERNAL))
    return ASYNC_EINVAL;
  switch (h->type) {
  case ASYNC_TIMER: async__timer_close((async_timer_t *)h); break;
  case ASYNC_IDLE:
  case ASYNC_PREPARE:
  case ASYNC_CHECK: async__hook_close((struct async_hook_s *)h); break;
  case ASYNC_WATCH: async__watch_close((async_watch_t *)h); break;
  case ASYNC_WAKEUP: async__wakeup_close((async_wakeup_t *)h); break;
  case ASYNC_SIGNAL: async__signal_stop((async_signal_t *)h); break;
  case ASYNC_UDP: async__udp_close((async_udp_t *)h); break;
  case ASYNC_PIPE:
  case ASYNC_TCP: async__stream_close((async_stream_t *)h); break;
  case ASYNC_PROCESS: async__process_close((async_process_t *)h); break;
  default: return ASYNC_EINVAL;
  }
  loop = h->loop;
  async__handle_stop(h);
  async__slots_remove(table_of(h), h->slot_);
  h->flags_ |= ASYNC__CLOSING;
  h->cb_.close = close_cb;
  closing_push(loop, h);
  loop->flags_ &= (uint16_t)~ASYNC__LOOP_CLOSE_WAIT; /* this one is ready now */
  loop->walk_gen_++;
  if (ASYNC__UNLIKELY(loop->starved_ != 0))
    async__streams_unstarve(loop);
  return 0;
}

/* Handles closed by these callbacks wait for the next turn. A wakeup whose
 * sender is still inside async_wakeup_send waits too, so that the memory the
 * callback may free is not written afterwards. */
void async__closing_run(async_loop_t *loop) {
  async_handle_t *h = loop->closing_head_;
  loop->closing_head_ = loop->closing_tail_ = NULL;
  loop->flags_ &= (uint16_t)~ASYNC__LOOP_CLOSE_WAIT;
  while (h != NULL) {
    async_handle_t *next = h->u_.next_closing;
    if (h->type == ASYNC_WAKEUP && !async__wakeup_close_ready((async_wakeup_t *)h)) {
      closing_push(loop, h);
      loop->flags_ |= ASYNC__LOOP_CLOSE_WAIT;
    } else {
      h->flags_ |= ASYNC__CLOSED;
      /* The callback may free h: nothing is written after it. A wakeup
       * keeps its mark: other threads read it in async_wakeup_send, and its
       * CLOSED state refuses them already. */
      if (h->type != ASYNC_WAKEUP)
        h->mark_ = 0;
      loop->nhandles_--;
      loop->walk_gen_++;
      /* Callbacks of requests come before the handle's close callback. */
      if (h->type == ASYNC_UDP)
        async__udp_finish_close((async_udp_t *)h);
      else if (h->type == ASYNC_PIPE || h->type == ASYNC_TCP)
        async__stream_finish_close((async_stream_t *)h);
      if (h->cb_.close != NULL)
        ASYNC__HANDLE_CB(h, ASYNC_CB_CLOSE, h->cb_.close(h));
    }
    h = next;
  }
}

static int walk_table(async_loop_t *loop, struct async__slots *t, async_walk_cb cb, void *arg) {
  int changed = 0;
  uint32_t i = 0;
  while (i < t->len) {
    async_handle_t *h = t->v[i].handle;
    uint32_t gen = loop->walk_gen_;
    if (h->flags_ & ASYNC__WALKED) {
      i++;
      continue;
    }
    h->flags_ |= ASYNC__WALKED;
    cb(h, arg);
    if (gen != loop->walk_gen_)
      changed = 1; /* look at slot i again: another handle may have moved there */
    else
      i++;
  }
  return changed;
}

static void unmark_walked(struct async__slots *t) {
  for (uint32_t i = 0; i < t->len; i++)
    t->v[i].handle->flags_ &= (uint16_t)~ASYNC__WALKED;
}

/* Handles move between and within the tables when callbacks start, stop or
 * close them: a mark per handle keeps each visit single, and a pass repeats
 * while callbacks keep changing the tables. */
void async_walk(async_loop_t *loop, async_walk_cb cb, void *arg) {
  int changed;
  if (!async__loop_ok(loop) || cb == NULL)
    return;
  do {
    changed = walk_table(loop, &loop->timers_, cb, arg);
    changed |= walk_table(loop, &loop->handles_, cb, arg);
    for (async_handle_t *h = loop->closing_head_; h != NULL; h = h->u_.next_closing) {
      if (!(h->flags_ & ASYNC__WALKED)) {
        h->flags_ |= ASYNC__WALKED;
        cb(h, arg);
      }
    }
  } while (changed);
  unmark_walked(&loop->timers_);
  unmark_walked(&loop->handles_);
  for (async_handle_t *h = loop->closing_head_; h != NULL; h = h->u_.next_closing)
    h->flags_ &= (uint16_t)~ASYNC__WALKED;
}
