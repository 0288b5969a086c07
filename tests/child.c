/* The child program of tests/test_spawn.c: a plain C program without
 * libasync, so that what the tests see is what the spawn did. The mode is
 * argv[1]:
 *   echo WORDS...  prints the words, space-separated, and a newline
 *   exit N         exits with status N
 *   cat            copies stdin to stdout until end of file
 *   env NAME       prints NAME's value, or "(unset)"
 *   cwd            prints the current directory
 *   sleep MS       sleeps MS milliseconds, then exits 0
 *   args ARGS...   prints each argument as [arg] on a line of its own
 *   argv0          prints argv[0] as [argv0]
 *   pid            prints its own process id
 *   injob          Windows: 1 if the process is in a job object, else 0;
 *                  elsewhere "-"
 *   handle N       "open" if the fd (Unix) or the signaled event handle
 *                  (Windows) numbered N was inherited, else "closed"
 * Anything else exits 100. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
# include <direct.h>
# include <fcntl.h>
# include <io.h>
# include <windows.h>
# define getcwd _getcwd
#else
# include <fcntl.h>
# include <time.h>
# include <unistd.h>
#endif

static void sleep_ms(long ms) {
#if defined(_WIN32)
  Sleep((DWORD)ms);
#else
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0)
    ;
#endif
}

static int cat(void) {
  static char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
    if (fwrite(buf, 1, n, stdout) != n)
      return 1;
  return ferror(stdin) ? 1 : 0;
}

static void in_job(void) {
#if defined(_WIN32)
  BOOL in = FALSE;
  if (!IsProcessInJob(GetCurrentProcess(), NULL, &in))
    printf("?\n");
  else
    printf("%d\n", in ? 1 : 0);
#else
  printf("-\n");
#endif
}

static void handle_state(long n) {
#if defined(_WIN32)
  DWORD flags;
  HANDLE h = (HANDLE)(intptr_t)n;
  int open = GetHandleInformation(h, &flags) && WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
#else
  int open = fcntl((int)n, F_GETFD) != -1;
#endif
  printf("%s\n", open ? "open" : "closed");
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
#if defined(_WIN32)
  /* Bytes in, the same bytes out: no CRLF translation. */
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
#endif
  if (strcmp(mode, "echo") == 0) {
    for (int i = 2; i < argc; i++)
      printf("%s%s", i > 2 ? " " : "", argv[i]);
    printf("\n");
  } else if (strcmp(mode, "exit") == 0 && argc > 2) {
    return atoi(argv[2]);
  } else if (strcmp(mode, "cat") == 0) {
    return cat();
  } else if (strcmp(mode, "env") == 0 && argc > 2) {
    const char *v = getenv(argv[2]);
    printf("%s\n", v != NULL ? v : "(unset)");
  } else if (strcmp(mode, "cwd") == 0) {
    char buf[4096];
    if (getcwd(buf, sizeof(buf)) == NULL)
      return 1;
    printf("%s\n", buf);
  } else if (strcmp(mode, "sleep") == 0 && argc > 2) {
    sleep_ms(atol(argv[2]));
  } else if (strcmp(mode, "args") == 0) {
    for (int i = 2; i < argc; i++)
      printf("[%s]\n", argv[i]);
  } else if (strcmp(mode, "argv0") == 0) {
    printf("[%s]\n", argv[0]);
  } else if (strcmp(mode, "pid") == 0) {
#if defined(_WIN32)
    printf("%lu\n", (unsigned long)GetCurrentProcessId());
#else
    printf("%ld\n", (long)getpid());
#endif
  } else if (strcmp(mode, "handle") == 0 && argc > 2) {
    handle_state(atol(argv[2]));
  } else if (strcmp(mode, "injob") == 0) {
    in_job();
  } else {
    return 100;
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
