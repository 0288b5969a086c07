#include "unix.h"

#include <time.h>

uint64_t async__hrtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

int async__timeout_ms(int64_t timeout_ns) {
  int64_t ms;
  if (timeout_ns < 0)
    return -1;
  ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
  return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}
