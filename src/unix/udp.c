/* UDP over readiness: a datagram socket behind an internal fd watcher.
 * A send is tried at once when nothing is queued, so the common case never
 * touches the backend; only a send the kernel refuses adds write interest.
 * Send callbacks always run from the loop, never inside async_udp_send. */
#include "../sock/sock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECV_SIZE 65536
#define RECV_BATCH 32 /* datagrams per wakeup before other handles get a turn */

enum { BOUND = 1, CONNECTED = 2, RECEIVING = 4, MMSG = 8 };
#define BUDGET_SHIFT 16 /* udp_flags_ bits above hold the receive budget */

#define MMSG_MAX 32 /* datagrams per recvmmsg */

#define UDP_OF(w) async__container_of(w, async_udp_t, io_)

static void udp_io(async_watch_t *w, int status, unsigned events);

/* Events the socket needs: reading while receiving, writing while sends wait. */
static int update_interest(async_udp_t *udp) {
  unsigned want = ((udp->udp_flags_ & RECEIVING) ? ASYNC_READABLE : 0u) |
                  (async__list_empty(&udp->queue_) ? 0u : ASYNC_WRITABLE);
  udp->io_.events_ = want;
  return async__io_set(udp->loop, udp->fd_, want);
}

static int attach(async_udp_t *udp, int fd) {
  int err = async__io_attach_internal(udp->loop, &udp->io_, fd, udp_io);
  if (err == 0)
    udp->fd_ = fd;
  return err;
}

static int ensure_socket(async_udp_t *udp, int family) {
  int fd, err;
  if (udp->fd_ >= 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return async_translate_sys_error(errno);
  err = attach(udp, fd);
  if (err != 0)
    close(fd);
  return err;
}

int async_udp_init_ex(async_loop_t *loop, async_udp_t *udp, int family) {
  int err;
  unsigned mmsg = (unsigned)family & ASYNC_UDP_RECVMMSG;
  family &= ~ASYNC_UDP_RECVMMSG;
  if (loop == NULL || udp == NULL ||
      (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_UDP))
    return ASYNC_ENOTSUP;
  udp->loop = loop;
  udp->fd_ = -1;
#if defined(ASYNC_HAVE_RECVMMSG)
  udp->udp_flags_ = mmsg ? MMSG : 0u;
#else
  udp->udp_flags_ = 0; /* one recvmsg per datagram: still correct */
  (void)mmsg;
#endif
  udp->send_queue_size = udp->send_queue_count = 0;
  async_defer_init(&udp->report_);
  async__list_init(&udp->queue_);
  async__list_init(&udp->done_);
  if (family != AF_UNSPEC && (err = ensure_socket(udp, family)) != 0)
    return err;
  err = async__handle_init(loop, (async_handle_t *)udp, ASYNC_UDP);
  if (err != 0 && udp->fd_ >= 0) {
    async__io_detach(loop, udp->fd_);
    close(udp->fd_);
  }
  return err;
}

int async_udp_init(async_loop_t *loop, async_udp_t *udp) {
  return async_udp_init_ex(loop, udp, AF_UNSPEC);
}

int async_udp_open(async_udp_t *udp, int fd) {
  int type, err;
  socklen_t len = sizeof(type);
  if (udp == NULL || fd < 0 || async__is_closing(udp))
    return ASYNC_EINVAL;
  if (udp->fd_ >= 0)
    return ASYNC_EBUSY;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return async_translate_sys_error(errno);
  if (type != SOCK_DGRAM)
    return ASYNC_EINVAL;
  err = attach(udp, fd); /* first: a refusal leaves the fd as it was */
  if (err == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    err = async_translate_sys_error(errno);
    async__io_detach(udp->loop, fd);
    udp->fd_ = -1;
  }
  return err;
}

int async_udp_bind(async_udp_t *udp, const struct sockaddr *addr, unsigned flags) {
  int on = 1, err;
  if (udp == NULL || addr == NULL || async__addr_len(addr) == 0 || async__is_closing(udp) ||
      (flags & ~(unsigned)(ASYNC_UDP_IPV6ONLY | ASYNC_UDP_REUSEADDR | ASYNC_UDP_REUSEPORT)) ||
      ((flags & ASYNC_UDP_IPV6ONLY) && addr->sa_family != AF_INET6))
    return ASYNC_EINVAL;
  if ((err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  if ((flags & ASYNC_UDP_IPV6ONLY) &&
      setsockopt(udp->fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
  if ((flags & ASYNC_UDP_REUSEADDR) &&
      setsockopt(udp->fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
#if defined(SO_REUSEPORT)
  if ((flags & ASYNC_UDP_REUSEPORT) &&
      setsockopt(udp->fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    return async_translate_sys_error(errno);
#else
  if (flags & ASYNC_UDP_REUSEPORT)
    return ASYNC_ENOTSUP;
#endif
  if (bind(udp->fd_, addr, async__addr_len(addr)) != 0)
    return async_translate_sys_error(errno);
  udp->udp_flags_ |= BOUND;
  return 0;
}

int async_udp_connect(async_udp_t *udp, const struct sockaddr *addr) {
  int err;
  if (udp == NULL || async__is_closing(udp) || (addr != NULL && async__addr_len(addr) == 0))
    return ASYNC_EINVAL;
  if (addr == NULL) {
    struct sockaddr unspec;
    if (!(udp->udp_flags_ & CONNECTED))
      return ASYNC_ENOTCONN;
    memset(&unspec, 0, sizeof(unspec));
    unspec.sa_family = AF_UNSPEC;
    if (connect(udp->fd_, &unspec, sizeof(unspec)) != 0 && errno != EAFNOSUPPORT)
      return async_translate_sys_error(errno);
    udp->udp_flags_ &= ~(unsigned)CONNECTED;
    return 0;
  }
  if (udp->udp_flags_ & CONNECTED)
    return ASYNC_EISCONN;
  if ((err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  if (connect(udp->fd_, addr, async__addr_len(addr)) != 0)
    return async_translate_sys_error(errno);
  udp->udp_flags_ |= CONNECTED | BOUND;
  return 0;
}


int async_udp_getsockname(const async_udp_t *udp, struct sockaddr *name, int *namelen) {
  if (udp == NULL)
    return ASYNC_EINVAL;
  return async__sock_name(udp->fd_, name, namelen, 0);
}

int async_udp_getpeername(const async_udp_t *udp, struct sockaddr *name, int *namelen) {
  if (udp == NULL)
    return ASYNC_EINVAL;
  return async__sock_name(udp->fd_, name, namelen, 1);
}

/* One datagram out: sendmsg over the caller's buffers. */
static long send_bufs(int fd, const async_buf_t *bufs, unsigned nbufs, const struct sockaddr *addr) {
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

static size_t total_len(const async_buf_t *bufs, unsigned nbufs) {
  size_t n = 0;
  for (unsigned i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}

/* Calls back the first finished request. */
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

/* Calls back every finished request. A callback may close the handle: the
 * rest then wait for the close phase (async__udp_finish_close). */
static void run_done(async_udp_t *udp) {
  while (!async__list_empty(&udp->done_) && !async__is_closing(udp))
    report_one(udp);
}

static void finish(async_udp_t *udp, async_udp_send_t *req, int status) {
  async__list_remove(&req->link_);
  udp->send_queue_size -= total_len(req->bufs_, req->nbufs_);
  udp->send_queue_count--;
  req->status_ = status;
  async__list_insert_tail(&udp->done_, &req->link_);
}

/* Sends what the kernel takes; returns 1 if sends still wait. */
static int flush(async_udp_t *udp) {
  while (!async__list_empty(&udp->queue_)) {
    async_udp_send_t *req = async__container_of(udp->queue_.next, async_udp_send_t, link_);
    long n = send_bufs(udp->fd_, req->bufs_, req->nbufs_,
                       req->has_addr_ ? (struct sockaddr *)&req->addr_ : NULL);
    if (n == ASYNC_EAGAIN)
      return 1;
    finish(udp, req, n < 0 ? (int)n : 0);
  }
  return 0;
}

static void report_cb(async_defer_t *d) {
  run_done(async__container_of(d, async_udp_t, report_));
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
    memcpy(&req->addr_, addr, async__addr_len(addr));
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
  /* A send the kernel takes now is reported on the loop's next ready-queue
   * step; only one it refuses adds write interest. */
  if (flush(udp))
    return update_interest(udp);
  if (!async_defer_pending(&udp->report_))
    async_defer(udp->loop, &udp->report_, report_cb);
  return 0;
}

long async_udp_try_send(async_udp_t *udp, const async_buf_t bufs[], unsigned nbufs,
                        const struct sockaddr *addr) {
  int err;
  if (udp == NULL || (bufs == NULL && nbufs > 0) || async__is_closing(udp) ||
      (addr != NULL && async__addr_len(addr) == 0) ||
      ((addr == NULL) != ((udp->udp_flags_ & CONNECTED) != 0)))
    return ASYNC_EINVAL;
  if (!async__list_empty(&udp->queue_))
    return ASYNC_EAGAIN;
  if (addr != NULL && (err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  udp->udp_flags_ |= BOUND;
  return send_bufs(udp->fd_, bufs, nbufs, addr);
}

#if defined(ASYNC_HAVE_RECVMMSG)
/* Splits buf into datagram-sized chunks for one recvmmsg; each datagram gets
 * a callback, then the whole buffer comes back with ASYNC_UDP_MMSG_FREE.
 * Returns 1 when every chunk was filled (more may wait). */
static int receive_many(async_udp_t *udp, const async_buf_t *buf) {
  struct mmsghdr hdrs[MMSG_MAX];
  struct iovec iovs[MMSG_MAX];
  struct sockaddr_storage peers[MMSG_MAX];
  unsigned n = (unsigned)(buf->len / RECV_SIZE);
  int r;
  if (n > MMSG_MAX)
    n = MMSG_MAX;
  memset(hdrs, 0, n * sizeof(hdrs[0]));
  for (unsigned i = 0; i < n; i++) {
    iovs[i].iov_base = buf->base + (size_t)i * RECV_SIZE;
    iovs[i].iov_len = RECV_SIZE;
    hdrs[i].msg_hdr.msg_iov = &iovs[i];
    hdrs[i].msg_hdr.msg_iovlen = 1;
    hdrs[i].msg_hdr.msg_name = &peers[i];
    hdrs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
  }
  do
    r = recvmmsg(udp->fd_, hdrs, n, 0, NULL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    udp->cb_.udp_recv(udp, errno == EWOULDBLOCK ? 0 : async_translate_sys_error(errno), buf, NULL,
                      0);
    return 0;
  }
  for (int i = 0; i < r && (udp->udp_flags_ & RECEIVING); i++) {
    async_buf_t chunk = {buf->base + (size_t)i * RECV_SIZE, hdrs[i].msg_len};
    udp->cb_.udp_recv(udp, (long)hdrs[i].msg_len, &chunk, (struct sockaddr *)&peers[i],
                      ASYNC_UDP_MMSG_CHUNK |
                          ((hdrs[i].msg_hdr.msg_flags & MSG_TRUNC) ? ASYNC_UDP_PARTIAL : 0u));
  }
  udp->cb_.udp_recv(udp, 0, buf, NULL, ASYNC_UDP_MMSG_FREE);
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
    udp->cb_.udp_recv(udp, err, buf, NULL, 0); /* 0: the buffer comes back unused */
    return 0;
  }
  udp->cb_.udp_recv(udp, (long)n, buf, (struct sockaddr *)&peer,
                    (msg.msg_flags & MSG_TRUNC) ? ASYNC_UDP_PARTIAL : 0u);
  return 1;
}

/* Datagrams read per wakeup adapt. A wakeup that drained the socket early
 * sets the budget to what it found; after FULL_STREAK wakeups in a row that
 * each used the whole budget, it doubles (up to RECV_BATCH). A socket that
 * gets one datagram at a time is then mostly read once per wakeup, not once
 * more only to hear EAGAIN (the level-triggered backend reports what is
 * left on the next poll), while a flood soon reads 32 per wakeup. */
#define FULL_STREAK 4

static unsigned budget_of(const async_udp_t *udp) {
  unsigned b = (udp->udp_flags_ >> BUDGET_SHIFT) & 0xffu;
  return b != 0 ? b : 1;
}

static void set_budget(async_udp_t *udp, unsigned b, unsigned streak) {
  udp->udp_flags_ = (udp->udp_flags_ & ((1u << BUDGET_SHIFT) - 1)) | (b << BUDGET_SHIFT) |
                    (streak << (BUDGET_SHIFT + 8));
}

static void adapt_budget(async_udp_t *udp, unsigned budget, unsigned got) {
  unsigned streak = udp->udp_flags_ >> (BUDGET_SHIFT + 8);
  if (got < budget)
    set_budget(udp, got > 0 ? got : 1, 0);
  else if (++streak < FULL_STREAK)
    set_budget(udp, budget, streak);
  else
    set_budget(udp, budget * 2 < RECV_BATCH ? budget * 2 : RECV_BATCH, 0);
}

static void receive(async_udp_t *udp) {
  unsigned budget = budget_of(udp), got = 0;
  while (got < budget && (udp->udp_flags_ & RECEIVING)) {
    async_buf_t buf = {NULL, 0};
    int more;
    udp->alloc_cb_((async_handle_t *)udp, (udp->udp_flags_ & MMSG) ? MMSG_MAX * RECV_SIZE : RECV_SIZE,
                   &buf);
    if (buf.base == NULL || buf.len == 0) {
      udp->cb_.udp_recv(udp, ASYNC_ENOBUFS, &buf, NULL, 0);
      return;
    }
#if defined(ASYNC_HAVE_RECVMMSG)
    if ((udp->udp_flags_ & MMSG) && buf.len >= 2 * RECV_SIZE) {
      if (!receive_many(udp, &buf))
        return;
      got += RECV_BATCH / 4; /* a full batch counts for several datagrams */
      continue;
    }
#endif
    more = receive_one(udp, &buf);
    if (!more)
      break;
    got++;
  }
  if (!async__is_closing(udp))
    adapt_budget(udp, budget, got);
}

static void udp_io(async_watch_t *w, int status, unsigned events) {
  async_udp_t *udp = UDP_OF(w);
  (void)status;
  if (events & (ASYNC_READABLE | ASYNC_ERROR))
    if (udp->udp_flags_ & RECEIVING)
      receive(udp);
  if (async__is_closing(udp))
    return;
  if (events & ASYNC_WRITABLE) {
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
  err = update_interest(udp);
  if (err != 0) {
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
    if (udp->fd_ >= 0)
      update_interest(udp);
  }
  return 0;
}

/* async_close: stop everything now; callbacks run in async__udp_finish_close. */
void async__udp_close(async_udp_t *udp) {
  udp->udp_flags_ &= ~(unsigned)RECEIVING;
  async_defer_cancel(&udp->report_);
  while (!async__list_empty(&udp->queue_))
    finish(udp, async__container_of(udp->queue_.next, async_udp_send_t, link_), ASYNC_ECANCELED);
  if (udp->fd_ >= 0) {
    async__io_detach(udp->loop, udp->fd_);
    close(udp->fd_);
    udp->fd_ = -1;
  }
}

/* From the close phase, just before the close callback. */
void async__udp_finish_close(async_udp_t *udp) {
  while (!async__list_empty(&udp->done_))
    report_one(udp);
}

static int sockopt(async_udp_t *udp, int level4, int name4, int level6, int name6, int value) {
  int rc;
  if (udp == NULL)
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(udp->fd_, (struct sockaddr *)&ss, &len) != 0)
      return async_translate_sys_error(errno);
    if (ss.ss_family == AF_INET6)
      rc = setsockopt(udp->fd_, level6, name6, &value, sizeof(value));
    else
      rc = setsockopt(udp->fd_, level4, name4, &value, sizeof(value));
  }
  return rc != 0 ? async_translate_sys_error(errno) : 0;
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

int async_udp_set_multicast_interface(async_udp_t *udp, const char *interface_addr) {
  struct in_addr in4;
  if (udp == NULL || interface_addr == NULL)
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  if (inet_pton(AF_INET, interface_addr, &in4) == 1) {
    if (setsockopt(udp->fd_, IPPROTO_IP, IP_MULTICAST_IF, &in4, sizeof(in4)) != 0)
      return async_translate_sys_error(errno);
    return 0;
  }
  return ASYNC_EINVAL;
}

int async_udp_set_membership(async_udp_t *udp, const char *multicast_addr,
                             const char *interface_addr, enum async_membership membership) {
  struct ip_mreq m4;
  struct ipv6_mreq m6;
  if (udp == NULL || multicast_addr == NULL ||
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
    if (setsockopt(udp->fd_, IPPROTO_IP,
                   membership == ASYNC_JOIN_GROUP ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m4,
                   sizeof(m4)) != 0)
      return async_translate_sys_error(errno);
    return 0;
  }
  if (inet_pton(AF_INET6, multicast_addr, &m6.ipv6mr_multiaddr) == 1) {
    if (setsockopt(udp->fd_, IPPROTO_IPV6,
                   membership == ASYNC_JOIN_GROUP ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP,
                   &m6, sizeof(m6)) != 0)
      return async_translate_sys_error(errno);
    return 0;
  }
  return ASYNC_EINVAL;
}
