/* Signal handles: what both platforms share, the calls around a handle and
 * the dispatch of what arrived. Where signals come from (sigaction on Unix,
 * the console's control events on Windows) is each platform's signal.c:
 * async__signal_start and async__signal_stop. */
#include "internal.h"

int async_signal_init(async_loop_t *loop, async_signal_t *h) {
  int err = async__handle_claim(loop, h);
  if (err != 0)
    return err;
  if (!(loop->caps_ & ASYNC_CAP_SIGNAL))
    return ASYNC_ENOTSUP;
  h->signum = 0;
  h->oneshot_ = 0;
  h->link_.next = h->link_.prev = NULL;
  return async__handle_init(loop, (async_handle_t *)h, ASYNC_SIGNAL);
}

int async_signal_start(async_signal_t *h, async_signal_cb cb, int signum) {
  return async__signal_start(h, cb, signum, 0);
}

int async_signal_start_oneshot(async_signal_t *h, async_signal_cb cb, int signum) {
  return async__signal_start(h, cb, signum, 1);
}

int async_signal_stop(async_signal_t *h) {
  if (!async__handle_ok(h, ASYNC_SIGNAL))
    return ASYNC_EINVAL;
  async__signal_stop(h);
  return 0;
}

/* Each started handle whose signal is in pending (bit n: signal n + 1) is
 * called once; a oneshot stops first. Handles started by these callbacks
 * wait for the next delivery: the list is walked as a batch. */
void async__signals_run(async_loop_t *loop, uint64_t pending) {
  struct async__link batch;
  async__list_move(&loop->signals_, &batch);
  while (!async__list_empty(&batch)) {
    struct async__link *n = batch.next;
    async_signal_t *h = async__container_of(n, async_signal_t, link_);
    int signum = h->signum;
    async__list_remove(n);
    async__list_insert_tail(&loop->signals_, n);
    if (!(pending & (UINT64_C(1) << (signum - 1))))
      continue;
    if (h->oneshot_)
      async__signal_stop(h);
    ASYNC__HANDLE_CB(h, ASYNC_CB_SIGNAL, h->cb_.signal(h, signum));
  }
}
