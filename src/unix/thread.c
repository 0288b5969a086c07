/* Thread primitives for the portable core, on POSIX threads. */
#include "unix.h"

#include <pthread.h>
#include <signal.h>

int async__thread_create(async__thread_t *t, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  int err;
  /* Pool threads never take signals meant for the application's threads. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return -err;
}

void async__thread_join(async__thread_t t) { pthread_join(t, NULL); }
void async__mutex_init(async__mutex_t *m) { pthread_mutex_init(m, NULL); }
void async__mutex_destroy(async__mutex_t *m) { pthread_mutex_destroy(m); }
void async__mutex_lock(async__mutex_t *m) { pthread_mutex_lock(m); }
void async__mutex_unlock(async__mutex_t *m) { pthread_mutex_unlock(m); }
void async__cond_wait(async__cond_t *c, async__mutex_t *m) { pthread_cond_wait(c, m); }
void async__cond_signal(async__cond_t *c) { pthread_cond_signal(c); }
void async__cond_broadcast(async__cond_t *c) { pthread_cond_broadcast(c); }

void async__atfork_child(void (*fn)(void)) { pthread_atfork(NULL, NULL, fn); }
