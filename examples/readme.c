/* The example from README.md, kept compiling. */
#include <async.h>
#include <stdio.h>

static uint64_t started;

static void on_timeout(async_timer_t *t) {
  printf("fired after %llu ms\n", (unsigned long long)(async_now(t->loop) - started));
  async_close((async_handle_t *)t, NULL);
}

int main(void) {
  async_loop_t loop;
  async_timer_t timer;
  int err = async_loop_init(&loop, NULL); /* epoll here; ASYNC_BACKEND=poll to change */
  if (err != 0) { /* ASYNC_ENOENT: no backend has that name (examples/common.c lists them) */
    fprintf(stderr, "async_loop_init: %s\n", async_strerror(err));
    return 1;
  }
  async_timer_init(&loop, &timer);
  started = async_now(&loop);
  async_timer_start(&timer, on_timeout, 100, 0);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  return async_loop_close(&loop);
}
