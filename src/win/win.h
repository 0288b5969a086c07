/* Private declarations of the Windows platform layer (src/win). */
#ifndef ASYNC_WIN_INTERNAL_H
#define ASYNC_WIN_INTERNAL_H

#include "../internal.h"


/* winsock.c: WSAStartup once per process (never undone: sockets made by the
 * application may outlive every loop). 0 or an error. */
int async__winsock_init(void);

/* socket.c: a non-blocking send of bufs: the bytes taken, ASYNC_EAGAIN, or
 * an error. */
long async__win_send(SOCKET s, const async_buf_t *bufs, unsigned nbufs);

/* io.c: the loop's table of watched sockets and event dispatch. */
int async__io_attach(async_loop_t *loop, async_watch_t *w, SOCKET sock);
int async__io_attach_internal(async_loop_t *loop, async_watch_t *w, SOCKET sock,
                              async_watch_cb cb);
void async__io_detach(async_loop_t *loop, SOCKET sock);
int async__io_set(async_loop_t *loop, SOCKET sock, unsigned events);
struct async__sock_entry *async__io_entry(async_loop_t *loop, SOCKET sock); /* NULL: none */
/* Hands events to the watcher that owns sock, if it is still the one with gen. */
void async__io_event(async_loop_t *loop, SOCKET sock, uint32_t gen, unsigned events);
/* Both backends call this as a wait returns, before they dispatch: the
 * callbacks that follow see the time the wait ended. */
static inline void async__io_waited(async_loop_t *loop) { async__time_update(loop); }
void async__io_free(async_loop_t *loop);

/* afd.c: readiness of sockets through AFD polls completing on a port. */
struct async__afd;
int async__afd_open(struct async__afd **out, HANDLE port, ULONG_PTR key);
void async__afd_close(struct async__afd *afd, HANDLE port);
void async__afd_cancel_all(struct async__afd *afd);
unsigned async__afd_inflight(const struct async__afd *afd);
int async__afd_modify(async_loop_t *loop, struct async__afd *afd, SOCKET sock, unsigned events,
                      uint32_t gen);
/* A completion of the AFD handle (lpOverlapped of the packet). */
void async__afd_done(async_loop_t *loop, struct async__afd *afd, OVERLAPPED *ov);

/* pipe.c: named pipes, completion-based (IOCP only). */
int async__pipe_listen(async_stream_t *s, int backlog, async_connection_cb cb);
int async__pipe_accept(async_stream_t *server, async_stream_t *client);
int async__pipe_read_start(async_stream_t *s, async_alloc_cb alloc_cb, async_read_cb read_cb);
int async__pipe_read_stop(async_stream_t *s);
int async__pipe_write(async_write_t *req, async_stream_t *s, const async_buf_t bufs[],
                      unsigned nbufs, async_write_cb cb);
long async__pipe_try_write(async_stream_t *s, const async_buf_t bufs[], unsigned nbufs);
int async__pipe_shutdown(async_shutdown_t *req, async_stream_t *s, async_shutdown_cb cb);
void async__pipe_close(async_stream_t *s);
/* A completion of a pipe operation (lpOverlapped of the packet). */
void async__pipe_done(async_loop_t *loop, OVERLAPPED *ov);
/* Undoes async_pipe_open for a spawn that failed after it (process.c). */
void async__pipe_unopen(async_stream_t *s);

/* tcp_iocp.c: TCP streams on the IOCP backend are completion-based, in
 * pipe.c's engine; async__tcp_iocp says whether the loop's are. */
int async__tcp_iocp(const async_loop_t *loop);
int async__tcp_listen(async_stream_t *s, int backlog, async_connection_cb cb);
int async__tcp_accept(async_stream_t *server, async_stream_t *client);

/* process.c: a child's exit packet (lpOverlapped of the packet). */
void async__process_done(async_loop_t *loop, OVERLAPPED *ov);

/* iocp.c: the port's keys for pipe and child-exit packets, the port, and a count of operations the kernel still holds for
 * handles already closed (the loop's close waits for their packets). */
#define ASYNC__PIPE_KEY ((ULONG_PTR)3)
#define ASYNC__PROCESS_KEY ((ULONG_PTR)4)
HANDLE async__iocp_port(const async_loop_t *loop);
/* Packets one wait of the port takes at most. */
#define ASYNC__IOCP_BATCH 128

/* iocp_embed.c: the waitable handle of async_backend_handle and the thread
 * that watches the port for a host while the loop is not running. Its stop
 * packets carry ASYNC__EMBED_KEY (a poll of the loop's own ignores them). */
#define ASYNC__EMBED_KEY ((ULONG_PTR)5)
struct async__iocp_embed;
int async__iocp_embed_open(struct async__iocp_embed **out, HANDLE port);
ULONG async__iocp_embed_close(struct async__iocp_embed *e, OVERLAPPED_ENTRY *out);
HANDLE async__iocp_embed_handle(const struct async__iocp_embed *e);
ULONG async__iocp_embed_take(struct async__iocp_embed *e, OVERLAPPED_ENTRY *out);
void async__iocp_embed_sync(struct async__iocp_embed *e, async_loop_t *loop);
void async__iocp_hold(async_loop_t *loop, int delta);

/* signal.c: console control events as signal handles. */
#define ASYNC__WIN_SIGNALS 3
void async__signal_loop_init(async_loop_t *loop);
void async__signal_dispatch(async_loop_t *loop);

/* wakeup.c: runs what a wake announced (pool results, wakeup handles). */
void async__wake_process(async_loop_t *loop);

/* time.c: milliseconds for a wait of timeout_ns, rounded up (-1: INFINITE). */
unsigned long async__wait_ms(int64_t timeout_ns);
/* time.c: an early return of a wait is waited out again until the deadline. */
uint64_t async__wait_deadline(int64_t timeout_ns);
int async__wait_more(uint64_t deadline, int64_t *timeout_ns);

#endif
