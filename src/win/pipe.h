/* The completion stream engine, private to the files that use it: named
 * pipes (pipe.c: handles, servers, clients, packets, closing), reading and
 * writing for both kinds (pipe_io.c), and TCP sockets on the IOCP backend
 * (tcp_iocp.c: AcceptEx, ConnectEx, opening sockets). A socket's state has
 * sock set: its reads and writes are WSARecv/WSASend instead of
 * ReadFile/WriteFile, and its handles close with closesocket. */
#ifndef ASYNC_WIN_PIPE_H
#define ASYNC_WIN_PIPE_H

#include "../sock/sock.h"

#define BUF_SIZE 65536
#define WAITING_INSTANCES 4
#define READY_MAX 64
#define PREFIX "\\\\.\\pipe\\"

/* The first four are the stream layer's own bits (src/sock/stream.c), which
 * async_is_readable and async__stream_shutdown_req read on pipes too. */
enum { READABLE = 1, WRITABLE = 2, READING = 4, SHUT = ASYNC__STREAM_SHUT, LISTENING = 16 };
enum { OP_READ = 1, OP_WRITE, OP_ACCEPT, OP_TCP_ACCEPT, OP_TCP_CONNECT };

struct pipe_state;

struct pipe_op {
  OVERLAPPED ov; /* first: a packet's lpOverlapped is the op */
  struct pipe_state *st;
  struct async__link link; /* accepts and writes in flight */
  int kind;
  HANDLE h;           /* accept: the instance (or socket) waiting for a client */
  async_write_t *req; /* write: its request; NULL once cancelled */
  size_t len;
  char *data;         /* write: a copy of the bytes */
};

struct pipe_state {
  async_stream_t *s;     /* NULL once the handle is closed */
  async_loop_t *loop;
  HANDLE h;              /* the connected end, or INVALID_HANDLE_VALUE */
  WCHAR *name;
  char *uname;           /* the same name in UTF-8, for the name calls */
  size_t ulen;
  int named_here;        /* 1: bound or accepted here (its own name); 0: a client */
  HANDLE first;          /* the instance bind made (claims the name) */
  struct pipe_op read;   /* the one read */
  char *rbuf;            /* a pipe's BUF_SIZE, made on its first read */
  DWORD rlen, roff;      /* bytes read and not yet delivered */
  int read_inflight;
  int read_end;          /* 0, or ASYNC_EOF / an error waiting to be delivered */
  async_defer_t deliver; /* hands buffered bytes over from the loop */
  HANDLE ready[READY_MAX]; /* connected instances waiting for async_accept */
  unsigned nready;
  unsigned inflight;     /* operations the kernel holds */
  struct async__link accepts; /* instances in ConnectNamedPipe */
  struct async__link writes;  /* writes in flight, in order */
  async_work_t wait;     /* connect: waiting for a busy pipe on the pool */
  int waiting;
  int dispatching;       /* a packet's callbacks run: the handle may close meanwhile */
  int sock;              /* a TCP socket (tcp_iocp.c), not a pipe */
  int sock_ready;        /* a zero-byte read completed: recv until drained */
  int family;            /* a listening socket's: that of the sockets it accepts into */
  unsigned naccepting;   /* a listening socket's AcceptEx in flight */
};

#define STATE(s) ((struct pipe_state *)(s)->io_.data)

static inline int async__pipe_sys_error(void) {
  return async_translate_sys_error((int)GetLastError());
}

/* The kernel took an op: it holds the state until the packet comes. */
static inline void async__pipe_held(struct pipe_state *st) {
  st->inflight++;
  async__iocp_hold(st->loop, 1);
}

/* ERROR_IO_PENDING and success both mean a packet will come (no
 * skip-on-success mode is set). */
static inline int async__pipe_started(BOOL ok) { return ok || GetLastError() == ERROR_IO_PENDING; }

/* pipe.c: the state of a stream, made on first use (NULL: no memory);
 * closes a handle of the state's kind. */
struct pipe_state *async__pipe_state(async_stream_t *s);
void async__pipe_close_handle(const struct pipe_state *st, HANDLE h);
/* async_accept's checks, then the first connection a listener holds
 * (0 with *h, ASYNC_EAGAIN, or ASYNC_EINVAL); it leaves the queue with
 * async__pipe_ready_taken once the client has it. */
int async__pipe_ready(async_stream_t *server, async_stream_t *client, HANDLE *h);
void async__pipe_ready_taken(struct pipe_state *st);

void async__pipe_read_done(struct pipe_state *st, DWORD err, DWORD n);
void async__pipe_write_done(struct pipe_state *st, struct pipe_op *op, DWORD err);
/* tcp_iocp.c: an AcceptEx or ConnectEx packet. */
void async__tcp_iocp_done(struct pipe_state *st, struct pipe_op *op, DWORD err);

#endif
