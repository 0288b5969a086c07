/* What a loop tells about itself: its counters and the callbacks that ran
 * longer than the user allows. */
#include "internal.h"

#include <string.h>

int async_loop_metrics(const async_loop_t *loop, async_loop_metrics_t *m) {
  if (!async__loop_ok(loop) || m == NULL)
    return ASYNC_EINVAL;
  memset(m, 0, sizeof(*m));
  m->turns = loop->turns_;
  m->events = loop->events_;
  m->run_ns = loop->run_ns_;
  m->wait_ns = loop->wait_ns_;
  m->busy_ns = loop->run_ns_ - loop->wait_ns_;
  m->requests = loop->active_reqs_;
  m->pool_requests = loop->pool_reqs_;
  m->handles = loop->nhandles_;
  m->active_handles = loop->active_refs_;
  /* Counted on demand so that no init or close pays for it. */
  m->by_type[ASYNC_TIMER] = loop->timers_.len;
  for (uint32_t i = 0; i < loop->handles_.len; i++)
    m->by_type[loop->handles_.v[i].handle->type]++;
  for (const async_handle_t *h = loop->closing_head_; h != NULL; h = h->u_.next_closing)
    m->by_type[h->type]++;
  return 0;
}

const char *async_cb_kind_name(async_cb_kind kind) {
  static const char *const names[ASYNC_CB_KIND_MAX] = {
    NULL, "timer", "idle", "prepare", "check", "defer", "watch", "wakeup", "signal", "exit",
    "alloc", "read", "connection", "connect", "write", "shutdown", "udp-recv", "udp-send",
    "work-done", "getaddrinfo", "getnameinfo", "close"};
  return (unsigned)kind < ASYNC_CB_KIND_MAX ? names[kind] : NULL;
}

int async_loop_report_slow(async_loop_t *loop, uint64_t threshold_ns, async_slow_cb cb) {
  if (!async__loop_ok(loop))
    return ASYNC_EINVAL;
  loop->slow_ns_ = threshold_ns;
  loop->slow_cb_ = cb;
  return 0;
}

void async__slow_report(async_loop_t *loop, int kind, int htype, int rtype, void *obj, void *data,
                        uint64_t from) {
  async_slow_report_t r;
  async_slow_cb cb = loop->slow_cb_;
  uint64_t took = async__hrtime() - from;
  /* The callback may have turned reports off. */
  if (cb == NULL || took < loop->slow_ns_)
    return;
  r.kind = (async_cb_kind)kind;
  r.handle_type = (async_handle_type)htype;
  r.req_type = (async_req_type)rtype;
  r.object = obj;
  r.data = data;
  r.duration_ns = took;
  cb(loop, &r);
}

void async__slow_watch(async_watch_t *w, int status, unsigned events) {
  ASYNC__HANDLE_CB(w, ASYNC_CB_WATCH, w->cb_.watch(w, status, events));
}
