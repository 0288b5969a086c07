/* Pipe handles: streams over pipes, FIFOs, sockets and ttys handed in. */
#include "../sock/sock.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int async_pipe_init_ex(async_loop_t *loop, async_pipe_t *pipe, unsigned flags) {
  int err = async__handle_claim(loop, pipe);
  if (err != 0)
    return err;
  if (flags & ~(unsigned)ASYNC_PIPE_IPC)
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_PIPE) ||
      ((flags & ASYNC_PIPE_IPC) && !(loop->caps_ & ASYNC_CAP_UNIX_SOCKET)))
    return ASYNC_ENOTSUP;
  pipe->bound_path_ = NULL;
  pipe->pending_fds_ = NULL;
  pipe->npending_ = pipe->pending_cap_ = 0;
  err = async__stream_init(loop, (async_stream_t *)pipe, ASYNC_PIPE);
  if (err == 0 && (flags & ASYNC_PIPE_IPC))
    pipe->stream_flags_ = ASYNC__STREAM_IPC;
  return err;
}

int async_pipe_init(async_loop_t *loop, async_pipe_t *pipe) {
  return async_pipe_init_ex(loop, pipe, 0);
}

int async_pipe_open(async_pipe_t *pipe, int fd) {
  struct stat st;
  int flags, mode, err;
  if (!async__handle_ok(pipe, ASYNC_PIPE) || fd < 0)
    return ASYNC_EINVAL;
  if (pipe->fd_ >= 0)
    return ASYNC_EBUSY;
  if ((flags = fcntl(fd, F_GETFL)) == -1 || fstat(fd, &st) != 0)
    return ASYNC_EBADF;
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
    return ASYNC_EINVAL;
  mode = flags & O_ACCMODE;
  err = async__stream_open((async_stream_t *)pipe, fd, mode != O_WRONLY, mode != O_RDONLY,
                           S_ISSOCK(st.st_mode));
  if (err == 0 && !(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    err = async_translate_sys_error(errno);
    async__io_detach(pipe->loop, fd);
    pipe->fd_ = -1;
  }
  return err;
}

int async_pipe(int fds[2], int flags) {
  if (fds == NULL || (flags & ~ASYNC_PIPE_NONBLOCK))
    return ASYNC_EINVAL;
#if defined(ASYNC_HAVE_PIPE2)
  if (pipe2(fds, O_CLOEXEC | ((flags & ASYNC_PIPE_NONBLOCK) ? O_NONBLOCK : 0)) != 0)
    return async_translate_sys_error(errno);
#else
  if (pipe(fds) != 0)
    return async_translate_sys_error(errno);
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    if (flags & ASYNC_PIPE_NONBLOCK)
      fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
#endif
  return 0;
}
