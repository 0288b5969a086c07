/* The backend registry: which backends are compiled in, in order of
 * preference, and which one a loop gets. */
#include "internal.h"
#include "atomic.h"

#include <string.h>

/* Only Linux has a namespace of Unix socket names outside the file system. */
#if defined(__linux__)
# define UNIX_ABSTRACT ASYNC_CAP_UNIX_ABSTRACT
#else
# define UNIX_ABSTRACT 0u
#endif

/* What this build implements above the backends; a loop offers the
 * intersection with its backend's own capabilities. */
const unsigned async__built_caps =
    ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP |
    ASYNC_CAP_SUBMS_TIMERS | ASYNC_CAP_BACKEND_FD | ASYNC_CAP_FD_LIMIT | ASYNC_CAP_FORK |
    ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS | ASYNC_CAP_SIGNAL | ASYNC_CAP_UDP | ASYNC_CAP_PIPE |
    ASYNC_CAP_TCP | ASYNC_CAP_UNIX_SOCKET | ASYNC_CAP_PROCESS | ASYNC_CAP_CHAR_DEVICE |
    ASYNC_CAP_BACKEND_HANDLE | UNIX_ABSTRACT;

#define BACKEND(name) extern const struct async__backend async__##name##_backend;
#include "backends.h"
#undef BACKEND

static const struct async__backend *const compiled[] = {
#define BACKEND(name) &async__##name##_backend,
#include "backends.h"
#undef BACKEND
};

#define NCOMPILED (sizeof(compiled) / sizeof(compiled[0]))

/* Every name the project knows, compiled here or not. */
static const char *const known[] = {"epoll", "io_uring", "kqueue", "poll", "select", "iocp"};

static unsigned probe(const struct async__backend *b, int *err) {
  unsigned caps = b->caps;
  *err = b->probe != NULL ? b->probe(&caps) : 0;
  return caps & async__built_caps;
}

const struct async__backend *async__backend_find(const char *name, int *err) {
  for (size_t i = 0; i < NCOMPILED; i++) {
    if (name != NULL && strcmp(name, compiled[i]->name) != 0)
      continue;
    probe(compiled[i], err);
    if (*err == 0)
      return compiled[i];
    if (name != NULL) {
      *err = ASYNC_ENOTSUP;
      return NULL;
    }
  }
  *err = ASYNC_ENOTSUP;
  if (name != NULL) {
    *err = ASYNC_ENOENT;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      if (strcmp(name, known[i]) == 0)
        *err = ASYNC_ENOTSUP;
  }
  return NULL;
}

/* Filled on every call with the same values, so concurrent callers only
 * ever store what is already there (atomically, to say so). */
static async_backend_info_t infos[NCOMPILED];

const async_backend_info_t *async_backends(size_t *count) {
  for (size_t i = 0; i < NCOMPILED; i++) {
    int err;
    unsigned caps = probe(compiled[i], &err);
    async__atomic_store_relaxed(&infos[i].name, compiled[i]->name);
    async__atomic_store_relaxed(&infos[i].caps, caps);
    async__atomic_store_relaxed(&infos[i].available, err == 0);
  }
  if (count != NULL)
    *count = NCOMPILED;
  return infos;
}

const char *async_cap_name(unsigned cap) {
  static const char *const names[] = {
    "timers", "wakeup", "fd-watch", "hangup", "sub-ms-timers", "backend-fd", "fd-limit",
    "fork", "tcp", "udp", "pipe", "unix-socket", "process", "signal", "threadpool", "dns",
    "unix-abstract", "char-device", "backend-handle"};
  for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (cap == 1u << i)
      return names[i];
  return NULL;
}
