/* What every Windows loop has besides its backend: Winsock, the socket
 * table, the lists of wakeup and signal handles. The backend's init has set
 * wake_fn_ before this runs. */
#include "win.h"

int async__platform_init(async_loop_t *loop) {
  loop->socks_ = NULL;
  loop->nsocks_ = loop->socks_cap_ = 0;
  loop->io_gen_ = loop->io_gen_poll_ = 0;
  loop->wake_pending_ = 0;
  async__list_init(&loop->wakeups_);
  async__signal_loop_init(loop);
  return async__winsock_init();
}

/* Every handle is closed: the loop left the signal list with its last one. */
void async__platform_close(async_loop_t *loop) { async__io_free(loop); }

/* There is no fork on Windows (ASYNC_CAP_FORK is off). */
int async__platform_fork(async_loop_t *loop) {
  (void)loop;
  return ASYNC_ENOTSUP;
}

/* Windows has no per-process limit on handles worth reporting. */
long async__process_fd_limit(void) { return 0; }
