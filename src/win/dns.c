/* The resolver's error codes in Winsock (src/sock/dns.c does the lookups). */
#include "../sock/sock.h"

/* Winsock's resolver errors are WSA codes (the EAI_ names are aliases for
 * them); anything else is a plain system error. */
int async__eai_error(int rc) {
  switch (rc) {
  case EAI_AGAIN: return ASYNC_EAI_AGAIN;
  case EAI_BADFLAGS: return ASYNC_EAI_BADFLAGS;
  case EAI_FAIL: return ASYNC_EAI_FAIL;
  case EAI_FAMILY: return ASYNC_EAI_FAMILY;
  case EAI_MEMORY: return ASYNC_EAI_MEMORY;
  case EAI_NODATA: return ASYNC_EAI_NODATA;
  case EAI_NONAME: return ASYNC_EAI_NONAME;
  case EAI_SERVICE: return ASYNC_EAI_SERVICE;
  case EAI_SOCKTYPE: return ASYNC_EAI_SOCKTYPE;
  default: return async_translate_sys_error(rc);
  }
}
