/* The Unix I/O under src/sock/stream.c: read/writev for pipes and ttys,
 * sendmsg for sockets, accept, fds passed over IPC pipes. Private to
 * stream.c (it uses stream.c's flag names) and inline there, so the hot
 * path makes the same calls it made when the stream layer was Unix's own. */
#ifndef ASYNC_UNIX_STREAM_OS_H
#define ASYNC_UNIX_STREAM_OS_H

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define IOV_MAX_BATCH 64


/* async_buf_t is handed to the kernel as struct iovec. */
_Static_assert(sizeof(async_buf_t) == sizeof(struct iovec) &&
                   offsetof(async_buf_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(async_buf_t, len) == offsetof(struct iovec, iov_len),
               "async_buf_t must have the layout of struct iovec");

/* Unix fds arrive non-blocking (sockets are made so, pipes are opened so).
 * Where send has no MSG_NOSIGNAL (macOS), a socket says no to SIGPIPE once,
 * with SO_NOSIGPIPE; on a pipe or tty that fails and nothing is needed. */
#if !defined(MSG_NOSIGNAL)
# define MSG_NOSIGNAL 0
static inline int os_prepare(int fd) {
  int on = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, (socklen_t)sizeof(on));
  return 0;
}
#else
static inline int os_prepare(int fd) {
  (void)fd;
  return 0;
}
#endif

static inline long os_error(void) {
  return errno == EAGAIN || errno == EWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(errno);
}

/* sendmsg on a socket, with MSG_NOSIGNAL and send_fd (or -1) riding along
 * as SCM_RIGHTS. */
static inline long os_send(async_stream_t *s, struct iovec *iov, int n, int send_fd) {
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg;
  ssize_t r;
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
  return r >= 0 ? (long)r : os_error();
}

/* writev on a pipe: SIGPIPE is blocked in this thread for the call, and
 * one it raised is taken back before unblocking. */
static inline long os_writev(async_stream_t *s, struct iovec *iov, int n) {
  sigset_t pipe_only, old, pending;
  ssize_t r;
  int was_pending;
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
    async__sigpipe_take(&pipe_only);
    errno = saved;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r >= 0 ? (long)r : os_error();
}

/* Writes bufs without letting SIGPIPE reach the process. Returns the bytes
 * written, ASYNC_EAGAIN, or another error. */
static inline long os_write(async_stream_t *s, const async_buf_t *bufs, unsigned nbufs,
                            int send_fd) {
  struct iovec *iov = (struct iovec *)(void *)bufs;
  int n = nbufs < IOV_MAX_BATCH ? (int)nbufs : IOV_MAX_BATCH;
  if (s->stream_flags_ & IS_SOCKET)
    return os_send(s, iov, n, send_fd);
  return os_writev(s, iov, n);
}

/* The bytes read, 0 at the end, ASYNC_EAGAIN, or another error. An IPC
 * pipe's bytes may bring fds with them. */
static inline long os_read(async_stream_t *s, void *base, size_t len) {
  ssize_t n;
  do
    n = (s->stream_flags_ & (IPC | IS_SOCKET)) == (IPC | IS_SOCKET) ? async__ipc_read(s, base, len)
                                                             : read(s->fd_, base, len);
  while (n < 0 && errno == EINTR);
  if (n == 0) {
    int lost = async__io_take_error(s->loop, s->fd_);
    if (lost != 0)
      return async_translate_sys_error(lost); /* a reset the backend saw first */
  }
  return n >= 0 ? (long)n : os_error();
}

/* 0 with *fd, 1 to try again at once, ASYNC_EAGAIN, or an error. */
static inline int os_accept(async_stream_t *s, int *fd) {
  int err;
#if defined(ASYNC_HAVE_ACCEPT4)
  *fd = accept4(s->fd_, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
  *fd = async__sock_flags(accept(s->fd_, NULL, NULL));
#endif
  if (*fd >= 0)
    return 0;
  err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK)
    return ASYNC_EAGAIN;
  if (err == EINTR || err == ECONNABORTED)
    return 1;
  return async_translate_sys_error(err);
}

/* An fd kept spare for os_drop_one. */
static inline int os_reserve(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

/* Out of fds: give up the spare, take the connection and drop it, so the
 * listen queue moves and the poll does not report the same one forever.
 * Returns 1 if a connection was dropped, 0 if none was (accept fails with
 * EMFILE even on an empty queue, since it takes the fd first), -1 when there
 * is no spare to give up. */
static inline int os_drop_one(async_stream_t *s) {
  int fd;
  if (s->reserve_fd_ < 0 && (s->reserve_fd_ = os_reserve()) < 0)
    return -1;
  close(s->reserve_fd_);
  fd = accept(s->fd_, NULL, NULL);
  if (fd >= 0)
    close(fd);
  s->reserve_fd_ = os_reserve();
  return fd >= 0;
}

/* 0 when connected, 1 when the answer comes as writability, or an error. */
static inline int os_connect(async_stream_t *s, const struct sockaddr *addr, unsigned len) {
  int r;
  do
    r = connect(s->fd_, addr, (socklen_t)len);
  while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno == EINPROGRESS ? 1 : async_translate_sys_error(errno);
}

/* The outcome of a connect in progress: 1 if it still is, else its status. */
static inline int os_connect_result(async_stream_t *s) {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(s->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == 0)
    err = async__io_take_error(s->loop, s->fd_);
  return err == EINPROGRESS ? 1 : async_translate_sys_error(err);
}

/* Ends the writing side: shutdown(SHUT_WR) on a socket; a write-only fd is
 * closed, which is how its reader learns the end. */
static inline int os_shutdown(async_stream_t *s) {
  if (s->stream_flags_ & IS_SOCKET)
    return shutdown(s->fd_, SHUT_WR) != 0 ? async_translate_sys_error(errno) : 0;
  if (s->stream_flags_ & READABLE)
    return ASYNC_ENOTSOCK;
  async__io_detach(s->loop, s->fd_);
  close(s->fd_);
  s->fd_ = -1;
  return 0;
}

/* A watcher error (a closed fd) comes with no events: nothing to do. */
static inline unsigned os_events(int status, unsigned events) {
  (void)status;
  return events;
}

/* An IPC pipe that is not listening accepts the handles it received. */
static inline int os_accept_ipc(async_stream_t *server, async_stream_t *client) {
  return async__pipe_accept_pending((async_pipe_t *)server, client);
}

/* A pipe's own state (received fds, its bound path) goes with the stream. */
static inline void os_closed(async_stream_t *s) {
  if (s->type == ASYNC_PIPE)
    async__pipe_close((async_pipe_t *)s);
}

#endif
