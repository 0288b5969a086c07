/* docs/guide.md, "Signals": SIGUSR1 asks a running program to reload, SIGTERM
 * to stop cleanly. The callbacks run on the loop's thread like any other, so
 * they may do anything a callback may. A timer plays the operator and sends
 * both signals to this very process. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "async.h"
#include "common.h"

static async_loop_t loop;
static async_signal_t reload_signal, stop_signal;
static async_timer_t sender;
static int reloads, stopped;

static void on_reload(async_signal_t *handle, int signum) {
  (void)handle;
  reloads++;
  printf("signal %d: reloading (%d)\n", signum, reloads);
}

static void close_everything(async_handle_t *handle, void *arg) {
  (void)arg;
  if (!async_is_closing(handle))
    async_close(handle, NULL);
}

static void on_stop(async_signal_t *handle, int signum) {
  (void)handle;
  stopped = 1;
  printf("signal %d: stopping\n", signum);
  async_walk(&loop, close_everything, NULL); /* the old dispositions come back */
}

/* Tick 1 and 2: SIGUSR1; tick 3: SIGTERM. A turn apart, so that the two
 * SIGUSR1 are not merged into one callback. */
static void on_sender(async_timer_t *timer) {
  static int tick;
  int signum = ++tick < 3 ? SIGUSR1 : SIGTERM;
  (void)timer;
  check(async_kill(getpid(), signum), "kill");
}

int main(void) {
  int err;

  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  err = async_signal_init(&loop, &reload_signal);
  if (err == ASYNC_ENOTSUP) {
    printf("no signals on the %s backend here\n", async_loop_backend(&loop));
    return async_loop_close(&loop) == 0 ? 0 : 1;
  }
  check(err, "signal_init");
  check(async_signal_start(&reload_signal, on_reload, SIGUSR1), "signal_start");
  check(async_signal_init(&loop, &stop_signal), "signal_init");
  check(async_signal_start(&stop_signal, on_stop, SIGTERM), "signal_start");

  check(async_timer_init(&loop, &sender), "timer_init");
  check(async_timer_start(&sender, on_sender, 10, 10), "timer_start");

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run");
  check(async_loop_close(&loop), "loop_close");
  return reloads == 2 && stopped ? 0 : 1;
}
