/* Subprocesses on Windows (IOCP only). A child is made with CreateProcessW,
 * suspended until the library holds everything it needs, so that a failure
 * after the call ends a child that never ran. Its stdio handles are
 * duplicates made inheritable for this one call and named in a
 * PROC_THREAD_ATTRIBUTE_HANDLE_LIST, so it inherits those and nothing else
 * (not another thread's spawn's either). Its exit is a wait on the thread
 * pool that posts a packet to the loop's port; the packet's handler reports
 * it on the loop thread. Children sit in one job object per process that
 * kills them when the process ends, unless detached. See docs/process.md. */
#include "process.h"

#include <string.h>

#define MAX_STDIO 1024 /* as on Unix: entries past ASYNC__NSTD may only be ignored */

/* The loop's record of one child until its exit packet is handled, or
 * until the handle closes if that comes first and no packet is due. */
struct async__child {
  OVERLAPPED ov;             /* first: the exit packet's lpOverlapped */
  async_process_t *process;  /* NULL once the handle closed */
  HANDLE handle;             /* the process */
  HANDLE wait;               /* the pool's wait on it; NULL once unregistered */
  HANDLE port;               /* the loop's port, for the pool thread */
  volatile LONG posted;      /* the wait fired: a packet is on its way */
  int signal;                /* the signal async_process_kill ended it with */
};

/* What CreateProcessW is given, UTF-16, freed after the call. */
struct call {
  WCHAR *app, *cmd, *env, *cwd;
};

/* ---- the job ------------------------------------------------------------------ */

/* One job for the whole process, never closed: the system closes it when
 * the process ends, and KILL_ON_JOB_CLOSE then ends every child in it.
 * BREAKAWAY_OK lets a child start detached children of its own. */
static INIT_ONCE job_once = INIT_ONCE_STATIC_INIT;
static HANDLE job;

static BOOL CALLBACK job_make(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION info;
  HANDLE j = CreateJobObjectW(NULL, NULL);
  (void)once;
  (void)param;
  (void)ctx;
  memset(&info, 0, sizeof(info));
  info.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
  if (j != NULL &&
      !SetInformationJobObject(j, JobObjectExtendedLimitInformation, &info, sizeof(info))) {
    CloseHandle(j);
    j = NULL;
  }
  job = j;
  return TRUE;
}

/* Best effort: Windows 7 refuses when the parent's own job allows neither
 * nesting nor breakaway, and a job may be missing altogether; the child then
 * runs without one (it outlives the parent). */
static void job_assign(HANDLE process) {
  InitOnceExecuteOnce(&job_once, job_make, NULL, NULL);
  if (job != NULL)
    AssignProcessToJobObject(job, process);
}

/* ---- CreateProcessW ------------------------------------------------------------ */

static int call_prepare(struct call *c, const async_process_options_t *o) {
  int err = 0;
  memset(c, 0, sizeof(*c));
  if (o->cwd != NULL) {
    DWORD attr;
    if ((err = async__wide(o->cwd, &c->cwd)) != 0)
      return err;
    attr = GetFileAttributesW(c->cwd);
    if (attr == INVALID_FILE_ATTRIBUTES)
      return ASYNC_ENOENT;
    if (!(attr & FILE_ATTRIBUTE_DIRECTORY))
      return ASYNC_ENOTDIR;
  }
  if ((err = async__find_exe(o->file, o->env, c->cwd, &c->app)) != 0 ||
      (err = async__command_line(o->args, &c->cmd)) != 0)
    return err;
  return o->env != NULL ? async__env_block(o->env, &c->env) : 0;
}

static void call_free(struct call *c) {
  async__free(c->app);
  async__free(c->cmd);
  async__free(c->env);
  async__free(c->cwd);
}

static int create_error(void) {
  DWORD e = GetLastError();
  /* Not a program Windows can run: what execve says of a file it may not run. */
  if (e == ERROR_BAD_EXE_FORMAT || e == ERROR_EXE_MACHINE_TYPE_MISMATCH)
    return ASYNC_EACCES;
  return async_translate_sys_error((int)e);
}

/* Console handles of Windows 7 (values ending in binary 11) are no kernel
 * handles: a handle list refuses them, and the console passes them on. */
static int create(struct call *c, const struct async__stdio *pl, unsigned flags,
                  PROCESS_INFORMATION *pi) {
  STARTUPINFOEXW si;
  HANDLE list[ASYNC__NSTD];
  DWORD n = 0, cf = CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED;
  SIZE_T size = 0;
  int err = 0;
  memset(&si, 0, sizeof(si));
  si.StartupInfo.cb = sizeof(si);
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = pl->child[0];
  si.StartupInfo.hStdOutput = pl->child[1];
  si.StartupInfo.hStdError = pl->child[2];
  for (int i = 0; i < ASYNC__NSTD; i++)
    if (((uintptr_t)pl->child[i] & 3) != 3)
      list[n++] = pl->child[i];
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  if ((si.lpAttributeList = async__malloc(size)) == NULL)
    return ASYNC_ENOMEM;
  if (!InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &size)) {
    err = async__sys_error();
    async__free(si.lpAttributeList);
    return err;
  }
  if (n > 0 && !UpdateProcThreadAttribute(si.lpAttributeList, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                          list, n * sizeof(HANDLE), NULL, NULL))
    err = async__sys_error();
  if (flags & ASYNC_PROCESS_DETACHED)
    cf |= DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_BREAKAWAY_FROM_JOB;
  if (err == 0 && !CreateProcessW(c->app, c->cmd, NULL, NULL, TRUE, cf, c->env, c->cwd,
                                  &si.StartupInfo, pi)) {
    err = create_error();
    /* The parent's own job may forbid breaking away: detached stays
     * detached from the console and the group, inside that job. */
    if (err == ASYNC_EACCES && (cf & CREATE_BREAKAWAY_FROM_JOB))
      err = CreateProcessW(c->app, c->cmd, NULL, NULL, TRUE, cf & ~(DWORD)CREATE_BREAKAWAY_FROM_JOB,
                           c->env, c->cwd, &si.StartupInfo, pi)
                ? 0
                : create_error();
  }
  DeleteProcThreadAttributeList(si.lpAttributeList);
  async__free(si.lpAttributeList);
  return err;
}

/* ---- exits ------------------------------------------------------------------------ */

/* On a pool thread: only posts, so that the loop thread does the rest. */
static VOID CALLBACK exit_fired(PVOID arg, BOOLEAN timed_out) {
  struct async__child *c = arg;
  (void)timed_out;
  InterlockedExchange(&c->posted, 1);
  PostQueuedCompletionStatus(c->port, 0, ASYNC__PROCESS_KEY, &c->ov);
}

/* Waits for a callback under way to return (it may still be inside the
 * post), then frees the wait. Never called on the pool thread. */
static void unregister(struct async__child *c) {
  if (c->wait != NULL)
    UnregisterWaitEx(c->wait, INVALID_HANDLE_VALUE);
  c->wait = NULL;
}

static void child_free(async_loop_t *loop, struct async__child *c) {
  async__iocp_hold(loop, -1);
  CloseHandle(c->handle);
  async__free(c);
}

void async__process_done(async_loop_t *loop, OVERLAPPED *ov) {
  struct async__child *c = (struct async__child *)(void *)ov;
  async_process_t *p = c->process;
  DWORD code = 0;
  int sig = c->signal;
  unregister(c);
  if (p != NULL && !GetExitCodeProcess(c->handle, &code))
    code = 0;
  child_free(loop, c);
  if (p == NULL)
    return;
  p->child_ = NULL;
  async__handle_stop((async_handle_t *)p);
  if (p->exit_cb_ != NULL)
    ASYNC__HANDLE_CB(p, ASYNC_CB_EXIT, p->exit_cb_(p, (int64_t)code, sig));
}

/* Closing does not end the child. The record goes now unless its packet is
 * already on the way, which then frees it (the loop's close awaits it). */
void async__process_close(async_process_t *p) {
  struct async__child *c = p->child_;
  if (c == NULL)
    return;
  p->child_ = NULL;
  c->process = NULL;
  unregister(c);
  if (InterlockedCompareExchange(&c->posted, 0, 0) == 0)
    child_free(p->loop, c);
}

/* ---- async_spawn ---------------------------------------------------------------- */

/* The loop takes the suspended child, then lets it run. On failure the
 * child, which never ran, is ended and nothing is left. */
static int adopt(async_loop_t *loop, async_process_t *p, const async_process_options_t *o,
                 struct async__stdio *pl, PROCESS_INFORMATION *pi) {
  struct async__child *c = async__calloc(1, sizeof(*c));
  int err = c == NULL ? ASYNC_ENOMEM : async__handle_init(loop, (async_handle_t *)p, ASYNC_PROCESS);
  if (err == 0) {
    c->process = p;
    c->handle = pi->hProcess;
    c->port = async__iocp_port(loop);
    if ((err = async__stdio_open_pipes(o, pl)) == 0 &&
        !RegisterWaitForSingleObject(&c->wait, pi->hProcess, exit_fired, c, INFINITE,
                                     WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
      err = async__sys_error();
      async__stdio_unopen(o, ASYNC__NSTD);
    }
    if (err == 0) {
      async__iocp_hold(loop, 1);
      if (!(o->flags & ASYNC_PROCESS_DETACHED))
        job_assign(pi->hProcess);
      p->pid = (int)pi->dwProcessId;
      p->exit_cb_ = o->exit_cb;
      p->child_ = c;
      async__handle_start((async_handle_t *)p);
      ResumeThread(pi->hThread);
      CloseHandle(pi->hThread);
      return 0;
    }
    async__handle_uninit((async_handle_t *)p);
  }
  async__free(c);
  async__stdio_release(pl, 1);
  TerminateProcess(pi->hProcess, 1);
  CloseHandle(pi->hThread);
  CloseHandle(pi->hProcess);
  return err;
}

int async_spawn(async_loop_t *loop, async_process_t *p, const async_process_options_t *o) {
  PROCESS_INFORMATION pi;
  struct async__stdio pl;
  struct call call;
  int err = async__spawn_check(loop, p, o, MAX_STDIO);
  if (err != 0)
    return err;
  if (o->flags & (ASYNC_PROCESS_SETUID | ASYNC_PROCESS_SETGID))
    return ASYNC_ENOTSUP; /* no uids on Windows */
  for (int i = ASYNC__NSTD; i < o->stdio_count; i++)
    if (o->stdio[i].flags != ASYNC_IGNORE)
      return ASYNC_ENOTSUP; /* a child has no handles past stderr to give it */
  if ((err = call_prepare(&call, o)) == 0 && (err = async__stdio_make(&pl, o)) == 0) {
    err = create(&call, &pl, o->flags, &pi);
    async__stdio_release(&pl, err != 0);
  }
  call_free(&call);
  return err != 0 ? err : adopt(loop, p, o, &pl, &pi);
}

/* ---- signals ---------------------------------------------------------------------- */

/* Windows has no signals for other processes: those that end a process by
 * default on Unix end it with TerminateProcess; 0 asks if it still runs. */
static int signal_check(int signum) {
  switch (signum) {
  case 0:
  case 1:  /* SIGHUP */
  case 2:  /* SIGINT */
  case 3:  /* SIGQUIT */
  case 9:  /* SIGKILL */
  case 15: /* SIGTERM */
    return 0;
  default:
    return signum < 0 || signum > 64 ? ASYNC_EINVAL : ASYNC_ENOTSUP;
  }
}

/* The exit code is 128 + signum, what a Unix shell shows for a signal. */
static int terminate(HANDLE h, int signum) {
  DWORD e;
  if (WaitForSingleObject(h, 0) == WAIT_OBJECT_0)
    return ASYNC_ESRCH;
  if (signum == 0 || TerminateProcess(h, 128 + (UINT)signum))
    return 0;
  e = GetLastError();
  /* It ended meanwhile (TerminateProcess says access denied then). */
  if (WaitForSingleObject(h, 0) == WAIT_OBJECT_0)
    return ASYNC_ESRCH;
  return async_translate_sys_error((int)e);
}

int async_process_kill(async_process_t *p, int signum) {
  int err;
  if (!async__handle_ok(p, ASYNC_PROCESS))
    return ASYNC_EINVAL;
  if (p->child_ == NULL)
    return ASYNC_ESRCH;
  if ((err = signal_check(signum)) != 0 || (err = terminate(p->child_->handle, signum)) != 0)
    return err;
  if (signum != 0 && p->child_->signal == 0)
    p->child_->signal = signum; /* the first one ended it */
  return 0;
}

/* Process groups (0 and negative pids) do not exist here. */
int async_kill(int pid, int signum) {
  HANDLE h;
  int err = signal_check(signum);
  if (err != 0)
    return err;
  if (pid <= 0)
    return ASYNC_ENOTSUP;
  h = OpenProcess(PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
                  (DWORD)pid);
  if (h == NULL) {
    DWORD e = GetLastError();
    return e == ERROR_INVALID_PARAMETER ? ASYNC_ESRCH
           : e == ERROR_ACCESS_DENIED   ? ASYNC_EPERM
                                        : async_translate_sys_error((int)e);
  }
  err = terminate(h, signum);
  CloseHandle(h);
  return err;
}

/* The type survives the close callback (the mark does not): the pid stays readable. */
int async_process_get_pid(const async_process_t *p) {
  return p != NULL && p->type == ASYNC_PROCESS ? p->pid : 0;
}
