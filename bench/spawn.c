/* spawn: libuv's spawn workload, on libasync, libuv, libev and raw posix_spawn.
 *
 *   spawn [raw|libasync|libuv|libev ...]
 *
 * 1,000 times in a row: start spawn_helper (built beside this program; it
 * writes one line and exits 42, so no shell start-up is measured), read its
 * stdout to EOF through a pipe, wait for its exit, check both, start the next.
 * stdin is /dev/null, stderr is inherited.
 *   raw       posix_spawn + blocking read + waitpid: the limit, no event loop
 *   libasync  async_spawn with a created pipe, exit_cb
 *   libuv     uv_spawn with a created pipe, exit_cb
 *   libev     posix_spawn (libev starts no processes itself), an ev_io on the
 *             pipe and an ev_child on the default loop's SIGCHLD handling
 * Reports spawns/s, the ratio to raw (1.00 = as fast as raw), and libasync's
 * advantage over each peer (libasync rate / peer rate; higher is better).
 * Each figure is the median of $SPAWN_ROUNDS rounds (5), every round running
 * each implementation once in turn: on a shared machine one run swings by
 * a factor of two or three, and interleaving spreads that over everyone.
 * $ASYNC_BACKEND picks libasync's backend. */
#include "bench.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define SPAWNS 1000
#define HELPER_LINE "hello\n"
#define HELPER_EXIT 42

enum { RATE, BAD };

static char helper[PATH_MAX];
static char *helper_argv[] = {helper, NULL};
static int done, bad;
static size_t got;
static double t0;

/* spawn_helper lives in this program's directory. */
static int find_helper(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  snprintf(helper, sizeof helper, "%s/spawn_helper", dirname(self));
  return access(helper, X_OK);
}

static void finish(struct bench_result *r, const char *backend) {
  r->v[RATE] = SPAWNS / (bench_now() - t0);
  r->v[BAD] = bad;
  if (done == SPAWNS && bad == 0)
    bench_ok(r, backend);
  else
    bench_fail(r, "%d of %d spawns, %d with wrong output or status", done, SPAWNS, bad);
}

/* One child finished: its output was got bytes and its status status. */
static void account(int exited, int status) {
  bad += got != sizeof HELPER_LINE - 1 || !exited || status != HELPER_EXIT;
  done++;
  got = 0;
}

/* ---- raw posix_spawn ----------------------------------------------------- */

/* File actions of the raw and libev runs: stdin /dev/null, stdout the pipe. */
static int raw_actions(posix_spawn_file_actions_t *fa, int wfd) {
  return posix_spawn_file_actions_init(fa) ||
         posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0) ||
         posix_spawn_file_actions_adddup2(fa, wfd, 1);
}

/* Starts the helper with stdout on a new pipe; returns the read end or -1. */
static int raw_start(pid_t *pid) {
  posix_spawn_file_actions_t fa;
  int fds[2], err;
  if (pipe2(fds, O_CLOEXEC) != 0)
    return -1;
  err = raw_actions(&fa, fds[1]) || posix_spawn(pid, helper, &fa, NULL, helper_argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (err) {
    close(fds[0]);
    return -1;
  }
  return fds[0];
}

static void run_raw(struct bench_result *r, const void *arg) {
  char buf[256];
  (void)arg;
  t0 = bench_now();
  for (int i = 0; i < SPAWNS; i++) {
    pid_t pid;
    int status, fd = raw_start(&pid);
    ssize_t n;
    if (fd < 0)
      BENCH_FAIL(r, "posix_spawn failed");
    while ((n = read(fd, buf, sizeof buf)) > 0)
      got += (size_t)n;
    close(fd);
    waitpid(pid, &status, 0);
    account(WIFEXITED(status), WEXITSTATUS(status));
  }
  finish(r, "none");
}

/* ---- libasync ------------------------------------------------------------ */

static async_loop_t a_loop;
static char a_buf[4096];
static int a_exited, a_status, a_eof;
static void a_start(void);

static void a_alloc(async_handle_t *h, size_t size, async_buf_t *buf) {
  (void)h, (void)size;
  buf->base = a_buf;
  buf->len = sizeof a_buf;
}

static async_process_t a_procs[2];
static async_pipe_t a_pipes[2];

/* The handles of a child close on the turn it ends; the next child gets the
 * other set, so no handle memory is reused before its close callback. */
static void a_maybe_next(void) {
  int k = done & 1;
  if (!a_eof || a_exited < 0)
    return;
  account(1, a_status);
  async_close((async_handle_t *)&a_procs[k], NULL);
  async_close((async_handle_t *)&a_pipes[k], NULL);
  if (done < SPAWNS)
    a_start();
}

static void a_read(async_stream_t *s, long n, const async_buf_t *buf) {
  (void)s, (void)buf;
  if (n > 0) {
    got += (size_t)n;
  } else if (n < 0) {
    a_eof = 1;
    a_maybe_next();
  }
}

static void a_exit(async_process_t *p, int64_t status, int sig) {
  (void)p;
  a_exited = 1;
  a_status = sig != 0 ? -1 : (int)status;
  a_maybe_next();
}

static void a_start(void) {
  async_process_options_t o;
  async_stdio_t stdio[3];
  int k = done & 1;
  memset(&o, 0, sizeof o);
  a_exited = -1;
  a_eof = 0;
  async_pipe_init(&a_loop, &a_pipes[k]);
  stdio[0].flags = ASYNC_IGNORE;
  stdio[1].flags = ASYNC_CREATE_PIPE | ASYNC_WRITABLE_PIPE;
  stdio[1].data.stream = (async_stream_t *)&a_pipes[k];
  stdio[2].flags = ASYNC_INHERIT_FD;
  stdio[2].data.fd = 2;
  o.file = helper;
  o.args = helper_argv;
  o.exit_cb = a_exit;
  o.stdio = stdio;
  o.stdio_count = 3;
  if (async_spawn(&a_loop, &a_procs[k], &o) != 0) {
    bad++;
    async_close((async_handle_t *)&a_pipes[k], NULL);
    return;
  }
  async_read_start((async_stream_t *)&a_pipes[k], a_alloc, a_read);
}

static void run_libasync(struct bench_result *r, const void *arg) {
  (void)arg;
  if (async_loop_init(&a_loop, NULL) != 0)
    BENCH_FAIL(r, "async_loop_init failed");
  t0 = bench_now();
  a_start();
  async_run(&a_loop, ASYNC_RUN_DEFAULT);
  finish(r, async_loop_backend(&a_loop));
  async_loop_close(&a_loop);
}

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_loop_t *u_loop;
static uv_process_t u_procs[2];
static uv_pipe_t u_pipes[2];
static char u_buf[4096];
static int u_exited, u_status, u_eof;
static void u_start(void);

static void u_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(u_buf, sizeof u_buf);
}

static void u_maybe_next(void) {
  int k = done & 1;
  if (!u_eof || u_exited < 0)
    return;
  account(1, u_status);
  uv_close((uv_handle_t *)&u_procs[k], NULL);
  uv_close((uv_handle_t *)&u_pipes[k], NULL);
  if (done < SPAWNS)
    u_start();
}

static void u_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)s, (void)buf;
  if (n > 0) {
    got += (size_t)n;
  } else if (n < 0) {
    u_eof = 1;
    u_maybe_next();
  }
}

static void u_exit(uv_process_t *p, int64_t status, int sig) {
  (void)p;
  u_exited = 1;
  u_status = sig != 0 ? -1 : (int)status;
  u_maybe_next();
}

static void u_start(void) {
  uv_process_options_t o;
  uv_stdio_container_t stdio[3];
  int k = done & 1;
  memset(&o, 0, sizeof o);
  u_exited = -1;
  u_eof = 0;
  uv_pipe_init(u_loop, &u_pipes[k], 0);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&u_pipes[k];
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  o.file = helper;
  o.args = helper_argv;
  o.exit_cb = u_exit;
  o.stdio = stdio;
  o.stdio_count = 3;
  if (uv_spawn(u_loop, &u_procs[k], &o) != 0) {
    bad++;
    return;
  }
  uv_read_start((uv_stream_t *)&u_pipes[k], u_alloc, u_read);
}

static void run_libuv(struct bench_result *r, const void *arg) {
  (void)arg;
  u_loop = uv_default_loop();
  t0 = bench_now();
  u_start();
  uv_run(u_loop, UV_RUN_DEFAULT);
  finish(r, "epoll");
  uv_loop_close(u_loop);
}
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static struct ev_loop *e_loop;
static ev_io e_io;
static ev_child e_child;
static char e_buf[4096];
static int e_exited, e_status, e_eof;
static void e_start(void);

static void e_maybe_next(void) {
  if (!e_eof || e_exited < 0)
    return;
  account(1, e_status);
  if (done < SPAWNS)
    e_start();
}

static void e_read(struct ev_loop *loop, ev_io *w, int revents) {
  ssize_t n = read(w->fd, e_buf, sizeof e_buf);
  (void)revents;
  if (n > 0) {
    got += (size_t)n;
    return;
  }
  if (n < 0 && errno == EAGAIN)
    return;
  ev_io_stop(loop, w);
  close(w->fd);
  e_eof = 1;
  e_maybe_next();
}

static void e_exit(struct ev_loop *loop, ev_child *w, int revents) {
  (void)revents;
  ev_child_stop(loop, w);
  e_exited = 1;
  e_status = WIFEXITED(w->rstatus) ? WEXITSTATUS(w->rstatus) : -1;
  e_maybe_next();
}

static void e_start(void) {
  pid_t pid;
  int fd = raw_start(&pid);
  e_exited = -1;
  e_eof = 0;
  if (fd < 0) {
    bad++;
    return;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  ev_io_init(&e_io, e_read, fd, EV_READ);
  ev_io_start(e_loop, &e_io);
  ev_child_init(&e_child, e_exit, pid, 0);
  ev_child_start(e_loop, &e_child);
}

static void run_libev(struct bench_result *r, const void *arg) {
  (void)arg;
  e_loop = ev_default_loop(EVFLAG_AUTO);
  t0 = bench_now();
  e_start();
  ev_run(e_loop, 0);
  finish(r, ev_backend(e_loop) == EVBACKEND_EPOLL ? "epoll" : "other");
}
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {
  {"raw", run_raw}, {"libasync", run_libasync}, BENCH_IMPL_LIBUV BENCH_IMPL_LIBEV};
#define NIMPLS (sizeof impls / sizeof impls[0])

/* The median of n values (n <= ROUNDS_MAX; sorts a copy). */
#define ROUNDS_MAX 15
static double median(const double *v, int n) {
  double s[ROUNDS_MAX];
  memcpy(s, v, (size_t)n * sizeof *v);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
      double t = s[j];
      s[j] = s[j - 1];
      s[j - 1] = t;
    }
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double rate_of(const char *name, const double med[]) {
  for (size_t i = 0; i < NIMPLS; i++)
    if (strcmp(impls[i].name, name) == 0)
      return med[i];
  return -1;
}

static double ratio(double a, double b) { return a > 0 && b > 0 ? a / b : -1; }

int main(int argc, char **argv) {
  struct bench_result res[NIMPLS];
  double rates[NIMPLS][ROUNDS_MAX], med[NIMPLS], lo[NIMPLS], hi[NIMPLS];
  int ok[NIMPLS], rounds = 5;
  const char *env = getenv("SPAWN_ROUNDS");
  if (env != NULL && atoi(env) > 0)
    rounds = atoi(env) < ROUNDS_MAX ? atoi(env) : ROUNDS_MAX;
  if (find_helper() != 0) {
    fprintf(stderr, "spawn_helper not found next to this program\n");
    return 1;
  }
  bench_print_env();
  printf("\nspawn: %d helpers in a row (one line of stdout to EOF, exit %d); %d rounds,\n"
         "implementations interleaved in each ($SPAWN_ROUNDS changes it)\n",
         SPAWNS, HELPER_EXIT, rounds);
  for (size_t i = 0; i < NIMPLS; i++)
    ok[i] = 1;
  for (int k = 0; k < rounds; k++) {
    bench_run_all(impls, NIMPLS, NULL, res, 300, argc, argv);
    for (size_t i = 0; i < NIMPLS; i++) {
      rates[i][k] = res[i].v[RATE];
      ok[i] &= res[i].ok;
    }
  }
  for (size_t i = 0; i < NIMPLS; i++) {
    med[i] = ok[i] ? median(rates[i], rounds) : -1;
    lo[i] = hi[i] = rates[i][0];
    for (int k = 1; k < rounds; k++) {
      lo[i] = rates[i][k] < lo[i] ? rates[i][k] : lo[i];
      hi[i] = rates[i][k] > hi[i] ? rates[i][k] : hi[i];
    }
  }
  printf("%-18s %9s %9s %9s %8s %8s  %s\n", "implementation", "median/s", "min/s", "best/s",
         "x raw", "best x", "libasync advantage, median (best)");
  for (size_t i = 0; i < NIMPLS; i++) {
    if (!bench_row(impls[i].name, &res[i]))
      continue;
    if (!ok[i]) {
      printf(" FAILED in some round\n");
      continue;
    }
    printf(" %9.0f %9.0f %9.0f %7.2fx %7.2fx", med[i], lo[i], hi[i],
           ratio(med[i], rate_of("raw", med)), ratio(hi[i], rate_of("raw", hi)));
    if (i > 1)
      printf("  %.2fx (%.2fx)", ratio(rate_of("libasync", med), med[i]),
             ratio(rate_of("libasync", hi), hi[i]));
    printf("\n");
  }
  /* The best round is the least disturbed one: the targets use it. */
  printf("targets (best round of each):\n");
  bench_target("spawn >= 0.95x raw posix_spawn", ratio(rate_of("libasync", hi), rate_of("raw", hi)),
               0.95);
  bench_target("spawn ahead of libuv", ratio(rate_of("libasync", hi), rate_of("libuv", hi)), 1.0);
  bench_target("spawn ahead of libev", ratio(rate_of("libasync", hi), rate_of("libev", hi)), 1.0);
  return 0;
}
