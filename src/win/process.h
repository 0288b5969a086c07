/* Private to the subprocess files (process.c: spawning, exits, kills;
 * process_args.c: what CreateProcessW is given). Every function returns 0
 * or an ASYNC_E* code; strings handed back are async__malloc'ed. */
#ifndef ASYNC_WIN_PROCESS_H
#define ASYNC_WIN_PROCESS_H

#include "win.h"

/* UTF-8 to a NUL-terminated UTF-16 copy: ASYNC_EINVAL if s is not UTF-8. */
int async__wide(const char *s, WCHAR **out);

/* The command line of args (NULL-terminated), each quoted so that the
 * MSVCRT/UCRT parser gives the child the same argv: ASYNC_EINVAL for a '"'
 * in args[0] (the parser cannot give one back there), ASYNC_E2BIG past
 * Windows' 32,767 characters. */
int async__command_line(char *const *args, WCHAR **out);

/* The CREATE_UNICODE_ENVIRONMENT block of env ("NAME=value" strings,
 * NULL-terminated), sorted by name without regard to case, as Windows
 * keeps its own. */
int async__env_block(char *const *env, WCHAR **out);

/* The executable async_spawn starts (see docs/process.md): file itself when
 * it names a directory, else the first match in PATH (env's, else the
 * parent's); each time file as given, then with ".exe" when its name has no
 * extension. Relative paths are taken from cwd when given (NULL: the
 * parent's), as the child would see them. ASYNC_ENOENT when nothing
 * matches, ASYNC_EACCES when only a directory did. */
int async__find_exe(const char *file, char *const *env, const WCHAR *cwd, WCHAR **out);

/* ---- process_stdio.c ---- */

#define ASYNC__NSTD 3 /* stdin, stdout, stderr: all Windows passes on */

/* What the child's stdin, stdout and stderr become. */
struct async__stdio {
  HANDLE child[ASYNC__NSTD];  /* inheritable, owned by the spawn, closed after it */
  HANDLE parent[ASYNC__NSTD]; /* CREATE_PIPE: the parent's end until its handle takes it */
};

/* Makes the three handles of o's first three entries (NUL for the others). */
int async__stdio_make(struct async__stdio *st, const async_process_options_t *o);
/* Closes the child's handles, and the parent ends still held if asked. */
void async__stdio_release(struct async__stdio *st, int parents_too);
/* Hands the parent ends to their pipe handles, all or none. */
int async__stdio_open_pipes(const async_process_options_t *o, struct async__stdio *st);
/* Takes back the parent ends handed to the pipes of entries below upto. */
void async__stdio_unopen(const async_process_options_t *o, int upto);

static inline int async__sys_error(void) {
  return async_translate_sys_error((int)GetLastError());
}

#endif
