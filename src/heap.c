/* The timer heap: a 4-ary min-heap laid out in the loop's timer table.
 * Slots [0, timer_heap_len_) hold the heap ordered by (deadline, start
 * sequence); the slots after it hold stopped timers, so every open timer
 * stays reachable for async_walk without a list node of its own. Deadlines
 * are cached in the slots: sifting never touches a timer it does not move. */
#include "internal.h"

#define ARITY 4

static inline int less(const struct async__slot *a, const struct async__slot *b) {
  if (a->key != b->key)
    return a->key < b->key;
  return a->handle->u_.seq < b->handle->u_.seq;
}

static inline void place(struct async__slot *v, uint32_t i, struct async__slot s) {
  v[i] = s;
  s.handle->slot_ = i;
}

/* Moves s up from the hole at i to its place. */
static void rise(struct async__slot *v, uint32_t i, struct async__slot s) {
  while (i > 0) {
    uint32_t parent = (i - 1) / ARITY;
    if (!less(&s, &v[parent]))
      break;
    place(v, i, v[parent]);
    i = parent;
  }
  place(v, i, s);
}

/* The smallest of the children of i (there is at least one). */
static inline uint32_t min_child(const struct async__slot *v, uint32_t len, uint32_t i) {
  uint32_t first = i * ARITY + 1, best = first;
  if (first + ARITY <= len) { /* a full group of four: a fixed tournament */
    uint32_t a = less(&v[first + 1], &v[first]) ? first + 1 : first;
    uint32_t b = less(&v[first + 3], &v[first + 2]) ? first + 3 : first + 2;
    return less(&v[b], &v[a]) ? b : a;
  }
  for (uint32_t c = first + 1; c < len; c++)
    if (less(&v[c], &v[best]))
      best = c;
  return best;
}

static void sift_down(struct async__slot *v, uint32_t len, uint32_t i) {
  struct async__slot s = v[i];
  while (i * ARITY + 1 < len) {
    uint32_t best = min_child(v, len, i);
    if (!less(&v[best], &s))
      break;
    place(v, i, v[best]);
    i = best;
  }
  place(v, i, s);
}

/* Removal of the minimum: the element that fills the root came from the
 * bottom and almost always returns there, so walk the hole down along the
 * smaller children without comparing against it, then let it rise. */
static void sift_root(struct async__slot *v, uint32_t len) {
  struct async__slot s = v[0];
  uint32_t i = 0;
  while (i * ARITY + 1 < len) {
    uint32_t best = min_child(v, len, i);
    place(v, i, v[best]);
    i = best;
  }
  rise(v, i, s);
}

static void swap(struct async__slot *v, uint32_t a, uint32_t b) {
  struct async__slot t = v[a];
  place(v, a, v[b]);
  place(v, b, t);
}

/* t is stopped: move it to the boundary, then grow the heap over it. */
int async__heap_insert(async_loop_t *loop, async_timer_t *t, uint64_t deadline) {
  struct async__slot *v = loop->timers_.v;
  uint32_t n = loop->timer_heap_len_;
  if (t->slot_ != n)
    swap(v, t->slot_, n);
  v[n].key = deadline;
  t->u_.seq = loop->timer_seq_++;
  loop->timer_heap_len_ = n + 1;
  if (n > 0 && less(&v[n], &v[(n - 1) / ARITY])) /* most starts stay where they land */
    rise(v, n, v[n]);
  loop->walk_gen_++;
  return 0;
}

/* t is in the heap: swap it with the heap's last slot, shrink the heap so it
 * falls just outside, and restore order around the slot it left. */
void async__heap_remove(async_loop_t *loop, async_timer_t *t) {
  struct async__slot *v = loop->timers_.v;
  uint32_t i = t->slot_, last = --loop->timer_heap_len_;
  loop->walk_gen_++;
  if (i == last)
    return;
  swap(v, i, last);
  if (i == 0)
    sift_root(v, last);
  else if (less(&v[i], &v[(i - 1) / ARITY]))
    rise(v, i, v[i]);
  else
    sift_down(v, last, i);
}
