/* TCP handles: sockets for the stream layer, plus TCP's own options. */
#include "../sock/sock.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The socket exists once the family is known; it starts neither readable
 * nor writable: connect or accept makes it so. */
static int ensure_socket(async_tcp_t *tcp, int family) {
  int fd, err;
  if (tcp->fd_ >= 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return async_translate_sys_error(errno);
  err = async__stream_open((async_stream_t *)tcp, fd, 0, 0, 1);
  if (err != 0)
    close(fd);
  return err;
}

int async_tcp_init_ex(async_loop_t *loop, async_tcp_t *tcp, int family) {
  int err;
  if (loop == NULL || tcp == NULL ||
      (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_TCP))
    return ASYNC_ENOTSUP;
  err = async__stream_init(loop, (async_stream_t *)tcp, ASYNC_TCP);
  if (err == 0 && family != AF_UNSPEC && (err = ensure_socket(tcp, family)) != 0)
    async__handle_uninit((async_handle_t *)tcp);
  return err;
}

int async_tcp_init(async_loop_t *loop, async_tcp_t *tcp) {
  return async_tcp_init_ex(loop, tcp, AF_UNSPEC);
}

int async_tcp_open(async_tcp_t *tcp, int fd) {
  int type, flags, err;
  socklen_t len = sizeof(type);
  struct sockaddr_storage peer;
  socklen_t plen = sizeof(peer);
  if (tcp == NULL || fd < 0 || async__is_closing(tcp))
    return ASYNC_EINVAL;
  if (tcp->fd_ >= 0)
    return ASYNC_EBUSY;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return async_translate_sys_error(errno);
  if (type != SOCK_STREAM)
    return ASYNC_EINVAL;
  if ((flags = fcntl(fd, F_GETFL)) == -1)
    return ASYNC_EBADF;
  /* connected: readable and writable; otherwise it may still bind/listen/connect */
  err = getpeername(fd, (struct sockaddr *)&peer, &plen) == 0;
  err = async__stream_open((async_stream_t *)tcp, fd, (unsigned)err, (unsigned)err, 1);
  if (err == 0 && !(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    err = async_translate_sys_error(errno);
    async__io_detach(tcp->loop, fd);
    tcp->fd_ = -1;
  }
  return err;
}

int async_tcp_bind(async_tcp_t *tcp, const struct sockaddr *addr, unsigned flags) {
  int on = 1, err;
  if (tcp == NULL || addr == NULL || async__addr_len(addr) == 0 || async__is_closing(tcp) ||
      (flags & ~(unsigned)(ASYNC_TCP_IPV6ONLY | ASYNC_TCP_REUSEPORT)) ||
      ((flags & ASYNC_TCP_IPV6ONLY) && addr->sa_family != AF_INET6))
    return ASYNC_EINVAL;
  if ((err = ensure_socket(tcp, addr->sa_family)) != 0)
    return err;
  if (setsockopt(tcp->fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
  if (addr->sa_family == AF_INET6) {
    int v6only = (flags & ASYNC_TCP_IPV6ONLY) != 0;
    if (setsockopt(tcp->fd_, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
      return async_translate_sys_error(errno);
  }
#if defined(SO_REUSEPORT)
  if ((flags & ASYNC_TCP_REUSEPORT) &&
      setsockopt(tcp->fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
#else
  if (flags & ASYNC_TCP_REUSEPORT)
    return ASYNC_ENOTSUP;
#endif
  if (bind(tcp->fd_, addr, async__addr_len(addr)) != 0)
    return async_translate_sys_error(errno);
  return 0;
}

int async_tcp_connect(async_connect_t *req, async_tcp_t *tcp, const struct sockaddr *addr,
                      async_connect_cb cb) {
  int err;
  if (req == NULL || tcp == NULL || addr == NULL || async__addr_len(addr) == 0 ||
      async__is_closing(tcp))
    return ASYNC_EINVAL;
  if ((err = ensure_socket(tcp, addr->sa_family)) != 0)
    return err;
  return async__stream_connect((async_stream_t *)tcp, req, addr, async__addr_len(addr), cb);
}

static int set_opt(const async_tcp_t *tcp, int level, int name, int value) {
  if (tcp == NULL)
    return ASYNC_EINVAL;
  if (tcp->fd_ < 0)
    return ASYNC_EBADF;
  if (setsockopt(tcp->fd_, level, name, &value, sizeof(value)) != 0)
    return async_translate_sys_error(errno);
  return 0;
}

int async_tcp_nodelay(async_tcp_t *tcp, int on) {
  return set_opt(tcp, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

int async_tcp_keepalive(async_tcp_t *tcp, int on, unsigned delay) {
  int err;
  if (on && delay < 1)
    return ASYNC_EINVAL;
  if ((err = set_opt(tcp, SOL_SOCKET, SO_KEEPALIVE, on != 0)) != 0 || !on)
    return err;
#if defined(TCP_KEEPIDLE)
  return set_opt(tcp, IPPROTO_TCP, TCP_KEEPIDLE, (int)delay);
#elif defined(TCP_KEEPALIVE)
  return set_opt(tcp, IPPROTO_TCP, TCP_KEEPALIVE, (int)delay);
#else
  return 0;
#endif
}


int async_tcp_getsockname(const async_tcp_t *tcp, struct sockaddr *name, int *namelen) {
  if (tcp == NULL)
    return ASYNC_EINVAL;
  return async__sock_name(tcp->fd_, name, namelen, 0);
}

int async_tcp_getpeername(const async_tcp_t *tcp, struct sockaddr *name, int *namelen) {
  if (tcp == NULL)
    return ASYNC_EINVAL;
  return async__sock_name(tcp->fd_, name, namelen, 1);
}

/* A zero linger time turns the close into a reset. */
int async_tcp_close_reset(async_tcp_t *tcp, async_close_cb close_cb) {
  struct linger l = {1, 0};
  if (tcp == NULL || async__is_closing(tcp) || tcp->shutdown_ != NULL)
    return ASYNC_EINVAL;
  if (tcp->fd_ >= 0 && setsockopt(tcp->fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) != 0)
    return async_translate_sys_error(errno);
  return async_close((async_handle_t *)tcp, close_cb);
}
