/* docs/guide.md, "UDP": two sockets on 127.0.0.1, ports chosen by the system.
 * The client sends three datagrams; the server answers each one, in capitals,
 * to whoever sent it; the client stops after the third answer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "common.h"

#define PINGS 3

/* An answer in flight: the request and its bytes, freed together once it is
 * sent (the library keeps its own copy of the address). */
struct answer {
  async_udp_send_t req;
  char data[64];
};

static async_udp_t server, client;
static async_udp_send_t ping_reqs[PINGS];
static char pings[PINGS][16];
static int answers;

static void on_alloc(async_handle_t *handle, size_t suggested, async_buf_t *buf) {
  static char slab[65536]; /* each datagram is done with before the next is read */
  (void)handle;
  (void)suggested;
  *buf = async_buf_init(slab, sizeof(slab));
}

static void on_answer_sent(async_udp_send_t *req, int status) {
  if (status < 0 && status != ASYNC_ECANCELED)
    fprintf(stderr, "server: send: %s\n", async_strerror(status));
  free(req); /* the struct answer around it */
}

static void on_server_recv(async_udp_t *udp, long nread, const async_buf_t *buf,
                           const struct sockaddr *from, unsigned flags) {
  struct answer *a;
  async_buf_t out;
  char name[ASYNC_IP_NAME_MAX];
  if (nread < 0) {
    fprintf(stderr, "server: recv: %s\n", async_strerror((int)nread));
    return;
  }
  if (from == NULL)
    return; /* nothing more to read for now: the buffer comes back unused */
  if ((flags & ASYNC_UDP_PARTIAL) || (size_t)nread > sizeof(a->data) ||
      (a = malloc(sizeof(*a))) == NULL)
    return; /* too big, or no memory: dropped, as datagrams may be */
  for (long i = 0; i < nread; i++)
    a->data[i] = (char)toupper((unsigned char)buf->base[i]);
  check(async_ip_name(from, name, sizeof(name)), "ip_name");
  printf("server: %ld bytes from %s port %d\n", nread, name, async_ip_port(from));
  out = async_buf_init(a->data, (size_t)nread);
  if (async_udp_send(&a->req, udp, &out, 1, from, on_answer_sent) != 0)
    free(a);
}

static void on_client_recv(async_udp_t *udp, long nread, const async_buf_t *buf,
                           const struct sockaddr *from, unsigned flags) {
  (void)udp;
  (void)flags;
  if (nread < 0 || from == NULL)
    return;
  printf("client: answer %d: %.*s\n", ++answers, (int)nread, buf->base);
  if (answers == PINGS) {
    async_close((async_handle_t *)&client, NULL);
    async_close((async_handle_t *)&server, NULL);
  }
}

static void on_ping_sent(async_udp_send_t *req, int status) {
  (void)req;
  if (status != ASYNC_ECANCELED)
    check(status, "client: send");
}

int main(void) {
  async_loop_t loop;
  struct sockaddr_in addr;
  struct sockaddr_storage server_addr;
  int len = sizeof(server_addr);

  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  check(async_ip4_addr("127.0.0.1", 0, &addr), "ip4_addr");
  check(async_udp_init(&loop, &server), "udp_init");
  check(async_udp_bind(&server, (const struct sockaddr *)&addr, 0), "bind");
  check(async_udp_getsockname(&server, (struct sockaddr *)&server_addr, &len), "getsockname");
  check(async_udp_recv_start(&server, on_alloc, on_server_recv), "recv_start");

  check(async_udp_init(&loop, &client), "udp_init");
  check(async_udp_bind(&client, (const struct sockaddr *)&addr, 0), "bind");
  check(async_udp_recv_start(&client, on_alloc, on_client_recv), "recv_start");
  for (int i = 0; i < PINGS; i++) {
    int n = snprintf(pings[i], sizeof(pings[i]), "ping %d", i + 1);
    async_buf_t buf = async_buf_init(pings[i], (size_t)n);
    check(async_udp_send(&ping_reqs[i], &client, &buf, 1, (struct sockaddr *)&server_addr,
                         on_ping_sent),
          "send");
  }

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run");
  check(async_loop_close(&loop), "loop_close");
  return answers == PINGS ? 0 : 1;
}
