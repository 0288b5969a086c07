/* Console signals on Windows through the signal API: SIGINT, SIGBREAK and
 * SIGHUP start, everything else is refused as it should be, and a Ctrl+C
 * reaches every started SIGINT handle in every loop. Under Wine a Unix
 * SIGINT sent to the Wine process arrives as Ctrl+C; meson runs this area
 * alone, since that signal goes to every copy of the program. */
#include "helper.h"

#include <signal.h>
#include <string.h>
#include <windows.h>

static int calls[2];
static int last_signum;

static void on_signal(async_signal_t *h, int signum) {
  calls[h->data == NULL ? 0 : 1]++;
  last_signum = signum;
}

static void test_consolesig_caps_and_refusals(void **state) {
  async_loop_t loop;
  async_signal_t h;
  static const int console[] = {SIGINT, SIGBREAK, SIGHUP};
  static const int none[] = {SIGWINCH, SIGTERM, SIGABRT, 10, 30, 64};
  static const int invalid[] = {0, -1, 65, 9};
  (void)state;
  test_loop_init(&loop);
  assert_true(async_loop_caps(&loop) & ASYNC_CAP_SIGNAL);
  assert_int_equal(async_signal_init(&loop, &h), 0);
  for (size_t i = 0; i < sizeof(console) / sizeof(console[0]); i++) {
    assert_int_equal(async_signal_start(&h, on_signal, console[i]), 0);
    assert_int_equal(h.signum, console[i]);
    assert_int_equal(async_signal_start(&h, on_signal, console[i]), ASYNC_EALREADY);
    assert_int_equal(async_signal_stop(&h), 0);
    assert_int_equal(async_signal_stop(&h), 0);
  }
  for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
    assert_int_equal(async_signal_start(&h, on_signal, none[i]), ASYNC_ENOTSUP);
    assert_false(async_is_active((async_handle_t *)&h));
  }
  for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
    assert_int_equal(async_signal_start(&h, on_signal, invalid[i]), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(&h, NULL, SIGINT), ASYNC_EINVAL);
  assert_int_equal(async_signal_start(NULL, on_signal, SIGINT), ASYNC_EINVAL);
  test_loop_close(&loop);
}

static int under_wine(void) {
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* A Ctrl+C for this process: under Wine, a Unix SIGINT from a Unix program
 * (Wine runs those too); on Windows, the console's own event. */
static void send_ctrl_c(void) {
  if (under_wine()) {
    char cmd[] = "/bin/sh -c \"pkill -INT -f test_consolesig.exe\"";
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    assert_true(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi));
    WaitForSingleObject(pi.hProcess, 10000);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
  } else {
    assert_true(GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0));
  }
}

static void on_guard(async_timer_t *t) {
  (void)t;
  fail_msg("no Ctrl+C arrived within 10 s");
}

/* Two loops, a handle each (one a oneshot): both are called, on their own
 * loop, and the oneshot stops itself. */
static void test_consolesig_ctrl_c_reaches_every_loop(void **state) {
  async_loop_t a, b;
  async_signal_t ha, hb;
  async_timer_t guard;
  int tag;
  (void)state;
  test_loop_init(&a);
  test_loop_init(&b);
  memset(calls, 0, sizeof(calls));
  assert_int_equal(async_signal_init(&a, &ha), 0);
  assert_int_equal(async_signal_init(&b, &hb), 0);
  ha.data = NULL;
  hb.data = &tag;
  assert_int_equal(async_signal_start(&ha, on_signal, SIGINT), 0);
  assert_int_equal(async_signal_start_oneshot(&hb, on_signal, SIGINT), 0);
  assert_int_equal(async_timer_init(&a, &guard), 0);
  assert_int_equal(async_timer_start(&guard, on_guard, 10000, 0), 0);
  async_unref((async_handle_t *)&ha);
  send_ctrl_c();
  while (calls[0] == 0)
    assert_true(async_run(&a, ASYNC_RUN_ONCE) >= 0);
  while (calls[1] == 0)
    assert_true(async_run(&b, ASYNC_RUN_ONCE) >= 0);
  assert_int_equal(last_signum, SIGINT);
  assert_false(async_is_active((async_handle_t *)&hb)); /* the oneshot stopped */
  assert_true(async_is_active((async_handle_t *)&ha));
  assert_int_equal(calls[0], 1);
  assert_int_equal(calls[1], 1);
  test_loop_close(&a);
  test_loop_close(&b);
}

static const struct CMUnitTest tests[] = {
  TEST(test_consolesig_caps_and_refusals),
  TEST(test_consolesig_ctrl_c_reaches_every_loop),
};

TEST_MAIN("consolesig", tests)
