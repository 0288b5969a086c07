#include "internal.h"
#include "atomic.h"

#include <stdlib.h>

/* Process-wide by nature: embedders replace it once, before any loop exists. */
static struct {
  async_malloc_fn malloc_fn;
  async_realloc_fn realloc_fn;
  async_calloc_fn calloc_fn;
  async_free_fn free_fn;
} allocator = {malloc, realloc, calloc, free};

static int open_loops;

void async__loop_opened(void) { async__atomic_add(&open_loops, 1); }
void async__loop_closed(void) { async__atomic_sub(&open_loops, 1); }

int async_replace_allocator(async_malloc_fn malloc_fn, async_realloc_fn realloc_fn,
                            async_calloc_fn calloc_fn, async_free_fn free_fn) {
  if (malloc_fn == NULL || realloc_fn == NULL || calloc_fn == NULL || free_fn == NULL)
    return ASYNC_EINVAL;
  if (async__atomic_load(&open_loops) != 0)
    return ASYNC_EBUSY;
  allocator.malloc_fn = malloc_fn;
  allocator.realloc_fn = realloc_fn;
  allocator.calloc_fn = calloc_fn;
  allocator.free_fn = free_fn;
  return 0;
}

void *async__malloc(size_t size) { return allocator.malloc_fn(size ? size : 1); }
void *async__calloc(size_t count, size_t size) { return allocator.calloc_fn(count ? count : 1, size ? size : 1); }
void async__free(void *ptr) { if (ptr != NULL) allocator.free_fn(ptr); }

/* realloc(p, 0) is implementation-defined; never ask for it. */
void *async__realloc(void *ptr, size_t size) {
  if (ptr == NULL)
    return async__malloc(size);
  return allocator.realloc_fn(ptr, size ? size : 1);
}
