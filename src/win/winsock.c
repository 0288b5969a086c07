/* Winsock is started once for the whole process. */
#include "win.h"

static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
static int startup_error;

static BOOL CALLBACK start(PINIT_ONCE o, PVOID param, PVOID *ctx) {
  WSADATA data;
  int rc = WSAStartup(MAKEWORD(2, 2), &data);
  (void)o;
  (void)param;
  (void)ctx;
  startup_error = rc == 0 ? 0 : async_translate_sys_error(rc);
  return TRUE;
}

int async__winsock_init(void) {
  InitOnceExecuteOnce(&once, start, NULL, NULL);
  return startup_error;
}
