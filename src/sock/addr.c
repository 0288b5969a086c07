/* Text to socket addresses and back, for callers who would otherwise reach
 * for inet_pton and htons themselves. */
#include "sock.h"

#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
# include <iphlpapi.h> /* if_nametoindex */
#else
# include <arpa/inet.h>
# include <net/if.h>
#endif

async_buf_t async_buf_init(char *base, size_t len) {
  async_buf_t buf;
  buf.base = base;
  buf.len = len;
  return buf;
}

int async_ip4_addr(const char *ip, int port, struct sockaddr_in *addr) {
  struct in_addr in;
  if (ip == NULL || addr == NULL || port < 0 || port > 65535 || inet_pton(AF_INET, ip, &in) != 1)
    return ASYNC_EINVAL;
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_port = htons((unsigned short)port);
  addr->sin_addr = in;
  return 0;
}

/* "%eth0" or "%3": an interface name where the system can look one up,
 * else its index. 0 if neither. */
static unsigned long scope_id(const char *scope) {
  char *end;
  unsigned long id;
  if (*scope == '\0')
    return 0;
  id = strtoul(scope, &end, 10);
  if (*end == '\0' && scope[0] >= '0' && scope[0] <= '9')
    return id;
  return if_nametoindex(scope);
}

int async_ip6_addr(const char *ip, int port, struct sockaddr_in6 *addr) {
  char text[INET6_ADDRSTRLEN];
  const char *pct;
  struct in6_addr in6;
  unsigned long scope = 0;
  size_t len;
  if (ip == NULL || addr == NULL || port < 0 || port > 65535)
    return ASYNC_EINVAL;
  pct = strchr(ip, '%');
  len = pct != NULL ? (size_t)(pct - ip) : strlen(ip);
  if (len >= sizeof(text))
    return ASYNC_EINVAL;
  memcpy(text, ip, len);
  text[len] = '\0';
  if (inet_pton(AF_INET6, text, &in6) != 1)
    return ASYNC_EINVAL;
  if (pct != NULL && (scope = scope_id(pct + 1)) == 0)
    return ASYNC_EINVAL;
  memset(addr, 0, sizeof(*addr));
  addr->sin6_family = AF_INET6;
  addr->sin6_port = htons((unsigned short)port);
  addr->sin6_addr = in6;
  addr->sin6_scope_id = (uint32_t)scope;
  return 0;
}

int async_ip_name(const struct sockaddr *addr, char *dst, size_t size) {
  char text[INET6_ADDRSTRLEN];
  const void *src;
  size_t len;
  if (addr == NULL || dst == NULL)
    return ASYNC_EINVAL;
  if (addr->sa_family == AF_INET)
    src = &((const struct sockaddr_in *)(const void *)addr)->sin_addr;
  else if (addr->sa_family == AF_INET6)
    src = &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;
  else
    return ASYNC_EINVAL;
  if (inet_ntop(addr->sa_family, src, text, sizeof(text)) == NULL)
    return ASYNC_EINVAL;
  len = strlen(text);
  if (len >= size)
    return ASYNC_ENOSPC;
  memcpy(dst, text, len + 1);
  return 0;
}

int async_ip_port(const struct sockaddr *addr) {
  if (addr == NULL)
    return ASYNC_EINVAL;
  if (addr->sa_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
  if (addr->sa_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)(const void *)addr)->sin6_port);
  return ASYNC_EINVAL;
}
