/* The IOCP loop's waitable handle for hosts (async_backend_handle). A port
 * cannot be waited on with the wait functions, so while the loop is not
 * running a thread of the loop's waits on the port for the host: it takes
 * what arrives (or times out when a timer is due), keeps the packets for
 * the loop's next poll, in order, and signals the host's event. When
 * async_run begins the loop stops that wait with a packet of its own and
 * takes the kept packets first. Nothing runs while no host asked. */
#include "win.h"

#include <string.h>

struct async__iocp_embed {
  HANDLE port;
  HANDLE ready;  /* manual reset: the host's handle */
  HANDLE arm;    /* auto reset: watch the port once */
  HANDLE parked; /* auto reset: a watch ended */
  async__thread_t thread;
  DWORD timeout_ms;        /* of the next watch */
  DWORD gen;               /* of the current watch: a stop for an older one is stale */
  int watching;            /* armed, and its parked signal not yet taken */
  volatile LONG quit;
  ULONG n;                 /* packets the watch took, for the loop's next poll */
  OVERLAPPED_ENTRY kept[ASYNC__IOCP_BATCH];
};

/* Until the current watch is stopped, or a packet or a due timer ends it. */
static void watch(struct async__iocp_embed *e) {
  ULONGLONG end = e->timeout_ms == INFINITE ? 0 : GetTickCount64() + e->timeout_ms;
  DWORD wait = e->timeout_ms;
  e->n = 0;
  for (;;) {
    OVERLAPPED_ENTRY got[ASYNC__IOCP_BATCH];
    ULONG n = 0, i;
    int stopped = 0;
    if (!GetQueuedCompletionStatusEx(e->port, got, ASYNC__IOCP_BATCH, &n, wait, FALSE)) {
      if (GetLastError() == WAIT_TIMEOUT) /* a timer is due */
        SetEvent(e->ready);
      return;
    }
    for (i = 0; i < n; i++) {
      if (got[i].lpCompletionKey == ASYNC__EMBED_KEY)
        stopped |= got[i].dwNumberOfBytesTransferred == e->gen;
      else
        e->kept[e->n++] = got[i];
    }
    if (e->n > 0)
      SetEvent(e->ready);
    if (e->n > 0 || stopped)
      return;
    /* Only stale stops: watch on for the rest of the time. */
    if (end != 0) {
      ULONGLONG now = GetTickCount64();
      if (now >= end) {
        SetEvent(e->ready);
        return;
      }
      wait = (DWORD)(end - now);
    }
  }
}

static void *waiter(void *arg) {
  struct async__iocp_embed *e = arg;
  for (;;) {
    WaitForSingleObject(e->arm, INFINITE);
    if (InterlockedCompareExchange(&e->quit, 0, 0))
      return NULL;
    watch(e);
    SetEvent(e->parked);
  }
}

static void stop_watch(struct async__iocp_embed *e) {
  if (!e->watching)
    return;
  PostQueuedCompletionStatus(e->port, e->gen, ASYNC__EMBED_KEY, NULL);
  WaitForSingleObject(e->parked, INFINITE);
  e->watching = 0;
}

static void close_handles(struct async__iocp_embed *e) {
  if (e->ready != NULL)
    CloseHandle(e->ready);
  if (e->arm != NULL)
    CloseHandle(e->arm);
  if (e->parked != NULL)
    CloseHandle(e->parked);
}

int async__iocp_embed_open(struct async__iocp_embed **out, HANDLE port) {
  struct async__iocp_embed *e = async__calloc(1, sizeof(*e));
  int err;
  if (e == NULL)
    return ASYNC_ENOMEM;
  e->port = port;
  e->ready = CreateEventW(NULL, TRUE, FALSE, NULL);
  e->arm = CreateEventW(NULL, FALSE, FALSE, NULL);
  e->parked = CreateEventW(NULL, FALSE, FALSE, NULL);
  err = e->ready && e->arm && e->parked ? 0 : async_translate_sys_error((int)GetLastError());
  if (err == 0)
    err = async__thread_create(&e->thread, waiter, e);
  if (err != 0) {
    close_handles(e);
    async__free(e);
    return err;
  }
  *out = e;
  return 0;
}

/* The packets the last watch took, for the poll to dispatch first. */
ULONG async__iocp_embed_take(struct async__iocp_embed *e, OVERLAPPED_ENTRY *out) {
  ULONG n = e->n;
  memcpy(out, e->kept, n * sizeof(*out));
  e->n = 0;
  return n;
}

/* Ends the thread; the packets its last watch took go to out. */
ULONG async__iocp_embed_close(struct async__iocp_embed *e, OVERLAPPED_ENTRY *out) {
  ULONG n;
  stop_watch(e);
  InterlockedExchange(&e->quit, 1);
  SetEvent(e->arm);
  async__thread_join(e->thread);
  n = async__iocp_embed_take(e, out);
  close_handles(e);
  async__free(e);
  return n;
}

HANDLE async__iocp_embed_handle(const struct async__iocp_embed *e) { return e->ready; }

/* Running: the loop waits for itself. Not running: the host's handle is
 * signalled now if there is work, else a watch begins for the time until
 * the next timer. */
void async__iocp_embed_sync(struct async__iocp_embed *e, async_loop_t *loop) {
  int64_t t;
  int alive;
  stop_watch(e);
  if (loop->running_) {
    ResetEvent(e->ready);
    return;
  }
  /* A loop with nothing alive has nothing due, and async_run would run no
   * turn: only a wake or a call of the host's (which syncs again) can give
   * it work. Packets kept wait for a turn; a watch would drop them. */
  alive = async_loop_alive(loop);
  t = alive ? async_backend_timeout_ns(loop) : -1;
  if (e->n > 0 || t == 0) {
    if (alive)
      SetEvent(e->ready);
    return;
  }
  e->timeout_ms = (DWORD)async__wait_ms(t);
  e->gen++;
  e->watching = 1;
  SetEvent(e->arm);
}
