/* What every Unix loop has besides its backend: the fd table and the wake channel. */
#include "unix.h"

#include <sys/resource.h>

int async_translate_sys_error(int sys_errno) {
  return sys_errno <= 0 ? sys_errno : -sys_errno;
}

int async__platform_init(async_loop_t *loop) {
  int err;
  loop->fds_ = NULL;
  loop->nfds_ = 0;
  loop->nregistered_ = 0;
  loop->io_gen_ = loop->io_gen_poll_ = 0;
  loop->wake_pending_ = 0;
  loop->awake_ = 0;
  async__list_init(&loop->wakeups_);
  async__signal_loop_init(loop);
  async__process_loop_init(loop);
  err = async__wake_init(loop);
  if (err != 0)
    async__io_free(loop);
  return err;
}

void async__platform_close(async_loop_t *loop) {
  async__process_loop_close(loop); /* before its SIGCHLD handle's slot goes */
  async__signal_loop_close(loop);
  async__wake_close(loop, 1);
  async__io_free(loop);
}

/* The child shares the parent's kernel objects: it gets its own backend
 * state and wake channel, and every fd is registered again. */
int async__platform_fork(async_loop_t *loop) {
  int err;
  loop->backend_->close(loop);
  async__wake_close(loop, 0);
  err = loop->backend_->init(loop);
  if (err != 0)
    return err; /* backend_state_ is NULL: async_loop_close copes */
  err = async__io_reregister(loop);
  if (err == 0)
    err = async__wake_init(loop);
  if (err != 0)
    return err;
  /* Threads that were inside async_wakeup_send do not exist in the child,
   * and a wake byte in flight went to the parent's channel: look again. */
  for (struct async__link *n = loop->wakeups_.next; n != &loop->wakeups_; n = n->next)
    async__container_of(n, async_wakeup_t, link_)->senders_ = 0;
  async__mutex_init(&loop->work_mutex_); /* a pool thread may have held it */
  loop->wake_pending_ = 0;
  async__wake(loop);
  return 0;
}
