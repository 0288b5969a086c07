/* The example programs and the guide that quotes them.
 *
 * - Every ```c block of docs/guide.md is a quotation of the examples file
 *   named last in the prose before it (a path like examples/guide-timer.c):
 *   its lines, without the blank lines at either end, appear verbatim and
 *   in order in that file. A line that is only an elision comment, slash
 *   star, three dots, star slash (indentation allowed), stands for any
 *   number of lines left out.
 * - Every guide program is quoted by at least one block.
 * - README.md's C block is examples/readme.c, verbatim.
 * - Every example, run with ASYNC_BACKEND=nosuch, prints the line
 *   "unknown backend 'nosuch' (built: <async_backends() names>)" and exits
 *   with a non-zero status.
 *
 * meson sets $ASYNC_TEST_SOURCE_ROOT, $ASYNC_TEST_EXAMPLES_DIR (the built
 * programs), $ASYNC_TEST_EXAMPLES (commands separated by commas, each a
 * program name and its arguments separated by spaces) and
 * $ASYNC_TEST_GUIDE_PROGRAMS (the guide's program names, by commas). */
#include "helper.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ELISION "/* ... */"

/* A file read whole and cut into lines (no '\n' or '\r' kept). */
struct text {
  char *data;
  char **line;
  size_t n;
};

static const char *env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0')
    fail_msg("$%s is not set (run through meson test)", name);
  return v;
}

static char *path_join(const char *dir, const char *name) {
  size_t len = strlen(dir) + 1 + strlen(name) + 1;
  char *p = malloc(len);
  assert_non_null(p);
  snprintf(p, len, "%s/%s", dir, name);
  return p;
}

/* 0, or -1 if the file cannot be read. */
static int text_load(struct text *t, const char *path) {
  FILE *f = fopen(path, "rb");
  long size;
  memset(t, 0, sizeof(*t));
  if (f == NULL)
    return -1;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  t->data = malloc((size_t)size + 1);
  t->line = malloc(((size_t)size + 1) * sizeof(char *));
  assert_non_null(t->data);
  assert_non_null(t->line);
  assert_int_equal(fread(t->data, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  t->data[size] = '\0';
  for (char *p = t->data; *p != '\0';) {
    char *nl = strchr(p, '\n');
    t->line[t->n++] = p;
    if (nl == NULL)
      break;
    *nl = '\0';
    if (nl > p && nl[-1] == '\r')
      nl[-1] = '\0';
    p = nl + 1;
  }
  return 0;
}

static void text_free(struct text *t) {
  free(t->data);
  free(t->line);
}

static int blank(const char *s) {
  return s[strspn(s, " \t")] == '\0';
}

static int is_elision(const char *s) {
  size_t len = strlen(ELISION);
  s += strspn(s, " \t");
  return strncmp(s, ELISION, len) == 0 && blank(s + len);
}

/* The last examples/NAME.c or examples/NAME.h on the line, copied into
 * name; 1 if there is one. */
static int last_example_path(const char *line, char *name, size_t size) {
  const char *p = line;
  int found = 0;
  while ((p = strstr(p, "examples/")) != NULL) {
    size_t len = strlen("examples/");
    while (p[len] != '\0' && (strchr("-_.", p[len]) != NULL ||
                              (p[len] >= 'a' && p[len] <= 'z') || (p[len] >= 'A' && p[len] <= 'Z') ||
                              (p[len] >= '0' && p[len] <= '9')))
      len++;
    while (len > 0 && p[len - 1] == '.') /* a full stop after the name */
      len--;
    if (len > 2 && p[len - 2] == '.' && (p[len - 1] == 'c' || p[len - 1] == 'h') &&
        len < size) {
      memcpy(name, p, len);
      name[len] = '\0';
      found = 1;
    }
    p += len;
  }
  return found;
}

/* Finds the lines seg[0..n) as a run in file at or after *from; on success
 * moves *from past it and returns 1. Otherwise reports, at the place that
 * matched the most lines, the first line that differs, and returns 0. */
static int find_run(const struct text *file, size_t *from, char **seg, size_t n,
                    const char *where, size_t block_line) {
  size_t best = 0, best_at = *from;
  for (size_t at = *from; at + n <= file->n; at++) {
    size_t k = 0;
    while (k < n && strcmp(file->line[at + k], seg[k]) == 0)
      k++;
    if (k == n) {
      *from = at + n;
      return 1;
    }
    if (k > best) {
      best = k;
      best_at = at;
    }
  }
  print_error("docs/guide.md:%zu: not in %s as quoted\n", block_line + best, where);
  print_error("  guide: %s\n", seg[best]);
  if (best > 0 && best_at + best < file->n)
    print_error("  file:  %s (line %zu, after %zu matching lines)\n", file->line[best_at + best],
                best_at + best + 1, best);
  return 0;
}

/* Checks one block (lines [first, last) of the guide) against its file. */
static int check_block(const struct text *guide, size_t first, size_t last, const char *root,
                       const char *name, void *arg) {
  struct text file;
  char *path = path_join(root, name);
  size_t from = 0, i = first;
  int ok = 1;
  (void)arg;
  if (text_load(&file, path) != 0) {
    print_error("docs/guide.md:%zu: %s cannot be read\n", first, name);
    free(path);
    return 0;
  }
  while (i < last && blank(guide->line[i]))
    i++;
  while (last > i && blank(guide->line[last - 1]))
    last--;
  if (i == last) {
    print_error("docs/guide.md:%zu: empty block\n", first);
    ok = 0;
  }
  while (ok && i < last) {
    size_t end = i;
    while (end < last && !is_elision(guide->line[end]))
      end++;
    if (end > i)
      ok = find_run(&file, &from, guide->line + i, end - i, name, i + 1);
    i = end < last ? end + 1 : end;
  }
  text_free(&file);
  free(path);
  return ok;
}

/* Calls visit(guide, first, last, root, name, arg) for each ```c block, its
 * lines [first, last) and the file it quotes; counts in *bad the blocks that
 * name no file or that visit refuses (returns 0). Returns the blocks seen. */
typedef int (*block_fn)(const struct text *guide, size_t first, size_t last, const char *root,
                        const char *name, void *arg);

static int each_block(const struct text *guide, const char *root, block_fn visit, void *arg,
                      int *bad) {
  char name[256] = "";
  int blocks = 0;
  for (size_t i = 0; i < guide->n; i++) {
    const char *l = guide->line[i];
    size_t end;
    if (strncmp(l, "```", 3) != 0) {
      char found[256];
      if (last_example_path(l, found, sizeof(found)))
        strcpy(name, found);
      continue;
    }
    for (end = i + 1; end < guide->n && strncmp(guide->line[end], "```", 3) != 0; end++)
      ;
    if (strcmp(l, "```c") == 0) {
      blocks++;
      if (name[0] == '\0') {
        print_error("docs/guide.md:%zu: a C block before any examples/ file is named\n", i + 1);
        (*bad)++;
      } else if (!visit(guide, i + 1, end, root, name, arg)) {
        (*bad)++;
      }
    }
    i = end; /* the closing fence */
  }
  return blocks;
}

static void load_guide(struct text *guide, const char **root) {
  char *path;
  *root = env("ASYNC_TEST_SOURCE_ROOT");
  path = path_join(*root, "docs/guide.md");
  if (text_load(guide, path) != 0)
    fail_msg("cannot read %s", path);
  free(path);
}

static void test_guide_blocks_are_quotes(void **state) {
  struct text guide;
  const char *root;
  int bad = 0, blocks;
  (void)state;
  load_guide(&guide, &root);
  blocks = each_block(&guide, root, check_block, NULL, &bad);
  text_free(&guide);
  assert_true(blocks > 0);
  if (bad != 0)
    fail_msg("%d of %d C blocks of docs/guide.md are not in the file they name", bad, blocks);
}

/* A guide program and how many blocks quote examples/<name>.c. */
struct wanted {
  const char *name;
  int quoted;
};

static int count_quote(const struct text *guide, size_t first, size_t last, const char *root,
                       const char *name, void *arg) {
  struct wanted *w = arg;
  char path[256];
  (void)guide;
  (void)first;
  (void)last;
  (void)root;
  snprintf(path, sizeof(path), "examples/%s.c", w->name);
  w->quoted += strcmp(name, path) == 0;
  return 1;
}

static void test_guide_quotes_every_program(void **state) {
  struct text guide;
  const char *root;
  char *names = strdup(env("ASYNC_TEST_GUIDE_PROGRAMS")), *save = NULL;
  int missing = 0, bad = 0;
  (void)state;
  assert_non_null(names);
  load_guide(&guide, &root);
  for (char *n = strtok_r(names, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save)) {
    struct wanted w = {n, 0};
    each_block(&guide, root, count_quote, &w, &bad);
    if (w.quoted == 0) {
      print_error("docs/guide.md quotes nothing of examples/%s.c\n", n);
      missing++;
    }
  }
  text_free(&guide);
  free(names);
  assert_int_equal(missing, 0);
}

/* Runs dir/argv[0] with ASYNC_BACKEND=nosuch; its output (both streams)
 * goes into out. Returns the wait status. */
static int run_nosuch(const char *dir, char **argv, char *out, size_t size) {
  int fds[2], status;
  size_t len = 0;
  ssize_t n;
  pid_t pid;
  char *path = path_join(dir, argv[0]);
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    setenv("ASYNC_BACKEND", "nosuch", 1);
    alarm(20); /* kept across exec: a program that ignores the error does not hang the test */
    execv(path, argv);
    _exit(126);
  }
  close(fds[1]);
  for (;;) {
    char spill[512]; /* past size: read on, so the program never blocks on a full pipe */
    n = len + 1 < size ? read(fds[0], out + len, size - 1 - len) : read(fds[0], spill, sizeof(spill));
    if (n <= 0)
      break;
    if (len + 1 < size)
      len += (size_t)n;
  }
  out[len] = '\0';
  close(fds[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  free(path);
  return status;
}

static void test_unknown_backend_named(void **state) {
  char expected[256], out[16384];
  char *cmds = strdup(env("ASYNC_TEST_EXAMPLES")), *save = NULL;
  const char *dir = env("ASYNC_TEST_EXAMPLES_DIR");
  const async_backend_info_t *b;
  size_t n, len;
  int bad = 0, programs = 0;
  (void)state;
  assert_non_null(cmds);
  b = async_backends(&n);
  len = (size_t)snprintf(expected, sizeof(expected), "unknown backend 'nosuch' (built: ");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(expected + len, sizeof(expected) - len, "%s%s", i > 0 ? ", " : "",
                            b[i].name);
  snprintf(expected + len, sizeof(expected) - len, ")");
  for (char *c = strtok_r(cmds, ",", &save); c != NULL; c = strtok_r(NULL, ",", &save)) {
    char *argv[8], *wsave = NULL, *line, *lsave = NULL;
    int argc = 0, status, said = 0;
    for (char *w = strtok_r(c, " ", &wsave); w != NULL && argc < 7; w = strtok_r(NULL, " ", &wsave))
      argv[argc++] = w;
    argv[argc] = NULL;
    if (argc == 0)
      continue;
    programs++;
    status = run_nosuch(dir, argv, out, sizeof(out));
    for (line = strtok_r(out, "\n", &lsave); line != NULL; line = strtok_r(NULL, "\n", &lsave))
      said |= strcmp(line, expected) == 0;
    if (!said || !WIFEXITED(status) || WEXITSTATUS(status) == 0) {
      print_error("%s with ASYNC_BACKEND=nosuch: %s, %s %d; expected the line \"%s\" and a "
                  "non-zero exit\n", argv[0], said ? "said so" : "did not say so",
                  WIFEXITED(status) ? "exit status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), expected);
      bad++;
    }
  }
  free(cmds);
  assert_true(programs > 0);
  assert_int_equal(bad, 0);
}

/* README.md's first C block is examples/readme.c, which meson builds as a
 * user would (strict C11): the README shows a program that compiles. */
static void test_readme_block_is_readme_c(void **state) {
  struct text readme;
  const char *root = env("ASYNC_TEST_SOURCE_ROOT");
  char *path = path_join(root, "README.md");
  size_t i = 0, end;
  (void)state;
  if (text_load(&readme, path) != 0)
    fail_msg("cannot read %s", path);
  free(path);
  while (i < readme.n && strcmp(readme.line[i], "```c") != 0)
    i++;
  assert_true(i < readme.n);
  for (end = i + 1; end < readme.n && strncmp(readme.line[end], "```", 3) != 0; end++)
    ;
  assert_true(check_block(&readme, i + 1, end, root, "examples/readme.c", NULL));
  text_free(&readme);
}

static const struct CMUnitTest tests[] = {
  TEST(test_guide_blocks_are_quotes),
  TEST(test_guide_quotes_every_program),
  TEST(test_unknown_backend_named),
  TEST(test_readme_block_is_readme_c),
};

TEST_MAIN("examples", tests)
