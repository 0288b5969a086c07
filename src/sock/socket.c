/* What TCP, UDP and DNS share on both worlds. */
#include "sock.h"

unsigned async__addr_len(const struct sockaddr *addr) {
  switch (addr->sa_family) {
  case AF_INET: return sizeof(struct sockaddr_in);
  case AF_INET6: return sizeof(struct sockaddr_in6);
  default: return 0;
  }
}

int async__sock_name(int fd, struct sockaddr *name, int *namelen, int peer) {
  async__sock_t s = async__sock(fd);
  async__socklen_t len;
  if (name == NULL || namelen == NULL || *namelen < 0)
    return ASYNC_EINVAL;
  if (fd < 0)
    return ASYNC_EBADF;
  len = (async__socklen_t)*namelen;
  if ((peer ? getpeername(s, name, &len) : getsockname(s, name, &len)) != 0)
    return async_translate_sys_error(async__sock_error());
  *namelen = (int)len;
  return 0;
}
