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

#if defined(_WIN32)
# define NO_SUCH_OPTION WSAENOPROTOOPT
#else
# define NO_SUCH_OPTION ENOPROTOOPT
#endif

int async__sock_setopt_raw(async__sock_t s, int level, int name, const void *value, unsigned len) {
  int err;
  if (setsockopt(s, level, name, (const char *)value, (async__socklen_t)len) == 0)
    return 0;
  err = async__sock_error();
  return err == NO_SUCH_OPTION ? ASYNC_ENOTSUP : async_translate_sys_error(err);
}

int async__sock_setopt(async__sock_t s, int level, int name, int value) {
  return async__sock_setopt_raw(s, level, name, &value, (unsigned)sizeof(value));
}

int async__sock_reuse(async__sock_t s, int addr, int port) {
  int err = 0;
  if (addr)
    err = async__sock_setopt(s, SOL_SOCKET, SO_REUSEADDR, 1);
#if ASYNC__HAVE_REUSEPORT
  if (err == 0 && port)
    err = async__sock_setopt(s, SOL_SOCKET, SO_REUSEPORT, 1);
#else
  (void)port; /* callers refuse ASYNC_*_REUSEPORT first */
#endif
  return err;
}
