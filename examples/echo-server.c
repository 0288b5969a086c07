/* An echo server over TCP or a Unix socket. Every connection gets back what
 * it sends; a connection whose peer reads slowly stops being read until its
 * queue drains (backpressure). SIGINT or SIGTERM stops it gracefully: no new
 * connections, open ones are closed once their queued bytes are written, and
 * the totals are printed.
 *
 *   echo-server [--backend NAME] [--host ADDR] [--port N | --unix PATH] [--verbose]
 *
 * --port 0 picks a free port; the first line printed says which. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "common.h"

#define HIGH_WATER (1u << 20) /* stop reading a connection past this many queued bytes */
#define LOW_WATER (256u << 10)

union stream {
  async_stream_t s;
  async_tcp_t tcp;
  async_pipe_t pipe;
};

struct conn {
  union stream h;
  async_shutdown_t sreq;
  struct conn *prev, *next;
  unsigned long long bytes;
  int id;
};

struct echo {
  async_write_t req;
  struct conn *conn;
  char data[];
};

static async_loop_t loop;
static union stream server;
static async_signal_t sigint, sigterm;
static struct conn *conns;
static unsigned long long total_bytes, total_conns, open_conns;
static int verbose, stopping;

static void on_alloc(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  static char slab[65536];
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = sizeof(slab);
}

static void on_conn_closed(async_handle_t *h) {
  struct conn *c = (struct conn *)h;
  if (verbose)
    printf("connection %d closed after %llu bytes\n", c->id, c->bytes);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  open_conns--;
  free(c);
}

/* Graceful stop: closing a connection cancels what it has not written yet,
 * so each is closed only after a shutdown that follows its queued echoes. */
static void on_drained(async_shutdown_t *req, int status) {
  struct conn *c = (struct conn *)req->handle;
  (void)status;
  if (!async_is_closing((async_handle_t *)c))
    async_close((async_handle_t *)c, on_conn_closed);
}

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf);

static void on_echoed(async_write_t *req, int status) {
  struct echo *e = (struct echo *)req;
  struct conn *c = e->conn;
  free(e);
  if (status == ASYNC_ECANCELED || async_is_closing((async_handle_t *)c))
    return;
  if (status != 0) {
    async_close((async_handle_t *)c, on_conn_closed);
    return;
  }
  if (!stopping && async_is_readable(&c->h.s) &&
      async_stream_write_queue_size(&c->h.s) < LOW_WATER)
    async_read_start(&c->h.s, on_alloc, on_read); /* ASYNC_EALREADY when reading */
}

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct conn *c = (struct conn *)s;
  struct echo *e;
  async_buf_t out;
  if (nread == ASYNC_EOF) { /* end our side after the queued echoes, then close */
    if (async_shutdown(&c->sreq, s, on_drained) != 0)
      async_close((async_handle_t *)c, on_conn_closed);
    return;
  }
  if (nread < 0) {
    async_close((async_handle_t *)c, on_conn_closed);
    return;
  }
  if (nread == 0)
    return;
  if ((e = malloc(sizeof(*e) + (size_t)nread)) == NULL) {
    async_close((async_handle_t *)c, on_conn_closed);
    return;
  }
  e->conn = c;
  memcpy(e->data, buf->base, (size_t)nread);
  out.base = e->data;
  out.len = (size_t)nread;
  c->bytes += (unsigned long long)nread;
  total_bytes += (unsigned long long)nread;
  if (async_write(&e->req, s, &out, 1, on_echoed) != 0) {
    free(e);
    return;
  }
  if (async_stream_write_queue_size(s) > HIGH_WATER)
    async_read_stop(s); /* the peer is not reading its echoes */
}

static void on_connection(async_stream_t *srv, int status) {
  struct conn *c;
  int err;
  if (status != 0) {
    fprintf(stderr, "accept: %s\n", async_strerror(status));
    return;
  }
  if ((c = calloc(1, sizeof(*c))) == NULL)
    return;
  err = srv->type == ASYNC_TCP ? async_tcp_init(&loop, &c->h.tcp) : async_pipe_init(&loop, &c->h.pipe);
  if (err == 0)
    err = async_accept(srv, &c->h.s);
  if (err != 0) {
    fprintf(stderr, "accept: %s\n", async_strerror(err));
    if (async_handle_get_type((async_handle_t *)c) != ASYNC_UNKNOWN_HANDLE)
      async_close((async_handle_t *)c, on_conn_closed);
    else
      free(c);
    return;
  }
  c->id = (int)++total_conns;
  c->next = conns;
  if (conns != NULL)
    conns->prev = c;
  conns = c;
  open_conns++;
  if (srv->type == ASYNC_TCP)
    async_tcp_nodelay(&c->h.tcp, 1);
  if (verbose)
    printf("connection %d\n", c->id);
  async_read_start(&c->h.s, on_alloc, on_read);
}

static void on_stop_signal(async_signal_t *sig, int signum) {
  (void)sig;
  if (stopping)
    return;
  stopping = 1;
  printf("%s: stopping (%llu open connections)\n", signum == SIGINT ? "SIGINT" : "SIGTERM",
         open_conns);
  async_close((async_handle_t *)&server, NULL);
  async_close((async_handle_t *)&sigint, NULL);
  async_close((async_handle_t *)&sigterm, NULL);
  for (struct conn *c = conns; c != NULL; c = c->next) {
    async_read_stop(&c->h.s);
    if (async_shutdown(&c->sreq, &c->h.s, on_drained) == ASYNC_EINVAL) /* cannot write: close */
      async_close((async_handle_t *)c, on_conn_closed);
  }
}

static void close_one(async_handle_t *h, void *arg) {
  (void)arg;
  if (!async_is_closing(h))
    async_close(h, NULL);
}

static int listen_tcp(const char *host, int port) {
  struct sockaddr_storage ss;
  int len = sizeof(ss), err;
  char name[INET6_ADDRSTRLEN];
  memset(&ss, 0, sizeof(ss));
  if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
    ss.ss_family = AF_INET;
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
  } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
    ss.ss_family = AF_INET6;
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
  } else {
    fprintf(stderr, "not an address: %s\n", host);
    return ASYNC_EINVAL;
  }
  if ((err = async_tcp_init(&loop, &server.tcp)) != 0 ||
      (err = async_tcp_bind(&server.tcp, (struct sockaddr *)&ss, 0)) != 0 ||
      (err = async_listen(&server.s, 1024, on_connection)) != 0 ||
      (err = async_tcp_getsockname(&server.tcp, (struct sockaddr *)&ss, &len)) != 0)
    return err;
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, name, sizeof(name));
  else
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, name, sizeof(name));
  printf("listening on %s port %d (%s backend)\n", name,
         ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                       : ((struct sockaddr_in6 *)&ss)->sin6_port),
         async_loop_backend(&loop));
  return 0;
}

static int listen_unix(const char *path) {
  int err;
  if ((err = async_pipe_init(&loop, &server.pipe)) != 0 ||
      (err = async_pipe_bind(&server.pipe, path)) != 0 ||
      (err = async_listen(&server.s, 1024, on_connection)) != 0)
    return err;
  printf("listening on %s (%s backend)\n", path, async_loop_backend(&loop));
  return 0;
}

int main(int argc, char **argv) {
  async_loop_options_t opts;
  const char *host = "127.0.0.1", *path = NULL;
  int port = 7000, err;
  memset(&opts, 0, sizeof(opts));
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
      opts.backend = argv[++i];
    else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
      host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc)
      path = argv[++i];
    else if (strcmp(argv[i], "--verbose") == 0)
      verbose = 1;
    else {
      fprintf(stderr, "usage: %s [--backend NAME] [--host ADDR] [--port N | --unix PATH] [--verbose]\n",
              argv[0]);
      return 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (example_loop_init(&loop, &opts) != 0)
    return 1;
  if ((err = path != NULL ? listen_unix(path) : listen_tcp(host, port)) != 0) {
    fprintf(stderr, "listen: %s\n", async_strerror(err));
    async_walk(&loop, close_one, NULL);
    async_run(&loop, ASYNC_RUN_DEFAULT);
    async_loop_close(&loop);
    return 1;
  }
  if ((err = async_signal_init(&loop, &sigint)) != 0 ||
      (err = async_signal_start(&sigint, on_stop_signal, SIGINT)) != 0 ||
      (err = async_signal_init(&loop, &sigterm)) != 0 ||
      (err = async_signal_start(&sigterm, on_stop_signal, SIGTERM)) != 0)
    fprintf(stderr, "signals: %s (no graceful stop)\n", async_strerror(err));
  async_run(&loop, ASYNC_RUN_DEFAULT);
  printf("served %llu connections, echoed %llu bytes\n", total_conns, total_bytes);
  return async_loop_close(&loop) != 0;
}
