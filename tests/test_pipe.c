/* Pipe handles and the stream layer under them: order, large transfers
 * across turns, backpressure, EOF, shutdown, EPIPE, cancellation, bad input. */
#include "helper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *rx;
static size_t rx_len, rx_cap;
static int eof_seen, read_errors, writes_done, last_write_status, shutdowns_done;
static int last_shutdown_status;

static void reset(void) {
  free(rx);
  rx = NULL;
  rx_len = rx_cap = 0;
  eof_seen = read_errors = writes_done = shutdowns_done = 0;
  last_write_status = last_shutdown_status = 1;
}

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  (void)s;
  if (nread == ASYNC_EOF) {
    eof_seen++;
    return;
  }
  if (nread < 0) {
    read_errors++;
    return;
  }
  if (rx_len + (size_t)nread > rx_cap) {
    rx_cap = (rx_len + (size_t)nread) * 2;
    rx = realloc(rx, rx_cap);
  }
  memcpy(rx + rx_len, buf->base, (size_t)nread);
  rx_len += (size_t)nread;
}

static void on_write(async_write_t *req, int status) {
  (void)req;
  writes_done++;
  last_write_status = status;
}

static void on_shutdown(async_shutdown_t *req, int status) {
  (void)req;
  shutdowns_done++;
  last_shutdown_status = status;
}

/* NOWAIT: a turn whose callbacks reach the goal before its poll must not
 * then block in that poll (ONCE would, with a reader still active). */
static void run_until(async_loop_t *loop, int *counter, int want) {
  for (int i = 0; i < 1000000 && *counter < want; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

static void open_pair(async_loop_t *loop, async_pipe_t *r, async_pipe_t *w) {
  int fds[2];
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_init(loop, r), 0);
  assert_int_equal(async_pipe_init(loop, w), 0);
  assert_int_equal(async_pipe_open(r, fds[0]), 0);
  assert_int_equal(async_pipe_open(w, fds[1]), 0);
}

static void test_async_pipe_flags(void **state) {
  int fds[2];
  (void)state;
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
  assert_false(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
  close(fds[0]);
  close(fds[1]);
  assert_int_equal(async_pipe(fds, ASYNC_PIPE_NONBLOCK), 0);
  assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
  close(fds[0]);
  close(fds[1]);
  assert_int_equal(async_pipe(NULL, 0), ASYNC_EINVAL);
  assert_int_equal(async_pipe(fds, 8), ASYNC_EINVAL);
}

static void test_round_trip_and_eof(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req;
  async_buf_t buf = {(char *)"hello", 5};
  (void)state;
  reset();
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  assert_true(async_is_readable((async_stream_t *)&r));
  assert_false(async_is_writable((async_stream_t *)&r));
  assert_true(async_is_writable((async_stream_t *)&w));
  assert_false(async_is_readable((async_stream_t *)&w));
  assert_int_equal(async_read_start((async_stream_t *)&r, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &buf, 1, on_write), 0);
  assert_int_equal(writes_done, 0); /* never inside async_write */
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, 0);
  async_close((async_handle_t *)&w, NULL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* reads to EOF, then nothing is left */
  assert_int_equal(rx_len, 5);
  assert_memory_equal(rx, "hello", 5);
  assert_int_equal(eof_seen, 1);
  assert_false(async_is_active((async_handle_t *)&r));
  test_loop_close(&loop);
}

static void test_shutdown_gives_reader_eof(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req;
  async_shutdown_t sh;
  async_buf_t buf = {(char *)"last", 4};
  (void)state;
  reset();
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  async_read_start((async_stream_t *)&r, test_alloc_slab, on_read);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &buf, 1, on_write), 0);
  assert_int_equal(async_shutdown(&sh, (async_stream_t *)&w, on_shutdown), 0);
  assert_int_equal(async_shutdown(&sh, (async_stream_t *)&w, on_shutdown), ASYNC_EALREADY);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &buf, 1, on_write), ASYNC_EINVAL);
  assert_false(async_is_writable((async_stream_t *)&w));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(writes_done, 1);
  assert_int_equal(shutdowns_done, 1);
  assert_int_equal(last_shutdown_status, 0);
  assert_int_equal(eof_seen, 1);
  assert_int_equal(rx_len, 4);
  test_loop_close(&loop);
}

#define NWRITES 10000
static void test_ten_thousand_writes_in_order(void **state) {
  static async_write_t reqs[NWRITES];
  static uint32_t values[NWRITES];
  async_loop_t loop;
  async_pipe_t r, w;
  (void)state;
  reset();
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  async_read_start((async_stream_t *)&r, test_alloc_slab, on_read);
  for (uint32_t i = 0; i < NWRITES; i++) {
    async_buf_t b = {(char *)&values[i], sizeof(values[i])};
    values[i] = i;
    assert_int_equal(async_write(&reqs[i], (async_stream_t *)&w, &b, 1, on_write), 0);
  }
  run_until(&loop, &writes_done, NWRITES);
  async_close((async_handle_t *)&w, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(writes_done, NWRITES);
  assert_int_equal(rx_len, sizeof(values));
  for (uint32_t i = 0; i < NWRITES; i++) {
    uint32_t v;
    memcpy(&v, rx + i * sizeof(v), sizeof(v));
    assert_int_equal(v, i);
  }
  test_loop_close(&loop);
}

static uint64_t checksum(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static size_t max_queued;
static void note_queue(async_check_t *c) {
  size_t q = async_stream_write_queue_size((async_stream_t *)c->data);
  if (q > max_queued)
    max_queued = q;
}

static void test_64_mib_across_turns(void **state) {
  const size_t size = 64u << 20;
  unsigned char *data = malloc(size);
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req;
  async_check_t check;
  async_buf_t b;
  (void)state;
  reset();
  max_queued = 0;
  for (size_t i = 0; i < size; i++)
    data[i] = (unsigned char)(i * 2654435761u >> 13);
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  async_check_init(&loop, &check);
  check.data = &w;
  async_check_start(&check, note_queue);
  async_unref((async_handle_t *)&check);
  async_read_start((async_stream_t *)&r, test_alloc_slab, on_read);
  b.base = (char *)data;
  b.len = size;
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &b, 1, on_write), 0);
  /* The kernel took at most a pipe's worth: the rest waits in the queue. */
  assert_true(async_stream_write_queue_size((async_stream_t *)&w) > size / 2);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, 0);
  assert_int_equal(async_stream_write_queue_size((async_stream_t *)&w), 0);
  assert_true(max_queued > 0);
  async_close((async_handle_t *)&w, NULL);
  async_close((async_handle_t *)&check, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(rx_len, size);
  assert_true(checksum((unsigned char *)rx, rx_len) == checksum(data, size));
  free(data);
  test_loop_close(&loop);
}

static void test_epipe_without_sigpipe(void **state) {
  async_loop_t loop;
  async_pipe_t w;
  async_write_t req;
  int fds[2];
  async_buf_t buf = {(char *)"lost", 4};
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(async_pipe(fds, 0), 0);
  close(fds[0]); /* the reader is gone */
  async_pipe_init(&loop, &w);
  async_pipe_open(&w, fds[1]);
  assert_int_equal(async_try_write((async_stream_t *)&w, &buf, 1), ASYNC_EPIPE);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &buf, 1, on_write), 0);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, ASYNC_EPIPE); /* and the process is still here */
  test_loop_close(&loop);
}

static void test_close_cancels_queued_writes_and_shutdown(void **state) {
  static char big[1 << 20];
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t a, b;
  async_shutdown_t sh;
  async_buf_t buf = {big, sizeof(big)};
  (void)state;
  reset();
  test_loop_init(&loop);
  open_pair(&loop, &r, &w); /* nobody reads: the pipe fills */
  assert_int_equal(async_write(&a, (async_stream_t *)&w, &buf, 1, on_write), 0);
  assert_int_equal(async_write(&b, (async_stream_t *)&w, &buf, 1, on_write), 0);
  assert_int_equal(async_shutdown(&sh, (async_stream_t *)&w, on_shutdown), 0);
  assert_true(async_stream_write_queue_size((async_stream_t *)&w) > sizeof(big));
  async_close((async_handle_t *)&w, NULL);
  assert_int_equal(writes_done, 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(writes_done, 2);
  assert_int_equal(last_write_status, ASYNC_ECANCELED);
  assert_int_equal(shutdowns_done, 1);
  assert_int_equal(last_shutdown_status, ASYNC_ECANCELED);
  test_loop_close(&loop);
}

static void test_try_write(void **state) {
  static char big[1 << 20];
  async_loop_t loop;
  async_pipe_t r, w;
  async_buf_t small = {(char *)"abc", 3}, large = {big, sizeof(big)};
  long n;
  (void)state;
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  assert_int_equal(async_try_write((async_stream_t *)&w, &small, 1), 3);
  n = async_try_write((async_stream_t *)&w, &large, 1);
  assert_true(n > 0 && n < (long)sizeof(big)); /* what the pipe had room for */
  assert_int_equal(async_try_write((async_stream_t *)&w, &small, 1), ASYNC_EAGAIN);
  assert_int_equal(async_try_write((async_stream_t *)&r, &small, 1), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_zero_length_write(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req;
  async_buf_t empty = {NULL, 0};
  (void)state;
  reset();
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &empty, 1, on_write), 0);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(last_write_status, 0);
  test_loop_close(&loop);
}

static void test_bad_input(void **state) {
  async_loop_t loop;
  async_pipe_t r, w, p;
  async_write_t req;
  async_buf_t buf = {(char *)"x", 1};
  char path[] = "/tmp/async-pipe-XXXXXX";
  int file = mkstemp(path);
  (void)state;
  unlink(path);
  test_loop_init(&loop);
  assert_int_equal(async_pipe_init(NULL, &p), ASYNC_EINVAL);
  assert_int_equal(async_pipe_init(&loop, NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_open(&p, file), ASYNC_EINVAL); /* a regular file */
  assert_int_equal(async_pipe_open(&p, -1), ASYNC_EINVAL);
  assert_int_equal(async_read_start((async_stream_t *)&p, test_alloc_slab, on_read), ASYNC_ENOTCONN);
  assert_int_equal(async_write(&req, (async_stream_t *)&p, &buf, 1, on_write), ASYNC_EINVAL);
  open_pair(&loop, &r, &w);
  assert_int_equal(async_pipe_open(&r, 0), ASYNC_EBUSY);
  assert_int_equal(async_read_start(NULL, test_alloc_slab, on_read), ASYNC_EINVAL);
  assert_int_equal(async_read_start((async_stream_t *)&r, NULL, on_read), ASYNC_EINVAL);
  assert_int_equal(async_read_start((async_stream_t *)&w, test_alloc_slab, on_read), ASYNC_EINVAL);
  assert_int_equal(async_read_start((async_stream_t *)&r, test_alloc_slab, on_read), 0);
  assert_int_equal(async_read_start((async_stream_t *)&r, test_alloc_slab, on_read), ASYNC_EALREADY);
  assert_int_equal(async_write(&req, (async_stream_t *)&r, &buf, 1, on_write), ASYNC_EINVAL);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, NULL, 1, on_write), ASYNC_EINVAL);
  assert_int_equal(async_write(NULL, (async_stream_t *)&w, &buf, 1, on_write), ASYNC_EINVAL);
  async_close((async_handle_t *)&w, NULL);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &buf, 1, on_write), ASYNC_EINVAL);
  assert_int_equal(async_read_stop((async_stream_t *)&w), ASYNC_EINVAL);
  test_loop_close(&loop);
  close(file);
}

static void test_socketpair_both_ways(void **state) {
  async_loop_t loop;
  async_pipe_t a, b;
  async_write_t req;
  async_shutdown_t sh;
  async_buf_t buf = {(char *)"ping", 4};
  int sv[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  async_pipe_init(&loop, &a);
  async_pipe_init(&loop, &b);
  async_pipe_open(&a, sv[0]);
  async_pipe_open(&b, sv[1]);
  assert_true(async_is_readable((async_stream_t *)&a) && async_is_writable((async_stream_t *)&a));
  async_read_start((async_stream_t *)&b, test_alloc_slab, on_read);
  async_write(&req, (async_stream_t *)&a, &buf, 1, on_write);
  async_shutdown(&sh, (async_stream_t *)&a, on_shutdown); /* half-close: a can still read */
  run_until(&loop, &eof_seen, 1);
  assert_int_equal(rx_len, 4);
  assert_int_equal(last_shutdown_status, 0);
  assert_true(async_is_readable((async_stream_t *)&a));
  test_loop_close(&loop);
}

static int enobufs;
static void alloc_nothing(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = NULL;
  buf->len = 0;
}
static void read_enobufs(async_stream_t *s, long nread, const async_buf_t *buf) {
  (void)buf;
  if (nread == ASYNC_ENOBUFS) {
    enobufs++;
    async_read_stop(s);
  }
}

static void test_no_buffer_is_enobufs(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_buf_t buf = {(char *)"x", 1};
  (void)state;
  enobufs = 0;
  test_loop_init(&loop);
  open_pair(&loop, &r, &w);
  async_try_write((async_stream_t *)&w, &buf, 1);
  async_read_start((async_stream_t *)&r, alloc_nothing, read_enobufs);
  run_until(&loop, &enobufs, 1);
  assert_int_equal(enobufs, 1);
  test_loop_close(&loop);
}

static void test_fifo_round_trip(void **state) {
  async_loop_t loop;
  async_pipe_t r, w;
  async_write_t req;
  async_shutdown_t sh;
  async_buf_t buf = {(char *)"through a fifo", 14};
  char path[64];
  int rfd, wfd;
  (void)state;
  reset();
  snprintf(path, sizeof(path), "/tmp/async-fifo-%d", (int)getpid());
  unlink(path);
  assert_int_equal(mkfifo(path, 0600), 0);
  rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* does not wait for a writer */
  wfd = open(path, O_WRONLY | O_CLOEXEC);
  unlink(path);
  assert_true(rfd >= 0 && wfd >= 0);
  test_loop_init(&loop);
  assert_int_equal(async_pipe_init(&loop, &r), 0);
  assert_int_equal(async_pipe_init(&loop, &w), 0);
  assert_int_equal(async_pipe_open(&r, rfd), 0);
  assert_int_equal(async_pipe_open(&w, wfd), 0);
  assert_int_equal(async_is_readable((async_stream_t *)&r), 1);
  assert_int_equal(async_is_writable((async_stream_t *)&r), 0);
  assert_int_equal(async_read_start((async_stream_t *)&r, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&req, (async_stream_t *)&w, &buf, 1, on_write), 0);
  assert_int_equal(async_shutdown(&sh, (async_stream_t *)&w, on_shutdown), 0);
  run_until(&loop, &eof_seen, 1);
  assert_int_equal(rx_len, 14);
  assert_memory_equal(rx, buf.base, 14);
  assert_int_equal(last_shutdown_status, 0);
  test_loop_close(&loop);
}

static void test_open_sets_nonblocking(void **state) {
  async_loop_t loop;
  async_pipe_t r;
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
  assert_int_equal(async_pipe_init(&loop, &r), 0);
  assert_int_equal(async_pipe_open(&r, fds[0]), 0);
  assert_int_not_equal(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
  close(fds[1]);
  test_loop_close(&loop);
}

static void test_open_refuses_directories_closed_and_watched_fds(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  async_watch_t watch;
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fds[2], spare;
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_pipe_open(&p, dir), ASYNC_EINVAL);
  spare = dup(dir);
  close(spare);
  assert_int_equal(async_pipe_open(&p, spare), ASYNC_EBADF); /* just closed */
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_watch_init(&loop, &watch, fds[0]), 0);
  assert_int_equal(async_pipe_open(&p, fds[0]), ASYNC_EEXIST); /* the watcher has it */
  assert_int_equal(async_pipe_open(&p, fds[1]), 0); /* nothing changed: still usable */
  assert_int_equal(async_close((async_handle_t *)&watch, NULL), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  close(fds[0]);
  close(dir);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_fifo_round_trip),
  TEST(test_open_sets_nonblocking),
  TEST(test_open_refuses_directories_closed_and_watched_fds),
  TEST(test_async_pipe_flags),
  TEST(test_round_trip_and_eof),
  TEST(test_shutdown_gives_reader_eof),
  TEST(test_ten_thousand_writes_in_order),
  TEST(test_64_mib_across_turns),
  TEST(test_epipe_without_sigpipe),
  TEST(test_close_cancels_queued_writes_and_shutdown),
  TEST(test_try_write),
  TEST(test_zero_length_write),
  TEST(test_bad_input),
  TEST(test_socketpair_both_ways),
  TEST(test_no_buffer_is_enobufs),
};

TEST_MAIN("pipe", tests)
