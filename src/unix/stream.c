/* The public stream calls on Unix: every TCP handle and pipe is a readiness
 * stream of src/sock/stream.c, which checks the arguments. (On Windows,
 * src/win/stream.c chooses between that and the completion streams.) */
#include "../sock/sock.h"

int async_listen(async_stream_t *s, int backlog, async_connection_cb cb) {
  return async__sock_listen(s, backlog, cb);
}

int async_accept(async_stream_t *server, async_stream_t *client) {
  return async__sock_accept(server, client);
}

int async_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb) {
  return async__sock_read_start(s, alloc_cb, read_cb);
}

int async_read_stop(async_stream_t *s) { return async__sock_read_stop(s); }

int async_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                async_write_cb cb) {
  return async__sock_write(req, s, bufs, nbufs, cb);
}

long async_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs) {
  return async__sock_try_write(s, bufs, nbufs);
}

int async_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
  return async__sock_shutdown(req, s, cb);
}

void async__stream_close(async_stream_t *s) { async__sock_stream_close(s); }
