/* Reading and writing of the completion streams (named pipes, see pipe.c,
 * and TCP sockets on IOCP, see tcp_iocp.c). One read is in flight at a
 * time: a pipe's ReadFile into a buffer of its own, whose bytes go to the
 * callbacks from the loop; a socket's zero-byte WSARecv, which holds no
 * memory while the connection is idle, after which non-blocking recvs fill
 * the caller's buffers. A write first sends what a socket takes at once;
 * the rest (and every pipe write) is one overlapped WriteFile/WSASend of a
 * copy of its bytes. */
#include "pipe.h"

#include <string.h>

/* ---- reading ------------------------------------------------------------------- */

static void deliver_cb(async_defer_t *d);

/* Recvs per delivery after a zero-byte read, before other handles get a turn. */
#define RECV_BATCH 32

/* WSARecv's and WSASend's error is GetLastError()'s too (WSA_IO_PENDING is
 * ERROR_IO_PENDING), so both kinds share async__pipe_started. */
static BOOL read_op(struct pipe_state *st) {
  WSABUF b;
  DWORD flags = 0;
  if (!st->sock)
    return ReadFile(st->h, st->rbuf, BUF_SIZE, NULL, &st->read.ov);
  b.buf = NULL; /* zero bytes: it completes once bytes, an end or an error wait */
  b.len = 0;
  return WSARecv((SOCKET)st->h, &b, 1, NULL, &flags, &st->read.ov, NULL) == 0;
}

static BOOL write_op(struct pipe_state *st, struct pipe_op *op) {
  WSABUF b;
  if (!st->sock)
    return WriteFile(st->h, op->data, (DWORD)op->len, NULL, &op->ov);
  b.buf = op->data;
  b.len = (ULONG)op->len;
  return WSASend((SOCKET)st->h, &b, 1, NULL, 0, &op->ov, NULL) == 0;
}

static void start_read(struct pipe_state *st) {
  if (!st->sock && st->rbuf == NULL && (st->rbuf = async__malloc(BUF_SIZE)) == NULL) {
    st->read_end = ASYNC_ENOMEM;
    return;
  }
  memset(&st->read.ov, 0, sizeof(st->read.ov));
  if (async__pipe_started(read_op(st))) {
    st->read_inflight = 1;
    async__pipe_held(st);
    return;
  }
  st->read_end = GetLastError() == ERROR_BROKEN_PIPE ? ASYNC_EOF : async__pipe_sys_error();
}

/* Reading ends: with the caller's buffer, if one was taken for it. */
static void end_read(async_stream_t *s, int end, const async_buf_t *buf) {
  s->stream_flags_ &= ~(unsigned)(READING | (end == ASYNC_EOF ? READABLE : 0u));
  async__handle_stop((async_handle_t *)s);
  async__read_call(s, end, buf);
}

/* What one recv into buf found; 1 to go on. */
static int recv_one(struct pipe_state *st, async_stream_t *s, async_buf_t *buf) {
  int len = buf->len > 0x7fffffff ? 0x7fffffff : (int)buf->len;
  int n = recv((SOCKET)st->h, buf->base, len, 0), err;
  if (n > 0) {
    st->sock_ready = n == len; /* a short recv drained the socket */
    async__read_call(s, n, buf);
    return !async__is_closing(s);
  }
  st->sock_ready = 0;
  if (n == 0) {
    st->read_end = ASYNC_EOF;
    end_read(s, ASYNC_EOF, buf);
    return 0;
  }
  err = WSAGetLastError();
  if (err != WSAEWOULDBLOCK) {
    st->read_end = async_translate_sys_error(err);
    end_read(s, st->read_end, buf);
    return 0;
  }
  async__read_call(s, 0, buf); /* the buffer comes back unused */
  return 0;
}

/* A zero-byte read said the socket has something: recv it into the
 * caller's buffers, RECV_BATCH at most before the loop's other handles. */
static void recv_some(struct pipe_state *st) {
  async_stream_t *s = st->s;
  for (int i = 0; st->sock_ready && (s->stream_flags_ & READING); i++) {
    async_buf_t buf = {NULL, 0};
    if (i == RECV_BATCH) {
      async__defer_own(s->loop, &st->deliver, deliver_cb);
      return;
    }
    async__alloc_call((async_handle_t *)s, s->alloc_cb_, BUF_SIZE, &buf);
    if (buf.base == NULL || buf.len == 0) {
      async__read_call(s, ASYNC_ENOBUFS, &buf);
      return;
    }
    if (!recv_one(st, s, &buf))
      return;
  }
}

/* Hands what was read to the stream's callbacks while it reads. */
static void deliver(struct pipe_state *st) {
  async_stream_t *s = st->s;
  if (s != NULL && st->sock_ready && (s->stream_flags_ & READING)) {
    recv_some(st);
    if (st->sock_ready || async__is_closing(s) || !(s->stream_flags_ & READING))
      return; /* more later, or the stream stopped or ended meanwhile */
  }
  while (s != NULL && (s->stream_flags_ & READING) && st->roff < st->rlen) {
    async_buf_t buf = {NULL, 0};
    size_t n = st->rlen - st->roff;
    async__alloc_call((async_handle_t *)s, s->alloc_cb_, n, &buf);
    if (buf.base == NULL || buf.len == 0) {
      async__read_call(s, ASYNC_ENOBUFS, &buf);
      return;
    }
    if (n > buf.len)
      n = buf.len;
    memcpy(buf.base, st->rbuf + st->roff, n);
    st->roff += (DWORD)n;
    async__read_call(s, (long)n, &buf);
    if (async__is_closing(s))
      return;
  }
  if (s == NULL || !(s->stream_flags_ & READING))
    return;
  if (st->read_end != 0) {
    async_buf_t none = {NULL, 0};
    end_read(s, st->read_end, &none);
    return;
  }
  if (!st->read_inflight) {
    start_read(st);
    if (st->read_end != 0) /* it failed at once: say so now */
      deliver(st);
  }
}

static void deliver_cb(async_defer_t *d) {
  deliver(async__container_of(d, struct pipe_state, deliver));
}

void async__pipe_read_done(struct pipe_state *st, DWORD err, DWORD n) {
  st->read_inflight = 0;
  if (st->s == NULL)
    return;
  if (err == 0 && st->sock) {
    st->sock_ready = 1; /* bytes, an end or an error wait: recv says which */
  } else if (err == 0) {
    st->rlen = n;
    st->roff = 0;
  } else if (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF || err == ERROR_PIPE_NOT_CONNECTED) {
    st->read_end = ASYNC_EOF;
  } else if (err != ERROR_OPERATION_ABORTED) {
    st->read_end = async_translate_sys_error((int)err);
  }
  deliver(st);
}

int async__pipe_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb) {
  struct pipe_state *st = STATE(s);
  int err = async__stream_read_req(s, alloc_cb, read_cb,
                                   st != NULL && st->h != INVALID_HANDLE_VALUE);
  if (err != 0)
    return err;
  async__handle_start((async_handle_t *)s);
  /* Bytes kept from before, or an end, go out from the loop; otherwise read. */
  if (st->roff < st->rlen || st->read_end != 0 || st->sock_ready) {
    async__defer_own(s->loop, &st->deliver, deliver_cb);
  } else if (!st->read_inflight) {
    start_read(st);
    if (st->read_end != 0)
      async__defer_own(s->loop, &st->deliver, deliver_cb);
  }
  return 0;
}

/* A read in flight stays: what it brings is kept for the next start. */
int async__pipe_read_stop(async_stream_t *s) {
  if (async__is_closing(s))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & READING) {
    s->stream_flags_ &= ~(unsigned)READING;
    async__handle_stop((async_handle_t *)s);
  }
  return 0;
}

/* ---- writing ------------------------------------------------------------------- */

static void do_shutdown(async_stream_t *s);

static int write_error(DWORD e) {
  return e == ERROR_NO_DATA || e == ERROR_BROKEN_PIPE ? ASYNC_EPIPE
                                                      : async_translate_sys_error((int)e);
}

/* An op holding a copy of the bytes of bufs past the first skip (the
 * kernel reads them until the packet comes, which may be after the request
 * was cancelled and its buffers went back to the caller); NULL: no memory. */
static struct pipe_op *copy_op(struct pipe_state *st, const async_buf_t bufs[], unsigned nbufs,
                               size_t skip, size_t total) {
  struct pipe_op *op = async__calloc(1, sizeof(*op));
  size_t off = 0;
  if (op != NULL && (op->data = async__malloc(total - skip)) == NULL) {
    async__free(op);
    return NULL;
  }
  for (unsigned i = 0; op != NULL && i < nbufs; i++) {
    size_t from = skip > bufs[i].len ? bufs[i].len : skip;
    memcpy(op->data + off, bufs[i].base + from, bufs[i].len - from);
    off += bufs[i].len - from;
    skip -= from;
  }
  if (op != NULL) {
    op->st = st;
    op->kind = OP_WRITE;
    op->len = off;
  }
  return op;
}

static void queue_req(async_write_t *req, async_stream_t *s, async_write_cb cb) {
  req->bufs_ = req->small_; /* the bytes are sent or the op's copy */
  req->nbufs_ = req->index_ = 0;
  req->send_fd_ = -1;
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_WRITE;
  req->state_ = 1;
  req->status_ = 0;
  s->loop->active_reqs_++;
  async__list_insert_tail(&s->writes_, &req->link_);
}

/* A socket with nothing queued first sends what Winsock takes at once, as
 * the readiness streams do: most writes then finish without a copy or a
 * packet; only the rest goes out overlapped. 1 when that was tried, with
 * *sent the bytes taken or an error. */
static int send_now(struct pipe_state *st, async_stream_t *s, const async_buf_t bufs[],
                    unsigned nbufs, long *sent) {
  *sent = 0;
  if (!st->sock || !async__list_empty(&s->writes_))
    return 0;
  *sent = async__win_send((SOCKET)st->h, bufs, nbufs);
  if (*sent == ASYNC_EAGAIN)
    *sent = 0;
  return 1;
}

int async__pipe_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                      unsigned nbufs, async_write_cb cb) {
  struct pipe_state *st = STATE(s);
  struct pipe_op *op = NULL;
  size_t total = 0;
  long sent;
  int tried;
  if (req == NULL || (bufs == NULL && nbufs > 0) || async__is_closing(s) || st == NULL ||
      st->h == INVALID_HANDLE_VALUE || !(s->stream_flags_ & WRITABLE) || (s->stream_flags_ & SHUT))
    return ASYNC_EINVAL;
  for (unsigned i = 0; i < nbufs; i++)
    total += bufs[i].len;
  if (total > 0x7fffffff)
    return ASYNC_EINVAL;
  tried = send_now(st, s, bufs, nbufs, &sent);
  if (!tried && (op = copy_op(st, bufs, nbufs, 0, total)) == NULL)
    return ASYNC_ENOMEM;
  queue_req(req, s, cb);
  if (tried && (sent < 0 || (size_t)sent == total)) {
    async__stream_finish(s, (async_req_t *)req, sent < 0 ? (int)sent : 0);
    async__stream_schedule_report(s);
    return 0;
  }
  if (tried && (op = copy_op(st, bufs, nbufs, (size_t)sent, total)) == NULL) {
    async__stream_finish(s, (async_req_t *)req, ASYNC_ENOMEM); /* part may be out */
    async__stream_schedule_report(s);
    return 0;
  }
  op->req = req;
  if (!async__pipe_started(write_op(st, op))) {
    async__stream_finish(s, (async_req_t *)req, write_error(GetLastError()));
    async__stream_schedule_report(s);
    async__free(op->data);
    async__free(op);
    return 0;
  }
  async__pipe_held(st);
  async__list_insert_tail(&st->writes, &op->link);
  s->write_queue_size += op->len;
  return 0;
}

void async__pipe_write_done(struct pipe_state *st, struct pipe_op *op, DWORD err) {
  async_write_t *req = op->req;
  async_stream_t *s = st->s;
  async__list_remove(&op->link);
  if (req != NULL && s != NULL) {
    s->write_queue_size -= op->len;
    async__stream_finish(s, (async_req_t *)req, err == 0 ? 0 : write_error(err));
    if (s->shutdown_ != NULL && async__list_empty(&st->writes))
      do_shutdown(s);
    async__stream_run_finished(s);
  }
  async__free(op->data);
  async__free(op);
}

/* Overlapped pipes have no non-blocking write to try; a socket (made
 * non-blocking) sends at once what it takes while nothing is queued. */
long async__pipe_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs) {
  if ((bufs == NULL && nbufs > 0) || async__is_closing(s) || s->fd_ < 0 ||
      !(s->stream_flags_ & WRITABLE) || (s->stream_flags_ & SHUT))
    return ASYNC_EINVAL;
  if (!STATE(s)->sock || !async__list_empty(&s->writes_))
    return ASYNC_EAGAIN;
  return async__win_send((SOCKET)STATE(s)->h, bufs, nbufs);
}

/* A socket sends its FIN. A write-only pipe end (an async_pipe() writer)
 * ends by closing, which is how its reader learns the end; a duplex named
 * pipe has no half-close, so like a tty on Unix it says ASYNC_ENOTSOCK.
 * Each once the writes drained. */
static void do_shutdown(async_stream_t *s) {
  struct pipe_state *st = STATE(s);
  async_shutdown_t *req = s->shutdown_;
  int status = ASYNC_ENOTSOCK;
  s->shutdown_ = NULL;
  if (st->sock) {
    status = shutdown((SOCKET)st->h, SD_SEND) == 0 ? 0
                                                   : async_translate_sys_error(WSAGetLastError());
  } else if (!(s->stream_flags_ & READABLE)) {
    CloseHandle(st->h);
    st->h = INVALID_HANDLE_VALUE;
    s->fd_ = -1;
    status = 0;
  }
  s->stream_flags_ &= ~(unsigned)WRITABLE;
  async__stream_finish(s, (async_req_t *)req, status);
}

int async__pipe_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
  int err = async__stream_shutdown_req(req, s, cb);
  if (err != 0)
    return err;
  if (async__list_empty(&STATE(s)->writes)) {
    do_shutdown(s);
    async__stream_schedule_report(s);
  }
  return 0;
}
