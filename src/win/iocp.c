/* The IOCP backend: one completion port per loop, drained in batches with
 * GetQueuedCompletionStatusEx. Cross-thread wakes are completion packets
 * posted with a key of their own; socket watchers are AFD polls completing
 * on the same port (afd.c), and so is the overlapped I/O of named pipes and
 * TCP sockets (pipe.c, tcp_iocp.c) and each child's exit (process.c). The
 * port waits in milliseconds: the wait is rounded up, and a wait that ends
 * early is resumed for the rest, so a timer never fires before its
 * deadline. */
#include "win.h"

#define WAKE_KEY ((ULONG_PTR)1)
#define AFD_KEY ((ULONG_PTR)2)

struct iocp_state {
  HANDLE port;
  unsigned held; /* pipe and socket operations in the kernel, exit packets due (awaited) */
  struct async__afd *afd; /* NULL where AFD cannot be opened: no watchers */
  struct async__iocp_embed *embed; /* NULL until a host asks for the handle */
  OVERLAPPED_ENTRY entries[ASYNC__IOCP_BATCH];
};

static void post_wake(async_loop_t *loop) {
  struct iocp_state *st = loop->backend_state_;
  PostQueuedCompletionStatus(st->port, 0, WAKE_KEY, NULL);
}

static int iocp_init(async_loop_t *loop) {
  struct iocp_state *st = async__calloc(1, sizeof(*st));
  if (st == NULL)
    return ASYNC_ENOMEM;
  st->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (st->port == NULL) {
    int err = async_translate_sys_error((int)GetLastError());
    async__free(st);
    return err;
  }
  if (async__afd_open(&st->afd, st->port, AFD_KEY) != 0) {
    st->afd = NULL;
    /* UDP runs on socket readiness too; TCP is completion-based (tcp_iocp.c). */
    loop->caps_ &= ~(unsigned)(ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP | ASYNC_CAP_UDP);
  }
  loop->backend_state_ = st;
  loop->wake_fn_ = post_wake;
  return 0;
}

HANDLE async__iocp_port(const async_loop_t *loop) {
  return ((const struct iocp_state *)loop->backend_state_)->port;
}

void async__iocp_hold(async_loop_t *loop, int delta) {
  struct iocp_state *st = loop->backend_state_;
  st->held = (unsigned)((int)st->held + delta);
}

static void dispatch(async_loop_t *loop, struct iocp_state *st, OVERLAPPED_ENTRY *e, int *woken) {
  if (e->lpCompletionKey == WAKE_KEY)
    *woken = 1;
  else if (e->lpCompletionKey == AFD_KEY)
    async__afd_done(loop, st->afd, e->lpOverlapped);
  else if (e->lpCompletionKey == ASYNC__PIPE_KEY)
    async__pipe_done(loop, e->lpOverlapped);
  else if (e->lpCompletionKey == ASYNC__PROCESS_KEY)
    async__process_done(loop, e->lpOverlapped);
}

/* Every handle is closed: what the kernel still holds is cancelled, and its
 * packets are awaited before the memory they point to goes. */
static void iocp_close(async_loop_t *loop) {
  struct iocp_state *st = loop->backend_state_;
  int woken = 0;
  if (st->embed != NULL) {
    ULONG n = async__iocp_embed_close(st->embed, st->entries);
    for (ULONG i = 0; i < n; i++)
      dispatch(loop, st, &st->entries[i], &woken);
  }
  if (st->afd != NULL)
    async__afd_cancel_all(st->afd);
  while (st->held > 0 || (st->afd != NULL && async__afd_inflight(st->afd) > 0)) {
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(st->port, st->entries, ASYNC__IOCP_BATCH, &n, 5000, FALSE))
      break; /* the kernel never answered: leak rather than free live memory */
    for (ULONG i = 0; i < n; i++)
      dispatch(loop, st, &st->entries[i], &woken);
  }
  if (st->afd != NULL)
    async__afd_close(st->afd, st->port);
  CloseHandle(st->port);
  async__free(st);
  loop->backend_state_ = NULL;
}

static int iocp_modify(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events,
                       uint32_t tag) {
  struct iocp_state *st = loop->backend_state_;
  (void)old_events;
  if (st->afd == NULL)
    return ASYNC_ENOTSUP;
  return async__afd_modify(loop, st->afd, (SOCKET)(uintptr_t)fd, new_events, tag);
}

/* One wait; the number of packets taken, 0 on timeout, or an error. */
static int wait_once(async_loop_t *loop, int64_t timeout_ns) {
  struct iocp_state *st = loop->backend_state_;
  ULONG n = st->embed != NULL ? async__iocp_embed_take(st->embed, st->entries) : 0;
  int woken = 0;
  /* Packets the host's watch took come first, without a wait. */
  BOOL ok = n > 0 || GetQueuedCompletionStatusEx(st->port, st->entries, ASYNC__IOCP_BATCH, &n,
                                                 (DWORD)async__wait_ms(timeout_ns), FALSE);
  DWORD err = ok ? 0 : GetLastError();
  async__io_waited(loop);
  if (!ok)
    return err == WAIT_TIMEOUT ? 0 : async_translate_sys_error((int)err);
  for (ULONG i = 0; i < n; i++)
    dispatch(loop, st, &st->entries[i], &woken);
  if (woken)
    async__wake_process(loop);
  return (int)n;
}

static int iocp_poll(async_loop_t *loop, int64_t timeout_ns) {
  uint64_t deadline = async__wait_deadline(timeout_ns);
  for (;;) {
    int n = wait_once(loop, timeout_ns);
    if (n != 0 || !async__wait_more(deadline, &timeout_ns))
      return n;
  }
}

static int iocp_handle(async_loop_t *loop, void **handle) {
  struct iocp_state *st = loop->backend_state_;
  if (st->embed == NULL) {
    int err = async__iocp_embed_open(&st->embed, st->port);
    if (err != 0)
      return err;
  }
  *handle = async__iocp_embed_handle(st->embed);
  return 0;
}

static void iocp_embed_sync(async_loop_t *loop) {
  struct iocp_state *st = loop->backend_state_;
  async__iocp_embed_sync(st->embed, loop);
}

const struct async__backend async__iocp_backend = {
  "iocp",
  ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP |
      ASYNC_CAP_TCP | ASYNC_CAP_UDP | ASYNC_CAP_PIPE | ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS |
      ASYNC_CAP_PROCESS | ASYNC_CAP_SIGNAL | ASYNC_CAP_BACKEND_HANDLE,
  0,
  NULL,
  iocp_init,
  iocp_close,
  iocp_modify,
  iocp_poll,
  NULL,
  NULL, /* flush: changes are applied as they are made */
  NULL, /* watch_pid */
  iocp_handle,
  iocp_embed_sync,
};
