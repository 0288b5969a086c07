#include "helper.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *test_backend(void) {
  const char *b = getenv("ASYNC_TEST_BACKEND");
  return (b != NULL && *b != '\0') ? b : NULL;
}

void test_loop_init_clock(async_loop_t *loop, async_clock_mode clock) {
  async_loop_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.backend = test_backend();
  opts.clock = clock;
  assert_int_equal(async_loop_init(loop, &opts), 0);
  if (opts.backend != NULL)
    assert_string_equal(async_loop_backend(loop), opts.backend);
}

void test_loop_init(async_loop_t *loop) {
  test_loop_init_clock(loop, ASYNC_CLOCK_REAL);
}

static void close_walk_cb(async_handle_t *h, void *arg) {
  (void)arg;
  if (!async_is_closing(h))
    async_close(h, NULL);
}

void test_loop_close(async_loop_t *loop) {
  async_walk(loop, close_walk_cb, NULL);
  /* Close callbacks run from the loop; a virtual clock never needs to move for them. */
  int rc = async_loop_close(loop);
  for (int i = 0; i < 16 && rc == ASYNC_EBUSY; i++) {
    async_run(loop, ASYNC_RUN_NOWAIT);
    rc = async_loop_close(loop);
  }
  assert_int_equal(rc, 0);
}

int test_fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  struct dirent *e;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

int test_has_caps(const async_loop_t *loop, unsigned caps) {
  return (async_loop_caps(loop) & caps) == caps;
}

static int fd_baseline;

int test_fd_setup(void **state) {
  (void)state;
  fd_baseline = test_fd_count();
  return 0;
}

int test_fd_teardown(void **state) {
  (void)state;
  int now = test_fd_count();
  if (now != fd_baseline) {
    fprintf(stderr, "fd leak: %d open before the test, %d after\n", fd_baseline, now);
    return -1;
  }
  return 0;
}

int test_run_group(const char *area, const struct CMUnitTest *tests, size_t n) {
  char name[128];
  const char *b = test_backend();
  snprintf(name, sizeof(name), "%s/%s", area, b != NULL ? b : "default");
  return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}
