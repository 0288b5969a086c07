/* The public calls Windows does not offer yet: they exist so that the same
 * program links everywhere, and refuse with ASYNC_ENOTSUP, matching the
 * capability bits the Windows backends leave off (signal, unix-socket;
 * passing handles over IPC pipes; permissions and peer credentials of
 * pipes). No handle of these
 * types can be created, so the close hooks the portable core calls for them
 * have nothing to do. */
#include "win.h"

#define ARG(x) (void)(x)

int async_signal_init(async_loop_t *loop, async_signal_t *h) {
  if (loop == NULL || h == NULL)
    return ASYNC_EINVAL;
  return ASYNC_ENOTSUP;
}
int async_signal_start(async_signal_t *h, async_signal_cb cb, int signum) {
  ARG(h); ARG(cb); ARG(signum);
  return ASYNC_ENOTSUP;
}
int async_signal_start_oneshot(async_signal_t *h, async_signal_cb cb, int signum) {
  ARG(h); ARG(cb); ARG(signum);
  return ASYNC_ENOTSUP;
}
int async_signal_stop(async_signal_t *h) { ARG(h); return ASYNC_ENOTSUP; }
void async__signal_close(async_signal_t *h) { ARG(h); }

int async_write2(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                 unsigned nbufs, async_handle_t *send_handle, async_write_cb cb) {
  ARG(req); ARG(stream); ARG(bufs); ARG(nbufs); ARG(send_handle); ARG(cb);
  return ASYNC_ENOTSUP;
}
int async_write_fd(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                   unsigned nbufs, int fd, async_write_cb cb) {
  ARG(req); ARG(stream); ARG(bufs); ARG(nbufs); ARG(fd); ARG(cb);
  return ASYNC_ENOTSUP;
}

int async_pipe_chmod(async_pipe_t *pipe, int mode) { ARG(pipe); ARG(mode); return ASYNC_ENOTSUP; }
int async_pipe_getpeercred(const async_pipe_t *pipe, async_peercred_t *cred) {
  ARG(pipe); ARG(cred);
  return ASYNC_ENOTSUP;
}
int async_pipe_pending_count(const async_pipe_t *pipe) { ARG(pipe); return 0; }
async_handle_type async_pipe_pending_type(const async_pipe_t *pipe) {
  ARG(pipe);
  return ASYNC_UNKNOWN_HANDLE;
}
int async_pipe_take_fd(async_pipe_t *pipe) { ARG(pipe); return ASYNC_ENOTSUP; }
