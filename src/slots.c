#include "internal.h"

int async__slots_push(struct async__slots *s, async_handle_t *h, uint64_t key) {
  if (s->len == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    struct async__slot *v;
    if (cap < s->cap)
      return ASYNC_ENOMEM;
    v = async__realloc(s->v, (size_t)cap * sizeof(*v));
    if (v == NULL)
      return ASYNC_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->len].key = key;
  s->v[s->len].handle = h;
  h->slot_ = s->len++;
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
  async__free(s->v);
  s->v = NULL;
  s->len = s->cap = 0;
}
