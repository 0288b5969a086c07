/* Thread primitives for the portable core: Windows threads, slim
 * reader/writer locks (exclusive mode) and condition variables. */
#include "win.h"


struct start {
  void *(*fn)(void *);
  void *arg;
};

static DWORD WINAPI trampoline(LPVOID p) {
  struct start s = *(struct start *)p;
  HeapFree(GetProcessHeap(), 0, p);
  s.fn(s.arg);
  return 0;
}

/* The start record comes from the process heap, not the library's
 * allocator: it is freed by the new thread, outside any loop's accounting. */
int async__thread_create(async__thread_t *t, void *(*fn)(void *), void *arg) {
  struct start *s = HeapAlloc(GetProcessHeap(), 0, sizeof(*s));
  HANDLE h;
  if (s == NULL)
    return ASYNC_ENOMEM;
  s->fn = fn;
  s->arg = arg;
  h = CreateThread(NULL, 0, trampoline, s, 0, NULL);
  if (h == NULL) {
    int err = async_translate_sys_error((int)GetLastError());
    HeapFree(GetProcessHeap(), 0, s);
    return err;
  }
  *t = h;
  return 0;
}

void async__thread_join(async__thread_t t) {
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
}

void async__mutex_init(async__mutex_t *m) { InitializeSRWLock(m); }
void async__mutex_destroy(async__mutex_t *m) { (void)m; } /* an SRWLOCK owns nothing */
void async__mutex_lock(async__mutex_t *m) { AcquireSRWLockExclusive(m); }
void async__mutex_unlock(async__mutex_t *m) { ReleaseSRWLockExclusive(m); }
void async__cond_wait(async__cond_t *c, async__mutex_t *m) {
  SleepConditionVariableSRW(c, m, INFINITE, 0);
}
void async__cond_signal(async__cond_t *c) { WakeConditionVariable(c); }
void async__cond_broadcast(async__cond_t *c) { WakeAllConditionVariable(c); }

/* Windows has no fork: nothing to prepare a child for. */
void async__atfork_child(void (*fn)(void)) { (void)fn; }
