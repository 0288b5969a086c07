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
  int err = async__handle_claim(loop, hook);
  if (err != 0)
    return err;
  hook->link_.next = hook->link_.prev = NULL;
  return async__handle_init(loop, (async_handle_t *)hook, type);
}

static int hook_start(struct async_hook_s *hook, async_hook_cb cb, async_handle_type type) {
  if (!async__handle_ok(hook, type) || cb == NULL)
    return ASYNC_EINVAL;
  if (async__is_active(hook))
    return ASYNC_EALREADY;
  hook->cb_.hook = cb;
  async__list_insert_tail(list_of(hook), &hook->link_);
  async__handle_start((async_handle_t *)hook);
  if (type == ASYNC_IDLE) /* the loop must not block while it runs */
    async__embed_poke(hook->loop);
  return 0;
}

static int hook_stop(struct async_hook_s *hook, async_handle_type type) {
  if (!async__handle_ok(hook, type))
    return ASYNC_EINVAL;
  if (async__is_active(hook)) {
    async__list_remove(&hook->link_);
    async__handle_stop((async_handle_t *)hook);
  }
  return 0;
}

void async__hook_close(struct async_hook_s *hook) {
  if (async__is_active(hook)) {
    async__list_remove(&hook->link_);
    async__handle_stop((async_handle_t *)hook);
  }
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
    /* The kinds are in the order of the handle types. */
    ASYNC__HANDLE_CB(hook, ASYNC_CB_IDLE + (hook->type - ASYNC_IDLE), hook->cb_.hook(hook));
  }
}

int async_idle_init(async_loop_t *loop, async_idle_t *h) { return hook_init(loop, h, ASYNC_IDLE); }
int async_idle_start(async_idle_t *h, async_hook_cb cb) { return hook_start(h, cb, ASYNC_IDLE); }
int async_idle_stop(async_idle_t *h) { return hook_stop(h, ASYNC_IDLE); }

int async_prepare_init(async_loop_t *loop, async_prepare_t *h) {
  return hook_init(loop, h, ASYNC_PREPARE);
}
int async_prepare_start(async_prepare_t *h, async_hook_cb cb) {
  return hook_start(h, cb, ASYNC_PREPARE);
}
int async_prepare_stop(async_prepare_t *h) { return hook_stop(h, ASYNC_PREPARE); }

int async_check_init(async_loop_t *loop, async_check_t *h) { return hook_init(loop, h, ASYNC_CHECK); }
int async_check_start(async_check_t *h, async_hook_cb cb) { return hook_start(h, cb, ASYNC_CHECK); }
int async_check_stop(async_check_t *h) { return hook_stop(h, ASYNC_CHECK); }
