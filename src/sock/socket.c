/* What TCP, UDP and DNS share on both worlds. */
#include "sock.h"

unsigned async__addr_len(const struct sockaddr *addr) {
  switch (addr->sa_family) {
  case AF_INET: return sizeof(struct sockaddr_in);
  case AF_INET6: return sizeof(struct sockaddr_in6);
  default: return 0;
  }
}
