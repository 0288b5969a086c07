/* The backend registry and capabilities, checked from a loop on the backend
 * under test: the list of compiled-in backends, capability names, the
 * capabilities each backend reports in this build, how a loop picks its
 * backend (option, $ASYNC_BACKEND, default) and the fd limit. */
#include "helper.h"

#include <stdlib.h>
#include <string.h>

/* Bits of features not built yet: zero everywhere today. */
#define UNBUILT_CAPS                                                            \
  (0u)

/* ---- helpers -------------------------------------------------------------- */

static const async_backend_info_t *find_backend(const char *name) {
  size_t n = 0;
  const async_backend_info_t *b = async_backends(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(b[i].name, name) == 0)
      return &b[i];
  return NULL;
}

static const char *first_available(void) {
  size_t n = 0;
  const async_backend_info_t *b = async_backends(&n);
  for (size_t i = 0; i < n; i++)
    if (b[i].available)
      return b[i].name;
  return NULL;
}

/* A compiled-in, available backend other than name (NULL if none). */
static const char *other_backend(const char *name) {
  size_t n = 0;
  const async_backend_info_t *b = async_backends(&n);
  for (size_t i = 0; i < n; i++)
    if (b[i].available && strcmp(b[i].name, name) != 0)
      return b[i].name;
  return NULL;
}

/* $ASYNC_BACKEND as the test found it, restored at its end. */
static char *saved_env;
static int had_env;

static void save_env(void) {
  const char *v = getenv("ASYNC_BACKEND");
  had_env = v != NULL;
  saved_env = v != NULL ? strdup(v) : NULL;
}

static void restore_env(void) {
  if (had_env)
    test_setenv("ASYNC_BACKEND", saved_env);
  else
    test_setenv("ASYNC_BACKEND", NULL);
  free(saved_env);
  saved_env = NULL;
}

static void init_named(async_loop_t *loop, const char *name) {
  async_loop_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.backend = name;
  assert_int_equal(async_loop_init(loop, &opts), 0);
}

static int init_with(async_loop_t *loop, const char *name) {
  async_loop_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.backend = name;
  return async_loop_init(loop, &opts);
}

/* ---- the list ------------------------------------------------------------------ */

static void test_backends_list(void **state) {
  async_loop_t loop;
  size_t n = 0, n2 = 0;
  const async_backend_info_t *b, *b2;
  const async_backend_info_t *mine;
  (void)state;
  test_loop_init(&loop);
  b = async_backends(&n);
  assert_non_null(b);
  assert_true(n >= 1);
  for (size_t i = 0; i < n; i++) {
    assert_non_null(b[i].name);
    assert_true(b[i].available == 0 || b[i].available == 1);
    for (size_t j = i + 1; j < n; j++)
      assert_true(strcmp(b[i].name, b[j].name) != 0);
  }
  /* Same answer every time, with or without a count. */
  b2 = async_backends(&n2);
  assert_int_equal(n2, n);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(b2[i].name, b[i].name);
    assert_int_equal(b2[i].caps, b[i].caps);
    assert_int_equal(b2[i].available, b[i].available);
  }
  assert_non_null(async_backends(NULL));
  /* The loop's backend is listed, available, with the loop's caps. */
  mine = find_backend(async_loop_backend(&loop));
  assert_non_null(mine);
  assert_int_equal(mine->available, 1);
  assert_int_equal(mine->caps, async_loop_caps(&loop));
  test_loop_close(&loop);
}

/* Exactly the backends this build compiled in ($ASYNC_TEST_COMPILED, from
 * meson), in the registry's order, each available on this Linux machine. */
static void test_backends_compiled_set(void **state) {
  async_loop_t loop;
  const char *compiled = getenv("ASYNC_TEST_COMPILED");
  char list[128] = "";
  size_t n = 0;
  const async_backend_info_t *b = async_backends(&n);
  (void)state;
  test_loop_init(&loop);
  assert_non_null(compiled);
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      strcat(list, ",");
    strcat(list, b[i].name);
#if defined(__linux__)
    assert_int_equal(b[i].available, 1);
#endif
  }
  assert_string_equal(list, compiled);
  assert_non_null(find_backend(async_loop_backend(&loop)));
  test_loop_close(&loop);
}

static void test_cap_names(void **state) {
  async_loop_t loop;
  const char *names[19];
  (void)state;
  test_loop_init(&loop);
  for (unsigned i = 0; i < 19; i++) {
    names[i] = async_cap_name(1u << i);
    assert_non_null(names[i]);
    assert_true(names[i][0] != '\0');
    for (unsigned j = 0; j < i; j++)
      assert_true(strcmp(names[i], names[j]) != 0);
  }
  assert_true((1u << 18) == ASYNC_CAP_LAST_);
  assert_string_equal(async_cap_name(ASYNC_CAP_UNIX_ABSTRACT), "unix-abstract");
  assert_null(async_cap_name(0));
  assert_null(async_cap_name(1u << 19));
  assert_null(async_cap_name(1u << 31));
  assert_null(async_cap_name(ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP));
  assert_null(async_cap_name(~0u));
#if defined(__linux__)
  assert_true(async_loop_caps(&loop) & ASYNC_CAP_UNIX_ABSTRACT);
#else
  assert_false(async_loop_caps(&loop) & ASYNC_CAP_UNIX_ABSTRACT);
#endif
  /* Every bit the loop reports has a name. */
  for (unsigned i = 0; i < 32; i++)
    if (async_loop_caps(&loop) & (1u << i))
      assert_non_null(async_cap_name(1u << i));
  test_loop_close(&loop);
}

/* ---- capabilities ---------------------------------------------------------------- */

static void test_caps_of_backend_under_test(void **state) {
  async_loop_t loop;
  const char *name;
  unsigned caps, base = ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_FD_WATCH | ASYNC_CAP_FORK |
                        ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS | ASYNC_CAP_SIGNAL | ASYNC_CAP_UDP |
                        ASYNC_CAP_PIPE | ASYNC_CAP_TCP | ASYNC_CAP_UNIX_SOCKET | ASYNC_CAP_PROCESS;
  (void)state;
  test_loop_init(&loop);
  name = async_loop_backend(&loop);
  caps = async_loop_caps(&loop);
#if defined(_WIN32)
  /* Windows: timers, wakeups, the pool, DNS, TCP, UDP and socket watchers everywhere;
   * IOCP tells hang-ups apart, select limits the number of sockets. */
  (void)base;
  base = ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP | ASYNC_CAP_THREADPOOL | ASYNC_CAP_DNS |
         ASYNC_CAP_TCP | ASYNC_CAP_UDP | ASYNC_CAP_SIGNAL; /* console signals */
  if (strcmp(name, "iocp") == 0) /* watchers through AFD polls; named pipes; children */
    assert_int_equal(caps, base | ASYNC_CAP_FD_WATCH | ASYNC_CAP_HANGUP | ASYNC_CAP_PIPE |
                               ASYNC_CAP_PROCESS | ASYNC_CAP_BACKEND_HANDLE);
  else if (strcmp(name, "select") == 0)
    assert_int_equal(caps, base | ASYNC_CAP_FD_WATCH | ASYNC_CAP_FD_LIMIT);
  else
    fail_msg("unexpected backend %s on Windows", name);
#else
# if defined(__linux__)
  base |= ASYNC_CAP_UNIX_ABSTRACT;
# endif
  /* Every Unix backend but kqueue watches character devices. */
  if (strcmp(name, "kqueue") != 0)
    base |= ASYNC_CAP_CHAR_DEVICE;
  if (strcmp(name, "epoll") == 0) {
    /* Sub-ms timers only where epoll_pwait2 works. */
    assert_int_equal(caps & ~(unsigned)ASYNC_CAP_SUBMS_TIMERS,
                     base | ASYNC_CAP_HANGUP | ASYNC_CAP_BACKEND_FD);
  } else if (strcmp(name, "poll") == 0) {
    /* Sub-ms timers only with ppoll (not on macOS). */
    assert_int_equal(caps | ASYNC_CAP_SUBMS_TIMERS,
                     base | ASYNC_CAP_HANGUP | ASYNC_CAP_SUBMS_TIMERS);
  } else if (strcmp(name, "select") == 0) {
    assert_int_equal(caps, base | ASYNC_CAP_SUBMS_TIMERS | ASYNC_CAP_FD_LIMIT);
  } else if (strcmp(name, "kqueue") == 0) {
    /* Devices only where kevent takes a pty; the backend fd only on a real kqueue. */
    assert_int_equal(caps & ~(unsigned)(ASYNC_CAP_CHAR_DEVICE | ASYNC_CAP_BACKEND_FD),
                     base | ASYNC_CAP_HANGUP | ASYNC_CAP_SUBMS_TIMERS);
  } else {
    assert_int_equal(caps & (ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP),
                     ASYNC_CAP_TIMERS | ASYNC_CAP_WAKEUP);
  }
#endif
  assert_int_equal(caps & UNBUILT_CAPS, 0);
  assert_true(test_has_caps(&loop, ASYNC_CAP_TIMERS));
  test_loop_close(&loop);
}

static void test_unbuilt_caps_zero_everywhere(void **state) {
  async_loop_t loop;
  size_t n = 0;
  const async_backend_info_t *b;
  (void)state;
  test_loop_init(&loop);
  b = async_backends(&n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(b[i].caps & UNBUILT_CAPS, 0);
    assert_int_equal(b[i].caps & ~((unsigned)ASYNC_CAP_LAST_ * 2 - 1), 0);
    if (b[i].available)
      assert_true((b[i].caps & ASYNC_CAP_TIMERS) != 0);
  }
  assert_int_equal(async_loop_caps(&loop) & UNBUILT_CAPS, 0);
  test_loop_close(&loop);
}

static void test_every_backend_matches_its_listing(void **state) {
  async_loop_t loop;
  size_t n = 0;
  const async_backend_info_t *b;
  (void)state;
  test_loop_init(&loop);
  b = async_backends(&n);
  for (size_t i = 0; i < n; i++) {
    async_loop_t other;
    if (!b[i].available) {
      assert_int_equal(init_with(&other, b[i].name), ASYNC_ENOTSUP);
      continue;
    }
    init_named(&other, b[i].name);
    assert_string_equal(async_loop_backend(&other), b[i].name);
    assert_int_equal(async_loop_caps(&other), b[i].caps);
    assert_int_equal(async_loop_fd_limit(&other) > 0,
                     (b[i].caps & ASYNC_CAP_FD_LIMIT) != 0);
    if (b[i].caps & ASYNC_CAP_BACKEND_FD)
      assert_true(async_backend_fd(&other) >= 0);
    else
      assert_int_equal(async_backend_fd(&other), ASYNC_ENOTSUP);
    assert_int_equal(async_loop_close(&other), 0);
  }
  test_loop_close(&loop);
}

static void test_fd_limit(void **state) {
  async_loop_t loop;
  const char *name;
  long limit;
  (void)state;
  test_loop_init(&loop);
  name = async_loop_backend(&loop);
  limit = async_loop_fd_limit(&loop);
#if defined(_WIN32)
  if (strcmp(name, "select") == 0) /* 1024-entry sets, one for the wake socket */
    assert_int_equal(limit, 1023);
#else
  if (strcmp(name, "select") == 0)
    assert_int_equal(limit, 65536);
#endif
  else if (strcmp(name, "epoll") == 0 || strcmp(name, "poll") == 0)
    assert_int_equal(limit, 0);
  assert_true(limit >= 0);
  assert_int_equal(limit > 0, test_has_caps(&loop, ASYNC_CAP_FD_LIMIT));
  test_loop_close(&loop);
}

/* ---- choosing the backend ----------------------------------------------------------- */

static void test_loop_backend_name(void **state) {
  async_loop_t loop;
  (void)state;
  test_loop_init(&loop);
  assert_non_null(async_loop_backend(&loop));
  if (test_backend() != NULL)
    assert_string_equal(async_loop_backend(&loop), test_backend());
  test_loop_close(&loop);
}

static void test_default_backend(void **state) {
  async_loop_t loop, def;
  (void)state;
  test_loop_init(&loop);
  save_env();
  test_setenv("ASYNC_BACKEND", NULL);
  assert_int_equal(async_loop_init(&def, NULL), 0);
  assert_string_equal(async_loop_backend(&def), first_available());
  assert_int_equal(async_loop_close(&def), 0);
  /* Empty $ASYNC_BACKEND: as if unset. */
  test_setenv("ASYNC_BACKEND", "");
  assert_int_equal(async_loop_init(&def, NULL), 0);
  assert_string_equal(async_loop_backend(&def), first_available());
  assert_int_equal(async_loop_close(&def), 0);
  restore_env();
  test_loop_close(&loop);
}

static void test_env_picks_backend(void **state) {
  async_loop_t loop, envl;
  async_loop_options_t opts;
  const char *name;
  (void)state;
  test_loop_init(&loop);
  name = async_loop_backend(&loop);
  save_env();
  test_setenv("ASYNC_BACKEND", name);
  /* NULL options, and options whose backend is NULL. */
  assert_int_equal(async_loop_init(&envl, NULL), 0);
  assert_string_equal(async_loop_backend(&envl), name);
  assert_int_equal(async_loop_close(&envl), 0);
  memset(&opts, 0, sizeof(opts));
  assert_int_equal(async_loop_init(&envl, &opts), 0);
  assert_string_equal(async_loop_backend(&envl), name);
  assert_int_equal(async_loop_caps(&envl), async_loop_caps(&loop));
  assert_int_equal(async_loop_close(&envl), 0);
  restore_env();
  test_loop_close(&loop);
}

static void test_option_beats_env(void **state) {
  async_loop_t loop, l2;
  const char *name, *other;
  (void)state;
  test_loop_init(&loop);
  name = async_loop_backend(&loop);
  other = other_backend(name);
  save_env();
  if (other != NULL) {
    test_setenv("ASYNC_BACKEND", other);
    init_named(&l2, name);
    assert_string_equal(async_loop_backend(&l2), name);
    assert_int_equal(async_loop_close(&l2), 0);
  }
  /* Even an unusable name in the environment does not matter then. */
  test_setenv("ASYNC_BACKEND", "no-such-backend");
  init_named(&l2, name);
  assert_string_equal(async_loop_backend(&l2), name);
  assert_int_equal(async_loop_close(&l2), 0);
  test_setenv("ASYNC_BACKEND", "kqueue");
  init_named(&l2, name);
  assert_string_equal(async_loop_backend(&l2), name);
  assert_int_equal(async_loop_close(&l2), 0);
  restore_env();
  test_loop_close(&loop);
}

static void test_unknown_backend_enoent(void **state) {
  async_loop_t loop, bad, copy;
  async_loop_options_t opts;
  (void)state;
  test_loop_init(&loop);
  save_env();
  test_setenv("ASYNC_BACKEND", NULL);
  memset(&bad, 0x5a, sizeof(bad));
  memcpy(&copy, &bad, sizeof(bad));
  assert_int_equal(init_with(&bad, "no-such-backend"), ASYNC_ENOENT);
  assert_memory_equal(&bad, &copy, sizeof(bad)); /* nothing changed */
  /* The same from the environment. */
  test_setenv("ASYNC_BACKEND", "no-such-backend");
  assert_int_equal(async_loop_init(&bad, NULL), ASYNC_ENOENT);
  memset(&opts, 0, sizeof(opts));
  assert_int_equal(async_loop_init(&bad, &opts), ASYNC_ENOENT);
  assert_memory_equal(&bad, &copy, sizeof(bad));
  restore_env();
  test_loop_close(&loop);
}

static void test_known_but_not_built_enotsup(void **state) {
  async_loop_t loop, bad, copy;
  const char *names[] = {"kqueue", "iocp", "io_uring"};
  (void)state;
  test_loop_init(&loop);
  save_env();
  test_setenv("ASYNC_BACKEND", NULL);
  memset(&bad, 0xa5, sizeof(bad));
  memcpy(&copy, &bad, sizeof(bad));
  for (size_t i = 0; i < 3; i++) {
    if (find_backend(names[i]) != NULL)
      continue; /* compiled in on this platform after all */
    assert_int_equal(init_with(&bad, names[i]), ASYNC_ENOTSUP);
    test_setenv("ASYNC_BACKEND", names[i]);
    assert_int_equal(async_loop_init(&bad, NULL), ASYNC_ENOTSUP);
    test_setenv("ASYNC_BACKEND", NULL);
    assert_memory_equal(&bad, &copy, sizeof(bad));
  }
#if defined(__linux__)
  assert_null(find_backend("iocp")); /* kqueue may be, over libkqueue */
#endif
  restore_env();
  test_loop_close(&loop);
}

/* ---- loops on every backend at once -------------------------------------------------- */

static int fired;

static void on_timer(async_timer_t *t) {
  (void)t;
  fired++;
}

static void test_loops_on_all_backends_at_once(void **state) {
  async_loop_t loop, others[8];
  async_timer_t timers[8], mine;
  size_t n = 0, used = 0;
  const async_backend_info_t *b;
  (void)state;
  fired = 0;
  test_loop_init(&loop);
  b = async_backends(&n);
  for (size_t i = 0; i < n && used < 8; i++) {
    if (!b[i].available)
      continue;
    init_named(&others[used], b[i].name);
    assert_int_equal(async_timer_init(&others[used], &timers[used]), 0);
    assert_int_equal(async_timer_start(&timers[used], on_timer, 1, 0), 0);
    used++;
  }
  assert_true(used >= 1);
  assert_int_equal(async_timer_init(&loop, &mine), 0);
  assert_int_equal(async_timer_start(&mine, on_timer, 1, 0), 0);
  assert_int_equal(async_run(&loop, ASYNC_RUN_DEFAULT), 0);
  assert_int_equal(fired, 1);
  for (size_t i = 0; i < used; i++) {
    assert_int_equal(async_run(&others[i], ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(fired, (int)i + 2);
    assert_int_equal(async_close((async_handle_t *)&timers[i], NULL), 0);
    assert_int_equal(async_run(&others[i], ASYNC_RUN_DEFAULT), 0);
    assert_int_equal(async_loop_close(&others[i]), 0);
  }
  test_loop_close(&loop);
}

static const struct CMUnitTest tests[] = {
  TEST(test_backends_list),
  TEST(test_backends_compiled_set),
  TEST(test_cap_names),
  TEST(test_caps_of_backend_under_test),
  TEST(test_unbuilt_caps_zero_everywhere),
  TEST(test_every_backend_matches_its_listing),
  TEST(test_fd_limit),
  TEST(test_loop_backend_name),
  TEST(test_default_backend),
  TEST(test_env_picks_backend),
  TEST(test_option_beats_env),
  TEST(test_unknown_backend_enoent),
  TEST(test_known_but_not_built_enotsup),
  TEST(test_loops_on_all_backends_at_once),
};

TEST_MAIN("backend", tests)
