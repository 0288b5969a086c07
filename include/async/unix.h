/* Unix platform part of async.h: error values and the loop's private fields.
 * Included by async.h; not for direct use. */
#ifndef ASYNC_UNIX_H
#define ASYNC_UNIX_H

#include <errno.h>
#include <netinet/in.h> /* struct sockaddr_in and sockaddr_in6, for async_ip4_addr and the rest */
#include <pthread.h>
#include <sys/socket.h>

/* Error codes are negated errno values. */
#define ASYNC__E2BIG (-E2BIG)
#define ASYNC__EACCES (-EACCES)
#define ASYNC__EADDRINUSE (-EADDRINUSE)
#define ASYNC__EADDRNOTAVAIL (-EADDRNOTAVAIL)
#define ASYNC__EAFNOSUPPORT (-EAFNOSUPPORT)
#define ASYNC__EAGAIN (-EAGAIN)
#define ASYNC__EALREADY (-EALREADY)
#define ASYNC__EBADF (-EBADF)
#define ASYNC__EBUSY (-EBUSY)
#define ASYNC__ECANCELED (-ECANCELED)
#define ASYNC__ECONNABORTED (-ECONNABORTED)
#define ASYNC__ECONNREFUSED (-ECONNREFUSED)
#define ASYNC__ECONNRESET (-ECONNRESET)
#define ASYNC__EEXIST (-EEXIST)
#define ASYNC__EFAULT (-EFAULT)
#define ASYNC__EHOSTUNREACH (-EHOSTUNREACH)
#define ASYNC__EINTR (-EINTR)
#define ASYNC__EINVAL (-EINVAL)
#define ASYNC__EIO (-EIO)
#define ASYNC__EISCONN (-EISCONN)
#define ASYNC__EISDIR (-EISDIR)
#define ASYNC__ELOOP (-ELOOP)
#define ASYNC__EMFILE (-EMFILE)
#define ASYNC__EMSGSIZE (-EMSGSIZE)
#define ASYNC__ENAMETOOLONG (-ENAMETOOLONG)
#define ASYNC__ENETDOWN (-ENETDOWN)
#define ASYNC__ENETUNREACH (-ENETUNREACH)
#define ASYNC__ENFILE (-ENFILE)
#define ASYNC__ENOBUFS (-ENOBUFS)
#define ASYNC__ENODEV (-ENODEV)
#define ASYNC__ENOENT (-ENOENT)
#define ASYNC__ENOMEM (-ENOMEM)
#define ASYNC__ENOSPC (-ENOSPC)
#define ASYNC__ENOSYS (-ENOSYS)
#define ASYNC__ENOTCONN (-ENOTCONN)
#define ASYNC__ENOTDIR (-ENOTDIR)
#define ASYNC__ENOTEMPTY (-ENOTEMPTY)
#define ASYNC__ENOTSOCK (-ENOTSOCK)
#define ASYNC__ENOTSUP (-ENOTSUP)
#define ASYNC__ENXIO (-ENXIO)
#define ASYNC__EOVERFLOW (-EOVERFLOW)
#define ASYNC__EPERM (-EPERM)
#define ASYNC__EPIPE (-EPIPE)
#define ASYNC__EPROTO (-EPROTO)
#define ASYNC__EPROTONOSUPPORT (-EPROTONOSUPPORT)
#define ASYNC__EPROTOTYPE (-EPROTOTYPE)
#define ASYNC__ERANGE (-ERANGE)
#define ASYNC__EROFS (-EROFS)
#define ASYNC__ESPIPE (-ESPIPE)
#define ASYNC__ESRCH (-ESRCH)
#define ASYNC__ETIMEDOUT (-ETIMEDOUT)
#define ASYNC__ETXTBSY (-ETXTBSY)
#define ASYNC__EXDEV (-EXDEV)

/* Private: one entry of the loop's fd table, indexed by fd. */
struct async__fd_entry {
  struct async_watch_s *watcher;
  uint32_t gen;        /* registration number of the watcher that owns the fd */
  uint32_t registered; /* events the backend currently has */
  int error;           /* a socket error the backend saw and the socket may have lost */
};

/* Private: the thread primitives the portable core uses. */
typedef pthread_mutex_t async__mutex_t;
typedef pthread_cond_t async__cond_t;
typedef pthread_t async__thread_t;
#define ASYNC__MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#define ASYNC__COND_INITIALIZER PTHREAD_COND_INITIALIZER

#define ASYNC_LOOP_PLATFORM_FIELDS                                            \
  struct async__fd_entry *fds_;                                               \
  int nfds_;                                                                  \
  int nregistered_;       /* fds the backend watches (the wake fd included) */ \
  uint32_t io_gen_;       /* last registration number handed out */          \
  uint32_t io_gen_poll_;  /* io_gen_ when the current poll began */          \
  int wake_rfd_;          /* eventfd, or the read end of a pipe */            \
  int wake_wfd_;          /* same as wake_rfd_ for eventfd */                 \
  int wake_pending_;      /* a wake was asked for and not yet processed */   \
  int awake_;             /* 1 while the loop will look at wake_pending_ before it sleeps */ \
  struct async_watch_s wake_watch_;                                           \
  struct async__link wakeups_;                                                \
  struct async__link signals_;  /* this loop's started signal handles */      \
  uint64_t signals_pending_;    /* bit n: signal n+1 arrived (set by handlers) */ \
  uint16_t signal_users_[64];   /* started handles per signal */             \
  int signal_slot_;             /* index in the process's signal table, or -1 */ \
  struct async__link children_; /* records of spawned children not reaped yet */ \
  struct async_signal_s sigchld_; /* the SIGCHLD fallback's internal handle */

#endif /* ASYNC_UNIX_H */
