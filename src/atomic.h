/* The few atomic operations the library needs. Every one works on an int;
 * on Windows an int is the same 32 bits as the long the Interlocked
 * intrinsics take. */
#ifndef ASYNC_ATOMIC_H
#define ASYNC_ATOMIC_H

#if defined(_MSC_VER) && !defined(__GNUC__)
#include <intrin.h>
/* MSVC has no __atomic builtins; the Interlocked intrinsics are full
 * barriers, which is stronger than the orders asked for below. */
#define async__atomic_load(p) ((int)_InterlockedOr((volatile long *)(p), 0))
#define async__atomic_store(p, v) ((void)_InterlockedExchange((volatile long *)(p), (long)(v)))
#define async__atomic_xchg(p, v) ((int)_InterlockedExchange((volatile long *)(p), (long)(v)))
#define async__atomic_add(p, v) ((int)_InterlockedExchangeAdd((volatile long *)(p), (long)(v)) + (v))
#define async__atomic_sub(p, v) ((int)_InterlockedExchangeAdd((volatile long *)(p), -(long)(v)) - (v))
/* Used only where every racing writer stores the same value: an aligned
 * word store is never torn on a Windows target. */
#define async__atomic_store_relaxed(p, v) ((void)(*(p) = (v)))
#define async__atomic_load_relaxed(p) (*(volatile int *)(p))
#define async__atomic_load_sc(p) async__atomic_load(p)
#define async__atomic_store_sc(p, v) async__atomic_store(p, v)
#define async__atomic_add_sc(p, v) async__atomic_add(p, v)
#define async__atomic_cas(p, e, d) async__atomic_cas_((volatile long *)(p), (e), (d))
#define async__atomic_fence() async__atomic_fence_()
static __inline int async__atomic_cas_(volatile long *p, int *expected, int desired) {
  long old = _InterlockedCompareExchange(p, desired, *expected);
  if (old == *expected)
    return 1;
  *expected = (int)old;
  return 0;
}
static __inline void async__atomic_fence_(void) {
  volatile long x = 0;
  (void)_InterlockedOr(&x, 0);
}
#else
#define async__atomic_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define async__atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define async__atomic_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_sub(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Sequentially consistent, for the protocols whose comments ask for it. */
#define async__atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define async__atomic_load_sc(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define async__atomic_store_sc(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define async__atomic_add_sc(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define async__atomic_cas(p, e, d) \
  __atomic_compare_exchange_n((p), (e), (d), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define async__atomic_fence() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

#endif
