#include "internal.h"

#include <stddef.h>

struct err_entry {
  int code;
  const char *name;
  const char *msg;
};

static const struct err_entry errors[] = {
#define ASYNC__ERR_ROW(name, msg) {ASYNC_##name, #name, msg},
  ASYNC_ERRNO_MAP(ASYNC__ERR_ROW)
#undef ASYNC__ERR_ROW
};

static const struct err_entry *find(int err) {
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
    if (errors[i].code == err)
      return &errors[i];
  return NULL;
}

const char *async_strerror(int err) {
  const struct err_entry *e = find(err);
  return e != NULL ? e->msg : "unknown error";
}

const char *async_err_name(int err) {
  const struct err_entry *e = find(err);
  return e != NULL ? e->name : "UNKNOWN";
}
