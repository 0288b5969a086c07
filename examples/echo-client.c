/* Drives an echo server: opens N connections at once, each sends its share
 * of the volume in fixed-size messages (keeping a window in flight), checks
 * every byte that comes back, and prints the throughput.
 *
 *   echo-client [--backend NAME] [--host ADDR] [--port N | --unix PATH]
 *               [--connections N] [--mib M] [--size BYTES]
 *
 * Exits 0 only if every byte came back intact. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "common.h"

#define WINDOW (256u << 10) /* bytes a connection keeps in flight */

union stream {
  async_stream_t s;
  async_tcp_t tcp;
  async_pipe_t pipe;
};

struct client {
  union stream h;
  async_connect_t creq;
  async_shutdown_t sreq;
  unsigned long long to_send, sent, echoed;
  int id, failed;
};

struct message {
  async_write_t req;
  char data[];
};

static async_loop_t loop;
static size_t msg_size = 4096;
static unsigned long long total_echoed, corrupt;
static int done, failed;

static char pattern(const struct client *c, unsigned long long i) {
  return (char)(i * 131 + (unsigned long long)c->id * 7 + (i >> 12));
}

static void on_alloc(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  static char slab[65536];
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = sizeof(slab);
}

static void finish(struct client *c, int ok) {
  if (async_is_closing((async_handle_t *)c))
    return;
  if (!ok) {
    c->failed = 1;
    failed++;
  }
  done++;
  async_close((async_handle_t *)c, NULL);
}

static void on_sent(async_write_t *req, int status);

/* Keeps up to WINDOW bytes written but not yet echoed. */
static void fill_window(struct client *c) {
  while (c->sent < c->to_send && c->sent - c->echoed < WINDOW) {
    size_t n = msg_size;
    struct message *m;
    async_buf_t b;
    if (n > c->to_send - c->sent)
      n = (size_t)(c->to_send - c->sent);
    if ((m = malloc(sizeof(*m) + n)) == NULL) {
      finish(c, 0);
      return;
    }
    for (size_t i = 0; i < n; i++)
      m->data[i] = pattern(c, c->sent + i);
    b.base = m->data;
    b.len = n;
    if (async_write(&m->req, &c->h.s, &b, 1, on_sent) != 0) {
      free(m);
      finish(c, 0);
      return;
    }
    c->sent += n;
  }
  if (c->sent == c->to_send && !async_is_closing((async_handle_t *)c))
    async_shutdown(&c->sreq, &c->h.s, NULL); /* ASYNC_EALREADY after the first time */
}

static void on_sent(async_write_t *req, int status) {
  struct client *c = (struct client *)req->handle;
  free(req);
  if (status != 0 && status != ASYNC_ECANCELED)
    finish(c, 0);
}

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  struct client *c = (struct client *)s;
  if (nread == ASYNC_EOF || nread < 0) {
    finish(c, nread == ASYNC_EOF && c->echoed == c->to_send);
    return;
  }
  for (long i = 0; i < nread; i++)
    corrupt += buf->base[i] != pattern(c, c->echoed + (unsigned long long)i);
  c->echoed += (unsigned long long)nread;
  total_echoed += (unsigned long long)nread;
  fill_window(c);
}

static void on_connect(async_connect_t *req, int status) {
  struct client *c = (struct client *)req->handle;
  if (status != 0) {
    fprintf(stderr, "connection %d: %s\n", c->id, async_strerror(status));
    finish(c, 0);
    return;
  }
  async_read_start(&c->h.s, on_alloc, on_read);
  fill_window(c);
}

static int start_client(struct client *c, const struct sockaddr *addr, const char *path) {
  if (path != NULL) {
    int err = async_pipe_init(&loop, &c->h.pipe);
    return err != 0 ? err : async_pipe_connect(&c->creq, &c->h.pipe, path, on_connect);
  }
  int err = async_tcp_init(&loop, &c->h.tcp);
  if (err == 0)
    async_tcp_nodelay(&c->h.tcp, 1);
  return err != 0 ? err : async_tcp_connect(&c->creq, &c->h.tcp, addr, on_connect);
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
    ss->ss_family = AF_INET;
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
    ss->ss_family = AF_INET6;
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return -1;
}

int main(int argc, char **argv) {
  async_loop_options_t opts;
  struct sockaddr_storage addr;
  const char *host = "127.0.0.1", *path = NULL;
  int port = 7000, nconns = 100, started = 0;
  double mib = 100;
  struct client *clients;
  uint64_t t0, t1;
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
    else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
      nconns = atoi(argv[++i]);
    else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
      mib = atof(argv[++i]);
    else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
      msg_size = (size_t)atol(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--backend NAME] [--host ADDR] [--port N | --unix PATH]\n"
                      "          [--connections N] [--mib M] [--size BYTES]\n", argv[0]);
      return 2;
    }
  }
  if (nconns < 1 || mib <= 0 || msg_size < 1 || (path == NULL && parse_addr(host, port, &addr) != 0)) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  if (example_loop_init(&loop, &opts) != 0)
    return 1;
  if ((clients = calloc((size_t)nconns, sizeof(*clients))) == NULL) {
    fprintf(stderr, "out of memory\n");
    async_loop_close(&loop);
    return 1;
  }
  t0 = async_hrtime();
  for (int i = 0; i < nconns; i++) {
    int err;
    clients[i].id = i;
    clients[i].to_send = (unsigned long long)(mib * 1048576.0 / nconns);
    if ((err = start_client(&clients[i], (struct sockaddr *)&addr, path)) != 0) {
      fprintf(stderr, "connection %d: %s\n", i, async_strerror(err));
      if (async_handle_get_type((async_handle_t *)&clients[i]) != ASYNC_UNKNOWN_HANDLE)
        async_close((async_handle_t *)&clients[i], NULL);
      failed++;
      break;
    }
    started++;
  }
  async_run(&loop, ASYNC_RUN_DEFAULT);
  t1 = async_hrtime();
  printf("%d connections (%s backend), %.1f MiB echoed in %.3f s: %.1f MiB/s%s\n", started,
         async_loop_backend(&loop), (double)total_echoed / 1048576.0, (double)(t1 - t0) / 1e9,
         (double)total_echoed / 1048576.0 / ((double)(t1 - t0) / 1e9),
         corrupt != 0 ? " (CORRUPTED BYTES)" : "");
  free(clients);
  if (async_loop_close(&loop) != 0)
    return 1;
  return failed != 0 || corrupt != 0 || done != started;
}
