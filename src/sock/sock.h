/* The socket layer shared by the two worlds: code in src/sock/ is written
 * once against this header and compiled for Unix and for Windows. It maps
 * the few differences between BSD sockets and Winsock (the socket type, the
 * length type, where the last error lives) and brings in the world's own
 * private header, so that shared code calls the same internal functions
 * (async__io_attach, async__stream_open, ...) on either side. */
#ifndef ASYNC_SOCK_H
#define ASYNC_SOCK_H

#if defined(_WIN32)
# include "../win/win.h"

typedef SOCKET async__sock_t;
typedef int async__socklen_t;
# define ASYNC__BAD_SOCK INVALID_SOCKET
# define ASYNC__HAVE_REUSEPORT 0
/* TCP binds without SO_REUSEADDR: on Windows it would let another socket
 * take the port over. SO_EXCLUSIVEADDRUSE is not set either, so a port in
 * TIME_WAIT binds again, as on Unix. */
# define ASYNC__TCP_REUSEADDR 0
# define ASYNC__HAVE_RECVMMSG 0

/* The error of the last failed socket call, as Winsock keeps it. */
static inline int async__sock_error(void) { return WSAGetLastError(); }
#else
# include "../unix/unix.h"

# include <errno.h>
# include <netdb.h>
# include <netinet/in.h>
# include <netinet/tcp.h>
# include <sys/socket.h>

typedef int async__sock_t;
typedef socklen_t async__socklen_t;
# define ASYNC__BAD_SOCK (-1)
# if defined(SO_REUSEPORT)
#  define ASYNC__HAVE_REUSEPORT 1
# else
#  define ASYNC__HAVE_REUSEPORT 0
# endif
/* A server binds again while old connections linger in TIME_WAIT. */
# define ASYNC__TCP_REUSEADDR 1
# if defined(ASYNC_HAVE_RECVMMSG)
#  define ASYNC__HAVE_RECVMMSG 1
# else
#  define ASYNC__HAVE_RECVMMSG 0
# endif

static inline int async__sock_error(void) { return errno; }
#endif

/* Handles keep their socket in an int field (fd_): Windows socket values fit. */
static inline async__sock_t async__sock(int fd) { return (async__sock_t)(uintptr_t)fd; }

/* socket.c */
unsigned async__addr_len(const struct sockaddr *addr); /* 0: not AF_INET/AF_INET6 */
/* getsockname (peer 0) or getpeername of a handle's fd_ into name. */
int async__sock_name(int fd, struct sockaddr *name, int *namelen, int peer);
/* A socket option; 0 or an error. ASYNC_ENOTSUP where the system does not
 * know the option at that level (ENOPROTOOPT): user-mode emulators such as
 * qemu-user pass on only the options they translate. */
int async__sock_setopt_raw(async__sock_t s, int level, int name, const void *value, unsigned len);
/* An int socket option, the same way. */
int async__sock_setopt(async__sock_t s, int level, int name, int value);
/* Before a bind: SO_REUSEADDR if addr, SO_REUSEPORT if port (callers
 * refuse port where ASYNC__HAVE_REUSEPORT is 0). */
int async__sock_reuse(async__sock_t s, int addr, int port);

/* socket.c of each world (src/unix/socket.c, src/win/socket.c). */
/* A new socket, not inherited by child processes (and non-blocking on Unix;
 * Windows sockets become so when a stream or UDP handle opens them).
 * ASYNC__BAD_SOCK on failure, async__sock_error() says why. */
async__sock_t async__sock_open(int family, int type, int protocol);
void async__sock_close(async__sock_t s);
/* The address family of a socket, bound or not; 0 if it cannot be asked. */
int async__sock_family(async__sock_t s);
/* An adopted socket made non-blocking where opening it did not. */
int async__sock_nonblock(async__sock_t s);
/* Dissolves a datagram socket's peer. */
int async__sock_disconnect(async__sock_t s);
/* The keepalive idle time, in seconds. */
int async__tcp_keepidle(async__sock_t s, unsigned delay);

/* stream.c: the stream part of TCP handles (and of Unix pipes). The
 * readiness streams' calls; the public ones route to them (src/unix/stream.c
 * always, src/win/stream.c for sockets on the select backend). */
int async__sock_listen(async_stream_t *s, int backlog, async_connection_cb cb);
int async__sock_accept(async_stream_t *server, async_stream_t *client);
int async__sock_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb);
int async__sock_read_stop(async_stream_t *s);
int async__sock_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                      unsigned nbufs, async_write_cb cb);
long async__sock_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs);
int async__sock_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb);
void async__sock_stream_close(async_stream_t *s);

#define ASYNC__STREAM_IPC 512u /* stream flag: a Unix IPC pipe */
#define ASYNC__STREAM_SHUT 8u  /* stream flag, in every engine: async_shutdown was called */
int async__stream_init(async_loop_t *loop, async_stream_t *s, async_handle_type type);
int async__stream_open(async_stream_t *s, async__sock_t sock, unsigned readable,
                       unsigned writable, int is_socket);
int async__stream_connect(async_stream_t *s, async_connect_t *req, const struct sockaddr *addr,
                          unsigned len, async_connect_cb cb);
/* Request bookkeeping, also for Windows' completion streams (src/win/pipe.c,
 * tcp_iocp.c): a connect request starts (counted as active), a request
 * finishes (its callback runs later), finished ones are reported. */
void async__stream_connect_req(async_stream_t *s, async_connect_t *req, async_connect_cb cb);
void async__stream_finish(async_stream_t *s, async_req_t *req, int status);
void async__stream_run_finished(async_stream_t *s);
void async__stream_schedule_report(async_stream_t *s);
/* async_read_start's checks and callbacks (connected: the stream has its
 * fd or handle); also for Windows' named pipes. */
int async__stream_read_req(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb,
                           int connected);
/* async_shutdown's checks and request; the closing of shutdown and connect
 * requests. Also for Windows' named pipes. */
int async__stream_shutdown_req(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb);
void async__stream_cancel_requests(async_stream_t *s);
/* A write's checks and queueing, also for Unix's async_write_fd (ipc.c). */
int async__stream_can_write(const async_write_t *req, const async_stream_t *s,
                            const async_buf_t bufs[], unsigned nbufs);
int async__stream_queue_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                              unsigned nbufs, int send_fd, async_write_cb cb);

/* The stream side of a TCP handle: the readiness stream above, except on
 * Windows' IOCP backend, whose TCP streams are completion-based
 * (src/win/tcp_iocp.c decides per loop). */
#if defined(_WIN32)
int async__tcp_stream_open(async_stream_t *s, SOCKET sock, unsigned connected);
int async__tcp_stream_connect(async_stream_t *s, async_connect_t *req,
                              const struct sockaddr *addr, unsigned len, async_connect_cb cb);
#else
# define async__tcp_stream_open(s, sock, connected) \
  async__stream_open(s, sock, connected, connected, 1)
# define async__tcp_stream_connect async__stream_connect
#endif

/* udp.c: the handle's state bits shared with the world's datagram calls. */
enum {
  ASYNC__UDP_BOUND = 1,
  ASYNC__UDP_CONNECTED = 2,
  ASYNC__UDP_RECEIVING = 4,
  ASYNC__UDP_MMSG = 8 /* batch receive asked for and available */
};
#define ASYNC__UDP_RECV_SIZE 65536 /* the buffer asked for one datagram */
#define ASYNC__UDP_MMSG_MAX 32     /* datagrams per batch receive */
#define ASYNC__UDP_RECV_BATCH 32   /* datagrams per wakeup before other handles get a turn */

/* udp.c of each world (src/unix/udp.c, src/win/udp.c). */
/* Readies a new or adopted socket before it is watched. */
int async__udp_sock_prepare(async__sock_t s);
/* One datagram out: the bytes sent, ASYNC_EAGAIN, or an error. */
long async__udp_send_bufs(async__sock_t s, const async_buf_t *bufs, unsigned nbufs,
                          const struct sockaddr *addr);
/* Receives into buf and reports through the recv callback: returns how
 * many datagrams it counts for (more may wait), 0 when the socket had none
 * (the buffer came back) or failed (reported), -1 when a batch came back
 * short (the wakeup ends, its budget unchanged). */
int async__udp_recv(async_udp_t *udp, async_buf_t *buf);

/* dns.c of each world: a getaddrinfo/getnameinfo result code onto
 * ASYNC_EAI_* (or a system error); called right after the failed call, on
 * the same thread. */
int async__eai_error(int rc);

#endif /* ASYNC_SOCK_H */
