/* The select backend. Its fd sets are sized at run time rather than fixed at
 * FD_SETSIZE, so it watches fds up to SELECT_FD_LIMIT (reported through
 * async_loop_fd_limit) at a cost that grows with the highest fd watched. */
#include "unix.h"

#include <string.h>
#include <sys/select.h>
#include <time.h>

#define SELECT_FD_LIMIT 65536
#define WORD_BITS (8 * (int)sizeof(unsigned long))

struct select_state {
  unsigned long *want[2]; /* interest: read, write */
  unsigned long *got[2];  /* results of the last select */
  int words;
  int maxfd;
};

static int select_init(async_loop_t *loop) {
  struct select_state *st = async__calloc(1, sizeof(*st));
  if (st == NULL)
    return ASYNC_ENOMEM;
  st->maxfd = -1;
  loop->backend_state_ = st;
  return 0;
}

static void select_close(async_loop_t *loop) {
  struct select_state *st = loop->backend_state_;
  for (int i = 0; i < 2; i++) {
    async__free(st->want[i]);
    async__free(st->got[i]);
  }
  async__free(st);
  loop->backend_state_ = NULL;
}

static int grow(struct select_state *st, int fd) {
  int words = st->words ? st->words : 1024 / WORD_BITS;
  while (words * WORD_BITS <= fd)
    words *= 2;
  if (words == st->words)
    return 0;
  for (int i = 0; i < 4; i++) {
    unsigned long **set = i < 2 ? &st->want[i] : &st->got[i - 2];
    unsigned long *p = async__realloc(*set, (size_t)words * sizeof(**set));
    if (p == NULL)
      return ASYNC_ENOMEM;
    memset(p + st->words, 0, (size_t)(words - st->words) * sizeof(*p));
    *set = p;
  }
  st->words = words;
  return 0;
}

static int has(unsigned long *set, int fd) {
  return (set[fd / WORD_BITS] >> (fd % WORD_BITS)) & 1;
}

static void put(unsigned long *set, int fd, int on) {
  unsigned long bit = 1ul << (fd % WORD_BITS);
  if (on)
    set[fd / WORD_BITS] |= bit;
  else
    set[fd / WORD_BITS] &= ~bit;
}

static int select_modify(async_loop_t *loop, int fd, unsigned old_events, unsigned new_events,
                         uint32_t tag) {
  struct select_state *st = loop->backend_state_;
  int err = grow(st, fd);
  (void)old_events;
  (void)tag;
  if (err != 0)
    return err;
  put(st->want[0], fd, (new_events & ASYNC_READABLE) != 0);
  put(st->want[1], fd, (new_events & ASYNC_WRITABLE) != 0);
  if (new_events != 0 && fd > st->maxfd)
    st->maxfd = fd;
  while (st->maxfd >= 0 && !has(st->want[0], st->maxfd) && !has(st->want[1], st->maxfd))
    st->maxfd--;
  return 0;
}

/* select fails as a whole on a closed fd: find the culprits and tell their watchers. */
static int report_invalid(async_loop_t *loop, struct select_state *st) {
  int n = 0;
  for (int fd = 0; fd <= st->maxfd; fd++) {
    if ((has(st->want[0], fd) || has(st->want[1], fd)) && async__fd_check(fd) == ASYNC_EBADF) {
      async__io_event(loop, fd, ASYNC__TAG_ANY, ASYNC__INVALID);
      n++;
    }
  }
  return n;
}

static int select_poll(async_loop_t *loop, int64_t timeout_ns) {
  struct select_state *st = loop->backend_state_;
  struct timespec ts, *tsp = NULL;
  int nfds = st->maxfd + 1, words = (nfds + WORD_BITS - 1) / WORD_BITS, n;
  for (int i = 0; i < 2; i++)
    if (words > 0)
      memcpy(st->got[i], st->want[i], (size_t)words * sizeof(unsigned long));
  if (timeout_ns >= 0) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    tsp = &ts;
  }
  n = pselect(nfds, words ? (fd_set *)(void *)st->got[0] : NULL,
              words ? (fd_set *)(void *)st->got[1] : NULL, NULL, tsp, NULL);
  async__io_waited(loop);
  if (n < 0) {
    if (errno == EBADF)
      return report_invalid(loop, st);
    return errno == EINTR ? 0 : async_translate_sys_error(errno);
  }
  for (int w = 0; w < words && n > 0; w++) {
    unsigned long r = st->got[0][w], wr = st->got[1][w], any = r | wr;
    while (any != 0) {
      int bit = __builtin_ctzl(any);
      unsigned long m = 1ul << bit;
      any &= ~m;
      async__io_event(loop, w * WORD_BITS + bit, ASYNC__TAG_ANY,
                      ((r & m) ? ASYNC_READABLE : 0u) | ((wr & m) ? ASYNC_WRITABLE : 0u));
    }
  }
  return n;
}

const struct async__backend async__select_backend = {
  "select",
  ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_SUBMS_TIMERS |
      ASYNC_CAP_FD_LIMIT | ASYNC_CAP_FORK | ASYNC_CAP_TCP | ASYNC_CAP_UDP | ASYNC_CAP_PIPE |
      ASYNC_CAP_UNIX_SOCKET | ASYNC_CAP_PROCESS | ASYNC_CAP_SIGNAL | ASYNC_CAP_THREADPOOL |
      ASYNC_CAP_DNS | ASYNC_CAP_CHAR_DEVICE | ASYNC_CAP_UNIX_ABSTRACT,
  SELECT_FD_LIMIT,
  NULL,
  select_init,
  select_close,
  select_modify,
  select_poll,
  NULL,
  NULL, /* flush: changes are applied as they are made */
  NULL, /* watch_pid */
  NULL, /* backend_handle */
  NULL, /* embed_sync */
};
