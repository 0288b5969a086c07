/* docs/guide.md, "A subprocess with captured output": runs `tr a-z A-Z`,
 * writes a line to its stdin, ends that stdin so tr finishes, and gathers
 * everything tr prints into one growing buffer. The program is done when
 * both the exit and the end of the output have arrived, in whichever order
 * they come. A failed spawn is shown first: its error comes from the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "common.h"

/* The child's output, read straight into the buffer's free tail. */
struct capture {
  char *bytes;
  size_t len, cap;
};

static async_pipe_t child_in, child_out;
static async_write_t write_req;
static async_shutdown_t shutdown_req;
static struct capture out;
static char line[] = "hello from the parent\n";
static int exited = -1;

static void on_alloc(async_handle_t *handle, size_t suggested, async_buf_t *buf) {
  struct capture *c = handle->data;
  if (c->cap - c->len < suggested) {
    char *bigger = realloc(c->bytes, c->len + suggested);
    if (bigger == NULL) {
      *buf = async_buf_init(NULL, 0); /* read_cb gets ASYNC_ENOBUFS */
      return;
    }
    c->bytes = bigger;
    c->cap = c->len + suggested;
  }
  *buf = async_buf_init(c->bytes + c->len, c->cap - c->len);
}

static void on_output(async_stream_t *stream, long nread, const async_buf_t *buf) {
  struct capture *c = stream->data;
  (void)buf; /* it points into c->bytes */
  if (nread > 0) {
    c->len += (size_t)nread;
  } else if (nread < 0) {
    if (nread != ASYNC_EOF)
      fprintf(stderr, "read: %s\n", async_strerror((int)nread));
    async_close((async_handle_t *)stream, NULL);
  }
}

static void on_written(async_write_t *req, int status) {
  (void)req;
  check(status, "write to the child");
}

static void on_stdin_ended(async_shutdown_t *req, int status) {
  check(status, "shutdown");
  async_close((async_handle_t *)req->handle, NULL);
}

static void on_exit_status(async_process_t *process, int64_t status, int term_signal) {
  printf("child %d exited with status %lld (signal %d)\n", async_process_get_pid(process),
         (long long)status, term_signal);
  exited = term_signal == 0 ? (int)status : 128 + term_signal;
  async_close((async_handle_t *)process, NULL);
}

int main(void) {
  async_loop_t loop;
  async_process_t child;
  async_process_options_t opts;
  async_stdio_t stdio[3];
  char *missing_args[] = {"no-such-program-here", NULL};
  char *tr_args[] = {"tr", "a-z", "A-Z", NULL};
  async_buf_t buf = async_buf_init(line, strlen(line));
  int err, ok;

  if (example_loop_init(&loop, NULL) != 0)
    return 1;

  memset(&opts, 0, sizeof(opts));
  opts.file = missing_args[0];
  opts.args = missing_args;
  err = async_spawn(&loop, &child, &opts);
  printf("spawning %s: %s (%s)\n", opts.file, async_err_name(err), async_strerror(err));

  check(async_pipe_init(&loop, &child_in), "pipe_init");
  check(async_pipe_init(&loop, &child_out), "pipe_init");
  child_out.data = &out;
  stdio[0].flags = ASYNC_CREATE_PIPE | ASYNC_READABLE_PIPE; /* the child reads it */
  stdio[0].data.stream = (async_stream_t *)&child_in;
  stdio[1].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE; /* the child writes it */
  stdio[1].data.stream = (async_stream_t *)&child_out;
  stdio[2].flags = ASYNC_INHERIT_FD; /* its errors go where ours go */
  stdio[2].data.fd = 2;
  opts.file = tr_args[0];
  opts.args = tr_args;
  opts.exit_cb = on_exit_status;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  check(async_spawn(&loop, &child, &opts), "spawn");

  check(async_read_start((async_stream_t *)&child_out, on_alloc, on_output), "read_start");
  check(async_write(&write_req, (async_stream_t *)&child_in, &buf, 1, on_written), "write");
  check(async_shutdown(&shutdown_req, (async_stream_t *)&child_in, on_stdin_ended), "shutdown");

  check(async_run(&loop, ASYNC_RUN_DEFAULT), "run");
  check(async_loop_close(&loop), "loop_close");
  printf("captured %zu bytes: %.*s", out.len, (int)out.len, out.bytes);
  ok = err == ASYNC_ENOENT && exited == 0 && out.len == strlen(line) &&
        memcmp(out.bytes, "HELLO FROM THE PARENT\n", out.len) == 0;
  free(out.bytes);
  return ok ? 0 : 1;
}
