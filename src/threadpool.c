/* The thread pool shared by every loop: a FIFO of requests, threads started
 * on first use, and completion lists that the loops drain on their own
 * threads. */
#include "internal.h"
#include "atomic.h"

#include <stdlib.h>

#define DEFAULT_THREADS 4
#define MAX_THREADS 1024

/* Request states. */
enum { IDLE = 0, QUEUED, RUNNING, DONE };

/* Process-wide by design: one pool serves every loop. */
static struct {
  async__mutex_t mutex;
  async__cond_t cond;
  struct async__link queue;
  async__thread_t *threads;
  unsigned nthreads;
  int stopping;
  int atfork_set;
} pool = {ASYNC__MUTEX_INITIALIZER, ASYNC__COND_INITIALIZER, {&pool.queue, &pool.queue}, NULL, 0,
          0, 0};

static unsigned wanted_threads(void) {
  const char *s = getenv("ASYNC_THREADPOOL_SIZE");
  long n = s != NULL ? strtol(s, NULL, 10) : 0;
  if (n <= 0)
    return DEFAULT_THREADS;
  return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/* Hands a finished (or cancelled) request to its loop and wakes the loop.
 * The wake happens under the lock: the loop cannot take the request (and
 * so cannot be closed) before the pool thread is done touching it. */
static void post_done(async_req_t *req) {
  async_loop_t *loop = req->loop;
  async__mutex_lock(&loop->work_mutex_);
  async__list_insert_tail(&loop->work_done_, &req->link_);
  async__atomic_store(&loop->work_posted_, 1);
  async__wake(loop);
  async__mutex_unlock(&loop->work_mutex_);
}

static void *worker(void *arg) {
  (void)arg;
  async__mutex_lock(&pool.mutex);
  for (;;) {
    async_req_t *req;
    while (async__list_empty(&pool.queue) && !pool.stopping)
      async__cond_wait(&pool.cond, &pool.mutex);
    if (async__list_empty(&pool.queue))
      break;
    req = async__container_of(pool.queue.next, async_req_t, link_);
    async__list_remove(&req->link_);
    req->state_ = RUNNING;
    async__mutex_unlock(&pool.mutex);
    req->work_cb_((async_work_t *)req); /* DNS requests set status_ here */
    post_done(req);
    async__mutex_lock(&pool.mutex);
  }
  async__mutex_unlock(&pool.mutex);
  return NULL;
}

/* A forked child has none of the parent's threads, and its copy of the pool
 * lock may be held: start afresh (requests queued in the parent stay there). */
static void reset_in_child(void) {
  async__mutex_init(&pool.mutex);
  pool.threads = NULL;
  pool.nthreads = 0;
  pool.stopping = 0;
  async__list_init(&pool.queue);
}

/* Called with the pool locked. */
static int start_threads(void) {
  unsigned n = wanted_threads();
  async__thread_t *threads = async__calloc(n, sizeof(*threads));
  if (threads == NULL)
    return ASYNC_ENOMEM;
  if (!pool.atfork_set) {
    async__atfork_child(reset_in_child);
    pool.atfork_set = 1;
  }
  pool.threads = threads;
  for (pool.nthreads = 0; pool.nthreads < n; pool.nthreads++) {
    int err = async__thread_create(&threads[pool.nthreads], worker, NULL);
    if (err != 0 && pool.nthreads == 0) {
      async__free(threads);
      pool.threads = NULL;
      return err;
    }
    if (err != 0)
      break; /* fewer threads than asked for still serve */
  }
  return 0;
}

int async__work_submit(async_loop_t *loop, async_req_t *req, async_req_type type,
                       async_work_cb work) {
  int err = 0;
  if (req->state_ == QUEUED || req->state_ == RUNNING)
    return ASYNC_EBUSY;
  req->loop = loop;
  req->type = (uint8_t)type;
  req->work_cb_ = work;
  req->status_ = 0;
  async__mutex_lock(&pool.mutex);
  if (pool.nthreads == 0)
    err = start_threads();
  if (err == 0) {
    req->state_ = QUEUED;
    async__list_insert_tail(&pool.queue, &req->link_);
    async__cond_signal(&pool.cond);
  }
  async__mutex_unlock(&pool.mutex);
  if (err == 0) {
    loop->active_reqs_++;
    loop->pool_reqs_++;
  }
  return err;
}

int async_work_queue(async_loop_t *loop, async_work_t *req, async_work_cb work_cb,
                     async_after_work_cb after_cb) {
  if (!async__loop_ok(loop) || req == NULL || work_cb == NULL)
    return ASYNC_EINVAL;
  req->after_cb_ = after_cb;
  return async__work_submit(loop, (async_req_t *)req, ASYNC_WORK, work_cb);
}

int async_cancel(async_req_t *req) {
  int queued;
  if (req == NULL || req->type == ASYNC_UNKNOWN_REQ || req->type >= ASYNC_REQ_TYPE_MAX)
    return ASYNC_EINVAL;
  async__mutex_lock(&pool.mutex);
  queued = req->state_ == QUEUED;
  if (queued) {
    async__list_remove(&req->link_);
    req->state_ = RUNNING; /* no longer the pool's */
  }
  async__mutex_unlock(&pool.mutex);
  if (!queued)
    return req->state_ == IDLE ? ASYNC_EINVAL : ASYNC_EBUSY;
  req->status_ = req->type == ASYNC_WORK ? ASYNC_ECANCELED : ASYNC_EAI_CANCELED;
  post_done(req);
  return 0;
}

/* The loop's side: run the callbacks of what the pool finished. */
void async__work_done_run(async_loop_t *loop) {
  struct async__link done;
  if (!async__atomic_xchg(&loop->work_posted_, 0))
    return;
  async__mutex_lock(&loop->work_mutex_);
  async__list_move(&loop->work_done_, &done);
  async__mutex_unlock(&loop->work_mutex_);
  while (!async__list_empty(&done)) {
    async_req_t *req = async__container_of(done.next, async_req_t, link_);
    async__list_remove(&req->link_);
    req->state_ = DONE;
    loop->active_reqs_--;
    loop->pool_reqs_--;
    if (req->type == ASYNC_WORK) {
      async_work_t *w = (async_work_t *)req;
      if (w->after_cb_ != NULL)
        ASYNC__REQ_CB(req, ASYNC_CB_WORK_DONE, w->after_cb_(w, req->status_));
    } else {
      async__dns_done(req);
    }
  }
}

void async_threadpool_shutdown(void) {
  async__thread_t *threads;
  unsigned n;
  async__mutex_lock(&pool.mutex);
  pool.stopping = 1;
  async__cond_broadcast(&pool.cond);
  threads = pool.threads;
  n = pool.nthreads;
  async__mutex_unlock(&pool.mutex);
  for (unsigned i = 0; i < n; i++)
    async__thread_join(threads[i]);
  async__mutex_lock(&pool.mutex);
  async__free(threads);
  pool.threads = NULL;
  pool.nthreads = 0;
  pool.stopping = 0;
  async__mutex_unlock(&pool.mutex);
}

#if defined(__GNUC__)
/* Joined at exit, so that leak checkers see every thread's memory returned. */
__attribute__((destructor)) static void shutdown_at_exit(void) { async_threadpool_shutdown(); }
#endif

size_t async_req_size(async_req_type type) {
  switch (type) {
  case ASYNC_WORK: return sizeof(async_work_t);
  case ASYNC_GETADDRINFO: return sizeof(async_getaddrinfo_t);
  case ASYNC_GETNAMEINFO: return sizeof(async_getnameinfo_t);
  case ASYNC_UDP_SEND: return sizeof(async_udp_send_t);
  case ASYNC_WRITE: return sizeof(async_write_t);
  case ASYNC_SHUTDOWN: return sizeof(async_shutdown_t);
  case ASYNC_CONNECT: return sizeof(async_connect_t);
  default: return 0;
  }
}
