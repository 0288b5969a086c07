/* Pipes on Windows: named pipes (\\.\pipe\name) with overlapped I/O that
 * completes on the IOCP loop's port. Completion-based, like TCP on IOCP
 * (tcp_iocp.c), whose sockets share this engine's state blocks, packets
 * and closing: a server keeps several instances waiting in
 * ConnectNamedPipe, a connected end has at most one ReadFile in flight
 * into a buffer of its own, and every write goes out as a WriteFile of a
 * copy of its bytes. The kernel writes into those buffers until each
 * operation's packet arrives, so they live in a state block that outlives
 * the handle when needed: closing cancels what is in flight, completes
 * every request once with ASYNC_ECANCELED at once, and the block is freed
 * by the last packet. */
#include "pipe.h"

#include <stdio.h>
#include <string.h>
#include <winternl.h>


static void maybe_free(struct pipe_state *st) {
  if (st->s != NULL || st->inflight != 0 || st->waiting || st->dispatching)
    return;
  async__free(st->name);
  async__free(st->uname);
  async__free(st->rbuf);
  async__free(st);
}

static struct pipe_state *state_of(async_stream_t *s) {
  struct pipe_state *st = STATE(s);
  if (st != NULL)
    return st;
  st = async__calloc(1, sizeof(*st));
  if (st == NULL)
    return NULL;
  st->s = s;
  st->loop = s->loop;
  st->h = INVALID_HANDLE_VALUE;
  st->first = INVALID_HANDLE_VALUE;
  st->read.st = st;
  st->read.kind = OP_READ;
  async__list_init(&st->accepts);
  async__list_init(&st->writes);
  async_defer_init(&st->deliver);
  s->io_.data = st;
  return st;
}

struct pipe_state *async__pipe_state(async_stream_t *s) { return state_of(s); }

void async__pipe_close_handle(const struct pipe_state *st, HANDLE h) {
  if (st->sock)
    closesocket((SOCKET)h);
  else
    CloseHandle(h);
}


static int associate(async_loop_t *loop, HANDLE h) {
  return CreateIoCompletionPort(h, async__iocp_port(loop), ASYNC__PIPE_KEY, 0) != NULL
             ? 0
             : async__pipe_sys_error();
}



/* ---- names ------------------------------------------------------------------ */

static WCHAR *wide_name(const char *name, size_t len, int *err) {
  WCHAR *w;
  int n;
  /* Anything but \\.\pipe\ is a Unix socket's name (a path, an abstract
   * name): no such thing here. */
  if (len < sizeof(PREFIX) - 1 || strncmp(name, PREFIX, sizeof(PREFIX) - 1) != 0) {
    *err = ASYNC_ENOTSUP;
    return NULL;
  }
  if (len > 256) {
    *err = ASYNC_ENAMETOOLONG;
    return NULL;
  }
  n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, (int)len, NULL, 0);
  if (n <= 0) {
    *err = ASYNC_EINVAL;
    return NULL;
  }
  w = async__malloc(((size_t)n + 1) * sizeof(WCHAR));
  if (w == NULL) {
    *err = ASYNC_ENOMEM;
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, 0, name, (int)len, w, n);
  w[n] = 0;
  return w;
}

static HANDLE new_instance(const WCHAR *name, int first) {
  return CreateNamedPipeW(name,
                          PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
                              (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0),
                          PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                              PIPE_REJECT_REMOTE_CLIENTS,
                          PIPE_UNLIMITED_INSTANCES, BUF_SIZE, BUF_SIZE, 0, NULL);
}

static int keep_name(struct pipe_state *st, const char *name, size_t len, int named_here) {
  char *u = async__malloc(len + 1);
  if (u == NULL)
    return ASYNC_ENOMEM;
  memcpy(u, name, len);
  u[len] = '\0';
  async__free(st->uname);
  st->uname = u;
  st->ulen = len;
  st->named_here = named_here;
  return 0;
}

/* ---- handles ------------------------------------------------------------------ */

int async_pipe_init_ex(async_loop_t *loop, async_pipe_t *pipe, unsigned flags) {
  int err = async__handle_claim(loop, pipe);
  if (err != 0)
    return err;
  if (flags & ~(unsigned)ASYNC_PIPE_IPC)
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_PIPE) || (flags & ASYNC_PIPE_IPC))
    return ASYNC_ENOTSUP; /* handles travel over no Windows pipe yet */
  pipe->bound_path_ = NULL;
  pipe->pending_fds_ = NULL;
  pipe->npending_ = pipe->pending_cap_ = 0;
  err = async__stream_init(loop, (async_stream_t *)pipe, ASYNC_PIPE);
  pipe->io_.data = NULL;
  return err;
}

int async_pipe_init(async_loop_t *loop, async_pipe_t *pipe) {
  return async_pipe_init_ex(loop, pipe, 0);
}

/* The directions the handle was opened for (an async_pipe() end goes one
 * way); both when the system does not say. */
static unsigned directions(HANDLE h) {
  FILE_ACCESS_INFORMATION info;
  IO_STATUS_BLOCK iosb;
  unsigned d = 0;
  if (NtQueryInformationFile(h, &iosb, &info, sizeof(info), FileAccessInformation) != 0)
    return READABLE | WRITABLE;
  if (info.AccessFlags & FILE_READ_DATA)
    d |= READABLE;
  if (info.AccessFlags & FILE_WRITE_DATA)
    d |= WRITABLE;
  return d != 0 ? d : READABLE | WRITABLE;
}

/* A connected end: reads and writes from now on. */
static int open_end(async_stream_t *s, HANDLE h, int associate_it) {
  struct pipe_state *st = state_of(s);
  int err;
  if (st == NULL)
    return ASYNC_ENOMEM;
  if (associate_it && (err = associate(s->loop, h)) != 0)
    return err;
  st->h = h;
  s->fd_ = (int)(intptr_t)h;
  s->stream_flags_ = directions(h);
  return 0;
}

int async_pipe_open(async_pipe_t *pipe, int fd) {
  HANDLE h = (HANDLE)(intptr_t)fd;
  if (!async__handle_ok(pipe, ASYNC_PIPE) || fd < 0)
    return ASYNC_EINVAL;
  if (pipe->fd_ >= 0)
    return ASYNC_EBUSY;
  if (GetFileType(h) != FILE_TYPE_PIPE)
    return GetLastError() == NO_ERROR ? ASYNC_EINVAL : ASYNC_EBADF;
  return open_end((async_stream_t *)pipe, h, 1);
}

/* Takes back what async_pipe_open gave a pipe whose spawn failed after it:
 * nothing was started on the handle, which is closed, and the pipe is again
 * without one. */
void async__pipe_unopen(async_stream_t *s) {
  struct pipe_state *st = STATE(s);
  if (st == NULL || st->h == INVALID_HANDLE_VALUE)
    return;
  CloseHandle(st->h);
  st->h = INVALID_HANDLE_VALUE;
  s->fd_ = -1;
  s->stream_flags_ = 0;
}

int async_pipe_bind2(async_pipe_t *pipe, const char *name, size_t namelen) {
  struct pipe_state *st;
  WCHAR *w;
  int err = 0;
  if (!async__handle_ok(pipe, ASYNC_PIPE) || name == NULL)
    return ASYNC_EINVAL;
  if (pipe->fd_ >= 0)
    return ASYNC_EBUSY;
  if ((w = wide_name(name, namelen, &err)) == NULL)
    return err;
  if ((st = state_of((async_stream_t *)pipe)) == NULL) {
    async__free(w);
    return ASYNC_ENOMEM;
  }
  /* FILE_FLAG_FIRST_PIPE_INSTANCE refuses a name in use on Windows; Wine 8
   * ignores it, so a server already listening under the name is asked
   * about first (WaitNamedPipe takes no instance from it). */
  if (WaitNamedPipeW(w, 1) || GetLastError() != ERROR_FILE_NOT_FOUND) {
    async__free(w);
    return ASYNC_EADDRINUSE;
  }
  st->first = new_instance(w, 1);
  if (st->first == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    async__free(w);
    return e == ERROR_ACCESS_DENIED ? ASYNC_EADDRINUSE : async_translate_sys_error((int)e);
  }
  if ((err = associate(pipe->loop, st->first)) != 0) {
    CloseHandle(st->first);
    st->first = INVALID_HANDLE_VALUE;
    async__free(w);
    return err;
  }
  st->name = w;
  pipe->fd_ = (int)(intptr_t)st->first;
  keep_name(st, name, namelen, 1); /* without it the names are only empty */
  return 0;
}

int async_pipe_bind(async_pipe_t *pipe, const char *name) {
  return async_pipe_bind2(pipe, name, name != NULL ? strlen(name) : 0);
}

/* ---- servers ------------------------------------------------------------------- */

/* Puts one instance into ConnectNamedPipe (a new one unless given). */
static int wait_for_client(struct pipe_state *st, HANDLE h) {
  struct pipe_op *op;
  int err;
  if (h == INVALID_HANDLE_VALUE) {
    h = new_instance(st->name, 0);
    if (h == INVALID_HANDLE_VALUE)
      return async__pipe_sys_error();
    if ((err = associate(st->loop, h)) != 0) {
      CloseHandle(h);
      return err;
    }
  }
  op = async__calloc(1, sizeof(*op));
  if (op == NULL) {
    CloseHandle(h);
    return ASYNC_ENOMEM;
  }
  op->st = st;
  op->kind = OP_ACCEPT;
  op->h = h;
  if (ConnectNamedPipe(h, &op->ov) || GetLastError() == ERROR_IO_PENDING) {
    async__pipe_held(st);
    async__list_insert_tail(&st->accepts, &op->link);
    return 0;
  }
  if (GetLastError() == ERROR_PIPE_CONNECTED) {
    /* A client came between the instance and the call: no packet comes
     * for it, so the loop gets one of its own. */
    async__pipe_held(st);
    async__list_insert_tail(&st->accepts, &op->link);
    op->ov.Internal = 0;
    PostQueuedCompletionStatus(async__iocp_port(st->loop), 0, ASYNC__PIPE_KEY, &op->ov);
    return 0;
  }
  err = async__pipe_sys_error();
  CloseHandle(h);
  async__free(op);
  return err;
}

int async__pipe_listen(async_stream_t *s, int backlog, async_connection_cb cb) {
  struct pipe_state *st = STATE(s);
  int err;
  (void)backlog; /* the instances waiting are the backlog */
  if (cb == NULL || async__is_closing(s) || st == NULL || st->first == INVALID_HANDLE_VALUE)
    return ASYNC_EINVAL;
  if (s->stream_flags_ & LISTENING)
    return ASYNC_EALREADY;
  if ((err = wait_for_client(st, st->first)) != 0)
    return err;
  st->first = INVALID_HANDLE_VALUE; /* the op owns it now */
  for (int i = 1; i < WAITING_INSTANCES; i++)
    if ((err = wait_for_client(st, INVALID_HANDLE_VALUE)) != 0)
      break; /* fewer instances still serve */
  s->connection_cb_ = cb;
  s->stream_flags_ |= LISTENING;
  async__handle_start((async_handle_t *)s);
  return 0;
}

static void accept_done(struct pipe_state *st, struct pipe_op *op, DWORD err) {
  async_stream_t *s = st->s;
  HANDLE h = op->h;
  async__list_remove(&op->link);
  async__free(op);
  if (s == NULL || !(s->stream_flags_ & LISTENING)) {
    CloseHandle(h);
    return;
  }
  if (err != 0 && err != ERROR_PIPE_CONNECTED && err != ERROR_NO_DATA) {
    CloseHandle(h);
    if (err != ERROR_OPERATION_ABORTED)
      ASYNC__HANDLE_CB(s, ASYNC_CB_CONNECTION, s->connection_cb_(s, async_translate_sys_error((int)err)));
    return;
  }
  if (err == ERROR_NO_DATA || st->nready == READY_MAX) { /* the client left already */
    DisconnectNamedPipe(h);
    wait_for_client(st, h);
    return;
  }
  st->ready[st->nready++] = h;
  wait_for_client(st, INVALID_HANDLE_VALUE); /* keep the number waiting */
  ASYNC__HANDLE_CB(s, ASYNC_CB_CONNECTION, s->connection_cb_(s, 0));
}

int async__pipe_ready(async_stream_t *server, async_stream_t *client, HANDLE *h) {
  const struct pipe_state *st = STATE(server);
  if (!async__handle_open((const async_handle_t *)client) || server == client ||
      !(server->stream_flags_ & LISTENING) || client->fd_ >= 0 || client->type != server->type)
    return ASYNC_EINVAL;
  if (st->nready == 0)
    return ASYNC_EAGAIN;
  *h = st->ready[0];
  return 0;
}

void async__pipe_ready_taken(struct pipe_state *st) {
  memmove(st->ready, st->ready + 1, (st->nready - 1) * sizeof(HANDLE));
  st->nready--;
}

int async__pipe_accept(async_stream_t *server, async_stream_t *client) {
  struct pipe_state *st = STATE(server);
  HANDLE h;
  int err = async__pipe_ready(server, client, &h);
  if (err != 0 || (err = open_end(client, h, 0)) != 0) /* tied to the port already */
    return err;
  if (st->uname != NULL)
    keep_name(STATE(client), st->uname, st->ulen, 1);
  async__pipe_ready_taken(st);
  return 0;
}

/* ---- clients ------------------------------------------------------------------- */

static HANDLE open_client(const WCHAR *name) {
  return CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                     FILE_FLAG_OVERLAPPED, NULL);
}

static void wait_work(async_work_t *w) {
  struct pipe_state *st = w->data;
  WaitNamedPipeW(st->name, 30000);
}

static void connect_finish(async_stream_t *s, int status) {
  async_connect_t *req = s->connect_;
  s->connect_ = NULL;
  async__stream_finish(s, (async_req_t *)req, status);
  async__stream_schedule_report(s);
}

/* Every instance was busy: wait for one on the pool, then try again. */
static void wait_after(async_work_t *w, int status) {
  struct pipe_state *st = w->data;
  HANDLE h;
  (void)status;
  st->waiting = 0;
  if (st->s == NULL || st->s->connect_ == NULL) {
    maybe_free(st);
    return;
  }
  h = open_client(st->name);
  if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY) {
    st->waiting = 1;
    if (async_work_queue(st->loop, &st->wait, wait_work, wait_after) == 0)
      return;
    st->waiting = 0;
  }
  if (h == INVALID_HANDLE_VALUE) {
    connect_finish(st->s, async__pipe_sys_error());
    return;
  }
  connect_finish(st->s, open_end(st->s, h, 1));
}

int async_pipe_connect2(async_connect_t *req, async_pipe_t *pipe, const char *name,
                        size_t namelen, async_connect_cb cb) {
  async_stream_t *s = (async_stream_t *)pipe;
  struct pipe_state *st;
  HANDLE h;
  WCHAR *w;
  int err = 0;
  if (req == NULL || !async__handle_ok(pipe, ASYNC_PIPE) || name == NULL)
    return ASYNC_EINVAL;
  if (pipe->fd_ >= 0 || pipe->connect_ != NULL)
    return ASYNC_EBUSY;
  if ((w = wide_name(name, namelen, &err)) == NULL)
    return err;
  if ((st = state_of(s)) == NULL) {
    async__free(w);
    return ASYNC_ENOMEM;
  }
  async__free(st->name);
  st->name = w;
  keep_name(st, name, namelen, 0);
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_CONNECT;
  req->state_ = 1;
  req->status_ = 0;
  s->loop->active_reqs_++;
  s->connect_ = req;
  h = open_client(w);
  if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY) {
    st->wait.data = st;
    st->waiting = 1;
    if ((err = async_work_queue(s->loop, &st->wait, wait_work, wait_after)) == 0)
      return 0;
    st->waiting = 0;
    connect_finish(s, err);
    return 0;
  }
  connect_finish(s, h == INVALID_HANDLE_VALUE ? async__pipe_sys_error() : open_end(s, h, 1));
  return 0;
}

int async_pipe_connect(async_connect_t *req, async_pipe_t *pipe, const char *name,
                       async_connect_cb cb) {
  return async_pipe_connect2(req, pipe, name, name != NULL ? strlen(name) : 0, cb);
}

/* ---- packets and closing ---------------------------------------------------------- */

void async__pipe_done(async_loop_t *loop, OVERLAPPED *ov) {
  struct pipe_op *op = (struct pipe_op *)(void *)ov;
  struct pipe_state *st = op->st;
  DWORD n = 0, err = 0;
  NTSTATUS status = (NTSTATUS)ov->Internal;
  if (status != 0)
    err = RtlNtStatusToDosError(status);
  n = (DWORD)ov->InternalHigh;
  st->inflight--;
  async__iocp_hold(loop, -1);
  st->dispatching = 1;
  switch (op->kind) {
  case OP_READ: async__pipe_read_done(st, err, n); break;
  case OP_WRITE: async__pipe_write_done(st, op, err); break;
  case OP_TCP_ACCEPT:
  case OP_TCP_CONNECT: async__tcp_iocp_done(st, op, err); break;
  default: accept_done(st, op, err); break;
  }
  st->dispatching = 0;
  maybe_free(st);
}

void async__pipe_close(async_stream_t *s) {
  struct pipe_state *st = STATE(s);
  s->stream_flags_ &= ~(unsigned)(READING | LISTENING);
  async_defer_cancel(&s->report_);
  if (st != NULL) {
    for (struct async__link *n = st->writes.next; n != &st->writes; n = n->next) {
      struct pipe_op *op = async__container_of(n, struct pipe_op, link);
      if (op->req == NULL)
        continue;
      s->write_queue_size -= op->len;
      async__stream_finish(s, (async_req_t *)op->req, ASYNC_ECANCELED);
      op->req = NULL; /* its packet only frees it now */
    }
  }
  async__stream_cancel_requests(s);
  s->fd_ = -1;
  if (st == NULL)
    return;
  async_defer_cancel(&st->deliver);
  st->s = NULL;
  for (unsigned i = 0; i < st->nready; i++)
    async__pipe_close_handle(st, st->ready[i]);
  st->nready = 0;
  if (st->first != INVALID_HANDLE_VALUE)
    CloseHandle(st->first);
  /* Instances still waiting for a client: their packets close them. */
  for (struct async__link *n = st->accepts.next; n != &st->accepts; n = n->next)
    CancelIoEx(async__container_of(n, struct pipe_op, link)->h,
               &async__container_of(n, struct pipe_op, link)->ov);
  if (st->h != INVALID_HANDLE_VALUE) {
    CancelIoEx(st->h, NULL);
    async__pipe_close_handle(st, st->h);
    st->h = INVALID_HANDLE_VALUE;
  }
  maybe_free(st);
}

/* An anonymous pair: a named pipe with a name of its own, inbound for the
 * read end, opened for writing as the other end. Not inherited. */
int async_pipe(int fds[2], int flags) {
  static volatile LONG counter;
  WCHAR name[96];
  HANDLE r, w;
  (void)flags; /* both ends are overlapped: never blocking with the loop */
  if (fds == NULL)
    return ASYNC_EINVAL;
  _snwprintf(name, sizeof(name) / sizeof(name[0]), L"\\\\.\\pipe\\libasync-%lu-%ld",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&counter));
  r = CreateNamedPipeW(name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                       1, BUF_SIZE, BUF_SIZE, 0, NULL);
  if (r == INVALID_HANDLE_VALUE)
    return async__pipe_sys_error();
  w = CreateFileW(name, GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, NULL, OPEN_EXISTING,
                  FILE_FLAG_OVERLAPPED, NULL);
  if (w == INVALID_HANDLE_VALUE) {
    int err = async__pipe_sys_error();
    CloseHandle(r);
    return err;
  }
  fds[0] = (int)(intptr_t)r;
  fds[1] = (int)(intptr_t)w;
  return 0;
}

/* A server end's own name is the pipe's, its peer unnamed; a client's peer
 * is the pipe's name, itself unnamed: what Unix sockets say. */
static int name_of(const async_pipe_t *p, char *buf, size_t *len, int peer) {
  const struct pipe_state *st;
  size_t n = 0;
  if (!async__handle_ok(p, ASYNC_PIPE) || buf == NULL || len == NULL)
    return ASYNC_EINVAL;
  if (p->fd_ < 0)
    return ASYNC_EBADF;
  st = STATE(p);
  if (peer && (st == NULL || st->h == INVALID_HANDLE_VALUE))
    return ASYNC_ENOTCONN;
  if (st != NULL && st->uname != NULL && st->named_here != peer)
    n = st->ulen;
  if (n > *len) {
    *len = n;
    return ASYNC_ENOBUFS;
  }
  if (n > 0)
    memcpy(buf, st->uname, n);
  if (n < *len)
    buf[n] = '\0';
  *len = n;
  return 0;
}

int async_pipe_getsockname(const async_pipe_t *pipe, char *buf, size_t *len) {
  return name_of(pipe, buf, len, 0);
}

int async_pipe_getpeername(const async_pipe_t *pipe, char *buf, size_t *len) {
  return name_of(pipe, buf, len, 1);
}
