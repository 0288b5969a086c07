/* Prints this machine's platform table: every backend compiled in, whether
 * a loop can be created on it here, and what a loop on it offers. */
#include <stdio.h>
#include <string.h>

#include "async.h"
#include "common.h"

int main(void) {
  size_t n;
  const async_backend_info_t *b = async_backends(&n);
  async_loop_t loop;

  printf("%-14s", "capability");
  for (size_t i = 0; i < n; i++)
    printf(" %-8s", b[i].name);
  printf("\n%-14s", "available");
  for (size_t i = 0; i < n; i++)
    printf(" %-8s", b[i].available ? "yes" : "no");
  printf("\n");
  for (unsigned cap = 1; cap != 0 && cap <= ASYNC_CAP_LAST_; cap <<= 1) {
    printf("%-14s", async_cap_name(cap));
    for (size_t i = 0; i < n; i++)
      printf(" %-8s", (b[i].caps & cap) ? "yes" : "-");
    printf("\n");
  }
  printf("%-14s", "fd limit");
  for (size_t i = 0; i < n; i++) {
    async_loop_options_t opts;
    long limit = 0;
    memset(&opts, 0, sizeof(opts));
    opts.backend = b[i].name;
    if (async_loop_init(&loop, &opts) == 0) {
      limit = async_loop_fd_limit(&loop);
      async_loop_close(&loop);
    }
    if (limit > 0)
      printf(" %-8ld", limit);
    else
      printf(" %-8s", "rlimit");
  }
  printf("\n");
  /* The loop a program gets here, $ASYNC_BACKEND included: a name that does
   * not work is worth an error after the table. */
  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  printf("\ndefault backend here: %s (set ASYNC_BACKEND=name to choose another)\n",
         async_loop_backend(&loop));
  async_loop_close(&loop);
  return 0;
}
