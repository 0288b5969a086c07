/* docs/guide.md, "Embedding libasync in another loop": the host here is a
 * plain poll() loop with a pipe of its own. libasync lives inside it: a pipe
 * handle reads the "ping" the host sends, starts a timer, and when the timer
 * fires tells the host it is done. The host never calls a blocking libasync
 * function: it sleeps in its own poll() and lets libasync do one turn with
 * ASYNC_RUN_NOWAIT after each wakeup.
 *
 * With a backend fd (epoll) the host sleeps until libasync has work. The
 * poll and select backends have none (ASYNC_ENOTSUP): the host then cannot
 * see libasync's I/O, so it wakes at least every LOOK_MS to let libasync look
 * for itself. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "async.h"
#include "common.h"

#define LOOK_MS 10

static async_loop_t loop;
static async_pipe_t from_host; /* libasync's end of to_lib */
static async_timer_t timer;
static int to_lib[2], to_host[2];
static int got_ping;

/* ---- the libasync side --------------------------------------------------------- */

static void on_alloc(async_handle_t *handle, size_t suggested, async_buf_t *buf) {
  static char small[64];
  (void)handle;
  (void)suggested;
  *buf = async_buf_init(small, sizeof(small));
}

static void on_timer(async_timer_t *t) {
  printf("libasync: timer fired, telling the host\n");
  if (write(to_host[1], "done", 4) != 4)
    perror("write");
  async_close((async_handle_t *)t, NULL);
  async_close((async_handle_t *)&from_host, NULL);
}

static void on_read(async_stream_t *stream, long nread, const async_buf_t *buf) {
  (void)stream;
  if (nread <= 0)
    return;
  printf("libasync: read \"%.*s\" from the host, starting a 30 ms timer\n", (int)nread, buf->base);
  got_ping = 1;
  check(async_timer_start(&timer, on_timer, 30, 0), "timer_start");
}

/* ---- the host loop --------------------------------------------------------------- */

/* How long the host may sleep as far as libasync is concerned (-1: forever). */
static int libasync_timeout(int backend_fd) {
  int ms;
  if (!async_loop_alive(&loop))
    return -1; /* nothing left in libasync to wait for */
  ms = async_backend_timeout(&loop);
  if (backend_fd < 0 && (ms < 0 || ms > LOOK_MS))
    ms = LOOK_MS; /* libasync's fds are invisible to the host: look again soon */
  return ms;
}

int main(void) {
  struct pollfd fds[2];
  int backend_fd, host_done = 0, turns = 0;
  char msg[8];

  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  if (pipe(to_lib) != 0 || pipe(to_host) != 0)
    return 1;
  check(async_pipe_init(&loop, &from_host), "pipe_init");
  check(async_pipe_open(&from_host, to_lib[0]), "pipe_open"); /* the handle owns it now */
  check(async_read_start((async_stream_t *)&from_host, on_alloc, on_read), "read_start");
  check(async_timer_init(&loop, &timer), "timer_init");

  backend_fd = async_backend_fd(&loop);
  if (backend_fd >= 0)
    printf("host: sleeping on the %s backend's fd %d\n", async_loop_backend(&loop), backend_fd);
  else
    printf("host: the %s backend has no fd to sleep on (%s): looking every %d ms\n",
           async_loop_backend(&loop), async_err_name(backend_fd), LOOK_MS);

  if (write(to_lib[1], "ping", 4) != 4)
    return 1;
  while (!host_done) {
    int n = 0;
    fds[n].fd = to_host[0];
    fds[n++].events = POLLIN;
    if (backend_fd >= 0) {
      fds[n].fd = backend_fd;
      fds[n++].events = POLLIN;
    }
    if (poll(fds, (nfds_t)n, libasync_timeout(backend_fd)) < 0) {
      if (errno == EINTR)
        continue;
      perror("poll");
      return 1;
    }
    turns++;
    if ((fds[0].revents & POLLIN) && read(to_host[0], msg, sizeof(msg)) > 0) {
      printf("host: libasync says \"%.4s\"\n", msg);
      host_done = 1;
    }
    check(async_run(&loop, ASYNC_RUN_NOWAIT), "run"); /* one turn, never blocks */
  }
  printf("host: %d wakeups of its own poll()\n", turns);

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run"); /* anything still closing */
  check(async_loop_close(&loop), "loop_close");
  close(to_lib[1]);
  close(to_host[0]);
  close(to_host[1]);
  return got_ping ? 0 : 1;
}
