#include "internal.h"

#include <string.h>

#define LINE 64

/* v[1] starts a cache line, so the heap's groups of four children
 * (v[4i+1] to v[4i+4], 16 bytes each) each fill exactly one line. */
static struct async__slot *aligned(void *mem) {
  uintptr_t p = (uintptr_t)mem + sizeof(struct async__slot);
  p = (p + LINE - 1) & ~(uintptr_t)(LINE - 1);
  return (struct async__slot *)(p - sizeof(struct async__slot));
}

int async__slots_grow(struct async__slots *s) {
  uint32_t cap = s->cap ? s->cap * 2 : 64;
  size_t old_off = s->v != NULL ? (size_t)((char *)s->v - (char *)s->mem_) : 0;
  struct async__slot *v;
  char *mem;
  if (cap < s->cap || (uint64_t)cap * sizeof(*v) > (uint64_t)(SIZE_MAX - LINE))
    return ASYNC_ENOMEM;
  mem = async__realloc(s->mem_, (size_t)cap * sizeof(*v) + LINE);
  if (mem == NULL)
    return ASYNC_ENOMEM;
  v = aligned(mem);
  if ((char *)v != mem + old_off)
    memmove(v, mem + old_off, (size_t)s->len * sizeof(*v));
  s->mem_ = mem;
  s->v = v;
  s->cap = cap;
  return 0;
}

/* Swap-remove: the last element takes slot i. */
void async__slots_remove(struct async__slots *s, uint32_t i) {
  struct async__slot last = s->v[--s->len];
  if (i != s->len) {
    s->v[i] = last;
    last.handle->slot_ = i;
  }
}

void async__slots_free(struct async__slots *s) {
  async__free(s->mem_);
  s->mem_ = NULL;
  s->v = NULL;
  s->len = s->cap = 0;
}
