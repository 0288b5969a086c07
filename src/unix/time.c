#include "unix.h"

#include <time.h>

/* A clock that never steps and stops while the machine sleeps, as Linux's
 * CLOCK_MONOTONIC does: timers mean time the program could run. macOS's
 * CLOCK_MONOTONIC goes on during sleep, CLOCK_UPTIME_RAW does not. */
#if defined(__APPLE__) && defined(CLOCK_UPTIME_RAW)
# define ASYNC__CLOCK CLOCK_UPTIME_RAW
#else
# define ASYNC__CLOCK CLOCK_MONOTONIC
#endif

uint64_t async__hrtime(void) {
  struct timespec ts;
  clock_gettime(ASYNC__CLOCK, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

int async__timeout_ms(int64_t timeout_ns) {
  int64_t ms;
  if (timeout_ns < 0)
    return -1;
  ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
  return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}
