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
#else
#define async__atomic_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define async__atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define async__atomic_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_sub(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif

#endif
