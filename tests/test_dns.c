/* getaddrinfo and getnameinfo, on names and numbers this machine knows. */
#include "helper.h"

#if defined(_WIN32)
# include <ws2tcpip.h> /* through async.h already; named for the reader */
#else
# include <arpa/inet.h>
# include <netdb.h>
# include <netinet/in.h>
#endif
#include <stdio.h>
#include <string.h>

static int calls, got_status, got_family;
static char got_host[64], got_service[32];

static void on_addr(async_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  calls++;
  got_status = status;
  got_family = res != NULL ? res->ai_family : -1;
  async_freeaddrinfo(res);
}

static void on_name(async_getnameinfo_t *req, int status, const char *host, const char *service) {
  (void)req;
  calls++;
  got_status = status;
  snprintf(got_host, sizeof(got_host), "%s", host != NULL ? host : "(null)");
  snprintf(got_service, sizeof(got_service), "%s", service != NULL ? service : "(null)");
}

static void test_sync_localhost(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  struct addrinfo hints;
  (void)state;
  memset(&req, 0, sizeof(req));
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(&loop, &req, NULL, "localhost", "80", &hints), 0);
  assert_non_null(req.addrinfo);
  assert_true(req.addrinfo->ai_family == AF_INET || req.addrinfo->ai_family == AF_INET6);
  async_freeaddrinfo(req.addrinfo);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_async_numeric(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  struct addrinfo hints;
  (void)state;
  calls = 0;
  memset(&req, 0, sizeof(req));
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST;
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(&loop, &req, on_addr, "127.0.0.1", NULL, &hints), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(calls, 1);
  assert_int_equal(got_status, 0);
  assert_int_equal(got_family, AF_INET);
  test_loop_close(&loop);
}

static void test_bad_numeric_host(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  struct addrinfo hints;
  (void)state;
  calls = 0;
  memset(&req, 0, sizeof(req));
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST;
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(&loop, &req, NULL, "not an address", NULL, &hints),
                   ASYNC_EAI_NONAME);
  assert_null(req.addrinfo);
  assert_int_equal(async_getaddrinfo(&loop, &req, on_addr, "not an address", NULL, &hints), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(calls, 1);
  assert_int_equal(got_status, ASYNC_EAI_NONAME);
  assert_int_equal(got_family, -1);
  test_loop_close(&loop);
}

static void test_getaddrinfo_bad_input(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  (void)state;
  memset(&req, 0, sizeof(req));
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(NULL, &req, on_addr, "localhost", NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_getaddrinfo(&loop, NULL, on_addr, "localhost", NULL, NULL), ASYNC_EINVAL);
  assert_int_equal(async_getaddrinfo(&loop, &req, on_addr, NULL, NULL, NULL), ASYNC_EINVAL);
  assert_false(async_loop_alive(&loop));
  async_freeaddrinfo(NULL);
  test_loop_close(&loop);
}

static void test_getnameinfo_sync_and_async(void **state) {
  async_loop_t loop;
  async_getnameinfo_t req;
  struct sockaddr_in sin;
  (void)state;
  calls = 0;
  memset(&req, 0, sizeof(req));
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(8080);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  test_loop_init(&loop);
  assert_int_equal(async_getnameinfo(&loop, &req, NULL, (struct sockaddr *)&sin,
                                     NI_NUMERICHOST | NI_NUMERICSERV), 0);
  assert_string_equal(req.host, "127.0.0.1");
  assert_string_equal(req.service, "8080");
  assert_int_equal(async_getnameinfo(&loop, &req, on_name, (struct sockaddr *)&sin,
                                     NI_NUMERICHOST | NI_NUMERICSERV), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(calls, 1);
  assert_int_equal(got_status, 0);
  assert_string_equal(got_host, "127.0.0.1");
  assert_string_equal(got_service, "8080");
  test_loop_close(&loop);
}

static void test_getnameinfo_ipv6_and_bad_family(void **state) {
  async_loop_t loop;
  async_getnameinfo_t req;
  struct sockaddr_in6 sin6;
  struct sockaddr sa;
  (void)state;
  memset(&req, 0, sizeof(req));
  memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  sin6.sin6_port = htons(443);
  test_loop_init(&loop);
  assert_int_equal(async_getnameinfo(&loop, &req, NULL, (struct sockaddr *)&sin6,
                                     NI_NUMERICHOST | NI_NUMERICSERV), 0);
  assert_string_equal(req.host, "::1");
  assert_string_equal(req.service, "443");
  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_UNIX;
  assert_int_equal(async_getnameinfo(&loop, &req, on_name, &sa, 0), ASYNC_EINVAL);
  assert_int_equal(async_getnameinfo(&loop, &req, on_name, NULL, 0), ASYNC_EINVAL);
  assert_int_equal(async_getnameinfo(NULL, &req, on_name, (struct sockaddr *)&sin6, 0), ASYNC_EINVAL);
  assert_false(async_loop_alive(&loop));
  test_loop_close(&loop);
}

static void test_async_localhost_with_service(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  struct addrinfo hints;
  (void)state;
  calls = 0;
  memset(&req, 0, sizeof(req));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(&loop, &req, NULL, "localhost", "8080", &hints), 0);
  assert_non_null(req.addrinfo);
  assert_int_equal(ntohs(((struct sockaddr_in *)req.addrinfo->ai_addr)->sin_port), 8080);
  assert_int_equal(((struct sockaddr_in *)req.addrinfo->ai_addr)->sin_addr.s_addr,
                   htonl(INADDR_LOOPBACK));
  async_freeaddrinfo(req.addrinfo);
  assert_int_equal(async_getaddrinfo(&loop, &req, on_addr, "localhost", "8080", &hints), 0);
  assert_true(async_loop_alive(&loop)); /* the request keeps the loop running */
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(calls, 1);
  assert_int_equal(got_status, 0);
  assert_int_equal(got_family, AF_INET);
  test_loop_close(&loop);
}

/* A name in the reserved .invalid domain never resolves. Without a reachable
 * name server the resolver may say "try again" instead: both are reported as
 * the resolver's own answer, never as success. */
static void test_name_that_does_not_resolve(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  struct addrinfo hints;
  (void)state;
  calls = 0;
  memset(&req, 0, sizeof(req));
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(&loop, &req, on_addr, "no-such-host.invalid", "80", &hints), 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(calls, 1);
  assert_int_equal(got_family, -1);
  if (got_status != ASYNC_EAI_NONAME)
    print_message("resolver answered %s for a .invalid name\n", async_err_name(got_status));
  assert_true(got_status == ASYNC_EAI_NONAME || got_status == ASYNC_EAI_AGAIN ||
              got_status == ASYNC_EAI_NODATA || got_status == ASYNC_EAI_FAIL);
  test_loop_close(&loop);
}

static void test_unknown_service_and_passive(void **state) {
  async_loop_t loop;
  async_getaddrinfo_t req;
  struct addrinfo hints;
  (void)state;
  memset(&req, 0, sizeof(req));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  test_loop_init(&loop);
  assert_int_equal(async_getaddrinfo(&loop, &req, NULL, "127.0.0.1", "no-such-service-here", &hints),
                   ASYNC_EAI_SERVICE);
  assert_null(req.addrinfo);
  hints.ai_flags = AI_PASSIVE; /* no node: the wildcard address to bind */
  assert_int_equal(async_getaddrinfo(&loop, &req, NULL, NULL, "9", &hints), 0);
  assert_non_null(req.addrinfo);
  assert_int_equal(((struct sockaddr_in *)req.addrinfo->ai_addr)->sin_addr.s_addr, htonl(INADDR_ANY));
  async_freeaddrinfo(req.addrinfo);
  hints.ai_socktype = 12345; /* no such socket type */
  assert_true(async_getaddrinfo(&loop, &req, NULL, "127.0.0.1", NULL, &hints) < 0);
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_async_localhost_with_service),
  TEST(test_name_that_does_not_resolve),
  TEST(test_unknown_service_and_passive),
  TEST(test_sync_localhost),
  TEST(test_async_numeric),
  TEST(test_bad_numeric_host),
  TEST(test_getaddrinfo_bad_input),
  TEST(test_getnameinfo_sync_and_async),
  TEST(test_getnameinfo_ipv6_and_bad_family),
};

TEST_MAIN("dns", tests)
