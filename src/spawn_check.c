/* The checks of async_spawn's options that mean the same on every platform,
 * so that a bad argument gets the same error everywhere and before anything
 * is created. What only the system can tell (is an inherited fd or handle
 * open?) is left to the platform's spawn. */
#include "internal.h"

#define STDIO_KINDS (ASYNC_CREATE_PIPE | ASYNC_INHERIT_FD | ASYNC_INHERIT_STREAM)
#define PIPE_DIRS (ASYNC_READABLE_PIPE | ASYNC_WRITABLE_PIPE)

static int stdio_check(const async_stdio_t *all, int i) {
  const async_stdio_t *s = &all[i];
  unsigned kind = s->flags & STDIO_KINDS;
  unsigned dir = s->flags & PIPE_DIRS;
  async_stream_t *st = s->data.stream;
  if (s->flags & ~(unsigned)(STDIO_KINDS | PIPE_DIRS))
    return ASYNC_EINVAL;
  if (kind != 0 && (kind & (kind - 1)) != 0) /* more than one kind */
    return ASYNC_EINVAL;
  if ((dir != 0) != (kind == ASYNC_CREATE_PIPE))
    return ASYNC_EINVAL;
  if (kind == ASYNC_INHERIT_FD)
    return s->data.fd < 0 ? ASYNC_EINVAL : 0;
  if (kind == 0)
    return 0;
  if (!async__stream_ok(st))
    return ASYNC_EINVAL;
  if (kind == ASYNC_INHERIT_STREAM)
    return st->fd_ < 0 ? ASYNC_EINVAL : 0;
  if (st->type != ASYNC_PIPE || st->fd_ >= 0)
    return ASYNC_EINVAL;
  for (int j = 0; j < i; j++) /* one pipe handle for one child fd */
    if ((all[j].flags & ASYNC_CREATE_PIPE) && all[j].data.stream == st)
      return ASYNC_EINVAL;
  return 0;
}

int async__spawn_check(async_loop_t *loop, async_process_t *p, const async_process_options_t *o,
                       int max_stdio) {
  int err = async__handle_claim(loop, p);
  if (err != 0)
    return err;
  if (o == NULL || o->file == NULL || o->args == NULL)
    return ASYNC_EINVAL;
  if (o->flags & ~(unsigned)(ASYNC_PROCESS_SETUID | ASYNC_PROCESS_SETGID |
                             ASYNC_PROCESS_DETACHED))
    return ASYNC_EINVAL;
  if (o->stdio_count < 0 || o->stdio_count > max_stdio ||
      (o->stdio_count > 0 && o->stdio == NULL))
    return ASYNC_EINVAL;
  if (!(loop->caps_ & ASYNC_CAP_PROCESS))
    return ASYNC_ENOTSUP;
  if (o->file[0] == '\0')
    return ASYNC_ENOENT;
  for (int i = 0; i < o->stdio_count && err == 0; i++)
    err = stdio_check(o->stdio, i);
  return err;
}
