/* The public stream calls on Windows. Named pipes, and TCP sockets on the
 * IOCP backend, are completion streams (pipe.c and pipe_io.c, with
 * tcp_iocp.c for accepting and connecting sockets); TCP on the select
 * backend runs over readiness in the stream layer both worlds share
 * (src/sock/stream.c). Each call goes to the one that serves the handle. */
#include "../sock/sock.h"

/* Which engine serves s; refused handles go to the socket streams, whose
 * checks answer ASYNC_EINVAL. */
enum engine { SOCKETS, PIPES, TCP_COMPLETION };

static enum engine engine_of(const async_stream_t *s) {
  if (!async__stream_ok(s))
    return SOCKETS;
  if (s->type == ASYNC_PIPE)
    return PIPES;
  return async__tcp_iocp(s->loop) ? TCP_COMPLETION : SOCKETS;
}

static int completion(const async_stream_t *s) { return engine_of(s) != SOCKETS; }

int async_listen(async_stream_t *s, int backlog, async_connection_cb cb) {
  switch (engine_of(s)) {
  case PIPES: return async__pipe_listen(s, backlog, cb);
  case TCP_COMPLETION: return async__tcp_listen(s, backlog, cb);
  default: return async__sock_listen(s, backlog, cb);
  }
}

int async_accept(async_stream_t *server, async_stream_t *client) {
  switch (engine_of(server)) {
  case PIPES: return async__pipe_accept(server, client);
  case TCP_COMPLETION: return async__tcp_accept(server, client);
  default: return async__sock_accept(server, client);
  }
}
int async_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb) {
  if (completion(s))
    return async__pipe_read_start(s, alloc_cb, read_cb);
  return async__sock_read_start(s, alloc_cb, read_cb);
}

int async_read_stop(async_stream_t *s) {
  if (completion(s))
    return async__pipe_read_stop(s);
  return async__sock_read_stop(s);
}

int async_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[], unsigned nbufs,
                async_write_cb cb) {
  if (completion(s))
    return async__pipe_write(req, s, bufs, nbufs, cb);
  return async__sock_write(req, s, bufs, nbufs, cb);
}

long async_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs) {
  if (completion(s))
    return async__pipe_try_write(s, bufs, nbufs);
  return async__sock_try_write(s, bufs, nbufs);
}

int async_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb) {
  if (completion(s))
    return async__pipe_shutdown(req, s, cb);
  return async__sock_shutdown(req, s, cb);
}

void async__stream_close(async_stream_t *s) {
  if (completion(s))
    async__pipe_close(s);
  else
    async__sock_stream_close(s);
}
