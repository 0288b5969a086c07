/* The Unix datagram calls under src/sock/udp.c (sendmsg, recvmsg and
 * recvmmsg), and UDP's socket options. */
#include "../sock/sock.h"

#include <arpa/inet.h>
#include <string.h>

/* Created non-blocking; an adopted one is made so after it is watched. */
int async__udp_sock_prepare(int fd) {
  (void)fd;
  return 0;
}

/* One datagram out: sendmsg over the caller's buffers. */
long async__udp_send_bufs(int fd, const async_buf_t *bufs, unsigned nbufs,
                          const struct sockaddr *addr) {
  struct msghdr msg;
  ssize_t n;
  memset(&msg, 0, sizeof(msg));
  msg.msg_name = (void *)addr;
  msg.msg_namelen = addr != NULL ? async__addr_len(addr) : 0;
  msg.msg_iov = (struct iovec *)(void *)bufs; /* async_buf_t has struct iovec's layout */
  msg.msg_iovlen = nbufs;
  do
    n = sendmsg(fd, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == EWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(errno);
  return (long)n;
}

#if defined(ASYNC_HAVE_RECVMMSG)
/* Splits buf into datagram-sized chunks for one recvmmsg; each datagram gets
 * a callback, then the whole buffer comes back with ASYNC_UDP_MMSG_FREE.
 * Returns 1 when every chunk was filled (more may wait). */
static int receive_many(async_udp_t *udp, const async_buf_t *buf) {
  struct mmsghdr hdrs[ASYNC__UDP_MMSG_MAX];
  struct iovec iovs[ASYNC__UDP_MMSG_MAX];
  struct sockaddr_storage peers[ASYNC__UDP_MMSG_MAX];
  unsigned n = (unsigned)(buf->len / ASYNC__UDP_RECV_SIZE);
  int r;
  if (n > ASYNC__UDP_MMSG_MAX)
    n = ASYNC__UDP_MMSG_MAX;
  memset(hdrs, 0, n * sizeof(hdrs[0]));
  for (unsigned i = 0; i < n; i++) {
    iovs[i].iov_base = buf->base + (size_t)i * ASYNC__UDP_RECV_SIZE;
    iovs[i].iov_len = ASYNC__UDP_RECV_SIZE;
    hdrs[i].msg_hdr.msg_iov = &iovs[i];
    hdrs[i].msg_hdr.msg_iovlen = 1;
    hdrs[i].msg_hdr.msg_name = &peers[i];
    hdrs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
  }
  do
    r = recvmmsg(udp->fd_, hdrs, n, 0, NULL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    async__recv_call(udp, errno == EWOULDBLOCK ? 0 : async_translate_sys_error(errno), buf, NULL,
                      0);
    return 0;
  }
  for (int i = 0; i < r && (udp->udp_flags_ & ASYNC__UDP_RECEIVING); i++) {
    async_buf_t chunk = {buf->base + (size_t)i * ASYNC__UDP_RECV_SIZE, hdrs[i].msg_len};
    async__recv_call(udp, (long)hdrs[i].msg_len, &chunk, (struct sockaddr *)&peers[i],
                      ASYNC_UDP_MMSG_CHUNK |
                          ((hdrs[i].msg_hdr.msg_flags & MSG_TRUNC) ? ASYNC_UDP_PARTIAL : 0u));
  }
  async__recv_call(udp, 0, buf, NULL, ASYNC_UDP_MMSG_FREE);
  return (unsigned)r == n;
}
#endif

/* Reads one datagram into buf: 1, or 0 when the socket had none (the
 * buffer is handed back) or failed (reported). */
static int receive_one(async_udp_t *udp, async_buf_t *buf) {
  struct sockaddr_storage peer;
  struct msghdr msg;
  struct iovec iov;
  ssize_t n;
  memset(&msg, 0, sizeof(msg));
  iov.iov_base = buf->base;
  iov.iov_len = buf->len;
  msg.msg_name = &peer;
  msg.msg_namelen = sizeof(peer);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  do
    n = recvmsg(udp->fd_, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno == EWOULDBLOCK ? 0 : async_translate_sys_error(errno);
    async__recv_call(udp, err, buf, NULL, 0); /* 0: the buffer comes back unused */
    return 0;
  }
  async__recv_call(udp, (long)n, buf, (struct sockaddr *)&peer,
                    (msg.msg_flags & MSG_TRUNC) ? ASYNC_UDP_PARTIAL : 0u);
  return 1;
}

/* Batch receive takes a buffer of two datagrams or more. */
int async__udp_recv(async_udp_t *udp, async_buf_t *buf) {
#if defined(ASYNC_HAVE_RECVMMSG)
  if ((udp->udp_flags_ & ASYNC__UDP_MMSG) && buf->len >= 2 * ASYNC__UDP_RECV_SIZE)
    return receive_many(udp, buf) ? ASYNC__UDP_RECV_BATCH / 4 : -1; /* a batch counts for several */
#endif
  return receive_one(udp, buf);
}

static int sockopt(async_udp_t *udp, int level4, int name4, int level6, int name6, int value) {
  if (!async__handle_ok(udp, ASYNC_UDP))
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(udp->fd_, (struct sockaddr *)&ss, &len) != 0)
      return async_translate_sys_error(errno);
    if (ss.ss_family == AF_INET6)
      return async__sock_setopt(udp->fd_, level6, name6, value);
    return async__sock_setopt(udp->fd_, level4, name4, value);
  }
}

int async_udp_set_broadcast(async_udp_t *udp, int on) {
  return sockopt(udp, SOL_SOCKET, SO_BROADCAST, SOL_SOCKET, SO_BROADCAST, on != 0);
}

int async_udp_set_ttl(async_udp_t *udp, int ttl) {
  if (ttl < 1 || ttl > 255)
    return ASYNC_EINVAL;
  return sockopt(udp, IPPROTO_IP, IP_TTL, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl);
}

int async_udp_set_multicast_ttl(async_udp_t *udp, int ttl) {
  if (ttl < 0 || ttl > 255)
    return ASYNC_EINVAL;
  return sockopt(udp, IPPROTO_IP, IP_MULTICAST_TTL, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
}

int async_udp_set_multicast_loop(async_udp_t *udp, int on) {
  return sockopt(udp, IPPROTO_IP, IP_MULTICAST_LOOP, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on != 0);
}


int async_udp_set_membership(async_udp_t *udp, const char *multicast_addr,
                             const char *interface_addr, enum async_membership membership) {
  struct ip_mreq m4;
  struct ipv6_mreq m6;
  if (!async__handle_ok(udp, ASYNC_UDP) || multicast_addr == NULL ||
      (membership != ASYNC_JOIN_GROUP && membership != ASYNC_LEAVE_GROUP))
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  memset(&m4, 0, sizeof(m4));
  memset(&m6, 0, sizeof(m6));
  if (inet_pton(AF_INET, multicast_addr, &m4.imr_multiaddr) == 1) {
    m4.imr_interface.s_addr = htonl(INADDR_ANY);
    if (interface_addr != NULL && inet_pton(AF_INET, interface_addr, &m4.imr_interface) != 1)
      return ASYNC_EINVAL;
    return async__sock_setopt_raw(udp->fd_, IPPROTO_IP,
                                  membership == ASYNC_JOIN_GROUP ? IP_ADD_MEMBERSHIP
                                                                 : IP_DROP_MEMBERSHIP,
                                  &m4, (unsigned)sizeof(m4));
  }
#if !defined(IPV6_ADD_MEMBERSHIP) /* the BSDs' names */
# define IPV6_ADD_MEMBERSHIP IPV6_JOIN_GROUP
# define IPV6_DROP_MEMBERSHIP IPV6_LEAVE_GROUP
#endif
  if (inet_pton(AF_INET6, multicast_addr, &m6.ipv6mr_multiaddr) == 1) {
    return async__sock_setopt_raw(udp->fd_, IPPROTO_IPV6,
                                  membership == ASYNC_JOIN_GROUP ? IPV6_ADD_MEMBERSHIP
                                                                 : IPV6_DROP_MEMBERSHIP,
                                  &m6, (unsigned)sizeof(m6));
  }
  return ASYNC_EINVAL;
}
