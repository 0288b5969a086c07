/* docs/guide.md, "A TCP server with idle timeouts": an echo server on
 * 127.0.0.1 (port chosen by the system) that hangs up on a connection after
 * IDLE_MS without a byte from it, and, in the same program, a client that
 * sends one line, reads the echo, then stays quiet until the server hangs
 * up. At that point everything still open is closed with async_walk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "common.h"

#define IDLE_MS 200

/* One accepted connection: a TCP handle and its idle timer. The memory is
 * freed once both handles have run their close callbacks. */
struct conn {
  async_tcp_t tcp;
  async_timer_t idle;
  int open_handles;
};

/* An echo in flight: the request and the bytes it writes, freed together
 * in the write callback. */
struct echo {
  async_write_t req;
  char data[];
};

static async_loop_t loop;
static async_tcp_t server, client;
static async_connect_t connect_req;
static async_write_t hello_req;
static char hello[] = "hello, server\n";
static char received[64];
static size_t received_len;
static uint64_t hello_sent_at, hung_up_at;

/* ---- the server ------------------------------------------------------------ */

static void on_conn_handle_closed(async_handle_t *handle) {
  struct conn *c = handle->data;
  if (--c->open_handles == 0)
    free(c);
}

static void conn_close(struct conn *c) {
  if (!async_is_closing((async_handle_t *)&c->tcp))
    async_close((async_handle_t *)&c->tcp, on_conn_handle_closed);
  if (!async_is_closing((async_handle_t *)&c->idle))
    async_close((async_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_idle(async_timer_t *timer) {
  printf("server: %d ms without a byte, hanging up\n", IDLE_MS);
  conn_close(timer->data);
}

static void on_alloc(async_handle_t *handle, size_t suggested, async_buf_t *buf) {
  (void)handle;
  buf->base = malloc(suggested);
  buf->len = buf->base != NULL ? suggested : 0; /* 0: read_cb gets ASYNC_ENOBUFS */
}

static void on_echoed(async_write_t *req, int status) {
  if (status < 0 && status != ASYNC_ECANCELED)
    fprintf(stderr, "server: write: %s\n", async_strerror(status));
  free(req); /* the struct echo that holds it */
}

static void on_server_read(async_stream_t *stream, long nread, const async_buf_t *buf) {
  struct conn *c = stream->data;
  if (nread > 0) {
    struct echo *e = malloc(sizeof(*e) + (size_t)nread);
    async_buf_t out;
    check(async_timer_start(&c->idle, on_idle, IDLE_MS, 0), "timer_start"); /* restarts it */
    if (e != NULL) {
      memcpy(e->data, buf->base, (size_t)nread);
      out = async_buf_init(e->data, (size_t)nread);
      if (async_write(&e->req, stream, &out, 1, on_echoed) != 0)
        free(e);
    }
  } else if (nread < 0) {
    if (nread != ASYNC_EOF)
      fprintf(stderr, "server: read: %s\n", async_strerror((int)nread));
    conn_close(c);
  }
  free(buf->base); /* the echo has its own copy */
}

static void on_connection(async_stream_t *listener, int status) {
  struct conn *c;
  if (status < 0) {
    fprintf(stderr, "server: accept: %s\n", async_strerror(status));
    return;
  }
  if ((c = calloc(1, sizeof(*c))) == NULL) {
    fprintf(stderr, "server: out of memory\n");
    exit(1);
  }
  check(async_tcp_init(&loop, &c->tcp), "tcp_init");
  check(async_timer_init(&loop, &c->idle), "timer_init");
  c->open_handles = 2;
  c->tcp.data = c->idle.data = c;
  check(async_accept(listener, (async_stream_t *)&c->tcp), "accept");
  check(async_timer_start(&c->idle, on_idle, IDLE_MS, 0), "timer_start");
  check(async_read_start((async_stream_t *)&c->tcp, on_alloc, on_server_read), "read_start");
}

/* ---- shutting down --------------------------------------------------------- */

static void close_everything(async_handle_t *handle, void *arg) {
  (void)arg;
  if (async_is_closing(handle))
    return;
  if (handle->data != NULL)
    conn_close(handle->data); /* a connection's handles: freed once both close */
  else
    async_close(handle, NULL);
}

/* ---- the client ------------------------------------------------------------- */

static void on_client_read(async_stream_t *stream, long nread, const async_buf_t *buf) {
  if (nread > 0 && received_len + (size_t)nread < sizeof(received)) {
    memcpy(received + received_len, buf->base, (size_t)nread);
    received_len += (size_t)nread;
    printf("client: got %ld bytes back\n", nread);
  } else if (nread == ASYNC_EOF) {
    hung_up_at = async_now(&loop);
    printf("client: the server hung up %llu ms after the last line\n",
           (unsigned long long)(hung_up_at - hello_sent_at));
    async_walk(stream->loop, close_everything, NULL);
  } else if (nread < 0) {
    fprintf(stderr, "client: read: %s\n", async_strerror((int)nread));
    async_walk(stream->loop, close_everything, NULL);
  }
  free(buf->base);
}

static void on_hello_sent(async_write_t *req, int status) {
  (void)req;
  check(status, "client: write");
}

static void on_connected(async_connect_t *req, int status) {
  async_buf_t buf = async_buf_init(hello, strlen(hello));
  check(status, "client: connect");
  check(async_read_start(req->handle, on_alloc, on_client_read), "read_start");
  check(async_write(&hello_req, req->handle, &buf, 1, on_hello_sent), "write");
  hello_sent_at = async_now(&loop);
}

int main(void) {
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof(bound);

  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  check(async_ip4_addr("127.0.0.1", 0, &addr), "ip4_addr");
  check(async_tcp_init(&loop, &server), "tcp_init");
  check(async_tcp_bind(&server, (const struct sockaddr *)&addr, 0), "bind");
  check(async_listen((async_stream_t *)&server, 128, on_connection), "listen");
  check(async_tcp_getsockname(&server, (struct sockaddr *)&bound, &len), "getsockname");
  printf("server: listening on 127.0.0.1 port %d\n", async_ip_port((struct sockaddr *)&bound));

  check(async_tcp_init(&loop, &client), "tcp_init");
  check(async_tcp_connect(&connect_req, &client, (struct sockaddr *)&bound, on_connected),
        "connect");

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run");
  check(async_loop_close(&loop), "loop_close");
  if (received_len != strlen(hello) || memcmp(received, hello, received_len) != 0)
    return 1;
  return hung_up_at - hello_sent_at >= IDLE_MS ? 0 : 1; /* a timer never fires early */
}
