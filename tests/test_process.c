/* Subprocesses: stdio pipes, exit codes and signals, synchronous spawn
 * errors, env/cwd/PATH, fd mapping, reaping with pidfds and with the SIGCHLD
 * fallback, handles closed before their child exits, detached children,
 * uid/gid, signal storms beside children, and bad input. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__linux__)
# include <sys/syscall.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#define SH "/bin/sh"

/* ---- helpers -------------------------------------------------------------- */

static void set_no_pidfd(int on) {
  if (on)
    setenv("ASYNC_NO_PIDFD", "1", 1);
  else
    unsetenv("ASYNC_NO_PIDFD");
}

/* Options for argv with stdout into a pipe handle (stdin /dev/null, stderr inherited). */
static void opts_stdout(async_process_options_t *o, async_stdio_t stdio[3], char **args,
                        async_pipe_t *out) {
  memset(o, 0, sizeof(*o));
  o->file = args[0];
  o->args = args;
  o->exit_cb = test_exit_close;
  stdio[0].flags = ASYNC_IGNORE;
  stdio[1].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[1].data.stream = (async_stream_t *)out;
  stdio[2].flags = ASYNC_INHERIT_FD;
  stdio[2].data.fd = 2;
  o->stdio = stdio;
  o->stdio_count = 3;
}

static int run_args(char **args, struct test_capture *out, struct test_exit *e) {
  async_process_options_t o;
  async_stdio_t stdio[3];
  opts_stdout(&o, stdio, args, NULL);
  return test_spawn_run(&o, out, e);
}

/* sh -c script; asserts the spawn worked and the child exited. */
static void run_sh(const char *script, struct test_capture *out, struct test_exit *e) {
  char *args[] = {(char *)SH, (char *)"-c", (char *)script, NULL};
  assert_int_equal(run_args(args, out, e), 0);
  assert_int_equal(e->calls, 1);
}

/* Spawn error of file/args with the given cwd and flags (nothing to run). */
static int spawn_error(const char *file, const char *cwd, unsigned flags) {
  char *args[] = {(char *)file, NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  int err;
  opts_stdout(&o, stdio, args, NULL);
  o.cwd = cwd;
  o.flags = flags;
  o.uid = (uint32_t)getuid();
  o.gid = (uint32_t)getgid();
  err = test_spawn_run(&o, &out, &e);
  assert_int_equal(e.calls, err == 0 ? 1 : 0);
  test_capture_reset(&out);
  return err;
}

/* 1 while /proc has the pid (running or a zombie). */
static int pid_exists(int pid) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof(path), "/proc/%d", pid);
  return stat(path, &st) == 0;
}

/* The state letter of pid ('Z' for a zombie), 0 if gone. */
static char pid_state(int pid) {
  char path[64], buf[512], *close_paren;
  FILE *f;
  size_t n;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  if ((f = fopen(path, "r")) == NULL)
    return 0;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  close_paren = strrchr(buf, ')');
  return close_paren != NULL && close_paren[1] == ' ' ? close_paren[2] : 0;
}

static void wait_zombie(int pid) {
  for (int i = 0; i < 200000 && pid_state(pid) != 'Z'; i++)
    usleep(100);
  assert_int_equal(pid_state(pid), 'Z');
}

/* Any spawn sweeps the children left over by closed loops. */
static void sweep_leftovers(void) {
  struct test_capture out = {0};
  struct test_exit e;
  char *args[] = {(char *)"/bin/true", NULL};
  assert_int_equal(run_args(args, &out, &e), 0);
  test_capture_reset(&out);
}

/* No child of this process is left, zombie or running. */
static void assert_no_children(void) {
  errno = 0;
  assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
  assert_int_equal(errno, ECHILD);
}

/* Runs turns (with a 1 ms timer so the loop wakes) until pid is gone from /proc. */
static void timer_tick(async_timer_t *t) { (void)t; }

static void run_until_gone(async_loop_t *loop, int pid) {
  async_timer_t t;
  assert_int_equal(async_timer_init(loop, &t), 0);
  async_timer_start(&t, timer_tick, 1, 1);
  for (int i = 0; i < 100000 && pid_exists(pid); i++)
    async_run(loop, ASYNC_RUN_ONCE);
  async_close((async_handle_t *)&t, NULL);
  async_run(loop, ASYNC_RUN_NOWAIT);
  assert_false(pid_exists(pid));
}

/* ---- output and exit codes ------------------------------------------------- */

static void test_echo_stdout_to_eof(void **state) {
  char *args[] = {(char *)"/bin/echo", (char *)"hello", (char *)"world", NULL};
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  assert_int_equal(run_args(args, &out, &e), 0);
  assert_int_equal(out.eof, 1);
  assert_string_equal(out.buf, "hello world\n");
  assert_int_equal(e.calls, 1);
  assert_int_equal(e.status, 0);
  assert_int_equal(e.signal, 0);
  test_capture_reset(&out);
}

static void check_exit_code(const char *script, int64_t want) {
  struct test_capture out = {0};
  struct test_exit e;
  run_sh(script, &out, &e);
  assert_int_equal(e.status, want);
  assert_int_equal(e.signal, 0);
  test_capture_reset(&out);
}

static void test_exit_0(void **state) { (void)state; check_exit_code("exit 0", 0); }
static void test_exit_1(void **state) { (void)state; check_exit_code("exit 1", 1); }
static void test_exit_42(void **state) { (void)state; check_exit_code("exit 42", 42); }
static void test_exit_255(void **state) { (void)state; check_exit_code("exit 255", 255); }

static void check_term(const char *script, int sig) {
  struct test_capture out = {0};
  struct test_exit e;
  run_sh(script, &out, &e);
  assert_int_equal(e.signal, sig);
  assert_int_equal(e.status, 0);
  test_capture_reset(&out);
}

static void test_term_sigterm(void **state) { (void)state; check_term("kill -TERM $$", SIGTERM); }
static void test_term_sigkill(void **state) { (void)state; check_term("kill -KILL $$", SIGKILL); }

static void test_args_passed(void **state) {
  char *args[] = {(char *)SH, (char *)"-c", (char *)"printf '%s|' \"$0\" \"$@\"",
                  (char *)"name zero", (char *)"a b", (char *)"", (char *)"$x*", NULL};
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  assert_int_equal(run_args(args, &out, &e), 0);
  assert_string_equal(out.buf, "name zero|a b||$x*|");
  test_capture_reset(&out);
}

static void test_large_output(void **state) {
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  run_sh("head -c 1048576 /dev/zero", &out, &e);
  assert_int_equal(out.len, 1048576);
  assert_int_equal(out.eof, 1);
  assert_int_equal(e.status, 0);
  test_capture_reset(&out);
}

static void test_pid_matches_child(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t pipe;
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e = {0};
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo $$", NULL};
  char want[32];
  (void)state;
  test_loop_init(&loop);
  async_pipe_init(&loop, &pipe);
  pipe.data = &out;
  p.data = &e;
  opts_stdout(&o, stdio, args, &pipe);
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_true(async_process_get_pid(&p) > 0);
  assert_int_equal(p.pid, async_process_get_pid(&p));
  snprintf(want, sizeof(want), "%d\n", async_process_get_pid(&p));
  async_read_start((async_stream_t *)&pipe, test_alloc_slab, test_capture_read);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(out.buf, want);
  assert_int_equal(async_process_get_pid(NULL), 0);
  test_loop_close(&loop);
  test_capture_reset(&out);
}

static void test_handle_type_and_size(void **state) {
  (void)state;
  assert_string_equal(async_handle_type_name(ASYNC_PROCESS), "process");
  assert_int_equal(async_handle_size(ASYNC_PROCESS), sizeof(async_process_t));
  assert_null(async_handle_type_name(ASYNC_HANDLE_TYPE_MAX));
}

static void test_active_until_exit(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  struct test_exit e = {0};
  char *args[] = {(char *)"/bin/true", NULL};
  (void)state;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_keep;
  test_loop_init(&loop);
  p.data = &e;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_int_equal(async_handle_get_type((async_handle_t *)&p), ASYNC_PROCESS);
  assert_true(async_is_active((async_handle_t *)&p));
  assert_true(async_loop_alive(&loop));
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.calls, 1);
  assert_false(async_is_active((async_handle_t *)&p));
  assert_int_equal(async_process_kill(&p, SIGTERM), ASYNC_ESRCH);
  assert_true(p.pid > 0); /* the pid stays readable */
  test_loop_close(&loop);
}

static void test_null_exit_cb(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  char *args[] = {(char *)"/bin/true", NULL};
  (void)state;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  test_loop_init(&loop);
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_false(async_is_active((async_handle_t *)&p));
  test_loop_close(&loop);
}

static void test_unref_does_not_hold_loop(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  async_stdio_t stdio[1];
  int fds[2], pid;
  char *args[] = {(char *)SH, (char *)"-c", (char *)"read x", NULL};
  (void)state;
  assert_int_equal(async_pipe(fds, 0), 0);
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  stdio[0].flags = ASYNC_INHERIT_FD;
  stdio[0].data.fd = fds[0];
  o.stdio = stdio;
  o.stdio_count = 1;
  test_loop_init(&loop);
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  pid = p.pid;
  async_unref((async_handle_t *)&p);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* returns with the child alive */
  assert_int_equal(kill(pid, 0), 0);
  close(fds[1]); /* the child's read ends: it exits */
  close(fds[0]);
  async_ref((async_handle_t *)&p);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_false(pid_exists(pid));
  test_loop_close(&loop);
}

/* ---- stdio ------------------------------------------------------------------ */

struct round_trip {
  async_write_t req;
  async_shutdown_t sh;
  int written;
};

static void on_written(async_write_t *req, int status) {
  struct round_trip *rt = req->data;
  assert_int_equal(status, 0);
  rt->written++;
}

static void on_shut(async_shutdown_t *req, int status) {
  (void)status;
  async_close((async_handle_t *)req->handle, NULL);
}

static void cat_round_trip(size_t size, unsigned stdin_dirs) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t in, out;
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture cap = {0};
  struct test_exit e = {0};
  struct round_trip rt;
  char *data = malloc(size);
  char *args[] = {(char *)"/bin/cat", NULL};
  async_buf_t buf;
  for (size_t i = 0; i < size; i++)
    data[i] = (char)('a' + i % 23);
  test_loop_init(&loop);
  async_pipe_init(&loop, &in);
  async_pipe_init(&loop, &out);
  out.data = &cap;
  p.data = &e;
  opts_stdout(&o, stdio, args, &out);
  stdio[0].flags = ASYNC_CREATE_PIPE | stdin_dirs;
  stdio[0].data.stream = (async_stream_t *)&in;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_true(async_is_writable((async_stream_t *)&in));
  async_read_start((async_stream_t *)&out, test_alloc_slab, test_capture_read);
  memset(&rt, 0, sizeof(rt));
  rt.req.data = &rt;
  buf.base = data;
  buf.len = size;
  assert_int_equal(async_write(&rt.req, (async_stream_t *)&in, &buf, 1, on_written), 0);
  /* A pipe's write end is closed, a socket shut for writing: cat sees EOF. */
  assert_int_equal(async_shutdown(&rt.sh, (async_stream_t *)&in, on_shut), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(rt.written, 1);
  assert_int_equal(e.calls, 1);
  assert_int_equal(e.status, 0);
  assert_int_equal(cap.len, size);
  assert_memory_equal(cap.buf, data, size);
  test_loop_close(&loop);
  free(data);
  test_capture_reset(&cap);
}

static void test_cat_round_trip_1mib(void **state) {
  (void)state;
  cat_round_trip(1 << 20, ASYNC_READABLE_PIPE);
}

static void test_cat_round_trip_socketpair(void **state) {
  (void)state;
  cat_round_trip(1 << 20, ASYNC_READABLE_PIPE | ASYNC_WRITABLE_PIPE);
}

static void test_stdout_and_stderr_apart(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t out, err;
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture co = {0}, ce = {0};
  struct test_exit e = {0};
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo out; echo err >&2", NULL};
  (void)state;
  test_loop_init(&loop);
  async_pipe_init(&loop, &out);
  async_pipe_init(&loop, &err);
  out.data = &co;
  err.data = &ce;
  p.data = &e;
  opts_stdout(&o, stdio, args, &out);
  stdio[2].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[2].data.stream = (async_stream_t *)&err;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_true(async_is_readable((async_stream_t *)&out));
  assert_false(async_is_writable((async_stream_t *)&out));
  async_read_start((async_stream_t *)&out, test_alloc_slab, test_capture_read);
  async_read_start((async_stream_t *)&err, test_alloc_slab, test_capture_read);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(co.buf, "out\n");
  assert_string_equal(ce.buf, "err\n");
  test_loop_close(&loop);
  test_capture_reset(&co);
  test_capture_reset(&ce);
}

static void test_socketpair_both_ways(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t sock;
  async_process_options_t o;
  async_stdio_t stdio[1];
  struct test_capture cap = {0};
  struct test_exit e = {0};
  async_write_t req;
  async_buf_t buf = {(char *)"ping\n", 5};
  char *args[] = {(char *)SH, (char *)"-c", (char *)"read x; echo got:$x >&0", NULL};
  (void)state;
  test_loop_init(&loop);
  async_pipe_init(&loop, &sock);
  sock.data = &cap;
  p.data = &e;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_close;
  stdio[0].flags = ASYNC_CREATE_PIPE | ASYNC_READABLE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[0].data.stream = (async_stream_t *)&sock;
  o.stdio = stdio;
  o.stdio_count = 1;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_true(async_is_readable((async_stream_t *)&sock));
  assert_true(async_is_writable((async_stream_t *)&sock));
  req.data = NULL;
  assert_int_equal(async_write(&req, (async_stream_t *)&sock, &buf, 1, NULL), 0);
  async_read_start((async_stream_t *)&sock, test_alloc_slab, test_capture_read);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(cap.buf, "got:ping\n");
  assert_int_equal(e.status, 0);
  test_loop_close(&loop);
  test_capture_reset(&cap);
}

/* Reads what is in a raw fd now (the writer has exited). */
static void read_fd(int fd, char *buf, size_t size) {
  ssize_t n = read(fd, buf, size - 1);
  buf[n > 0 ? n : 0] = '\0';
}

static void test_inherit_fd(void **state) {
  int fds[2];
  char got[64];
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo via-fd", NULL};
  (void)state;
  assert_int_equal(async_pipe(fds, 0), 0);
  opts_stdout(&o, stdio, args, NULL);
  stdio[1].flags = ASYNC_INHERIT_FD;
  stdio[1].data.fd = fds[1];
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  read_fd(fds[0], got, sizeof(got));
  assert_string_equal(got, "via-fd\n");
  assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC); /* the parent's fd is untouched */
  close(fds[0]);
  close(fds[1]);
  test_capture_reset(&out);
}

static void test_inherit_stream(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t w;
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_exit e = {0};
  int fds[2];
  char got[64];
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo via-stream", NULL};
  (void)state;
  assert_int_equal(async_pipe(fds, 0), 0);
  test_loop_init(&loop);
  async_pipe_init(&loop, &w);
  assert_int_equal(async_pipe_open(&w, fds[1]), 0);
  p.data = &e;
  opts_stdout(&o, stdio, args, NULL);
  stdio[1].flags = ASYNC_INHERIT_STREAM;
  stdio[1].data.stream = (async_stream_t *)&w;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.calls, 1);
  read_fd(fds[0], got, sizeof(got));
  assert_string_equal(got, "via-stream\n");
  test_loop_close(&loop);
  close(fds[0]);
}

static void test_ignore_gives_dev_null(void **state) {
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  /* stdin is /dev/null: cat ends at once. */
  run_sh("cat; test -c /dev/stdin && echo done", &out, &e);
  assert_string_equal(out.buf, "done\n");
  test_capture_reset(&out);
}

static void test_missing_low_fds_are_dev_null(void **state) {
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  char *args[] = {(char *)SH, (char *)"-c",
                  (char *)"[ \"$(readlink /proc/self/fd/2)\" = /dev/null ] && echo null", NULL};
  (void)state;
  opts_stdout(&o, stdio, args, NULL);
  o.stdio_count = 2; /* fd 2 not given */
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  assert_string_equal(out.buf, "null\n");
  test_capture_reset(&out);
}

static void test_extra_fd(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t out, three;
  async_process_options_t o;
  async_stdio_t stdio[4];
  struct test_capture co = {0}, c3 = {0};
  struct test_exit e = {0};
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo three >&3", NULL};
  (void)state;
  test_loop_init(&loop);
  async_pipe_init(&loop, &out);
  async_pipe_init(&loop, &three);
  out.data = &co;
  three.data = &c3;
  p.data = &e;
  opts_stdout(&o, stdio, args, &out);
  stdio[3].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[3].data.stream = (async_stream_t *)&three;
  o.stdio_count = 4;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  async_read_start((async_stream_t *)&out, test_alloc_slab, test_capture_read);
  async_read_start((async_stream_t *)&three, test_alloc_slab, test_capture_read);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_string_equal(c3.buf, "three\n");
  assert_int_equal(co.len, 0);
  test_loop_close(&loop);
  test_capture_reset(&co);
  test_capture_reset(&c3);
}

/* Child fd 7 from parent fd 8 and 8 from 7: each source is another entry's
 * target, so a naive dup2 order would send both lines to one pipe. */
static void swapped_fds(unsigned flags) {
  async_process_options_t o;
  async_stdio_t stdio[9];
  struct test_capture out = {0};
  struct test_exit e;
  int a[2], b[2];
  char got[64];
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo seven >&7; echo eight >&8", NULL};
  assert_int_equal(async_pipe(a, 0), 0);
  assert_int_equal(async_pipe(b, 0), 0);
  assert_int_equal(dup2(a[1], 7), 7);
  assert_int_equal(dup2(b[1], 8), 8);
  close(a[1]);
  close(b[1]);
  opts_stdout(&o, stdio, args, NULL);
  for (int i = 3; i < 7; i++)
    stdio[i].flags = ASYNC_IGNORE;
  stdio[7].flags = ASYNC_INHERIT_FD;
  stdio[7].data.fd = 8;
  stdio[8].flags = ASYNC_INHERIT_FD;
  stdio[8].data.fd = 7;
  o.stdio_count = 9;
  o.flags = flags;
  o.uid = (uint32_t)getuid();
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  close(7);
  close(8);
  read_fd(a[0], got, sizeof(got));
  assert_string_equal(got, "eight\n");
  read_fd(b[0], got, sizeof(got));
  assert_string_equal(got, "seven\n");
  close(a[0]);
  close(b[0]);
  test_capture_reset(&out);
}

static void test_swapped_fds(void **state) {
  (void)state;
  swapped_fds(0);
}

static void test_swapped_fds_fork_path(void **state) {
  (void)state;
  swapped_fds(ASYNC_PROCESS_SETUID);
}

/* Every fd the child has beyond 0-2 must be one the parent left inheritable:
 * none of the library's (epoll, eventfd, pidfds, pipe ends) gets through. */
static void test_no_library_fd_in_child(void **state) {
  struct test_capture out = {0};
  struct test_exit e;
  char *p, *save = NULL;
  int seen = 0;
  (void)state;
  /* ls lists the shell's fds from a process of its own (the "; true" keeps
   * the shell from exec'ing ls in its place). */
  run_sh("ls /proc/$$/fd; true", &out, &e);
  for (p = strtok_r(out.buf, " \n", &save); p != NULL; p = strtok_r(NULL, " \n", &save)) {
    int fd = atoi(p);
    seen++;
    if (fd > 2) {
      int fl = fcntl(fd, F_GETFD);
      assert_true(fl != -1);
      assert_false(fl & FD_CLOEXEC);
    }
  }
  assert_true(seen >= 3);
  test_capture_reset(&out);
}

static void test_write_after_exit_epipe(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t in;
  async_process_options_t o;
  async_stdio_t stdio[1];
  struct test_exit e = {0};
  struct round_trip rt;
  int status = 1;
  async_buf_t buf = {(char *)"x", 1};
  char *args[] = {(char *)"/bin/true", NULL};
  (void)state;
  test_loop_init(&loop);
  async_pipe_init(&loop, &in);
  p.data = &e;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_close;
  stdio[0].flags = ASYNC_CREATE_PIPE | ASYNC_READABLE_PIPE;
  stdio[0].data.stream = (async_stream_t *)&in;
  o.stdio = stdio;
  o.stdio_count = 1;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  for (int i = 0; i < 100000 && e.calls == 0; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_int_equal(e.calls, 1);
  rt.req.data = &rt;
  status = (int)async_try_write((async_stream_t *)&in, &buf, 1);
  assert_int_equal(status, ASYNC_EPIPE);
  test_loop_close(&loop);
}

/* ---- spawn errors ------------------------------------------------------------ */

static void test_enoent_path(void **state) {
  (void)state;
  assert_int_equal(spawn_error("/nonexistent/prog", NULL, 0), ASYNC_ENOENT);
}

static void test_enoent_name(void **state) {
  (void)state;
  assert_int_equal(spawn_error("no-such-program-async", NULL, 0), ASYNC_ENOENT);
}

static void test_enoent_empty_file(void **state) {
  (void)state;
  assert_int_equal(spawn_error("", NULL, 0), ASYNC_ENOENT);
}

static char tmp_file[64];

static void make_plain_file(void) {
  int fd;
  snprintf(tmp_file, sizeof(tmp_file), "/tmp/async-proc-XXXXXX");
  fd = mkstemp(tmp_file);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
  close(fd);
  chmod(tmp_file, 0644);
}

static void test_eacces_not_executable(void **state) {
  (void)state;
  make_plain_file();
  assert_int_equal(spawn_error(tmp_file, NULL, 0), ASYNC_EACCES);
  unlink(tmp_file);
}

static void test_eacces_directory(void **state) {
  (void)state;
  assert_int_equal(spawn_error("/tmp", NULL, 0), ASYNC_EACCES);
}

static void test_bad_cwd(void **state) {
  (void)state;
  assert_int_equal(spawn_error("/bin/true", "/nonexistent/dir", 0), ASYNC_ENOENT);
}

static void test_enoent_fork_path(void **state) {
  (void)state;
  assert_int_equal(spawn_error("/nonexistent/prog", NULL, ASYNC_PROCESS_SETUID), ASYNC_ENOENT);
  assert_int_equal(spawn_error("no-such-program-async", NULL, ASYNC_PROCESS_SETUID),
                   ASYNC_ENOENT);
}

static void test_eacces_fork_path(void **state) {
  (void)state;
  make_plain_file();
  assert_int_equal(spawn_error(tmp_file, NULL, ASYNC_PROCESS_SETGID), ASYNC_EACCES);
  unlink(tmp_file);
}

static void test_bad_cwd_fork_path(void **state) {
  (void)state;
  assert_int_equal(spawn_error("/bin/true", "/nonexistent/dir", ASYNC_PROCESS_SETUID),
                   ASYNC_ENOENT);
}

static void test_error_leaves_pipes_without_fd(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t out;
  async_process_options_t o;
  async_stdio_t stdio[3];
  char *args[] = {(char *)"/nonexistent/prog", NULL};
  int before;
  (void)state;
  test_loop_init(&loop);
  before = test_fd_count();
  async_pipe_init(&loop, &out);
  opts_stdout(&o, stdio, args, &out);
  assert_int_equal(async_spawn(&loop, &p, &o), ASYNC_ENOENT);
  assert_int_equal(async_read_start((async_stream_t *)&out, test_alloc_slab, test_capture_read), ASYNC_ENOTCONN);
  assert_int_equal(test_fd_count(), before);
  async_close((async_handle_t *)&out, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(async_loop_close(&loop), 0); /* the process handle was never opened */
  assert_no_children();
}

/* ---- env, cwd, PATH ------------------------------------------------------------ */

static void test_env_honoured(void **state) {
  char *env[] = {(char *)"FOO=bar baz", (char *)"ONLY=1", NULL};
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo \"$FOO\" ${HOME:-nohome}", NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  opts_stdout(&o, stdio, args, NULL);
  o.env = env;
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  assert_string_equal(out.buf, "bar baz nohome\n");
  test_capture_reset(&out);
}

static void test_env_inherited_when_null(void **state) {
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  setenv("ASYNC_TEST_INHERIT", "yes-inherited", 1);
  run_sh("echo $ASYNC_TEST_INHERIT", &out, &e);
  unsetenv("ASYNC_TEST_INHERIT");
  assert_string_equal(out.buf, "yes-inherited\n");
  test_capture_reset(&out);
}

static void test_cwd_honoured(void **state) {
  char *args[] = {(char *)SH, (char *)"-c", (char *)"pwd", NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  opts_stdout(&o, stdio, args, NULL);
  o.cwd = "/usr/bin";
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  assert_string_equal(out.buf, "/usr/bin\n");
  test_capture_reset(&out);
}

static void test_path_search_parent_path(void **state) {
  char *args[] = {(char *)"echo", (char *)"found", NULL};
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  assert_int_equal(run_args(args, &out, &e), 0);
  assert_string_equal(out.buf, "found\n");
  test_capture_reset(&out);
}

static int run_with_env_path(const char *path_entry, unsigned flags, struct test_capture *out) {
  char *env[] = {(char *)path_entry, NULL};
  char *args[] = {(char *)"sh", (char *)"-c", (char *)"echo env-path", NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_exit e;
  opts_stdout(&o, stdio, args, NULL);
  o.env = env;
  o.flags = flags;
  o.uid = (uint32_t)getuid();
  return test_spawn_run(&o, out, &e);
}

static void test_path_search_env_path(void **state) {
  struct test_capture out = {0};
  (void)state;
  assert_int_equal(run_with_env_path("PATH=/nonexistent:/tmp:/bin", 0, &out), 0);
  assert_string_equal(out.buf, "env-path\n");
  assert_int_equal(run_with_env_path("PATH=/nonexistent:/tmp", 0, &out), ASYNC_ENOENT);
  test_capture_reset(&out);
}

static void test_path_search_env_path_fork(void **state) {
  struct test_capture out = {0};
  (void)state;
  assert_int_equal(run_with_env_path("PATH=/nonexistent:/bin", ASYNC_PROCESS_SETUID, &out), 0);
  assert_string_equal(out.buf, "env-path\n");
  assert_int_equal(run_with_env_path("PATH=/nonexistent", ASYNC_PROCESS_SETUID, &out),
                   ASYNC_ENOENT);
  test_capture_reset(&out);
}

static void test_env_and_cwd_fork_path(void **state) {
  char *env[] = {(char *)"FOO=forked", NULL};
  char *args[] = {(char *)SH, (char *)"-c", (char *)"echo $FOO $(pwd)", NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  opts_stdout(&o, stdio, args, NULL);
  o.env = env;
  o.cwd = "/tmp";
  o.flags = ASYNC_PROCESS_SETGID;
  o.gid = (uint32_t)getgid();
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  assert_string_equal(out.buf, "forked /tmp\n");
  test_capture_reset(&out);
}

static void test_ignore_fork_path(void **state) {
  char *args[] = {(char *)SH, (char *)"-c", (char *)"cat; echo done-fork", NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  opts_stdout(&o, stdio, args, NULL);
  o.flags = ASYNC_PROCESS_SETUID;
  o.uid = (uint32_t)getuid();
  assert_int_equal(test_spawn_run(&o, &out, &e), 0);
  assert_string_equal(out.buf, "done-fork\n");
  assert_int_equal(e.status, 0);
  test_capture_reset(&out);
}

static void test_signals_reset_in_child(void **state) {
  struct sigaction sa, old_usr, old_term;
  sigset_t block, old_mask;
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigaction(SIGTERM, &sa, &old_term);
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  sigaction(SIGUSR1, NULL, &old_usr);
  /* Ignored and blocked in the parent; the child gets the defaults. */
  run_sh("grep -E '^Sig(Blk|Ign)' /proc/self/status", &out, &e);
  sigaction(SIGTERM, &old_term, NULL);
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  /* Standard signals only: glibc's posix_spawn leaves its two internal
   * real-time signals (32, 33) ignored in every child it starts. */
  assert_non_null(strstr(out.buf, "SigBlk:\t0000000000000000"));
  assert_non_null(strstr(out.buf, "SigIgn:\t"));
  assert_int_equal(strtoull(strstr(out.buf, "SigIgn:\t") + 8, NULL, 16) & 0x7fffffffu, 0);
  test_capture_reset(&out);
}

/* ---- kill ---------------------------------------------------------------------- */

/* A child that blocks reading a stdin pipe the test holds. */
static void spawn_reader(async_loop_t *loop, async_process_t *p, int fds[2], struct test_exit *e,
                         unsigned flags) {
  async_process_options_t o;
  async_stdio_t stdio[1];
  char *args[] = {(char *)SH, (char *)"-c", (char *)"read x; exit 3", NULL};
  assert_int_equal(async_pipe(fds, 0), 0);
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_keep;
  o.flags = flags;
  stdio[0].flags = ASYNC_INHERIT_FD;
  stdio[0].data.fd = fds[0];
  o.stdio = stdio;
  o.stdio_count = 1;
  p->data = e;
  assert_int_equal(async_spawn(loop, p, &o), 0);
  close(fds[0]);
  fds[0] = -1;
}

static void kill_with(int sig) {
  async_loop_t loop;
  async_process_t p;
  struct test_exit e = {0};
  int fds[2];
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  assert_int_equal(async_process_kill(&p, 0), 0); /* alive */
  assert_int_equal(async_process_kill(&p, sig), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.calls, 1);
  assert_int_equal(e.signal, sig);
  assert_int_equal(e.status, 0);
  assert_int_equal(async_process_kill(&p, sig), ASYNC_ESRCH);
  close(fds[1]);
  test_loop_close(&loop);
}

static void test_kill_sigterm(void **state) { (void)state; kill_with(SIGTERM); }
static void test_kill_sigkill(void **state) { (void)state; kill_with(SIGKILL); }
static void test_kill_sigint(void **state) { (void)state; kill_with(SIGINT); }

static void test_kill_exited_esrch(void **state) {
  async_loop_t loop;
  async_process_t p;
  struct test_exit e = {0};
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  close(fds[1]);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.status, 3);
  assert_int_equal(async_process_kill(&p, SIGTERM), ASYNC_ESRCH);
  assert_int_equal(async_process_kill(&p, 0), ASYNC_ESRCH);
  assert_int_equal(async_kill(p.pid, 0), ASYNC_ESRCH); /* reaped: the pid is gone */
  test_loop_close(&loop);
}

static void test_kill_bad_input(void **state) {
  async_loop_t loop;
  async_process_t p;
  struct test_exit e = {0};
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  assert_int_equal(async_process_kill(NULL, SIGTERM), ASYNC_EINVAL);
  assert_int_equal(async_process_kill(&p, -1), ASYNC_EINVAL);
  assert_int_equal(async_process_kill(&p, 1000), ASYNC_EINVAL);
  close(fds[1]);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.status, 3); /* the bad kills did nothing */
  async_close((async_handle_t *)&p, NULL);
  assert_int_equal(async_process_kill(&p, SIGTERM), ASYNC_EINVAL); /* closing */
  assert_int_equal(async_close((async_handle_t *)&p, NULL), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static void test_async_kill(void **state) {
  (void)state;
  assert_int_equal(async_kill(getpid(), 0), 0);
  assert_int_equal(async_kill(getpid(), -5), ASYNC_EINVAL);
  assert_int_equal(async_kill(0x3fffffff, 0), ASYNC_ESRCH);
}

/* ---- bad input --------------------------------------------------------------------- */

struct bad {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t pipe;
  async_process_options_t o;
  async_stdio_t stdio[3];
  char *args[2];
};

static struct bad bad;

static void bad_setup(void) {
  memset(&bad, 0, sizeof(bad));
  test_loop_init(&bad.loop);
  async_pipe_init(&bad.loop, &bad.pipe);
  bad.args[0] = (char *)"/bin/true";
  opts_stdout(&bad.o, bad.stdio, bad.args, &bad.pipe);
}

/* The spawn fails with want and leaves nothing: no child, no fd, no handle. */
static void bad_expect(int want) {
  int before = test_fd_count();
  assert_int_equal(async_spawn(&bad.loop, &bad.p, &bad.o), want);
  assert_int_equal(test_fd_count(), before);
  assert_int_equal(bad.pipe.fd_, -1);
  test_loop_close(&bad.loop);
  assert_no_children();
}

static void test_bad_null_loop(void **state) {
  (void)state;
  bad_setup();
  assert_int_equal(async_spawn(NULL, &bad.p, &bad.o), ASYNC_EINVAL);
  assert_int_equal(bad.pipe.fd_, -1);
  test_loop_close(&bad.loop);
}

static void test_bad_null_process(void **state) {
  (void)state;
  bad_setup();
  assert_int_equal(async_spawn(&bad.loop, NULL, &bad.o), ASYNC_EINVAL);
  test_loop_close(&bad.loop);
}

static void test_bad_null_options(void **state) {
  (void)state;
  bad_setup();
  assert_int_equal(async_spawn(&bad.loop, &bad.p, NULL), ASYNC_EINVAL);
  test_loop_close(&bad.loop);
}

static void test_bad_null_file(void **state) {
  (void)state;
  bad_setup();
  bad.o.file = NULL;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_null_args(void **state) {
  (void)state;
  bad_setup();
  bad.o.args = NULL;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_flags(void **state) {
  (void)state;
  bad_setup();
  bad.o.flags = 64;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_stdio_count(void **state) {
  (void)state;
  bad_setup();
  bad.o.stdio_count = -1;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_stdio_null(void **state) {
  (void)state;
  bad_setup();
  bad.o.stdio = NULL;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_stdio_unknown_flag(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[0].flags = 256;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_pipe_without_direction(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[1].flags = ASYNC_CREATE_PIPE;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_direction_without_pipe(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[0].flags = ASYNC_READABLE_PIPE;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_two_kinds(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[2].flags = ASYNC_INHERIT_FD | ASYNC_INHERIT_STREAM;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_pipe_null_stream(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[1].data.stream = NULL;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_pipe_already_open(void **state) {
  int fds[2];
  (void)state;
  bad_setup();
  assert_int_equal(async_pipe(fds, 0), 0);
  assert_int_equal(async_pipe_open(&bad.pipe, fds[0]), 0);
  assert_int_equal(async_spawn(&bad.loop, &bad.p, &bad.o), ASYNC_EINVAL);
  assert_int_equal(bad.pipe.fd_, fds[0]); /* still the caller's */
  close(fds[1]);
  test_loop_close(&bad.loop);
}

static void test_bad_same_pipe_twice(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[2] = bad.stdio[1];
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_pipe_not_a_pipe(void **state) {
  async_timer_t t;
  (void)state;
  bad_setup();
  async_timer_init(&bad.loop, &t);
  bad.stdio[1].data.stream = (async_stream_t *)(void *)&t;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_inherit_negative_fd(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[2].data.fd = -3;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_inherit_closed_fd(void **state) {
  (void)state;
  bad_setup();
  bad.stdio[2].data.fd = 1000;
  bad_expect(ASYNC_EBADF);
}

static void test_bad_inherit_stream_without_fd(void **state) {
  async_pipe_t other;
  (void)state;
  bad_setup();
  async_pipe_init(&bad.loop, &other);
  bad.stdio[2].flags = ASYNC_INHERIT_STREAM;
  bad.stdio[2].data.stream = (async_stream_t *)&other;
  bad_expect(ASYNC_EINVAL);
}

static void test_bad_closing_pipe(void **state) {
  (void)state;
  bad_setup();
  async_close((async_handle_t *)&bad.pipe, NULL);
  assert_int_equal(async_spawn(&bad.loop, &bad.p, &bad.o), ASYNC_EINVAL);
  test_loop_close(&bad.loop);
}

static void test_bad_exec_error_keeps_pipe_usable(void **state) {
  (void)state;
  bad_setup();
  bad.args[0] = (char *)"/nonexistent/x";
  bad.o.file = bad.args[0];
  bad_expect(ASYNC_ENOENT);
}

/* ---- many children ---------------------------------------------------------------- */

static int many_exits, many_bad;

static void on_many_exit(async_process_t *p, int64_t status, int sig) {
  if (status != (int64_t)(uintptr_t)p->data || sig != 0)
    many_bad++;
  many_exits++;
  async_close((async_handle_t *)p, NULL);
}

static void concurrent(int n) {
  async_loop_t loop;
  async_process_t *ps = calloc((size_t)n, sizeof(*ps));
  async_process_options_t o;
  char scripts[200][16];
  char *args[200][4];
  many_exits = many_bad = 0;
  test_loop_init(&loop);
  memset(&o, 0, sizeof(o));
  o.exit_cb = on_many_exit;
  for (int i = 0; i < n; i++) {
    snprintf(scripts[i], sizeof(scripts[i]), "exit %d", i % 256);
    args[i][0] = (char *)SH;
    args[i][1] = (char *)"-c";
    args[i][2] = scripts[i];
    args[i][3] = NULL;
    o.file = SH;
    o.args = args[i];
    ps[i].data = (void *)(uintptr_t)(i % 256);
    assert_int_equal(async_spawn(&loop, &ps[i], &o), 0);
  }
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(many_exits, n);
  assert_int_equal(many_bad, 0);
  test_loop_close(&loop);
  free(ps);
  assert_no_children();
}

static void test_200_concurrent(void **state) {
  (void)state;
  concurrent(200);
}

static void test_200_concurrent_sigchld(void **state) {
  (void)state;
  set_no_pidfd(1);
  concurrent(200);
  set_no_pidfd(0);
}

static void sequential(int n) {
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  char *args[] = {(char *)"/bin/true", NULL};
  int fds_before = test_fd_count(), fds_loop, bad_exits = 0;
  struct test_exit e;
  test_loop_init(&loop);
  fds_loop = test_fd_count();
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_close;
  for (int i = 0; i < n; i++) {
    memset(&e, 0, sizeof(e));
    p.data = &e;
    assert_int_equal(async_spawn(&loop, &p, &o), 0);
    assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
    bad_exits += e.calls != 1 || e.status != 0;
  }
  assert_int_equal(bad_exits, 0);
  assert_int_equal(test_fd_count(), fds_loop);
  assert_no_children();
  test_loop_close(&loop);
  assert_int_equal(test_fd_count(), fds_before);
}

static void test_1000_sequential(void **state) {
  (void)state;
  sequential(1000);
}

static void test_1000_sequential_sigchld(void **state) {
  (void)state;
  set_no_pidfd(1);
  sequential(1000);
  set_no_pidfd(0);
}

/* ---- reaping: pidfd and the SIGCHLD fallback -------------------------------------- */

/* 1 if this kernel (or valgrind) has pidfd_open. */
static int pidfd_works(void) {
#if defined(SYS_pidfd_open)
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd < 0)
    return 0;
  close(fd);
  return 1;
#else
  return 0;
#endif
}

static void test_pidfd_mode_leaves_sigchld_alone(void **state) {
  async_loop_t loop;
  async_process_t p;
  struct sigaction sa;
  struct test_exit e = {0};
  int fds[2];
  (void)state;
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  sigaction(SIGCHLD, NULL, &sa);
  if (pidfd_works()) /* watched through its pidfd: no handler */
    assert_true(sa.sa_handler == SIG_DFL);
  else /* ENOSYS (an old kernel, valgrind): the fallback took over */
    assert_true(sa.sa_handler != SIG_DFL);
  close(fds[1]);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.status, 3);
  test_loop_close(&loop);
}

static void test_sigchld_mode_installs_and_restores(void **state) {
  async_loop_t loop;
  async_process_t p;
  struct sigaction sa;
  struct test_exit e = {0};
  int fds[2];
  (void)state;
  set_no_pidfd(1);
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  sigaction(SIGCHLD, NULL, &sa);
  assert_true(sa.sa_handler != SIG_DFL);
  close(fds[1]);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.calls, 1);
  assert_int_equal(e.status, 3);
  test_loop_close(&loop);
  sigaction(SIGCHLD, NULL, &sa);
  assert_true(sa.sa_handler == SIG_DFL); /* the loop's close put it back */
  set_no_pidfd(0);
}

static void test_sigchld_echo(void **state) {
  char *args[] = {(char *)"/bin/echo", (char *)"fallback", NULL};
  struct test_capture out = {0};
  struct test_exit e;
  (void)state;
  set_no_pidfd(1);
  assert_int_equal(run_args(args, &out, &e), 0);
  set_no_pidfd(0);
  assert_string_equal(out.buf, "fallback\n");
  assert_int_equal(e.status, 0);
  test_capture_reset(&out);
}

static void test_sigchld_exit_codes(void **state) {
  (void)state;
  set_no_pidfd(1);
  check_exit_code("exit 42", 42);
  check_exit_code("exit 255", 255);
  check_term("kill -TERM $$", SIGTERM);
  set_no_pidfd(0);
}

static void test_sigchld_kill_exited_esrch(void **state) {
  async_loop_t loop;
  async_process_t p;
  struct test_exit e = {0};
  int fds[2];
  (void)state;
  set_no_pidfd(1);
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  assert_int_equal(async_process_kill(&p, SIGKILL), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.signal, SIGKILL);
  assert_int_equal(async_process_kill(&p, SIGKILL), ASYNC_ESRCH);
  close(fds[1]);
  test_loop_close(&loop);
  set_no_pidfd(0);
}

static void test_mixed_modes_one_loop(void **state) {
  async_loop_t loop;
  async_process_t a, b;
  struct test_exit ea = {0}, eb = {0};
  int fa[2], fb[2];
  (void)state;
  test_loop_init(&loop);
  spawn_reader(&loop, &a, fa, &ea, 0);
  set_no_pidfd(1);
  spawn_reader(&loop, &b, fb, &eb, 0);
  set_no_pidfd(0);
  close(fb[1]);
  close(fa[1]);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(ea.calls, 1);
  assert_int_equal(eb.calls, 1);
  assert_int_equal(ea.status, 3);
  assert_int_equal(eb.status, 3);
  test_loop_close(&loop);
}

/* A child the application forked itself stays the application's to reap. */
static void app_child_not_stolen(int no_pidfd) {
  struct test_capture out = {0};
  struct test_exit e;
  int status = 0;
  pid_t mine;
  set_no_pidfd(no_pidfd);
  mine = fork();
  if (mine == 0)
    _exit(7);
  assert_true(mine > 0);
  wait_zombie(mine); /* its SIGCHLD is in before the library's child even starts */
  run_sh("exit 0", &out, &e);
  run_sh("exit 1", &out, &e);
  set_no_pidfd(0);
  assert_int_equal(pid_state(mine), 'Z'); /* still waiting for its parent */
  assert_int_equal(waitpid(mine, &status, 0), mine);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 7);
  test_capture_reset(&out);
}

static void test_app_child_not_stolen_sigchld(void **state) {
  (void)state;
  app_child_not_stolen(1);
}

static void test_app_child_not_stolen_pidfd(void **state) {
  (void)state;
  app_child_not_stolen(0);
}

/* ---- closing before the child exits ----------------------------------------------- */

static void close_before_exit(int no_pidfd) {
  async_loop_t loop;
  async_process_t p;
  struct test_exit e = {0};
  int fds[2], pid;
  set_no_pidfd(no_pidfd);
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  pid = p.pid;
  async_close((async_handle_t *)&p, NULL);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0); /* the orphan keeps nothing alive */
  assert_int_equal(kill(pid, 0), 0);                         /* not killed */
  assert_int_not_equal(pid_state(pid), 'Z');
  close(fds[1]); /* now it exits, and the loop reaps it */
  run_until_gone(&loop, pid);
  assert_int_equal(e.calls, 0); /* no callback for a closed handle */
  test_loop_close(&loop);
  set_no_pidfd(0);
  assert_no_children();
}

static void test_close_before_exit_pidfd(void **state) {
  (void)state;
  close_before_exit(0);
}

static void test_close_before_exit_sigchld(void **state) {
  (void)state;
  close_before_exit(1);
}

/* The loop closes while the orphan still runs: nothing of the loop's is
 * kept, and a later spawn reaps the pid once it exits. */
static void loop_close_with_orphan(int no_pidfd) {
  async_loop_t loop;
  async_process_t p;
  struct test_exit e = {0};
  int fds[2], pid;
  set_no_pidfd(no_pidfd);
  test_loop_init(&loop);
  spawn_reader(&loop, &p, fds, &e, 0);
  pid = p.pid;
  async_close((async_handle_t *)&p, NULL);
  test_loop_close(&loop);
  set_no_pidfd(0);
  assert_int_equal(kill(pid, 0), 0);
  close(fds[1]);
  wait_zombie(pid);
  sweep_leftovers();
  assert_false(pid_exists(pid));
  assert_no_children();
}

static void test_loop_close_with_orphan_pidfd(void **state) {
  (void)state;
  loop_close_with_orphan(0);
}

static void test_loop_close_with_orphan_sigchld(void **state) {
  (void)state;
  loop_close_with_orphan(1);
}

static void test_close_in_exit_cb_and_reuse(void **state) {
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  struct test_exit e = {0};
  char *args[] = {(char *)"/bin/true", NULL};
  (void)state;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_close;
  test_loop_init(&loop);
  p.data = &e;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  /* The handle memory may be spawned again after its close callback. */
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(e.calls, 2);
  test_loop_close(&loop);
}

/* ---- detached ------------------------------------------------------------------- */

static void detached(unsigned extra_flags) {
  async_loop_t loop;
  async_process_t p;
  async_pipe_t out;
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_capture cap = {0};
  struct test_exit e = {0};
  int in[2], pid;
  char *args[] = {(char *)SH, (char *)"-c",
                  (char *)"set -- $(cat /proc/$$/stat); echo $6; read x", NULL};
  assert_int_equal(async_pipe(in, 0), 0);
  test_loop_init(&loop);
  async_pipe_init(&loop, &out);
  out.data = &cap;
  p.data = &e;
  opts_stdout(&o, stdio, args, &out);
  stdio[0].flags = ASYNC_INHERIT_FD;
  stdio[0].data.fd = in[0];
  o.flags = ASYNC_PROCESS_DETACHED | extra_flags;
  o.uid = (uint32_t)getuid();
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  close(in[0]);
  pid = p.pid;
  async_read_start((async_stream_t *)&out, test_alloc_slab, test_capture_read);
  for (int i = 0; i < 100000 && (cap.buf == NULL || strchr(cap.buf, '\n') == NULL); i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  assert_non_null(cap.buf);
  assert_int_equal(atoi(cap.buf), pid); /* leads its own session */
  assert_int_not_equal(atoi(cap.buf), getsid(0));
  async_close((async_handle_t *)&p, NULL);
  async_close((async_handle_t *)&out, NULL);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  assert_int_equal(kill(pid, 0), 0); /* survives its handle */
  assert_int_equal(e.calls, 0);
  close(in[1]);
  run_until_gone(&loop, pid); /* and is still reaped */
  test_loop_close(&loop);
  test_capture_reset(&cap);
}

static void test_detached_survives_close(void **state) {
  (void)state;
  detached(0);
}

static void test_detached_fork_path(void **state) {
  (void)state;
  detached(ASYNC_PROCESS_SETUID);
}

/* ---- uid and gid ------------------------------------------------------------------- */

static int id_run(const char *opt, unsigned flags, uint32_t id, struct test_capture *out) {
  char *args[] = {(char *)"/usr/bin/id", (char *)opt, NULL};
  async_process_options_t o;
  async_stdio_t stdio[3];
  struct test_exit e;
  opts_stdout(&o, stdio, args, NULL);
  o.flags = flags;
  o.uid = id;
  o.gid = id;
  o.cwd = "/";
  return test_spawn_run(&o, out, &e);
}

static void test_setuid_own_uid(void **state) {
  struct test_capture out = {0};
  char want[32];
  (void)state;
  snprintf(want, sizeof(want), "%u\n", (unsigned)getuid());
  assert_int_equal(id_run("-u", ASYNC_PROCESS_SETUID, (uint32_t)getuid(), &out), 0);
  assert_string_equal(out.buf, want);
  test_capture_reset(&out);
}

static void test_setgid_own_gid(void **state) {
  struct test_capture out = {0};
  char want[32];
  (void)state;
  snprintf(want, sizeof(want), "%u\n", (unsigned)getgid());
  assert_int_equal(id_run("-g", ASYNC_PROCESS_SETGID, (uint32_t)getgid(), &out), 0);
  assert_string_equal(out.buf, want);
  test_capture_reset(&out);
}

static void test_setuid_other(void **state) {
  struct test_capture out = {0};
  int err;
  (void)state;
  err = id_run("-u", ASYNC_PROCESS_SETUID | ASYNC_PROCESS_SETGID, 65534, &out);
  if (geteuid() == 0) {
    assert_int_equal(err, 0);
    assert_string_equal(out.buf, "65534\n");
  } else {
    assert_int_equal(err, ASYNC_EPERM);
  }
  test_capture_reset(&out);
}

static void test_setgid_other(void **state) {
  struct test_capture out = {0};
  int err;
  (void)state;
  err = id_run("-G", ASYNC_PROCESS_SETGID, 65534, &out);
  if (geteuid() == 0) {
    assert_int_equal(err, 0);
    assert_string_equal(out.buf, "65534\n"); /* supplementary groups dropped too */
  } else {
    assert_int_equal(err, ASYNC_EPERM);
  }
  test_capture_reset(&out);
}

/* An unprivileged caller asking for another uid gets ASYNC_EPERM from the
 * call itself. Run in a forked child that gives up root first (as root this
 * is the only way to see the refusal; unprivileged, test_setuid_other sees it). */
static int eperm_as_nobody(void) {
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  char *args[] = {(char *)"/bin/true", NULL};
  int err;
  if (setgid(65534) != 0 || setuid(65534) != 0)
    return 10;
  if (async_loop_init(&loop, NULL) != 0)
    return 11;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.cwd = "/";
  o.flags = ASYNC_PROCESS_SETUID;
  o.uid = 0;
  err = async_spawn(&loop, &p, &o);
  async_loop_close(&loop);
  return err == ASYNC_EPERM ? 0 : 12;
}

static void test_setuid_eperm_unprivileged(void **state) {
  int status = 0;
  pid_t pid;
  (void)state;
  if (geteuid() != 0) {
    struct test_capture out = {0};
    assert_int_equal(id_run("-u", ASYNC_PROCESS_SETUID, 0, &out), ASYNC_EPERM);
    test_capture_reset(&out);
    return;
  }
  pid = fork();
  if (pid == 0)
    _exit(eperm_as_nobody());
  assert_true(pid > 0);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- signals and children together ------------------------------------------------ */

static int usr1_calls;

static void on_usr1(async_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  usr1_calls++;
}

/* The child sends its parent 2,000 SIGUSR1s and exits 5: the exit is
 * reported and the signals were too. */
static void child_storms(int no_pidfd) {
  async_loop_t loop;
  async_signal_t sig;
  struct test_capture out = {0};
  struct test_exit e = {0};
  async_process_t p;
  async_process_options_t o;
  char *args[] = {(char *)SH, (char *)"-c",
                  (char *)"i=0; while [ $i -lt 2000 ]; do kill -USR1 $PPID; i=$((i+1)); done; "
                          "exit 5",
                  NULL};
  set_no_pidfd(no_pidfd);
  usr1_calls = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &sig);
  assert_int_equal(async_signal_start(&sig, on_usr1, SIGUSR1), 0);
  memset(&o, 0, sizeof(o));
  o.file = SH;
  o.args = args;
  o.exit_cb = test_exit_close;
  p.data = &e;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  for (int i = 0; i < 1000000 && e.calls == 0; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  set_no_pidfd(0);
  assert_int_equal(e.calls, 1);
  assert_int_equal(e.status, 5);
  async_run(&loop, ASYNC_RUN_NOWAIT);
  assert_true(usr1_calls >= 1);
  test_loop_close(&loop);
  test_capture_reset(&out);
}

static void test_child_storms_pidfd(void **state) {
  (void)state;
  child_storms(0);
}

static void test_child_storms_sigchld(void **state) {
  (void)state;
  child_storms(1);
}

/* The parent storms itself from a prepare hook while children come and go. */
static int storm_sent;

static void storm_hook(async_prepare_t *h) {
  (void)h;
  for (int i = 0; i < 50; i++) {
    kill(getpid(), SIGUSR1);
    storm_sent++;
  }
}

static void self_storm(int no_pidfd) {
  async_loop_t loop;
  async_signal_t sig;
  async_prepare_t prep;
  async_process_t p[20];
  async_process_options_t o;
  char *args[] = {(char *)SH, (char *)"-c", (char *)"exit 9", NULL};
  set_no_pidfd(no_pidfd);
  usr1_calls = storm_sent = many_exits = many_bad = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &sig);
  async_signal_start(&sig, on_usr1, SIGUSR1);
  async_prepare_init(&loop, &prep);
  async_prepare_start(&prep, storm_hook);
  memset(&o, 0, sizeof(o));
  o.file = SH;
  o.args = args;
  o.exit_cb = on_many_exit;
  for (int i = 0; i < 20; i++) {
    p[i].data = (void *)(uintptr_t)9;
    assert_int_equal(async_spawn(&loop, &p[i], &o), 0);
  }
  for (int i = 0; i < 1000000 && many_exits < 20; i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  set_no_pidfd(0);
  assert_int_equal(many_exits, 20);
  assert_int_equal(many_bad, 0);
  assert_true(storm_sent > 0);
  assert_true(usr1_calls >= 1);
  test_loop_close(&loop);
  assert_no_children();
}

static void test_self_storm_pidfd(void **state) {
  (void)state;
  self_storm(0);
}

static void test_self_storm_sigchld(void **state) {
  (void)state;
  self_storm(1);
}

static int user_chld_calls;

static void on_user_chld(async_signal_t *h, int signum) {
  (void)h;
  user_chld_calls += signum == SIGCHLD;
}

/* An application's own SIGCHLD handle still gets its calls in fallback mode. */
static void test_user_sigchld_handle_too(void **state) {
  async_loop_t loop;
  async_signal_t sig;
  struct test_exit e = {0};
  async_process_t p;
  async_process_options_t o;
  char *args[] = {(char *)"/bin/true", NULL};
  (void)state;
  set_no_pidfd(1);
  user_chld_calls = 0;
  test_loop_init(&loop);
  async_signal_init(&loop, &sig);
  assert_int_equal(async_signal_start(&sig, on_user_chld, SIGCHLD), 0);
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = test_exit_close;
  p.data = &e;
  assert_int_equal(async_spawn(&loop, &p, &o), 0);
  for (int i = 0; i < 1000000 && (e.calls == 0 || user_chld_calls == 0); i++)
    async_run(&loop, ASYNC_RUN_ONCE);
  set_no_pidfd(0);
  assert_int_equal(e.calls, 1);
  assert_true(user_chld_calls >= 1);
  test_loop_close(&loop);
}

/* ---- two loops on two threads -------------------------------------------------------- */

struct thread_arg {
  int no_pidfd;
  int exits, bad;
};

static void on_thread_exit(async_process_t *p, int64_t status, int sig) {
  struct thread_arg *t = p->data;
  t->exits++;
  t->bad += status != 11 || sig != 0;
  async_close((async_handle_t *)p, NULL);
}

static void *thread_spawner(void *arg) {
  struct thread_arg *t = arg;
  async_loop_t loop;
  async_process_t p;
  async_process_options_t o;
  char *args[] = {(char *)SH, (char *)"-c", (char *)"exit 11", NULL};
  async_loop_options_t lo;
  memset(&lo, 0, sizeof(lo));
  lo.backend = test_backend();
  if (async_loop_init(&loop, &lo) != 0)
    return NULL;
  memset(&o, 0, sizeof(o));
  o.file = SH;
  o.args = args;
  o.exit_cb = on_thread_exit;
  for (int i = 0; i < 50; i++) {
    p.data = t;
    if (async_spawn(&loop, &p, &o) != 0) {
      t->bad++;
      break;
    }
    async_run(&loop, ASYNC_RUN_DEFAULT);
  }
  async_loop_close(&loop);
  return NULL;
}

static void two_threads(int no_pidfd) {
  pthread_t th[2];
  struct thread_arg t[2];
  set_no_pidfd(no_pidfd);
  memset(t, 0, sizeof(t));
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, thread_spawner, &t[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  set_no_pidfd(0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(t[i].exits, 50);
    assert_int_equal(t[i].bad, 0);
  }
  assert_no_children();
}

static void test_two_threads_pidfd(void **state) {
  (void)state;
  two_threads(0);
}

static void test_two_threads_sigchld(void **state) {
  (void)state;
  two_threads(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    TEST(test_echo_stdout_to_eof),
    TEST(test_exit_0),
    TEST(test_exit_1),
    TEST(test_exit_42),
    TEST(test_exit_255),
    TEST(test_term_sigterm),
    TEST(test_term_sigkill),
    TEST(test_args_passed),
    TEST(test_large_output),
    TEST(test_pid_matches_child),
    TEST(test_handle_type_and_size),
    TEST(test_active_until_exit),
    TEST(test_null_exit_cb),
    TEST(test_unref_does_not_hold_loop),
    TEST(test_cat_round_trip_1mib),
    TEST(test_cat_round_trip_socketpair),
    TEST(test_stdout_and_stderr_apart),
    TEST(test_socketpair_both_ways),
    TEST(test_inherit_fd),
    TEST(test_inherit_stream),
    TEST(test_ignore_gives_dev_null),
    TEST(test_missing_low_fds_are_dev_null),
    TEST(test_extra_fd),
    TEST(test_swapped_fds),
    TEST(test_swapped_fds_fork_path),
    TEST(test_no_library_fd_in_child),
    TEST(test_write_after_exit_epipe),
    TEST(test_enoent_path),
    TEST(test_enoent_name),
    TEST(test_enoent_empty_file),
    TEST(test_eacces_not_executable),
    TEST(test_eacces_directory),
    TEST(test_bad_cwd),
    TEST(test_enoent_fork_path),
    TEST(test_eacces_fork_path),
    TEST(test_bad_cwd_fork_path),
    TEST(test_error_leaves_pipes_without_fd),
    TEST(test_env_honoured),
    TEST(test_env_inherited_when_null),
    TEST(test_cwd_honoured),
    TEST(test_path_search_parent_path),
    TEST(test_path_search_env_path),
    TEST(test_path_search_env_path_fork),
    TEST(test_env_and_cwd_fork_path),
    TEST(test_ignore_fork_path),
    TEST(test_signals_reset_in_child),
    TEST(test_kill_sigterm),
    TEST(test_kill_sigkill),
    TEST(test_kill_sigint),
    TEST(test_kill_exited_esrch),
    TEST(test_kill_bad_input),
    TEST(test_async_kill),
    TEST(test_bad_null_loop),
    TEST(test_bad_null_process),
    TEST(test_bad_null_options),
    TEST(test_bad_null_file),
    TEST(test_bad_null_args),
    TEST(test_bad_flags),
    TEST(test_bad_stdio_count),
    TEST(test_bad_stdio_null),
    TEST(test_bad_stdio_unknown_flag),
    TEST(test_bad_pipe_without_direction),
    TEST(test_bad_direction_without_pipe),
    TEST(test_bad_two_kinds),
    TEST(test_bad_pipe_null_stream),
    TEST(test_bad_pipe_already_open),
    TEST(test_bad_same_pipe_twice),
    TEST(test_bad_pipe_not_a_pipe),
    TEST(test_bad_inherit_negative_fd),
    TEST(test_bad_inherit_closed_fd),
    TEST(test_bad_inherit_stream_without_fd),
    TEST(test_bad_closing_pipe),
    TEST(test_bad_exec_error_keeps_pipe_usable),
    TEST(test_200_concurrent),
    TEST(test_200_concurrent_sigchld),
    TEST(test_1000_sequential),
    TEST(test_1000_sequential_sigchld),
    TEST(test_pidfd_mode_leaves_sigchld_alone),
    TEST(test_sigchld_mode_installs_and_restores),
    TEST(test_sigchld_echo),
    TEST(test_sigchld_exit_codes),
    TEST(test_sigchld_kill_exited_esrch),
    TEST(test_mixed_modes_one_loop),
    TEST(test_app_child_not_stolen_sigchld),
    TEST(test_app_child_not_stolen_pidfd),
    TEST(test_close_before_exit_pidfd),
    TEST(test_close_before_exit_sigchld),
    TEST(test_loop_close_with_orphan_pidfd),
    TEST(test_loop_close_with_orphan_sigchld),
    TEST(test_close_in_exit_cb_and_reuse),
    TEST(test_detached_survives_close),
    TEST(test_detached_fork_path),
    TEST(test_setuid_own_uid),
    TEST(test_setgid_own_gid),
    TEST(test_setuid_other),
    TEST(test_setgid_other),
    TEST(test_setuid_eperm_unprivileged),
    TEST(test_child_storms_pidfd),
    TEST(test_child_storms_sigchld),
    TEST(test_self_storm_pidfd),
    TEST(test_self_storm_sigchld),
    TEST(test_user_sigchld_handle_too),
    TEST(test_two_threads_pidfd),
    TEST(test_two_threads_sigchld),
  };
  return test_run_group("process", tests, sizeof(tests) / sizeof(tests[0]));
}
