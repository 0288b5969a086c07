/* Runs a command, streams its output as it arrives, prints how it ended.
 *
 *   spawn COMMAND [ARG...]
 *
 * The child's stdout and stderr come through two pipes; its stdin is
 * /dev/null. The exit status of spawn is the child's (128 + signal when a
 * signal ended it, 127 when it could not be started). */
#include <async.h>
#include <stdio.h>

#include "common.h"

static async_pipe_t out_pipe, err_pipe;
static char buffer[65536];
static int result;

static void on_alloc(async_handle_t *h, size_t suggested, async_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = buffer;
  buf->len = sizeof(buffer);
}

static void on_read(async_stream_t *s, long nread, const async_buf_t *buf) {
  FILE *to = s == (async_stream_t *)&out_pipe ? stdout : stderr;
  if (nread > 0) {
    fwrite(buf->base, 1, (size_t)nread, to);
    fflush(to);
  } else if (nread < 0) { /* end of the stream (or an error): this pipe is done */
    async_close((async_handle_t *)s, NULL);
  }
}

static void on_exit_status(async_process_t *p, int64_t status, int term_signal) {
  if (term_signal != 0) {
    fprintf(stderr, "[spawn] pid %d killed by signal %d\n", async_process_get_pid(p), term_signal);
    result = 128 + term_signal;
  } else {
    fprintf(stderr, "[spawn] pid %d exited with status %lld\n", async_process_get_pid(p),
            (long long)status);
    result = (int)status;
  }
  async_close((async_handle_t *)p, NULL);
}

int main(int argc, char **argv) {
  async_loop_t loop;
  async_process_t child;
  async_process_options_t opts = {0};
  async_stdio_t stdio[3];
  int err;

  if (argc < 2) {
    fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
    return 2;
  }
  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  async_pipe_init(&loop, &out_pipe);
  async_pipe_init(&loop, &err_pipe);
  stdio[0].flags = ASYNC_IGNORE;
  stdio[1].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[1].data.stream = (async_stream_t *)&out_pipe;
  stdio[2].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[2].data.stream = (async_stream_t *)&err_pipe;
  opts.file = argv[1];
  opts.args = argv + 1;
  opts.exit_cb = on_exit_status;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  if ((err = async_spawn(&loop, &child, &opts)) != 0) {
    fprintf(stderr, "[spawn] %s: %s (%s)\n", argv[1], async_strerror(err), async_err_name(err));
    async_close((async_handle_t *)&out_pipe, NULL);
    async_close((async_handle_t *)&err_pipe, NULL);
    async_run(&loop, ASYNC_RUN_DEFAULT);
    async_loop_close(&loop);
    return 127;
  }
  fprintf(stderr, "[spawn] started %s as pid %d\n", argv[1], async_process_get_pid(&child));
  async_read_start((async_stream_t *)&out_pipe, on_alloc, on_read);
  async_read_start((async_stream_t *)&err_pipe, on_alloc, on_read);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  async_loop_close(&loop);
  return result;
}
