/* The monotonic clock on QueryPerformanceCounter, in nanoseconds. */
#include "win.h"

uint64_t async__hrtime(void) {
  LARGE_INTEGER count, freq;
  uint64_t c, f;
  QueryPerformanceCounter(&count);
  /* Constant since boot and cheap to ask: no cached copy to race on. */
  QueryPerformanceFrequency(&freq);
  c = (uint64_t)count.QuadPart;
  f = (uint64_t)freq.QuadPart;
  /* Split so that count * 10^9 cannot overflow. */
  return c / f * UINT64_C(1000000000) + c % f * UINT64_C(1000000000) / f;
}

/* Windows waits take milliseconds: round up so a wait never ends before a
 * timer is due (an early return is waited out again by the backend). */
unsigned long async__wait_ms(int64_t timeout_ns) {
  int64_t ms;
  if (timeout_ns < 0)
    return INFINITE;
  ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
  return ms >= (int64_t)INFINITE ? INFINITE - 1 : (unsigned long)ms;
}

/* Both backends wait in whole milliseconds and may return early; they wait
 * again until the deadline (0 for a wait that does not block). */
uint64_t async__wait_deadline(int64_t timeout_ns) {
  return timeout_ns > 0 ? async__hrtime() + (uint64_t)timeout_ns : 0;
}

/* After a wait that reported nothing: 1 with *timeout_ns set to what is
 * left before deadline, 0 if the wait is over. */
int async__wait_more(uint64_t deadline, int64_t *timeout_ns) {
  uint64_t now;
  if (*timeout_ns <= 0)
    return 0;
  now = async__hrtime();
  if (now >= deadline)
    return 0;
  *timeout_ns = (int64_t)(deadline - now);
  return 1;
}
