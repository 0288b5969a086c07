/* The Winsock side of the shared socket code (src/sock/sock.h). */
#include "../sock/sock.h"

#include <mstcpip.h>
#include <string.h>

/* Not inherited by child processes, like the Unix side's close-on-exec.
 * Non-blocking mode comes when a stream or UDP handle opens the socket. */
SOCKET async__sock_open(int family, int type, int protocol) {
  SOCKET s = WSASocketW(family, type, protocol, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) { /* before Windows 7 SP1 */
    s = WSASocketW(family, type, protocol, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET)
      SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  }
  return s;
}

void async__sock_close(SOCKET s) { closesocket(s); }

/* getsockname fails on an unbound Winsock socket; its protocol info does not. */
int async__sock_family(SOCKET s) {
  WSAPROTOCOL_INFOW info;
  int len = (int)sizeof(info);
  if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
    return 0;
  return info.iAddressFamily;
}

/* async__stream_open made it non-blocking already (FIONBIO). */
int async__sock_nonblock(SOCKET s) {
  (void)s;
  return 0;
}

/* Winsock dissolves a datagram socket's peer on a connect to the zero address. */
int async__sock_disconnect(SOCKET s) {
  struct sockaddr_storage none;
  memset(&none, 0, sizeof(none));
  if (connect(s, (struct sockaddr *)&none, (int)sizeof(none)) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

/* The idle time goes through SIO_KEEPALIVE_VALS, in milliseconds. */
int async__tcp_keepidle(SOCKET s, unsigned delay) {
  struct tcp_keepalive ka;
  DWORD bytes = 0;
  ka.onoff = 1;
  ka.keepalivetime = delay > 4294967u ? 0xffffffffu : delay * 1000u;
  ka.keepaliveinterval = 1000;
  if (WSAIoctl(s, SIO_KEEPALIVE_VALS, &ka, sizeof(ka), NULL, 0, &bytes, NULL, NULL) != 0)
    return async_translate_sys_error(WSAGetLastError());
  return 0;
}

/* A non-blocking send of up to SEND_BATCH buffers: the bytes Winsock took,
 * ASYNC_EAGAIN, or an error. */
#define SEND_BATCH 64

long async__win_send(SOCKET s, const async_buf_t *bufs, unsigned nbufs) {
  WSABUF wb[SEND_BATCH];
  DWORD n = 0, sent = 0;
  int err;
  for (; n < nbufs && n < SEND_BATCH; n++) {
    wb[n].buf = bufs[n].base;
    wb[n].len = bufs[n].len > 0x7fffffff ? 0x7fffffff : (ULONG)bufs[n].len;
  }
  if (WSASend(s, wb, n, &sent, 0, NULL, NULL) == 0)
    return (long)sent;
  err = WSAGetLastError();
  return err == WSAEWOULDBLOCK ? ASYNC_EAGAIN : async_translate_sys_error(err);
}
