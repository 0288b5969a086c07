/* What every example needs before its own work starts: a loop, and a way to
 * give up with a readable message when a call fails. */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <async.h>

/* async_loop_init, saying on stderr why it failed: a backend name that does
 * not exist (from opts or $ASYNC_BACKEND) is reported with the names this
 * build has, e.g. "unknown backend 'x' (built: epoll, poll, select)".
 * Returns async_loop_init's result. */
int example_loop_init(async_loop_t *loop, const async_loop_options_t *opts);

/* For calls a small program cannot go on without: when err is negative,
 * prints "what: message (NAME)" and exits with status 1. */
void check(int err, const char *what);

#endif
