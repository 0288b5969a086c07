/* Private declarations of the readiness world (src/unix). */
#ifndef ASYNC_UNIX_INTERNAL_H
#define ASYNC_UNIX_INTERNAL_H

#include "../internal.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>

/* Tag for backends whose reports can never be stale across polls. */
#define ASYNC__TAG_ANY UINT32_MAX

/* io.c: the fd table and event dispatch. */
int async__io_attach(async_loop_t *loop, async_watch_t *w, int fd);
int async__io_attach_internal(async_loop_t *loop, async_watch_t *w, int fd, async_watch_cb cb);
void async__io_detach(async_loop_t *loop, int fd);
int async__io_set(async_loop_t *loop, int fd, unsigned events);
void async__io_event(async_loop_t *loop, int fd, uint32_t tag, unsigned events);
/* A socket error a backend saw (errno value), and taking it back (0: none). */
void async__io_error(async_loop_t *loop, int fd, int err);
int async__io_take_error(async_loop_t *loop, int fd);
/* Every backend calls this as its wait returns, before it reports: the
 * callbacks that follow see the time the wait ended, and wakes they cause
 * need no byte (the loop looks at its flag after the poll). errno is kept
 * for the backend's own error check. */
static inline void async__io_waited(async_loop_t *loop) {
  int saved = errno;
  __atomic_store_n(&loop->awake_, 1, __ATOMIC_RELAXED);
  async__time_update(loop);
  errno = saved;
}
int async__io_reregister(async_loop_t *loop);
void async__io_free(async_loop_t *loop);

/* ipc.c: fds passed over IPC pipes; pipe state released at close. */
ssize_t async__ipc_read(async_stream_t *s, void *base, size_t len);
int async__pipe_accept_pending(async_pipe_t *p, async_stream_t *client);
void async__pipe_close(async_pipe_t *p);

/* signal.c */
void async__signal_loop_init(async_loop_t *loop);
void async__signal_loop_close(async_loop_t *loop);
void async__signal_dispatch(async_loop_t *loop);

/* process.c */
void async__process_loop_init(async_loop_t *loop);
void async__process_loop_close(async_loop_t *loop);
void async__child_event(async_loop_t *loop, int pid); /* the backend saw pid exit */


/* socket.c: what systems without SOCK_CLOEXEC, accept4 or sigtimedwait use. */
int async__sock_flags(int fd);
void async__sigpipe_take(const sigset_t *pipe_only);

/* wakeup.c */
int async__wake_init(async_loop_t *loop);
void async__wake_close(async_loop_t *loop, int tell_backend);
void async__wake_process(async_loop_t *loop);
int async__wake_sleep(async_loop_t *loop);

/* Backend timeouts for system calls that take milliseconds: rounded up. */
int async__timeout_ms(int64_t timeout_ns);

#endif
