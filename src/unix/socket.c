/* What TCP and UDP share: address sizes and socket names. */
#include "unix.h"

#include <netinet/in.h>
#include <sys/socket.h>

unsigned async__addr_len(const struct sockaddr *addr) {
  switch (addr->sa_family) {
  case AF_INET: return sizeof(struct sockaddr_in);
  case AF_INET6: return sizeof(struct sockaddr_in6);
  default: return 0;
  }
}

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
