/* What CreateProcessW is given for async_spawn's options: the command line
 * (Windows passes one string, which the child's C runtime splits into argv
 * again, so each argument is quoted for that parser), the environment block
 * and the executable's path. UTF-8 comes in, UTF-16 goes out. */
#include "process.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define CMDLINE_MAX 32767 /* characters, the NUL included */
#define ARG_MAX_BYTES ((size_t)1 << 28) /* far past CMDLINE_MAX: no size_t overflow */

int async__wide(const char *s, WCHAR **out) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  WCHAR *w;
  if (n <= 0)
    return ASYNC_EINVAL;
  if ((w = async__malloc((size_t)n * sizeof(WCHAR))) == NULL)
    return ASYNC_ENOMEM;
  MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  *out = w;
  return 0;
}

/* ---- the command line ---------------------------------------------------------- */

/* The quoting works on the UTF-8 bytes: '"', '\\', space and tab are ASCII,
 * and no byte of a multi-byte UTF-8 sequence is. */

static char *put_backslashes(char *p, size_t n) {
  while (n-- > 0)
    *p++ = '\\';
  return p;
}

/* The parser reads argv[0] as a path: quotes group, backslashes are plain
 * characters (a trailing one must not be doubled). */
static char *put_program(char *p, const char *a) {
  int quote = *a == '\0' || strpbrk(a, " \t") != NULL;
  size_t n = strlen(a);
  if (quote)
    *p++ = '"';
  memcpy(p, a, n);
  p += n;
  if (quote)
    *p++ = '"';
  return p;
}

/* The other arguments: inside quotes, 2n backslashes before a '"' stand for
 * n and the quote closes; 2n+1 stand for n and a literal quote; backslashes
 * before anything else are themselves. So each run of backslashes is doubled
 * before a quote and before the closing quote, and kept as is elsewhere. */
static char *put_arg(char *p, const char *a) {
  if (*a != '\0' && strpbrk(a, " \t\n\v\"") == NULL) {
    size_t n = strlen(a);
    memcpy(p, a, n);
    return p + n;
  }
  *p++ = '"';
  for (;;) {
    size_t bs = 0;
    while (*a == '\\') {
      bs++;
      a++;
    }
    if (*a == '\0') {
      p = put_backslashes(p, 2 * bs);
      break;
    }
    p = put_backslashes(p, *a == '"' ? 2 * bs + 1 : bs);
    *p++ = *a++;
  }
  *p++ = '"';
  return p;
}

int async__command_line(char *const *args, WCHAR **out) {
  size_t size = 1;
  char *buf, *p;
  int err;
  if (args[0] != NULL && strchr(args[0], '"') != NULL)
    return ASYNC_EINVAL;
  for (char *const *a = args; *a != NULL; a++) {
    size_t n = strlen(*a);
    if (n > ARG_MAX_BYTES || size > ARG_MAX_BYTES)
      return ASYNC_E2BIG;
    size += 2 * n + 3; /* every byte escaped, two quotes, a space */
  }
  if ((buf = async__malloc(size)) == NULL)
    return ASYNC_ENOMEM;
  p = buf;
  for (char *const *a = args; *a != NULL; a++) {
    if (a != args)
      *p++ = ' ';
    p = a == args ? put_program(p, *a) : put_arg(p, *a);
  }
  *p = '\0';
  err = async__wide(buf, out);
  async__free(buf);
  if (err == 0 && wcslen(*out) >= CMDLINE_MAX) {
    async__free(*out);
    err = ASYNC_E2BIG;
  }
  return err;
}

/* ---- the environment block ------------------------------------------------------ */

/* A name ends at the first '=' after its first character ("=C:=C:\dir",
 * the cmd.exe drive entries, have names that start with one). */
static int name_len(const WCHAR *e) {
  const WCHAR *eq = e[0] != 0 ? wcschr(e + 1, L'=') : NULL;
  return eq != NULL ? (int)(eq - e) : (int)wcslen(e);
}

static int by_name(const void *a, const void *b) {
  const WCHAR *x = *(const WCHAR *const *)a, *y = *(const WCHAR *const *)b;
  return CompareStringOrdinal(x, name_len(x), y, name_len(y), TRUE) - CSTR_EQUAL;
}

int async__env_block(char *const *env, WCHAR **out) {
  size_t count = 0, total = 2; /* an empty block is two NULs */
  WCHAR **v, *block = NULL, *p;
  int err = 0;
  while (env[count] != NULL)
    count++;
  if ((v = async__calloc(count + 1, sizeof(*v))) == NULL)
    return ASYNC_ENOMEM;
  for (size_t i = 0; i < count && err == 0; i++)
    if ((err = async__wide(env[i], &v[i])) == 0)
      total += wcslen(v[i]) + 1;
  if (err == 0 && (block = async__malloc(total * sizeof(WCHAR))) == NULL)
    err = ASYNC_ENOMEM;
  if (err == 0) {
    qsort(v, count, sizeof(*v), by_name);
    p = block;
    for (size_t i = 0; i < count; i++) {
      size_t n = wcslen(v[i]) + 1;
      memcpy(p, v[i], n * sizeof(WCHAR));
      p += n;
    }
    p[0] = 0;
    p[1] = 0; /* only needed when count is 0; harmless otherwise (total has room) */
    *out = block;
  }
  for (size_t i = 0; i < count; i++)
    async__free(v[i]);
  async__free(v);
  return err;
}

/* ---- the executable -------------------------------------------------------------- */

static int is_sep(WCHAR c) { return c == L'\\' || c == L'/'; }

/* "C:\x", "\x", "\\server\x" and drive-relative "C:x" are not taken from cwd. */
static int is_relative(const WCHAR *p) { return !is_sep(p[0]) && !(p[0] != 0 && p[1] == L':'); }

static int has_ext(const WCHAR *f) {
  const WCHAR *base = f;
  for (const WCHAR *p = f; *p != 0; p++)
    if (is_sep(*p) || *p == L':')
      base = p + 1;
  return wcschr(base, L'.') != NULL;
}

/* cwd\dir\file ext, cwd only when dir\file is relative; dir may be empty. */
static WCHAR *join(const WCHAR *cwd, const WCHAR *dir, size_t dlen, const WCHAR *file,
                   const WCHAR *ext) {
  size_t cl = cwd != NULL ? wcslen(cwd) : 0, fl = wcslen(file), el = wcslen(ext);
  WCHAR *w = async__malloc((cl + dlen + fl + el + 3) * sizeof(WCHAR)), *p;
  if (w == NULL)
    return NULL;
  p = w;
  if (cwd != NULL && is_relative(dlen > 0 ? dir : file)) {
    memcpy(p, cwd, cl * sizeof(WCHAR));
    p += cl;
    if (cl > 0 && !is_sep(cwd[cl - 1]))
      *p++ = L'\\';
  }
  memcpy(p, dir, dlen * sizeof(WCHAR));
  p += dlen;
  if (dlen > 0 && !is_sep(dir[dlen - 1]))
    *p++ = L'\\';
  memcpy(p, file, fl * sizeof(WCHAR));
  p += fl;
  memcpy(p, ext, (el + 1) * sizeof(WCHAR));
  return w;
}

/* dir\file, then dir\file.exe when asked: 0 and the path, ASYNC_ENOENT;
 * *seen_dir is set when a candidate was a directory. */
static int try_dir(const WCHAR *cwd, const WCHAR *dir, size_t dlen, const WCHAR *file,
                   int exe_too, WCHAR **out, int *seen_dir) {
  for (int k = 0; k <= exe_too; k++) {
    WCHAR *path = join(cwd, dir, dlen, file, k ? L".exe" : L"");
    DWORD attr;
    if (path == NULL)
      return ASYNC_ENOMEM;
    attr = GetFileAttributesW(path);
    if (attr != INVALID_FILE_ATTRIBUTES && !(attr & FILE_ATTRIBUTE_DIRECTORY)) {
      *out = path;
      return 0;
    }
    if (attr != INVALID_FILE_ATTRIBUTES)
      *seen_dir = 1;
    async__free(path);
  }
  return ASYNC_ENOENT;
}

/* env's PATH when env has one, else the parent's; ASYNC_ENOENT: none. */
static int path_value(char *const *env, WCHAR **out) {
  DWORD n;
  if (env != NULL)
    for (char *const *e = env; *e != NULL; e++)
      if (_strnicmp(*e, "PATH=", 5) == 0)
        return async__wide(*e + 5, out);
  n = GetEnvironmentVariableW(L"PATH", NULL, 0);
  if (n == 0)
    return ASYNC_ENOENT;
  if ((*out = async__malloc(n * sizeof(WCHAR))) == NULL)
    return ASYNC_ENOMEM;
  if (GetEnvironmentVariableW(L"PATH", *out, n) >= n) { /* changed meanwhile */
    async__free(*out);
    return ASYNC_ENOENT;
  }
  return 0;
}

/* Each entry of PATH (';'-separated, quotes around one removed, empty ones
 * skipped: Windows has no "empty means the current directory"). */
static int path_search(const WCHAR *path, const WCHAR *cwd, const WCHAR *file, int exe_too,
                       WCHAR **out, int *seen_dir) {
  const WCHAR *p = path;
  for (;;) {
    const WCHAR *end = wcschr(p, L';');
    size_t len = end != NULL ? (size_t)(end - p) : wcslen(p);
    const WCHAR *dir = p;
    if (len >= 2 && dir[0] == L'"' && dir[len - 1] == L'"') {
      dir++;
      len -= 2;
    }
    if (len > 0) {
      int err = try_dir(cwd, dir, len, file, exe_too, out, seen_dir);
      if (err != ASYNC_ENOENT)
        return err;
    }
    if (end == NULL)
      return ASYNC_ENOENT;
    p = end + 1;
  }
}

int async__find_exe(const char *file, char *const *env, const WCHAR *cwd, WCHAR **out) {
  WCHAR *wfile, *path = NULL;
  int err, seen_dir = 0, exe_too;
  if ((err = async__wide(file, &wfile)) != 0)
    return err;
  exe_too = !has_ext(wfile);
  if (wcspbrk(wfile, L"\\/:") != NULL)
    err = try_dir(cwd, L"", 0, wfile, exe_too, out, &seen_dir);
  else if ((err = path_value(env, &path)) == 0)
    err = path_search(path, cwd, wfile, exe_too, out, &seen_dir);
  async__free(wfile);
  async__free(path);
  return err == ASYNC_ENOENT && seen_dir ? ASYNC_EACCES : err;
}
