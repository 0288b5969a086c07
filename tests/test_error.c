/* The error table: names, messages and the errno mapping. */
#include "helper.h"

#include <errno.h>
#include <limits.h>
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

/* Unix: the codes are negated errno values (Windows: test_error_win.c). */
#if !defined(_WIN32)
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
}

/* Every code that is an errno value on Unix, with that value. */
static const struct {
  int code;
  int sys;
} errno_rows[] = {
  {ASYNC_E2BIG, E2BIG}, {ASYNC_EACCES, EACCES}, {ASYNC_EADDRINUSE, EADDRINUSE},
  {ASYNC_EADDRNOTAVAIL, EADDRNOTAVAIL}, {ASYNC_EAFNOSUPPORT, EAFNOSUPPORT},
  {ASYNC_EAGAIN, EAGAIN}, {ASYNC_EALREADY, EALREADY}, {ASYNC_EBADF, EBADF},
  {ASYNC_EBUSY, EBUSY}, {ASYNC_ECANCELED, ECANCELED}, {ASYNC_ECONNABORTED, ECONNABORTED},
  {ASYNC_ECONNREFUSED, ECONNREFUSED}, {ASYNC_ECONNRESET, ECONNRESET}, {ASYNC_EEXIST, EEXIST},
  {ASYNC_EFAULT, EFAULT}, {ASYNC_EHOSTUNREACH, EHOSTUNREACH}, {ASYNC_EINTR, EINTR},
  {ASYNC_EINVAL, EINVAL}, {ASYNC_EIO, EIO}, {ASYNC_EISCONN, EISCONN}, {ASYNC_EISDIR, EISDIR},
  {ASYNC_ELOOP, ELOOP}, {ASYNC_EMFILE, EMFILE}, {ASYNC_EMSGSIZE, EMSGSIZE},
  {ASYNC_ENAMETOOLONG, ENAMETOOLONG}, {ASYNC_ENETDOWN, ENETDOWN},
  {ASYNC_ENETUNREACH, ENETUNREACH}, {ASYNC_ENFILE, ENFILE}, {ASYNC_ENOBUFS, ENOBUFS},
  {ASYNC_ENODEV, ENODEV}, {ASYNC_ENOENT, ENOENT}, {ASYNC_ENOMEM, ENOMEM},
  {ASYNC_ENOSPC, ENOSPC}, {ASYNC_ENOSYS, ENOSYS}, {ASYNC_ENOTCONN, ENOTCONN},
  {ASYNC_ENOTDIR, ENOTDIR}, {ASYNC_ENOTEMPTY, ENOTEMPTY}, {ASYNC_ENOTSOCK, ENOTSOCK},
  {ASYNC_ENOTSUP, ENOTSUP}, {ASYNC_ENXIO, ENXIO}, {ASYNC_EOVERFLOW, EOVERFLOW},
  {ASYNC_EPERM, EPERM}, {ASYNC_EPIPE, EPIPE}, {ASYNC_EPROTO, EPROTO},
  {ASYNC_EPROTONOSUPPORT, EPROTONOSUPPORT}, {ASYNC_EPROTOTYPE, EPROTOTYPE},
  {ASYNC_ERANGE, ERANGE}, {ASYNC_EROFS, EROFS}, {ASYNC_ESPIPE, ESPIPE}, {ASYNC_ESRCH, ESRCH},
  {ASYNC_ETIMEDOUT, ETIMEDOUT}, {ASYNC_ETXTBSY, ETXTBSY}, {ASYNC_EXDEV, EXDEV},
};
#define NERRNO (sizeof(errno_rows) / sizeof(errno_rows[0]))

static void test_every_errno_code_is_negated_errno(void **state) {
  (void)state;
  /* The table covers every row of the map but EOF and the EAI_ ones. */
  assert_int_equal(NERRNO, NROWS - 1 - 12);
  for (size_t i = 0; i < NERRNO; i++)
    assert_int_equal(errno_rows[i].code, -errno_rows[i].sys);
}

static void test_translate_every_errno(void **state) {
  (void)state;
  for (size_t i = 0; i < NERRNO; i++)
    assert_int_equal(async_translate_sys_error(errno_rows[i].sys), errno_rows[i].code);
}

#endif

static void test_fixed_values(void **state) {
  (void)state;
  assert_int_equal(ASYNC_EOF, -4095);
  assert_int_equal(ASYNC_EAI_ADDRFAMILY, -3000);
  assert_int_equal(ASYNC_EAI_AGAIN, -3001);
  assert_int_equal(ASYNC_EAI_CANCELED, -3003);
  assert_int_equal(ASYNC_EAI_NONAME, -3008);
  assert_int_equal(ASYNC_EAI_SOCKTYPE, -3011);
  assert_string_equal(async_err_name(ASYNC_EOF), "EOF");
  assert_string_equal(async_strerror(ASYNC_EOF), "end of file");
  assert_string_equal(async_err_name(ASYNC_EAI_NONAME), "EAI_NONAME");
  assert_string_equal(async_err_name(ASYNC_EAGAIN), "EAGAIN");
  assert_string_equal(async_strerror(ASYNC_EINVAL), "invalid argument");
}

static void test_names_distinct_messages_present(void **state) {
  (void)state;
  for (size_t i = 0; i < NROWS; i++) {
    const char *name = async_err_name(rows[i].code);
    const char *msg = async_strerror(rows[i].code);
    assert_non_null(name);
    assert_non_null(msg);
    assert_true(name[0] == 'E');
    assert_true(strlen(msg) > 0);
    assert_string_not_equal(msg, "unknown error");
    for (size_t j = i + 1; j < NROWS; j++)
      assert_string_not_equal(name, async_err_name(rows[j].code));
  }
}

static void test_unknown_codes_around_the_table(void **state) {
  static const int odd[] = {1, 4096, -4096, -4094, -2999, -3012, INT_MIN, INT_MAX, -100000};
  (void)state;
  for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
    assert_string_equal(async_err_name(odd[i]), "UNKNOWN");
    assert_string_equal(async_strerror(odd[i]), "unknown error");
  }
  assert_non_null(async_strerror(0));
  assert_non_null(async_err_name(0));
}

static const struct CMUnitTest tests[] = {
  TEST(test_every_code_named),
  TEST(test_codes_distinct_and_negative),
  TEST(test_unknown_codes),
#if !defined(_WIN32)
  TEST(test_unix_codes_are_negated_errno),
  TEST(test_translate),
  TEST(test_every_errno_code_is_negated_errno),
  TEST(test_translate_every_errno),
#endif
  TEST(test_fixed_values),
  TEST(test_names_distinct_messages_present),
  TEST(test_unknown_codes_around_the_table),
};

TEST_MAIN("error", tests)
