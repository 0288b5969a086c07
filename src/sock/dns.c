/* getaddrinfo and getnameinfo on the thread pool, for both worlds: the
 * resolver calls have the same names and shapes on Unix and in Winsock
 * (its ANSI forms); only their error codes differ (async__eai_error). */
#include "sock.h"

#include <string.h>

static void gai_work(async_work_t *w) {
  async_getaddrinfo_t *req = (async_getaddrinfo_t *)w;
  struct addrinfo hints;
  int rc;
  req->addrinfo = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = req->hints_[0];
  hints.ai_family = req->hints_[1];
  hints.ai_socktype = req->hints_[2];
  hints.ai_protocol = req->hints_[3];
  rc = getaddrinfo(req->node_, req->service_, req->has_hints_ ? &hints : NULL, &req->addrinfo);
  req->status_ = rc == 0 ? 0 : async__eai_error(rc);
}

static void gni_work(async_work_t *w) {
  async_getnameinfo_t *req = (async_getnameinfo_t *)w;
  const struct sockaddr *addr = (const struct sockaddr *)&req->addr_;
  int rc = getnameinfo(addr, (async__socklen_t)async__addr_len(addr), req->host,
                       sizeof(req->host), req->service, sizeof(req->service), req->flags_);
  req->status_ = rc == 0 ? 0 : async__eai_error(rc);
}

static void gai_release(async_getaddrinfo_t *req) {
  async__free(req->node_);
  async__free(req->service_);
  req->node_ = req->service_ = NULL;
}

static char *copy(const char *s, int *err) {
  char *c;
  size_t n;
  if (s == NULL)
    return NULL;
  n = strlen(s) + 1;
  c = async__malloc(n);
  if (c == NULL)
    *err = ASYNC_ENOMEM;
  else
    memcpy(c, s, n);
  return c;
}

int async_getaddrinfo(async_loop_t *loop, async_getaddrinfo_t *req, async_getaddrinfo_cb cb,
                      const char *node, const char *service, const struct addrinfo *hints) {
  int err = 0;
  if (!async__loop_ok(loop) || req == NULL || (node == NULL && service == NULL))
    return ASYNC_EINVAL;
  if (cb != NULL && (req->state_ == 1 || req->state_ == 2)) /* queued or running */
    return ASYNC_EBUSY;
  req->loop = loop;
  req->type = ASYNC_GETADDRINFO;
  req->cb_ = cb;
  req->addrinfo = NULL;
  req->has_hints_ = hints != NULL;
  if (hints != NULL) {
    req->hints_[0] = hints->ai_flags;
    req->hints_[1] = hints->ai_family;
    req->hints_[2] = hints->ai_socktype;
    req->hints_[3] = hints->ai_protocol;
  }
  if (cb == NULL) { /* synchronous: no copies needed */
    req->node_ = (char *)node;
    req->service_ = (char *)service;
    gai_work((async_work_t *)req);
    req->node_ = req->service_ = NULL;
    return req->status_;
  }
  req->node_ = copy(node, &err);
  req->service_ = copy(service, &err);
  if (err == 0)
    err = async__work_submit(loop, (async_req_t *)req, ASYNC_GETADDRINFO, gai_work);
  if (err != 0)
    gai_release(req);
  return err;
}

void async_freeaddrinfo(struct addrinfo *ai) {
  if (ai != NULL)
    freeaddrinfo(ai);
}

int async_getnameinfo(async_loop_t *loop, async_getnameinfo_t *req, async_getnameinfo_cb cb,
                      const struct sockaddr *addr, int flags) {
  size_t len;
  if (!async__loop_ok(loop) || req == NULL || addr == NULL)
    return ASYNC_EINVAL;
  len = async__addr_len(addr);
  if (len == 0)
    return ASYNC_EINVAL;
  memcpy(&req->addr_, addr, len);
  if (cb != NULL && (req->state_ == 1 || req->state_ == 2))
    return ASYNC_EBUSY;
  req->loop = loop;
  req->type = ASYNC_GETNAMEINFO;
  req->cb_ = cb;
  req->flags_ = flags;
  req->host[0] = req->service[0] = '\0';
  if (cb == NULL) {
    gni_work((async_work_t *)req);
    return req->status_;
  }
  return async__work_submit(loop, (async_req_t *)req, ASYNC_GETNAMEINFO, gni_work);
}

/* On the loop thread: hand the result over (a cancelled lookup has none). */
void async__dns_done(async_req_t *r) {
  if (r->type == ASYNC_GETADDRINFO) {
    async_getaddrinfo_t *req = (async_getaddrinfo_t *)r;
    struct addrinfo *res = req->status_ == 0 ? req->addrinfo : NULL;
    gai_release(req);
    req->addrinfo = NULL;
    ASYNC__REQ_CB(r, ASYNC_CB_GETADDRINFO, req->cb_(req, req->status_, res));
  } else {
    async_getnameinfo_t *req = (async_getnameinfo_t *)r;
    if (req->status_ == 0)
      ASYNC__REQ_CB(r, ASYNC_CB_GETNAMEINFO, req->cb_(req, 0, req->host, req->service));
    else
      ASYNC__REQ_CB(r, ASYNC_CB_GETNAMEINFO, req->cb_(req, req->status_, NULL, NULL));
  }
}
