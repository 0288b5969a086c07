/* Intrusive circular doubly linked lists with a sentinel node. */
#ifndef ASYNC_QUEUE_H
#define ASYNC_QUEUE_H

#include <stddef.h>

#define async__container_of(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))

static inline void async__list_init(struct async__link *head) {
  head->next = head;
  head->prev = head;
}

static inline int async__list_empty(const struct async__link *head) {
  return head->next == head;
}

static inline void async__list_insert_tail(struct async__link *head, struct async__link *n) {
  n->next = head;
  n->prev = head->prev;
  head->prev->next = n;
  head->prev = n;
}

/* Unlinks n and marks it unlinked (next == NULL). */
static inline void async__list_remove(struct async__link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = NULL;
  n->prev = NULL;
}

static inline int async__list_linked(const struct async__link *n) {
  return n->next != NULL;
}

/* Moves every node of from onto the empty list to. */
static inline void async__list_move(struct async__link *from, struct async__link *to) {
  if (async__list_empty(from)) {
    async__list_init(to);
    return;
  }
  to->next = from->next;
  to->prev = from->prev;
  to->next->prev = to;
  to->prev->next = to;
  async__list_init(from);
}

#endif /* ASYNC_QUEUE_H */
