/* Idle, prepare and check hooks: one list per kind on the loop. */
#include "internal.h"

static struct async__link *list_of(struct async_hook_s *hook) {
  async_loop_t *loop = hook->loop;
  switch (hook->type) {
  case ASYNC_IDLE: return &loop->idle_;
  case ASYNC_PREPARE: return &loop->prepare_;
  default: return &loop->check_;
  }
}

static int hook_init(async_loop_t *loop, struct async_hook_s *hook, async_handle_type type) {
  if (loop == NULL || hook == NULL)
    return ASYNC_EINVAL;
  hook->link_.next = hook->link_.prev = NULL;
  return async__handle_init(loop, (async_handle_t *)hook, type);
}

static int hook_start(struct async_hook_s *hook, async_hook_cb cb, async_handle_type type) {
  if (hook == NULL || cb == NULL || hook->type != type || async__is_closing(hook))
    return ASYNC_EINVAL;
  if (async__is_active(hook))
    return ASYNC_EALREADY;
  hook->cb_.hook = cb;
  async__list_insert_tail(list_of(hook), &hook->link_);
  async__handle_start((async_handle_t *)hook);
  return 0;
}

static int hook_stop(struct async_hook_s *hook, async_handle_type type) {
  if (hook == NULL || hook->type != type || async__is_closing(hook))
    return ASYNC_EINVAL;
  if (async__is_active(hook)) {
    async__list_remove(&hook->link_);
    async__handle_stop((async_handle_t *)hook);
  }
  return 0;
}

void async__hook_close(struct async_hook_s *hook) {
  hook_stop(hook, (async_handle_type)hook->type);
}

/* Each hook moves back to the live list before its callback, so callbacks
 * may stop any hook; hooks started meanwhile wait for the next turn. */
void async__hooks_run(struct async__link *list) {
  struct async__link batch;
  async__list_move(list, &batch);
  while (!async__list_empty(&batch)) {
    struct async__link *n = batch.next;
    struct async_hook_s *hook = async__container_of(n, struct async_hook_s, link_);
    async__list_remove(n);
    async__list_insert_tail(list, n);
    hook->cb_.hook(hook);
  }
}

#define ASYNC__HOOK_API(kind, TYPE)                                            \
  int async_##kind##_init(async_loop_t *loop, async_##kind##_t *h) {           \
    return hook_init(loop, h, TYPE);                                            \
  }                                                                             \
  int async_##kind##_start(async_##kind##_t *h, async_hook_cb cb) {            \
    return hook_start(h, cb, TYPE);                                             \
  }                                                                             \
  int async_##kind##_stop(async_##kind##_t *h) { return hook_stop(h, TYPE); }

ASYNC__HOOK_API(idle, ASYNC_IDLE)
ASYNC__HOOK_API(prepare, ASYNC_PREPARE)
ASYNC__HOOK_API(check, ASYNC_CHECK)
