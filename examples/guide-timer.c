/* docs/guide.md, "A first loop": a one-shot timer, a repeating timer that
 * closes itself after three ticks, and what an error code looks like. The
 * repeating timer lives on the heap to show who frees a handle, and when. */
#include <stdio.h>
#include <stdlib.h>

#include "async.h"
#include "common.h"

struct ticker {
  async_timer_t timer; /* first member: a pointer to one is a pointer to both */
  int ticks;
  int limit;
};

static uint64_t started;
static int once_fired, tickers_freed;

static unsigned long long since_start(const async_loop_t *loop) {
  return (unsigned long long)(async_now(loop) - started);
}

static void on_ticker_closed(async_handle_t *handle) {
  struct ticker *t = (struct ticker *)handle;
  printf("ticker closed after %d ticks, freeing it\n", t->ticks);
  free(t); /* the library never touches the handle after this callback */
  tickers_freed++;
}

static void on_tick(async_timer_t *timer) {
  struct ticker *t = (struct ticker *)timer;
  t->ticks++;
  printf("tick %d at %llu ms\n", t->ticks, since_start(timer->loop));
  if (t->ticks == t->limit)
    async_close((async_handle_t *)timer, on_ticker_closed);
}

static void on_once(async_timer_t *timer) {
  once_fired = 1;
  printf("one-shot timer at %llu ms\n", since_start(timer->loop));
  async_close((async_handle_t *)timer, NULL); /* main's memory: nothing to free */
}

int main(void) {
  async_loop_t loop;
  async_timer_t once;
  struct ticker *t;
  int err;

  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  printf("running on the %s backend\n", async_loop_backend(&loop));
  started = async_now(&loop);

  check(async_timer_init(&loop, &once), "timer_init");
  err = async_timer_start(&once, NULL, 50, 0);
  printf("starting a timer without a callback: %s (%s)\n", async_err_name(err),
         async_strerror(err));
  check(async_timer_start(&once, on_once, 50, 0), "timer_start");

  if ((t = calloc(1, sizeof(*t))) == NULL)
    return 1;
  t->limit = 3;
  check(async_timer_init(&loop, &t->timer), "timer_init");
  check(async_timer_start(&t->timer, on_tick, 20, 20), "timer_start");

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run");
  check(async_loop_close(&loop), "loop_close");
  return once_fired && tickers_freed == 1 && err == ASYNC_EINVAL ? 0 : 1;
}
