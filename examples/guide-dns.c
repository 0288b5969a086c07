/* docs/guide.md, "DNS": resolves "localhost" on the thread pool, turns the
 * first address back into a name, and shows how a resolver error arrives.
 * /etc/hosts answers all of it: no network is needed. */
#include <netdb.h> /* struct addrinfo, AI_* and NI_* */
#include <stdio.h>
#include <string.h>

#include "async.h"
#include "common.h"

static async_getaddrinfo_t lookup, bad_lookup;
static async_getnameinfo_t reverse;
static int addresses, named, bad_status;

static void on_named(async_getnameinfo_t *req, int status, const char *host, const char *service) {
  (void)req;
  check(status, "getnameinfo");
  printf("that address is called %s, port %s\n", host, service);
  named = 1;
}

static void on_resolved(async_getaddrinfo_t *req, int status, struct addrinfo *res) {
  check(status, "getaddrinfo");
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    char name[ASYNC_IP_NAME_MAX];
    check(async_ip_name(ai->ai_addr, name, sizeof(name)), "ip_name");
    printf("localhost is %s, port %d\n", name, async_ip_port(ai->ai_addr));
    addresses++;
  }
  /* The address is copied by the call, so the list can go right after. */
  if (res != NULL)
    check(async_getnameinfo(req->loop, &reverse, on_named, res->ai_addr, NI_NUMERICSERV),
          "getnameinfo");
  async_freeaddrinfo(res); /* the callback owns the list */
}

static void on_bad_resolved(async_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  bad_status = status;
  printf("an unknown service: %s (%s)\n", async_err_name(status), async_strerror(status));
  async_freeaddrinfo(res); /* NULL after an error, and freeing NULL is allowed */
}

int main(void) {
  async_loop_t loop;
  struct addrinfo hints;

  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;     /* IPv4 and IPv6, whatever /etc/hosts says */
  hints.ai_socktype = SOCK_STREAM; /* one entry per address, not one per socket type */
  check(async_getaddrinfo(&loop, &lookup, on_resolved, "localhost", "80", &hints),
        "getaddrinfo");
  check(async_getaddrinfo(&loop, &bad_lookup, on_bad_resolved, "localhost", "no-such-service",
                          &hints),
        "getaddrinfo");

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run");
  check(async_loop_close(&loop), "loop_close");
  return addresses > 0 && named && bad_status < 0 ? 0 : 1;
}
