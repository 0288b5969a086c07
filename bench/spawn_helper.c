/* The child of bench/spawn: one line on stdout, exit status 42. Kept tiny so
 * that the benchmark measures spawning and reaping, not a shell's start-up. */
#include <unistd.h>

int main(void) {
  static const char line[] = "hello\n";
  return write(1, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) ? 42 : 1;
}
