/* The few atomic operations the library needs, on the compiler's builtins. */
#ifndef ASYNC_ATOMIC_H
#define ASYNC_ATOMIC_H

#define async__atomic_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define async__atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define async__atomic_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define async__atomic_sub(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_ACQ_REL)

#endif
