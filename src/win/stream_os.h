/* The Winsock I/O under src/sock/stream.c: non-blocking recv, WSASend,
 * accept and connect on sockets driven by select's sets (on IOCP, TCP
 * streams are completion-based: src/win/tcp_iocp.c). Private to stream.c (it uses
 * stream.c's flag names) and inline there. Named pipes are not streams of
 * this kind: src/win/stream.c hands them to pipe.c before the socket
 * stream calls, which therefore carry other names here. */
#ifndef ASYNC_WIN_STREAM_OS_H
#define ASYNC_WIN_STREAM_OS_H


static inline int os_prepare(SOCKET sock) {
  u_long nonblocking = 1;
  if (ioctlsocket(sock, FIONBIO, &nonblocking) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

static inline long os_error(void) {
  int err = WSAGetLastError();
  return err == WSAEWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(err);
}

/* Sends what Winsock takes now (socket.c): the byte count, ASYNC_EAGAIN,
 * or an error. No fds travel on Windows (send_fd is always -1). */
static inline long os_write(async_stream_t *s, const async_buf_t *bufs, unsigned nbufs,
                            int send_fd) {
  (void)send_fd;
  return async__win_send(async__sock(s->fd_), bufs, nbufs);
}

/* The bytes received, 0 at the end, ASYNC_EAGAIN, or another error. */
static inline long os_read(async_stream_t *s, void *base, size_t len) {
  int n = recv(async__sock(s->fd_), base, len > 0x7fffffff ? 0x7fffffff : (int)len, 0);
  return n != SOCKET_ERROR ? (long)n : os_error();
}

/* 0 with *fd (not inherited), 1 when the peer gave up while queued (try
 * again), ASYNC_EAGAIN, or an error. */
static inline int os_accept(async_stream_t *s, int *fd) {
  SOCKET c = accept(async__sock(s->fd_), NULL, NULL);
  int err;
  if (c != INVALID_SOCKET) {
    SetHandleInformation((HANDLE)c, HANDLE_FLAG_INHERIT, 0);
    *fd = (int)c;
    return 0;
  }
  err = WSAGetLastError();
  if (err == WSAEWOULDBLOCK)
    return ASYNC_EAGAIN;
  if (err == WSAECONNRESET || err == WSAEINTR)
    return 1;
  return async_translate_sys_error(err);
}

/* Windows keeps no spare descriptor: running out of sockets is reported. */
static inline int os_reserve(void) { return -1; }
static inline int os_drop_one(async_stream_t *s) {
  (void)s;
  return -1;
}

/* 0 when connected, 1 when the answer comes as writability, or an error. */
static inline int os_connect(async_stream_t *s, const struct sockaddr *addr, unsigned len) {
  int e;
  if (connect(async__sock(s->fd_), addr, (int)len) == 0)
    return 0;
  e = WSAGetLastError();
  return e == WSAEWOULDBLOCK ? 1 : async_translate_sys_error(e);
}

/* The outcome of the connect, reported once it is decided. */
static inline int os_connect_result(async_stream_t *s) {
  int err = 0, len = (int)sizeof(err);
  getsockopt(async__sock(s->fd_), SOL_SOCKET, SO_ERROR, (char *)&err, &len);
  return async_translate_sys_error(err);
}

static inline int os_shutdown(async_stream_t *s) {
  if (shutdown(async__sock(s->fd_), SD_SEND) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

/* A socket that vanished under the stream fails what it was doing. */
static inline unsigned os_events(int status, unsigned events) {
  return status != 0 ? ASYNC_ERROR | ASYNC_HANGUP : events;
}

/* No IPC pipes on Windows (the flag is never set). */
static inline int os_accept_ipc(async_stream_t *server, async_stream_t *client) {
  (void)server;
  (void)client;
  return ASYNC_EINVAL;
}

static inline void os_closed(async_stream_t *s) { (void)s; }

#endif
