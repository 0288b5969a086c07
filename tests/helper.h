/* Shared test harness: every test that touches a loop runs on the backend
 * named by $ASYNC_TEST_BACKEND (meson registers each area once per backend). */
#ifndef ASYNC_TEST_HELPER_H
#define ASYNC_TEST_HELPER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "async.h"

#if !defined(_WIN32)
# include <sys/socket.h>
/* Tests make their own sockets close-on-exec where the system can say so in
 * the call (not macOS); they spawn nothing that would see the difference. */
# if !defined(SOCK_CLOEXEC)
#  define SOCK_CLOEXEC 0
# endif
/* The directory listing this process's open fds (macOS: devfs's /dev/fd). */
# if defined(__linux__)
#  define TEST_FD_DIR "/proc/self/fd"
# else
#  define TEST_FD_DIR "/dev/fd"
# endif
#endif

#if defined(_WIN32)
/* async.h brings in windows.h (for the socket types), which defines these
 * as empty macros; the tests use them as names. */
# undef far
# undef near
#endif

/* The backend under test ("epoll", "poll", "select", ...). */
const char *test_backend(void);
/* Creates a loop on the backend under test (real clock); fails the test on error. */
void test_loop_init(async_loop_t *loop);
/* Same with a virtual clock mode. */
void test_loop_init_clock(async_loop_t *loop, async_clock_mode clock);
/* Closes every handle still open, runs the loop until their close
 * callbacks ran, and asserts async_loop_close returns 0. */
void test_loop_close(async_loop_t *loop);
/* Number of open fds of this process (from /proc/self/fd; on Windows, its
 * handle count). */
int test_fd_count(void);
/* Same, by probing handle values on Windows (where Wine's count is 0). */
int test_handle_probe(void);
/* A pair of fds to watch, [0] to read and [1] to write: a pipe on Unix, a
 * connected loopback TCP socket pair on Windows (only sockets can be
 * watched there). 0 or -1. */
int test_fd_pair(int fds[2]);
/* A connected pair of stream sockets (AF_UNIX on Unix, loopback TCP on
 * Windows), and one unconnected UDP socket. 0 / the socket, or -1. */
int test_socket_pair(int fds[2]);
int test_udp_socket(void);
long test_fd_write(int fd, const void *buf, size_t len);
long test_fd_read(int fd, void *buf, size_t len);
void test_fd_close(int fd);
/* setenv, or unsetenv for a NULL value, on every platform. */
void test_setenv(const char *name, const char *value);
/* True if the loop under test offers every bit of caps. */
int test_has_caps(const async_loop_t *loop, unsigned caps);
/* 1 when $ASYNC_TEST_EMULATED says a user-mode emulator (qemu-user) runs the
 * suite: only then may a system call a kernel has be missing. */
int test_emulated(void);

/* 1 when the kqueue backend runs over libkqueue (a user-space kqueue on Linux),
 * whose differences from a kernel kqueue docs/platforms.md lists. */
int test_libkqueue(void);

/* TCP for the test: 1 if the loop offers it, else 0 once async_tcp_init
 * said ASYNC_ENOTSUP. A listener on 127.0.0.1 with a port the system chose,
 * named in *addr. */
struct sockaddr_in;
int test_tcp_caps(async_loop_t *loop);
void test_tcp_listen(async_loop_t *loop, async_tcp_t *server, struct sockaddr_in *addr,
                     int backlog, async_connection_cb cb);

/* An alloc callback handing out one shared 64 KiB buffer (its contents
 * last until the next read). */
void test_alloc_slab(async_handle_t *handle, size_t suggested, async_buf_t *buf);

/* What a child (or any stream) wrote, gathered by test_capture_read (the
 * stream's data points at one): the bytes, NUL-terminated; end of file
 * closes the stream, errors are counted. */
struct test_capture {
  char *buf;
  size_t len, cap;
  int eof, errors;
};
void test_capture_reset(struct test_capture *c); /* frees the bytes, zeroes the rest */
void test_capture_read(async_stream_t *s, long nread, const async_buf_t *buf);

/* A child's exit as its exit_cb saw it (the process's data points at one):
 * test_exit_keep records it, test_exit_close records it and closes the
 * handle. */
struct test_exit {
  int calls;
  int64_t status;
  int signal;
};
void test_exit_keep(async_process_t *p, int64_t status, int sig);
void test_exit_close(async_process_t *p, int64_t status, int sig);

/* Spawns o on a loop of the backend under test, with the child's stdout
 * gathered into out when o->stdio[1] asks for a created pipe (it is pointed
 * at a pipe of the function's own), and runs the loop to its end; e gets
 * the exit (o->exit_cb must record into the process's data). Returns the
 * spawn's result; after an error nothing was started. */
int test_spawn_run(async_process_options_t *o, struct test_capture *out, struct test_exit *e);

/* cmocka setup/teardown that assert no fd and no block of the library's
 * memory outlives a test (the library's allocator counts blocks meanwhile):
 * use as cmocka_unit_test_setup_teardown(fn, test_fd_setup, test_fd_teardown). */
int test_fd_setup(void **state);
int test_fd_teardown(void **state);

/* A unit test that must leave no fd and no allocation behind. */
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, test_fd_setup, test_fd_teardown)

/* Runs a group named after the area and the backend. */
#define TEST_MAIN(area, tests) \
  int main(void) { return test_run_group(area, tests, sizeof(tests) / sizeof((tests)[0])); }
int test_run_group(const char *area, const struct CMUnitTest *tests, size_t n);

#endif
