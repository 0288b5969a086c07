/* docs/api.md against include/async.h: every ASYNC_EXTERN declaration of the
 * header appears, whitespace aside, in a ```c block of the reference, and
 * every function declared in such a block is one the header declares with
 * the same signature. A reference that lags behind the header (a function
 * added, a parameter renamed) or runs ahead of it (a function removed) fails
 * here, listing each declaration that differs. The two files come from
 * $ASYNC_TEST_HEADER and $ASYNC_TEST_API_DOC (set by meson). */
#include "helper.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A declaration, whitespace-normalised, and the function's name. */
struct decl {
  char *text;
  char name[128];
};

struct decls {
  struct decl *v;
  size_t len, cap;
};

static char *read_file(const char *path) {
  FILE *f;
  char *buf;
  long size;
  size_t got;
  if (path == NULL || (f = fopen(path, "rb")) == NULL)
    return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
      (buf = malloc((size_t)size + 1)) == NULL) {
    fclose(f);
    return NULL;
  }
  got = fread(buf, 1, (size_t)size, f);
  fclose(f);
  buf[got] = '\0';
  return buf;
}

static int is_ident(int c) { return isalnum((unsigned char)c) || c == '_'; }

/* Comments become a space and preprocessor lines (with their backslash
 * continuations) vanish, so that the macros that build the header's structs,
 * whose bodies hold semicolons and even ASYNC_EXTERN's own definitions,
 * cannot be taken for declarations. String and character literals are
 * copied as they are. */
static char *strip(const char *in) {
  char *out = malloc(strlen(in) + 1), *o = out;
  int line_start = 1;
  if (out == NULL)
    return NULL;
  while (*in != '\0') {
    if (line_start) {
      const char *p = in;
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '#') {
        while (*p != '\0' &&
               (*p != '\n' || p[-1] == '\\' || (p[-1] == '\r' && p[-2] == '\\')))
          p++;
        in = p;
        continue;
      }
    }
    if (in[0] == '/' && in[1] == '*') {
      const char *end = strstr(in + 2, "*/");
      in = end != NULL ? end + 2 : in + strlen(in);
      *o++ = ' ';
      line_start = 0;
      continue;
    }
    if (in[0] == '/' && in[1] == '/') {
      while (*in != '\0' && *in != '\n')
        in++;
      continue;
    }
    if (*in == '"' || *in == '\'') {
      char q = *in;
      *o++ = *in++;
      while (*in != '\0' && *in != q && *in != '\n') {
        if (*in == '\\' && in[1] != '\0')
          *o++ = *in++;
        *o++ = *in++;
      }
      if (*in == q)
        *o++ = *in++;
      line_start = 0;
      continue;
    }
    line_start = *in == '\n';
    *o++ = *in++;
  }
  *o = '\0';
  return out;
}

/* One space between words and none inside parentheses, before a comma or
 * before an opening parenthesis, so that a declaration wrapped over lines
 * reads as the same text as one on a single line. */
static char *normalise(const char *s, size_t len) {
  char *out = malloc(len + 1), *o = out;
  int space = 0;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (isspace((unsigned char)c)) {
      space = o != out;
      continue;
    }
    if (space && c != ')' && c != ',' && c != '(' && c != '[' && c != ']' && o[-1] != '(' &&
        o[-1] != '[')
      *o++ = ' ';
    space = 0;
    *o++ = c;
  }
  *o = '\0';
  return out;
}

/* The name of a function declaration "type name(params)", or 0 if text is
 * not one: a typedef, a variable, a call, an initialiser. */
static int function_name(const char *text, char *name, size_t size) {
  const char *paren = strchr(text, '('), *start;
  size_t len;
  if (paren == NULL || paren == text || strchr(text, '=') != NULL ||
      text[strlen(text) - 1] != ')' || strncmp(text, "typedef ", 8) == 0)
    return 0;
  start = paren;
  while (start > text && is_ident(start[-1]))
    start--;
  len = (size_t)(paren - start);
  if (len == 0 || len >= size || isdigit((unsigned char)*start))
    return 0;
  /* a return type before the name: at least one word, maybe pointers */
  for (const char *p = text; p < start; p++)
    if (!is_ident(*p) && *p != ' ' && *p != '*')
      return 0;
  if (start == text)
    return 0;
  memcpy(name, start, len);
  name[len] = '\0';
  return 1;
}

static int push(struct decls *d, char *text, const char *name) {
  if (d->len == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    struct decl *v = realloc(d->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    d->v = v;
    d->cap = cap;
  }
  d->v[d->len].text = text;
  snprintf(d->v[d->len].name, sizeof(d->v[d->len].name), "%s", name);
  d->len++;
  return 0;
}

static void decls_free(struct decls *d) {
  for (size_t i = 0; i < d->len; i++)
    free(d->v[i].text);
  free(d->v);
  memset(d, 0, sizeof(*d));
}

/* Every ASYNC_EXTERN declaration of the header, without ASYNC_EXTERN. A
 * declaration that does not parse as a function is kept with an empty name,
 * so that the comparison reports it instead of skipping it. */
static int header_decls(const char *header, struct decls *out) {
  char *code = strip(header);
  const char *p;
  static const char key[] = "ASYNC_EXTERN";
  if (code == NULL)
    return -1;
  for (p = strstr(code, key); p != NULL; p = strstr(p, key)) {
    const char *semi;
    char *text, name[128];
    if ((p > code && is_ident(p[-1])) || is_ident(p[sizeof(key) - 1])) {
      p += sizeof(key) - 1;
      continue;
    }
    p += sizeof(key) - 1;
    semi = strchr(p, ';');
    if (semi == NULL)
      break;
    text = normalise(p, (size_t)(semi - p));
    if (text == NULL || push(out, text, function_name(text, name, sizeof(name)) ? name : "") != 0) {
      free(text);
      free(code);
      return -1;
    }
    p = semi + 1;
  }
  free(code);
  return 0;
}

/* The function declarations of one ```c block: statements at brace depth 0
 * (struct and enum bodies skipped, function bodies of examples dropped)
 * that declare a public function (async_...). */
static int block_decls(const char *block, size_t len, struct decls *out) {
  char *raw = malloc(len + 1), *code;
  size_t start = 0;
  int depth = 0, body = 0;
  if (raw == NULL)
    return -1;
  memcpy(raw, block, len);
  raw[len] = '\0';
  code = strip(raw);
  free(raw);
  if (code == NULL)
    return -1;
  /* Statement text is gathered at depth 0 only: a brace span is blanked. */
  for (size_t i = 0; code[i] != '\0'; i++) {
    char c = code[i];
    if (c == '{') {
      if (depth++ == 0) {
        char *head = normalise(code + start, i - start);
        body = head != NULL && *head != '\0' && head[strlen(head) - 1] == ')';
        free(head);
      }
      code[i] = ' ';
      continue;
    }
    if (c == '}' && depth > 0) {
      code[i] = ' ';
      if (--depth == 0 && body) { /* an example's function definition */
        start = i + 1;
        body = 0;
      }
      continue;
    }
    if (depth > 0) {
      code[i] = ' ';
      continue;
    }
    if (c == ';') {
      char *text = normalise(code + start, i - start), name[128];
      if (text == NULL) {
        free(code);
        return -1;
      }
      if (function_name(text, name, sizeof(name)) && strncmp(name, "async_", 6) == 0) {
        if (push(out, text, name) != 0) {
          free(text);
          free(code);
          return -1;
        }
      } else {
        free(text);
      }
      start = i + 1;
    }
  }
  free(code);
  return 0;
}

/* The function declarations of every ```c block of a Markdown text. */
static int doc_decls(const char *doc, struct decls *out) {
  const char *p = doc;
  while ((p = strstr(p, "```c")) != NULL) {
    const char *body, *end;
    const char *q = p + 4;
    if (p != doc && p[-1] != '\n') {
      p = q;
      continue;
    }
    while (*q == ' ' || *q == '\t' || *q == '\r')
      q++;
    if (*q != '\n') { /* ```cpp, ```c++, ```console: not C */
      p = q;
      continue;
    }
    body = q + 1;
    end = body;
    while ((end = strstr(end, "```")) != NULL && end[-1] != '\n')
      end += 3;
    if (end == NULL)
      end = body + strlen(body);
    if (block_decls(body, (size_t)(end - body), out) != 0)
      return -1;
    p = *end != '\0' ? end + 3 : end;
  }
  return 0;
}

static const struct decl *named(const struct decls *d, const char *name) {
  for (size_t i = 0; i < d->len; i++)
    if (strcmp(d->v[i].name, name) == 0)
      return &d->v[i];
  return NULL;
}

static int documented(const struct decls *d, const char *text) {
  for (size_t i = 0; i < d->len; i++)
    if (strcmp(d->v[i].text, text) == 0)
      return 1;
  return 0;
}

/* Compares the two texts; prints each problem (when loud) and returns how
 * many there are, or -1 if memory ran out. *checked gets the number of the
 * header's declarations. */
static int compare(const char *header, const char *doc, int loud, size_t *checked) {
  struct decls h = {0}, d = {0};
  int problems = 0;
  if (header_decls(header, &h) != 0 || doc_decls(doc, &d) != 0) {
    decls_free(&h);
    decls_free(&d);
    return -1;
  }
  for (size_t i = 0; i < h.len; i++) {
    const struct decl *other;
    if (h.v[i].name[0] == '\0') {
      if (loud)
        fprintf(stderr, "not a function declaration in the header: %s;\n", h.v[i].text);
      problems++;
    } else if (documented(&d, h.v[i].text)) {
      continue;
    } else if ((other = named(&d, h.v[i].name)) != NULL) {
      if (loud)
        fprintf(stderr, "mismatch: the header declares\n    %s;\n  docs/api.md says\n    %s;\n",
                h.v[i].text, other->text);
      problems++;
    } else {
      if (loud)
        fprintf(stderr, "missing from docs/api.md: %s;\n", h.v[i].text);
      problems++;
    }
  }
  for (size_t i = 0; i < d.len; i++) {
    const struct decl *decl = named(&h, d.v[i].name);
    if (decl == NULL) {
      if (loud)
        fprintf(stderr, "stale: docs/api.md declares %s; which the header does not\n", d.v[i].text);
      problems++;
    } else if (strcmp(decl->text, d.v[i].text) != 0 && documented(&d, decl->text)) {
      /* documented correctly elsewhere: this copy is the stale one */
      if (loud)
        fprintf(stderr, "mismatch: docs/api.md also says %s;\n", d.v[i].text);
      problems++;
    }
  }
  if (checked != NULL)
    *checked = h.len;
  decls_free(&h);
  decls_free(&d);
  return problems;
}

static void test_reference_matches_header(void **state) {
  char *header = read_file(getenv("ASYNC_TEST_HEADER"));
  char *doc = read_file(getenv("ASYNC_TEST_API_DOC"));
  size_t checked = 0;
  int problems;
  (void)state;
  if (header == NULL || doc == NULL) {
    free(header);
    free(doc);
    fail_msg("cannot read $ASYNC_TEST_HEADER (%s) or $ASYNC_TEST_API_DOC (%s)",
             getenv("ASYNC_TEST_HEADER") ? getenv("ASYNC_TEST_HEADER") : "unset",
             getenv("ASYNC_TEST_API_DOC") ? getenv("ASYNC_TEST_API_DOC") : "unset");
  }
  problems = compare(header, doc, 1, &checked);
  free(header);
  free(doc);
  assert_true(problems >= 0);
  print_message("%lu declarations of include/async.h checked against docs/api.md\n",
                (unsigned long)checked);
  if (problems > 0)
    fail_msg("%d declaration(s) of include/async.h and docs/api.md differ (listed above)", problems);
  assert_true(checked > 0);
}

/* The comparison itself, on small texts: it must see a missing, a
 * mismatching and a stale declaration, wrapped lines and examples aside. */
static void test_comparison_finds_differences(void **state) {
  static const char header[] =
      "#define ASYNC_EXTERN __attribute__((visibility(\"default\")))\n"
      "#define FIELDS \\\n  int x; \\\n  int y;\n"
      "/* ASYNC_EXTERN int async_commented(void); */\n"
      "ASYNC_EXTERN int async_one(async_loop_t *loop,\n"
      "                           int flags);\n"
      "ASYNC_EXTERN void async_two(void);\n"
      "ASYNC_EXTERN long async_three(const char *s);\n";
  static const char good[] =
      "# Title\n```c\nint async_one(async_loop_t *loop, int flags);\n"
      "typedef void (*async_cb)(int status);\n"
      "struct s { int (*f)(int); };\n```\n"
      "text ```c not a block\n"
      "```c\nvoid async_two(void);\nlong async_three(const char *s);\n"
      "static void on_it(async_timer_t *t) {\n  async_two();\n}\n```\n";
  static const char bad[] =
      "```c\nint async_one(async_loop_t *loop, unsigned flags);\n"
      "void async_gone(int x);\n```\n"
      "```sh\nlong async_three(const char *s);\n```\n";
  size_t checked = 0;
  (void)state;
  assert_int_equal(compare(header, good, 0, &checked), 0);
  assert_int_equal(checked, 3);
  /* async_one differs, async_two and async_three are missing (a sh block
   * does not count), async_gone is stale */
  assert_int_equal(compare(header, bad, 0, &checked), 4);
}

static const struct CMUnitTest tests[] = {
  TEST(test_comparison_finds_differences),
  TEST(test_reference_matches_header),
};

TEST_MAIN("apidoc", tests)
