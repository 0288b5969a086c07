/* Passing fds over IPC pipes: what arrives waits in the pipe's pending list
 * until async_accept (or async_pipe_take_fd) takes it. */
#include "../sock/sock.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Room for the fds of one message: the sender passes one per write, but a
 * peer written with another library may pass more. */
#define MAX_FDS_PER_MSG 16

static int push_pending(async_pipe_t *p, int fd) {
  if (p->npending_ == p->pending_cap_) {
    unsigned cap = p->pending_cap_ ? p->pending_cap_ * 2 : 4;
    int *fds = async__realloc(p->pending_fds_, cap * sizeof(int));
    if (fds == NULL)
      return ASYNC_ENOMEM;
    p->pending_fds_ = fds;
    p->pending_cap_ = cap;
  }
  p->pending_fds_[p->npending_++] = fd;
  return 0;
}

static void take_fds(async_pipe_t *p, struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    size_t n;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (push_pending(p, fd) != 0)
        close(fd); /* out of memory: the fd cannot be kept for anyone */
    }
  }
}

ssize_t async__ipc_read(async_stream_t *s, void *base, size_t len) {
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(MAX_FDS_PER_MSG * sizeof(int))];
  } control;
  struct iovec iov = {base, len};
  struct msghdr msg;
  ssize_t n;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.space;
  msg.msg_controllen = sizeof(control.space);
#if defined(MSG_CMSG_CLOEXEC)
  n = recvmsg(s->fd_, &msg, MSG_CMSG_CLOEXEC);
#else
  n = recvmsg(s->fd_, &msg, 0);
#endif
  if (n >= 0 && msg.msg_controllen > 0) {
#if !defined(MSG_CMSG_CLOEXEC)
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
      for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
#endif
    take_fds((async_pipe_t *)s, &msg);
  }
  return n;
}

int async_pipe_pending_count(const async_pipe_t *p) {
  return async__handle_ok(p, ASYNC_PIPE) ? (int)p->npending_ : 0;
}

/* What kind of handle can adopt fd. */
static async_handle_type kind_of(int fd) {
  struct stat st;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int type;
  socklen_t tlen = sizeof(type);
  if (fstat(fd, &st) != 0)
    return ASYNC_UNKNOWN_HANDLE;
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
    return ASYNC_PIPE;
  if (!S_ISSOCK(st.st_mode) || getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
    return ASYNC_UNKNOWN_HANDLE;
  if (ss.ss_family == AF_UNIX)
    return type == SOCK_STREAM ? ASYNC_PIPE : ASYNC_UNKNOWN_HANDLE;
  if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
    return type == SOCK_STREAM ? ASYNC_TCP : type == SOCK_DGRAM ? ASYNC_UDP : ASYNC_UNKNOWN_HANDLE;
  return ASYNC_UNKNOWN_HANDLE;
}

async_handle_type async_pipe_pending_type(const async_pipe_t *p) {
  if (!async__handle_ok(p, ASYNC_PIPE) || p->npending_ == 0)
    return ASYNC_UNKNOWN_HANDLE;
  return kind_of(p->pending_fds_[0]);
}

static void shift_pending(async_pipe_t *p) {
  p->npending_--;
  memmove(p->pending_fds_, p->pending_fds_ + 1, p->npending_ * sizeof(int));
}

int async_pipe_take_fd(async_pipe_t *p) {
  int fd;
  if (!async__handle_ok(p, ASYNC_PIPE))
    return ASYNC_EINVAL;
  if (p->npending_ == 0)
    return ASYNC_EAGAIN;
  fd = p->pending_fds_[0];
  shift_pending(p);
  return fd;
}

int async__pipe_accept_pending(async_pipe_t *p, async_stream_t *client) {
  int err;
  if (p->npending_ == 0)
    return ASYNC_EAGAIN;
  if (client->type != kind_of(p->pending_fds_[0]))
    return ASYNC_EINVAL;
  switch (client->type) {
  case ASYNC_TCP: err = async_tcp_open((async_tcp_t *)client, p->pending_fds_[0]); break;
  case ASYNC_UDP: err = async_udp_open((async_udp_t *)client, p->pending_fds_[0]); break;
  default: err = async_pipe_open((async_pipe_t *)client, p->pending_fds_[0]); break;
  }
  if (err == 0)
    shift_pending(p);
  return err;
}

/* A private copy of the fd to pass, so the sender may close its handle. */
static int fd_copy(const async_stream_t *s, int fd) {
  int copy;
  if (s->type != ASYNC_PIPE || !(s->stream_flags_ & ASYNC__STREAM_IPC))
    return ASYNC_EINVAL;
  if (fd < 0)
    return ASYNC_EBADF;
  copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return copy >= 0 ? copy : async_translate_sys_error(errno);
}

void async__pipe_close(async_pipe_t *p) {
  for (unsigned i = 0; i < p->npending_; i++)
    close(p->pending_fds_[i]);
  async__free(p->pending_fds_);
  p->pending_fds_ = NULL;
  p->npending_ = p->pending_cap_ = 0;
  if (p->bound_path_ != NULL) {
    unlink(p->bound_path_);
    async__free(p->bound_path_);
    p->bound_path_ = NULL;
  }
}

/* The fd goes with the first byte (SCM_RIGHTS); the stream layer closes the
 * copy once it is sent, or when the write fails or is cancelled. */
int async_write_fd(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                   int fd, async_write_cb cb) {
  int copy;
  size_t total = 0;
  if (!async__stream_can_write(req, s, bufs, nbufs))
    return ASYNC_EINVAL;
  for (unsigned i = 0; i < nbufs; i++)
    total += bufs[i].len;
  if (total == 0)
    return ASYNC_EINVAL;
  if ((copy = fd_copy(s, fd)) < 0)
    return copy;
  return async__stream_queue_write(req, s, bufs, nbufs, copy, cb);
}

int async_write2(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                 async_handle_t *send_handle, async_write_cb cb) {
  int fd, err;
  if (!async__handle_open(send_handle) || send_handle->type == ASYNC_WATCH)
    return ASYNC_EINVAL;
  if ((err = async_fileno(send_handle, &fd)) != 0)
    return err == ASYNC_EBADF ? ASYNC_EINVAL : err;
  return async_write_fd(req, s, bufs, nbufs, fd, cb);
}
