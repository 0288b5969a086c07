/* Streams over readiness, written once for every backend of both worlds: a
 * read side driven by read interest, and a queue of writes that is tried at
 * once and adds write interest only when the system refuses bytes.
 * Callbacks of finished writes, shutdowns and connects run from the loop,
 * never inside the call. The system calls are the world's, inline from its
 * stream_os.h (src/unix: pipes, ttys, TCP and Unix sockets, fds passed over
 * IPC; src/win: TCP sockets on the select backend, while named pipes and
 * IOCP's sockets go to the completion engine of src/win/pipe.c). */
#include "sock.h"

#include <string.h>

#define READ_SIZE 65536
#define READ_BATCH 32
/* Connections taken per wakeup while the callback accepts each at once. A
 * connection costs one accept and one callback, so the bound is generous:
 * a smaller one lets a burst of connects overflow the listen queue, and the
 * dropped SYNs then wait a second for their retransmission. */
#define ACCEPT_BATCH 1024
/* Finished writes reported per stream per pass: a writer that writes again
 * from its callback runs on, without a poll, for this many completions,
 * then lets the other handles have the turn. Smaller bounds yield before
 * a loopback socket buffer fills and cost bench/pump 40 % of its rate. */
#define REPORT_BATCH 1024

enum {
  READABLE = 1,
  WRITABLE = 2,
  READING = 4,
  SHUT = ASYNC__STREAM_SHUT,
  IS_SOCKET = 16, /* a socket: shutdown and listen work, writes are sends */
  READ_EOF = 32,
  LISTENING = 64,
  ACCEPT_PAUSED = 128, /* a connection waits for async_accept */
  CONNECTING = 256,
  STARVED = 1024, /* out of fds with no spare: not watching until a handle closes */
  IPC = ASYNC__STREAM_IPC /* fds travel with the bytes (a Unix pipe's flag) */
};

#if defined(_WIN32)
# include "../win/stream_os.h"
#else
# include "../unix/stream_os.h"
#endif

/* Request states (state_). */
enum { IDLE = 0, QUEUED = 1 };

#define STREAM_OF(w) async__container_of(w, async_stream_t, io_)

static void stream_io(async_watch_t *w, int status, unsigned events);

static int update_interest(async_stream_t *s) {
  unsigned f = s->stream_flags_;
  int reading = (f & READING) || ((f & LISTENING) && !(f & (ACCEPT_PAUSED | STARVED)));
  unsigned want = (reading ? ASYNC_READABLE : 0u) |
                  (async__list_empty(&s->writes_) && !(f & CONNECTING) ? 0u : ASYNC_WRITABLE);
  s->io_.events_ = want;
  return async__io_set(s->loop, async__sock(s->fd_), want);
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
  s->io_.data = NULL; /* a completion stream's state on Windows (src/win/pipe.h) */
  return async__handle_init(loop, (async_handle_t *)s, type);
}

int async__stream_open(async_stream_t *s, async__sock_t sock, unsigned readable,
                       unsigned writable, int is_socket) {
  int err = os_prepare(sock);
  if (err == 0)
    err = async__io_attach_internal(s->loop, &s->io_, sock, stream_io);
  if (err != 0)
    return err;
  s->fd_ = (int)sock;
  s->stream_flags_ = (s->stream_flags_ & IPC) | (readable ? READABLE : 0u) |
                     (writable ? WRITABLE : 0u) | (is_socket ? IS_SOCKET : 0u);
  return 0;
}

static size_t buf_total(const async_buf_t *bufs, unsigned nbufs) {
  size_t n = 0;
  for (unsigned i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}

/* Writes what the system takes of one request; 1 when it is all written,
 * 0 when the system refused more, or a negative error. */
static int write_some(async_stream_t *s, async_write_t *req) {
  while (req->index_ < req->nbufs_) {
    long r = os_write(s, req->bufs_ + req->index_, req->nbufs_ - req->index_, req->send_fd_);
    if (r < 0)
      return r == ASYNC_EAGAIN ? 0 : (int)r;
    if (req->send_fd_ >= 0 && r > 0) { /* it went with the first byte */
      async__sock_close(async__sock(req->send_fd_));
      req->send_fd_ = -1;
    }
    s->write_queue_size -= (size_t)r;
    while (req->index_ < req->nbufs_ && (size_t)r >= req->bufs_[req->index_].len) {
      r -= (long)req->bufs_[req->index_].len;
      req->bufs_[req->index_].len = 0;
      req->index_++;
    }
    if (req->index_ < req->nbufs_) { /* a partial buffer: the system is full */
      req->bufs_[req->index_].base += r;
      req->bufs_[req->index_].len -= (size_t)r;
      return 0;
    }
  }
  return 1;
}

/* Moves req to the finished list with its status; its callback runs later. */
void async__stream_finish(async_stream_t *s, async_req_t *req, int status) {
  if (req->type == ASYNC_WRITE) {
    async_write_t *w = (async_write_t *)req;
    async__list_remove(&req->link_);
    s->write_queue_size -= buf_total(w->bufs_ + w->index_, w->nbufs_ - w->index_);
    if (w->send_fd_ >= 0) { /* never sent */
      async__sock_close(async__sock(w->send_fd_));
      w->send_fd_ = -1;
    }
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
      ASYNC__REQ_CB(req, ASYNC_CB_WRITE, w->cb_(w, req->status_));
  } else if (req->type == ASYNC_SHUTDOWN) {
    async_shutdown_t *sh = (async_shutdown_t *)req;
    if (sh->cb_ != NULL)
      ASYNC__REQ_CB(req, ASYNC_CB_SHUTDOWN, sh->cb_(sh, req->status_));
  } else {
    async_connect_t *c = (async_connect_t *)req;
    if (c->cb_ != NULL)
      ASYNC__REQ_CB(req, ASYNC_CB_CONNECT, c->cb_(c, req->status_));
  }
}

/* A callback may close the stream: the rest then wait for the close phase.
 * Past REPORT_BATCH the rest wait for the next turn's ready queue. */
void async__stream_run_finished(async_stream_t *s) {
  for (int i = 0; !async__list_empty(&s->finished_) && !async__is_closing(s); i++) {
    if (i == REPORT_BATCH) {
      async__stream_schedule_report(s);
      return;
    }
    report_one(s);
  }
}

static void report_cb(async_defer_t *d) {
  async__stream_run_finished(async__container_of(d, async_stream_t, report_));
}

void async__stream_schedule_report(async_stream_t *s) {
  if (!async__list_empty(&s->finished_))
    async__defer_own(s->loop, &s->report_, report_cb);
}

/* ---- connections --------------------------------------------------------- */

/* Out of descriptors. With a spare fd, a waiting connection is dropped so
 * the listen queue moves (0: none was waiting). Without one (Windows, or a
 * spare that could not be reopened) the listener stops watching until the
 * loop closes a handle, the moment one of its fds comes free: watching on
 * would report the same connection on every turn. */
static int accept_failed(async_stream_t *s, int err) {
  int dropped = -1;
  if (err == ASYNC_EMFILE || err == ASYNC_ENFILE) {
    dropped = os_drop_one(s);
    if (dropped < 0) {
      s->stream_flags_ |= STARVED;
      s->loop->starved_++;
      update_interest(s);
    }
  }
  if (dropped != 0)
    ASYNC__HANDLE_CB(s, ASYNC_CB_CONNECTION, s->connection_cb_(s, err));
  return dropped > 0; /* 1: go on accepting */
}

/* A handle of the loop closed: starved listeners watch again. Each retry
 * costs one accept per closed handle at most, never a spin. */
void async__streams_unstarve(async_loop_t *loop) {
  for (uint32_t i = 0; i < loop->handles_.len && loop->starved_ > 0; i++) {
    async_stream_t *s = (async_stream_t *)loop->handles_.v[i].handle;
    if ((s->type == ASYNC_TCP || s->type == ASYNC_PIPE) && (s->stream_flags_ & STARVED)) {
      s->stream_flags_ &= ~(unsigned)STARVED;
      loop->starved_--;
      if (s->reserve_fd_ < 0)
        s->reserve_fd_ = os_reserve();
      update_interest(s);
    }
  }
}

static void accept_some(async_stream_t *s) {
  for (int i = 0; i < ACCEPT_BATCH && (s->stream_flags_ & LISTENING) &&
                  !(s->stream_flags_ & ACCEPT_PAUSED); i++) {
    int fd = -1, r = os_accept(s, &fd);
    if (r == ASYNC_EAGAIN)
      return;
    if (r == 1)
      continue;
    if (r != 0) {
      if (accept_failed(s, r))
        continue;
      return;
    }
    s->accepted_fd_ = fd;
    s->stream_flags_ |= ACCEPT_PAUSED;
    ASYNC__HANDLE_CB(s, ASYNC_CB_CONNECTION, s->connection_cb_(s, 0));
    if (async__is_closing(s))
      return;
    if (s->accepted_fd_ >= 0) { /* not taken: wait for async_accept */
      update_interest(s);
      return;
    }
  }
}

int async__sock_listen(async_stream_t *s, int backlog, async_connection_cb cb) {
  int err;
  if (!async__stream_ok(s) || cb == NULL || s->fd_ < 0 || !(s->stream_flags_ & IS_SOCKET) || (s->stream_flags_ & (READING | CONNECTING)) ||
      !async__list_empty(&s->writes_))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & LISTENING)
    return ASYNC_EALREADY;
  if (listen(async__sock(s->fd_), backlog) != 0)
    return async_translate_sys_error(async__sock_error());
  if (s->reserve_fd_ < 0)
    s->reserve_fd_ = os_reserve();
  s->connection_cb_ = cb;
  s->stream_flags_ = (s->stream_flags_ | LISTENING) & ~(unsigned)(READABLE | WRITABLE);
  if ((err = update_interest(s)) != 0) {
    s->stream_flags_ &= ~(unsigned)LISTENING;
    return err;
  }
  async__handle_start((async_handle_t *)s);
  return 0;
}

int async__sock_accept(async_stream_t *server, async_stream_t *client) {
  int err;
  if (!async__stream_ok(server) || !async__handle_open((async_handle_t *)client) ||
      server == client)
    return ASYNC_EINVAL;
  if (server->type == ASYNC_PIPE && (server->stream_flags_ & IPC) &&
      !(server->stream_flags_ & LISTENING))
    return os_accept_ipc(server, client);
  if (!(server->stream_flags_ & LISTENING) || client->fd_ >= 0 || client->type != server->type)
    return ASYNC_EINVAL;
  if (server->accepted_fd_ < 0)
    return ASYNC_EAGAIN;
  err = async__stream_open(client, async__sock(server->accepted_fd_), 1, 1, 1);
  if (err != 0)
    return err;
  server->accepted_fd_ = -1;
  server->stream_flags_ &= ~(unsigned)ACCEPT_PAUSED;
  update_interest(server);
  return 0;
}

void async__stream_connect_req(async_stream_t *s, async_connect_t *req, async_connect_cb cb) {
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_CONNECT;
  req->state_ = QUEUED;
  req->status_ = 0;
  s->loop->active_reqs_++;
}

int async__stream_connect(async_stream_t *s, async_connect_t *req, const struct sockaddr *addr,
                          unsigned len, async_connect_cb cb) {
  int err;
  if (s->stream_flags_ & CONNECTING)
    return ASYNC_EALREADY;
  if (s->stream_flags_ & (LISTENING | READING) || (s->stream_flags_ & WRITABLE))
    return ASYNC_EISCONN;
  err = os_connect(s, addr, len);
  async__stream_connect_req(s, req, cb);
  if (err == 1) { /* the answer comes as writability, or as an error */
    s->connect_ = req;
    s->stream_flags_ |= CONNECTING;
    if ((err = update_interest(s)) == 0)
      return 0;
    s->connect_ = NULL; /* counted already: it ends through cb, with the backend's error */
    s->stream_flags_ &= ~(unsigned)CONNECTING;
  }
  if (err == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  async__stream_finish(s, (async_req_t *)req, err);
  async__stream_schedule_report(s);
  return 0;
}

static void connect_done(async_stream_t *s) {
  async_connect_t *req = s->connect_;
  int status = os_connect_result(s);
  if (status == 1)
    return;
  s->connect_ = NULL;
  s->stream_flags_ &= ~(unsigned)CONNECTING;
  if (status == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  async__stream_finish(s, (async_req_t *)req, status);
  update_interest(s);
}

static void do_shutdown(async_stream_t *s) {
  async_shutdown_t *req = s->shutdown_;
  int status;
  s->shutdown_ = NULL;
  status = os_shutdown(s);
  s->stream_flags_ &= ~(unsigned)WRITABLE;
  async__stream_finish(s, (async_req_t *)req, status);
}

static void fail_writes(async_stream_t *s, int err) {
  while (!async__list_empty(&s->writes_))
    async__stream_finish(
        s, (async_req_t *)async__container_of(s->writes_.next, async_write_t, link_), err);
}

/* Moves every write the system takes to the finished list; 1 if some wait. */
static int flush(async_stream_t *s) {
  while (!async__list_empty(&s->writes_)) {
    async_write_t *req = async__container_of(s->writes_.next, async_write_t, link_);
    int r = write_some(s, req);
    if (r == 0)
      return 1;
    async__stream_finish(s, (async_req_t *)req, r < 0 ? r : 0);
    if (r < 0) /* the stream cannot take more: fail what is queued behind */
      fail_writes(s, r);
  }
  if (s->shutdown_ != NULL)
    do_shutdown(s);
  return 0;
}

/* End of stream: stop reading, then say so. */
static void read_eof(async_stream_t *s, async_buf_t *buf) {
  s->stream_flags_ = (s->stream_flags_ & ~(unsigned)(READING | READABLE)) | READ_EOF;
  async__handle_stop((async_handle_t *)s);
  update_interest(s);
  async__read_call(s, ASYNC_EOF, buf);
}

static void read_some(async_stream_t *s) {
  for (int i = 0; i < READ_BATCH && (s->stream_flags_ & READING); i++) {
    async_buf_t buf = {NULL, 0};
    long n;
    async__alloc_call((async_handle_t *)s, s->alloc_cb_, READ_SIZE, &buf);
    if (buf.base == NULL || buf.len == 0) {
      async__read_call(s, ASYNC_ENOBUFS, &buf);
      return;
    }
    n = os_read(s, buf.base, buf.len);
    if (n > 0) {
      async__read_call(s, n, &buf);
      if ((size_t)n < buf.len)
        return; /* drained for now: the next read would say EAGAIN */
      continue;
    }
    if (n == 0) {
      read_eof(s, &buf);
      return;
    }
    async__read_call(s, n == ASYNC_EAGAIN ? 0 : n, &buf); /* 0: the buffer comes back unused */
    return;
  }
}

static void stream_io(async_watch_t *w, int status, unsigned events) {
  async_stream_t *s = STREAM_OF(w);
  events = os_events(status, events);
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
    if (s->fd_ >= 0)
      update_interest(s);
    async__stream_run_finished(s);
  }
}

/* async_read_start's checks and callbacks, for every kind of stream
 * (connected: it has its fd or handle); the caller then starts reading. */
int async__stream_read_req(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb,
                           int connected) {
  if (!async__stream_ok(s) || alloc_cb == NULL || read_cb == NULL)
    return ASYNC_EINVAL;
  if (!connected)
    return ASYNC_ENOTCONN;
  if (!(s->stream_flags_ & READABLE))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & READING)
    return ASYNC_EALREADY;
  s->alloc_cb_ = alloc_cb;
  s->cb_.read = read_cb;
  s->stream_flags_ |= READING;
  return 0;
}

int async__sock_read_start(async_stream_t *s, async_alloc_cb alloc_cb,
                                  async_read_cb read_cb) {
  int err = async__stream_read_req(s, alloc_cb, read_cb, async__stream_ok(s) && s->fd_ >= 0);
  if (err != 0)
    return err;
  if ((err = update_interest(s)) != 0) {
    s->stream_flags_ &= ~(unsigned)READING;
    return err;
  }
  async__handle_start((async_handle_t *)s);
  return 0;
}

int async__sock_read_stop(async_stream_t *s) {
  if (!async__stream_ok(s))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & READING) {
    s->stream_flags_ &= ~(unsigned)READING;
    async__handle_stop((async_handle_t *)s);
    update_interest(s);
  }
  return 0;
}

int async__stream_can_write(const async_write_t *req, const async_stream_t *s,
                            const async_buf_t bufs[], unsigned nbufs) {
  return req != NULL && async__stream_ok(s) && (bufs != NULL || nbufs == 0) && s->fd_ >= 0 && (s->stream_flags_ & WRITABLE) && !(s->stream_flags_ & SHUT);
}

/* send_fd: the library's own copy (Unix IPC), closed once sent or on failure. */
int async__stream_queue_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                              unsigned nbufs, int send_fd, async_write_cb cb) {
  req->bufs_ = nbufs <= 4 ? req->small_ : async__malloc(nbufs * sizeof(async_buf_t));
  if (req->bufs_ == NULL) {
    if (send_fd >= 0)
      async__sock_close(async__sock(send_fd));
    return ASYNC_ENOMEM;
  }
  req->send_fd_ = send_fd;
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
    int err;
    if (flush(s) && (err = update_interest(s)) != 0)
      fail_writes(s, err); /* queued: it ends through its callback, with the backend's error */
    else if (!async__list_empty(&s->writes_))
      return 0; /* only now does the backend hear of writing */
    async__stream_schedule_report(s);
  }
  return 0;
}

int async__sock_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                             unsigned nbufs, async_write_cb cb) {
  if (!async__stream_can_write(req, s, bufs, nbufs))
    return ASYNC_EINVAL;
  return async__stream_queue_write(req, s, bufs, nbufs, -1, cb);
}

long async__sock_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs) {
  if (!async__stream_ok(s) || (bufs == NULL && nbufs > 0) || s->fd_ < 0 ||
      !(s->stream_flags_ & WRITABLE) || (s->stream_flags_ & SHUT))
    return ASYNC_EINVAL;
  if (!async__list_empty(&s->writes_))
    return ASYNC_EAGAIN;
  return os_write(s, bufs, nbufs, -1);
}

/* The checks and bookkeeping of async_shutdown, for every kind of stream;
 * the caller ends the writing side once its writes have drained. */
int async__stream_shutdown_req(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
  if (req == NULL || !async__stream_ok(s))
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
  return 0;
}

int async__sock_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
  int err = async__stream_shutdown_req(req, s, cb);
  if (err != 0)
    return err;
  if (async__list_empty(&s->writes_)) {
    do_shutdown(s);
    async__stream_schedule_report(s);
  }
  return 0;
}

int async_is_readable(const async_stream_t *s) {
  return async__stream_ok(s) && (s->stream_flags_ & READABLE) != 0;
}

int async_is_writable(const async_stream_t *s) {
  return async__stream_ok(s) && (s->stream_flags_ & WRITABLE) != 0 && !(s->stream_flags_ & SHUT);
}

size_t async_stream_write_queue_size(const async_stream_t *s) {
  return async__stream_ok(s) ? s->write_queue_size : 0;
}

/* A closing stream's shutdown and connect requests (its writes are the
 * caller's: the write queues of sockets and named pipes differ). */
void async__stream_cancel_requests(async_stream_t *s) {
  if (s->shutdown_ != NULL) {
    async__stream_finish(s, (async_req_t *)s->shutdown_, ASYNC_ECANCELED);
    s->shutdown_ = NULL;
  }
  if (s->connect_ != NULL) {
    async__stream_finish(s, (async_req_t *)s->connect_, ASYNC_ECANCELED);
    s->connect_ = NULL;
  }
}

static void close_fd(int *fd) {
  if (*fd >= 0) {
    async__sock_close(async__sock(*fd));
    *fd = -1;
  }
}

/* async_close: everything stops now; callbacks come in the close phase. */
void async__sock_stream_close(async_stream_t *s) {
  if (s->stream_flags_ & STARVED)
    s->loop->starved_--;
  s->stream_flags_ &= ~(unsigned)(READING | STARVED);
  async_defer_cancel(&s->report_);
  fail_writes(s, ASYNC_ECANCELED);
  async__stream_cancel_requests(s);
  s->stream_flags_ &= ~(unsigned)(LISTENING | CONNECTING);
  close_fd(&s->accepted_fd_);
  close_fd(&s->reserve_fd_);
  if (s->fd_ >= 0) {
    async__io_detach(s->loop, async__sock(s->fd_));
    close_fd(&s->fd_);
  }
  os_closed(s);
}

void async__stream_finish_close(async_stream_t *s) {
  while (!async__list_empty(&s->finished_))
    report_one(s);
}
