/* The Unix side of the shared socket code (src/sock/sock.h). */
#include "../sock/sock.h"

#include <fcntl.h>
#include <unistd.h>

/* Non-blocking and close-on-exec from the start: no window for a fork. */
int async__sock_open(int family, int type, int protocol) {
  return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

void async__sock_close(int fd) { close(fd); }

/* An adopted socket may be blocking; the stream layer never blocks. */
int async__sock_nonblock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1)
    return ASYNC_EBADF;
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return async_translate_sys_error(errno);
  return 0;
}

/* SO_REUSEADDR lets a server bind again while old connections linger in
 * TIME_WAIT; SO_REUSEPORT only when asked. */
int async__sock_reuse(int fd, int reuseport) {
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
#if defined(SO_REUSEPORT)
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
#else
  (void)reuseport; /* refused earlier: ASYNC__HAVE_REUSEPORT is 0 */
#endif
  return 0;
}

/* The idle time in seconds, under whichever name the system gives it. */
int async__tcp_keepidle(int fd, unsigned delay) {
  int v = (int)delay;
#if defined(TCP_KEEPIDLE)
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)) != 0)
    return async_translate_sys_error(errno);
#elif defined(TCP_KEEPALIVE)
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &v, sizeof(v)) != 0)
    return async_translate_sys_error(errno);
#else
  (void)fd;
  (void)v;
#endif
  return 0;
}
