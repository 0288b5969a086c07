/* The error table: names, messages and the errno mapping. */
#include "helper.h"

#include <errno.h>
#include <string.h>

#define ROW(name, msg) {ASYNC_##name, #name, msg},
static const struct {
  int code;
  const char *name;
  const char *msg;
} rows[] = {ASYNC_ERRNO_MAP(ROW)};
#undef ROW
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void test_every_code_named(void **state) {
  (void)state;
  for (size_t i = 0; i < NROWS; i++) {
    assert_string_equal(async_err_name(rows[i].code), rows[i].name);
    assert_string_equal(async_strerror(rows[i].code), rows[i].msg);
  }
}

static void test_codes_distinct_and_negative(void **state) {
  (void)state;
  for (size_t i = 0; i < NROWS; i++) {
    assert_true(rows[i].code < 0);
    for (size_t j = i + 1; j < NROWS; j++)
      assert_int_not_equal(rows[i].code, rows[j].code);
  }
}

static void test_unknown_codes(void **state) {
  (void)state;
  assert_string_equal(async_err_name(0), "UNKNOWN");
  assert_string_equal(async_err_name(-123456), "UNKNOWN");
  assert_string_equal(async_strerror(-123456), "unknown error");
  assert_non_null(async_strerror(1));
}

static void test_unix_codes_are_negated_errno(void **state) {
  (void)state;
  assert_int_equal(ASYNC_EAGAIN, -EAGAIN);
  assert_int_equal(ASYNC_EBADF, -EBADF);
  assert_int_equal(ASYNC_ENOTSUP, -ENOTSUP);
  assert_int_equal(ASYNC_ERANGE, -ERANGE);
  assert_int_equal(ASYNC_EPIPE, -EPIPE);
  assert_true(ASYNC_EOF < -4000);
  assert_true(ASYNC_EAI_NONAME <= -3000 && ASYNC_EAI_NONAME > -4000);
}

static void test_translate(void **state) {
  (void)state;
  assert_int_equal(async_translate_sys_error(0), 0);
  assert_int_equal(async_translate_sys_error(EAGAIN), ASYNC_EAGAIN);
  assert_int_equal(async_translate_sys_error(EMFILE), ASYNC_EMFILE);
  assert_int_equal(async_translate_sys_error(ASYNC_EINVAL), ASYNC_EINVAL);
}

static const struct CMUnitTest tests[] = {
  TEST(test_every_code_named),
  TEST(test_codes_distinct_and_negative),
  TEST(test_unknown_codes),
  TEST(test_unix_codes_are_negated_errno),
  TEST(test_translate),
};

TEST_MAIN("error", tests)
