/* The Winsock datagram calls under src/sock/udp.c (WSASendTo, recvfrom:
 * Windows has no recvmmsg, so ASYNC_UDP_RECVMMSG gives single datagrams),
 * and UDP's socket options. */
#include "../sock/sock.h"

#include <mswsock.h>
#include <string.h>

#define SEND_BATCH 64

/* Windows reports an ICMP port-unreachable for an earlier send as a
 * WSAECONNRESET from the next receive; Unix does not: turned off. */
int async__udp_sock_prepare(SOCKET s) {
  u_long nonblocking = 1;
  BOOL off = FALSE;
  DWORD bytes = 0;
  if (ioctlsocket(s, FIONBIO, &nonblocking) != 0)
    return async_translate_sys_error(WSAGetLastError());
  WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof(off), NULL, 0, &bytes, NULL, NULL);
  return 0;
}

/* One datagram of bufs: the bytes sent, ASYNC_EAGAIN, or an error. */
long async__udp_send_bufs(SOCKET s, const async_buf_t *bufs, unsigned nbufs,
                          const struct sockaddr *addr) {
  WSABUF wb[SEND_BATCH];
  DWORD n, sent = 0;
  if (nbufs > SEND_BATCH)
    return ASYNC_EMSGSIZE;
  for (n = 0; n < nbufs; n++) {
    wb[n].buf = bufs[n].base;
    wb[n].len = bufs[n].len > 0x7fffffff ? 0x7fffffff : (ULONG)bufs[n].len;
  }
  if (WSASendTo(s, wb, n, &sent, 0, addr, addr != NULL ? async__addr_len(addr) : 0, NULL,
                NULL) != 0) {
    int err = WSAGetLastError();
    return err == WSAEWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(err);
  }
  return (long)sent;
}

/* A datagram larger than the buffer fills it and fails with WSAEMSGSIZE:
 * reported as the buffer's length with ASYNC_UDP_PARTIAL. */
int async__udp_recv(async_udp_t *udp, async_buf_t *buf) {
  struct sockaddr_storage peer;
  int plen = (int)sizeof(peer), len, n;
  len = buf->len > 0x7fffffff ? 0x7fffffff : (int)buf->len;
  n = recvfrom(async__sock(udp->fd_), buf->base, len, 0, (struct sockaddr *)&peer, &plen);
  if (n == SOCKET_ERROR) {
    int err = WSAGetLastError();
    if (err == WSAEMSGSIZE) {
      async__recv_call(udp, (long)len, buf, (struct sockaddr *)&peer, ASYNC_UDP_PARTIAL);
      return 1;
    }
    /* 0: nothing more for now, the buffer comes back unused */
    async__recv_call(udp, err == WSAEWOULDBLOCK ? 0 : async_translate_sys_error(err), buf, NULL,
                      0);
    return 0;
  }
  async__recv_call(udp, (long)n, buf, (struct sockaddr *)&peer, 0);
  return 1;
}

static int set(SOCKET s, int level, int name, DWORD value) {
  if (setsockopt(s, level, name, (char *)&value, (int)sizeof(value)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

static int has_socket(const async_udp_t *udp) {
  if (!async__handle_ok(udp, ASYNC_UDP))
    return ASYNC_EINVAL;
  return udp->fd_ < 0 ? ASYNC_EBADF : 0;
}

static int family_of(const async_udp_t *udp) {
  struct sockaddr_storage name;
  int len = (int)sizeof(name);
  if (getsockname(async__sock(udp->fd_), (struct sockaddr *)&name, &len) != 0)
    return AF_INET; /* unbound: made for IPv4 by default */
  return name.ss_family;
}

int async_udp_set_membership(async_udp_t *udp, const char *multicast_addr,
                             const char *interface_addr, enum async_membership membership) {
  int err = has_socket(udp);
  if (err != 0 || multicast_addr == NULL ||
      (membership != ASYNC_JOIN_GROUP && membership != ASYNC_LEAVE_GROUP))
    return err != 0 ? err : ASYNC_EINVAL;
  if (family_of(udp) == AF_INET6) {
    struct ipv6_mreq m;
    memset(&m, 0, sizeof(m));
    if (inet_pton(AF_INET6, multicast_addr, &m.ipv6mr_multiaddr) != 1)
      return ASYNC_EINVAL;
    if (setsockopt(async__sock(udp->fd_), IPPROTO_IPV6,
                   membership == ASYNC_JOIN_GROUP ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP,
                   (char *)&m, (int)sizeof(m)) != 0)
      return async_translate_sys_error(WSAGetLastError());
    return 0;
  } else {
    struct ip_mreq m;
    memset(&m, 0, sizeof(m));
    if (inet_pton(AF_INET, multicast_addr, &m.imr_multiaddr) != 1 ||
        (interface_addr != NULL && inet_pton(AF_INET, interface_addr, &m.imr_interface) != 1))
      return ASYNC_EINVAL;
    if (setsockopt(async__sock(udp->fd_), IPPROTO_IP,
                   membership == ASYNC_JOIN_GROUP ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                   (char *)&m, (int)sizeof(m)) != 0)
      return async_translate_sys_error(WSAGetLastError());
    return 0;
  }
}

/* Options that exist for both families, at either level. */
static int set_either(async_udp_t *udp, int v4name, int v6name, DWORD value) {
  int err = has_socket(udp);
  if (err != 0)
    return err;
  return family_of(udp) == AF_INET6 ? set(async__sock(udp->fd_), IPPROTO_IPV6, v6name, value)
                                    : set(async__sock(udp->fd_), IPPROTO_IP, v4name, value);
}

int async_udp_set_multicast_loop(async_udp_t *udp, int on) {
  return set_either(udp, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, on != 0);
}

int async_udp_set_multicast_ttl(async_udp_t *udp, int ttl) {
  if (ttl < 0 || ttl > 255)
    return ASYNC_EINVAL;
  return set_either(udp, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, (DWORD)ttl);
}

int async_udp_set_ttl(async_udp_t *udp, int ttl) {
  if (ttl < 1 || ttl > 255)
    return ASYNC_EINVAL;
  return set_either(udp, IP_TTL, IPV6_UNICAST_HOPS, (DWORD)ttl);
}

int async_udp_set_broadcast(async_udp_t *udp, int on) {
  int err = has_socket(udp);
  return err != 0 ? err : set(async__sock(udp->fd_), SOL_SOCKET, SO_BROADCAST, on != 0);
}

