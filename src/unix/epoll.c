/* The epoll backend (Linux). */
#include "unix.h"

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_EVENTS 1024

struct epoll_state {
  int epfd;
  int pwait2; /* epoll_pwait2 works: waits honour nanoseconds */
  struct epoll_event events[MAX_EVENTS];
};

/* epoll_pwait2 is called through syscall(2), not glibc's wrapper: the wrapper
 * exists only from glibc 2.35, so using it would make the library need that
 * version, and a build against an older glibc would lose sub-ms waits even
 * on a kernel that has the call. Whether the kernel has it is probed at run
 * time either way. */
#if defined(SYS_epoll_pwait2)
# define PWAIT2_NR SYS_epoll_pwait2
#elif defined(__NR_epoll_pwait2)
# define PWAIT2_NR __NR_epoll_pwait2
#elif (defined(__x86_64__) && !defined(__ILP32__)) || defined(__i386__) || \
    defined(__aarch64__) || defined(__arm__) || defined(__riscv) || defined(__powerpc__) || \
    defined(__s390__) || defined(__loongarch__)
/* Headers older than Linux 5.11. 441 is the number in the kernel's common
 * table on these architectures; others (x32, MIPS, Alpha) offset theirs, and
 * there the backend keeps millisecond waits rather than guess. */
# define PWAIT2_NR 441
#endif

#if defined(PWAIT2_NR)
/* The kernel's struct __kernel_timespec: 64-bit fields on every ABI, which a
 * 32-bit libc's struct timespec need not have. */
struct pwait2_timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};

/* No signal mask is passed, so the kernel ignores the mask size. */
static int pwait2(int epfd, struct epoll_event *events, int max, const struct pwait2_timespec *ts) {
  return (int)syscall(PWAIT2_NR, epfd, events, max, ts, NULL, (size_t)0);
}
#endif

static int has_pwait2(int epfd) {
#if defined(PWAIT2_NR)
  struct pwait2_timespec zero = {0, 0};
  struct epoll_event ev;
  return pwait2(epfd, &ev, 1, &zero) >= 0;
#else
  (void)epfd;
  return 0;
#endif
}

static int epoll_probe(unsigned *caps) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0)
    return async_translate_sys_error(errno);
  if (!has_pwait2(epfd))
    *caps &= ~(unsigned)ASYNC_CAP_SUBMS_TIMERS;
  close(epfd);
  return 0;
}

static int epoll_init(async_loop_t *loop) {
  struct epoll_state *st = async__malloc(sizeof(*st));
  if (st == NULL)
    return ASYNC_ENOMEM;
  st->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (st->epfd < 0) {
    int err = async_translate_sys_error(errno);
    async__free(st);
    return err;
  }
  st->pwait2 = has_pwait2(st->epfd);
  if (!st->pwait2)
    loop->caps_ &= ~(unsigned)ASYNC_CAP_SUBMS_TIMERS;
  loop->backend_state_ = st;
  return 0;
}

static void epoll_close(async_loop_t *loop) {
  struct epoll_state *st = loop->backend_state_;
  close(st->epfd);
  async__free(st);
  loop->backend_state_ = NULL;
}

static int epoll_modify(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events,
                        uint32_t tag) {
  struct epoll_state *st = loop->backend_state_;
  struct epoll_event ev;
  int op = old_events == 0 ? EPOLL_CTL_ADD : new_events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  ev.events = ((new_events & ASYNC_READABLE) ? EPOLLIN : 0u) |
              ((new_events & ASYNC_WRITABLE) ? EPOLLOUT : 0u);
  ev.data.u64 = (uint64_t)tag << 32 | (uint32_t)fd;
  if (epoll_ctl(st->epfd, op, fd, &ev) == 0)
    return 0;
  /* Removal of an fd already closed: the kernel forgot it with its last close. */
  if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))
    return 0;
  if (op == EPOLL_CTL_ADD && errno == EEXIST && epoll_ctl(st->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
    return 0;
  return async_translate_sys_error(errno);
}

/* epoll_pwait2 costs more per call than epoll_wait (a timespec copy and
 * signal mask handling): it is used only when the wait has a sub-ms part. */
static int epoll_wait_ns(struct epoll_state *st, int64_t timeout_ns) {
#if defined(PWAIT2_NR)
  if (st->pwait2 && timeout_ns > 0 && timeout_ns % 1000000 != 0) {
    struct pwait2_timespec ts;
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    return pwait2(st->epfd, st->events, MAX_EVENTS, &ts);
  }
#endif
  return epoll_wait(st->epfd, st->events, MAX_EVENTS, async__timeout_ms(timeout_ns));
}

static int epoll_poll(async_loop_t *loop, int64_t timeout_ns) {
  struct epoll_state *st = loop->backend_state_;
  int n = epoll_wait_ns(st, timeout_ns);
  async__io_waited(loop);
  if (n < 0)
    return errno == EINTR ? 0 : async_translate_sys_error(errno);
  for (int i = 0; i < n; i++) {
    uint32_t e = st->events[i].events;
    unsigned ev = ((e & EPOLLIN) ? ASYNC_READABLE : 0u) | ((e & EPOLLOUT) ? ASYNC_WRITABLE : 0u) |
                  ((e & EPOLLHUP) ? ASYNC_HANGUP : 0u) | ((e & EPOLLERR) ? ASYNC_ERROR : 0u);
    uint64_t data = st->events[i].data.u64;
    async__io_event(loop, (int)(uint32_t)data, (uint32_t)(data >> 32), ev);
  }
  return n;
}

static int epoll_fd(const async_loop_t *loop) {
  return ((const struct epoll_state *)loop->backend_state_)->epfd;
}

const struct async__backend async__epoll_backend = {
  "epoll",
  ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP |
      ASYNC_CAP_SUBMS_TIMERS | ASYNC_CAP_BACKEND_FD | ASYNC_CAP_FORK | ASYNC_CAP_TCP |
      ASYNC_CAP_UDP | ASYNC_CAP_PIPE | ASYNC_CAP_UNIX_SOCKET | ASYNC_CAP_PROCESS |
      ASYNC_CAP_SIGNAL | ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS | ASYNC_CAP_CHAR_DEVICE |
      ASYNC_CAP_UNIX_ABSTRACT,
  0,
  epoll_probe,
  epoll_init,
  epoll_close,
  epoll_modify,
  epoll_poll,
  epoll_fd,
  NULL, /* flush: changes are applied as they are made */
  NULL, /* watch_pid */
  NULL, /* backend_handle */
  NULL, /* embed_sync */
};
