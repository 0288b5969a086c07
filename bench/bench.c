/* Shared helpers for the libasync benchmarks: clocks, RSS, CPU pinning, the
 * fork-per-implementation runner and the report lines. See bench.h. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static double ts_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_now(void) { return ts_seconds(CLOCK_MONOTONIC); }
double bench_cpu(void) { return ts_seconds(CLOCK_PROCESS_CPUTIME_ID); }

double bench_cpu_user(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
}

double bench_rss(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = 0;
  fclose(f);
  return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

int bench_pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set);
}

void bench_ok(struct bench_result *r, const char *backend) {
  r->ok = 1;
  snprintf(r->backend, sizeof r->backend, "%s", backend);
}

void bench_fail(struct bench_result *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->note, sizeof r->note, fmt, ap);
  va_end(ap);
  r->ok = 0;
}

void bench_fork(bench_fn fn, const void *arg, struct bench_result *r, unsigned timeout_s) {
  int fds[2], status = 0;
  ssize_t got = 0, n;
  pid_t pid;

  memset(r, 0, sizeof *r);
  fflush(stdout);
  fflush(stderr);
  if (pipe(fds) != 0) {
    bench_fail(r, "pipe: %s", strerror(errno));
    return;
  }
  pid = fork();
  if (pid < 0) {
    bench_fail(r, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(timeout_s);
    fn(r, arg);
    if (write(fds[1], r, sizeof *r) != (ssize_t)sizeof *r)
      _exit(2);
    _exit(0);
  }
  close(fds[1]);
  while (got < (ssize_t)sizeof *r &&
         ((n = read(fds[0], (char *)r + got, sizeof *r - (size_t)got)) > 0 ||
          (n < 0 && errno == EINTR)))
    if (n > 0)
      got += n;
  close(fds[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (got == (ssize_t)sizeof *r)
    return;
  memset(r, 0, sizeof *r);
  if (WIFSIGNALED(status))
    bench_fail(r, "child killed by signal %d (%s)%s", WTERMSIG(status),
               strsignal(WTERMSIG(status)),
               WTERMSIG(status) == SIGALRM ? ": timed out" : "");
  else
    bench_fail(r, "child exited with status %d", WEXITSTATUS(status));
}

static int is_impl_name(const struct bench_impl *impls, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(impls[i].name, s) == 0)
      return 1;
  return 0;
}

void bench_run_all(const struct bench_impl *impls, size_t n, const void *arg,
                   struct bench_result *res, unsigned timeout_s, int argc, char **argv) {
  int named = 0;
  for (int a = 1; a < argc; a++)
    named |= is_impl_name(impls, n, argv[a]);
  for (size_t i = 0; i < n; i++) {
    int run = !named;
    for (int a = 1; a < argc && !run; a++)
      run = strcmp(argv[a], impls[i].name) == 0;
    if (run) {
      bench_fork(impls[i].fn, arg, &res[i], timeout_s);
    } else {
      memset(&res[i], 0, sizeof res[i]);
      res[i].skipped = 1;
    }
  }
}

const struct bench_result *bench_find(const struct bench_impl *impls, size_t n,
                                      const struct bench_result *res, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(impls[i].name, name) == 0)
      return res[i].ok ? &res[i] : NULL;
  return NULL;
}

int bench_row(const char *impl, const struct bench_result *r) {
  char name[48];
  snprintf(name, sizeof name, "%s(%s)", impl, r->ok ? r->backend : "-");
  printf("%-18s", name);
  if (r->skipped)
    printf(" skipped\n");
  else if (!r->ok)
    printf(" FAILED: %s\n", r->note);
  return r->ok;
}

/* The number after --seconds is no flag: "pump --seconds 100" names no variant. */
int bench_flag(int argc, char **argv, const char *flag) {
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], flag) == 0)
      return 1;
    if (strcmp(argv[a], "--seconds") == 0)
      a++;
  }
  return 0;
}

long bench_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur;
}

struct sockaddr_in bench_loopback(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int bench_read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n <= 0 && !(n < 0 && errno == EINTR))
      return -1;
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    }
  }
  return 0;
}

static char failure[160];

void bench_note_failure(const char *what, const char *why) {
  if (failure[0] == '\0')
    snprintf(failure, sizeof failure, "%s: %s", what, why);
}

int bench_failed(void) { return failure[0] != '\0'; }
const char *bench_failure(void) { return failure; }

void bench_print_of_raw(double rate, double raw_rate) {
  if (raw_rate > 0)
    printf(" %7.2fx", rate / raw_rate);
  else
    printf(" %8s", "-");
}

int bench_tcp_listener(struct sockaddr_in *addr, int backlog) {
  socklen_t len = sizeof *addr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = bench_loopback();
  if (fd < 0)
    return -1;
  if (bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int bench_tcp_pair(int fds[2], int nonblock) {
  struct sockaddr_in addr;
  int one = 1, lfd = bench_tcp_listener(&addr, 1);
  if (lfd < 0)
    return -1;
  fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  fds[1] = -1;
  if (fds[0] >= 0 && connect(fds[0], (struct sockaddr *)&addr, sizeof addr) == 0)
    fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  close(lfd);
  for (int i = 0; i < 2; i++)
    if (fds[i] < 0 || setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        (nonblock && set_nonblock(fds[i]) != 0)) {
      if (fds[0] >= 0)
        close(fds[0]);
      if (fds[1] >= 0)
        close(fds[1]);
      return -1;
    }
  return 0;
}

double bench_seconds(int argc, char **argv, double dflt) {
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--quick") == 0)
      return 1;
    if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc && atof(argv[a + 1]) > 0)
      return atof(argv[a + 1]);
  }
  return dflt;
}

static void cpu_model(char *buf, size_t len) {
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(buf, len, "unknown CPU");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f) != NULL) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
      snprintf(buf, len, "%s", colon + 2);
      buf[strcspn(buf, "\n")] = '\0';
      break;
    }
  }
  fclose(f);
}

void bench_print_env(void) {
  char cpu[128];
  struct utsname u;
  cpu_model(cpu, sizeof cpu);
  if (uname(&u) != 0)
    snprintf(u.release, sizeof u.release, "?");
  printf("libasync %d.%d.%d", ASYNC_VERSION_MAJOR, ASYNC_VERSION_MINOR, ASYNC_VERSION_PATCH);
#ifdef HAVE_LIBUV
  printf(", libuv %s", uv_version_string());
#endif
#ifdef HAVE_LIBEV
  printf(", libev %d.%d", ev_version_major(), ev_version_minor());
#endif
#ifdef HAVE_LIBEVENT
  printf(", libevent %s", event_get_version());
#endif
  printf("; %ld CPUs (%s), kernel %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release);
}

void bench_target(const char *what, double advantage, double need) {
  if (advantage < 0)
    printf("  n/a     %s: not measured\n", what);
  else
    printf("  %-7s %s: advantage %.2fx (need >= %.2fx)\n",
           advantage >= need ? "MET" : "MISSED", what, advantage, need);
}

static unsigned long slow_reports;
static void count_slow(async_loop_t *loop, const async_slow_report_t *r) {
  (void)loop, (void)r;
  slow_reports++;
}

int bench_async_loop_init(async_loop_t *loop, const async_loop_options_t *options) {
  const char *ns = getenv("BENCH_SLOW_NS");
  int err = async_loop_init(loop, options);
  if (err == 0 && ns != NULL && *ns != '\0')
    err = async_loop_report_slow(loop, strtoull(ns, NULL, 10), count_slow);
  return err;
}
