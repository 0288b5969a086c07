/* Passing fds over IPC pipes: a TCP connection, a pipe, a UDP socket and a
 * raw fd travel with bytes and are adopted as new handles on the far side. */
#include "helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static async_pipe_t sender, receiver;
static async_write_t wreq;
static int writes_done, last_write_status, bytes_in, fds_seen, last_pending_type;
static char got[4096];
static size_t got_len;

static void reset(void) {
  writes_done = bytes_in = fds_seen = 0;
  last_write_status = 1;
  last_pending_type = -1;
  got_len = 0;
}

static void on_write(async_write_t *req, int status) {
  (void)req;
  writes_done++;
  last_write_status = status;
}

/* Notes what arrived; the fds wait in the pipe for the test to adopt. */
static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  if (nread <= 0)
    return;
  memcpy(got + got_len, buf->base, (size_t)nread);
  got_len += (size_t)nread;
  bytes_in += (int)nread;
  fds_seen = async_pipe_pending_count((async_pipe_t *)s);
  last_pending_type = (int)async_pipe_pending_type((async_pipe_t *)s);
}

/* sender and receiver: the two ends of a socketpair, both IPC pipes. */
static void open_ipc_pair(async_loop_t *loop) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(async_pipe_init_ex(loop, &sender, ASYNC_PIPE_IPC), 0);
  assert_int_equal(async_pipe_init_ex(loop, &receiver, ASYNC_PIPE_IPC), 0);
  assert_int_equal(async_pipe_open(&sender, sv[0]), 0);
  assert_int_equal(async_pipe_open(&receiver, sv[1]), 0);
  assert_int_equal(async_read_start((async_stream_t *)&receiver, test_alloc_slab, on_read), 0);
}

static void run_until(async_loop_t *loop, int *counter, int want) {
  for (int i = 0; i < 100000 && *counter < want; i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
}

static void send_fd(async_loop_t *loop, int fd, const char *msg) {
  async_buf_t b = {(char *)msg, strlen(msg)};
  int before = bytes_in;
  assert_int_equal(async_write_fd(&wreq, (async_stream_t *)&sender, &b, 1, fd, on_write), 0);
  run_until(loop, &bytes_in, before + (int)b.len);
  assert_int_equal(bytes_in, before + (int)b.len);
}

/* ---- a TCP connection ----------------------------------------------------- */

static async_tcp_t listener, client, passed;
static async_connect_t creq;
static int accepted_fd = -1, connected;

static void on_conn(async_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(async_tcp_init(srv->loop, &passed), 0);
  assert_int_equal(async_accept(srv, (async_stream_t *)&passed), 0);
  assert_int_equal(async_fileno((async_handle_t *)&passed, &accepted_fd), 0);
}

static void on_connected(async_connect_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  connected = 1;
}

static void tcp_pair(async_loop_t *loop) {
  struct sockaddr_in addr;
  int len = sizeof(addr);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  accepted_fd = -1;
  connected = 0;
  assert_int_equal(async_tcp_init(loop, &listener), 0);
  assert_int_equal(async_tcp_bind(&listener, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_listen((async_stream_t *)&listener, 8, on_conn), 0);
  assert_int_equal(async_tcp_getsockname(&listener, (struct sockaddr *)&addr, &len), 0);
  assert_int_equal(async_tcp_init(loop, &client), 0);
  assert_int_equal(async_tcp_connect(&creq, &client, (struct sockaddr *)&addr, on_connected), 0);
  for (int i = 0; i < 100000 && (accepted_fd < 0 || !connected); i++)
    async_run(loop, ASYNC_RUN_NOWAIT);
  assert_true(accepted_fd >= 0 && connected);
}

static int client_bytes;
static char client_got[16];
static void client_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  (void)s;
  if (nread > 0 && client_bytes + nread <= (long)sizeof(client_got)) {
    memcpy(client_got + client_bytes, buf->base, (size_t)nread);
    client_bytes += (int)nread;
  }
}

static void test_pass_tcp_connection(void **state) {
  async_loop_t loop;
  async_tcp_t adopted;
  async_write_t w2;
  async_buf_t hello = {(char *)"conn", 4}, hi = {(char *)"hi", 2};
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  tcp_pair(&loop);
  assert_int_equal(async_write2(&wreq, (async_stream_t *)&sender, &hello, 1,
                                (async_handle_t *)&passed, on_write), 0);
  /* the fd was copied: the sender may let go of its handle at once */
  assert_int_equal(async_close((async_handle_t *)&passed, NULL), 0);
  run_until(&loop, &bytes_in, 4);
  assert_int_equal(fds_seen, 1);
  assert_int_equal(last_pending_type, ASYNC_TCP);
  assert_int_equal(async_tcp_init(&loop, &adopted), 0);
  assert_int_equal(async_accept((async_stream_t *)&receiver, (async_stream_t *)&adopted), 0);
  assert_int_equal(async_pipe_pending_count(&receiver), 0);
  client_bytes = 0;
  assert_int_equal(async_read_start((async_stream_t *)&client, test_alloc_slab, client_read), 0);
  assert_int_equal(async_write(&w2, (async_stream_t *)&adopted, &hi, 1, NULL), 0);
  run_until(&loop, &client_bytes, 2);
  assert_int_equal(client_bytes, 2);
  assert_memory_equal(client_got, "hi", 2);
  assert_int_equal(writes_done, 1);
  assert_int_equal(last_write_status, 0);
  test_loop_close(&loop);
}

static void test_pass_pipe(void **state) {
  async_loop_t loop;
  async_pipe_t adopted;
  int fds[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  assert_int_equal(async_pipe(fds, 0), 0);
  send_fd(&loop, fds[0], "pipe");
  close(fds[0]); /* the receiver has its own copy now */
  assert_int_equal(fds_seen, 1);
  assert_int_equal(last_pending_type, ASYNC_PIPE);
  assert_int_equal(async_pipe_init(&loop, &adopted), 0);
  assert_int_equal(async_accept((async_stream_t *)&receiver, (async_stream_t *)&adopted), 0);
  client_bytes = 0;
  assert_int_equal(async_read_start((async_stream_t *)&adopted, test_alloc_slab, client_read), 0);
  assert_int_equal(write(fds[1], "through", 7), 7);
  run_until(&loop, &client_bytes, 7);
  assert_memory_equal(client_got, "through", 7);
  close(fds[1]);
  test_loop_close(&loop);
}

static void test_pass_udp_socket(void **state) {
  async_loop_t loop;
  async_udp_t udp, adopted;
  struct sockaddr_in addr, back;
  int len = sizeof(back);
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(async_udp_init(&loop, &udp), 0);
  assert_int_equal(async_udp_bind(&udp, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(async_udp_getsockname(&udp, (struct sockaddr *)&addr, &len), 0);
  assert_int_equal(async_write2(&wreq, (async_stream_t *)&sender,
                                &(async_buf_t){(char *)"udp", 3}, 1, (async_handle_t *)&udp,
                                on_write), 0);
  run_until(&loop, &bytes_in, 3);
  assert_int_equal(last_pending_type, ASYNC_UDP);
  assert_int_equal(async_udp_init(&loop, &adopted), 0);
  assert_int_equal(async_accept((async_stream_t *)&receiver, (async_stream_t *)&adopted), 0);
  len = sizeof(back); /* the same socket: the same port */
  assert_int_equal(async_udp_getsockname(&adopted, (struct sockaddr *)&back, &len), 0);
  assert_int_equal(back.sin_port, addr.sin_port);
  test_loop_close(&loop);
}

static void test_take_raw_fd(void **state) {
  async_loop_t loop;
  int fds[2], fd;
  char c = 0;
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  assert_int_equal(async_pipe(fds, 0), 0);
  send_fd(&loop, fds[1], "raw");
  close(fds[1]);
  assert_int_equal(async_pipe_take_fd(&sender), ASYNC_EAGAIN);
  fd = async_pipe_take_fd(&receiver);
  assert_true(fd >= 0);
  assert_int_equal(async_pipe_take_fd(&receiver), ASYNC_EAGAIN);
  assert_int_equal(write(fd, "!", 1), 1);
  assert_int_equal(read(fds[0], &c, 1), 1);
  assert_int_equal(c, '!');
  close(fd);
  close(fds[0]);
  test_loop_close(&loop);
}

static void test_fds_arrive_in_order(void **state) {
  async_loop_t loop;
  int fds[20][2];
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  for (int i = 0; i < 20; i++) {
    char tag = (char)('a' + i);
    assert_int_equal(async_pipe(fds[i], 0), 0);
    assert_int_equal(write(fds[i][1], &tag, 1), 1);
    send_fd(&loop, fds[i][0], "x");
    close(fds[i][0]);
    close(fds[i][1]);
  }
  assert_int_equal(async_pipe_pending_count(&receiver), 20);
  for (int i = 0; i < 20; i++) {
    int fd = async_pipe_take_fd(&receiver);
    char c = 0;
    assert_true(fd >= 0);
    assert_int_equal(read(fd, &c, 1), 1);
    assert_int_equal(c, 'a' + i);
    close(fd);
  }
  test_loop_close(&loop);
}

static void test_unaccepted_fds_close_with_the_pipe(void **state) {
  async_loop_t loop;
  int fds[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  assert_int_equal(async_pipe(fds, 0), 0);
  send_fd(&loop, fds[0], "a");
  send_fd(&loop, fds[1], "b");
  close(fds[0]);
  close(fds[1]);
  assert_int_equal(async_pipe_pending_count(&receiver), 2);
  /* the harness checks that no fd outlives the test */
  test_loop_close(&loop);
}

static void test_wrong_client_type_leaves_fd_pending(void **state) {
  async_loop_t loop;
  async_tcp_t tcp;
  async_pipe_t p;
  int fds[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  assert_int_equal(async_tcp_init(&loop, &tcp), 0);
  assert_int_equal(async_accept((async_stream_t *)&receiver, (async_stream_t *)&tcp), ASYNC_EAGAIN);
  assert_int_equal(async_pipe_pending_type(&receiver), ASYNC_UNKNOWN_HANDLE);
  assert_int_equal(async_pipe(fds, 0), 0);
  send_fd(&loop, fds[0], "p");
  close(fds[0]);
  assert_int_equal(async_accept((async_stream_t *)&receiver, (async_stream_t *)&tcp), ASYNC_EINVAL);
  assert_int_equal(async_pipe_pending_count(&receiver), 1);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_accept((async_stream_t *)&receiver, (async_stream_t *)&p), 0);
  assert_int_equal(async_pipe_pending_count(&receiver), 0);
  close(fds[1]);
  test_loop_close(&loop);
}

/* A write queued behind a full socket buffer is cancelled by close; its
 * copy of the fd must not leak. */
static void test_cancelled_write_releases_its_fd(void **state) {
  async_loop_t loop;
  static char big[4 << 20];
  async_write_t first, second;
  async_buf_t b = {big, sizeof(big)}, small = {(char *)"s", 1};
  int fds[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  assert_int_equal(async_read_stop((async_stream_t *)&receiver), 0);
  assert_int_equal(async_write(&first, (async_stream_t *)&sender, &b, 1, on_write), 0);
  assert_true(async_stream_write_queue_size((async_stream_t *)&sender) > 0);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_write_fd(&second, (async_stream_t *)&sender, &small, 1, fds[0], on_write), 0);
  close(fds[0]);
  close(fds[1]);
  assert_int_equal(async_close((async_handle_t *)&sender, NULL), 0);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_int_equal(writes_done, 2);
  assert_int_equal(last_write_status, ASYNC_ECANCELED);
  test_loop_close(&loop);
}

static void test_write2_bad_input(void **state) {
  async_loop_t loop;
  async_pipe_t plain, nofd;
  async_timer_t timer;
  async_buf_t b = {(char *)"x", 1}, empty = {(char *)"", 0};
  int fds[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  open_ipc_pair(&loop);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_init(&loop, &plain), 0);
  assert_int_equal(async_pipe_open(&plain, fds[1]), 0);
  assert_int_equal(async_write_fd(&wreq, (async_stream_t *)&plain, &b, 1, fds[0], NULL), ASYNC_EINVAL);
  assert_int_equal(async_write_fd(&wreq, (async_stream_t *)&sender, &empty, 1, fds[0], NULL),
                   ASYNC_EINVAL); /* an fd needs a byte to ride on */
  assert_int_equal(async_write_fd(&wreq, (async_stream_t *)&sender, &b, 1, -1, NULL), ASYNC_EBADF);
  assert_int_equal(async_write_fd(&wreq, (async_stream_t *)&sender, &b, 1, 999999, NULL),
                   ASYNC_EBADF);
  assert_int_equal(async_pipe_init(&loop, &nofd), 0);
  assert_int_equal(async_write2(&wreq, (async_stream_t *)&sender, &b, 1, (async_handle_t *)&nofd,
                                NULL), ASYNC_EINVAL);
  assert_int_equal(async_timer_init(&loop, &timer), 0);
  assert_int_equal(async_write2(&wreq, (async_stream_t *)&sender, &b, 1, (async_handle_t *)&timer,
                                NULL), ASYNC_EINVAL);
  assert_int_equal(async_write2(&wreq, (async_stream_t *)&sender, &b, 1, NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_write_fd(NULL, (async_stream_t *)&sender, &b, 1, fds[0], NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_take_fd(NULL), ASYNC_EINVAL);
  assert_int_equal(async_pipe_pending_count(NULL), 0);
  assert_int_equal(async_pipe_pending_type(NULL), ASYNC_UNKNOWN_HANDLE);
  run_until(&loop, &writes_done, 1);
  assert_int_equal(writes_done, 0); /* nothing was queued */
  close(fds[0]);
  test_loop_close(&loop);
}

static void test_fileno(void **state) {
  async_loop_t loop;
  async_pipe_t p;
  async_timer_t t;
  async_udp_t u;
  int fd = -7, fds[2];
  (void)state;
  test_loop_init(&loop);
  assert_int_equal(async_pipe_init(&loop, &p), 0);
  assert_int_equal(async_fileno((async_handle_t *)&p, &fd), ASYNC_EBADF);
  assert_int_equal(fd, -7);
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_open(&p, fds[0]), 0);
  assert_int_equal(async_fileno((async_handle_t *)&p, &fd), 0);
  assert_int_equal(fd, fds[0]);
  assert_int_equal(async_timer_init(&loop, &t), 0);
  assert_int_equal(async_fileno((async_handle_t *)&t, &fd), ASYNC_EINVAL);
  assert_int_equal(async_udp_init(&loop, &u), 0);
  assert_int_equal(async_fileno((async_handle_t *)&u, &fd), ASYNC_EBADF);
  assert_int_equal(async_fileno(NULL, &fd), ASYNC_EINVAL);
  assert_int_equal(async_fileno((async_handle_t *)&p, NULL), ASYNC_EINVAL);
  assert_int_equal(async_close((async_handle_t *)&p, NULL), 0);
  assert_int_equal(async_fileno((async_handle_t *)&p, &fd), ASYNC_EINVAL);
  close(fds[1]);
  test_loop_close(&loop);
}

/* Without IPC, bytes flow on a socketpair as on any pipe. */
static void test_plain_pipe_on_socketpair_ignores_ipc(void **state) {
  async_loop_t loop;
  async_pipe_t a, b;
  async_write_t w;
  int sv[2];
  (void)state;
  reset();
  test_loop_init(&loop);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(async_pipe_init(&loop, &a), 0);
  assert_int_equal(async_pipe_init(&loop, &b), 0);
  assert_int_equal(async_pipe_open(&a, sv[0]), 0);
  assert_int_equal(async_pipe_open(&b, sv[1]), 0);
  assert_int_equal(async_read_start((async_stream_t *)&b, test_alloc_slab, on_read), 0);
  assert_int_equal(async_write(&w, (async_stream_t *)&a, &(async_buf_t){(char *)"plain", 5}, 1,
                               on_write), 0);
  run_until(&loop, &bytes_in, 5);
  assert_memory_equal(got, "plain", 5);
  assert_int_equal(fds_seen, 0);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_pass_tcp_connection),
  TEST(test_pass_pipe),
  TEST(test_pass_udp_socket),
  TEST(test_take_raw_fd),
  TEST(test_fds_arrive_in_order),
  TEST(test_unaccepted_fds_close_with_the_pipe),
  TEST(test_wrong_client_type_leaves_fd_pending),
  TEST(test_cancelled_write_releases_its_fd),
  TEST(test_write2_bad_input),
  TEST(test_fileno),
  TEST(test_plain_pipe_on_socketpair_ignores_ipc),
};

TEST_MAIN("ipc", tests)
