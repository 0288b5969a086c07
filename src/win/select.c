/* The Windows select backend. Winsock's fd_set is an array of sockets with
 * a count, sized by FD_SETSIZE at compile time (64 by default, and FD_SET
 * silently drops sockets past it); this file uses sets of its own with
 * SET_SIZE entries, and the socket table refuses watchers past the limit
 * (ASYNC_ERANGE, readable through async_loop_fd_limit). One entry is the
 * loop's wake socket: a UDP socket connected to itself, so that any thread
 * can make select return by sending it a datagram. */
#include "win.h"

#define SET_SIZE 1024
#define WATCH_LIMIT (SET_SIZE - 1)

/* Layout-compatible with fd_set (a count, then the sockets). */
struct sock_set {
  u_int count;
  SOCKET v[SET_SIZE];
};

/* A socket's events found by one select, in table order. */
struct ready {
  SOCKET sock;
  uint32_t gen;
  unsigned events;
};

struct select_state {
  SOCKET wake;
  struct sock_set r, w, e;
  struct ready ready[SET_SIZE];
};

static void send_wake(async_loop_t *loop) {
  struct select_state *st = loop->backend_state_;
  char one = 1;
  /* A full buffer already holds a wake: a failure loses nothing. */
  send(st->wake, &one, 1, 0);
}

static int wake_socket(SOCKET *out) {
  struct sockaddr_in addr;
  int len = (int)sizeof(addr);
  u_long nonblocking = 1;
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET)
    return async_translate_sys_error(WSAGetLastError());
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Connected to its own address: datagrams from anyone else are dropped. */
  if (bind(s, (struct sockaddr *)&addr, len) != 0 ||
      getsockname(s, (struct sockaddr *)&addr, &len) != 0 ||
      connect(s, (struct sockaddr *)&addr, len) != 0 ||
      ioctlsocket(s, FIONBIO, &nonblocking) != 0) {
    int err = async_translate_sys_error(WSAGetLastError());
    closesocket(s);
    return err;
  }
  *out = s;
  return 0;
}

static int select_init(async_loop_t *loop) {
  struct select_state *st;
  int err = async__winsock_init();
  if (err != 0)
    return err;
  st = async__calloc(1, sizeof(*st));
  if (st == NULL)
    return ASYNC_ENOMEM;
  err = wake_socket(&st->wake);
  if (err != 0) {
    async__free(st);
    return err;
  }
  loop->backend_state_ = st;
  loop->wake_fn_ = send_wake;
  return 0;
}

static void select_close(async_loop_t *loop) {
  struct select_state *st = loop->backend_state_;
  closesocket(st->wake);
  async__free(st);
  loop->backend_state_ = NULL;
}

/* The interest lives in the loop's socket table; select reads it there. */
static int select_modify(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events,
                         uint32_t tag) {
  (void)loop;
  (void)fd;
  (void)old_events;
  (void)new_events;
  (void)tag;
  return 0;
}

static int in_set(const struct sock_set *set, SOCKET s) {
  for (u_int i = 0; i < set->count; i++)
    if (set->v[i] == s)
      return 1;
  return 0;
}

static void drain_wake(struct select_state *st) {
  char buf[64];
  while (recv(st->wake, buf, sizeof(buf), 0) > 0)
    ;
}

/* select fails as a whole when a watched socket was closed: the watchers
 * of the sockets that are gone hear ASYNC_EBADF. */
static int report_invalid(async_loop_t *loop) {
  uint32_t n = 0, count = 0;
  struct select_state *st = loop->backend_state_;
  for (uint32_t i = 0; i < loop->nsocks_; i++) {
    struct async__sock_entry *e = &loop->socks_[i];
    int type, len = (int)sizeof(type);
    if (e->registered != 0 &&
        getsockopt(e->sock, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0) {
      st->ready[count].sock = e->sock;
      st->ready[count].gen = e->gen;
      st->ready[count++].events = ASYNC__INVALID;
    }
  }
  for (uint32_t i = 0; i < count; i++, n++)
    async__io_event(loop, st->ready[i].sock, st->ready[i].gen, st->ready[i].events);
  return (int)n;
}

/* One select; *woken is set when the wake socket fired. */
static int select_once(async_loop_t *loop, int64_t timeout_ns, int *woken) {
  struct select_state *st = loop->backend_state_;
  struct timeval tv, *tvp = NULL;
  uint32_t count = 0;
  int n, err;
  st->r.count = st->w.count = st->e.count = 0;
  st->r.v[st->r.count++] = st->wake;
  for (uint32_t i = 0; i < loop->nsocks_; i++) {
    const struct async__sock_entry *e = &loop->socks_[i];
    if (e->registered & ASYNC_READABLE)
      st->r.v[st->r.count++] = e->sock;
    if (e->registered & ASYNC_WRITABLE) {
      st->w.v[st->w.count++] = e->sock;
      st->e.v[st->e.count++] = e->sock; /* a failed connect shows here only */
    }
  }
  if (timeout_ns >= 0) {
    int64_t us = timeout_ns / 1000 + (timeout_ns % 1000 != 0); /* round up */
    tv.tv_sec = (long)(us / 1000000 > 0x7fffffff ? 0x7fffffff : us / 1000000);
    tv.tv_usec = (long)(us % 1000000);
    tvp = &tv;
  }
  n = select(0, (fd_set *)(void *)&st->r, st->w.count ? (fd_set *)(void *)&st->w : NULL,
             st->e.count ? (fd_set *)(void *)&st->e : NULL, tvp);
  err = n == SOCKET_ERROR ? WSAGetLastError() : 0;
  async__io_waited(loop);
  if (n == SOCKET_ERROR) {
    if (err == WSAENOTSOCK)
      return report_invalid(loop);
    return err == WSAEINTR ? 0 : async_translate_sys_error(err);
  }
  if (n == 0)
    return 0;
  if (in_set(&st->r, st->wake)) {
    drain_wake(st);
    *woken = 1;
  }
  /* Collected first: callbacks may change the table under the loop. */
  for (uint32_t i = 0; i < loop->nsocks_; i++) {
    const struct async__sock_entry *e = &loop->socks_[i];
    unsigned ev = 0;
    if (e->registered == 0)
      continue;
    if ((e->registered & ASYNC_READABLE) && in_set(&st->r, e->sock))
      ev |= ASYNC_READABLE;
    if (e->registered & ASYNC_WRITABLE) {
      if (in_set(&st->w, e->sock))
        ev |= ASYNC_WRITABLE;
      if (in_set(&st->e, e->sock))
        ev |= ASYNC_ERROR;
    }
    if (ev != 0) {
      st->ready[count].sock = e->sock;
      st->ready[count].gen = e->gen;
      st->ready[count++].events = ev;
    }
  }
  for (uint32_t i = 0; i < count; i++)
    async__io_event(loop, st->ready[i].sock, st->ready[i].gen, st->ready[i].events);
  return n;
}

/* select's own clock is coarse: a wait that ends before the deadline with
 * nothing to report is resumed for the rest, so a timer never fires early. */
static int select_poll(async_loop_t *loop, int64_t timeout_ns) {
  uint64_t deadline = async__wait_deadline(timeout_ns);
  for (;;) {
    int woken = 0, n = select_once(loop, timeout_ns, &woken);
    if (woken)
      async__wake_process(loop);
    if (n != 0 || !async__wait_more(deadline, &timeout_ns))
      return n;
  }
}

const struct async__backend async__select_backend = {
  "select",
  ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_FD_LIMIT |
      ASYNC_CAP_TCP | ASYNC_CAP_UDP | ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS | ASYNC_CAP_SIGNAL,
  WATCH_LIMIT,
  NULL,
  select_init,
  select_close,
  select_modify,
  select_poll,
  NULL,
  NULL, /* flush: changes are applied as they are made */
  NULL, /* watch_pid */
  NULL, /* backend_handle */
  NULL, /* embed_sync */
};
