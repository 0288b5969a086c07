/* TCP streams on the IOCP backend: completion-based, in the engine named
 * pipes use (pipe.h). A listener keeps ACCEPTS_PENDING AcceptEx in flight,
 * each into a socket made ahead; a connect is a ConnectEx. Reads, writes,
 * shutdown and closing are the engine's (pipe_io.c, pipe.c). On the select
 * backend TCP stays on readiness (src/sock/stream.c); this file decides
 * which, per loop. */
#include "pipe.h"

#include <mswsock.h>
#include <string.h>

/* Enough for a burst of clients to find an accept waiting; each costs a
 * socket made ahead and a small op. */
#define ACCEPTS_PENDING 16
/* AcceptEx's room for each address: the largest plus 16, as it asks. */
#define ADDR_ROOM ((DWORD)sizeof(struct sockaddr_storage) + 16)

struct accept_op {
  struct pipe_op op; /* first: the packet's OVERLAPPED */
  char addrs[2 * ADDR_ROOM];
};

int async__tcp_iocp(const async_loop_t *loop) {
  return strcmp(loop->backend_->name, "iocp") == 0;
}

/* An extension function of the socket's provider (AcceptEx, ConnectEx),
 * written into *fn (a function pointer of size bytes); 0 or an error. */
static int extension(SOCKET s, GUID guid, void *fn, DWORD size) {
  DWORD n = 0;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), fn, size, &n, NULL,
               NULL) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

/* The socket goes to the loop's port under the engine's key; non-blocking
 * for async_try_write's sends (overlapped calls are not affected). */
static int adopt(async_stream_t *s, SOCKET sock, unsigned connected) {
  struct pipe_state *st = async__pipe_state(s);
  u_long nonblocking = 1;
  if (st == NULL)
    return ASYNC_ENOMEM;
  if (ioctlsocket(sock, FIONBIO, &nonblocking) != 0)
    return async_translate_sys_error(WSAGetLastError());
  if (CreateIoCompletionPort((HANDLE)sock, async__iocp_port(s->loop), ASYNC__PIPE_KEY, 0) == NULL)
    return async_translate_sys_error((int)GetLastError());
  st->sock = 1;
  st->h = (HANDLE)sock;
  s->fd_ = (int)sock;
  s->stream_flags_ = connected ? READABLE | WRITABLE : 0u;
  return 0;
}

int async__tcp_stream_open(async_stream_t *s, SOCKET sock, unsigned connected) {
  if (!async__tcp_iocp(s->loop))
    return async__stream_open(s, sock, connected, connected, 1);
  return adopt(s, sock, connected);
}

/* ---- accepting ----------------------------------------------------------------- */

/* One more AcceptEx in flight, into a new socket of the listener's family. */
static int post_accept(struct pipe_state *st, LPFN_ACCEPTEX accept_ex) {
  struct accept_op *a;
  DWORD got = 0;
  SOCKET c = async__sock_open(st->family, SOCK_STREAM, IPPROTO_TCP);
  int err;
  if (c == INVALID_SOCKET)
    return async_translate_sys_error(WSAGetLastError());
  if ((a = async__calloc(1, sizeof(*a))) == NULL) {
    closesocket(c);
    return ASYNC_ENOMEM;
  }
  a->op.st = st;
  a->op.kind = OP_TCP_ACCEPT;
  a->op.h = (HANDLE)c;
  if (async__pipe_started(
          accept_ex((SOCKET)st->h, c, a->addrs, 0, ADDR_ROOM, ADDR_ROOM, &got, &a->op.ov))) {
    async__pipe_held(st);
    st->naccepting++;
    async__list_insert_tail(&st->accepts, &a->op.link);
    return 0;
  }
  err = async_translate_sys_error(WSAGetLastError());
  closesocket(c);
  async__free(a);
  return err;
}

/* Keeps ACCEPTS_PENDING in flight while the connections waiting for
 * async_accept leave room; 0 if at least one is in flight. */
static int top_up(struct pipe_state *st) {
  static const GUID guid = WSAID_ACCEPTEX;
  LPFN_ACCEPTEX accept_ex = NULL;
  int err = 0;
  if (st->naccepting >= ACCEPTS_PENDING || st->nready + st->naccepting >= READY_MAX)
    return 0;
  if ((err = extension((SOCKET)st->h, guid, &accept_ex, sizeof(accept_ex))) != 0)
    return err;
  while (err == 0 && st->naccepting < ACCEPTS_PENDING && st->nready + st->naccepting < READY_MAX)
    err = post_accept(st, accept_ex);
  return st->naccepting > 0 ? 0 : err;
}

int async__tcp_listen(async_stream_t *s, int backlog, async_connection_cb cb) {
  struct pipe_state *st = STATE(s);
  struct sockaddr_storage addr;
  int len = (int)sizeof(addr), err;
  if (cb == NULL || async__is_closing(s) || st == NULL || s->fd_ < 0 ||
      (s->stream_flags_ & READING) || s->connect_ != NULL)
    return ASYNC_EINVAL;
  if (s->stream_flags_ & LISTENING)
    return ASYNC_EALREADY;
  if (getsockname((SOCKET)st->h, (struct sockaddr *)&addr, &len) != 0 ||
      listen((SOCKET)st->h, backlog) != 0)
    return async_translate_sys_error(WSAGetLastError());
  st->family = addr.ss_family;
  if ((err = top_up(st)) != 0)
    return err;
  s->connection_cb_ = cb;
  s->stream_flags_ = (s->stream_flags_ | LISTENING) & ~(unsigned)(READABLE | WRITABLE);
  async__handle_start((async_handle_t *)s);
  return 0;
}

/* A client that gave up before it was taken is nobody's business. */
static int gave_up(DWORD err) {
  return err == ERROR_NETNAME_DELETED || err == ERROR_CONNECTION_ABORTED ||
         err == ERROR_OPERATION_ABORTED || err == WSAECONNRESET;
}

static void accept_done(struct pipe_state *st, struct pipe_op *op, DWORD err) {
  async_stream_t *s = st->s;
  SOCKET c = (SOCKET)op->h;
  SOCKET listener = (SOCKET)st->h;
  int refill;
  async__list_remove(&op->link);
  async__free(op);
  st->naccepting--;
  if (s == NULL || !(s->stream_flags_ & LISTENING)) {
    closesocket(c);
    return;
  }
  if (err == 0 && setsockopt(c, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&listener,
                             (int)sizeof(listener)) != 0)
    err = (DWORD)WSAGetLastError();
  if (err != 0)
    closesocket(c);
  else
    st->ready[st->nready++] = (HANDLE)c;
  refill = top_up(st);
  if (err == 0 || !gave_up(err))
    ASYNC__HANDLE_CB(s, ASYNC_CB_CONNECTION, s->connection_cb_(s, err == 0 ? 0 : async_translate_sys_error((int)err)));
  /* No accept is left waiting (out of sockets, say): the listener would
   * wait for nothing without a word. */
  if (refill != 0 && st->s != NULL && (s->stream_flags_ & LISTENING))
    ASYNC__HANDLE_CB(s, ASYNC_CB_CONNECTION, s->connection_cb_(s, refill));
}

int async__tcp_accept(async_stream_t *server, async_stream_t *client) {
  HANDLE c;
  int err = async__pipe_ready(server, client, &c);
  if (err == 0 && (err = adopt(client, (SOCKET)c, 1)) == 0) {
    async__pipe_ready_taken(STATE(server));
    top_up(STATE(server));
  }
  return err;
}

/* ---- connecting ---------------------------------------------------------------- */

/* ConnectEx wants a bound socket: an unbound one gets the any address. */
static int bind_any(SOCKET sock, int family) {
  struct sockaddr_storage addr;
  int len = (int)sizeof(addr);
  if (getsockname(sock, (struct sockaddr *)&addr, &len) == 0)
    return 0;
  memset(&addr, 0, sizeof(addr));
  addr.ss_family = (ADDRESS_FAMILY)family;
  len = family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
  if (bind(sock, (struct sockaddr *)&addr, len) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

static void connect_finish(async_stream_t *s, int status) {
  async_connect_t *req = s->connect_;
  s->connect_ = NULL;
  if (status == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  async__stream_finish(s, (async_req_t *)req, status);
}

/* Starts the ConnectEx; 0 or an error (no op left behind). */
static int start_connect(struct pipe_state *st, const struct sockaddr *addr, unsigned len) {
  static const GUID guid = WSAID_CONNECTEX;
  LPFN_CONNECTEX connect_ex = NULL;
  struct pipe_op *op;
  int err;
  if ((err = bind_any((SOCKET)st->h, addr->sa_family)) != 0 ||
      (err = extension((SOCKET)st->h, guid, &connect_ex, sizeof(connect_ex))) != 0)
    return err;
  if ((op = async__calloc(1, sizeof(*op))) == NULL)
    return ASYNC_ENOMEM;
  op->st = st;
  op->kind = OP_TCP_CONNECT;
  if (async__pipe_started(connect_ex((SOCKET)st->h, addr, (int)len, NULL, 0, NULL, &op->ov))) {
    async__pipe_held(st);
    return 0;
  }
  err = async_translate_sys_error(WSAGetLastError());
  async__free(op);
  return err;
}

int async__tcp_stream_connect(async_stream_t *s, async_connect_t *req,
                              const struct sockaddr *addr, unsigned len, async_connect_cb cb) {
  int err;
  if (!async__tcp_iocp(s->loop))
    return async__stream_connect(s, req, addr, len, cb);
  if (s->connect_ != NULL)
    return ASYNC_EALREADY;
  if (s->stream_flags_ & (LISTENING | READING | WRITABLE))
    return ASYNC_EISCONN;
  async__stream_connect_req(s, req, cb);
  s->connect_ = req;
  if ((err = start_connect(STATE(s), addr, len)) != 0) {
    connect_finish(s, err);
    async__stream_schedule_report(s);
  }
  return 0;
}

static void connect_done(struct pipe_state *st, DWORD err) {
  async_stream_t *s = st->s;
  if (s == NULL || s->connect_ == NULL) /* closed: cancelled already */
    return;
  if (err == 0 &&
      setsockopt((SOCKET)st->h, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
    err = (DWORD)WSAGetLastError();
  connect_finish(s, err == 0 ? 0 : async_translate_sys_error((int)err));
  async__stream_run_finished(s);
}

void async__tcp_iocp_done(struct pipe_state *st, struct pipe_op *op, DWORD err) {
  if (op->kind == OP_TCP_ACCEPT) {
    accept_done(st, op, err);
    return;
  }
  async__free(op);
  connect_done(st, err);
}
