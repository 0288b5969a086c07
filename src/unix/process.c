/* Subprocesses. A child is started with posix_spawn where it can express
 * every option (glibc spawns with clone(CLONE_VM|CLONE_VFORK): no copy of a
 * large parent, exec errors come back from the call), else with fork and
 * exec and a close-on-exec pipe that carries the child's errno back. Each
 * child has a record in its loop until it is reaped: its pidfd is watched
 * where the kernel has pidfd_open, otherwise a SIGCHLD handle reaps the
 * loop's own pids one by one, never waitpid(-1), so the application's
 * other children are left alone. See docs/process.md. */
#include "unix.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
# include <sys/syscall.h>
#endif
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#if defined(__APPLE__)
/* A shared library on macOS cannot reach environ directly. */
# include <crt_externs.h>
# define environ (*_NSGetEnviron())
#else
extern char **environ;
#endif

/* The loop's record of one child, alive until the child is reaped: it
 * outlives a handle closed first, so the child never stays a zombie. */
struct async__child {
  async_watch_t io;         /* watches the pidfd (pidfd mode) */
  struct async__link link;  /* in loop->children_ */
  async_process_t *process; /* NULL once the handle closed */
  int pid;
  int pidfd;                /* -1: the SIGCHLD pass reaps it; BY_BACKEND: see below */
};

#define BY_BACKEND (-2) /* pidfd: the backend reports the exit (kqueue's EVFILT_PROC) */
#define DEVNULL (-1)   /* a child fd that is /dev/null */
#define MAX_STDIO 1024

/* What async_spawn prepared: per child fd, the parent fd it becomes. */
struct plan {
  int count;                /* child fds 0..count-1 */
  int src[MAX_STDIO];
  int owned[MAX_STDIO];     /* 1: the library made src[i] and closes it after the spawn */
  int parent_end[MAX_STDIO];/* CREATE_PIPE: the parent's end, else -1 */
};

static int translate(int e) { return async_translate_sys_error(e); }

/* ---- leftovers: children still running when their loop closed ------------ */

/* A loop that closes cannot watch its children any more: the pids of those
 * still running wait here, in static storage so that no loop memory outlives
 * the loop, and every later spawn, reap pass or loop close reaps the ones
 * that have exited. */
#define MAX_LEFTOVERS 256
static pthread_mutex_t leftover_lock = PTHREAD_MUTEX_INITIALIZER;
static int leftovers[MAX_LEFTOVERS];
static int leftover_count;

static int try_wait(int pid, int *status) {
  int r;
  do
    r = waitpid(pid, status, WNOHANG);
  while (r < 0 && errno == EINTR);
  return r;
}

static void leftovers_sweep(void) {
  int status;
  if (__atomic_load_n(&leftover_count, __ATOMIC_ACQUIRE) == 0)
    return;
  pthread_mutex_lock(&leftover_lock);
  for (int i = 0; i < MAX_LEFTOVERS; i++) {
    if (leftovers[i] != 0 && try_wait(leftovers[i], &status) != 0) {
      leftovers[i] = 0;
      __atomic_sub_fetch(&leftover_count, 1, __ATOMIC_RELEASE);
    }
  }
  pthread_mutex_unlock(&leftover_lock);
}

/* Returns 0 when the table is full: that child stays a zombie once it exits
 * until the process ends (docs/process.md). */
static int leftover_add(int pid) {
  int added = 0;
  pthread_mutex_lock(&leftover_lock);
  for (int i = 0; i < MAX_LEFTOVERS && !added; i++) {
    if (leftovers[i] == 0) {
      leftovers[i] = pid;
      __atomic_add_fetch(&leftover_count, 1, __ATOMIC_RELEASE);
      added = 1;
    }
  }
  pthread_mutex_unlock(&leftover_lock);
  return added;
}

/* ---- reaping ---------------------------------------------------------------- */

static void child_free(async_loop_t *loop, struct async__child *c) {
  async__list_remove(&c->link);
  if (c->pidfd >= 0) {
    async__io_detach(loop, c->pidfd);
    close(c->pidfd);
  }
  async__free(c);
}

/* The child is gone: free its record, then tell the handle (if still open). */
static void child_exited(async_loop_t *loop, struct async__child *c, int status) {
  async_process_t *p = c->process;
  int64_t code = 0;
  int sig = 0;
  child_free(loop, c);
  if (p == NULL)
    return;
  p->child_ = NULL;
  async__handle_stop((async_handle_t *)p);
  if (WIFEXITED(status))
    code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    sig = WTERMSIG(status);
  if (p->exit_cb_ != NULL)
    ASYNC__HANDLE_CB(p, ASYNC_CB_EXIT, p->exit_cb_(p, code, sig));
}

/* 1 if the child was reaped (and reported). ECHILD means someone else reaped
 * it (SIGCHLD ignored, a waitpid(-1) elsewhere): reported as exit 0. */
static int child_reap(async_loop_t *loop, struct async__child *c) {
  int status = 0, r = try_wait(c->pid, &status);
  if (r == 0)
    return 0;
  if (r < 0)
    status = 0;
  child_exited(loop, c, status);
  return 1;
}

static void pidfd_cb(async_watch_t *w, int status, unsigned events) {
  (void)status;
  (void)events;
  child_reap(w->loop, async__container_of(w, struct async__child, io));
}

/* SIGCHLD arrived: try the loop's children that have no pidfd. A callback
 * may spawn (new records go behind the batch) or close handles (records
 * stay); only this pass frees records of the batch. */
static void sigchld_cb(async_signal_t *h, int signum) {
  async_loop_t *loop = h->loop;
  struct async__link batch;
  (void)signum;
  async__list_move(&loop->children_, &batch);
  while (!async__list_empty(&batch)) {
    struct async__link *n = batch.next;
    struct async__child *c = async__container_of(n, struct async__child, link);
    async__list_remove(n);
    async__list_insert_tail(&loop->children_, n);
    if (c->pidfd == -1)
      child_reap(loop, c);
  }
  leftovers_sweep();
}

/* The fallback's SIGCHLD handle: internal (never walked, keeps nothing
 * alive), started on the first child that needs it, stopped at loop close. */
static int sigchld_start(async_loop_t *loop) {
  async_signal_t *h = &loop->sigchld_;
  if (async__is_active(h))
    return 0;
  async__handle_init_internal(loop, (async_handle_t *)h, ASYNC_SIGNAL);
  h->signum = 0;
  h->oneshot_ = 0;
  return async_signal_start(h, sigchld_cb, SIGCHLD);
}

/* A child may have exited before the handler was there: look on the next turn
 * as if SIGCHLD had arrived. */
static void sigchld_poke(async_loop_t *loop) {
  __atomic_fetch_or(&loop->signals_pending_, UINT64_C(1) << (SIGCHLD - 1), __ATOMIC_ACQ_REL);
  async__wake(loop);
}

void async__process_loop_init(async_loop_t *loop) {
  async__list_init(&loop->children_);
  loop->sigchld_.flags_ = 0;
}

/* Every handle is closed by now, so every record left is an orphan: reap
 * what has exited, hand the pids still running to the leftovers. */
void async__process_loop_close(async_loop_t *loop) {
  while (!async__list_empty(&loop->children_)) {
    struct async__child *c = async__container_of(loop->children_.next, struct async__child, link);
    int status;
    if (try_wait(c->pid, &status) == 0)
      leftover_add(c->pid);
    child_free(loop, c);
  }
  if (async__is_active(&loop->sigchld_))
    async_signal_stop(&loop->sigchld_);
  leftovers_sweep();
}

/* ---- pidfd ------------------------------------------------------------------ */

static int pidfd_broken; /* the kernel said ENOSYS once */

/* ASYNC_NO_PIDFD sends every child to the SIGCHLD path, the backend's own
 * exit watch (EVFILT_PROC) included. */
static int exit_watch_refused(void) {
  const char *v = getenv("ASYNC_NO_PIDFD");
  return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

static int pidfd_wanted(void) {
  return !__atomic_load_n(&pidfd_broken, __ATOMIC_RELAXED) && !exit_watch_refused();
}

static int pidfd_open_cloexec(int pid) {
#if defined(SYS_pidfd_open)
  int fd = (int)syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */
  if (fd < 0 && errno == ENOSYS)
    __atomic_store_n(&pidfd_broken, 1, __ATOMIC_RELAXED);
  return fd;
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

/* Watches the child's pidfd; ASYNC_ENOSYS and friends send it to SIGCHLD. */
static int child_watch_pidfd(async_loop_t *loop, struct async__child *c) {
  int fd = pidfd_open_cloexec(c->pid), err;
  if (fd < 0)
    return translate(errno);
  err = async__io_attach_internal(loop, &c->io, fd, pidfd_cb);
  if (err == 0) {
    c->io.events_ = ASYNC_READABLE;
    err = async__io_set(loop, fd, ASYNC_READABLE);
    if (err != 0)
      loop->fds_[fd].watcher = NULL;
  }
  if (err != 0) {
    close(fd);
    return err;
  }
  c->pidfd = fd;
  return 0;
}

/* ---- checking the options ------------------------------------------------- */

/* The portable checks, then what only the system can tell: whether each
 * inherited fd is open. */
static int options_check(async_loop_t *loop, async_process_t *p,
                         const async_process_options_t *o) {
  int err = async__spawn_check(loop, p, o, MAX_STDIO);
  for (int i = 0; err == 0 && i < o->stdio_count; i++)
    if ((o->stdio[i].flags & ASYNC_INHERIT_FD) && fcntl(o->stdio[i].data.fd, F_GETFD) == -1)
      err = ASYNC_EBADF;
  return err;
}

/* ---- the stdio plan ---------------------------------------------------- */

static void plan_release(struct plan *pl, int close_parent_ends) {
  for (int i = 0; i < pl->count; i++) {
    if (pl->owned[i])
      close(pl->src[i]);
    pl->owned[i] = 0;
    if (close_parent_ends && pl->parent_end[i] >= 0) {
      close(pl->parent_end[i]);
      pl->parent_end[i] = -1;
    }
  }
}

/* A pair for a created pipe: one end for the child, one for the parent.
 * Both directions need a socket pair; one direction is a pipe. */
static int make_pipe(unsigned flags, int *child_end, int *parent_end) {
  int fds[2];
  if ((flags & ASYNC_READABLE_PIPE) && (flags & ASYNC_WRITABLE_PIPE)) {
#if defined(ASYNC_HAVE_SOCK_CLOEXEC)
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      return translate(errno);
#else
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
      return translate(errno);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#endif
    *child_end = fds[0];
    *parent_end = fds[1];
    return 0;
  }
  int err = async_pipe(fds, 0);
  if (err != 0)
    return err;
  *child_end = (flags & ASYNC_READABLE_PIPE) ? fds[0] : fds[1];
  *parent_end = (flags & ASYNC_READABLE_PIPE) ? fds[1] : fds[0];
  return 0;
}

/* A source fd below count could be overwritten by the dup2 onto another
 * child fd before it is read: move it above, so that each child fd i comes
 * from i itself or from an fd no dup2 touches. */
static int move_above(struct plan *pl, int i) {
  int fd = pl->src[i];
  if (fd == DEVNULL || fd == i || fd >= pl->count)
    return 0;
  fd = fcntl(fd, F_DUPFD_CLOEXEC, pl->count);
  if (fd < 0)
    return translate(errno);
  if (pl->owned[i])
    close(pl->src[i]);
  pl->src[i] = fd;
  pl->owned[i] = 1;
  return 0;
}

static int plan_entry(struct plan *pl, const async_process_options_t *o, int i) {
  const async_stdio_t *s = i < o->stdio_count ? &o->stdio[i] : NULL;
  unsigned flags = s != NULL ? s->flags : ASYNC_IGNORE;
  int err;
  if (flags & ASYNC_CREATE_PIPE) {
    err = make_pipe(flags, &pl->src[i], &pl->parent_end[i]);
    if (err != 0)
      return err;
    pl->owned[i] = 1;
  } else if (flags & ASYNC_INHERIT_FD) {
    pl->src[i] = s->data.fd;
  } else if (flags & ASYNC_INHERIT_STREAM) {
    pl->src[i] = s->data.stream->fd_;
  }
  return 0;
}

static int plan_make(struct plan *pl, const async_process_options_t *o) {
  int err = 0;
  pl->count = o->stdio_count > 3 ? o->stdio_count : 3;
  for (int i = 0; i < pl->count; i++) {
    pl->src[i] = DEVNULL;
    pl->owned[i] = 0;
    pl->parent_end[i] = -1;
  }
  for (int i = 0; i < pl->count && err == 0; i++)
    err = plan_entry(pl, o, i);
  for (int i = 0; i < pl->count && err == 0; i++)
    err = move_above(pl, i);
  if (err != 0)
    plan_release(pl, 1);
  return err;
}

/* ---- PATH ----------------------------------------------------------------- */

/* The PATH the child's name is looked up in: env's when env is given and has
 * one, else the parent's, else the system default. */
static const char *search_path(char **env) {
  const char *v;
  if (env != NULL) {
    for (char **e = env; *e != NULL; e++)
      if (strncmp(*e, "PATH=", 5) == 0)
        return *e + 5;
  }
  v = getenv("PATH");
  return v != NULL ? v : "/bin:/usr/bin";
}

/* Copies directory entry [dir, end) and "/" file into buf; 0 if too long.
 * Async-signal-safe: the fork path calls it in the child. */
static int join_path(char *buf, size_t size, const char *dir, size_t dlen, const char *file) {
  size_t flen = strlen(file);
  if (dlen == 0) { /* an empty entry is the current directory */
    dir = ".";
    dlen = 1;
  }
  if (dlen + 1 + flen + 1 > size)
    return 0;
  memcpy(buf, dir, dlen);
  buf[dlen] = '/';
  memcpy(buf + dlen + 1, file, flen + 1);
  return 1;
}

/* For each candidate path of file: try(path) returns 0 on success or a
 * positive errno. Like execvp: ENOENT and ENOTDIR go on to the next entry,
 * EACCES is remembered and the search goes on, any other error ends it. */
typedef int (*try_fn)(const char *path, void *arg);

static int path_search(const char *file, const char *path, try_fn fn, void *arg) {
  char buf[PATH_MAX];
  int seen_eacces = 0, err = ENOENT;
  if (strchr(file, '/') != NULL)
    return fn(file, arg);
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (join_path(buf, sizeof(buf), p, len, file)) {
      err = fn(buf, arg);
      if (err == 0)
        return 0;
      if (err == EACCES)
        seen_eacces = 1;
      else if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG)
        return err;
    }
    if (end == NULL)
      break;
    p = end;
  }
  return seen_eacces ? EACCES : err == ENOTDIR || err == ENAMETOOLONG ? ENOENT : err;
}

/* ---- posix_spawn ------------------------------------------------------------- */

struct spawn_args {
  const async_process_options_t *o;
  const struct plan *pl;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  char **env;
  pid_t pid;
};

/* Does this libc's posix_spawn report exec errors (glibc's vfork-style one
 * does; one emulated with a plain fork, as under valgrind, does not)? Probed
 * once with a path that cannot exist. 1 yes, 0 no. */
static int spawn_reports_errors(void) {
  static int answer = -1;
  int a = __atomic_load_n(&answer, __ATOMIC_ACQUIRE);
  if (a < 0) {
    char *argv[] = {(char *)"async-probe", NULL};
    pid_t pid;
    int status;
    a = posix_spawn(&pid, "/nonexistent/async-spawn-probe", NULL, NULL, argv, environ) != 0;
    if (!a)
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    __atomic_store_n(&answer, a, __ATOMIC_RELEASE);
  }
  return a;
}

static int can_posix_spawn(const async_process_options_t *o) {
  if (o->flags & (ASYNC_PROCESS_SETUID | ASYNC_PROCESS_SETGID))
    return 0;
#if !defined(POSIX_SPAWN_SETSID)
  if (o->flags & ASYNC_PROCESS_DETACHED)
    return 0;
#endif
#if !defined(ASYNC_HAVE_SPAWN_ADDCHDIR)
  if (o->cwd != NULL)
    return 0;
#endif
  return spawn_reports_errors();
}

static int file_actions(posix_spawn_file_actions_t *fa, const struct plan *pl, const char *cwd) {
  int err = 0;
  for (int i = 0; i < pl->count && err == 0; i++) {
    if (pl->src[i] == DEVNULL)
      err = posix_spawn_file_actions_addopen(fa, i, "/dev/null", O_RDWR, 0);
    else /* dup2 of i onto itself clears close-on-exec (glibc 2.29+, POSIX 2017) */
      err = posix_spawn_file_actions_adddup2(fa, pl->src[i], i);
  }
#if defined(ASYNC_HAVE_SPAWN_ADDCHDIR)
  if (err == 0 && cwd != NULL)
    err = posix_spawn_file_actions_addchdir_np(fa, cwd);
#else
  (void)cwd;
#endif
  return err;
}

/* The child starts with every signal at its default and none blocked. */
static int spawn_attrs(posix_spawnattr_t *attr, unsigned flags) {
  sigset_t all, none;
  short sflags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  int err;
  sigfillset(&all);
  sigemptyset(&none);
#if defined(POSIX_SPAWN_SETSID)
  if (flags & ASYNC_PROCESS_DETACHED)
    sflags |= POSIX_SPAWN_SETSID;
#else
  (void)flags;
#endif
  if ((err = posix_spawnattr_setsigdefault(attr, &all)) != 0 ||
      (err = posix_spawnattr_setsigmask(attr, &none)) != 0)
    return err;
  return posix_spawnattr_setflags(attr, sflags);
}

static int try_posix_spawn(const char *path, void *arg) {
  struct spawn_args *a = arg;
  return posix_spawn(&a->pid, path, &a->fa, &a->attr, a->o->args, a->env);
}

static int spawn_posix(const async_process_options_t *o, const struct plan *pl, char **env,
                       pid_t *pid) {
  struct spawn_args a;
  int err;
  a.o = o;
  a.pl = pl;
  a.env = env;
  if ((err = posix_spawn_file_actions_init(&a.fa)) != 0)
    return translate(err);
  if ((err = posix_spawnattr_init(&a.attr)) != 0) {
    posix_spawn_file_actions_destroy(&a.fa);
    return translate(err);
  }
  err = file_actions(&a.fa, pl, o->cwd);
  if (err == 0)
    err = spawn_attrs(&a.attr, o->flags);
  if (err == 0)
    err = path_search(o->file, search_path(o->env), try_posix_spawn, &a);
  posix_spawnattr_destroy(&a.attr);
  posix_spawn_file_actions_destroy(&a.fa);
  if (err == 0)
    *pid = a.pid;
  return translate(err);
}

/* ---- fork and exec ------------------------------------------------------------ */

/* Everything below up to spawn_fork runs in the forked child: async-signal-
 * safe calls only, no allocation. */

static void child_fail(int errfd, int err) {
  ssize_t r;
  do
    r = write(errfd, &err, sizeof(err));
  while (r < 0 && errno == EINTR);
  _exit(127);
}

static void child_signals(void) {
  struct sigaction sa;
  sigset_t none;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    sigaction(s, &sa, NULL); /* SIGKILL, SIGSTOP and libc's own refuse: fine */
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
}

static void child_stdio(const struct plan *pl, int errfd) {
  for (int i = 0; i < pl->count; i++) {
    int fd = pl->src[i];
    if (fd == DEVNULL) {
      fd = open("/dev/null", O_RDWR);
      if (fd < 0)
        child_fail(errfd, errno);
      if (fd != i) {
        if (dup2(fd, i) < 0)
          child_fail(errfd, errno);
        close(fd);
      }
    } else if (fd == i) {
      if (fcntl(i, F_SETFD, 0) != 0)
        child_fail(errfd, errno);
    } else if (dup2(fd, i) < 0) {
      child_fail(errfd, errno);
    }
  }
}

static void child_ids(const async_process_options_t *o, int errfd) {
  if (o->flags & (ASYNC_PROCESS_SETUID | ASYNC_PROCESS_SETGID))
    (void)setgroups(0, NULL); /* fails without privilege: setuid/setgid then say why */
  if ((o->flags & ASYNC_PROCESS_SETGID) && setgid((gid_t)o->gid) != 0)
    child_fail(errfd, errno);
  if ((o->flags & ASYNC_PROCESS_SETUID) && setuid((uid_t)o->uid) != 0)
    child_fail(errfd, errno);
}

struct exec_args {
  char **args;
  char **env;
};

static int try_exec(const char *path, void *arg) {
  struct exec_args *a = arg;
  execve(path, a->args, a->env);
  return errno;
}

static void child_main(const async_process_options_t *o, const struct plan *pl, char **env,
                       const char *path, int errfd) {
  struct exec_args a;
  child_signals();
  if ((o->flags & ASYNC_PROCESS_DETACHED) && setsid() < 0)
    child_fail(errfd, errno);
  child_stdio(pl, errfd);
  if (o->cwd != NULL && chdir(o->cwd) != 0)
    child_fail(errfd, errno);
  child_ids(o, errfd);
  a.args = o->args;
  a.env = env;
  child_fail(errfd, path_search(o->file, path, try_exec, &a));
}

/* The error pipe's write end must survive the stdio dup2s: above count. */
static int error_pipe(int fds[2], int count) {
  int err = async_pipe(fds, 0);
  if (err != 0)
    return err;
  if (fds[1] < count) {
    int fd = fcntl(fds[1], F_DUPFD_CLOEXEC, count);
    if (fd < 0) {
      err = translate(errno);
      close(fds[0]);
      close(fds[1]);
      return err;
    }
    close(fds[1]);
    fds[1] = fd;
  }
  return 0;
}

/* Reads the child's errno: end of file means exec succeeded. */
static int read_child_error(int fd) {
  int child_err = 0;
  ssize_t r;
  do
    r = read(fd, &child_err, sizeof(child_err));
  while (r < 0 && errno == EINTR);
  return r == (ssize_t)sizeof(child_err) ? child_err : 0;
}

/* Signals stay blocked across fork so that no handler of the parent's runs
 * in the child before it has reset them. */
static int spawn_fork(const async_process_options_t *o, const struct plan *pl, char **env,
                      pid_t *pid) {
  const char *path = search_path(o->env); /* looked up before fork: getenv is not safe after */
  sigset_t all, old;
  int fds[2], err, child_err, status;
  pid_t child;
  if ((err = error_pipe(fds, pl->count)) != 0)
    return err;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  child = fork();
  if (child == 0) {
    close(fds[0]);
    child_main(o, pl, env, path, fds[1]);
  }
  err = child < 0 ? translate(errno) : 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(fds[1]);
  child_err = err == 0 ? read_child_error(fds[0]) : 0;
  close(fds[0]);
  if (child_err != 0) { /* the child exits at once: reap it here */
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
      ;
    return translate(child_err);
  }
  if (err == 0)
    *pid = child;
  return err;
}

/* ---- async_spawn ----------------------------------------------------------- */

/* Hands the parent ends of created pipes to their handles. A failure kills
 * the child: async_spawn then fails as a whole. */
static int open_pipes(const async_process_options_t *o, struct plan *pl) {
  for (int i = 0; i < o->stdio_count; i++) {
    int err;
    if (pl->parent_end[i] < 0)
      continue;
    err = async_pipe_open((async_pipe_t *)o->stdio[i].data.stream, pl->parent_end[i]);
    if (err != 0)
      return err;
    pl->parent_end[i] = -1;
  }
  return 0;
}

/* Undoes the pipes already handed over (fds closed, handles without fd). */
static void close_opened_pipes(const async_process_options_t *o, const struct plan *pl) {
  for (int i = 0; i < o->stdio_count; i++) {
    async_stream_t *s = o->stdio[i].data.stream;
    if (!(o->stdio[i].flags & ASYNC_CREATE_PIPE) || pl->parent_end[i] >= 0 || s->fd_ < 0)
      continue;
    async__io_detach(s->loop, s->fd_);
    close(s->fd_);
    s->fd_ = -1;
    s->stream_flags_ = 0;
  }
}

static void kill_and_reap(pid_t pid) {
  int status;
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
}

/* The backend's report of an exit: a pid the loop no longer has (its record
 * went with the loop's close of a handle's child) is not the loop's to reap. */
void async__child_event(async_loop_t *loop, int pid) {
  for (struct async__link *n = loop->children_.next; n != &loop->children_; n = n->next) {
    struct async__child *c = async__container_of(n, struct async__child, link);
    if (c->pid == pid && c->pidfd == BY_BACKEND) {
      child_reap(loop, c);
      return;
    }
  }
}

/* Starts watching the new child: through the backend where it reports
 * exits, else its pidfd. Without either wanted, the SIGCHLD handle was
 * started before the spawn and sees the exit. When the backend or pidfd_open
 * refuses (a child already gone: ESRCH), the handle starts only now: the
 * child may already have exited, so the loop looks on its next turn. */
static int child_track(async_loop_t *loop, struct async__child *c, int use_pidfd) {
  int err;
  if (loop->backend_->watch_pid != NULL) {
    if (use_pidfd && loop->backend_->watch_pid(loop, c->pid) == 0) {
      c->pidfd = BY_BACKEND;
      return 0;
    }
  } else if (!use_pidfd || child_watch_pidfd(loop, c) == 0) {
    return 0;
  }
  err = sigchld_start(loop);
  if (err == 0)
    sigchld_poke(loop);
  return err;
}

/* Starts the child; the child's ends in the plan are closed either way, and
 * the parent's ends too when it fails. */
static int spawn_child(const async_process_options_t *o, struct plan *pl, pid_t *pid) {
  char **env = o->env != NULL ? o->env : environ;
  int err = can_posix_spawn(o) ? spawn_posix(o, pl, env, pid) : spawn_fork(o, pl, env, pid);
  plan_release(pl, err != 0);
  return err;
}

/* The loop takes the running child: its record, its watcher, the pipes and
 * the handle. If any of it fails, the child is killed and reaped and nothing
 * is left, as if it never ran. */
static int adopt_child(async_loop_t *loop, async_process_t *p, const async_process_options_t *o,
                       struct plan *pl, struct async__child *c, pid_t pid, int use_pidfd) {
  int err = async__handle_init(loop, (async_handle_t *)p, ASYNC_PROCESS);
  if (err != 0) {
    async__free(c);
  } else {
    c->pid = pid;
    c->pidfd = -1;
    c->process = p;
    async__list_insert_tail(&loop->children_, &c->link);
    if ((err = child_track(loop, c, use_pidfd)) == 0 && (err = open_pipes(o, pl)) == 0) {
      p->pid = pid;
      p->exit_cb_ = o->exit_cb;
      p->child_ = c;
      async__handle_start((async_handle_t *)p);
      return 0;
    }
    close_opened_pipes(o, pl);
    child_free(loop, c);
    async__handle_uninit((async_handle_t *)p);
  }
  plan_release(pl, 1);
  kill_and_reap(pid);
  return err;
}

int async_spawn(async_loop_t *loop, async_process_t *p, const async_process_options_t *o) {
  struct plan pl;
  struct async__child *c;
  int use_pidfd, err;
  pid_t pid = 0;
  if ((err = options_check(loop, p, o)) != 0)
    return err;
  leftovers_sweep();
  use_pidfd = loop->backend_->watch_pid != NULL ? !exit_watch_refused() : pidfd_wanted();
  if ((c = async__malloc(sizeof(*c))) == NULL)
    return ASYNC_ENOMEM;
  /* The fallback's handler must be in place before the child can exit. */
  if ((!use_pidfd && (err = sigchld_start(loop)) != 0) || (err = plan_make(&pl, o)) != 0 ||
      (err = spawn_child(o, &pl, &pid)) != 0) {
    async__free(c);
    return err;
  }
  return adopt_child(loop, p, o, &pl, c, pid, use_pidfd);
}

/* ---- the rest of the API ------------------------------------------------------ */

int async_process_kill(async_process_t *p, int signum) {
  if (!async__handle_ok(p, ASYNC_PROCESS))
    return ASYNC_EINVAL;
  if (p->child_ == NULL)
    return ASYNC_ESRCH;
  /* Not reaped yet, so the pid cannot have been reused. */
  return kill(p->child_->pid, signum) == 0 ? 0 : translate(errno);
}

int async_kill(int pid, int signum) {
  return kill(pid, signum) == 0 ? 0 : translate(errno);
}

/* The type survives the close callback (the mark does not): the pid stays readable. */
int async_process_get_pid(const async_process_t *p) {
  return p != NULL && p->type == ASYNC_PROCESS ? p->pid : 0;
}

/* Closing does not kill the child: its record stays with the loop and reaps it. */
void async__process_close(async_process_t *p) {
  if (p->child_ != NULL) {
    p->child_->process = NULL;
    p->child_ = NULL;
  }
}
