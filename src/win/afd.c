/* Readiness of sockets on a completion port: each watched socket has one
 * IOCTL_AFD_POLL in flight on a helper handle to the AFD driver (the
 * kernel side of Winsock), and the poll completes on the loop's port when
 * the socket is ready. Level-triggered like the Unix backends: after its
 * callback a socket is polled again, and a socket still ready completes at
 * once. A changed interest cancels the poll in flight and asks again when
 * the cancellation lands. A record is freed only once no poll of its is in
 * flight, since the kernel writes into it until then. */
#include "win.h"

#include <mswsock.h>
#include <winternl.h>

/* The AFD poll interface: driver ABI, stable since Windows XP. */
#define AFD_POLL_RECEIVE 0x0001u
#define AFD_POLL_RECEIVE_EXPEDITED 0x0002u
#define AFD_POLL_SEND 0x0004u
#define AFD_POLL_DISCONNECT 0x0008u
#define AFD_POLL_ABORT 0x0010u
#define AFD_POLL_LOCAL_CLOSE 0x0020u
#define AFD_POLL_ACCEPT 0x0080u
#define AFD_POLL_CONNECT_FAIL 0x0100u
#define IOCTL_AFD_POLL 0x00012024u
#define AFD_STATUS_CANCELLED ((NTSTATUS)0xC0000120L)

typedef struct {
  HANDLE handle;
  ULONG events;
  NTSTATUS status;
} afd_handle_info;

typedef struct {
  LARGE_INTEGER timeout;
  ULONG count;
  ULONG exclusive;
  afd_handle_info handles[1];
} afd_poll_info;

struct poll_rec {
  OVERLAPPED ov; /* first: a packet's lpOverlapped is the record */
  afd_poll_info info;
  SOCKET sock;   /* the watched socket, as the loop's table knows it */
  SOCKET base;   /* the provider's own socket under any layered one */
  uint32_t gen;  /* the table entry's registration number */
  unsigned want; /* ASYNC_READABLE|ASYNC_WRITABLE wanted now */
  unsigned asked;    /* what the poll in flight asks for; 0: none in flight */
  int detached;      /* the entry let go of it: free once idle */
  int dispatching;   /* its callback is running: modify must not free it */
  struct async__link link;
};

struct async__afd {
  HANDLE handle;
  struct async__link recs; /* every record, attached or not */
  unsigned inflight;
};

int async__afd_open(struct async__afd **out, HANDLE port, ULONG_PTR key) {
  static const WCHAR path[] = L"\\Device\\Afd\\libasync";
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES attr;
  IO_STATUS_BLOCK iosb;
  NTSTATUS st;
  struct async__afd *afd = async__calloc(1, sizeof(*afd));
  if (afd == NULL)
    return ASYNC_ENOMEM;
  name.Buffer = (PWSTR)path;
  name.Length = (USHORT)(sizeof(path) - sizeof(WCHAR));
  name.MaximumLength = (USHORT)sizeof(path);
  InitializeObjectAttributes(&attr, &name, 0, NULL, NULL);
  st = NtCreateFile(&afd->handle, SYNCHRONIZE, &attr, &iosb, NULL, 0,
                    FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
  if (st != 0) {
    async__free(afd);
    return async_translate_sys_error((int)RtlNtStatusToDosError(st));
  }
  if (CreateIoCompletionPort(afd->handle, port, key, 0) == NULL ||
      !SetFileCompletionNotificationModes(afd->handle, FILE_SKIP_SET_EVENT_ON_HANDLE)) {
    int err = async_translate_sys_error((int)GetLastError());
    CloseHandle(afd->handle);
    async__free(afd);
    return err;
  }
  async__list_init(&afd->recs);
  *out = afd;
  return 0;
}

void async__afd_cancel_all(struct async__afd *afd) {
  if (afd->inflight > 0)
    CancelIoEx(afd->handle, NULL);
}

unsigned async__afd_inflight(const struct async__afd *afd) { return afd->inflight; }

static void release(struct poll_rec *r) {
  async__list_remove(&r->link);
  async__free(r);
}

/* Closing the loop: every watcher is gone, but polls may still be in
 * flight. They are cancelled and their packets awaited before the memory
 * the kernel writes to is freed. */
void async__afd_close(struct async__afd *afd, HANDLE port) {
  if (afd->inflight > 0)
    CancelIoEx(afd->handle, NULL);
  while (afd->inflight > 0) {
    OVERLAPPED_ENTRY e[16];
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(port, e, 16, &n, 5000, FALSE))
      break; /* the kernel never answered: leak rather than free live memory */
    for (ULONG i = 0; i < n; i++)
      if (e[i].lpOverlapped != NULL) {
        ((struct poll_rec *)(void *)e[i].lpOverlapped)->asked = 0;
        afd->inflight--;
      }
  }
  while (!async__list_empty(&afd->recs)) {
    struct poll_rec *r = async__container_of(afd->recs.next, struct poll_rec, link);
    if (r->asked != 0) {
      async__list_remove(&r->link); /* still the kernel's */
      continue;
    }
    release(r);
  }
  CloseHandle(afd->handle);
  async__free(afd);
}

static SOCKET base_socket(SOCKET s) {
  SOCKET base = INVALID_SOCKET;
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_BASE_HANDLE, NULL, 0, &base, sizeof(base), &bytes, NULL, NULL) != 0 ||
      base == INVALID_SOCKET)
    return s;
  return base;
}

static int submit(struct async__afd *afd, struct poll_rec *r) {
  ULONG ev = AFD_POLL_ABORT | AFD_POLL_LOCAL_CLOSE;
  NTSTATUS st;
  if (r->want & ASYNC_READABLE)
    ev |= AFD_POLL_RECEIVE | AFD_POLL_RECEIVE_EXPEDITED | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT;
  if (r->want & ASYNC_WRITABLE)
    ev |= AFD_POLL_SEND | AFD_POLL_CONNECT_FAIL;
  memset(&r->ov, 0, sizeof(r->ov));
  r->info.timeout.QuadPart = INT64_MAX;
  r->info.count = 1;
  r->info.exclusive = FALSE;
  r->info.handles[0].handle = (HANDLE)r->base;
  r->info.handles[0].events = ev;
  r->info.handles[0].status = 0;
  /* OVERLAPPED starts with the fields of an IO_STATUS_BLOCK, so that the
   * record serves as both, and CancelIoEx can name it. */
  st = NtDeviceIoControlFile(afd->handle, NULL, NULL, &r->ov, (PIO_STATUS_BLOCK)(void *)&r->ov,
                             IOCTL_AFD_POLL, &r->info, sizeof(r->info), &r->info,
                             sizeof(r->info));
  if (st != 0 && st != STATUS_PENDING)
    return async_translate_sys_error((int)RtlNtStatusToDosError(st));
  r->asked = r->want;
  afd->inflight++;
  return 0;
}

int async__afd_modify(async_loop_t *loop, struct async__afd *afd, SOCKET sock, unsigned events,
                      uint32_t gen) {
  struct async__sock_entry *e = async__io_entry(loop, sock);
  struct poll_rec *r;
  int fresh = 0, err;
  if (e == NULL)
    return ASYNC_EBADF;
  r = e->poll_;
  if (events == 0) {
    if (r == NULL)
      return 0;
    e->poll_ = NULL;
    r->want = 0;
    r->detached = 1;
    if (r->asked != 0)
      CancelIoEx(afd->handle, &r->ov);
    else if (!r->dispatching)
      release(r);
    return 0;
  }
  if (r == NULL) {
    r = async__calloc(1, sizeof(*r));
    if (r == NULL)
      return ASYNC_ENOMEM;
    r->sock = sock;
    r->base = base_socket(sock);
    r->gen = gen;
    async__list_insert_tail(&afd->recs, &r->link);
    e->poll_ = r;
    fresh = 1;
  }
  r->want = events;
  if (r->dispatching)
    return 0; /* polled again once the callback returns */
  if (r->asked == 0) {
    err = submit(afd, r);
    if (err != 0 && fresh) {
      e->poll_ = NULL;
      release(r);
    }
    return err;
  }
  if (r->asked != events)
    CancelIoEx(afd->handle, &r->ov); /* asked again when the cancellation lands */
  return 0;
}

static unsigned to_events(ULONG afd) {
  unsigned ev = 0;
  if (afd & AFD_POLL_LOCAL_CLOSE)
    return ASYNC__INVALID;
  if (afd & (AFD_POLL_RECEIVE | AFD_POLL_RECEIVE_EXPEDITED | AFD_POLL_ACCEPT))
    ev |= ASYNC_READABLE;
  if (afd & AFD_POLL_SEND)
    ev |= ASYNC_WRITABLE;
  if (afd & AFD_POLL_DISCONNECT)
    ev |= ASYNC_HANGUP;
  if (afd & AFD_POLL_ABORT)
    ev |= ASYNC_HANGUP | ASYNC_ERROR;
  if (afd & AFD_POLL_CONNECT_FAIL)
    ev |= ASYNC_ERROR;
  return ev;
}

static void dispatch(async_loop_t *loop, struct poll_rec *r, unsigned events) {
  r->dispatching = 1;
  async__io_event(loop, r->sock, r->gen, events);
  r->dispatching = 0;
}

void async__afd_done(async_loop_t *loop, struct async__afd *afd, OVERLAPPED *ov) {
  struct poll_rec *r = (struct poll_rec *)(void *)ov;
  NTSTATUS st = (NTSTATUS)r->ov.Internal;
  afd->inflight--;
  r->asked = 0;
  if (!r->detached && st != AFD_STATUS_CANCELLED) {
    unsigned events = ASYNC__INVALID; /* a failed poll: the socket is gone */
    if (st == 0)
      events = r->info.count > 0 ? to_events(r->info.handles[0].events) : 0;
    if (events != 0)
      dispatch(loop, r, events);
  }
  if (!r->detached && r->want != 0 && submit(afd, r) != 0)
    dispatch(loop, r, ASYNC__INVALID);
  if (r->detached && r->asked == 0)
    release(r);
}
