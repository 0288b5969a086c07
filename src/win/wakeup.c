/* Cross-thread wakes on Windows: one flag per loop so that a burst of
 * sends costs the backend one wake (a completion packet on IOCP, a datagram
 * on select); the wakeup handles built on it are src/wakeup.c. */
#include "win.h"

void async__wake(async_loop_t *loop) {
  if (InterlockedExchange(&loop->wake_pending_, 1) != 0)
    return;
  loop->wake_fn_(loop);
}

/* The flag is cleared before the handles are looked at: a send that lands
 * after a handle was looked at wakes the next poll again. */
void async__wake_process(async_loop_t *loop) {
  InterlockedExchange(&loop->wake_pending_, 0);
  async__work_done_run(loop);
  async__signal_dispatch(loop);
  async__wakeups_run(loop);
}

/* Every wake posts to the backend here (a packet or a datagram), so nothing
 * is owed to an embedder when async_run returns. */
void async__wake_run_end(async_loop_t *loop) { (void)loop; }
