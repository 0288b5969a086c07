/* libasync: a portable asynchronous event loop.
 *
 * Threading: everything here belongs to the thread that runs the loop, except
 * async_wakeup_send(), which any thread (or a signal handler) may call, and
 * the work callbacks of the thread pool, which run on its threads.
 * Errors: every call that can fail returns 0 or a negative ASYNC_E* code.
 * Memory: the caller owns every loop, handle and request; the library keeps
 * pointers to them until the close callback (or request callback) has run.
 * Misuse: a loop or handle carries a mark that a successful init sets and a
 * failed init, async_loop_close or the close callback clears. Every call
 * refuses a NULL, zeroed, failed, closed or closing handle (and one of
 * another type) with ASYNC_EINVAL, as it does a loop that is not open;
 * calls returning nothing ignore them, getters answer 0 or NULL. An init
 * never reads the memory it is given (it may be uninitialised), so it cannot
 * refuse a handle or loop that is open: initialise each once, and again only
 * after its close callback (or async_loop_close). */
#ifndef ASYNC_H
#define ASYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
# if defined(ASYNC_BUILDING_SHARED)
#  define ASYNC_EXTERN __declspec(dllexport)
# elif defined(ASYNC_USING_SHARED)
#  define ASYNC_EXTERN __declspec(dllimport)
# else
#  define ASYNC_EXTERN
# endif
#elif defined(__GNUC__)
# define ASYNC_EXTERN __attribute__((visibility("default")))
#else
# define ASYNC_EXTERN
#endif

#define ASYNC_VERSION_MAJOR 0
#define ASYNC_VERSION_MINOR 1
#define ASYNC_VERSION_PATCH 0

struct addrinfo;
struct sockaddr;
struct sockaddr_in;
struct sockaddr_in6;

typedef struct async_loop_s async_loop_t;
typedef struct async_handle_s async_handle_t;
typedef struct async_timer_s async_timer_t;
typedef struct async_hook_s async_idle_t;
typedef struct async_hook_s async_prepare_t;
typedef struct async_hook_s async_check_t;
typedef struct async_watch_s async_watch_t;
typedef struct async_wakeup_s async_wakeup_t;
typedef struct async_signal_s async_signal_t;
typedef struct async_process_s async_process_t;
typedef struct async_udp_s async_udp_t;
typedef struct async_udp_send_s async_udp_send_t;
typedef struct async_stream_s async_stream_t;
typedef struct async_pipe_s async_pipe_t;
typedef struct async_write_s async_write_t;
typedef struct async_shutdown_s async_shutdown_t;
typedef struct async_tcp_s async_tcp_t;
typedef struct async_connect_s async_connect_t;
typedef struct async_defer_s async_defer_t;
typedef struct async_req_s async_req_t;
typedef struct async_work_s async_work_t;
typedef struct async_getaddrinfo_s async_getaddrinfo_t;
typedef struct async_getnameinfo_s async_getnameinfo_t;
typedef struct async_slow_report_s async_slow_report_t;

typedef void (*async_close_cb)(async_handle_t *handle);
typedef void (*async_timer_cb)(async_timer_t *timer);
typedef void (*async_hook_cb)(struct async_hook_s *hook);
typedef void (*async_watch_cb)(async_watch_t *w, int status, unsigned events);
typedef void (*async_wakeup_cb)(async_wakeup_t *w);
typedef void (*async_signal_cb)(async_signal_t *h, int signum);

/* A buffer: base and length (the layout of struct iovec on Unix). */
typedef struct async_buf_s {
  char *base;
  size_t len;
} async_buf_t;

/* Asks for a receive buffer of suggested_size bytes (or any size): set
 * buf->base = NULL or buf->len = 0 to receive nothing this time. */
typedef void (*async_alloc_cb)(async_handle_t *handle, size_t suggested_size, async_buf_t *buf);
typedef void (*async_udp_send_cb)(async_udp_send_t *req, int status);
/* nread bytes arrived in buf; 0: nothing this time (the buffer comes back);
 * ASYNC_EOF: the peer finished writing; another negative value: an error. */
typedef void (*async_read_cb)(async_stream_t *stream, long nread, const async_buf_t *buf);
typedef void (*async_write_cb)(async_write_t *req, int status);
typedef void (*async_shutdown_cb)(async_shutdown_t *req, int status);
/* A connection is waiting for async_accept (status 0), or accepting failed
 * (ASYNC_EMFILE or ASYNC_ENFILE when out of fds: that connection was dropped). */
typedef void (*async_connection_cb)(async_stream_t *server, int status);
typedef void (*async_connect_cb)(async_connect_t *req, int status);
/* nread bytes arrived from addr into buf (nread 0 with addr NULL: nothing
 * more for now, the buffer may be reused; negative: an error). flags has
 * ASYNC_UDP_PARTIAL when the datagram was larger than the buffer. */
typedef void (*async_udp_recv_cb)(async_udp_t *udp, long nread, const async_buf_t *buf,
                                  const struct sockaddr *addr, unsigned flags);
typedef void (*async_defer_cb)(async_defer_t *d);
typedef void (*async_walk_cb)(async_handle_t *handle, void *arg);
typedef void (*async_work_cb)(async_work_t *req);
typedef void (*async_after_work_cb)(async_work_t *req, int status);
typedef void (*async_getaddrinfo_cb)(async_getaddrinfo_t *req, int status, struct addrinfo *res);
typedef void (*async_getnameinfo_cb)(async_getnameinfo_t *req, int status, const char *host,
                                     const char *service);
/* A callback ran for longer than the loop's threshold (async_loop_report_slow). */
typedef void (*async_slow_cb)(async_loop_t *loop, const async_slow_report_t *report);
/* Outside async_run, the loop needs attention sooner than the host was told
 * (async_embed_notify). */
typedef void (*async_embed_cb)(async_loop_t *loop);

/* Private: one slot that holds the handle type's callback while the handle
 * is open and the close callback once it is closing. */
union async__cb {
  async_close_cb close;
  async_timer_cb timer;
  async_hook_cb hook;
  async_watch_cb watch;
  async_wakeup_cb wakeup;
  async_signal_cb signal;
  async_udp_recv_cb udp_recv;
  async_read_cb read;
};

/* Private: an intrusive circular list node. */
struct async__link {
  struct async__link *next;
  struct async__link *prev;
};

/* Private: one element of the loop's handle tables (the timer heap and the
 * table of other handles). key is the timer deadline in ns. */
struct async__slot {
  uint64_t key;
  async_handle_t *handle;
};

struct async__slots {
  struct async__slot *v; /* inside mem_, placed so that v[1] starts a cache line */
  void *mem_;
  uint32_t len;
  uint32_t cap;
};

#if defined(_WIN32)
# include "async/win.h"
#else
# include "async/unix.h"
#endif

/* ---- errors -------------------------------------------------------------- */

/* XX(name, message): every error code the library returns. */
#define ASYNC_ERRNO_MAP(XX)                                                   \
  XX(E2BIG, "argument list too long")                                         \
  XX(EACCES, "permission denied")                                             \
  XX(EADDRINUSE, "address already in use")                                    \
  XX(EADDRNOTAVAIL, "address not available")                                  \
  XX(EAFNOSUPPORT, "address family not supported")                            \
  XX(EAGAIN, "resource temporarily unavailable")                              \
  XX(EALREADY, "operation already in progress")                               \
  XX(EBADF, "bad file descriptor")                                            \
  XX(EBUSY, "resource busy or locked")                                        \
  XX(ECANCELED, "operation canceled")                                         \
  XX(ECONNABORTED, "software caused connection abort")                        \
  XX(ECONNREFUSED, "connection refused")                                      \
  XX(ECONNRESET, "connection reset by peer")                                  \
  XX(EEXIST, "file already exists")                                           \
  XX(EFAULT, "bad address in system call argument")                           \
  XX(EHOSTUNREACH, "host is unreachable")                                     \
  XX(EINTR, "interrupted system call")                                        \
  XX(EINVAL, "invalid argument")                                              \
  XX(EIO, "i/o error")                                                        \
  XX(EISCONN, "socket is already connected")                                  \
  XX(EISDIR, "illegal operation on a directory")                              \
  XX(ELOOP, "too many symbolic links encountered")                            \
  XX(EMFILE, "too many open files")                                           \
  XX(EMSGSIZE, "message too long")                                            \
  XX(ENAMETOOLONG, "name too long")                                           \
  XX(ENETDOWN, "network is down")                                             \
  XX(ENETUNREACH, "network is unreachable")                                   \
  XX(ENFILE, "file table overflow")                                           \
  XX(ENOBUFS, "no buffer space available")                                    \
  XX(ENODEV, "no such device")                                                \
  XX(ENOENT, "no such file or directory")                                     \
  XX(ENOMEM, "not enough memory")                                             \
  XX(ENOSPC, "no space left on device")                                       \
  XX(ENOSYS, "function not implemented")                                      \
  XX(ENOTCONN, "socket is not connected")                                     \
  XX(ENOTDIR, "not a directory")                                              \
  XX(ENOTEMPTY, "directory not empty")                                        \
  XX(ENOTSOCK, "socket operation on non-socket")                              \
  XX(ENOTSUP, "operation not supported")                                      \
  XX(ENXIO, "no such device or address")                                      \
  XX(EOVERFLOW, "value too large for defined data type")                      \
  XX(EPERM, "operation not permitted")                                        \
  XX(EPIPE, "broken pipe")                                                    \
  XX(EPROTO, "protocol error")                                                \
  XX(EPROTONOSUPPORT, "protocol not supported")                               \
  XX(EPROTOTYPE, "protocol wrong type for socket")                            \
  XX(ERANGE, "result too large")                                              \
  XX(EROFS, "read-only file system")                                          \
  XX(ESPIPE, "invalid seek")                                                  \
  XX(ESRCH, "no such process")                                                \
  XX(ETIMEDOUT, "connection timed out")                                       \
  XX(ETXTBSY, "text file is busy")                                            \
  XX(EXDEV, "cross-device link not permitted")                                \
  XX(EOF, "end of file")                                                      \
  XX(EAI_ADDRFAMILY, "address family for hostname not supported")                          \
  XX(EAI_AGAIN, "temporary failure")                                          \
  XX(EAI_BADFLAGS, "bad ai_flags value")                                      \
  XX(EAI_CANCELED, "request canceled")                                        \
  XX(EAI_FAIL, "permanent failure")                                           \
  XX(EAI_FAMILY, "ai_family not supported")                                   \
  XX(EAI_MEMORY, "out of memory")                                             \
  XX(EAI_NODATA, "no address")                                                \
  XX(EAI_NONAME, "unknown node or service")                                   \
  XX(EAI_OVERFLOW, "argument buffer overflow")                                \
  XX(EAI_SERVICE, "service not available for socket type")                    \
  XX(EAI_SOCKTYPE, "socket type not supported")

/* End of stream and resolver errors have the same values on every platform;
 * the others come from the platform header (negated errno values on Unix). */
#define ASYNC__EOF (-4095)
#define ASYNC__EAI_ADDRFAMILY (-3000)
#define ASYNC__EAI_AGAIN (-3001)
#define ASYNC__EAI_BADFLAGS (-3002)
#define ASYNC__EAI_CANCELED (-3003)
#define ASYNC__EAI_FAIL (-3004)
#define ASYNC__EAI_FAMILY (-3005)
#define ASYNC__EAI_MEMORY (-3006)
#define ASYNC__EAI_NODATA (-3007)
#define ASYNC__EAI_NONAME (-3008)
#define ASYNC__EAI_OVERFLOW (-3009)
#define ASYNC__EAI_SERVICE (-3010)
#define ASYNC__EAI_SOCKTYPE (-3011)

enum {
#define ASYNC__ERR_ENUM(name, msg) ASYNC_##name = ASYNC__##name,
  ASYNC_ERRNO_MAP(ASYNC__ERR_ENUM)
#undef ASYNC__ERR_ENUM
  ASYNC__ERR_END_ = 0
};

/* The message for an error code ("unknown error" for anything else). Never NULL. */
ASYNC_EXTERN const char *async_strerror(int err);
/* The code's name without the ASYNC_ prefix, e.g. "EAGAIN" ("UNKNOWN" otherwise). */
ASYNC_EXTERN const char *async_err_name(int err);
/* Translates a platform error number (errno on Unix) into an ASYNC_E* code. */
ASYNC_EXTERN int async_translate_sys_error(int sys_errno);

/* ---- memory -------------------------------------------------------------- */

typedef void *(*async_malloc_fn)(size_t size);
typedef void *(*async_realloc_fn)(void *ptr, size_t size);
typedef void *(*async_calloc_fn)(size_t count, size_t size);
typedef void (*async_free_fn)(void *ptr);

/* Replaces the allocator used for the library's internal tables. Call it
 * before any loop exists (it is process-wide). Returns ASYNC_EINVAL if any
 * function is NULL, ASYNC_EBUSY while memory from the current allocator is
 * still held by an open loop. */
ASYNC_EXTERN int async_replace_allocator(async_malloc_fn malloc_fn,
                                         async_realloc_fn realloc_fn,
                                         async_calloc_fn calloc_fn,
                                         async_free_fn free_fn);

/* ---- backends and capabilities ------------------------------------------ */

enum async_cap {
  ASYNC_CAP_TIMERS = 1u << 0,       /* timers, ready queue, hooks */
  ASYNC_CAP_WAKEUP = 1u << 1,       /* cross-thread wakeups */
  ASYNC_CAP_FD_WATCH = 1u << 2,     /* reader/writer fd watchers */
  ASYNC_CAP_HANGUP = 1u << 3,       /* watchers see hang-up/error as distinct events */
  ASYNC_CAP_SUBMS_TIMERS = 1u << 4, /* waits honour sub-millisecond deadlines */
  ASYNC_CAP_BACKEND_FD = 1u << 5,   /* async_backend_fd() gives a pollable fd */
  ASYNC_CAP_FD_LIMIT = 1u << 6,     /* watchers limited to fds below async_loop_fd_limit() */
  ASYNC_CAP_FORK = 1u << 7,         /* async_loop_fork() supported */
  ASYNC_CAP_TCP = 1u << 8,
  ASYNC_CAP_UDP = 1u << 9,
  ASYNC_CAP_PIPE = 1u << 10,
  ASYNC_CAP_UNIX_SOCKET = 1u << 11,
  ASYNC_CAP_PROCESS = 1u << 12,
  ASYNC_CAP_SIGNAL = 1u << 13,
  ASYNC_CAP_THREADPOOL = 1u << 14,
  ASYNC_CAP_DNS = 1u << 15,
  ASYNC_CAP_UNIX_ABSTRACT = 1u << 16, /* abstract Unix socket names (Linux only) */
  ASYNC_CAP_CHAR_DEVICE = 1u << 17,   /* watchers take character devices (terminals) */
  ASYNC_CAP_BACKEND_HANDLE = 1u << 18, /* async_backend_handle() gives a waitable HANDLE (Windows) */
  ASYNC_CAP_LAST_ = ASYNC_CAP_BACKEND_HANDLE
};

typedef struct async_backend_info_s {
  const char *name;  /* "epoll", "poll", "select", ... */
  unsigned caps;     /* what a loop on it offers in this build on this machine */
  int available;     /* 1 if a loop can be created on it here, 0 if not */
} async_backend_info_t;

/* The backends compiled in, most preferred first. Sets *count (if count is
 * not NULL) and returns a static array. Availability is probed on each call. */
ASYNC_EXTERN const async_backend_info_t *async_backends(size_t *count);
/* A short name for one capability bit ("fd-watch"), or NULL for an unknown bit. */
ASYNC_EXTERN const char *async_cap_name(unsigned cap);

/* ---- loop ---------------------------------------------------------------- */

typedef enum {
  ASYNC_RUN_DEFAULT = 0, /* until no active referenced handle or request is left, or async_stop */
  ASYNC_RUN_ONCE,        /* one turn; blocks in the poll if nothing is ready */
  ASYNC_RUN_NOWAIT       /* one turn; never blocks */
} async_run_mode;

typedef enum {
  ASYNC_CLOCK_REAL = 0,   /* CLOCK_MONOTONIC (QueryPerformanceCounter on Windows) */
  ASYNC_CLOCK_VIRTUAL,    /* moves only through async_loop_advance() */
  ASYNC_CLOCK_AUTOJUMP    /* virtual; jumps to the next timer when the loop would sleep:
                           * with no thread-pool request running (those end on their
                           * own), even while sockets wait for peers */
} async_clock_mode;

typedef struct async_loop_options_s {
  const char *backend;    /* NULL: $ASYNC_BACKEND, else the platform default */
  async_clock_mode clock;
  uint64_t clock_start_ns; /* initial time of a virtual clock */
} async_loop_options_t;

/* Creates a loop in caller-owned memory. options may be NULL (real clock;
 * backend from $ASYNC_BACKEND, else the platform default). Errors:
 * ASYNC_EINVAL (NULL loop, bad clock mode), ASYNC_ENOENT (no backend has that name: async_backends() lists those
 * built), ASYNC_ENOTSUP (a backend this library knows, not compiled in or
 * not usable on this kernel), ASYNC_ENOMEM, system errors. A refused name
 * leaves the loop's memory untouched. */
ASYNC_EXTERN int async_loop_init(async_loop_t *loop, const async_loop_options_t *options);
/* Releases the loop's kernel state and memory. Returns ASYNC_EBUSY, and
 * closes nothing, while a handle is open or a deferred call is pending. */
ASYNC_EXTERN int async_loop_close(async_loop_t *loop);
/* Runs the loop (see docs/loop.md). Returns 1 if handles or requests keep it
 * alive (after async_stop, ONCE, NOWAIT, or a stalled virtual clock), 0 if
 * nothing is left to do, ASYNC_EINVAL for a bad argument, ASYNC_EBUSY when
 * called from inside a callback of the same loop, or the backend's error if
 * waiting for I/O fails (EINTR is not a failure). */
ASYNC_EXTERN int async_run(async_loop_t *loop, async_run_mode mode);
/* Makes async_run return after the current turn. */
ASYNC_EXTERN void async_stop(async_loop_t *loop);
/* 1 if active referenced handles, requests, deferred calls or close callbacks are pending. */
ASYNC_EXTERN int async_loop_alive(const async_loop_t *loop);
/* The loop's cached time in milliseconds / nanoseconds: read at the start of
 * each turn, before the wait for I/O is computed, and when that wait returns
 * (so I/O callbacks see the time it ended). 0 for a loop that is not open. */
ASYNC_EXTERN uint64_t async_now(const async_loop_t *loop);
ASYNC_EXTERN uint64_t async_now_ns(const async_loop_t *loop);
/* Refreshes the cached time (no effect on a virtual clock). */
ASYNC_EXTERN void async_update_time(async_loop_t *loop);
/* The monotonic clock in nanoseconds from an arbitrary origin (always real). */
ASYNC_EXTERN uint64_t async_hrtime(void);
/* Moves a virtual clock forward by ns; due timers run on the next turn.
 * ASYNC_EINVAL on a real clock or NULL loop. */
ASYNC_EXTERN int async_loop_advance(async_loop_t *loop, uint64_t ns);
/* Calls cb for every open handle (closing ones included). The callback may
 * close handles; every handle open throughout the walk is visited once. */
ASYNC_EXTERN void async_walk(async_loop_t *loop, async_walk_cb cb, void *arg);
/* Name of the loop's backend. */
ASYNC_EXTERN const char *async_loop_backend(const async_loop_t *loop);
/* The loop's capability bits (enum async_cap). */
ASYNC_EXTERN unsigned async_loop_caps(const async_loop_t *loop);
/* Watchers accept fds below this number; 0 means the process's own fd limit is the only one. */
ASYNC_EXTERN long async_loop_fd_limit(const async_loop_t *loop);
/* A file descriptor that becomes readable when the loop has work, for
 * embedding in another loop. ASYNC_ENOTSUP on backends without one (see ASYNC_CAP_BACKEND_FD). */
ASYNC_EXTERN int async_backend_fd(async_loop_t *loop);
/* How long (ms) an embedding host may block on async_backend_fd(): -1 forever,
 * 0 not at all, which is also the answer when nothing keeps the loop alive
 * (async_loop_alive() says 0: the host should stop running it, not spin). */
ASYNC_EXTERN int async_backend_timeout(async_loop_t *loop);
/* Same in nanoseconds; -1 for forever. */
ASYNC_EXTERN int64_t async_backend_timeout_ns(async_loop_t *loop);
/* Call in a forked child before using the loop there: re-creates the
 * backend's kernel state and the loop's wakeup channel without touching the
 * parent's. ASYNC_EINVAL for NULL; system errors (the loop can then only be closed). */
ASYNC_EXTERN int async_loop_fork(async_loop_t *loop);

/* ---- handles --------------------------------------------------------------- */

typedef enum {
  ASYNC_UNKNOWN_HANDLE = 0,
  ASYNC_TIMER,
  ASYNC_IDLE,
  ASYNC_PREPARE,
  ASYNC_CHECK,
  ASYNC_WATCH,
  ASYNC_WAKEUP,
  ASYNC_SIGNAL,
  ASYNC_UDP,
  ASYNC_PIPE,
  ASYNC_TCP,
  ASYNC_PROCESS,
  ASYNC_HANDLE_TYPE_MAX
} async_handle_type;

/* Fields every handle starts with. data is the user's, loop and type may be
 * read; the rest is private. */
#define ASYNC_HANDLE_FIELDS                                                   \
  void *data;                                                                 \
  async_loop_t *loop;                                                         \
  union async__cb cb_;                                                        \
  uint32_t slot_;                                                             \
  uint8_t type;                                                               \
  uint8_t mark_;                                                              \
  uint16_t flags_;                                                            \
  union {                                                                     \
    uint64_t seq;                                                             \
    async_handle_t *next_closing;                                             \
  } u_;

struct async_handle_s {
  ASYNC_HANDLE_FIELDS
};

/* Closes any handle: stops it, then calls close_cb (may be NULL) from the
 * loop, never from inside this call; after that the library no longer
 * touches the handle's memory. ASYNC_EINVAL for NULL, a handle already
 * closing or closed, or one whose init failed or never ran (zeroed memory). */
ASYNC_EXTERN int async_close(async_handle_t *handle, async_close_cb close_cb);
/* A referenced active handle keeps async_run(DEFAULT) going; handles start
 * referenced. A closing handle is neither active nor referenced. */
ASYNC_EXTERN void async_ref(async_handle_t *handle);
ASYNC_EXTERN void async_unref(async_handle_t *handle);
ASYNC_EXTERN int async_has_ref(const async_handle_t *handle);
ASYNC_EXTERN int async_is_active(const async_handle_t *handle);
/* 1 once async_close has been called (also after the close callback ran). */
ASYNC_EXTERN int async_is_closing(const async_handle_t *handle);
ASYNC_EXTERN async_handle_type async_handle_get_type(const async_handle_t *handle);
/* "timer", "idle", ...; NULL for an unknown type. */
ASYNC_EXTERN const char *async_handle_type_name(async_handle_type type);

/* ---- timers ---------------------------------------------------------------- */

struct async_timer_s {
  ASYNC_HANDLE_FIELDS
  uint64_t repeat_ns;
};

/* Initialises a stopped timer. ASYNC_EINVAL (NULL timer, loop not open: as
 * every *_init, it then leaves the timer refused by every call), ASYNC_ENOMEM. */
ASYNC_EXTERN int async_timer_init(async_loop_t *loop, async_timer_t *timer);
/* Starts (or restarts) the timer: cb runs once timeout has passed, then
 * every repeat if repeat is nonzero. Never runs before its deadline.
 * Timers with equal deadlines run in start order. ASYNC_EINVAL for NULL,
 * a NULL cb or a closing handle. */
ASYNC_EXTERN int async_timer_start(async_timer_t *timer, async_timer_cb cb,
                                   uint64_t timeout_ms, uint64_t repeat_ms);
ASYNC_EXTERN int async_timer_start_ns(async_timer_t *timer, async_timer_cb cb,
                                      uint64_t timeout_ns, uint64_t repeat_ns);
/* Stops the timer; stopping a stopped timer is allowed. ASYNC_EINVAL for NULL
 * or a closing or closed timer. */
ASYNC_EXTERN int async_timer_stop(async_timer_t *timer);
/* Restarts a repeating timer with its repeat as timeout (stops it if the
 * repeat is 0). ASYNC_EINVAL if it was never started or is closing. */
ASYNC_EXTERN int async_timer_again(async_timer_t *timer);
/* Sets the repeat used from the next expiry on (ignored for a bad handle). */
ASYNC_EXTERN void async_timer_set_repeat(async_timer_t *timer, uint64_t repeat_ms);
ASYNC_EXTERN void async_timer_set_repeat_ns(async_timer_t *timer, uint64_t repeat_ns);
ASYNC_EXTERN uint64_t async_timer_get_repeat(const async_timer_t *timer);
ASYNC_EXTERN uint64_t async_timer_get_repeat_ns(const async_timer_t *timer);
/* Time left until the deadline (0 if due or stopped), against the loop's cached time. */
ASYNC_EXTERN uint64_t async_timer_get_due_in(const async_timer_t *timer);
ASYNC_EXTERN uint64_t async_timer_get_due_in_ns(const async_timer_t *timer);

/* ---- deferred calls (the ready queue) ------------------------------------- */

/* Not a handle: a caller-owned record queued with no allocation. */
struct async_defer_s {
  void *data;
  async_defer_cb cb_;
  struct async__link link_;
};

/* Prepares a record for async_defer (zeroed memory is prepared too). */
ASYNC_EXTERN void async_defer_init(async_defer_t *d);
/* Queues cb to run at the loop's next ready-queue step (after timers, before
 * idle hooks; so a call queued by a timer runs in the same turn), in FIFO
 * order. Calls queued while the queue runs wait for the next turn.
 * ASYNC_EINVAL for NULL arguments, ASYNC_EALREADY if d is already queued. */
ASYNC_EXTERN int async_defer(async_loop_t *loop, async_defer_t *d, async_defer_cb cb);
/* Removes a queued call. ASYNC_ENOENT if it is not queued (already ran or cancelled). */
ASYNC_EXTERN int async_defer_cancel(async_defer_t *d);
/* 1 while d is queued. */
ASYNC_EXTERN int async_defer_pending(const async_defer_t *d);

/* ---- idle, prepare and check hooks ---------------------------------------- */

struct async_hook_s {
  ASYNC_HANDLE_FIELDS
  struct async__link link_;
};

/* Idle hooks run every turn after the ready queue and keep the poll from
 * blocking; prepare hooks run right before the poll, check hooks right after.
 * init: ASYNC_EINVAL for NULL, ASYNC_ENOMEM. start: ASYNC_EINVAL (NULL, NULL cb, closing),
 * ASYNC_EALREADY if already started. stop: ASYNC_EINVAL for NULL or a closing
 * handle (stopping a stopped hook is allowed). */
ASYNC_EXTERN int async_idle_init(async_loop_t *loop, async_idle_t *idle);
ASYNC_EXTERN int async_idle_start(async_idle_t *idle, async_hook_cb cb);
ASYNC_EXTERN int async_idle_stop(async_idle_t *idle);
ASYNC_EXTERN int async_prepare_init(async_loop_t *loop, async_prepare_t *prepare);
ASYNC_EXTERN int async_prepare_start(async_prepare_t *prepare, async_hook_cb cb);
ASYNC_EXTERN int async_prepare_stop(async_prepare_t *prepare);
ASYNC_EXTERN int async_check_init(async_loop_t *loop, async_check_t *check);
ASYNC_EXTERN int async_check_start(async_check_t *check, async_hook_cb cb);
ASYNC_EXTERN int async_check_stop(async_check_t *check);

/* ---- reader/writer fd watchers --------------------------------------------- */

enum async_watch_event {
  ASYNC_READABLE = 1, /* data (or EOF) can be read without blocking */
  ASYNC_WRITABLE = 2, /* a write would not block */
  ASYNC_HANGUP = 4,   /* the peer closed; READABLE comes with it if asked for */
  ASYNC_ERROR = 8     /* an error is pending on the fd; the asked-for events come with it */
};

struct async_watch_s {
  ASYNC_HANDLE_FIELDS
  int fd;
  unsigned events_;
};

/* Binds a watcher to fd (level-triggered). Errors: ASYNC_EINVAL (NULL,
 * negative fd), ASYNC_EBADF (fd not open), ASYNC_EPERM (regular file or
 * directory: never watchable), ASYNC_EEXIST (fd already watched in this loop),
 * ASYNC_ERANGE (fd at or past async_loop_fd_limit()), ASYNC_ENOTSUP (backend
 * without fd watchers), ASYNC_ENOMEM. The fd stays the caller's: stop or close
 * the watcher before closing the fd. */
ASYNC_EXTERN int async_watch_init(async_loop_t *loop, async_watch_t *w, int fd);
/* Watches for events (ASYNC_READABLE and/or ASYNC_WRITABLE); calling it again
 * replaces the events. cb gets status 0 and the ready events, or a negative
 * status (ASYNC_EBADF: the fd was closed under the watcher, which is then
 * stopped). ASYNC_EINVAL (NULL, NULL cb, no or unknown events, closing);
 * the backend's error if it refuses the fd (epoll: ASYNC_EPERM, ASYNC_ENOMEM). */
ASYNC_EXTERN int async_watch_start(async_watch_t *w, unsigned events, async_watch_cb cb);
/* Stops watching (a stopped watcher may be stopped again). ASYNC_EINVAL for
 * NULL or a closing watcher. */
ASYNC_EXTERN int async_watch_stop(async_watch_t *w);

/* ---- cross-thread wakeups -------------------------------------------------- */

struct async_wakeup_s {
  ASYNC_HANDLE_FIELDS
  int pending_;
  int senders_; /* async_wakeup_send calls inside their counted section */
  struct async__link link_;
};

/* Initialises an active, referenced wakeup handle (it keeps async_run going
 * until closed or unreferenced) whose cb runs on the loop thread after
 * async_wakeup_send. ASYNC_EINVAL for NULL arguments or a NULL cb, ASYNC_ENOMEM. */
ASYNC_EXTERN int async_wakeup_init(async_loop_t *loop, async_wakeup_t *w, async_wakeup_cb cb);
/* Thread-safe and async-signal-safe. Sends coalesce: at least one callback
 * runs after the last send. Returns ASYNC_EINVAL for NULL or once the handle
 * is closing. A send under way when the handle is closed finishes before the
 * close callback runs; no send may start after the close callback. */
ASYNC_EXTERN int async_wakeup_send(async_wakeup_t *w);

/* ---- signals ------------------------------------------------------------------ */

struct async_signal_s {
  ASYNC_HANDLE_FIELDS
  int signum;     /* the signal being watched, 0 when stopped */
  int oneshot_;
  struct async__link link_;
};

/* Initialises a stopped signal handle. ASYNC_EINVAL for NULL, ASYNC_ENOTSUP
 * where the loop lacks ASYNC_CAP_SIGNAL, ASYNC_ENOMEM. */
ASYNC_EXTERN int async_signal_init(async_loop_t *loop, async_signal_t *h);
/* Calls cb(h, signum) on the loop thread after signum is delivered to the
 * process. Deliveries coalesce: a burst gives at least one callback after its
 * last signal. Every started handle for the signal, in every loop, is called.
 * The first handle for a signal installs the library's handler; stopping the
 * last restores the disposition that was there before. Errors: ASYNC_EINVAL
 * (NULL, NULL cb, invalid signum, SIGKILL, SIGSTOP, closing handle),
 * ASYNC_EALREADY (already started: stop it first), system errors from sigaction. */
ASYNC_EXTERN int async_signal_start(async_signal_t *h, async_signal_cb cb, int signum);
/* Same, but the handle stops itself before its first callback. */
ASYNC_EXTERN int async_signal_start_oneshot(async_signal_t *h, async_signal_cb cb, int signum);
/* Stops watching (a stopped handle may be stopped again). ASYNC_EINVAL for
 * NULL or a closing handle. */
ASYNC_EXTERN int async_signal_stop(async_signal_t *h);

/* ---- subprocesses ------------------------------------------------------------- */

/* exit_status is the child's exit code (0 when a signal ended it); term_signal
 * the signal that ended it, 0 if it exited. Runs on the loop thread. */
typedef void (*async_exit_cb)(async_process_t *process, int64_t exit_status, int term_signal);

enum async_process_flags {
  ASYNC_PROCESS_SETUID = 1,  /* run as options->uid (fork+exec path); Windows: ENOTSUP */
  ASYNC_PROCESS_SETGID = 2,  /* run with options->gid, no supplementary groups; Windows: ENOTSUP */
  ASYNC_PROCESS_DETACHED = 4 /* new session (setsid): the child leads its own group.
                              * Windows: no console, a new process group, out of the
                              * job that ends the other children with the parent */
};

/* What the child's fd i is (async_stdio_t.flags). Exactly one of IGNORE,
 * CREATE_PIPE, INHERIT_FD, INHERIT_STREAM; CREATE_PIPE takes READABLE_PIPE
 * and/or WRITABLE_PIPE, seen from the child (stdin: READABLE_PIPE).
 * Windows: only stdin, stdout and stderr exist (later entries must be
 * IGNORE, else ENOTSUP); IGNORE is NUL; INHERIT_FD takes a HANDLE value,
 * where 0, 1 and 2 mean the parent's standard handles; CREATE_PIPE is a
 * named pipe. The child inherits these handles and no others. */
enum async_stdio_flags {
  ASYNC_IGNORE = 0,          /* /dev/null */
  ASYNC_CREATE_PIPE = 1,     /* data.stream: an async_pipe_init'ed pipe without an fd */
  ASYNC_INHERIT_FD = 2,      /* data.fd: the parent's fd */
  ASYNC_INHERIT_STREAM = 4,  /* data.stream: that stream's fd */
  ASYNC_READABLE_PIPE = 16,  /* the child reads from the pipe */
  ASYNC_WRITABLE_PIPE = 32   /* the child writes to the pipe */
};

typedef struct async_stdio_s {
  unsigned flags;
  union {
    async_stream_t *stream;
    int fd;
  } data;
} async_stdio_t;

typedef struct async_process_options_s {
  async_exit_cb exit_cb;   /* may be NULL */
  const char *file;        /* a path, or a name looked up in PATH when it has no slash */
  char **args;             /* argv, NULL-terminated; args[0] is conventionally file */
  char **env;              /* NULL-terminated "NAME=value" list; NULL: the parent's */
  const char *cwd;         /* NULL: the parent's */
  unsigned flags;          /* enum async_process_flags */
  int stdio_count;         /* entries in stdio; fds 0-2 not given are /dev/null */
  async_stdio_t *stdio;
  uint32_t uid;            /* with ASYNC_PROCESS_SETUID */
  uint32_t gid;            /* with ASYNC_PROCESS_SETGID */
} async_process_options_t;

struct async__child;

struct async_process_s {
  ASYNC_HANDLE_FIELDS
  int pid;                     /* the child's pid (kept after it exits) */
  async_exit_cb exit_cb_;
  struct async__child *child_; /* the loop's record while the child is not reaped */
};

/* Starts a child and initialises process as an active handle (until the
 * child exits; then exit_cb runs). Errors are synchronous and leave nothing
 * behind (the handle is then not initialised): ASYNC_EINVAL (NULL loop,
 * process, options, file or args, a bad stdio entry or flag), ASYNC_ENOENT
 * (no such executable or cwd), ASYNC_EACCES, ASYNC_EPERM (uid/gid), ASYNC_ENOTSUP
 * without ASYNC_CAP_PROCESS, ASYNC_ENOMEM, ASYNC_EMFILE, other exec errors.
 * Windows (IOCP only; docs/process.md): CreateProcessW with each argument
 * quoted for the C runtime's argv parser (a '"' in args[0] is EINVAL); a
 * bare file name is searched in PATH, also with ".exe" appended; children
 * end with the parent process (a job object) unless DETACHED. */
ASYNC_EXTERN int async_spawn(async_loop_t *loop, async_process_t *process,
                             const async_process_options_t *options);
/* Sends signum to the child. ASYNC_ESRCH once it has exited, ASYNC_EINVAL
 * (NULL, closing handle, bad signum), system errors from kill(2).
 * Windows: SIGHUP, SIGINT, SIGQUIT, SIGKILL (9) and SIGTERM end the child
 * with TerminateProcess (exit code 128 + signum; exit_cb gets term_signal
 * = signum), 0 checks it runs, other signals up to 64 are ASYNC_ENOTSUP. */
ASYNC_EXTERN int async_process_kill(async_process_t *process, int signum);
/* kill(2) for any pid: 0 or ASYNC_ESRCH, ASYNC_EPERM, ASYNC_EINVAL.
 * Windows: as async_process_kill, through OpenProcess; pids <= 0 (process
 * groups) are ASYNC_ENOTSUP. */
ASYNC_EXTERN int async_kill(int pid, int signum);
/* The child's pid (0 for NULL). */
ASYNC_EXTERN int async_process_get_pid(const async_process_t *process);

/* ---- the loop itself -------------------------------------------------------- */

struct async__backend;

struct async_loop_s {
  void *data;
  /* private */
  const struct async__backend *backend_;
  void *backend_state_;
  uint64_t time_;
  uint64_t timer_seq_;
  struct async__slots timers_;   /* [0, timer_heap_len_) heap, the rest stopped timers */
  uint32_t timer_heap_len_;
  uint32_t nhandles_;            /* open handles (closing ones included) */
  uint32_t active_refs_;         /* active referenced handles */
  uint32_t active_reqs_;
  uint32_t pool_reqs_;           /* the part of active_reqs_ on the thread pool */
  uint32_t active_timer_refs_;   /* the part of active_refs_ that is timers */
  uint32_t walk_gen_;
  uint32_t starved_;             /* listeners waiting for a handle to close (out of fds) */
  uint16_t flags_;
  uint16_t clock_;
  int running_;
  unsigned caps_;
  uint32_t mark_;                /* set while the loop is open */
  struct async__slots handles_;  /* every other open handle */
  async_handle_t *closing_head_;
  async_handle_t *closing_tail_;
  struct async__link defers_;
  struct async__link idle_;
  struct async__link prepare_;
  struct async__link check_;
  async__mutex_t work_mutex_;    /* guards work_done_: pool threads add to it */
  struct async__link work_done_; /* requests the thread pool finished */
  int work_posted_;              /* work_done_ may be non-empty */
  uint64_t turns_;               /* metrics: turns run */
  uint64_t events_;              /* metrics: events the backend reported */
  uint64_t wait_ns_;             /* metrics: time in waits that could block */
  uint64_t run_ns_;              /* metrics: time inside async_run */
  async_slow_cb slow_cb_;        /* NULL: slow callbacks are not timed */
  uint64_t slow_ns_;
  async_embed_cb embed_cb_;
  unsigned embed_;               /* non-zero: changes outside async_run are reported */
  ASYNC_LOOP_PLATFORM_FIELDS
};

/* ---- requests and the thread pool ----------------------------------------- */

typedef enum {
  ASYNC_UNKNOWN_REQ = 0,
  ASYNC_WORK,
  ASYNC_GETADDRINFO,
  ASYNC_GETNAMEINFO,
  ASYNC_UDP_SEND,
  ASYNC_WRITE,
  ASYNC_SHUTDOWN,
  ASYNC_CONNECT,
  ASYNC_REQ_TYPE_MAX
} async_req_type;

/* Fields every request starts with. data is the user's, loop and type may be
 * read; the rest is private. A request keeps its loop alive until its
 * callback has run. */
#define ASYNC_REQ_FIELDS                                                      \
  void *data;                                                                 \
  async_loop_t *loop;                                                         \
  uint8_t type;                                                               \
  uint8_t state_;                                                             \
  uint16_t spare_;                                                            \
  int status_;                                                                \
  struct async__link link_;                                                   \
  async_work_cb work_cb_;

struct async_req_s {
  ASYNC_REQ_FIELDS
};

struct async_work_s {
  ASYNC_REQ_FIELDS
  async_after_work_cb after_cb_;
};

/* Runs work_cb on the thread pool (shared by every loop; $ASYNC_THREADPOOL_SIZE
 * threads, 4 by default, at most 1024, started on first use), then after_cb
 * on the loop's thread with status 0, or ASYNC_ECANCELED if async_cancel took
 * it first. Thread-safe only in the sense that work_cb runs on another
 * thread: call this from the loop's thread. ASYNC_EINVAL for NULL loop, req
 * or work_cb, ASYNC_EBUSY if req is still in flight, or a system error if no
 * pool thread can be started. */
ASYNC_EXTERN int async_work_queue(async_loop_t *loop, async_work_t *req, async_work_cb work_cb,
                                  async_after_work_cb after_cb);
/* Cancels a request that no pool thread has picked up: its callback then
 * runs from the loop with ASYNC_ECANCELED (ASYNC_EAI_CANCELED for DNS).
 * ASYNC_EBUSY once it runs or ran, ASYNC_EINVAL for NULL or a request never queued. */
ASYNC_EXTERN int async_cancel(async_req_t *req);
/* Stops and joins the pool's threads once the queued work is done (it also
 * happens at process exit). The pool starts again on the next request. */
ASYNC_EXTERN void async_threadpool_shutdown(void);

/* ---- DNS (on the thread pool) ----------------------------------------------- */

/* Room for getnameinfo's answers (the NI_MAXHOST and NI_MAXSERV of glibc). */
#define ASYNC_MAXHOST 1025
#define ASYNC_MAXSERV 32

struct async_getaddrinfo_s {
  ASYNC_REQ_FIELDS
  async_getaddrinfo_cb cb_;
  struct addrinfo *addrinfo; /* the result, for the synchronous form */
  char *node_;
  char *service_;
  int hints_[4]; /* ai_flags, ai_family, ai_socktype, ai_protocol */
  int has_hints_;
};

/* Resolves node and/or service like getaddrinfo(3). With a cb, runs on the
 * pool and calls cb(req, status, res) on the loop thread (the callback owns res:
 * free it with async_freeaddrinfo); with cb NULL, resolves in the calling
 * thread, stores the result in req->addrinfo and returns the status.
 * Errors: ASYNC_EINVAL (NULL loop or req, both node and service NULL),
 * ASYNC_ENOMEM, ASYNC_EAI_* from the resolver. */
ASYNC_EXTERN int async_getaddrinfo(async_loop_t *loop, async_getaddrinfo_t *req,
                                   async_getaddrinfo_cb cb, const char *node, const char *service,
                                   const struct addrinfo *hints);
/* Frees a result of async_getaddrinfo (NULL is allowed). */
ASYNC_EXTERN void async_freeaddrinfo(struct addrinfo *ai);

struct async_getnameinfo_s {
  ASYNC_REQ_FIELDS
  async_getnameinfo_cb cb_;
  struct sockaddr_storage addr_;
  int flags_;
  char host[ASYNC_MAXHOST]; /* the result, for the synchronous form */
  char service[ASYNC_MAXSERV];
};

/* Looks up the host and service names of addr like getnameinfo(3) (flags are
 * NI_*). With a cb, runs on the pool and calls cb(req, status, host, service)
 * on the loop thread; with cb NULL, fills req->host and req->service and
 * returns the status. Errors: ASYNC_EINVAL (NULL arguments, an address family
 * other than AF_INET/AF_INET6), ASYNC_EAI_* from the resolver. */
ASYNC_EXTERN int async_getnameinfo(async_loop_t *loop, async_getnameinfo_t *req,
                                   async_getnameinfo_cb cb, const struct sockaddr *addr,
                                   int flags);

/* ---- buffers and addresses ------------------------------------------------- */

/* An async_buf_t of base and len (no copy is made). */
ASYNC_EXTERN async_buf_t async_buf_init(char *base, size_t len);
/* Fills *addr with an IPv4 address in dotted text and a port (0-65535).
 * ASYNC_EINVAL for NULL, a port out of range or text that is not an address. */
ASYNC_EXTERN int async_ip4_addr(const char *ip, int port, struct sockaddr_in *addr);
/* Same for IPv6; a "%scope" suffix gives the scope id as a number or an
 * interface name ("fe80::1%eth0"). ASYNC_EINVAL also for an unknown interface. */
ASYNC_EXTERN int async_ip6_addr(const char *ip, int port, struct sockaddr_in6 *addr);
/* The address of an AF_INET or AF_INET6 sockaddr as text into dst (size
 * bytes, NUL included; ASYNC_IP_NAME_MAX always suffice). ASYNC_EINVAL (NULL,
 * other family), ASYNC_ENOSPC if dst is too small (dst untouched). */
#define ASYNC_IP_NAME_MAX 46
ASYNC_EXTERN int async_ip_name(const struct sockaddr *addr, char *dst, size_t size);
/* The port of an AF_INET or AF_INET6 sockaddr (host order), ASYNC_EINVAL otherwise. */
ASYNC_EXTERN int async_ip_port(const struct sockaddr *addr);

/* ---- UDP ---------------------------------------------------------------------- */

enum async_udp_flags {
  ASYNC_UDP_IPV6ONLY = 1,  /* bind: no IPv4-mapped addresses on an IPv6 socket */
  ASYNC_UDP_REUSEADDR = 2, /* bind: SO_REUSEADDR */
  ASYNC_UDP_REUSEPORT = 4, /* bind: SO_REUSEPORT, several sockets share the port */
  ASYNC_UDP_PARTIAL = 8,   /* recv: the datagram was truncated to the buffer */
  ASYNC_UDP_MMSG_CHUNK = 16, /* recv: buf is a slice of a larger buffer (do not free it) */
  ASYNC_UDP_MMSG_FREE = 32,  /* recv: nread 0, the whole batch buffer is yours again */
  ASYNC_UDP_RECVMMSG = 256   /* async_udp_init_ex: OR'd into family, see below */
};

enum async_membership { ASYNC_LEAVE_GROUP = 0, ASYNC_JOIN_GROUP };

struct async_udp_s {
  ASYNC_HANDLE_FIELDS
  size_t send_queue_size;   /* bytes waiting to be sent */
  size_t send_queue_count;  /* requests waiting */
  int fd_;
  unsigned udp_flags_;
  async_alloc_cb alloc_cb_;
  struct async__link queue_; /* send requests not yet sent */
  struct async__link done_;  /* sent or failed, callbacks pending */
  async_defer_t report_;     /* runs the callbacks of sends finished at once */
  async_watch_t io_;
};

struct async_udp_send_s {
  ASYNC_REQ_FIELDS
  async_udp_t *handle;
  async_udp_send_cb cb_;
  async_buf_t *bufs_;
  unsigned nbufs_;
  async_buf_t small_[4];
  struct sockaddr_storage addr_;
  int has_addr_;
};

/* Initialises a UDP handle; the socket is created at bind/connect/send time
 * (with the address's family), or now with async_udp_init_ex (AF_INET,
 * AF_INET6, or AF_UNSPEC for later). ASYNC_EINVAL (NULL, other family),
 * ASYNC_ENOTSUP without ASYNC_CAP_UDP, system errors. */
ASYNC_EXTERN int async_udp_init(async_loop_t *loop, async_udp_t *udp);
ASYNC_EXTERN int async_udp_init_ex(async_loop_t *loop, async_udp_t *udp, int family);
/* family | ASYNC_UDP_RECVMMSG asks for batch receive: an alloc_cb buffer of
 * at least 128 KiB is cut in 64 KiB slices filled by one recvmmsg; each
 * datagram is reported with ASYNC_UDP_MMSG_CHUNK, then the buffer once more
 * with nread 0 and ASYNC_UDP_MMSG_FREE. Smaller buffers, or systems without
 * recvmmsg, get one datagram per buffer as usual. */
/* Adopts an existing datagram socket (made non-blocking). ASYNC_EBUSY if the
 * handle has a socket, ASYNC_EINVAL for a negative fd, ASYNC_ENOTSOCK/EBADF. */
ASYNC_EXTERN int async_udp_open(async_udp_t *udp, int fd);
/* Binds to addr (IPv4 or IPv6) with ASYNC_UDP_* flags. ASYNC_EADDRINUSE,
 * ASYNC_EINVAL (NULL, unknown flags or family), system errors. */
ASYNC_EXTERN int async_udp_bind(async_udp_t *udp, const struct sockaddr *addr, unsigned flags);
/* Sets the default peer (addr NULL: removes it). ASYNC_EISCONN when already
 * connected, ASYNC_ENOTCONN removing a peer that was never set. */
ASYNC_EXTERN int async_udp_connect(async_udp_t *udp, const struct sockaddr *addr);
ASYNC_EXTERN int async_udp_getsockname(const async_udp_t *udp, struct sockaddr *name, int *namelen);
ASYNC_EXTERN int async_udp_getpeername(const async_udp_t *udp, struct sockaddr *name, int *namelen);
/* Queues a datagram (the bufs concatenated) to addr (NULL: the connected
 * peer). cb runs from the loop once sent (status 0) or failed; never inside
 * this call. The buffers must stay valid until then. ASYNC_EINVAL (NULL
 * arguments, addr on a connected socket or none on an unconnected one,
 * closing handle), ASYNC_ENOMEM. */
ASYNC_EXTERN int async_udp_send(async_udp_send_t *req, async_udp_t *udp, const async_buf_t bufs[],
                                unsigned nbufs, const struct sockaddr *addr, async_udp_send_cb cb);
/* Sends now if the kernel takes it and nothing is queued: returns the bytes
 * sent, ASYNC_EAGAIN otherwise, or an error. */
ASYNC_EXTERN long async_udp_try_send(async_udp_t *udp, const async_buf_t bufs[], unsigned nbufs,
                                     const struct sockaddr *addr);
/* Starts receiving (several datagrams per wakeup; one recvmmsg call per batch
 * where it exists). A socket neither bound nor connected is bound first to
 * an ephemeral port on the any address of its family (IPv4 without a socket
 * yet). ASYNC_EALREADY if started, ASYNC_EINVAL (NULL, closing), bind errors. */
ASYNC_EXTERN int async_udp_recv_start(async_udp_t *udp, async_alloc_cb alloc_cb,
                                      async_udp_recv_cb recv_cb);
ASYNC_EXTERN int async_udp_recv_stop(async_udp_t *udp);
/* Socket options. ASYNC_EINVAL for NULL or out-of-range values, ASYNC_EBADF
 * before the handle has a socket, ASYNC_ENOTSUP where the system does not
 * know the option (user-mode emulators such as qemu-user lack some), system
 * errors otherwise. */
ASYNC_EXTERN int async_udp_set_membership(async_udp_t *udp, const char *multicast_addr,
                                          const char *interface_addr,
                                          enum async_membership membership);
ASYNC_EXTERN int async_udp_set_multicast_loop(async_udp_t *udp, int on);
ASYNC_EXTERN int async_udp_set_multicast_ttl(async_udp_t *udp, int ttl);
/* The interface multicast sends leave by: an IPv4 address on an IPv4 socket,
 * on an IPv6 one an address whose "%scope" names the interface ("::%eth0",
 * "::%2"); NULL for the system's choice. */
ASYNC_EXTERN int async_udp_set_multicast_interface(async_udp_t *udp, const char *interface_addr);
ASYNC_EXTERN int async_udp_set_broadcast(async_udp_t *udp, int on);
ASYNC_EXTERN int async_udp_set_ttl(async_udp_t *udp, int ttl);

/* ---- streams and pipes --------------------------------------------------------- */

/* Fields every stream handle has after the handle fields: write_queue_size
 * (bytes accepted by async_write and not yet written) is readable. */
#define ASYNC_STREAM_FIELDS                                                   \
  size_t write_queue_size;                                                    \
  async_alloc_cb alloc_cb_;                                                   \
  struct async__link writes_;   /* queued write requests */                  \
  struct async__link finished_; /* writes and shutdowns awaiting callbacks */ \
  async_shutdown_t *shutdown_;                                                \
  async_connect_t *connect_;                                                  \
  async_connection_cb connection_cb_;                                         \
  int accepted_fd_;             /* a connection waiting for async_accept */  \
  int reserve_fd_;              /* given up to accept and drop under EMFILE */ \
  async_defer_t report_;                                                      \
  unsigned stream_flags_;                                                     \
  int fd_;                                                                    \
  async_watch_t io_;

struct async_stream_s {
  ASYNC_HANDLE_FIELDS
  ASYNC_STREAM_FIELDS
};

struct async_pipe_s {
  ASYNC_HANDLE_FIELDS
  ASYNC_STREAM_FIELDS
  char *bound_path_;  /* filesystem name bound here, removed at close */
  int *pending_fds_;  /* fds received over an IPC pipe, for async_accept */
  unsigned npending_;
  unsigned pending_cap_;
};

struct async_write_s {
  ASYNC_REQ_FIELDS
  async_stream_t *handle;
  async_write_cb cb_;
  async_buf_t *bufs_;
  unsigned nbufs_;
  unsigned index_;    /* first buffer not fully written */
  int send_fd_;       /* a copy of the fd to pass with the first byte, or -1 */
  async_buf_t small_[4];
};

struct async_shutdown_s {
  ASYNC_REQ_FIELDS
  async_stream_t *handle;
  async_shutdown_cb cb_;
};

struct async_connect_s {
  ASYNC_REQ_FIELDS
  async_stream_t *handle;
  async_connect_cb cb_;
};

struct async_tcp_s {
  ASYNC_HANDLE_FIELDS
  ASYNC_STREAM_FIELDS
};

/* Listens for connections (backlog as listen(2)); cb runs for each one.
 * Accepts up to 1,024 connections per wakeup. Out of fds (EMFILE/ENFILE), the
 * pending connection is accepted and dropped with a spare fd the stream
 * keeps, cb gets ASYNC_EMFILE, and accepting goes on: no busy loop. With no
 * spare to use, cb gets ASYNC_EMFILE once and the listener waits until a
 * handle of the loop closes. ASYNC_EINVAL (NULL, closing, no fd, reading or writing), ASYNC_EALREADY
 * (already listening), system errors. */
ASYNC_EXTERN int async_listen(async_stream_t *stream, int backlog, async_connection_cb cb);
/* Hands the connection waiting on server to client (an initialised handle
 * of the same kind without an fd); on an IPC pipe that is not listening,
 * the next fd received (see async_pipe_pending_type). ASYNC_EAGAIN if none
 * is waiting, ASYNC_EINVAL (NULL, closing, not listening, client has an fd
 * or is of another type). */
ASYNC_EXTERN int async_accept(async_stream_t *server, async_stream_t *client);

enum async_tcp_flags { ASYNC_TCP_IPV6ONLY = 1, ASYNC_TCP_REUSEPORT = 2 };

/* Initialises a TCP handle; the socket comes with bind/connect or now with
 * async_tcp_init_ex (AF_INET, AF_INET6, AF_UNSPEC = later). ASYNC_EINVAL,
 * ASYNC_ENOTSUP without ASYNC_CAP_TCP, system errors. */
ASYNC_EXTERN int async_tcp_init(async_loop_t *loop, async_tcp_t *tcp);
ASYNC_EXTERN int async_tcp_init_ex(async_loop_t *loop, async_tcp_t *tcp, int family);
/* Adopts a stream socket, connected, listening or neither (made non-blocking).
 * ASYNC_EINVAL (negative fd, not SOCK_STREAM), ASYNC_EBUSY (has an fd). */
ASYNC_EXTERN int async_tcp_open(async_tcp_t *tcp, int fd);
/* Binds (on Unix with SO_REUSEADDR always, which Windows never sets: there it
 * would let another socket take the port; ASYNC_TCP_IPV6ONLY, and
 * ASYNC_TCP_REUSEPORT where the system has it, else ASYNC_ENOTSUP, on
 * request). ASYNC_EADDRINUSE, ASYNC_EINVAL, system errors. */
ASYNC_EXTERN int async_tcp_bind(async_tcp_t *tcp, const struct sockaddr *addr, unsigned flags);
/* Connects; cb(req, status) from the loop: 0, ASYNC_ECONNREFUSED, ...,
 * ASYNC_ECANCELED if the handle closes first. ASYNC_EINVAL (NULL, closing,
 * other family), ASYNC_EALREADY (connecting), ASYNC_EISCONN. */
ASYNC_EXTERN int async_tcp_connect(async_connect_t *req, async_tcp_t *tcp,
                                   const struct sockaddr *addr, async_connect_cb cb);
/* TCP_NODELAY; SO_KEEPALIVE with the idle time in seconds (ignored when off).
 * ASYNC_EINVAL (NULL, delay < 1 when on), ASYNC_EBADF (no socket),
 * ASYNC_ENOTSUP where the system does not know the option. */
ASYNC_EXTERN int async_tcp_nodelay(async_tcp_t *tcp, int on);
ASYNC_EXTERN int async_tcp_keepalive(async_tcp_t *tcp, int on, unsigned delay);
ASYNC_EXTERN int async_tcp_getsockname(const async_tcp_t *tcp, struct sockaddr *name, int *namelen);
ASYNC_EXTERN int async_tcp_getpeername(const async_tcp_t *tcp, struct sockaddr *name, int *namelen);
/* Closes with a reset (RST) instead of an orderly FIN, like async_close
 * otherwise. ASYNC_EINVAL (NULL, closing, shutdown pending or done). */
ASYNC_EXTERN int async_tcp_close_reset(async_tcp_t *tcp, async_close_cb close_cb);

/* Starts reading: alloc_cb gives a buffer, read_cb gets what arrived, up to
 * 32 reads per wakeup. ASYNC_EINVAL (NULL, closing, not readable),
 * ASYNC_EALREADY (already reading), ASYNC_ENOTCONN (no fd yet). */
ASYNC_EXTERN int async_read_start(async_stream_t *stream, async_alloc_cb alloc_cb,
                                  async_read_cb read_cb);
/* Stops reading (idempotent). ASYNC_EINVAL for NULL or a closing stream. */
ASYNC_EXTERN int async_read_stop(async_stream_t *stream);
/* Queues the buffers (kept by reference until cb) behind earlier writes and
 * writes what the kernel takes now; the rest goes out as the fd becomes
 * writable, never blocking the loop. cb(req, status) runs from the loop once
 * every byte is written (0) or on error (ASYNC_EPIPE when the reader is gone:
 * no SIGPIPE is raised), ASYNC_ECANCELED if the stream closes first.
 * ASYNC_EINVAL (NULL, NULL bufs with nbufs, closing, not writable, after
 * shutdown), ASYNC_ENOMEM. */
ASYNC_EXTERN int async_write(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                             unsigned nbufs, async_write_cb cb);
/* Writes what the kernel takes now when nothing is queued: the byte count,
 * ASYNC_EAGAIN if none, or an error (ASYNC_EPIPE, ...). */
ASYNC_EXTERN long async_try_write(async_stream_t *stream, const async_buf_t bufs[], unsigned nbufs);
/* After the queued writes drain, ends the writing side so the peer reads
 * EOF: shutdown(SHUT_WR) on a socket; on a write-only fd (a pipe's write end)
 * the fd is closed. cb(req, status) runs from the loop; status is
 * ASYNC_ENOTSOCK for a readable non-socket fd (a tty), which cannot be
 * half-closed. ASYNC_EINVAL (NULL, closing, not writable), ASYNC_EALREADY
 * (one is pending or done). */
ASYNC_EXTERN int async_shutdown(async_shutdown_t *req, async_stream_t *stream, async_shutdown_cb cb);
/* 1 if the stream can be read from / written to. */
ASYNC_EXTERN int async_is_readable(const async_stream_t *stream);
ASYNC_EXTERN int async_is_writable(const async_stream_t *stream);
ASYNC_EXTERN size_t async_stream_write_queue_size(const async_stream_t *stream);

/* Initialises a pipe handle (no fd yet). ASYNC_EINVAL for NULL, ASYNC_ENOTSUP
 * without ASYNC_CAP_PIPE, ASYNC_ENOMEM. */
ASYNC_EXTERN int async_pipe_init(async_loop_t *loop, async_pipe_t *pipe);
/* Adopts a pipe, FIFO, socket or tty fd (made non-blocking; closed with the
 * handle). ASYNC_EINVAL (negative fd, regular file or directory),
 * ASYNC_EBUSY (has an fd), ASYNC_EBADF, ASYNC_EEXIST (fd watched).
 * Windows: a pipe HANDLE value only (else ASYNC_EINVAL). */
ASYNC_EXTERN int async_pipe_open(async_pipe_t *pipe, int fd);
/* Creates a connected pair of fds (fds[0] read end, fds[1] write end),
 * close-on-exec; ASYNC_PIPE_NONBLOCK makes them non-blocking. Windows: a
 * named pipe's two ends as HANDLE values, not inherited, flags ignored
 * (overlapped handles never block the loop). */
enum { ASYNC_PIPE_NONBLOCK = 1 };
ASYNC_EXTERN int async_pipe(int fds[2], int flags);

/* ---- Unix domain sockets and fd passing (ASYNC_CAP_UNIX_SOCKET) ---------- */

/* async_pipe_init_ex flags: ASYNC_PIPE_IPC makes the pipe carry fds along
 * with bytes (async_write2 / async_accept of what arrived). */
enum { ASYNC_PIPE_IPC = 1 };

/* async_pipe_init with flags. ASYNC_EINVAL (NULL, unknown flags),
 * ASYNC_ENOTSUP without ASYNC_CAP_PIPE (or, for IPC, ASYNC_CAP_UNIX_SOCKET). */
ASYNC_EXTERN int async_pipe_init_ex(async_loop_t *loop, async_pipe_t *pipe, unsigned flags);
/* Binds a new Unix socket to a filesystem path (removed again when the
 * handle closes). ASYNC_ENAMETOOLONG if it does not fit sun_path (never
 * truncated), ASYNC_EADDRINUSE, ASYNC_EBUSY (has an fd), ASYNC_EINVAL,
 * ASYNC_ENOTSUP without ASYNC_CAP_UNIX_SOCKET, system errors. */
ASYNC_EXTERN int async_pipe_bind(async_pipe_t *pipe, const char *name);
/* Same with an explicit length; a name starting with a NUL byte is in
 * Linux's abstract namespace (no file; ASYNC_ENOTSUP elsewhere). */
ASYNC_EXTERN int async_pipe_bind2(async_pipe_t *pipe, const char *name, size_t namelen);
/* Connects to a Unix socket by path; cb(req, status) from the loop: 0,
 * ASYNC_ENOENT, ASYNC_ECONNREFUSED, ASYNC_EAGAIN (the listener's backlog is
 * full), ASYNC_ECANCELED if the handle closes first. Returns
 * ASYNC_ENAMETOOLONG, ASYNC_EBUSY (has an fd), ASYNC_EINVAL. */
ASYNC_EXTERN int async_pipe_connect(async_connect_t *req, async_pipe_t *pipe, const char *name,
                                    async_connect_cb cb);
ASYNC_EXTERN int async_pipe_connect2(async_connect_t *req, async_pipe_t *pipe, const char *name,
                                     size_t namelen, async_connect_cb cb);
/* The socket's own / its peer's name into buf (not NUL-terminated when it
 * fills buf; abstract names start with a NUL); *len is the size in and the
 * name's length out. ASYNC_ENOBUFS (with *len set to the size needed),
 * ASYNC_EBADF (no fd), ASYNC_ENOTSOCK, ASYNC_ENOTCONN, ASYNC_EINVAL. */
ASYNC_EXTERN int async_pipe_getsockname(const async_pipe_t *pipe, char *buf, size_t *len);
ASYNC_EXTERN int async_pipe_getpeername(const async_pipe_t *pipe, char *buf, size_t *len);
/* Opens the bound socket file to other users: ASYNC_READABLE and/or
 * ASYNC_WRITABLE add read/write permission for owner, group and others.
 * ASYNC_EINVAL (NULL, bad mode, abstract or no name), system errors. */
ASYNC_EXTERN int async_pipe_chmod(async_pipe_t *pipe, int mode);

typedef struct {
  long pid; /* -1 where the system does not say */
  long uid;
  long gid;
} async_peercred_t;
/* The credentials of the connected peer process. ASYNC_EBADF (no fd),
 * ASYNC_ENOTSOCK, ASYNC_ENOTSUP where the system has no way to ask. */
ASYNC_EXTERN int async_pipe_getpeercred(const async_pipe_t *pipe, async_peercred_t *cred);

/* Like async_write, and passes send_handle's socket or pipe (a TCP, pipe or
 * UDP handle with an fd) to the peer of an IPC pipe with the first byte. The
 * fd is copied at the call: send_handle may be closed at once.
 * ASYNC_EINVAL (not an IPC pipe, no bytes, send_handle without an fd), and
 * async_write's errors. */
ASYNC_EXTERN int async_write2(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                              unsigned nbufs, async_handle_t *send_handle, async_write_cb cb);
/* Same with a raw fd (copied at the call). ASYNC_EBADF for a closed fd. */
ASYNC_EXTERN int async_write_fd(async_write_t *req, async_stream_t *stream, const async_buf_t bufs[],
                                unsigned nbufs, int fd, async_write_cb cb);
/* fds received on an IPC pipe and not yet accepted: each is taken by
 * async_accept(pipe, client) in order, into a client of the type
 * async_pipe_pending_type names (ASYNC_TCP, ASYNC_UDP or ASYNC_PIPE;
 * ASYNC_UNKNOWN_HANDLE when none waits). Unaccepted ones close with the pipe. */
ASYNC_EXTERN int async_pipe_pending_count(const async_pipe_t *pipe);
ASYNC_EXTERN async_handle_type async_pipe_pending_type(const async_pipe_t *pipe);
/* Takes the next received fd as it is (the caller closes it): for fds no
 * handle adopts. The fd, ASYNC_EAGAIN if none waits, ASYNC_EINVAL. */
ASYNC_EXTERN int async_pipe_take_fd(async_pipe_t *pipe);

/* The fd under a TCP, pipe, UDP or watch handle into *fd (still owned by the
 * handle). ASYNC_EINVAL (NULL, other type, closing), ASYNC_EBADF (no fd yet). */
ASYNC_EXTERN int async_fileno(const async_handle_t *handle, int *fd);

/* ---- metrics, slow callbacks, embedding ------------------------------------ */

/* Counters since async_loop_init; times on the loop's clock (a virtual clock
 * counts its jumps as waiting and nothing else). busy_ns = run_ns - wait_ns. */
typedef struct async_loop_metrics_s {
  uint64_t turns;          /* loop turns run */
  uint64_t events;         /* events the backend reported (I/O, completions, a pass of wakes) */
  uint64_t run_ns;         /* time inside async_run */
  uint64_t wait_ns;        /* time in backend waits that could block (timeout not 0) */
  uint64_t busy_ns;        /* the rest: callbacks and the loop's own work */
  uint32_t requests;       /* requests whose callback has not run */
  uint32_t pool_requests;  /* the part of requests on the thread pool */
  uint32_t handles;        /* open handles, closing ones included */
  uint32_t active_handles; /* active referenced handles (what keeps async_run going) */
  uint32_t by_type[ASYNC_HANDLE_TYPE_MAX]; /* open handles by async_handle_type */
} async_loop_metrics_t;

/* Fills *metrics (walks the handles: O(handles)). ASYNC_EINVAL for a loop
 * that is not open or a NULL metrics. */
ASYNC_EXTERN int async_loop_metrics(const async_loop_t *loop, async_loop_metrics_t *metrics);

/* Which callback of a handle or request ran (async_slow_report_t.kind). */
typedef enum {
  ASYNC_CB_UNKNOWN = 0,
  ASYNC_CB_TIMER,
  ASYNC_CB_IDLE,
  ASYNC_CB_PREPARE,
  ASYNC_CB_CHECK,
  ASYNC_CB_DEFER,
  ASYNC_CB_WATCH,
  ASYNC_CB_WAKEUP,
  ASYNC_CB_SIGNAL,
  ASYNC_CB_EXIT,
  ASYNC_CB_ALLOC,
  ASYNC_CB_READ,
  ASYNC_CB_CONNECTION,
  ASYNC_CB_CONNECT,
  ASYNC_CB_WRITE,
  ASYNC_CB_SHUTDOWN,
  ASYNC_CB_UDP_RECV,
  ASYNC_CB_UDP_SEND,
  ASYNC_CB_WORK_DONE,
  ASYNC_CB_GETADDRINFO,
  ASYNC_CB_GETNAMEINFO,
  ASYNC_CB_CLOSE,
  ASYNC_CB_KIND_MAX
} async_cb_kind;

struct async_slow_report_s {
  async_cb_kind kind;
  async_handle_type handle_type; /* the handle's type; ASYNC_UNKNOWN_HANDLE for a request or deferred call */
  async_req_type req_type;       /* the request's type; ASYNC_UNKNOWN_REQ otherwise */
  /* The handle, request or async_defer_t. After a close callback or a
   * request's callback its memory may be freed: compare it, read data. */
  void *object;
  void *data;                    /* object->data as it was when the callback began */
  uint64_t duration_ns;          /* how long the callback ran (real time, any clock mode) */
};

/* "timer", "read", ...; NULL for an unknown kind. */
ASYNC_EXTERN const char *async_cb_kind_name(async_cb_kind kind);
/* Times every callback the loop runs for the user and calls cb right after
 * any that ran threshold_ns or longer (0: every one). cb NULL turns it off
 * (then no callback is timed). cb runs on the loop thread and may call
 * anything but async_run. ASYNC_EINVAL for a loop that is not open. */
ASYNC_EXTERN int async_loop_report_slow(async_loop_t *loop, uint64_t threshold_ns, async_slow_cb cb);

/* For hosts that embed the loop: outside async_run, cb runs when a call
 * makes the loop need attention sooner than async_backend_timeout last said
 * (a timer that is due first, a deferred call, a close, an idle hook). It
 * runs once, then again only after the host called async_backend_timeout or
 * async_run. NULL turns it off. ASYNC_EINVAL for a loop that is not open. */
ASYNC_EXTERN int async_embed_notify(async_loop_t *loop, async_embed_cb cb);
/* Windows: a HANDLE (into *handle, owned by the loop) that is signalled when
 * the loop has work: a completion, a wake, a due timer, something ready.
 * Wait on it (MsgWaitForMultipleObjects) and run ASYNC_RUN_NOWAIT. ASYNC_ENOTSUP
 * without ASYNC_CAP_BACKEND_HANDLE (every Unix backend: use async_backend_fd),
 * ASYNC_EINVAL, system errors. */
ASYNC_EXTERN int async_backend_handle(async_loop_t *loop, void **handle);

/* Bytes a request of the given type occupies (0 for unknown types). */
ASYNC_EXTERN size_t async_req_size(async_req_type type);

/* Bytes a handle of the given type occupies (0 for unknown types). */
ASYNC_EXTERN size_t async_handle_size(async_handle_type type);
ASYNC_EXTERN size_t async_loop_size(void);

#ifdef __cplusplus
}
#endif

#endif /* ASYNC_H */
