/* TCP handles on Windows: Winsock sockets for the stream layer, plus TCP's
 * own options; the socket helpers UDP shares. */
#include "../sock/sock.h"

#include <mstcpip.h>
#include <string.h>

/* Not inherited by child processes, like the Unix side's close-on-exec. */
SOCKET async__socket(int family, int type, int protocol) {
  SOCKET s = WSASocketW(family, type, protocol, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) { /* before Windows 7 SP1 */
    s = WSASocketW(family, type, protocol, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET)
      SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  }
  return s;
}

/* The socket exists once the family is known; it starts neither readable
 * nor writable: connect or accept makes it so. */
static int ensure_socket(async_tcp_t *tcp, int family) {
  SOCKET s;
  int err;
  if (tcp->fd_ >= 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  s = async__socket(family, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET)
    return async_translate_sys_error(WSAGetLastError());
  err = async__stream_open((async_stream_t *)tcp, s, 0, 0);
  if (err != 0)
    closesocket(s);
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
  SOCKET s = (SOCKET)(uintptr_t)fd;
  int type, len = (int)sizeof(type), connected;
  struct sockaddr_storage peer;
  int plen = (int)sizeof(peer);
  if (tcp == NULL || fd < 0 || async__is_closing(tcp))
    return ASYNC_EINVAL;
  if (tcp->fd_ >= 0)
    return ASYNC_EBUSY;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0)
    return async_translate_sys_error(WSAGetLastError());
  if (type != SOCK_STREAM)
    return ASYNC_EINVAL;
  /* connected: readable and writable; otherwise it may still bind/listen/connect */
  connected = getpeername(s, (struct sockaddr *)&peer, &plen) == 0;
  return async__stream_open((async_stream_t *)tcp, s, (unsigned)connected, (unsigned)connected);
}

/* SO_REUSEADDR is not set: on Windows it would let another socket take the
 * port over. SO_EXCLUSIVEADDRUSE is not set either, so a port in
 * TIME_WAIT binds again, as on Unix. REUSEPORT has no Windows counterpart. */
int async_tcp_bind(async_tcp_t *tcp, const struct sockaddr *addr, unsigned flags) {
  int err;
  if (tcp == NULL || addr == NULL || async__addr_len(addr) == 0 || async__is_closing(tcp) ||
      (flags & ~(unsigned)(ASYNC_TCP_IPV6ONLY | ASYNC_TCP_REUSEPORT)) ||
      ((flags & ASYNC_TCP_IPV6ONLY) && addr->sa_family != AF_INET6))
    return ASYNC_EINVAL;
  if (flags & ASYNC_TCP_REUSEPORT)
    return ASYNC_ENOTSUP;
  if ((err = ensure_socket(tcp, addr->sa_family)) != 0)
    return err;
  if (addr->sa_family == AF_INET6) {
    DWORD v6only = (flags & ASYNC_TCP_IPV6ONLY) != 0;
    if (setsockopt((SOCKET)(uintptr_t)tcp->fd_, IPPROTO_IPV6, IPV6_V6ONLY, (char *)&v6only,
                   (int)sizeof(v6only)) != 0)
      return async_translate_sys_error(WSAGetLastError());
  }
  if (bind((SOCKET)(uintptr_t)tcp->fd_, addr, async__addr_len(addr)) != 0)
    return async_translate_sys_error(WSAGetLastError());
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

static int set_opt(const async_tcp_t *tcp, int level, int name, DWORD value) {
  if (tcp == NULL)
    return ASYNC_EINVAL;
  if (tcp->fd_ < 0)
    return ASYNC_EBADF;
  if (setsockopt((SOCKET)(uintptr_t)tcp->fd_, level, name, (char *)&value, (int)sizeof(value)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

int async_tcp_nodelay(async_tcp_t *tcp, int on) {
  return set_opt(tcp, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

/* The idle time goes through SIO_KEEPALIVE_VALS, in milliseconds. */
int async_tcp_keepalive(async_tcp_t *tcp, int on, unsigned delay) {
  struct tcp_keepalive ka;
  DWORD bytes = 0;
  int err;
  if (on && delay < 1)
    return ASYNC_EINVAL;
  if ((err = set_opt(tcp, SOL_SOCKET, SO_KEEPALIVE, on != 0)) != 0 || !on)
    return err;
  ka.onoff = 1;
  ka.keepalivetime = delay > 4294967u ? 0xffffffffu : delay * 1000u;
  ka.keepaliveinterval = 1000;
  if (WSAIoctl((SOCKET)(uintptr_t)tcp->fd_, SIO_KEEPALIVE_VALS, &ka, sizeof(ka), NULL, 0, &bytes,
               NULL, NULL) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

static int sock_name(const async_tcp_t *tcp, struct sockaddr *name, int *namelen, int peer) {
  SOCKET s;
  if (tcp == NULL || name == NULL || namelen == NULL || *namelen < 0)
    return ASYNC_EINVAL;
  if (tcp->fd_ < 0)
    return ASYNC_EBADF;
  s = (SOCKET)(uintptr_t)tcp->fd_;
  if ((peer ? getpeername(s, name, namelen) : getsockname(s, name, namelen)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

int async_tcp_getsockname(const async_tcp_t *tcp, struct sockaddr *name, int *namelen) {
  return sock_name(tcp, name, namelen, 0);
}

int async_tcp_getpeername(const async_tcp_t *tcp, struct sockaddr *name, int *namelen) {
  return sock_name(tcp, name, namelen, 1);
}

/* A zero linger time turns the close into a reset. */
int async_tcp_close_reset(async_tcp_t *tcp, async_close_cb close_cb) {
  struct linger l;
  if (tcp == NULL || async__is_closing(tcp) || tcp->shutdown_ != NULL)
    return ASYNC_EINVAL;
  l.l_onoff = 1;
  l.l_linger = 0;
  if (tcp->fd_ >= 0 &&
      setsockopt((SOCKET)(uintptr_t)tcp->fd_, SOL_SOCKET, SO_LINGER, (char *)&l, (int)sizeof(l)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return async_close((async_handle_t *)tcp, close_cb);
}
