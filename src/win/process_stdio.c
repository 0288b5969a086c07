/* The child's stdin, stdout and stderr on Windows (see process.c and
 * docs/process.md): NUL, duplicates of handles the parent names, or named
 * pipes whose parent end goes to an async_pipe_t. Whatever the child gets
 * is a handle of the spawn's own, closed once CreateProcessW is done. */
#include "process.h"

#include <stdio.h>

static int open_nul(HANDLE *out) {
  SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
  *out = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                     OPEN_EXISTING, 0, NULL);
  return *out == INVALID_HANDLE_VALUE ? async__sys_error() : 0;
}

/* An inheritable duplicate: the caller's handle keeps its own flag, which
 * another thread's CreateProcess could otherwise see changed. */
static int inheritable(HANDLE src, HANDLE *out) {
  if (!DuplicateHandle(GetCurrentProcess(), src, GetCurrentProcess(), out, 0, TRUE,
                       DUPLICATE_SAME_ACCESS)) {
    *out = INVALID_HANDLE_VALUE;
    return async__sys_error();
  }
  return 0;
}

/* ASYNC_INHERIT_FD takes a HANDLE value, as async_pipe_open does; 0, 1 and
 * 2 (never handle values) are the parent's standard handles, so that
 * portable code passing fd 2 works. A standard handle the parent lacks
 * (a GUI program) becomes NUL. */
static int inherit_fd(int fd, HANDLE *out) {
  HANDLE h = (HANDLE)(intptr_t)fd;
  if (fd <= 2) {
    h = GetStdHandle(fd == 0 ? STD_INPUT_HANDLE : fd == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE);
    if (h == NULL || h == INVALID_HANDLE_VALUE)
      return open_nul(out);
  }
  return inheritable(h, out);
}

/* A named pipe with a name of its own: the parent's end overlapped for the
 * loop, the child's end a plain synchronous client (what a C runtime
 * expects of its stdio) opened for the directions the child uses. */
static int make_pipe(unsigned flags, HANDLE *child, HANDLE *parent) {
  static volatile LONG counter;
  SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
  DWORD mode = FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
  DWORD access = FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES;
  WCHAR name[96];
  if (flags & ASYNC_READABLE_PIPE) {
    mode |= PIPE_ACCESS_OUTBOUND;
    access |= GENERIC_READ;
  }
  if (flags & ASYNC_WRITABLE_PIPE) {
    mode |= PIPE_ACCESS_INBOUND;
    access |= GENERIC_WRITE;
  }
  _snwprintf(name, sizeof(name) / sizeof(name[0]), L"\\\\.\\pipe\\libasync-child-%lu-%ld",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&counter));
  *parent = CreateNamedPipeW(name, mode,
                             PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                 PIPE_REJECT_REMOTE_CLIENTS,
                             1, 65536, 65536, 0, NULL);
  if (*parent == INVALID_HANDLE_VALUE)
    return async__sys_error();
  *child = CreateFileW(name, access, 0, &sa, OPEN_EXISTING, 0, NULL);
  if (*child == INVALID_HANDLE_VALUE) {
    int err = async__sys_error();
    CloseHandle(*parent);
    *parent = INVALID_HANDLE_VALUE;
    return err;
  }
  return 0;
}

void async__stdio_release(struct async__stdio *pl, int parents_too) {
  for (int i = 0; i < ASYNC__NSTD; i++) {
    if (pl->child[i] != INVALID_HANDLE_VALUE)
      CloseHandle(pl->child[i]);
    pl->child[i] = INVALID_HANDLE_VALUE;
    if (parents_too && pl->parent[i] != INVALID_HANDLE_VALUE) {
      CloseHandle(pl->parent[i]);
      pl->parent[i] = INVALID_HANDLE_VALUE;
    }
  }
}

static int stdio_entry(struct async__stdio *pl, const async_process_options_t *o, int i) {
  const async_stdio_t *s = i < o->stdio_count ? &o->stdio[i] : NULL;
  unsigned flags = s != NULL ? s->flags : ASYNC_IGNORE;
  if (flags & ASYNC_CREATE_PIPE)
    return make_pipe(flags, &pl->child[i], &pl->parent[i]);
  if (flags & ASYNC_INHERIT_FD)
    return inherit_fd(s->data.fd, &pl->child[i]);
  if (flags & ASYNC_INHERIT_STREAM)
    return inheritable((HANDLE)(intptr_t)s->data.stream->fd_, &pl->child[i]);
  return open_nul(&pl->child[i]);
}

int async__stdio_make(struct async__stdio *pl, const async_process_options_t *o) {
  int err = 0;
  for (int i = 0; i < ASYNC__NSTD; i++)
    pl->child[i] = pl->parent[i] = INVALID_HANDLE_VALUE;
  for (int i = 0; i < ASYNC__NSTD && err == 0; i++)
    err = stdio_entry(pl, o, i);
  if (err != 0)
    async__stdio_release(pl, 1);
  return err;
}

/* Takes back the parent ends handed to the pipes of entries below upto, so
 * that every pipe is again without a handle. */
void async__stdio_unopen(const async_process_options_t *o, int upto) {
  for (int j = 0; j < upto && j < o->stdio_count; j++)
    if (o->stdio[j].flags & ASYNC_CREATE_PIPE)
      async__pipe_unopen(o->stdio[j].data.stream);
}

/* Hands the parent ends to their pipe handles, all or none. */
int async__stdio_open_pipes(const async_process_options_t *o, struct async__stdio *pl) {
  for (int i = 0; i < ASYNC__NSTD; i++) {
    int err;
    if (pl->parent[i] == INVALID_HANDLE_VALUE)
      continue;
    err = async_pipe_open((async_pipe_t *)o->stdio[i].data.stream, (int)(intptr_t)pl->parent[i]);
    if (err != 0) {
      async__stdio_unopen(o, i);
      return err;
    }
    pl->parent[i] = INVALID_HANDLE_VALUE;
  }
  return 0;
}
