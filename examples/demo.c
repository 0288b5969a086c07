/* A tour of the loop: a repeating timer, deferred calls, a pipe watched for
 * reading, a wakeup sent from another thread, and a job on the thread pool.
 * Every callback prints what happened and when (milliseconds since the
 * start, on the loop's clock). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "async.h"
#include "common.h"

static async_loop_t loop;
static async_timer_t ticker;
static async_watch_t reader;
static async_wakeup_t wakeup;
static async_defer_t later[3];
static int pipefd[2];
static uint64_t start;
static int ticks;
static async_work_t job;
static unsigned long long job_sum;

static double ms(void) { return (double)(async_now_ns(&loop) - start) / 1e6; }

static void on_defer(async_defer_t *d) {
  printf("[%7.2f ms] deferred call %d runs (queued in order, no allocation)\n", ms(),
         (int)(d - later));
}

static void on_readable(async_watch_t *w, int status, unsigned events) {
  char buf[64];
  ssize_t n = read(w->fd, buf, sizeof(buf) - 1);
  if (status < 0 || n <= 0) {
    printf("[%7.2f ms] pipe closed by the writer (events:%s%s)\n", ms(),
           (events & ASYNC_READABLE) ? " readable" : "", (events & ASYNC_HANGUP) ? " hangup" : "");
    async_close((async_handle_t *)w, NULL);
    return;
  }
  buf[n] = '\0';
  printf("[%7.2f ms] pipe readable: \"%s\"\n", ms(), buf);
}

static void on_wakeup(async_wakeup_t *w) {
  printf("[%7.2f ms] wakeup from the worker thread arrived on the loop thread\n", ms());
  async_close((async_handle_t *)w, NULL);
}

static void on_tick(async_timer_t *t) {
  ticks++;
  printf("[%7.2f ms] timer tick %d\n", ms(), ticks);
  if (ticks == 2) {
    const char msg[] = "hello through a pipe";
    if (write(pipefd[1], msg, strlen(msg)) < 0)
      perror("write");
  }
  if (ticks == 4) {
    close(pipefd[1]);
    async_close((async_handle_t *)t, NULL);
  }
}

static void sum_on_pool(async_work_t *req) {
  (void)req;
  for (unsigned long long i = 1; i <= 10000000; i++)
    job_sum += i;
}

static void after_sum(async_work_t *req, int status) {
  (void)req;
  printf("[%7.2f ms] thread pool job done (status %d): 1 + ... + 10^7 = %llu\n", ms(), status,
         job_sum);
}

static void *worker(void *arg) {
  (void)arg;
  usleep(25 * 1000);
  async_wakeup_send(&wakeup);
  return NULL;
}

int main(void) {
  pthread_t thread;
  int err = example_loop_init(&loop, NULL);
  if (err != 0)
    return 1;
  start = async_now_ns(&loop);
  printf("libasync demo on the %s backend\n", async_loop_backend(&loop));

  async_timer_init(&loop, &ticker);
  async_timer_start(&ticker, on_tick, 10, 10);
  for (int i = 0; i < 3; i++) {
    async_defer_init(&later[i]);
    async_defer(&loop, &later[i], on_defer);
  }
  if (pipe(pipefd) != 0)
    return 1;
  async_watch_init(&loop, &reader, pipefd[0]);
  async_watch_start(&reader, ASYNC_READABLE, on_readable);
  async_wakeup_init(&loop, &wakeup, on_wakeup);
  pthread_create(&thread, NULL, worker, NULL);
  memset(&job, 0, sizeof(job));
  async_work_queue(&loop, &job, sum_on_pool, after_sum);

  async_run(&loop, ASYNC_RUN_DEFAULT);
  pthread_join(thread, NULL);
  close(pipefd[0]);
  err = async_loop_close(&loop);
  printf("[%7.2f ms] loop finished, async_loop_close: %s\n", ms(), err ? async_strerror(err) : "ok");
  return err != 0;
}
