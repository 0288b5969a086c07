/* Streams on Windows. TCP runs over socket readiness: the loop's socket watcher
 * (AFD polls on IOCP, select's sets on select) drives non-blocking
 * recv/WSASend, so one stream layer serves both Windows backends. The read
 * side follows read interest; writes are tried at once and add write
 * interest only when Winsock refuses bytes. Callbacks of finished writes,
 * shutdowns and connects run from the loop, never inside the call. Pipes
 * (named pipes, IOCP only) are completion-based and live in pipe.c: the
 * public stream calls hand them over there. */
#include "win.h"

#include <string.h>

#define READ_SIZE 65536
#define READ_BATCH 32
#define ACCEPT_BATCH 32
#define SEND_BATCH 64

enum {
  READABLE = 1,
  WRITABLE = 2,
  READING = 4,
  SHUT = 8, /* async_shutdown was called */
  READ_EOF = 16,
  LISTENING = 32,
  ACCEPT_PAUSED = 64, /* a connection waits for async_accept */
  CONNECTING = 128
};

/* Request states (state_). */
enum { IDLE = 0, QUEUED = 1 };

#define STREAM_OF(w) async__container_of(w, async_stream_t, io_)
#define SOCK(s) ((SOCKET)(uintptr_t)(s)->fd_)

static void stream_io(async_watch_t *w, int status, unsigned events);

static int update_interest(async_stream_t *s) {
  unsigned f = s->stream_flags_;
  int reading = (f & READING) || ((f & LISTENING) && !(f & ACCEPT_PAUSED));
  unsigned want = (reading ? ASYNC_READABLE : 0u) |
                  (async__list_empty(&s->writes_) && !(f & CONNECTING) ? 0u : ASYNC_WRITABLE);
  s->io_.events_ = want;
  return async__io_set(s->loop, SOCK(s), want);
}

int async__stream_init(async_loop_t *loop, async_stream_t *s, async_handle_type type) {
  s->write_queue_size = 0;
  s->alloc_cb_ = NULL;
  async__list_init(&s->writes_);
  async__list_init(&s->finished_);
  s->shutdown_ = NULL;
  s->connect_ = NULL;
  s->connection_cb_ = NULL;
  s->accepted_fd_ = -1;
  s->reserve_fd_ = -1;
  async_defer_init(&s->report_);
  s->stream_flags_ = 0;
  s->fd_ = -1;
  return async__handle_init(loop, (async_handle_t *)s, type);
}

int async__stream_open(async_stream_t *s, SOCKET sock, unsigned readable, unsigned writable) {
  u_long nonblocking = 1;
  int err;
  if (ioctlsocket(sock, FIONBIO, &nonblocking) != 0)
    return async_translate_sys_error(WSAGetLastError());
  err = async__io_attach_internal(s->loop, &s->io_, sock, stream_io);
  if (err != 0)
    return err;
  s->fd_ = (int)sock;
  s->stream_flags_ = (readable ? READABLE : 0u) | (writable ? WRITABLE : 0u);
  return 0;
}

/* Sends what Winsock takes now: the byte count, ASYNC_EAGAIN, or an error. */
static long send_some(async_stream_t *s, const async_buf_t *bufs, unsigned nbufs) {
  WSABUF wb[SEND_BATCH];
  DWORD n = 0, sent = 0;
  for (; n < nbufs && n < SEND_BATCH; n++) {
    wb[n].buf = bufs[n].base;
    wb[n].len = bufs[n].len > 0x7fffffff ? 0x7fffffff : (ULONG)bufs[n].len;
  }
  if (WSASend(SOCK(s), wb, n, &sent, 0, NULL, NULL) != 0) {
    int err = WSAGetLastError();
    return err == WSAEWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(err);
  }
  return (long)sent;
}

static size_t buf_total(const async_buf_t *bufs, unsigned nbufs) {
  size_t n = 0;
  for (unsigned i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}

/* Sends what Winsock takes of one request; 1 when it is all sent, 0 when
 * Winsock refused more, or a negative error. */
static int write_some(async_stream_t *s, async_write_t *req) {
  while (req->index_ < req->nbufs_) {
    long r = send_some(s, req->bufs_ + req->index_, req->nbufs_ - req->index_);
    if (r < 0)
      return r == ASYNC_EAGAIN ? 0 : (int)r;
    s->write_queue_size -= (size_t)r;
    while (req->index_ < req->nbufs_ && (size_t)r >= req->bufs_[req->index_].len) {
      r -= (long)req->bufs_[req->index_].len;
      req->bufs_[req->index_].len = 0;
      req->index_++;
    }
    if (req->index_ < req->nbufs_) { /* a partial buffer: the socket is full */
      req->bufs_[req->index_].base += r;
      req->bufs_[req->index_].len -= (size_t)r;
      return 0;
    }
  }
  return 1;
}

void async__stream_finish(async_stream_t *s, async_req_t *req, int status) {
  if (req->type == ASYNC_WRITE) {
    async_write_t *w = (async_write_t *)req;
    async__list_remove(&req->link_);
    s->write_queue_size -= buf_total(w->bufs_ + w->index_, w->nbufs_ - w->index_);
  }
  req->status_ = status;
  async__list_insert_tail(&s->finished_, &req->link_);
}

static void report_one(async_stream_t *s) {
  async_req_t *req = async__container_of(s->finished_.next, async_req_t, link_);
  async__list_remove(&req->link_);
  req->state_ = IDLE;
  s->loop->active_reqs_--;
  if (req->type == ASYNC_WRITE) {
    async_write_t *w = (async_write_t *)req;
    if (w->bufs_ != w->small_)
      async__free(w->bufs_);
    if (w->cb_ != NULL)
      w->cb_(w, req->status_);
  } else if (req->type == ASYNC_SHUTDOWN) {
    async_shutdown_t *sh = (async_shutdown_t *)req;
    if (sh->cb_ != NULL)
      sh->cb_(sh, req->status_);
  } else {
    async_connect_t *c = (async_connect_t *)req;
    if (c->cb_ != NULL)
      c->cb_(c, req->status_);
  }
}

/* A callback may close the stream: the rest then wait for the close phase. */
void async__stream_run_finished(async_stream_t *s) {
  while (!async__list_empty(&s->finished_) && !async__is_closing(s))
    report_one(s);
}

static void report_cb(async_defer_t *d) {
  async__stream_run_finished(async__container_of(d, async_stream_t, report_));
}

void async__stream_schedule_report(async_stream_t *s) {
  if (!async__list_empty(&s->finished_) && !async_defer_pending(&s->report_))
    async_defer(s->loop, &s->report_, report_cb);
}

/* ---- connections --------------------------------------------------------- */

static void accept_some(async_stream_t *s) {
  for (int i = 0; i < ACCEPT_BATCH && (s->stream_flags_ & LISTENING) &&
                  !(s->stream_flags_ & ACCEPT_PAUSED); i++) {
    SOCKET c = accept(SOCK(s), NULL, NULL);
    if (c == INVALID_SOCKET) {
      int err = WSAGetLastError();
      if (err == WSAEWOULDBLOCK)
        return;
      if (err == WSAECONNRESET || err == WSAEINTR)
        continue; /* the peer gave up while queued */
      s->connection_cb_(s, async_translate_sys_error(err));
      return;
    }
    SetHandleInformation((HANDLE)c, HANDLE_FLAG_INHERIT, 0);
    s->accepted_fd_ = (int)c;
    s->stream_flags_ |= ACCEPT_PAUSED;
    s->connection_cb_(s, 0);
    if (async__is_closing(s))
      return;
    if (s->accepted_fd_ >= 0) { /* not taken: wait for async_accept */
      update_interest(s);
      return;
    }
  }
}

int async_listen(async_stream_t *s, int backlog, async_connection_cb cb) {
  if (s != NULL && s->type == ASYNC_PIPE)
    return async__pipe_listen(s, backlog, cb);
  int err;
  if (s == NULL || cb == NULL || async__is_closing(s) || s->fd_ < 0 ||
      (s->stream_flags_ & (READING | CONNECTING)) || !async__list_empty(&s->writes_))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & LISTENING)
    return ASYNC_EALREADY;
  if (listen(SOCK(s), backlog) != 0)
    return async_translate_sys_error(WSAGetLastError());
  s->connection_cb_ = cb;
  s->stream_flags_ = (s->stream_flags_ | LISTENING) & ~(unsigned)(READABLE | WRITABLE);
  if ((err = update_interest(s)) != 0) {
    s->stream_flags_ &= ~(unsigned)LISTENING;
    return err;
  }
  async__handle_start((async_handle_t *)s);
  return 0;
}

int async_accept(async_stream_t *server, async_stream_t *client) {
  if (server != NULL && server->type == ASYNC_PIPE)
    return async__pipe_accept(server, client);
  int err;
  if (server == NULL || client == NULL || async__is_closing(server) ||
      async__is_closing(client) || !(server->stream_flags_ & LISTENING) || client->fd_ >= 0 ||
      client->type != server->type)
    return ASYNC_EINVAL;
  if (server->accepted_fd_ < 0)
    return ASYNC_EAGAIN;
  err = async__stream_open(client, (SOCKET)(uintptr_t)server->accepted_fd_, 1, 1);
  if (err != 0)
    return err;
  server->accepted_fd_ = -1;
  server->stream_flags_ &= ~(unsigned)ACCEPT_PAUSED;
  update_interest(server);
  return 0;
}

int async__stream_connect(async_stream_t *s, async_connect_t *req, const struct sockaddr *addr,
                          int len, async_connect_cb cb) {
  int err = 0;
  if (s->stream_flags_ & CONNECTING)
    return ASYNC_EALREADY;
  if (s->stream_flags_ & (LISTENING | READING | WRITABLE))
    return ASYNC_EISCONN;
  if (connect(SOCK(s), addr, len) != 0) {
    int e = WSAGetLastError();
    err = e == WSAEWOULDBLOCK ? 1 : async_translate_sys_error(e);
  }
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_CONNECT;
  req->state_ = QUEUED;
  req->status_ = 0;
  s->loop->active_reqs_++;
  if (err == 1) { /* the answer comes as writability, or as an error */
    s->connect_ = req;
    s->stream_flags_ |= CONNECTING;
    return update_interest(s);
  }
  if (err == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  async__stream_finish(s, (async_req_t *)req, err);
  async__stream_schedule_report(s);
  return 0;
}

static void connect_done(async_stream_t *s) {
  int err = 0, len = (int)sizeof(err);
  async_connect_t *req = s->connect_;
  getsockopt(SOCK(s), SOL_SOCKET, SO_ERROR, (char *)&err, &len);
  s->connect_ = NULL;
  s->stream_flags_ &= ~(unsigned)CONNECTING;
  if (err == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  async__stream_finish(s, (async_req_t *)req, async_translate_sys_error(err));
  update_interest(s);
}

static void do_shutdown(async_stream_t *s) {
  async_shutdown_t *req = s->shutdown_;
  int status = 0;
  s->shutdown_ = NULL;
  if (shutdown(SOCK(s), SD_SEND) != 0)
    status = async_translate_sys_error(WSAGetLastError());
  s->stream_flags_ &= ~(unsigned)WRITABLE;
  async__stream_finish(s, (async_req_t *)req, status);
}

/* Moves every write Winsock takes to the finished list; 1 if some wait. */
static int flush(async_stream_t *s) {
  while (!async__list_empty(&s->writes_)) {
    async_write_t *req = async__container_of(s->writes_.next, async_write_t, link_);
    int r = write_some(s, req);
    if (r == 0)
      return 1;
    async__stream_finish(s, (async_req_t *)req, r < 0 ? r : 0);
    if (r < 0) { /* the stream cannot take more: fail what is queued behind */
      while (!async__list_empty(&s->writes_))
        async__stream_finish(s, (async_req_t *)async__container_of(s->writes_.next, async_write_t, link_), r);
    }
  }
  if (s->shutdown_ != NULL)
    do_shutdown(s);
  return 0;
}

static void read_some(async_stream_t *s) {
  for (int i = 0; i < READ_BATCH && (s->stream_flags_ & READING); i++) {
    async_buf_t buf = {NULL, 0};
    int n, len;
    s->alloc_cb_((async_handle_t *)s, READ_SIZE, &buf);
    if (buf.base == NULL || buf.len == 0) {
      s->cb_.read(s, ASYNC_ENOBUFS, &buf);
      return;
    }
    len = buf.len > 0x7fffffff ? 0x7fffffff : (int)buf.len;
    n = recv(SOCK(s), buf.base, len, 0);
    if (n > 0) {
      s->cb_.read(s, (long)n, &buf);
      if (n < len)
        return; /* drained for now: the next recv would say WSAEWOULDBLOCK */
      continue;
    }
    if (n == 0) { /* end of stream: stop reading, then say so */
      s->stream_flags_ = (s->stream_flags_ & ~(unsigned)(READING | READABLE)) | READ_EOF;
      async__handle_stop((async_handle_t *)s);
      update_interest(s);
      s->cb_.read(s, ASYNC_EOF, &buf);
      return;
    }
    n = WSAGetLastError();
    s->cb_.read(s, n == WSAEWOULDBLOCK ? 0 : async_translate_sys_error(n), &buf);
    return;
  }
}

static void stream_io(async_watch_t *w, int status, unsigned events) {
  async_stream_t *s = STREAM_OF(w);
  if (status != 0) /* the socket vanished under the stream */
    events = ASYNC_ERROR | ASYNC_HANGUP;
  if (s->stream_flags_ & LISTENING) {
    if (events & (ASYNC_READABLE | ASYNC_ERROR))
      accept_some(s);
    return;
  }
  if (s->stream_flags_ & CONNECTING) {
    if (events & (ASYNC_WRITABLE | ASYNC_ERROR | ASYNC_HANGUP)) {
      connect_done(s);
      async__stream_run_finished(s);
    }
    return;
  }
  if ((events & (ASYNC_READABLE | ASYNC_HANGUP | ASYNC_ERROR)) && (s->stream_flags_ & READING))
    read_some(s);
  if (async__is_closing(s) || s->fd_ < 0)
    return;
  if ((events & (ASYNC_WRITABLE | ASYNC_ERROR | ASYNC_HANGUP)) && !async__list_empty(&s->writes_)) {
    flush(s);
    update_interest(s);
    async__stream_run_finished(s);
  }
}

int async_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb) {
  if (s != NULL && s->type == ASYNC_PIPE)
    return async__pipe_read_start(s, alloc_cb, read_cb);
  int err;
  if (s == NULL || alloc_cb == NULL || read_cb == NULL || async__is_closing(s))
    return ASYNC_EINVAL;
  if (s->fd_ < 0)
    return ASYNC_ENOTCONN;
  if (!(s->stream_flags_ & READABLE))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & READING)
    return ASYNC_EALREADY;
  s->alloc_cb_ = alloc_cb;
  s->cb_.read = read_cb;
  s->stream_flags_ |= READING;
  if ((err = update_interest(s)) != 0) {
    s->stream_flags_ &= ~(unsigned)READING;
    return err;
  }
  async__handle_start((async_handle_t *)s);
  return 0;
}

int async_read_stop(async_stream_t *s) {
  if (s != NULL && s->type == ASYNC_PIPE)
    return async__pipe_read_stop(s);
  if (s == NULL || async__is_closing(s))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & READING) {
    s->stream_flags_ &= ~(unsigned)READING;
    async__handle_stop((async_handle_t *)s);
    update_interest(s);
  }
  return 0;
}

static int can_write(const async_write_t *req, const async_stream_t *s, const async_buf_t bufs[],
                     unsigned nbufs) {
  return req != NULL && s != NULL && (bufs != NULL || nbufs == 0) && !async__is_closing(s) &&
         s->fd_ >= 0 && (s->stream_flags_ & WRITABLE) && !(s->stream_flags_ & SHUT);
}

int async_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                async_write_cb cb) {
  if (s != NULL && s->type == ASYNC_PIPE)
    return async__pipe_write(req, s, bufs, nbufs, cb);
  if (!can_write(req, s, bufs, nbufs))
    return ASYNC_EINVAL;
  req->bufs_ = nbufs <= 4 ? req->small_ : async__malloc(nbufs * sizeof(async_buf_t));
  if (req->bufs_ == NULL)
    return ASYNC_ENOMEM;
  req->send_fd_ = -1;
  if (nbufs > 0)
    memcpy(req->bufs_, bufs, nbufs * sizeof(async_buf_t));
  req->nbufs_ = nbufs;
  req->index_ = 0;
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_WRITE;
  req->state_ = QUEUED;
  req->status_ = 0;
  s->write_queue_size += buf_total(bufs, nbufs);
  s->loop->active_reqs_++;
  async__list_insert_tail(&s->writes_, &req->link_);
  if (s->writes_.next == &req->link_) { /* nothing ahead of it: try now */
    if (flush(s))
      return update_interest(s); /* only now does the backend hear of writing */
    async__stream_schedule_report(s);
  }
  return 0;
}

long async_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs) {
  if (s != NULL && s->type == ASYNC_PIPE)
    return async__pipe_try_write(s, bufs, nbufs);
  if (s == NULL || (bufs == NULL && nbufs > 0) || async__is_closing(s) || s->fd_ < 0 ||
      !(s->stream_flags_ & WRITABLE) || (s->stream_flags_ & SHUT))
    return ASYNC_EINVAL;
  if (!async__list_empty(&s->writes_))
    return ASYNC_EAGAIN;
  return send_some(s, bufs, nbufs);
}

int async_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
  if (s != NULL && s->type == ASYNC_PIPE)
    return async__pipe_shutdown(req, s, cb);
  if (req == NULL || s == NULL || async__is_closing(s))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & SHUT)
    return ASYNC_EALREADY;
  if (s->fd_ < 0 || !(s->stream_flags_ & WRITABLE))
    return ASYNC_EINVAL;
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_SHUTDOWN;
  req->state_ = QUEUED;
  req->status_ = 0;
  s->shutdown_ = req;
  s->stream_flags_ |= SHUT;
  s->loop->active_reqs_++;
  if (async__list_empty(&s->writes_)) {
    do_shutdown(s);
    async__stream_schedule_report(s);
  }
  return 0;
}

int async_is_readable(const async_stream_t *s) {
  return s != NULL && !async__is_closing(s) && (s->stream_flags_ & READABLE) != 0;
}

int async_is_writable(const async_stream_t *s) {
  return s != NULL && !async__is_closing(s) && (s->stream_flags_ & WRITABLE) != 0 &&
         !(s->stream_flags_ & SHUT);
}

size_t async_stream_write_queue_size(const async_stream_t *s) {
  return s != NULL ? s->write_queue_size : 0;
}

/* async_close: everything stops now; callbacks come in the close phase. */
void async__stream_close(async_stream_t *s) {
  if (s->type == ASYNC_PIPE) {
    async__pipe_close(s);
    return;
  }
  s->stream_flags_ &= ~(unsigned)READING;
  async_defer_cancel(&s->report_);
  while (!async__list_empty(&s->writes_))
    async__stream_finish(s, (async_req_t *)async__container_of(s->writes_.next, async_write_t, link_),
           ASYNC_ECANCELED);
  if (s->shutdown_ != NULL) {
    async__stream_finish(s, (async_req_t *)s->shutdown_, ASYNC_ECANCELED);
    s->shutdown_ = NULL;
  }
  if (s->connect_ != NULL) {
    async__stream_finish(s, (async_req_t *)s->connect_, ASYNC_ECANCELED);
    s->connect_ = NULL;
  }
  s->stream_flags_ &= ~(unsigned)(LISTENING | CONNECTING);
  if (s->accepted_fd_ >= 0) {
    closesocket((SOCKET)(uintptr_t)s->accepted_fd_);
    s->accepted_fd_ = -1;
  }
  if (s->fd_ >= 0) {
    async__io_detach(s->loop, SOCK(s));
    closesocket(SOCK(s));
    s->fd_ = -1;
  }
}

void async__stream_finish_close(async_stream_t *s) {
  while (!async__list_empty(&s->finished_))
    report_one(s);
}
