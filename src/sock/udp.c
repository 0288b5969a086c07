/* UDP over readiness, for both worlds: a datagram socket behind an internal
 * watcher. A send is tried at once when nothing is queued, so the common
 * case never touches the backend; only a send the system refuses adds write
 * interest. Send callbacks always run from the loop, never inside
 * async_udp_send. The datagram calls themselves (sendmsg/WSASendTo,
 * recvmsg/recvmmsg/recvfrom) and most socket options are the world's own
 * (src/unix/udp.c, src/win/udp.c). */
#include "sock.h"

#if !defined(_WIN32)
# include <arpa/inet.h>
#endif

#include <string.h>

#define BUDGET_SHIFT 16 /* udp_flags_ bits above hold the receive budget */

#define UDP_OF(w) async__container_of(w, async_udp_t, io_)

static void udp_io(async_watch_t *w, int status, unsigned events);

/* Events the socket needs: reading while receiving, writing while sends wait. */
static int update_interest(async_udp_t *udp) {
  unsigned want = ((udp->udp_flags_ & ASYNC__UDP_RECEIVING) ? ASYNC_READABLE : 0u) |
                  (async__list_empty(&udp->queue_) ? 0u : ASYNC_WRITABLE);
  udp->io_.events_ = want;
  return async__io_set(udp->loop, async__sock(udp->fd_), want);
}

static int attach(async_udp_t *udp, async__sock_t s) {
  int err = async__udp_sock_prepare(s);
  if (err == 0)
    err = async__io_attach_internal(udp->loop, &udp->io_, s, udp_io);
  if (err == 0)
    udp->fd_ = (int)s;
  return err;
}

static int ensure_socket(async_udp_t *udp, int family) {
  async__sock_t s;
  int err;
  if (udp->fd_ >= 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  s = async__sock_open(family, SOCK_DGRAM, IPPROTO_UDP);
  if (s == ASYNC__BAD_SOCK)
    return async_translate_sys_error(async__sock_error());
  if ((err = attach(udp, s)) != 0)
    async__sock_close(s);
  return err;
}

/* Batch receive (ASYNC_UDP_RECVMMSG) where the world has it; elsewhere one
 * datagram per buffer, which is still correct. */
int async_udp_init_ex(async_loop_t *loop, async_udp_t *udp, int family) {
  int err = async__handle_claim(loop, udp);
  unsigned mmsg = (unsigned)family & ASYNC_UDP_RECVMMSG;
  family &= ~ASYNC_UDP_RECVMMSG;
  if (err != 0)
    return err;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_UDP))
    return ASYNC_ENOTSUP;
  udp->fd_ = -1;
  udp->udp_flags_ = mmsg && ASYNC__HAVE_RECVMMSG ? ASYNC__UDP_MMSG : 0u;
  udp->alloc_cb_ = NULL;
  udp->send_queue_size = udp->send_queue_count = 0;
  async_defer_init(&udp->report_);
  async__list_init(&udp->queue_);
  async__list_init(&udp->done_);
  err = async__handle_init(loop, (async_handle_t *)udp, ASYNC_UDP);
  if (err == 0 && family != AF_UNSPEC && (err = ensure_socket(udp, family)) != 0)
    async__handle_uninit((async_handle_t *)udp);
  return err;
}

int async_udp_init(async_loop_t *loop, async_udp_t *udp) {
  return async_udp_init_ex(loop, udp, AF_UNSPEC);
}

static int has_port(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return ((const struct sockaddr_in *)ss)->sin_port != 0;
  if (ss->ss_family == AF_INET6)
    return ((const struct sockaddr_in6 *)ss)->sin6_port != 0;
  return 0;
}

/* An adopted socket may already be bound or connected: the handle learns
 * which, so that sends and async_udp_recv_start treat it accordingly. */
int async_udp_open(async_udp_t *udp, int fd) {
  async__sock_t s = async__sock(fd);
  struct sockaddr_storage name;
  async__socklen_t len, nlen;
  int type, err;
  if (!async__handle_ok(udp, ASYNC_UDP) || fd < 0)
    return ASYNC_EINVAL;
  if (udp->fd_ >= 0)
    return ASYNC_EBUSY;
  len = sizeof(type);
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0)
    return async_translate_sys_error(async__sock_error());
  if (type != SOCK_DGRAM)
    return ASYNC_EINVAL;
  err = attach(udp, s); /* first: a refusal leaves the socket as it was */
  if (err == 0 && (err = async__sock_nonblock(s)) != 0) {
    async__io_detach(udp->loop, s);
    udp->fd_ = -1;
  }
  if (err != 0)
    return err;
  nlen = sizeof(name);
  if (getsockname(s, (struct sockaddr *)&name, &nlen) == 0 && has_port(&name))
    udp->udp_flags_ |= ASYNC__UDP_BOUND;
  nlen = sizeof(name);
  if (getpeername(s, (struct sockaddr *)&name, &nlen) == 0)
    udp->udp_flags_ |= ASYNC__UDP_CONNECTED;
  return 0;
}

/* V6ONLY is always set for IPv6, never left to the system's default (which
 * is dual-stack on Linux and IPv6-only on Windows). */
int async_udp_bind(async_udp_t *udp, const struct sockaddr *addr, unsigned flags) {
  int err;
  if (!async__handle_ok(udp, ASYNC_UDP) || addr == NULL || async__addr_len(addr) == 0 ||
      (flags & ~(unsigned)(ASYNC_UDP_IPV6ONLY | ASYNC_UDP_REUSEADDR | ASYNC_UDP_REUSEPORT)) ||
      ((flags & ASYNC_UDP_IPV6ONLY) && addr->sa_family != AF_INET6))
    return ASYNC_EINVAL;
  if ((flags & ASYNC_UDP_REUSEPORT) && !ASYNC__HAVE_REUSEPORT)
    return ASYNC_ENOTSUP;
  if ((err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  if ((err = async__sock_reuse(async__sock(udp->fd_), (flags & ASYNC_UDP_REUSEADDR) != 0,
                               (flags & ASYNC_UDP_REUSEPORT) != 0)) != 0)
    return err;
  if (addr->sa_family == AF_INET6 &&
      (err = async__sock_setopt(async__sock(udp->fd_), IPPROTO_IPV6, IPV6_V6ONLY,
                                (flags & ASYNC_UDP_IPV6ONLY) != 0)) != 0)
    return err;
  if (bind(async__sock(udp->fd_), addr, (async__socklen_t)async__addr_len(addr)) != 0)
    return async_translate_sys_error(async__sock_error());
  udp->udp_flags_ |= ASYNC__UDP_BOUND;
  return 0;
}

int async_udp_connect(async_udp_t *udp, const struct sockaddr *addr) {
  int err;
  if (!async__handle_ok(udp, ASYNC_UDP) || (addr != NULL && async__addr_len(addr) == 0))
    return ASYNC_EINVAL;
  if (addr == NULL) {
    if (!(udp->udp_flags_ & ASYNC__UDP_CONNECTED))
      return ASYNC_ENOTCONN;
    if ((err = async__sock_disconnect(async__sock(udp->fd_))) != 0)
      return err;
    udp->udp_flags_ &= ~(unsigned)ASYNC__UDP_CONNECTED;
    return 0;
  }
  if (udp->udp_flags_ & ASYNC__UDP_CONNECTED)
    return ASYNC_EISCONN;
  if ((err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  if (connect(async__sock(udp->fd_), addr, (async__socklen_t)async__addr_len(addr)) != 0)
    return async_translate_sys_error(async__sock_error());
  udp->udp_flags_ |= ASYNC__UDP_CONNECTED | ASYNC__UDP_BOUND;
  return 0;
}

int async_udp_getsockname(const async_udp_t *udp, struct sockaddr *name, int *namelen) {
  if (!async__handle_ok(udp, ASYNC_UDP))
    return ASYNC_EINVAL;
  return async__sock_name(udp->fd_, name, namelen, 0);
}

/* The handle knows whether it has a peer (Winsock's answer after a
 * disconnect is not reliable). */
int async_udp_getpeername(const async_udp_t *udp, struct sockaddr *name, int *namelen) {
  if (!async__handle_ok(udp, ASYNC_UDP) || name == NULL || namelen == NULL || *namelen < 0)
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  if (!(udp->udp_flags_ & ASYNC__UDP_CONNECTED))
    return ASYNC_ENOTCONN;
  return async__sock_name(udp->fd_, name, namelen, 1);
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
    ASYNC__REQ_CB(req, ASYNC_CB_UDP_SEND, req->cb_(req, req->status_));
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

/* Sends what the system takes; returns 1 if sends still wait. */
static int flush(async_udp_t *udp) {
  while (!async__list_empty(&udp->queue_)) {
    async_udp_send_t *req = async__container_of(udp->queue_.next, async_udp_send_t, link_);
    long n = async__udp_send_bufs(async__sock(udp->fd_), req->bufs_, req->nbufs_,
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

static int check_send(const async_udp_t *udp, const async_buf_t bufs[], unsigned nbufs,
                      const struct sockaddr *addr) {
  if (!async__handle_ok(udp, ASYNC_UDP) || (bufs == NULL && nbufs > 0) ||
      (addr != NULL && async__addr_len(addr) == 0))
    return ASYNC_EINVAL;
  /* a connected socket takes no address, an unconnected one needs one */
  if ((addr == NULL) != ((udp->udp_flags_ & ASYNC__UDP_CONNECTED) != 0))
    return ASYNC_EINVAL;
  return 0;
}

int async_udp_send(async_udp_send_t *req, async_udp_t *udp, const async_buf_t bufs[],
                   unsigned nbufs, const struct sockaddr *addr, async_udp_send_cb cb) {
  int err;
  if (req == NULL)
    return ASYNC_EINVAL;
  if ((err = check_send(udp, bufs, nbufs, addr)) != 0)
    return err;
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
  udp->udp_flags_ |= ASYNC__UDP_BOUND; /* sending binds an unbound socket */
  /* A send the system takes now is reported on the loop's next ready-queue
   * step; only one it refuses adds write interest. */
  /* The request is queued from here on: it ends through its callback, also
   * when the backend will not watch the socket for writing. */
  if (flush(udp) && (err = update_interest(udp)) == 0)
    return 0;
  while (err != 0 && !async__list_empty(&udp->queue_))
    finish(udp, async__container_of(udp->queue_.next, async_udp_send_t, link_), err);
  async__defer_own(udp->loop, &udp->report_, report_cb);
  return 0;
}

long async_udp_try_send(async_udp_t *udp, const async_buf_t bufs[], unsigned nbufs,
                        const struct sockaddr *addr) {
  int err;
  if ((err = check_send(udp, bufs, nbufs, addr)) != 0)
    return err;
  if (!async__list_empty(&udp->queue_))
    return ASYNC_EAGAIN;
  if (addr != NULL && (err = ensure_socket(udp, addr->sa_family)) != 0)
    return err;
  udp->udp_flags_ |= ASYNC__UDP_BOUND;
  return async__udp_send_bufs(async__sock(udp->fd_), bufs, nbufs, addr);
}

/* Datagrams read per wakeup adapt. A wakeup that drained the socket early
 * sets the budget to what it found; after FULL_STREAK wakeups in a row that
 * each used the whole budget, it doubles (up to ASYNC__UDP_RECV_BATCH). A socket that
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
    set_budget(udp, budget * 2 < ASYNC__UDP_RECV_BATCH ? budget * 2 : ASYNC__UDP_RECV_BATCH, 0);
}

static void receive(async_udp_t *udp) {
  unsigned budget = budget_of(udp), got = 0;
  while (got < budget && (udp->udp_flags_ & ASYNC__UDP_RECEIVING)) {
    async_buf_t buf = {NULL, 0};
    int n;
    async__alloc_call((async_handle_t *)udp, udp->alloc_cb_,
                      (udp->udp_flags_ & ASYNC__UDP_MMSG) ? ASYNC__UDP_MMSG_MAX * ASYNC__UDP_RECV_SIZE
                                                          : ASYNC__UDP_RECV_SIZE,
                      &buf);
    if (buf.base == NULL || buf.len == 0) {
      async__recv_call(udp, ASYNC_ENOBUFS, &buf, NULL, 0);
      return;
    }
    n = async__udp_recv(udp, &buf);
    if (n < 0)
      return; /* a batch came back short: the budget stays as it was */
    if (n == 0)
      break;
    got += (unsigned)n;
  }
  if (!async__is_closing(udp))
    adapt_budget(udp, budget, got);
}

static void udp_io(async_watch_t *w, int status, unsigned events) {
  async_udp_t *udp = UDP_OF(w);
  (void)status;
  if (events & (ASYNC_READABLE | ASYNC_ERROR))
    if (udp->udp_flags_ & ASYNC__UDP_RECEIVING)
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
  if (!async__handle_ok(udp, ASYNC_UDP) || alloc_cb == NULL || recv_cb == NULL)
    return ASYNC_EINVAL;
  if (udp->udp_flags_ & ASYNC__UDP_RECEIVING)
    return ASYNC_EALREADY;
  if (!(udp->udp_flags_ & ASYNC__UDP_BOUND)) { /* as sending does: an ephemeral port, any address */
    struct sockaddr_storage any;
    memset(&any, 0, sizeof(any));
    /* the socket's own family if it has one (async_udp_init_ex), else IPv4 */
    any.ss_family = (unsigned short)(udp->fd_ >= 0 ? async__sock_family(async__sock(udp->fd_))
                                                   : AF_INET);
    if ((err = async_udp_bind(udp, (struct sockaddr *)&any, 0)) != 0)
      return err;
  }
  udp->alloc_cb_ = alloc_cb;
  udp->cb_.udp_recv = recv_cb;
  udp->udp_flags_ |= ASYNC__UDP_RECEIVING;
  err = update_interest(udp);
  if (err != 0) {
    udp->udp_flags_ &= ~(unsigned)ASYNC__UDP_RECEIVING;
    return err;
  }
  async__handle_start((async_handle_t *)udp);
  return 0;
}

int async_udp_recv_stop(async_udp_t *udp) {
  if (!async__handle_ok(udp, ASYNC_UDP))
    return ASYNC_EINVAL;
  if (udp->udp_flags_ & ASYNC__UDP_RECEIVING) {
    udp->udp_flags_ &= ~(unsigned)ASYNC__UDP_RECEIVING;
    async__handle_stop((async_handle_t *)udp);
    if (udp->fd_ >= 0)
      update_interest(udp);
  }
  return 0;
}

/* async_close: stop everything now; callbacks run in async__udp_finish_close. */
void async__udp_close(async_udp_t *udp) {
  udp->udp_flags_ &= ~(unsigned)ASYNC__UDP_RECEIVING;
  async_defer_cancel(&udp->report_);
  while (!async__list_empty(&udp->queue_))
    finish(udp, async__container_of(udp->queue_.next, async_udp_send_t, link_), ASYNC_ECANCELED);
  if (udp->fd_ >= 0) {
    async__io_detach(udp->loop, async__sock(udp->fd_));
    async__sock_close(async__sock(udp->fd_));
    udp->fd_ = -1;
  }
}

/* From the close phase, just before the close callback. */
void async__udp_finish_close(async_udp_t *udp) {
  while (!async__list_empty(&udp->done_))
    report_one(udp);
}

/* Written once: both worlds take an in_addr for IPv4 and an interface index
 * for IPv6, which async_ip6_addr reads from a "%scope" suffix ("::%eth0"). */
int async_udp_set_multicast_interface(async_udp_t *udp, const char *interface_addr) {
  struct sockaddr_in6 a6;
  struct in_addr a4;
  if (!async__handle_ok(udp, ASYNC_UDP))
    return ASYNC_EINVAL;
  if (udp->fd_ < 0)
    return ASYNC_EBADF;
  if (async__sock_family(async__sock(udp->fd_)) == AF_INET6) {
    if (interface_addr == NULL)
      a6.sin6_scope_id = 0; /* the system's choice */
    else if (async_ip6_addr(interface_addr, 0, &a6) != 0)
      return ASYNC_EINVAL;
    return async__sock_setopt(async__sock(udp->fd_), IPPROTO_IPV6, IPV6_MULTICAST_IF,
                              (int)a6.sin6_scope_id);
  }
  a4.s_addr = htonl(INADDR_ANY);
  if (interface_addr != NULL && inet_pton(AF_INET, interface_addr, &a4) != 1)
    return ASYNC_EINVAL;
  return async__sock_setopt_raw(async__sock(udp->fd_), IPPROTO_IP, IP_MULTICAST_IF, &a4,
                                (unsigned)sizeof(a4));
}
