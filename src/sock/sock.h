/* The socket layer shared by the two worlds: code in src/sock/ is written
 * once against this header and compiled for Unix and for Windows. It maps
 * the few differences between BSD sockets and Winsock (the socket type, the
 * length type, where the last error lives) and brings in the world's own
 * private header, so that shared code calls the same internal functions
 * (async__io_attach, async__stream_open, ...) on either side. */
#ifndef ASYNC_SOCK_H
#define ASYNC_SOCK_H

#if defined(_WIN32)
# include "../win/win.h"

typedef SOCKET async__sock_t;
typedef int async__socklen_t;
# define ASYNC__BAD_SOCK INVALID_SOCKET

/* The error of the last failed socket call, as Winsock keeps it. */
static inline int async__sock_error(void) { return WSAGetLastError(); }
#else
# include "../unix/unix.h"

# include <errno.h>
# include <netdb.h>
# include <netinet/in.h>
# include <sys/socket.h>

typedef int async__sock_t;
typedef socklen_t async__socklen_t;
# define ASYNC__BAD_SOCK (-1)

static inline int async__sock_error(void) { return errno; }
#endif

/* Handles keep their socket in an int field (fd_): Windows socket values fit. */
static inline async__sock_t async__sock(int fd) { return (async__sock_t)(uintptr_t)fd; }

/* socket.c */
unsigned async__addr_len(const struct sockaddr *addr); /* 0: not AF_INET/AF_INET6 */

/* dns.c (per world): a getaddrinfo/getnameinfo result code onto ASYNC_EAI_* (or a system
 * error); called right after the failed call, on the same thread. */
int async__eai_error(int rc);

#endif /* ASYNC_SOCK_H */
