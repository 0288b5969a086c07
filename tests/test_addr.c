/* The address and buffer helpers: text to sockaddr and back, and their
 * refusals. No loop is involved. */
#include "helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void test_ip4_round_trip(void **state) {
  struct sockaddr_in a;
  char name[ASYNC_IP_NAME_MAX];
  (void)state;
  memset(&a, 0x5a, sizeof(a));
  assert_int_equal(async_ip4_addr("192.0.2.7", 8080, &a), 0);
  assert_int_equal(a.sin_family, AF_INET);
  assert_int_equal(ntohs(a.sin_port), 8080);
  assert_int_equal(ntohl(a.sin_addr.s_addr), 0xc0000207u);
  assert_int_equal(async_ip_port((struct sockaddr *)&a), 8080);
  assert_int_equal(async_ip_name((struct sockaddr *)&a, name, sizeof(name)), 0);
  assert_string_equal(name, "192.0.2.7");
  assert_int_equal(async_ip4_addr("0.0.0.0", 0, &a), 0);
  assert_int_equal(async_ip_port((struct sockaddr *)&a), 0);
  assert_int_equal(async_ip4_addr("255.255.255.255", 65535, &a), 0);
  assert_int_equal(async_ip_port((struct sockaddr *)&a), 65535);
}

static void test_ip6_round_trip(void **state) {
  struct sockaddr_in6 a;
  char name[ASYNC_IP_NAME_MAX];
  static const char longest[] = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
  (void)state;
  assert_int_equal(async_ip6_addr("2001:db8::1", 443, &a), 0);
  assert_int_equal(a.sin6_family, AF_INET6);
  assert_int_equal(async_ip_port((struct sockaddr *)&a), 443);
  assert_int_equal(a.sin6_scope_id, 0);
  assert_int_equal(async_ip_name((struct sockaddr *)&a, name, sizeof(name)), 0);
  assert_string_equal(name, "2001:db8::1");
  /* A numeric scope is taken as it is; the text of the name has none. */
  assert_int_equal(async_ip6_addr("fe80::1%3", 1, &a), 0);
  assert_int_equal(a.sin6_scope_id, 3);
  assert_int_equal(async_ip_name((struct sockaddr *)&a, name, sizeof(name)), 0);
  assert_string_equal(name, "fe80::1");
  /* The longest text an address can have fits ASYNC_IP_NAME_MAX. */
  assert_int_equal(sizeof(longest), ASYNC_IP_NAME_MAX);
  assert_int_equal(async_ip6_addr(longest, 0, &a), 0);
  assert_int_equal(async_ip_name((struct sockaddr *)&a, name, sizeof(name)), 0);
  assert_string_equal(name, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"); /* 8 groups */
}

static void test_bad_text_refused(void **state) {
  struct sockaddr_in a, before;
  struct sockaddr_in6 b, before6;
  (void)state;
  memset(&a, 0x5a, sizeof(a));
  memcpy(&before, &a, sizeof(a));
  memset(&b, 0x5a, sizeof(b));
  memcpy(&before6, &b, sizeof(b));
  assert_int_equal(async_ip4_addr("1.2.3", 80, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr("1.2.3.256", 80, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr("::1", 80, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr("localhost", 80, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr("1.2.3.4", -1, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr("1.2.3.4", 65536, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr(NULL, 80, &a), ASYNC_EINVAL);
  assert_int_equal(async_ip4_addr("1.2.3.4", 80, NULL), ASYNC_EINVAL);
  assert_memory_equal(&a, &before, sizeof(a));
  assert_int_equal(async_ip6_addr("1.2.3.4", 80, &b), ASYNC_EINVAL);
  assert_int_equal(async_ip6_addr("2001:db8::1::2", 80, &b), ASYNC_EINVAL);
  assert_int_equal(async_ip6_addr("::1%", 80, &b), ASYNC_EINVAL);
  assert_int_equal(async_ip6_addr("::1%no-such-interface", 80, &b), ASYNC_EINVAL);
  assert_int_equal(async_ip6_addr("::1", 65536, &b), ASYNC_EINVAL);
  assert_int_equal(async_ip6_addr(NULL, 80, &b), ASYNC_EINVAL);
  assert_int_equal(async_ip6_addr("::1", 80, NULL), ASYNC_EINVAL);
  assert_memory_equal(&b, &before6, sizeof(b));
}

static void test_name_refusals(void **state) {
  struct sockaddr_in a;
  struct sockaddr_storage other;
  char name[ASYNC_IP_NAME_MAX];
  (void)state;
  assert_int_equal(async_ip4_addr("192.0.2.7", 1, &a), 0);
  memset(name, 'x', sizeof(name));
  /* "192.0.2.7" needs 10 bytes: 9 is too few, and dst is left alone. */
  assert_int_equal(async_ip_name((struct sockaddr *)&a, name, 9), ASYNC_ENOSPC);
  assert_int_equal(name[0], 'x');
  assert_int_equal(async_ip_name((struct sockaddr *)&a, name, 10), 0);
  assert_string_equal(name, "192.0.2.7");
  memset(&other, 0, sizeof(other));
  other.ss_family = AF_UNIX;
  assert_int_equal(async_ip_name((struct sockaddr *)&other, name, sizeof(name)), ASYNC_EINVAL);
  assert_int_equal(async_ip_port((struct sockaddr *)&other), ASYNC_EINVAL);
  assert_int_equal(async_ip_name(NULL, name, sizeof(name)), ASYNC_EINVAL);
  assert_int_equal(async_ip_name((struct sockaddr *)&a, NULL, 10), ASYNC_EINVAL);
  assert_int_equal(async_ip_port(NULL), ASYNC_EINVAL);
}

static void test_buf_init(void **state) {
  char bytes[4];
  async_buf_t b = async_buf_init(bytes, sizeof(bytes));
  (void)state;
  assert_ptr_equal(b.base, bytes);
  assert_int_equal(b.len, 4);
  b = async_buf_init(NULL, 0);
  assert_null(b.base);
  assert_int_equal(b.len, 0);
}

static const struct CMUnitTest tests[] = {
  cmocka_unit_test(test_ip4_round_trip),
  cmocka_unit_test(test_ip6_round_trip),
  cmocka_unit_test(test_bad_text_refused),
  cmocka_unit_test(test_name_refusals),
  cmocka_unit_test(test_buf_init),
};

TEST_MAIN("addr", tests)
