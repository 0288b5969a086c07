#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name async_loop_init looked at: the option wins over the environment. */
static const char *chosen_backend(const async_loop_options_t *opts) {
  if (opts != NULL && opts->backend != NULL && opts->backend[0] != '\0')
    return opts->backend;
  return getenv("ASYNC_BACKEND");
}

/* Asked of the library rather than written down, so that a build with other
 * backends lists its own. */
static void print_built(void) {
  size_t n;
  const async_backend_info_t *b = async_backends(&n);
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, "%s%s", i > 0 ? ", " : "", b[i].name);
}

static int is_built(const char *name) {
  size_t n;
  const async_backend_info_t *b = async_backends(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(b[i].name, name) == 0)
      return 1;
  return 0;
}

int example_loop_init(async_loop_t *loop, const async_loop_options_t *opts) {
  int err = async_loop_init(loop, opts);
  const char *name = chosen_backend(opts);
  if (err == 0)
    return 0;
  if (name != NULL && (err == ASYNC_ENOENT || err == ASYNC_ENOTSUP)) {
    if (err == ASYNC_ENOENT)
      fprintf(stderr, "unknown backend '%s' (built: ", name);
    else if (is_built(name))
      fprintf(stderr, "backend '%s' is built but cannot run here (built: ", name);
    else
      fprintf(stderr, "backend '%s' is not built in (built: ", name);
    print_built();
    fprintf(stderr, ")\n");
  } else {
    fprintf(stderr, "cannot create a loop: %s (%s)\n", async_strerror(err), async_err_name(err));
  }
  return err;
}

void check(int err, const char *what) {
  if (err < 0) {
    fprintf(stderr, "%s: %s (%s)\n", what, async_strerror(err), async_err_name(err));
    exit(1);
  }
}
