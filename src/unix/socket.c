/* What TCP and UDP share on Unix: socket names. */
#include "unix.h"

#include <sys/socket.h>

int async__sock_name(int fd, struct sockaddr *name, int *namelen, int peer) {
  socklen_t len;
  if (name == NULL || namelen == NULL || *namelen < 0)
    return ASYNC_EINVAL;
  if (fd < 0)
    return ASYNC_EBADF;
  len = (socklen_t)*namelen;
  if ((peer ? getpeername(fd, name, &len) : getsockname(fd, name, &len)) != 0)
    return async_translate_sys_error(errno);
  *namelen = (int)len;
  return 0;
}
