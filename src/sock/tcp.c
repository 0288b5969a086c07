/* TCP handles on both worlds: sockets for the stream layer, plus TCP's own
 * options. Where Unix and Winsock differ (socket creation, address reuse,
 * keepalive timing) the world's socket.c decides. */
#include "sock.h"

/* The socket exists once the family is known; it starts neither readable
 * nor writable: connect or accept makes it so. */
static int ensure_socket(async_tcp_t *tcp, int family) {
  async__sock_t s;
  int err;
  if (tcp->fd_ >= 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  s = async__sock_open(family, SOCK_STREAM, IPPROTO_TCP);
  if (s == ASYNC__BAD_SOCK)
    return async_translate_sys_error(async__sock_error());
  err = async__tcp_stream_open((async_stream_t *)tcp, s, 0);
  if (err != 0)
    async__sock_close(s);
  return err;
}

int async_tcp_init_ex(async_loop_t *loop, async_tcp_t *tcp, int family) {
  int err = async__handle_claim(loop, tcp);
  if (err != 0)
    return err;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
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
  async__sock_t s = async__sock(fd);
  int type, connected, err;
  async__socklen_t len = sizeof(type);
  struct sockaddr_storage peer;
  async__socklen_t plen = sizeof(peer);
  if (!async__handle_ok(tcp, ASYNC_TCP) || fd < 0)
    return ASYNC_EINVAL;
  if (tcp->fd_ >= 0)
    return ASYNC_EBUSY;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0)
    return async_translate_sys_error(async__sock_error());
  if (type != SOCK_STREAM)
    return ASYNC_EINVAL;
  /* connected: readable and writable; otherwise it may still bind/listen/connect */
  connected = getpeername(s, (struct sockaddr *)&peer, &plen) == 0;
  err = async__tcp_stream_open((async_stream_t *)tcp, s, (unsigned)connected);
  if (err == 0 && (err = async__sock_nonblock(s)) != 0) {
    async__io_detach(tcp->loop, s);
    tcp->fd_ = -1;
  }
  return err;
}

int async_tcp_bind(async_tcp_t *tcp, const struct sockaddr *addr, unsigned flags) {
  int err;
  if (!async__handle_ok(tcp, ASYNC_TCP) || addr == NULL || async__addr_len(addr) == 0 ||
      (flags & ~(unsigned)(ASYNC_TCP_IPV6ONLY | ASYNC_TCP_REUSEPORT)) ||
      ((flags & ASYNC_TCP_IPV6ONLY) && addr->sa_family != AF_INET6))
    return ASYNC_EINVAL;
  if ((flags & ASYNC_TCP_REUSEPORT) && !ASYNC__HAVE_REUSEPORT)
    return ASYNC_ENOTSUP;
  if ((err = ensure_socket(tcp, addr->sa_family)) != 0)
    return err;
  if ((err = async__sock_reuse(async__sock(tcp->fd_), ASYNC__TCP_REUSEADDR,
                               (flags & ASYNC_TCP_REUSEPORT) != 0)) != 0)
    return err;
  if (addr->sa_family == AF_INET6 &&
      (err = async__sock_setopt(async__sock(tcp->fd_), IPPROTO_IPV6, IPV6_V6ONLY,
                                (flags & ASYNC_TCP_IPV6ONLY) != 0)) != 0)
    return err;
  if (bind(async__sock(tcp->fd_), addr, (async__socklen_t)async__addr_len(addr)) != 0)
    return async_translate_sys_error(async__sock_error());
  return 0;
}

int async_tcp_connect(async_connect_t *req, async_tcp_t *tcp, const struct sockaddr *addr,
                      async_connect_cb cb) {
  int err;
  if (req == NULL || !async__handle_ok(tcp, ASYNC_TCP) || addr == NULL ||
      async__addr_len(addr) == 0)
    return ASYNC_EINVAL;
  /* A socket of the other family would refuse only later, in the callback. */
  if (tcp->fd_ >= 0 && async__sock_family(async__sock(tcp->fd_)) != addr->sa_family)
    return ASYNC_EINVAL;
  if ((err = ensure_socket(tcp, addr->sa_family)) != 0)
    return err;
  return async__tcp_stream_connect((async_stream_t *)tcp, req, addr, async__addr_len(addr), cb);
}

static int set_opt(const async_tcp_t *tcp, int level, int name, int value) {
  if (!async__handle_ok(tcp, ASYNC_TCP))
    return ASYNC_EINVAL;
  if (tcp->fd_ < 0)
    return ASYNC_EBADF;
  return async__sock_setopt(async__sock(tcp->fd_), level, name, value);
}

int async_tcp_nodelay(async_tcp_t *tcp, int on) {
  return set_opt(tcp, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

int async_tcp_keepalive(async_tcp_t *tcp, int on, unsigned delay) {
  int err;
  if (!async__handle_ok(tcp, ASYNC_TCP) || (on && delay < 1))
    return ASYNC_EINVAL;
  if ((err = set_opt(tcp, SOL_SOCKET, SO_KEEPALIVE, on != 0)) != 0 || !on)
    return err;
  return async__tcp_keepidle(async__sock(tcp->fd_), delay);
}

int async_tcp_getsockname(const async_tcp_t *tcp, struct sockaddr *name, int *namelen) {
  if (!async__handle_ok(tcp, ASYNC_TCP))
    return ASYNC_EINVAL;
  return async__sock_name(tcp->fd_, name, namelen, 0);
}

int async_tcp_getpeername(const async_tcp_t *tcp, struct sockaddr *name, int *namelen) {
  if (!async__handle_ok(tcp, ASYNC_TCP))
    return ASYNC_EINVAL;
  return async__sock_name(tcp->fd_, name, namelen, 1);
}

/* A zero linger time turns the close into a reset. */
int async_tcp_close_reset(async_tcp_t *tcp, async_close_cb close_cb) {
  struct linger l;
  if (!async__handle_ok(tcp, ASYNC_TCP) || (tcp->stream_flags_ & ASYNC__STREAM_SHUT))
    return ASYNC_EINVAL; /* a reset after a shutdown would discard what it promised to send */
  l.l_onoff = 1;
  l.l_linger = 0;
  if (tcp->fd_ >= 0) {
    int err = async__sock_setopt_raw(async__sock(tcp->fd_), SOL_SOCKET, SO_LINGER, &l,
                                     (unsigned)sizeof(l));
    if (err != 0)
      return err;
  }
  return async_close((async_handle_t *)tcp, close_cb);
}
