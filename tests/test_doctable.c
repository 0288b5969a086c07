/* docs/platforms.md against the build: the "Built today" table of this
 * platform has a column for every compiled-in backend, and every cell that
 * says yes or no agrees with what async_backends() reports. Cells that
 * depend on the machine (epoll's sub-ms waits) say neither and are skipped.
 * The file comes from $ASYNC_TEST_DOC (set by meson). */
#include "helper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
# define SECTION "## Built today (Windows)"
#elif defined(__linux__)
/* A build with the kqueue backend over libkqueue has a table of its own. */
# define SECTION (test_libkqueue() ? "## Built today (Linux, kqueue over libkqueue)" : "## Built today (Linux)")
#else
# define SECTION NULL
#endif

#define MAXCOLS 8

static char *trim(char *s) {
  char *e;
  while (*s == ' ')
    s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

/* Splits "| a | b |" into cells; returns their count. */
static int cells(char *line, char *out[], int max) {
  int n = 0;
  char *p = strchr(line, '|');
  while (p != NULL && n < max) {
    char *q = strchr(p + 1, '|');
    if (q == NULL)
      break;
    *q = '\0';
    out[n++] = trim(p + 1);
    p = q;
  }
  return n;
}

static unsigned cap_bit(const char *name) {
  for (unsigned b = 1; b != 0 && b <= (unsigned)ASYNC_CAP_LAST_; b <<= 1)
    if (async_cap_name(b) != NULL && strcmp(async_cap_name(b), name) == 0)
      return b;
  return 0;
}

/* The bits a row is about: every `name` in its first cell that is a cap. */
static unsigned row_bits(const char *first) {
  unsigned bits = 0;
  const char *p = first;
  char name[32];
  while ((p = strchr(p, '`')) != NULL) {
    const char *q = strchr(p + 1, '`');
    size_t len;
    if (q == NULL)
      break;
    len = (size_t)(q - p - 1);
    if (len < sizeof(name)) {
      memcpy(name, p + 1, len);
      name[len] = '\0';
      bits |= cap_bit(name);
    }
    p = q + 1;
  }
  return bits;
}

/* 1 on, 0 off, -1 says neither. */
static int cell_value(const char *c) {
  if (strncmp(c, "yes", 3) == 0 || strncmp(c, "sockets", 7) == 0 || (*c >= '0' && *c <= '9'))
    return 1;
  if (strncmp(c, "no", 2) == 0 || strncmp(c, "not built", 9) == 0)
    return 0;
  return -1;
}

static const async_backend_info_t *backend_named(const char *col) {
  size_t n;
  const async_backend_info_t *b = async_backends(&n);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(b[i].name);
    if (strncmp(col, b[i].name, len) == 0 && (col[len] == '\0' || col[len] == ' '))
      return &b[i];
  }
  return NULL;
}

static void test_table_matches_build(void **state) {
  const char *path = getenv("ASYNC_TEST_DOC");
  const async_backend_info_t *cols[MAXCOLS];
  char line[1024], *c[MAXCOLS + 1];
  int in_section = 0, ncols = 0, checked = 0;
  size_t nbackends;
  FILE *f;
  (void)state;
  if (SECTION == NULL)
    skip(); /* no table for this platform yet */
  assert_non_null(path);
  f = fopen(path, "r");
  assert_non_null(f);
  async_backends(&nbackends);
  while (fgets(line, sizeof(line), f) != NULL) {
    int n;
    if (strncmp(line, "## ", 3) == 0) {
      if (in_section)
        break;
      in_section = strncmp(line, SECTION, strlen(SECTION)) == 0 && line[strlen(SECTION)] == '\n';
      continue;
    }
    if (!in_section || line[0] != '|' || strncmp(line, "|---", 4) == 0)
      continue;
    n = cells(line, c, MAXCOLS + 1);
    if (ncols == 0) { /* the header: one column per backend */
      ncols = n - 1;
      assert_int_equal((size_t)ncols, nbackends);
      for (int i = 0; i < ncols; i++) {
        cols[i] = backend_named(c[i + 1]);
        if (cols[i] == NULL)
          fail_msg("column '%s' is no compiled-in backend", c[i + 1]);
      }
      continue;
    }
    assert_int_equal(n, ncols + 1);
    unsigned bits = row_bits(c[0]);
    if (bits == 0)
      fail_msg("row '%s' names no capability", c[0]);
    for (int i = 0; i < ncols; i++) {
      int v = cell_value(c[i + 1]);
      if (v < 0)
        continue;
      if (((cols[i]->caps & bits) == bits) != v && !(v == 0 && (cols[i]->caps & bits) == 0))
        fail_msg("%s: '%s' says %s, the build says 0x%x", cols[i]->name, c[0], c[i + 1],
                 cols[i]->caps & bits);
      checked++;
    }
  }
  fclose(f);
  assert_true(ncols > 0);
  assert_true(checked >= 10 * ncols);
}

static const struct CMUnitTest tests[] = {
  TEST(test_table_matches_build),
};

TEST_MAIN("doctable", tests)
