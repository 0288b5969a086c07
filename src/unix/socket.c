/* The Unix side of the shared socket code (src/sock/sock.h). */
#include "../sock/sock.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* fd (or a failure, passed on) made close-on-exec and non-blocking after the
 * fact, where the system cannot ask for both when it makes the fd. */
int async__sock_flags(int fd) {
  int saved;
  if (fd < 0)
    return fd;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 &&
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0)
    return fd;
  saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

/* Non-blocking and close-on-exec from the start where socket() takes the
 * flags: no window for a fork. */
int async__sock_open(int family, int type, int protocol) {
#if defined(ASYNC_HAVE_SOCK_CLOEXEC)
  return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
#else
  return async__sock_flags(socket(family, type, protocol));
#endif
}

/* Takes back the SIGPIPE a write raised in this thread, which has it
 * blocked; sigwait cannot block since the signal is pending. */
void async__sigpipe_take(const sigset_t *pipe_only) {
#if defined(ASYNC_HAVE_SIGTIMEDWAIT)
  struct timespec zero = {0, 0};
  sigtimedwait(pipe_only, NULL, &zero);
#else
  sigset_t pending;
  int sig;
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
    sigwait(pipe_only, &sig);
#endif
}

void async__sock_close(int fd) { close(fd); }

/* An unbound socket names its family with a zero address. */
int async__sock_family(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  return ss.ss_family;
}

/* An adopted socket may be blocking; the stream layer never blocks. */
int async__sock_nonblock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1)
    return ASYNC_EBADF;
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return async_translate_sys_error(errno);
  return 0;
}

/* A connect to AF_UNSPEC dissolves a datagram socket's peer; some systems
 * answer EAFNOSUPPORT after doing so. */
int async__sock_disconnect(int fd) {
  struct sockaddr unspec;
  memset(&unspec, 0, sizeof(unspec));
  unspec.sa_family = AF_UNSPEC;
  if (connect(fd, &unspec, sizeof(unspec)) != 0 && errno != EAFNOSUPPORT)
    return async_translate_sys_error(errno);
  return 0;
}

/* The idle time in seconds, under whichever name the system gives it. */
int async__tcp_keepidle(int fd, unsigned delay) {
  int v = (int)delay;
#if defined(TCP_KEEPIDLE)
  return async__sock_setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, v);
#elif defined(TCP_KEEPALIVE)
  return async__sock_setopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, v);
#else
  (void)fd;
  (void)v;
  return 0;
#endif
}
