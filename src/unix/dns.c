/* The resolver's error codes on Unix (src/sock/dns.c does the lookups). */
#include "../sock/sock.h"

int async__eai_error(int rc) {
  switch (rc) {
#if defined(EAI_ADDRFAMILY)
  case EAI_ADDRFAMILY: return ASYNC_EAI_ADDRFAMILY;
#endif
  case EAI_AGAIN: return ASYNC_EAI_AGAIN;
  case EAI_BADFLAGS: return ASYNC_EAI_BADFLAGS;
  case EAI_FAIL: return ASYNC_EAI_FAIL;
  case EAI_FAMILY: return ASYNC_EAI_FAMILY;
  case EAI_MEMORY: return ASYNC_EAI_MEMORY;
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
  case EAI_NODATA: return ASYNC_EAI_NODATA;
#endif
  case EAI_NONAME: return ASYNC_EAI_NONAME;
  case EAI_OVERFLOW: return ASYNC_EAI_OVERFLOW;
  case EAI_SERVICE: return ASYNC_EAI_SERVICE;
  case EAI_SOCKTYPE: return ASYNC_EAI_SOCKTYPE;
  case EAI_SYSTEM: return async_translate_sys_error(errno);
  default: return ASYNC_EAI_FAIL;
  }
}
