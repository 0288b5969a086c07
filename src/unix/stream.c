/* Streams over readiness, written once for every Unix backend: a read side
 * driven by read interest, and a queue of writes that is tried at once and
 * adds write interest only when the kernel refuses bytes. Callbacks of
 * finished writes and shutdowns run from the loop, never inside the call. */
#include "unix.h"

#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_SIZE 65536
#define READ_BATCH 32
#define IOV_MAX_BATCH 64

enum {
  READABLE = 1,
  WRITABLE = 2,
  READING = 4,
  SHUT = 8,       /* async_shutdown was called */
  SOCKET = 16,    /* send with MSG_NOSIGNAL works */
  READ_EOF = 32,
  LISTENING = 64,
  ACCEPT_PAUSED = 128, /* a connection waits for async_accept */
  CONNECTING = 256,
  IPC = ASYNC__STREAM_IPC /* fds travel with the bytes (a pipe's flag) */
};

/* Connections taken per wakeup while the callback accepts each at once. A
 * connection costs one accept4 and one callback, so the bound is generous:
 * a smaller one lets a burst of connects overflow the listen queue, and the
 * dropped SYNs then wait a second for their retransmission. */
#define ACCEPT_BATCH 1024
/* Finished writes reported per stream per pass: a writer that writes again
 * from its callback runs on, without a poll, for this many completions,
 * then lets the other handles have the turn. Smaller bounds yield before
 * a loopback socket buffer fills and cost bench/pump 40 % of its rate. */
#define REPORT_BATCH 1024

/* Request states (state_). */
enum { IDLE = 0, QUEUED = 1 };

#define STREAM_OF(w) async__container_of(w, async_stream_t, io_)

static void stream_io(async_watch_t *w, int status, unsigned events);
static void report_cb(async_defer_t *d);
static void schedule_report(async_stream_t *s);

static int update_interest(async_stream_t *s) {
  unsigned f = s->stream_flags_;
  int reading = (f & READING) || ((f & LISTENING) && !(f & ACCEPT_PAUSED));
  unsigned want = (reading ? ASYNC_READABLE : 0u) |
                  (async__list_empty(&s->writes_) && !(f & CONNECTING) ? 0u : ASYNC_WRITABLE);
  s->io_.events_ = want;
  return async__io_set(s->loop, s->fd_, want);
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

int async__stream_open(async_stream_t *s, int fd, unsigned readable, unsigned writable,
                       int is_socket) {
  int err = async__io_attach_internal(s->loop, &s->io_, fd, stream_io);
  if (err != 0)
    return err;
  s->fd_ = fd;
  s->stream_flags_ = (s->stream_flags_ & IPC) | (readable ? READABLE : 0u) |
                     (writable ? WRITABLE : 0u) | (is_socket ? SOCKET : 0u);
  return 0;
}

/* async_buf_t is handed to the kernel as struct iovec. */
_Static_assert(sizeof(async_buf_t) == sizeof(struct iovec) &&
                   offsetof(async_buf_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(async_buf_t, len) == offsetof(struct iovec, iov_len),
               "async_buf_t must have the layout of struct iovec");

/* Writes bufs without letting SIGPIPE reach the process: sockets say so per
 * call; for pipes the signal is blocked in this thread for the call and a
 * SIGPIPE it raised is taken back before unblocking. send_fd (or -1) rides
 * along as SCM_RIGHTS. Returns the bytes written, ASYNC_EAGAIN, or another
 * error. */
static long write_quietly(async_stream_t *s, const async_buf_t *bufs, unsigned nbufs,
                          int send_fd) {
  struct iovec *iov = (struct iovec *)(void *)bufs;
  int n = nbufs < IOV_MAX_BATCH ? (int)nbufs : IOV_MAX_BATCH;
  sigset_t pipe_only, old, pending;
  ssize_t r;
  int was_pending;
  if (s->stream_flags_ & SOCKET) {
    union {
      struct cmsghdr align;
      char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    if (send_fd >= 0) {
      struct cmsghdr *c;
      memset(&control, 0, sizeof(control));
      msg.msg_control = control.space;
      msg.msg_controllen = sizeof(control.space);
      c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
    }
    do
      r = sendmsg(s->fd_, &msg, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    goto done;
  }
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  sigpending(&pending);
  was_pending = sigismember(&pending, SIGPIPE);
  do
    r = writev(s->fd_, iov, n);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EPIPE && !was_pending) {
    int saved = errno;
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_only, NULL, &zero);
    errno = saved;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
done:
  if (r >= 0)
    return (long)r;
  return errno == EAGAIN || errno == EWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(errno);
}

static size_t buf_total(const async_buf_t *bufs, unsigned nbufs) {
  size_t n = 0;
  for (unsigned i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}

/* Writes what the kernel takes of one request; 1 when it is all written,
 * 0 when the kernel refused more, or a negative error. */
static int write_some(async_stream_t *s, async_write_t *req) {
  while (req->index_ < req->nbufs_) {
    long r = write_quietly(s, req->bufs_ + req->index_, req->nbufs_ - req->index_, req->send_fd_);
    if (r < 0)
      return r == ASYNC_EAGAIN ? 0 : (int)r;
    if (req->send_fd_ >= 0 && r > 0) { /* it went with the first byte */
      close(req->send_fd_);
      req->send_fd_ = -1;
    }
    s->write_queue_size -= (size_t)r;
    while (req->index_ < req->nbufs_ && (size_t)r >= req->bufs_[req->index_].len) {
      r -= (long)req->bufs_[req->index_].len;
      req->bufs_[req->index_].len = 0;
      req->index_++;
    }
    if (req->index_ < req->nbufs_) { /* a partial buffer: the kernel is full */
      req->bufs_[req->index_].base += r;
      req->bufs_[req->index_].len -= (size_t)r;
      return 0;
    }
  }
  return 1;
}

static void finish(async_stream_t *s, async_req_t *req, int status);

/* ---- connections --------------------------------------------------------- */

/* Out of fds: give up the spare, take the connection and drop it, so the
 * listen queue moves and the poll does not report the same one forever.
 * Returns 1 if a connection was dropped. (accept fails with EMFILE even on
 * an empty queue, since it takes the fd first.) */
static int drop_one(async_stream_t *s) {
  int fd;
  if (s->reserve_fd_ < 0)
    return 0;
  close(s->reserve_fd_);
  fd = accept(s->fd_, NULL, NULL);
  if (fd >= 0)
    close(fd);
  s->reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

static void accept_some(async_stream_t *s) {
  for (int i = 0; i < ACCEPT_BATCH && (s->stream_flags_ & LISTENING) &&
                  !(s->stream_flags_ & ACCEPT_PAUSED); i++) {
    int fd = accept4(s->fd_, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK)
        return;
      if (err == EINTR || err == ECONNABORTED)
        continue;
      if (err == EMFILE || err == ENFILE) {
        if (!drop_one(s))
          return; /* nothing was waiting after all */
        s->connection_cb_(s, async_translate_sys_error(err));
        continue;
      }
      s->connection_cb_(s, async_translate_sys_error(err));
      return;
    }
    s->accepted_fd_ = fd;
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
  int err;
  if (s == NULL || cb == NULL || async__is_closing(s) || s->fd_ < 0 ||
      !(s->stream_flags_ & SOCKET) || (s->stream_flags_ & (READING | CONNECTING)) ||
      !async__list_empty(&s->writes_))
    return ASYNC_EINVAL;
  if (s->stream_flags_ & LISTENING)
    return ASYNC_EALREADY;
  if (listen(s->fd_, backlog) != 0)
    return async_translate_sys_error(errno);
  if (s->reserve_fd_ < 0)
    s->reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
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
  int fd, err;
  if (server != NULL && client != NULL && server->type == ASYNC_PIPE &&
      (server->stream_flags_ & IPC) && !(server->stream_flags_ & LISTENING))
    return async__is_closing(server) || async__is_closing(client)
               ? ASYNC_EINVAL
               : async__pipe_accept_pending((async_pipe_t *)server, client);
  if (server == NULL || client == NULL || async__is_closing(server) ||
      async__is_closing(client) || !(server->stream_flags_ & LISTENING) || client->fd_ >= 0 ||
      client->type != server->type)
    return ASYNC_EINVAL;
  if (server->accepted_fd_ < 0)
    return ASYNC_EAGAIN;
  fd = server->accepted_fd_;
  err = async__stream_open(client, fd, 1, 1, 1);
  if (err != 0)
    return err;
  server->accepted_fd_ = -1;
  server->stream_flags_ &= ~(unsigned)ACCEPT_PAUSED;
  update_interest(server);
  return 0;
}

int async__stream_connect(async_stream_t *s, async_connect_t *req, const struct sockaddr *addr,
                          unsigned len, async_connect_cb cb) {
  int r, err;
  if (s->stream_flags_ & CONNECTING)
    return ASYNC_EALREADY;
  if (s->stream_flags_ & (LISTENING | READING) || (s->stream_flags_ & WRITABLE))
    return ASYNC_EISCONN;
  do
    r = connect(s->fd_, addr, (socklen_t)len);
  while (r != 0 && errno == EINTR);
  err = r == 0 ? 0 : errno == EINPROGRESS ? 1 : async_translate_sys_error(errno);
  req->handle = s;
  req->cb_ = cb;
  req->loop = s->loop;
  req->type = ASYNC_CONNECT;
  req->state_ = QUEUED;
  req->status_ = 0;
  s->loop->active_reqs_++;
  if (err == 1) { /* the answer comes as writability */
    s->connect_ = req;
    s->stream_flags_ |= CONNECTING;
    return update_interest(s);
  }
  if (err == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  finish(s, (async_req_t *)req, err);
  schedule_report(s);
  return 0;
}

static void connect_done(async_stream_t *s) {
  int err = 0;
  socklen_t len = sizeof(err);
  async_connect_t *req = s->connect_;
  getsockopt(s->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == EINPROGRESS)
    return;
  s->connect_ = NULL;
  s->stream_flags_ &= ~(unsigned)CONNECTING;
  if (err == 0)
    s->stream_flags_ |= READABLE | WRITABLE;
  finish(s, (async_req_t *)req, async_translate_sys_error(err));
  update_interest(s);
}

static void finish(async_stream_t *s, async_req_t *req, int status) {
  if (req->type == ASYNC_WRITE) {
    async_write_t *w = (async_write_t *)req;
    async__list_remove(&req->link_);
    s->write_queue_size -= buf_total(w->bufs_ + w->index_, w->nbufs_ - w->index_);
    if (w->send_fd_ >= 0) { /* never sent */
      close(w->send_fd_);
      w->send_fd_ = -1;
    }
  }
  req->status_ = status;
  async__list_insert_tail(&s->finished_, &req->link_);
}

static void do_shutdown(async_stream_t *s) {
  async_shutdown_t *req = s->shutdown_;
  int status = 0;
  s->shutdown_ = NULL;
  if (s->stream_flags_ & SOCKET) {
    if (shutdown(s->fd_, SHUT_WR) != 0)
      status = async_translate_sys_error(errno);
  } else if (s->stream_flags_ & READABLE) {
    status = ASYNC_ENOTSOCK;
  } else { /* a write-only fd: closing it is how its reader learns the end */
    async__io_detach(s->loop, s->fd_);
    close(s->fd_);
    s->fd_ = -1;
  }
  s->stream_flags_ &= ~(unsigned)WRITABLE;
  finish(s, (async_req_t *)req, status);
}

/* Moves every write the kernel takes to the finished list; 1 if some wait. */
static int flush(async_stream_t *s) {
  while (!async__list_empty(&s->writes_)) {
    async_write_t *req = async__container_of(s->writes_.next, async_write_t, link_);
    int r = write_some(s, req);
    if (r == 0)
      return 1;
    finish(s, (async_req_t *)req, r < 0 ? r : 0);
    if (r < 0) { /* the stream cannot take more: fail what is queued behind */
      while (!async__list_empty(&s->writes_))
        finish(s, (async_req_t *)async__container_of(s->writes_.next, async_write_t, link_), r);
    }
  }
  if (s->shutdown_ != NULL)
    do_shutdown(s);
  return 0;
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

/* A callback may close the stream: the rest then wait for the close phase.
 * Past REPORT_BATCH the rest wait for the next turn's ready queue. */
static void run_finished(async_stream_t *s) {
  for (int i = 0; !async__list_empty(&s->finished_) && !async__is_closing(s); i++) {
    if (i == REPORT_BATCH) {
      schedule_report(s);
      return;
    }
    report_one(s);
  }
}

static void report_cb(async_defer_t *d) { run_finished(async__container_of(d, async_stream_t, report_)); }

static void schedule_report(async_stream_t *s) {
  if (!async__list_empty(&s->finished_) && !async_defer_pending(&s->report_))
    async_defer(s->loop, &s->report_, report_cb);
}



static void read_some(async_stream_t *s) {
  for (int i = 0; i < READ_BATCH && (s->stream_flags_ & READING); i++) {
    async_buf_t buf = {NULL, 0};
    ssize_t n;
    s->alloc_cb_((async_handle_t *)s, READ_SIZE, &buf);
    if (buf.base == NULL || buf.len == 0) {
      s->cb_.read(s, ASYNC_ENOBUFS, &buf);
      return;
    }
    do
      n = (s->stream_flags_ & (IPC | SOCKET)) == (IPC | SOCKET)
              ? async__ipc_read(s, buf.base, buf.len)
              : read(s->fd_, buf.base, buf.len);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
      s->cb_.read(s, (long)n, &buf);
      if ((size_t)n < buf.len)
        return; /* drained for now: the next read would say EAGAIN */
      continue;
    }
    if (n == 0) { /* end of stream: stop reading, then say so */
      s->stream_flags_ = (s->stream_flags_ & ~(unsigned)(READING | READABLE)) | READ_EOF;
      async__handle_stop((async_handle_t *)s);
      update_interest(s);
      s->cb_.read(s, ASYNC_EOF, &buf);
      return;
    }
    s->cb_.read(s, errno == EAGAIN || errno == EWOULDBLOCK ? 0 : async_translate_sys_error(errno),
                &buf);
    return;
  }
}

static void stream_io(async_watch_t *w, int status, unsigned events) {
  async_stream_t *s = STREAM_OF(w);
  (void)status;
  if (s->stream_flags_ & LISTENING) {
    if (events & (ASYNC_READABLE | ASYNC_ERROR))
      accept_some(s);
    return;
  }
  if (s->stream_flags_ & CONNECTING) {
    if (events & (ASYNC_WRITABLE | ASYNC_ERROR | ASYNC_HANGUP)) {
      connect_done(s);
      run_finished(s);
    }
    return;
  }
  if ((events & (ASYNC_READABLE | ASYNC_HANGUP | ASYNC_ERROR)) && (s->stream_flags_ & READING))
    read_some(s);
  if (async__is_closing(s) || s->fd_ < 0)
    return;
  if (events & (ASYNC_WRITABLE | ASYNC_ERROR | ASYNC_HANGUP)) {
    if (!async__list_empty(&s->writes_)) {
      flush(s);
      if (s->fd_ >= 0)
        update_interest(s);
      run_finished(s);
    }
  }
}

int async_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb) {
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

/* send_fd: the library's own copy, closed once sent or on failure. */
static int queue_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                       unsigned nbufs, int send_fd, async_write_cb cb) {
  req->bufs_ = nbufs <= 4 ? req->small_ : async__malloc(nbufs * sizeof(async_buf_t));
  if (req->bufs_ == NULL) {
    if (send_fd >= 0)
      close(send_fd);
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
    if (flush(s))
      return update_interest(s); /* only now does the backend hear of writing */
    schedule_report(s);
  }
  return 0;
}

int async_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                async_write_cb cb) {
  if (!can_write(req, s, bufs, nbufs))
    return ASYNC_EINVAL;
  return queue_write(req, s, bufs, nbufs, -1, cb);
}

int async_write_fd(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                   int fd, async_write_cb cb) {
  int copy;
  if (!can_write(req, s, bufs, nbufs) || buf_total(bufs, nbufs) == 0)
    return ASYNC_EINVAL;
  if ((copy = async__ipc_fd_copy(s, fd)) < 0)
    return copy;
  return queue_write(req, s, bufs, nbufs, copy, cb);
}

int async_write2(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                 async_handle_t *send_handle, async_write_cb cb) {
  int fd, err;
  if (send_handle == NULL || send_handle->type == ASYNC_WATCH)
    return ASYNC_EINVAL;
  if ((err = async_fileno(send_handle, &fd)) != 0)
    return err == ASYNC_EBADF ? ASYNC_EINVAL : err;
  return async_write_fd(req, s, bufs, nbufs, fd, cb);
}

long async_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs) {
  if (s == NULL || (bufs == NULL && nbufs > 0) || async__is_closing(s) || s->fd_ < 0 ||
      !(s->stream_flags_ & WRITABLE) || (s->stream_flags_ & SHUT))
    return ASYNC_EINVAL;
  if (!async__list_empty(&s->writes_))
    return ASYNC_EAGAIN;
  return write_quietly(s, bufs, nbufs, -1);
}

int async_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
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
    schedule_report(s);
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
  s->stream_flags_ &= ~(unsigned)READING;
  async_defer_cancel(&s->report_);
  while (!async__list_empty(&s->writes_))
    finish(s, (async_req_t *)async__container_of(s->writes_.next, async_write_t, link_),
           ASYNC_ECANCELED);
  if (s->shutdown_ != NULL) {
    finish(s, (async_req_t *)s->shutdown_, ASYNC_ECANCELED);
    s->shutdown_ = NULL;
  }
  if (s->connect_ != NULL) {
    finish(s, (async_req_t *)s->connect_, ASYNC_ECANCELED);
    s->connect_ = NULL;
  }
  s->stream_flags_ &= ~(unsigned)(LISTENING | CONNECTING);
  if (s->accepted_fd_ >= 0) {
    close(s->accepted_fd_);
    s->accepted_fd_ = -1;
  }
  if (s->reserve_fd_ >= 0) {
    close(s->reserve_fd_);
    s->reserve_fd_ = -1;
  }
  if (s->fd_ >= 0) {
    async__io_detach(s->loop, s->fd_);
    close(s->fd_);
    s->fd_ = -1;
  }
  if (s->type == ASYNC_PIPE)
    async__pipe_close((async_pipe_t *)s);
}

void async__stream_finish_close(async_stream_t *s) {
  while (!async__list_empty(&s->finished_))
    report_one(s);
}
