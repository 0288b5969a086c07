/* The public calls Windows does not offer yet: they exist so that the same
 * program links everywhere, and refuse with ASYNC_ENOTSUP, matching the
 * capability bits the Windows backends leave off (unix-socket;
 * passing handles over IPC pipes; permissions and peer credentials of
 * pipes). No handle of these
 * types can be created, so the close hooks the portable core calls for them
 * have nothing to do. */
#include "win.h"

#define ARG(x) (void)(x)

int async_write2(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                 unsigned nbufs, async_handle_t *send_handle, async_write_cb cb) {
  ARG(req); ARG(bufs); ARG(nbufs); ARG(send_handle); ARG(cb);
  return async__stream_ok(stream) ? ASYNC_ENOTSUP : ASYNC_EINVAL;
}
int async_write_fd(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                   unsigned nbufs, int fd, async_write_cb cb) {
  ARG(req); ARG(bufs); ARG(nbufs); ARG(fd); ARG(cb);
  return async__stream_ok(stream) ? ASYNC_ENOTSUP : ASYNC_EINVAL;
}

/* Pipe handles exist on IOCP: a bad one is told apart from a missing feature. */
static int pipe_call(const async_pipe_t *pipe) {
  return async__handle_ok(pipe, ASYNC_PIPE) ? ASYNC_ENOTSUP : ASYNC_EINVAL;
}
int async_pipe_chmod(async_pipe_t *pipe, int mode) { ARG(mode); return pipe_call(pipe); }
int async_pipe_getpeercred(const async_pipe_t *pipe, async_peercred_t *cred) {
  ARG(cred);
  return pipe_call(pipe);
}
int async_pipe_pending_count(const async_pipe_t *pipe) { ARG(pipe); return 0; }
async_handle_type async_pipe_pending_type(const async_pipe_t *pipe) {
  ARG(pipe);
  return ASYNC_UNKNOWN_HANDLE;
}
int async_pipe_take_fd(async_pipe_t *pipe) { return pipe_call(pipe); }
