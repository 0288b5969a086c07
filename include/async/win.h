/* Windows platform part of async.h: error values and the loop's private
 * fields. Included by async.h; not for direct use. The Windows sources
 * (src/win/) fill these in; the values are fixed so that binaries agree. */
#ifndef ASYNC_WIN_H
#define ASYNC_WIN_H

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

/* Private: the thread primitives the portable core uses. */
typedef SRWLOCK async__mutex_t;
typedef CONDITION_VARIABLE async__cond_t;
typedef HANDLE async__thread_t;
#define ASYNC__MUTEX_INITIALIZER SRWLOCK_INIT
#define ASYNC__COND_INITIALIZER CONDITION_VARIABLE_INIT

/* Windows has no errno for most socket errors: every code gets a fixed
 * value of its own, and Win32/WSA errors are mapped onto them. */
#define ASYNC__E2BIG (-4000)
#define ASYNC__EACCES (-4001)
#define ASYNC__EADDRINUSE (-4002)
#define ASYNC__EADDRNOTAVAIL (-4003)
#define ASYNC__EAFNOSUPPORT (-4004)
#define ASYNC__EAGAIN (-4005)
#define ASYNC__EALREADY (-4006)
#define ASYNC__EBADF (-4007)
#define ASYNC__EBUSY (-4008)
#define ASYNC__ECANCELED (-4009)
#define ASYNC__ECONNABORTED (-4010)
#define ASYNC__ECONNREFUSED (-4011)
#define ASYNC__ECONNRESET (-4012)
#define ASYNC__EEXIST (-4013)
#define ASYNC__EFAULT (-4014)
#define ASYNC__EHOSTUNREACH (-4015)
#define ASYNC__EINTR (-4016)
#define ASYNC__EINVAL (-4017)
#define ASYNC__EIO (-4018)
#define ASYNC__EISCONN (-4019)
#define ASYNC__EISDIR (-4020)
#define ASYNC__ELOOP (-4021)
#define ASYNC__EMFILE (-4022)
#define ASYNC__EMSGSIZE (-4023)
#define ASYNC__ENAMETOOLONG (-4024)
#define ASYNC__ENETDOWN (-4025)
#define ASYNC__ENETUNREACH (-4026)
#define ASYNC__ENFILE (-4027)
#define ASYNC__ENOBUFS (-4028)
#define ASYNC__ENODEV (-4029)
#define ASYNC__ENOENT (-4030)
#define ASYNC__ENOMEM (-4031)
#define ASYNC__ENOSPC (-4032)
#define ASYNC__ENOSYS (-4033)
#define ASYNC__ENOTCONN (-4034)
#define ASYNC__ENOTDIR (-4035)
#define ASYNC__ENOTEMPTY (-4036)
#define ASYNC__ENOTSOCK (-4037)
#define ASYNC__ENOTSUP (-4038)
#define ASYNC__ENXIO (-4039)
#define ASYNC__EOVERFLOW (-4040)
#define ASYNC__EPERM (-4041)
#define ASYNC__EPIPE (-4042)
#define ASYNC__EPROTO (-4043)
#define ASYNC__EPROTONOSUPPORT (-4044)
#define ASYNC__EPROTOTYPE (-4045)
#define ASYNC__ERANGE (-4046)
#define ASYNC__EROFS (-4047)
#define ASYNC__ESPIPE (-4048)
#define ASYNC__ESRCH (-4049)
#define ASYNC__ETIMEDOUT (-4050)
#define ASYNC__ETXTBSY (-4051)
#define ASYNC__EXDEV (-4052)

/* Private: one socket watched by the loop (see src/win/io.c). */
struct async__sock_entry {
  SOCKET sock;
  struct async_watch_s *watcher;
  uint32_t gen;        /* registration number of the watcher that owns it */
  uint32_t registered; /* events the backend currently has */
  void *poll_;         /* the backend's record for it (IOCP: its AFD poll) */
};

#define ASYNC_LOOP_PLATFORM_FIELDS                                            \
  struct async__sock_entry *socks_; /* watched sockets, dense */             \
  uint32_t nsocks_;                                                           \
  uint32_t socks_cap_;                                                        \
  uint32_t io_gen_;       /* last registration number handed out */          \
  uint32_t io_gen_poll_;  /* io_gen_ when the current poll began */          \
  void (*wake_fn_)(async_loop_t *loop); /* the backend's way to wake a poll */ \
  volatile LONG wake_pending_;  /* a wake is in flight */                    \
  struct async__link wakeups_;                                              \
  struct async__link signals_;     /* this loop's started signal handles */  \
  struct async__link signal_link_; /* in the process's list while it has some */ \
  volatile LONG signals_pending_;  /* bit n: console signal slot n arrived */ \
  uint16_t signal_users_[3];       /* started handles per console signal */

/* The console's signals (async_signal_start; docs/signals.md): the C
 * runtime has SIGINT and SIGBREAK; these are the numbers Unix gives. */
#ifndef SIGHUP
# define SIGHUP 1
#endif
#ifndef SIGBREAK
# define SIGBREAK 21
#endif
#ifndef SIGWINCH
# define SIGWINCH 28
#endif

#endif /* ASYNC_WIN_H */
