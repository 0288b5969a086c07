/* many_fds: libev's classic benchmark: many watched fds, few of them active,
 * on every libasync backend and every peer found.
 *
 *   many_fds [1000] [10000] [--quick] [libasync|libasync-poll|libasync-select|
 *                                      libuv|libev|libevent ...]
 *
 * N fds (1,000 and 10,000) are watched for readability. They are the two
 * ends of N/2 AF_UNIX socketpairs, both ends watched: a byte written to one
 * end makes the other readable. (N pipes would take 2N fds, and 20,000 is
 * the hard RLIMIT_NOFILE on the machine this was written on; a socketpair
 * puts both of its fds in the watched set.) Each round writes one byte to
 * 100 pairs spread evenly over the set (shifted by one pair every round, the
 * written end alternating), then runs the loop once at a time until the 100
 * callbacks, each reading its byte, have run. Reports µs per round (the 100
 * write(2) calls included, the same for everyone) over 2,000 rounds at 1,000
 * fds and 1,000 rounds at 10,000 (a tenth with --quick), after one warm-up
 * round; "in loop" is the part spent in the loop (polls and callbacks, the
 * writes left out), "spurious" the callbacks per round that found nothing to
 * read. The cost that grows with N is the backend's: epoll's does not,
 * poll's and select's scan every fd.
 *   libasync         async_watch_t on epoll; libasync-poll and -select are
 *                    the same on the poll and select backends
 *   libuv            uv_poll_t, uv_run(UV_RUN_ONCE)
 *   libev            ev_io, ev_run(EVRUN_ONCE)
 *   libevent         persistent EV_READ events, event_base_loop(EVLOOP_ONCE)
 * A backend that refuses an fd (an fd limit) shows as FAILED with the reason.
 * Ratio: peer µs/round / libasync's on epoll (higher is better for libasync). */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACTIVE 100

enum { US_ROUND, ROUNDS, POLLS, US_LOOP, SPURIOUS };

struct config {
  int nfds;
  long rounds;
};

/* One implementation: register every fd, run one loop iteration, tear down. */
struct mf_ops {
  const char *(*setup)(const int *fds, int n);  /* NULL or an error */
  void (*once)(void);
  const char *(*backend)(void);
  void (*teardown)(int n);
};

static long seen;           /* callbacks that read their byte */
static long spurious;       /* callbacks that found nothing to read */
static double loop_secs;    /* time inside the loop, the writes left out */

/* Every callback ends here: the byte is taken so the fd is idle again. A
 * callback with nothing to read is counted, not failed: libev's epoll
 * backend delivers some (it says so in its documentation). */
static void on_readable(int fd) {
  char c, what[32];
  ssize_t n = read(fd, &c, 1);
  if (n == 1)
    seen++;
  else if (n < 0 && errno == EAGAIN)
    spurious++;
  else {
    snprintf(what, sizeof what, "read fd %d", fd);
    bench_note_failure(what, n == 0 ? "EOF" : strerror(errno));
  }
}

/* fds[2p] and fds[2p + 1] are pair p's ends, non-blocking. */
static int *open_fds(int n) {
  int *fds = malloc((size_t)n * sizeof *fds);
  if (fds == NULL)
    return NULL;
  for (int p = 0; p < n / 2; p++)
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &fds[2 * p]) != 0) {
      for (int i = 0; i < 2 * p; i++)
        close(fds[i]);
      free(fds);
      return NULL;
    }
  return fds;
}

static int write_round(const int *fds, int n, long round) {
  int pairs = n / 2;
  for (int k = 0; k < ACTIVE; k++) {
    int p = (int)(((long)k * pairs / ACTIVE + round) % pairs);
    if (write(fds[2 * p + (int)(round & 1)], "x", 1) != 1)
      return -1;
  }
  return 0;
}

/* One round: the writes, then loop iterations until every callback ran. */
static long one_round(const struct mf_ops *ops, const int *fds, int n, long round) {
  long want = seen + ACTIVE, polls = 0;
  double t;
  if (write_round(fds, n, round) != 0)
    return -1;
  t = bench_now();
  while (seen < want && !bench_failed()) {
    ops->once();
    polls++;
  }
  loop_secs += bench_now() - t;
  return polls;
}

static void drive(struct bench_result *r, const struct mf_ops *ops, const struct config *c) {
  int *fds = open_fds(c->nfds);
  const char *err;
  long polls = 0, p;
  double t0;
  if (fds == NULL)
    BENCH_FAIL(r, "socketpair: %s", strerror(errno));
  if ((err = ops->setup(fds, c->nfds)) != NULL)
    BENCH_FAIL(r, "%s", err);
  if (one_round(ops, fds, c->nfds, 0) < 0)
    BENCH_FAIL(r, "write: %s", strerror(errno));
  t0 = bench_now();
  loop_secs = 0;
  spurious = 0;
  for (long round = 1; round <= c->rounds; round++) {
    if ((p = one_round(ops, fds, c->nfds, round)) < 0)
      BENCH_FAIL(r, "write: %s", strerror(errno));
    polls += p;
  }
  r->v[US_ROUND] = (bench_now() - t0) * 1e6 / (double)c->rounds;
  r->v[ROUNDS] = (double)c->rounds;
  r->v[POLLS] = (double)polls / (double)c->rounds;
  r->v[US_LOOP] = loop_secs * 1e6 / (double)c->rounds;
  r->v[SPURIOUS] = (double)spurious / (double)c->rounds;
  if (bench_failed())
    bench_fail(r, "%s", bench_failure());
  else
    bench_ok(r, ops->backend());
  ops->teardown(c->nfds);
}

/* ---- libasync ------------------------------------------------------------ */

static async_loop_t a_loop;
static async_watch_t *a_watch;
static const char *a_backend_name;  /* the backend the next setup asks for */

static void a_cb(async_watch_t *w, int status, unsigned events) {
  (void)status, (void)events;
  on_readable(w->fd);
}

static const char *a_setup(const int *fds, int n) {
  static char msg[120];
  async_loop_options_t opts;
  int err;
  memset(&opts, 0, sizeof opts);
  opts.backend = a_backend_name;
  if ((err = async_loop_init(&a_loop, &opts)) != 0) {
    snprintf(msg, sizeof msg, "async_loop_init(%s): %s", a_backend_name, async_strerror(err));
    return msg;
  }
  if ((a_watch = calloc((size_t)n, sizeof *a_watch)) == NULL)
    return "out of memory";
  for (int i = 0; i < n; i++)
    if ((err = async_watch_init(&a_loop, &a_watch[i], fds[i])) != 0 ||
        (err = async_watch_start(&a_watch[i], ASYNC_READABLE, a_cb)) != 0) {
      snprintf(msg, sizeof msg, "%s refuses fd %d (watcher %d of %d): %s", a_backend_name,
               fds[i], i + 1, n, async_strerror(err));
      return msg;
    }
  return NULL;
}

static void a_once(void) { async_run(&a_loop, ASYNC_RUN_ONCE); }
static const char *a_backend(void) { return async_loop_backend(&a_loop); }

static void a_teardown(int n) {
  for (int i = 0; i < n; i++)
    async_close((async_handle_t *)&a_watch[i], NULL);
  async_run(&a_loop, ASYNC_RUN_DEFAULT);
  async_loop_close(&a_loop);
}

static const struct mf_ops a_ops = {a_setup, a_once, a_backend, a_teardown};

static void run_on(struct bench_result *r, const void *arg, const char *backend) {
  a_backend_name = backend;
  drive(r, &a_ops, arg);
}
static void run_libasync(struct bench_result *r, const void *arg) { run_on(r, arg, "epoll"); }
static void run_poll(struct bench_result *r, const void *arg) { run_on(r, arg, "poll"); }
static void run_select(struct bench_result *r, const void *arg) { run_on(r, arg, "select"); }

/* ---- libuv --------------------------------------------------------------- */

#ifdef HAVE_LIBUV
static uv_loop_t u_loop;
static uv_poll_t *u_poll;

static void u_cb(uv_poll_t *w, int status, int events) {
  (void)status, (void)events;
  on_readable((int)(intptr_t)w->data);
}

static const char *u_setup(const int *fds, int n) {
  if (uv_loop_init(&u_loop) != 0 || (u_poll = calloc((size_t)n, sizeof *u_poll)) == NULL)
    return "uv_loop_init or out of memory";
  for (int i = 0; i < n; i++) {
    if (uv_poll_init(&u_loop, &u_poll[i], fds[i]) != 0 ||
        uv_poll_start(&u_poll[i], UV_READABLE, u_cb) != 0)
      return "uv_poll_init/uv_poll_start failed";
    u_poll[i].data = (void *)(intptr_t)fds[i];
  }
  return NULL;
}

static void u_once(void) { uv_run(&u_loop, UV_RUN_ONCE); }
static const char *u_backend(void) { return "epoll"; }

static void u_teardown(int n) {
  for (int i = 0; i < n; i++)
    uv_close((uv_handle_t *)&u_poll[i], NULL);
  uv_run(&u_loop, UV_RUN_DEFAULT);
  uv_loop_close(&u_loop);
}

static const struct mf_ops u_ops = {u_setup, u_once, u_backend, u_teardown};
static void run_libuv(struct bench_result *r, const void *arg) { drive(r, &u_ops, arg); }
#endif

/* ---- libev --------------------------------------------------------------- */

#ifdef HAVE_LIBEV
static struct ev_loop *e_loop;
static ev_io *e_io;

static void e_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop, (void)revents;
  on_readable(w->fd);
}

static const char *e_setup(const int *fds, int n) {
  if ((e_loop = ev_loop_new(EVFLAG_AUTO)) == NULL ||
      (e_io = calloc((size_t)n, sizeof *e_io)) == NULL)
    return "ev_loop_new or out of memory";
  for (int i = 0; i < n; i++) {
    ev_io_init(&e_io[i], e_cb, fds[i], BENCH_EV_READ);
    ev_io_start(e_loop, &e_io[i]);
  }
  return NULL;
}

static void e_once(void) { ev_run(e_loop, EVRUN_ONCE); }
static const char *e_backend(void) {
  return ev_backend(e_loop) == EVBACKEND_EPOLL ? "epoll" : "other";
}

static void e_teardown(int n) {
  for (int i = 0; i < n; i++)
    ev_io_stop(e_loop, &e_io[i]);
  ev_loop_destroy(e_loop);
}

static const struct mf_ops e_ops = {e_setup, e_once, e_backend, e_teardown};
static void run_libev(struct bench_result *r, const void *arg) { drive(r, &e_ops, arg); }
#endif

/* ---- libevent ------------------------------------------------------------ */

#ifdef HAVE_LIBEVENT
static struct event_base *le_base;
static struct event **le_ev;

static void le_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what, (void)arg;
  on_readable(fd);
}

static const char *le_setup(const int *fds, int n) {
  if ((le_base = event_base_new()) == NULL || (le_ev = calloc((size_t)n, sizeof *le_ev)) == NULL)
    return "event_base_new or out of memory";
  for (int i = 0; i < n; i++)
    if ((le_ev[i] = event_new(le_base, fds[i], EV_READ | EV_PERSIST, le_cb, NULL)) == NULL ||
        event_add(le_ev[i], NULL) != 0)
      return "event_new/event_add failed";
  return NULL;
}

static void le_once(void) { event_base_loop(le_base, EVLOOP_ONCE); }
static const char *le_backend(void) { return event_base_get_method(le_base); }

static void le_teardown(int n) {
  for (int i = 0; i < n; i++)
    event_free(le_ev[i]);
  event_base_free(le_base);
}

static const struct mf_ops le_ops = {le_setup, le_once, le_backend, le_teardown};
static void run_libevent(struct bench_result *r, const void *arg) { drive(r, &le_ops, arg); }
#endif

/* ---- report -------------------------------------------------------------- */

static const struct bench_impl impls[] = {
    {"libasync", run_libasync}, {"libasync-poll", run_poll}, {"libasync-select", run_select},
    BENCH_IMPL_LIBUV BENCH_IMPL_LIBEV BENCH_IMPL_LIBEVENT};
#define NIMPLS (sizeof impls / sizeof impls[0])

static void section(const struct config *c, int argc, char **argv) {
  struct bench_result res[NIMPLS];
  const struct bench_result *a, *ev;

  printf("\nmany_fds %d: %d watched fds (%d socketpairs), %d written per round, %ld rounds\n",
         c->nfds, c->nfds, c->nfds / 2, ACTIVE, c->rounds);
  bench_run_all(impls, NIMPLS, c, res, 300, argc, argv);
  a = bench_find(impls, NIMPLS, res, "libasync");
  printf("%-18s %10s %10s %12s %10s  %s\n", "implementation", "us/round", "in loop",
         "polls/round", "spurious",
         "libasync advantage (other's us/round / libasync's on epoll; higher is better)");
  for (size_t i = 0; i < NIMPLS; i++) {
    const struct bench_result *r = &res[i];
    int ours = strncmp(impls[i].name, "libasync", 8) == 0;
    if (!bench_row(ours && r->ok ? "libasync" : impls[i].name, r))
      continue;
    printf(" %10.1f %10.1f %12.2f %10.2f", r->v[US_ROUND], r->v[US_LOOP], r->v[POLLS],
           r->v[SPURIOUS]);
    if (a != NULL && i > 0)
      printf("  %.2fx", r->v[US_ROUND] / a->v[US_ROUND]);
    printf("\n");
  }
  ev = bench_find(impls, NIMPLS, res, "libev");
  printf("targets:\n");
  if (c->nfds >= 10000)
    bench_target("10,000-fd rounds <= libev's (epoll)",
                 a && ev ? ev->v[US_ROUND] / a->v[US_ROUND] : -1, 1.0);
}

int main(int argc, char **argv) {
  int small = bench_flag(argc, argv, "1000"), big = bench_flag(argc, argv, "10000");
  long scale = bench_flag(argc, argv, "--quick") ? 10 : 1;
  struct config configs[] = {{1000, 2000 / scale}, {10000, 1000 / scale}};
  long limit;

  if (!small && !big)
    small = big = 1;
  limit = bench_raise_nofile();
  bench_print_env();
  for (size_t i = 0; i < 2; i++) {
    if (!(i == 0 ? small : big))
      continue;
    if (limit < configs[i].nfds + 64) {
      printf("\nmany_fds %d: skipped, RLIMIT_NOFILE is %ld\n", configs[i].nfds, limit);
      continue;
    }
    section(&configs[i], argc, argv);
  }
  return 0;
}
