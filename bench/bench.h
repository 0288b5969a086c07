/* Shared helpers for the libasync benchmarks (the .c files in bench/).
 *
 * Every workload runs each implementation (libasync, then libuv, libev and
 * libevent when they were found at configure time) in its own forked child,
 * so heap state, RSS and kernel objects never leak from one to the next. The
 * child fills a struct bench_result and sends it back over a pipe.
 *
 * Ratios printed by the workloads are always "libasync advantage": peer cost
 * divided by libasync cost, or libasync rate divided by peer rate. Higher is
 * better for libasync; 1.00 means a tie. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

/* Every workload drives libasync and whichever peers were found. */
#include <async.h>
#ifdef HAVE_LIBUV
#include <uv.h>
#endif
#ifdef HAVE_LIBEV
#include <ev.h>
/* libevent's event2/event.h (included next) #defines EV_READ as 0x02, which
 * is libev's EV_WRITE, over libev's enum constant: an ev_io set up with
 * EV_READ below that include watches writability. libev code uses these. */
enum { BENCH_EV_READ = EV_READ, BENCH_EV_WRITE = EV_WRITE };
#endif
#ifdef HAVE_LIBEVENT
#include <event2/event.h>
#endif

/* A workload's implementation table, from the run_ functions it defines
 * (each peer's under its HAVE_ guard). */
#ifdef HAVE_LIBUV
#define BENCH_IMPL_LIBUV {"libuv", run_libuv},
#else
#define BENCH_IMPL_LIBUV
#endif
#ifdef HAVE_LIBEV
#define BENCH_IMPL_LIBEV {"libev", run_libev},
#else
#define BENCH_IMPL_LIBEV
#endif
#ifdef HAVE_LIBEVENT
#define BENCH_IMPL_LIBEVENT {"libevent", run_libevent},
#else
#define BENCH_IMPL_LIBEVENT
#endif
#define BENCH_IMPLS \
  {"libasync", run_libasync}, BENCH_IMPL_LIBUV BENCH_IMPL_LIBEV BENCH_IMPL_LIBEVENT

struct bench_result {
  int ok;             /* set by bench_ok(); 0 when the child failed */
  int skipped;        /* not among the implementations named on the command line */
  char backend[24];   /* the loop backend the child ran on */
  char note[160];     /* why it failed, or a remark */
  double v[8];        /* the workload's numbers */
};

typedef void (*bench_fn)(struct bench_result *r, const void *arg);

struct bench_impl {
  const char *name;   /* "libasync", "libuv", "libev", "libevent" */
  bench_fn fn;
};

/* Wall clock (CLOCK_MONOTONIC) and process CPU time (user + sys), seconds. */
double bench_now(void);
double bench_cpu(void);
/* The user-mode part of the process CPU time (getrusage), seconds. */
double bench_cpu_user(void);
/* Resident set size of this process in bytes, from /proc/self/statm. */
double bench_rss(void);

/* Pins the calling thread (and threads it creates later) to one CPU. */
int bench_pin(int cpu);

/* Runs fn(r, arg) in a forked child that is killed after timeout_s seconds. */
void bench_fork(bench_fn fn, const void *arg, struct bench_result *r, unsigned timeout_s);

void bench_ok(struct bench_result *r, const char *backend);
void bench_fail(struct bench_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* bench_fail, then return from the (void) workload function. */
#define BENCH_FAIL(r, ...)                                                    \
  do {                                                                        \
    bench_fail((r), __VA_ARGS__);                                             \
    return;                                                                   \
  } while (0)

/* Runs every implementation named in argv[1..] (all of them when none is
 * named) through bench_fork, filling res[i] for impls[i]; the rest get ok = 0. */
void bench_run_all(const struct bench_impl *impls, size_t n, const void *arg,
                   struct bench_result *res, unsigned timeout_s, int argc, char **argv);
/* The result of the implementation called name, or NULL if it did not run or failed. */
const struct bench_result *bench_find(const struct bench_impl *impls, size_t n,
                                      const struct bench_result *res, const char *name);
/* Prints a result row's first column, "impl(backend)"; for a failed or skipped
 * implementation also the reason and a newline, and returns 0. */
int bench_row(const char *impl, const struct bench_result *r);
/* 1 if argv[1..] contains flag. */
int bench_flag(int argc, char **argv, const char *flag);

/* async_loop_init, then, when $BENCH_SLOW_NS is set, slow-callback reports
 * on with that threshold (what the reports cost when on). */
int bench_async_loop_init(async_loop_t *loop, const async_loop_options_t *options);

/* Raises the soft RLIMIT_NOFILE to the hard limit (workloads with thousands
 * of fds); returns the soft limit now in force. */
long bench_raise_nofile(void);
/* A blocking TCP socket listening on 127.0.0.1 at a port the kernel picks,
 * written to *addr; -1 on failure. */
int bench_tcp_listener(struct sockaddr_in *addr, int backlog);
/* A connected TCP pair over loopback (fds[0] connected, fds[1] accepted),
 * both with TCP_NODELAY, blocking or non-blocking; 0 or -1. The peers without
 * a connect/accept API (libev, libevent) and the raw baselines get their
 * connections from here. */
int bench_tcp_pair(int fds[2], int nonblock);
/* 127.0.0.1 with port 0, for bind (the kernel picks the port). */
struct sockaddr_in bench_loopback(void);
/* Reads exactly len bytes from a blocking socket: 0, or -1 on an error or EOF. */
int bench_read_full(int fd, void *buf, size_t len);
/* The first failure a workload's callbacks met, kept as "what: why" (later
 * ones are dropped: the first is the cause). Each forked child has its own. */
void bench_note_failure(const char *what, const char *why);
int bench_failed(void);
const char *bench_failure(void);
/* Prints a row's "of raw" column: rate / raw_rate, or "-" when raw_rate <= 0. */
void bench_print_of_raw(double rate, double raw_rate);
/* The seconds a timed workload runs: --seconds N, --quick (1 s) or dflt. */
double bench_seconds(int argc, char **argv, double dflt);

/* One line: the library versions and the machine. */
void bench_print_env(void);
/* Prints "  MET     what: advantage 1.23x (need >= 1.00x)"; pass advantage < 0
 * when either side was not measured. */
void bench_target(const char *what, double advantage, double need);

#endif /* BENCH_H */
