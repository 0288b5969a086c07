/* UDP on Windows, over socket readiness like TCP: datagrams are received
 * while the socket is readable (one per buffer: Windows has no recvmmsg,
 * so ASYNC_UDP_RECVMMSG is accepted and gives single datagrams), and sends
 * are tried at once, queued only when Winsock refuses them. Callbacks of
 * sends run from the loop, never inside the call. */
#include "../sock/sock.h"

#include <mswsock.h>
#include <string.h>

#define RECV_SIZE 65536
#define RECV_BATCH 32
#define SEND_BATCH 64

enum { BOUND = 1, CONNECTED = 2, RECEIVING = 4 };

#define UDP_OF(w) async__container_of(w, async_udp_t, io_)
#define SOCK(u) ((SOCKET)(uintptr_t)(u)->fd_)

static void udp_io(async_watch_t *w, int status, unsigned events);

static int update_interest(async_udp_t *udp) {
  unsigned want = ((udp->udp_flags_ & RECEIVING) ? ASYNC_READABLE : 0u) |
                  (async__list_empty(&udp->queue_) ? 0u : ASYNC_WRITABLE);
  udp->io_.events_ = want;
  return async__io_set(udp->loop, SOCK(udp), want);
}

/* Windows reports an ICMP port-unreachable for an earlier send as a
 * WSAECONNRESET from the next receive; Unix does not: turned off. */
static int attach(async_udp_t *udp, SOCKET s) {
  u_long nonblocking = 1;
  BOOL off = FALSE;
  DWORD bytes = 0;
  int err;
  if (ioctlsocket(s, FIONBIO, &nonblocking) != 0)
    return async_translate_sys_error(WSAGetLastError());
  WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof(off), NULL, 0, &bytes, NULL, NULL);
  err = async__io_attach_internal(udp->loop, &udp->io_, s, udp_io);
  if (err == 0)
    udp->fd_ = (int)s;
  return err;
}

static int ensure_socket(async_udp_t *udp, int family) {
  SOCKET s;
  int err;
  if (udp->fd_ >= 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  s = async__sock_open(family, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET)
    return async_translate_sys_error(WSAGetLastError());
  if ((err = attach(udp, s)) != 0)
    closesocket(s);
  return err;
}

int async_udp_init_ex(async_loop_t *loop, async_udp_t *udp, int family) {
  int err;
  family &= ~ASYNC_UDP_RECVMMSG;
  if (loop == NULL || udp == NULL ||
      (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_UDP))
    return ASYNC_ENOTSUP;
  udp->send_queue_size = 0;
  udp->send_queue_count = 0;
  udp->fd_ = -1;
  udp->udp_flags_ = 0;
  udp->alloc_cb_ = NULL;
  async__list_init(&udp->queue_);
  async__list_init(&udp->done_);
  async_defer_init(&udp->report_);
  err = async__handle_init(loop, (async_handle_t *)udp, ASYNC_UDP);
  if (err == 0 && family != AF_UNSPEC && (err = ensure_socket(udp, family)) != 0)
    async__handle_uninit((async_handle_t *)udp);
  return err;
}

int async_udp_init(async_loop_t *loop, async_udp_t *udp) {
  return async_udp_init_ex(loop, udp, AF_UNSPEC);
}

int async_udp_open(async_udp_t *udp, int fd) {
  SOCKET s = (SOCKET)(uintptr_t)fd;
  struct sockaddr_storage name;
  int type, len = (int)sizeof(type), nlen = (int)sizeof(name), err;
  if (udp == NULL || fd < 0 || async__is_closing(udp))
    return ASYNC_EINVAL;
  if (udp->fd_ >= 0)
    return ASYNC_EBUSY;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0)
    return async_translate_sys_error(WSAGetLastError());
  if (type != SOCK_DGRAM)
    return ASYNC_EINVAL;
  if ((err = attach(udp, s)) != 0)
    return err;
  if (getsockname(s, (struct sockaddr *)&name, &nlen) == 0)
    udp->udp_flags_ |= BOUND;
  nlen = (int)sizeof(name);
  if (getpeername(s, (struct sockaddr *)&name, &nlen) == 0)
    udp->udp_flags_ |= CONNECTED;
  return 0;
}

static int set(SOCKET s, int level, int name, DWORD value) {
  if (setsockopt(s, level, name, (char *)&value, (int)sizeof(value)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

int async_udp_bind(async_udp_t *udp, const struct sockaddr *addr, unsigned flags) {
  int err;
  if (udp == NULL || addr == NULL || async__addr_len(addr) == 0 || async__is_closing(udp) ||
      (flags & ~(unsigned)(ASYNC_UDP_IPV6ONLY | ASYNC_UDP_REUSEADDR | ASYNC_UDP_REUSEPORT)) ||
      ((flags & ASYNC_UDP_IPV6ONLY) && addr->sa_family != AF_INET6))
    return ASYNC_EINVAL;
  if (flags & ASYNC_UDP_REUSEPORT)
    return ASYNC_ENOTSUP; /* no Windows counterpart */
  if ((err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  if ((flags & ASYNC_UDP_REUSEADDR) && (err = set(SOCK(udp), SOL_SOCKET, SO_REUSEADDR, 1)) != 0)
    return err;
  if (addr->sa_family == AF_INET6 &&
      (err = set(SOCK(udp), IPPROTO_IPV6, IPV6_V6ONLY, (flags & ASYNC_UDP_IPV6ONLY) != 0)) != 0)
    return err;
  if (bind(SOCK(udp), addr, async__addr_len(addr)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  udp->udp_flags_ |= BOUND;
  return 0;
}

/* Winsock dissolves a datagram socket's peer on a connect to the zero address. */
int async_udp_connect(async_udp_t *udp, const struct sockaddr *addr) {
  int err;
  if (udp == NULL || async__is_closing(udp) || (addr != NULL && async__addr_len(addr) == 0))
    return ASYNC_EINVAL;
  if (addr == NULL) {
    struct sockaddr_storage none;
    if (!(udp->udp_flags_ & CONNECTED))
      return ASYNC_ENOTCONN;
    memset(&none, 0, sizeof(none));
    if (connect(SOCK(udp), (struct sockaddr *)&none, (int)sizeof(none)) != 0)
      return async_translate_sys_error(WSAGetLastError());
    udp->udp_flags_ &= ~(unsigned)CONNECTED;
    return 0;
  }
  if (udp->udp_flags_ & CONNECTED)
    return ASYNC_EISCONN;
  if ((err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  if (connect(SOCK(udp), addr, async__addr_len(addr)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  udp->udp_flags_ |= CONNECTED | BOUND;
  return 0;
}

static int name_of(const async_udp_t *udp, struct sockaddr *name, int *namelen, int peer) {
  if (udp == NULL || name == NULL || namelen == NULL || *namelen < 0)
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  if (peer && !(udp->udp_flags_ & CONNECTED))
    return ASYNC_ENOTCONN;
  if ((peer ? getpeername(SOCK(udp), name, namelen) : getsockname(SOCK(udp), name, namelen)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

int async_udp_getsockname(const async_udp_t *udp, struct sockaddr *name, int *namelen) {
  return name_of(udp, name, namelen, 0);
}

int async_udp_getpeername(const async_udp_t *udp, struct sockaddr *name, int *namelen) {
  return name_of(udp, name, namelen, 1);
}

static size_t total_len(const async_buf_t *bufs, unsigned nbufs) {
  size_t n = 0;
  for (unsigned i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}

/* One datagram of bufs: the bytes sent, ASYNC_EAGAIN, or an error. */
static long send_bufs(SOCKET s, const async_buf_t *bufs, unsigned nbufs,
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

static void finish(async_udp_t *udp, async_udp_send_t *req, int status) {
  async__list_remove(&req->link_);
  udp->send_queue_size -= total_len(req->bufs_, req->nbufs_);
  udp->send_queue_count--;
  req->status_ = status;
  async__list_insert_tail(&udp->done_, &req->link_);
}

static void report_one(async_udp_t *udp) {
  async_udp_send_t *req = async__container_of(udp->done_.next, async_udp_send_t, link_);
  async__list_remove(&req->link_);
  if (req->bufs_ != req->small_)
    async__free(req->bufs_);
  req->state_ = 0;
  udp->loop->active_reqs_--;
  if (req->cb_ != NULL)
    req->cb_(req, req->status_);
}

static void run_done(async_udp_t *udp) {
  while (!async__list_empty(&udp->done_) && !async__is_closing(udp))
    report_one(udp);
}

static void report_cb(async_defer_t *d) { run_done(async__container_of(d, async_udp_t, report_)); }

/* Sends what Winsock takes; 1 if some wait for writability. */
static int flush(async_udp_t *udp) {
  while (!async__list_empty(&udp->queue_)) {
    async_udp_send_t *req = async__container_of(udp->queue_.next, async_udp_send_t, link_);
    long n = send_bufs(SOCK(udp), req->bufs_, req->nbufs_,
                       req->has_addr_ ? (struct sockaddr *)&req->addr_ : NULL);
    if (n == ASYNC_EAGAIN)
      return 1;
    finish(udp, req, n < 0 ? (int)n : 0);
  }
  return 0;
}

int async_udp_send(async_udp_send_t *req, async_udp_t *udp, const async_buf_t bufs[],
                   unsigned nbufs, const struct sockaddr *addr, async_udp_send_cb cb) {
  int err;
  if (req == NULL || udp == NULL || (bufs == NULL && nbufs > 0) || async__is_closing(udp) ||
      (addr != NULL && async__addr_len(addr) == 0))
    return ASYNC_EINVAL;
  if ((addr == NULL) != ((udp->udp_flags_ & CONNECTED) != 0))
    return ASYNC_EINVAL; /* a connected socket takes no address, an unconnected one needs one */
  if (addr != NULL && (err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  req->bufs_ = nbufs <= 4 ? req->small_ : async__malloc(nbufs * sizeof(async_buf_t));
  if (req->bufs_ == NULL)
    return ASYNC_ENOMEM;
  if (nbufs > 0)
    memcpy(req->bufs_, bufs, nbufs * sizeof(async_buf_t));
  req->nbufs_ = nbufs;
  req->has_addr_ = addr != NULL;
  if (addr != NULL)
    memcpy(&req->addr_, addr, (size_t)async__addr_len(addr));
  req->handle = udp;
  req->cb_ = cb;
  req->loop = udp->loop;
  req->type = ASYNC_UDP_SEND;
  req->state_ = 1;
  req->status_ = 0;
  async__list_insert_tail(&udp->queue_, &req->link_);
  udp->send_queue_size += total_len(bufs, nbufs);
  udp->send_queue_count++;
  udp->loop->active_reqs_++;
  udp->udp_flags_ |= BOUND; /* sending binds an unbound socket */
  if (udp->queue_.next == &req->link_ && flush(udp))
    return update_interest(udp); /* only a refused send adds write interest */
  if (!async__list_empty(&udp->done_) && !async_defer_pending(&udp->report_))
    async_defer(udp->loop, &udp->report_, report_cb);
  return 0;
}

long async_udp_try_send(async_udp_t *udp, const async_buf_t bufs[], unsigned nbufs,
                        const struct sockaddr *addr) {
  int err;
  if (udp == NULL || (bufs == NULL && nbufs > 0) || async__is_closing(udp) ||
      (addr != NULL && async__addr_len(addr) == 0) ||
      (addr == NULL) != ((udp->udp_flags_ & CONNECTED) != 0))
    return ASYNC_EINVAL;
  if (!async__list_empty(&udp->queue_))
    return ASYNC_EAGAIN;
  if (addr != NULL && (err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  udp->udp_flags_ |= BOUND;
  return send_bufs(SOCK(udp), bufs, nbufs, addr);
}

/* A datagram larger than the buffer fills it and fails with WSAEMSGSIZE:
 * reported as the buffer's length with ASYNC_UDP_PARTIAL. */
static void receive(async_udp_t *udp) {
  for (int i = 0; i < RECV_BATCH && (udp->udp_flags_ & RECEIVING); i++) {
    struct sockaddr_storage peer;
    int plen = (int)sizeof(peer), len, n;
    async_buf_t buf = {NULL, 0};
    udp->alloc_cb_((async_handle_t *)udp, RECV_SIZE, &buf);
    if (buf.base == NULL || buf.len == 0) {
      udp->cb_.udp_recv(udp, ASYNC_ENOBUFS, &buf, NULL, 0);
      return;
    }
    len = buf.len > 0x7fffffff ? 0x7fffffff : (int)buf.len;
    n = recvfrom(SOCK(udp), buf.base, len, 0, (struct sockaddr *)&peer, &plen);
    if (n == SOCKET_ERROR) {
      int err = WSAGetLastError();
      if (err == WSAEMSGSIZE) {
        udp->cb_.udp_recv(udp, (long)len, &buf, (struct sockaddr *)&peer, ASYNC_UDP_PARTIAL);
        continue;
      }
      /* 0: nothing more for now, the buffer comes back unused */
      udp->cb_.udp_recv(udp, err == WSAEWOULDBLOCK ? 0 : async_translate_sys_error(err), &buf,
                        NULL, 0);
      return;
    }
    udp->cb_.udp_recv(udp, (long)n, &buf, (struct sockaddr *)&peer, 0);
  }
}

static void udp_io(async_watch_t *w, int status, unsigned events) {
  async_udp_t *udp = UDP_OF(w);
  (void)status;
  if ((events & (ASYNC_READABLE | ASYNC_ERROR)) && (udp->udp_flags_ & RECEIVING))
    receive(udp);
  if (async__is_closing(udp))
    return;
  if (events & (ASYNC_WRITABLE | ASYNC_ERROR)) {
    flush(udp);
    run_done(udp);
    if (!async__is_closing(udp))
      update_interest(udp);
  }
}

int async_udp_recv_start(async_udp_t *udp, async_alloc_cb alloc_cb, async_udp_recv_cb recv_cb) {
  int err;
  if (udp == NULL || alloc_cb == NULL || recv_cb == NULL || async__is_closing(udp))
    return ASYNC_EINVAL;
  if (udp->udp_flags_ & RECEIVING)
    return ASYNC_EALREADY;
  if (!(udp->udp_flags_ & BOUND)) { /* like sending: an ephemeral port on every address */
    struct sockaddr_in any;
    memset(&any, 0, sizeof(any));
    any.sin_family = AF_INET;
    if ((err = async_udp_bind(udp, (struct sockaddr *)&any, 0)) != 0)
      return err;
  }
  udp->alloc_cb_ = alloc_cb;
  udp->cb_.udp_recv = recv_cb;
  udp->udp_flags_ |= RECEIVING;
  if ((err = update_interest(udp)) != 0) {
    udp->udp_flags_ &= ~(unsigned)RECEIVING;
    return err;
  }
  async__handle_start((async_handle_t *)udp);
  return 0;
}

int async_udp_recv_stop(async_udp_t *udp) {
  if (udp == NULL || async__is_closing(udp))
    return ASYNC_EINVAL;
  if (udp->udp_flags_ & RECEIVING) {
    udp->udp_flags_ &= ~(unsigned)RECEIVING;
    async__handle_stop((async_handle_t *)udp);
    update_interest(udp);
  }
  return 0;
}

static int has_socket(const async_udp_t *udp) {
  if (udp == NULL)
    return ASYNC_EINVAL;
  return udp->fd_ < 0 ? ASYNC_EBADF : 0;
}

static int family_of(const async_udp_t *udp) {
  struct sockaddr_storage name;
  int len = (int)sizeof(name);
  if (getsockname(SOCK(udp), (struct sockaddr *)&name, &len) != 0)
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
    if (setsockopt(SOCK(udp), IPPROTO_IPV6,
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
    if (setsockopt(SOCK(udp), IPPROTO_IP,
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
  return family_of(udp) == AF_INET6 ? set(SOCK(udp), IPPROTO_IPV6, v6name, value)
                                    : set(SOCK(udp), IPPROTO_IP, v4name, value);
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
  return err != 0 ? err : set(SOCK(udp), SOL_SOCKET, SO_BROADCAST, on != 0);
}

int async_udp_set_multicast_interface(async_udp_t *udp, const char *interface_addr) {
  struct in_addr a;
  int err = has_socket(udp);
  if (err != 0)
    return err;
  if (family_of(udp) == AF_INET6)
    return ASYNC_ENOTSUP; /* an interface index, not an address, on IPv6 */
  a.s_addr = htonl(INADDR_ANY);
  if (interface_addr != NULL && inet_pton(AF_INET, interface_addr, &a) != 1)
    return ASYNC_EINVAL;
  if (setsockopt(SOCK(udp), IPPROTO_IP, IP_MULTICAST_IF, (char *)&a, (int)sizeof(a)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

void async__udp_close(async_udp_t *udp) {
  udp->udp_flags_ &= ~(unsigned)RECEIVING;
  async_defer_cancel(&udp->report_);
  while (!async__list_empty(&udp->queue_))
    finish(udp, async__container_of(udp->queue_.next, async_udp_send_t, link_), ASYNC_ECANCELED);
  if (udp->fd_ >= 0) {
    async__io_detach(udp->loop, SOCK(udp));
    closesocket(SOCK(udp));
    udp->fd_ = -1;
  }
}

void async__udp_finish_close(async_udp_t *udp) {
  while (!async__list_empty(&udp->done_))
    report_one(udp);
}
