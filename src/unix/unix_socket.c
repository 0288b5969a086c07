/* Unix domain sockets under pipe handles: names, bind, connect, chmod and
 * peer credentials. */
#include "../sock/sock.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills addr from name; a leading NUL means the abstract namespace, which
 * only Linux has (ASYNC_CAP_UNIX_ABSTRACT). Returns the address length or a
 * negative error. */
static int make_addr(const async_pipe_t *p, struct sockaddr_un *addr, const char *name,
                     size_t len) {
  if (name == NULL || len == 0)
    return ASYNC_EINVAL;
  if (name[0] == '\0' && !(p->loop->caps_ & ASYNC_CAP_UNIX_ABSTRACT))
    return ASYNC_ENOTSUP;
  if (name[0] != '\0' && memchr(name, '\0', len) != NULL)
    return ASYNC_EINVAL;
  /* a path needs room for its terminating NUL; an abstract name does not */
  if (len > sizeof(addr->sun_path) - (name[0] != '\0'))
    return ASYNC_ENAMETOOLONG;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, name, len);
  return (int)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] != '\0'));
}

static int usable(const async_pipe_t *p) {
  if (!async__handle_ok(p, ASYNC_PIPE))
    return ASYNC_EINVAL;
  if (!(p->loop->caps_ & ASYNC_CAP_UNIX_SOCKET))
    return ASYNC_ENOTSUP;
  return p->fd_ >= 0 ? ASYNC_EBUSY : 0;
}

/* The new socket joins the stream layer neither readable nor writable:
 * listen or connect decides. */
static int new_socket(async_pipe_t *p) {
  int fd = async__sock_open(AF_UNIX, SOCK_STREAM, 0);
  int err;
  if (fd < 0)
    return async_translate_sys_error(errno);
  err = async__stream_open((async_stream_t *)p, fd, 0, 0, 1);
  if (err != 0) {
    close(fd);
    return err;
  }
  return 0;
}

static void drop_socket(async_pipe_t *p) {
  async__io_detach(p->loop, p->fd_);
  close(p->fd_);
  p->fd_ = -1;
  p->stream_flags_ &= ASYNC__STREAM_IPC;
}

int async_pipe_bind2(async_pipe_t *p, const char *name, size_t namelen) {
  struct sockaddr_un addr;
  char *path = NULL;
  int len, err = usable(p);
  if (err != 0)
    return err;
  if ((len = make_addr(p, &addr, name, namelen)) < 0)
    return len;
  if (name[0] != '\0' && (path = async__malloc(namelen + 1)) == NULL)
    return ASYNC_ENOMEM;
  if ((err = new_socket(p)) != 0) {
    async__free(path);
    return err;
  }
  if (bind(p->fd_, (struct sockaddr *)&addr, (socklen_t)len) != 0) {
    err = async_translate_sys_error(errno);
    drop_socket(p);
    async__free(path);
    return err;
  }
  if (path != NULL) {
    memcpy(path, name, namelen);
    path[namelen] = '\0';
  }
  p->bound_path_ = path;
  return 0;
}

int async_pipe_bind(async_pipe_t *p, const char *name) {
  return async_pipe_bind2(p, name, name != NULL ? strlen(name) : 0);
}

int async_pipe_connect2(async_connect_t *req, async_pipe_t *p, const char *name, size_t namelen,
                        async_connect_cb cb) {
  struct sockaddr_un addr;
  int len, err;
  if (req == NULL)
    return ASYNC_EINVAL;
  if ((err = usable(p)) != 0)
    return err;
  if ((len = make_addr(p, &addr, name, namelen)) < 0)
    return len;
  if ((err = new_socket(p)) != 0)
    return err;
  return async__stream_connect((async_stream_t *)p, req, (struct sockaddr *)&addr,
                               (unsigned)len, cb);
}

int async_pipe_connect(async_connect_t *req, async_pipe_t *p, const char *name,
                       async_connect_cb cb) {
  return async_pipe_connect2(req, p, name, name != NULL ? strlen(name) : 0, cb);
}

static int name_of(const async_pipe_t *p, char *buf, size_t *len, int peer) {
  struct sockaddr_un addr;
  socklen_t alen = sizeof(addr);
  size_t n;
  if (!async__handle_ok(p, ASYNC_PIPE) || buf == NULL || len == NULL)
    return ASYNC_EINVAL;
  if (p->fd_ < 0)
    return ASYNC_EBADF;
  memset(&addr, 0, sizeof(addr));
  if ((peer ? getpeername(p->fd_, (struct sockaddr *)&addr, &alen)
            : getsockname(p->fd_, (struct sockaddr *)&addr, &alen)) != 0)
    return async_translate_sys_error(errno);
  if (addr.sun_family != AF_UNIX)
    return ASYNC_ENOTSOCK;
  n = alen > offsetof(struct sockaddr_un, sun_path) ? alen - offsetof(struct sockaddr_un, sun_path)
                                                    : 0;
  if (n > 0 && addr.sun_path[0] != '\0') /* a path: up to its NUL */
    n = strnlen(addr.sun_path, n);
  if (n > *len) {
    *len = n;
    return ASYNC_ENOBUFS;
  }
  memcpy(buf, addr.sun_path, n);
  if (n < *len)
    buf[n] = '\0';
  *len = n;
  return 0;
}

int async_pipe_getsockname(const async_pipe_t *p, char *buf, size_t *len) {
  return name_of(p, buf, len, 0);
}

int async_pipe_getpeername(const async_pipe_t *p, char *buf, size_t *len) {
  return name_of(p, buf, len, 1);
}

int async_pipe_chmod(async_pipe_t *p, int mode) {
  struct stat st;
  mode_t add = 0;
  if (!async__handle_ok(p, ASYNC_PIPE) || mode == 0 ||
      (mode & ~(ASYNC_READABLE | ASYNC_WRITABLE)) || p->bound_path_ == NULL)
    return ASYNC_EINVAL;
  if (mode & ASYNC_READABLE)
    add |= S_IRUSR | S_IRGRP | S_IROTH;
  if (mode & ASYNC_WRITABLE)
    add |= S_IWUSR | S_IWGRP | S_IWOTH;
  if (stat(p->bound_path_, &st) != 0 || chmod(p->bound_path_, (st.st_mode & 07777) | add) != 0)
    return async_translate_sys_error(errno);
  return 0;
}

int async_pipe_getpeercred(const async_pipe_t *p, async_peercred_t *cred) {
  if (!async__handle_ok(p, ASYNC_PIPE) || cred == NULL)
    return ASYNC_EINVAL;
  if (p->fd_ < 0)
    return ASYNC_EBADF;
#if defined(SO_PEERCRED)
  {
    struct ucred uc;
    socklen_t len = sizeof(uc);
    if (getsockopt(p->fd_, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
      return async_translate_sys_error(errno);
    cred->pid = uc.pid;
    cred->uid = (long)uc.uid;
    cred->gid = (long)uc.gid;
    return 0;
  }
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
  {
    uid_t uid;
    gid_t gid;
    if (getpeereid(p->fd_, &uid, &gid) != 0)
      return async_translate_sys_error(errno);
    cred->pid = -1;
    cred->uid = (long)uid;
    cred->gid = (long)gid;
    return 0;
  }
#else
  return ASYNC_ENOTSUP;
#endif
}
