/* libasync inside a host's own loop (docs/embedding.md). The host never
 * calls a blocking libasync function: it sleeps in its own wait, on
 * libasync's backend fd (Unix: poll()) or waitable handle (Windows:
 * MsgWaitForMultipleObjects beside its message queue), and gives libasync a
 * NOWAIT turn when that wakes it.
 *
 * The host has an event source of its own (a pipe on Unix, a thread
 * message on Windows). Its handler, outside async_run, starts a 50 ms
 * libasync timer; libasync's notice (async_embed_notify) tells the host
 * that its sleep must now end sooner. When the timer fires, a wakeup sent
 * from a thread of the host's ends the program. Exit status 0 when all of
 * it happened in order. */
#include <stdio.h>
#include <string.h>

#include "async.h"
#include "common.h"

#if defined(_WIN32)
# include <windows.h>
#else
# include <errno.h>
# include <poll.h>
# include <pthread.h>
# include <unistd.h>
#endif

static async_loop_t loop;
static async_timer_t timer;
static async_wakeup_t done;
static int notices, fired, finished;

static void on_notice(async_loop_t *l) {
  (void)l;
  notices++; /* the host recomputes its sleep before it sleeps again */
}

static void on_done(async_wakeup_t *w) {
  printf("libasync: the host's thread says it is done\n");
  finished = 1;
  async_close((async_handle_t *)w, NULL);
}

#if defined(_WIN32)
static DWORD WINAPI finisher(LPVOID arg) {
  (void)arg;
  async_wakeup_send(&done);
  return 0;
}
static void finish_from_a_thread(void) {
  HANDLE t = CreateThread(NULL, 0, finisher, NULL, 0, NULL);
  if (t != NULL)
    CloseHandle(t);
}
#else
static void *finisher(void *arg) {
  (void)arg;
  async_wakeup_send(&done);
  return NULL;
}
static void finish_from_a_thread(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, finisher, NULL) == 0)
    pthread_detach(t);
}
#endif

static void on_timer(async_timer_t *t) {
  (void)t;
  printf("libasync: the host's 50 ms timer fired\n");
  fired = 1;
  async_close((async_handle_t *)t, NULL);
  finish_from_a_thread();
}

/* The host's own event: runs outside async_run, like a GUI's button. */
static void host_event(void) {
  printf("host: own event, starting a 50 ms libasync timer\n");
  if (async_timer_start(&timer, on_timer, 50, 0) != 0)
    printf("host: timer_start failed\n");
}

static int setup(void) {
  if (example_loop_init(&loop, NULL) != 0)
    return -1;
  if (async_timer_init(&loop, &timer) != 0 || async_wakeup_init(&loop, &done, on_done) != 0 ||
      async_embed_notify(&loop, on_notice) != 0)
    return -1;
  return 0;
}

#if defined(_WIN32)

int main(void) {
  void *h;
  MSG m;
  int wakes = 0, err;
  if (setup() != 0)
    return 1;
  err = async_backend_handle(&loop, &h);
  if (err != 0) {
    printf("host: the %s backend has no handle to wait on (%s)\n", async_loop_backend(&loop),
           async_err_name(err));
    async_close((async_handle_t *)&timer, NULL);
    async_close((async_handle_t *)&done, NULL);
    async_run(&loop, ASYNC_RUN_DEFAULT);
    async_loop_close(&loop);
    return 0;
  }
  printf("host: waiting on the %s backend's handle and the message queue\n",
         async_loop_backend(&loop));
  PeekMessageW(&m, NULL, 0, 0, PM_NOREMOVE); /* this thread's queue exists from here */
  PostThreadMessageW(GetCurrentThreadId(), WM_APP, 0, 0);
  while (!finished) {
    HANDLE hs[1] = {h};
    /* No timeout of the host's: the handle is signalled when a timer is due. */
    DWORD r = MsgWaitForMultipleObjects(1, hs, FALSE, INFINITE, QS_ALLINPUT);
    wakes++;
    while (PeekMessageW(&m, NULL, 0, 0, PM_REMOVE))
      if (m.message == WM_APP)
        host_event();
    if (r == WAIT_OBJECT_0)
      async_run(&loop, ASYNC_RUN_NOWAIT);
  }
  printf("host: %d wakeups, %d notice(s)\n", wakes, notices);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  return async_loop_close(&loop) == 0 && fired && notices >= 1 ? 0 : 1;
}

#else

/* How long the host may sleep as far as libasync is concerned. */
static int sleep_ms(int backend_fd) {
  int ms = async_backend_timeout(&loop);
  if (backend_fd < 0 && (ms < 0 || ms > 10))
    ms = 10; /* poll, select: libasync's fds are invisible to the host */
  return ms;
}

int main(void) {
  struct pollfd fds[2];
  int own[2], fd, wakes = 0, seen = 0;
  if (setup() != 0 || pipe(own) != 0)
    return 1;
  fd = async_backend_fd(&loop);
  if (fd >= 0)
    printf("host: sleeping on the %s backend's fd and its own pipe\n", async_loop_backend(&loop));
  else
    printf("host: the %s backend has no fd (%s): looking every 10 ms\n",
           async_loop_backend(&loop), async_err_name(fd));
  if (write(own[1], "x", 1) != 1)
    return 1;
  while (!finished) {
    int n = 1, r;
    fds[0].fd = own[0];
    fds[0].events = POLLIN;
    if (fd >= 0) {
      fds[n].fd = fd;
      fds[n++].events = POLLIN;
    }
    r = poll(fds, (nfds_t)n, sleep_ms(fd));
    if (r < 0 && errno != EINTR)
      return 1;
    wakes++;
    if (r > 0 && (fds[0].revents & POLLIN)) {
      char c;
      if (read(own[0], &c, 1) == 1)
        host_event();
    }
    if (notices != seen) {
      seen = notices;
      printf("host: libasync's notice: asking for its timeout again (%d ms)\n",
             async_backend_timeout(&loop));
    }
    async_run(&loop, ASYNC_RUN_NOWAIT);
  }
  printf("host: %d wakeups of its own poll(), %d notice(s)\n", wakes, notices);
  async_run(&loop, ASYNC_RUN_DEFAULT);
  close(own[0]);
  close(own[1]);
  return async_loop_close(&loop) == 0 && fired && notices >= 1 ? 0 : 1;
}

#endif
