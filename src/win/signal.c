/* Signal handles on Windows: the console's control events, delivered as
 * SIGINT (Ctrl+C), SIGBREAK (Ctrl+Break) and SIGHUP (the console window
 * closed). The system calls the control handler on a thread of its own:
 * it marks the signal pending on every loop that watches it and wakes the
 * loop, which calls its handles on its own thread. Other signal numbers
 * have no source on Windows and are refused with ASYNC_ENOTSUP. */
#include "win.h"

#include <signal.h>
#include <string.h>

static SRWLOCK lock = SRWLOCK_INIT;
static struct async__link loops = {&loops, &loops}; /* loops with started handles */
static int users[ASYNC__WIN_SIGNALS];               /* started handles per signal */

/* The slot of a console signal, or -1. */
static int slot_of(int signum) {
  switch (signum) {
  case SIGINT: return 0;
  case SIGBREAK: return 1;
  case SIGHUP: return 2;
  default: return -1;
  }
}

static int signal_of(DWORD event) {
  switch (event) {
  case CTRL_C_EVENT: return SIGINT;
  case CTRL_BREAK_EVENT: return SIGBREAK;
  case CTRL_CLOSE_EVENT: return SIGHUP;
  default: return 0;
  }
}

static BOOL WINAPI on_control(DWORD event) {
  int signum = signal_of(event), handled = 0;
  struct async__link *n;
  if (signum == 0)
    return FALSE;
  AcquireSRWLockShared(&lock);
  for (n = loops.next; n != &loops; n = n->next) {
    async_loop_t *loop = async__container_of(n, async_loop_t, signal_link_);
    if (loop->signal_users_[slot_of(signum)] != 0) {
      InterlockedOr(&loop->signals_pending_, 1L << slot_of(signum));
      async__wake(loop);
      handled = 1;
    }
  }
  ReleaseSRWLockShared(&lock);
  /* Returning from a close event ends the process at once: the loops get
   * the time the system allows (some seconds) to act on SIGHUP. */
  if (handled && signum == SIGHUP)
    Sleep(INFINITE);
  return handled ? TRUE : FALSE;
}

void async__signal_loop_init(async_loop_t *loop) {
  async__list_init(&loop->signals_);
  loop->signal_link_.next = loop->signal_link_.prev = NULL;
  loop->signals_pending_ = 0;
  memset(loop->signal_users_, 0, sizeof(loop->signal_users_));
}

static int loop_watches(const async_loop_t *loop) {
  for (int i = 0; i < ASYNC__WIN_SIGNALS; i++)
    if (loop->signal_users_[i] != 0)
      return 1;
  return 0;
}

int async__signal_start(async_signal_t *h, async_signal_cb cb, int signum, int oneshot) {
  int slot, err = 0;
  if (!async__handle_ok(h, ASYNC_SIGNAL) || cb == NULL || signum < 1 || signum > 64 ||
      signum == 9 /* SIGKILL */)
    return ASYNC_EINVAL;
  if (async__is_active(h))
    return ASYNC_EALREADY;
  slot = slot_of(signum);
  if (slot < 0)
    return ASYNC_ENOTSUP;
  AcquireSRWLockExclusive(&lock);
  if (users[0] + users[1] + users[2] == 0 && !SetConsoleCtrlHandler(on_control, TRUE))
    err = async_translate_sys_error((int)GetLastError());
  if (err == 0) {
    if (!loop_watches(h->loop))
      async__list_insert_tail(&loops, &h->loop->signal_link_);
    users[slot]++;
    h->loop->signal_users_[slot]++;
    h->signum = signum;
    h->oneshot_ = oneshot;
    h->cb_.signal = cb;
    async__list_insert_tail(&h->loop->signals_, &h->link_);
  }
  ReleaseSRWLockExclusive(&lock);
  if (err == 0)
    async__handle_start((async_handle_t *)h);
  return err;
}

void async__signal_stop(async_signal_t *h) {
  int slot;
  if (!async__is_active(h))
    return;
  slot = slot_of(h->signum);
  AcquireSRWLockExclusive(&lock);
  async__list_remove(&h->link_);
  h->loop->signal_users_[slot]--;
  if (!loop_watches(h->loop))
    async__list_remove(&h->loop->signal_link_);
  if (--users[slot] == 0 && users[0] + users[1] + users[2] == 0)
    SetConsoleCtrlHandler(on_control, FALSE);
  ReleaseSRWLockExclusive(&lock);
  h->signum = 0;
  async__handle_stop((async_handle_t *)h);
}

/* On the loop thread, after a wake: call the handles of what arrived. */
void async__signal_dispatch(async_loop_t *loop) {
  static const int by_slot[ASYNC__WIN_SIGNALS] = {SIGINT, SIGBREAK, SIGHUP};
  uint64_t pending = 0;
  LONG slots;
  if (loop->signals_pending_ == 0)
    return;
  slots = InterlockedExchange(&loop->signals_pending_, 0);
  for (int i = 0; i < ASYNC__WIN_SIGNALS; i++)
    if (slots & (1L << i))
      pending |= UINT64_C(1) << (by_slot[i] - 1);
  async__signals_run(loop, pending);
}
