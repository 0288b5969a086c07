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

/* The backend under test ("epoll", "poll", "select", ...). */
const char *test_backend(void);
/* Creates a loop on the backend under test (real clock); fails the test on error. */
void test_loop_init(async_loop_t *loop);
/* Same with a virtual clock mode. */
void test_loop_init_clock(async_loop_t *loop, async_clock_mode clock);
/* Closes every handle still open, runs the loop until their close
 * callbacks ran, and asserts async_loop_close returns 0. */
void test_loop_close(async_loop_t *loop);
/* Number of open fds of this process (from /proc/self/fd). */
int test_fd_count(void);
/* True if the loop under test offers every bit of caps. */
int test_has_caps(const async_loop_t *loop, unsigned caps);

/* An alloc callback handing out one shared 64 KiB buffer (its contents
 * last until the next read). */
void test_alloc_slab(async_handle_t *handle, size_t suggested, async_buf_t *buf);

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
