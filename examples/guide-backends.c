/* docs/guide.md, "Backends and capabilities": the backends this build has,
 * the one a loop got ($ASYNC_BACKEND or the default), what that loop offers,
 * and what a feature its backend lacks looks like. */
#include <stdio.h>

#include "async.h"
#include "common.h"

int main(void) {
  async_loop_t loop;
  size_t n;
  const async_backend_info_t *b = async_backends(&n);
  unsigned caps;
  int fd;

  for (size_t i = 0; i < n; i++)
    printf("built: %-7s %s\n", b[i].name, b[i].available ? "(can run here)" : "(cannot run here)");
  if (example_loop_init(&loop, NULL) != 0)
    return 1;
  caps = async_loop_caps(&loop);
  printf("this loop runs on %s and offers:", async_loop_backend(&loop));
  for (unsigned bit = 1; bit != 0; bit <<= 1)
    if ((caps & bit) && async_cap_name(bit) != NULL)
      printf(" %s", async_cap_name(bit));
  printf("\n");

  /* What a backend cannot do is a bit that is off and ASYNC_ENOTSUP from the
   * call, never a stand-in that half works. */
  fd = async_backend_fd(&loop);
  if (caps & ASYNC_CAP_BACKEND_FD)
    printf("async_backend_fd: fd %d\n", fd);
  else
    printf("async_backend_fd: %s (%s)\n", async_err_name(fd), async_strerror(fd));
  check(async_loop_close(&loop), "loop_close");
  return (fd >= 0) == ((caps & ASYNC_CAP_BACKEND_FD) != 0) ? 0 : 1;
}
