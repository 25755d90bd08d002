/*
 * The IOCP loop under Wine: the console control handler (invoked directly,
 * see below), timers and call_from_thread through the completion port,
 * and the translation of OS errors.
 */
#include "wine_util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Console control handler                                             */
/* ------------------------------------------------------------------ */

static DWORD WINAPI press_ctrl_c(LPVOID arg)
{
    (void)arg;
    /*
     * Direct call, on a thread of our own as Windows would use: Wine
     * cannot deliver console control events to a process without a
     * console (CTest runs us headless), so GenerateConsoleCtrlEvent
     * would never reach the handler.
     */
    return ior__iocp_console_handler(CTRL_C_EVENT) ? 0 : 1;
}

static void start_ctrl_c_thread(ior_loop_t *loop, void *user)
{
    HANDLE *th = (HANDLE *)user;
    (void)loop;
    *th = CreateThread(NULL, 0, press_ctrl_c, NULL, 0, NULL);
    assert_non_null(*th);
}

/* Ctrl-C stops a loop blocked in an infinite wait, promptly. */
static void test_console_handler_stops_running_loop(void **state)
{
    tloop_t tl;
    HANDLE th = NULL;
    DWORD code = 99;
    uint64_t t0;

    (void)state;
    tloop_init(&tl);
    /* Before registration, the handler declines (default processing). */
    assert_false(ior__iocp_console_handler(CTRL_C_EVENT));
    assert_int_equal(ior_loop_stop_on_interrupt(tl.loop), 0);
    assert_false(ior__iocp_console_handler(CTRL_LOGOFF_EVENT));
    assert_int_equal(
        ior_call_later(tl.loop, 10, start_ctrl_c_thread, &th, NULL), 0);
    t0 = ior__os_now_ms();
    tloop_run(&tl);
    assert_true(ior__os_now_ms() - t0 < WATCHDOG_MS / 2);
    assert_non_null(th);
    WaitForSingleObject(th, INFINITE);
    assert_true(GetExitCodeThread(th, &code));
    assert_int_equal(code, 0);
    CloseHandle(th);
    tloop_free(&tl);
    /* After the loop is freed the handler no longer points at it. */
    assert_false(ior__iocp_console_handler(CTRL_BREAK_EVENT));
}

static DWORD WINAPI close_console(LPVOID arg)
{
    (void)arg;
    return ior__iocp_console_handler(CTRL_CLOSE_EVENT) ? 1 : 0;
}

static void start_close_thread(ior_loop_t *loop, void *user)
{
    HANDLE *th = (HANDLE *)user;
    (void)loop;
    *th = CreateThread(NULL, 0, close_console, NULL, 0, NULL);
    assert_non_null(*th);
}

/*
 * Closing the console window: Windows ends the process as soon as the
 * handler returns, so it stops the loop and then waits until the loop is
 * freed, giving the program its cleanup. The handler cannot return before
 * ior_loop_free (it waits on an event set only there), so the order is
 * checked without timing.
 */
static void test_console_close_waits_for_loop_free(void **state)
{
    tloop_t tl;
    HANDLE th = NULL;
    DWORD code = 99;

    (void)state;
    tloop_init(&tl);
    assert_int_equal(ior_loop_stop_on_interrupt(tl.loop), 0);
    assert_int_equal(
        ior_call_later(tl.loop, 10, start_close_thread, &th, NULL), 0);
    tloop_run(&tl); /* stopped by the handler */
    assert_non_null(th);
    assert_int_equal(WaitForSingleObject(th, 0), WAIT_TIMEOUT);
    tloop_free(&tl);
    assert_int_equal(WaitForSingleObject(th, WATCHDOG_MS), WAIT_OBJECT_0);
    assert_true(GetExitCodeThread(th, &code));
    assert_int_equal(code, 1); /* handled: TRUE */
    CloseHandle(th);
}

/* ------------------------------------------------------------------ */
/* Smoke: timers, call_from_thread, loop free with everything open     */
/* ------------------------------------------------------------------ */

static int order[3];
static int norder;

static void mark(ior_loop_t *loop, void *user)
{
    order[norder++] = (int)(intptr_t)user;
    if (norder == 3)
        ior_loop_stop(loop);
}

static DWORD WINAPI from_thread(LPVOID arg)
{
    ior_loop_t *loop = (ior_loop_t *)arg;
    return ior_loop_call_from_thread(loop, mark, (void *)(intptr_t)3) == 0 ? 0
                                                                           : 1;
}

static void start_thread(ior_loop_t *loop, void *user)
{
    HANDLE *th = (HANDLE *)user;
    *th = CreateThread(NULL, 0, from_thread, loop, 0, NULL);
    assert_non_null(*th);
}

/* Timers in deadline order, then a call from another thread wakes us. */
static void test_timers_and_call_from_thread(void **state)
{
    tloop_t tl;
    HANDLE th = NULL;

    (void)state;
    norder = 0;
    tloop_init(&tl);
    assert_int_equal(ior_call_later(tl.loop, 30, mark, (void *)2, NULL), 0);
    assert_int_equal(ior_call_later(tl.loop, 10, mark, (void *)1, NULL), 0);
    assert_int_equal(ior_call_later(tl.loop, 40, start_thread, &th, NULL), 0);
    tloop_run(&tl);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    WaitForSingleObject(th, INFINITE);
    CloseHandle(th);
    tloop_free(&tl);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Winsock and Win32 codes map onto IOR_E*; the OS message is readable. */
static void test_os_errors_translate_and_print(void **state)
{
    char buf[256];

    (void)state;
    assert_int_equal(ior__iocp_error(WSAECONNRESET), IOR_ECONNRESET);
    assert_int_equal(ior__iocp_error(64), IOR_ECONNRESET);
    assert_int_equal(ior__iocp_error(ERROR_OPERATION_ABORTED), IOR_ECONNLOST);
    assert_int_equal(ior__iocp_error(1236), IOR_ECONNLOST);
    assert_int_equal(ior__iocp_error(WSAECONNREFUSED), IOR_ECONNREFUSED);
    assert_int_equal(ior__iocp_error(1225), IOR_ECONNREFUSED);
    assert_int_equal(ior__iocp_error(WSAETIMEDOUT), IOR_ETIMEDOUT);
    assert_int_equal(ior__iocp_error(WSAENETUNREACH), IOR_ENETUNREACH);
    assert_int_equal(ior__iocp_error(WSAEHOSTUNREACH), IOR_EHOSTUNREACH);
    assert_int_equal(ior__iocp_error(WSAEMFILE), IOR_EMFILE);
    assert_int_equal(ior__iocp_error(WSAENOBUFS), IOR_ENOBUFS);
    assert_int_equal(ior__iocp_error(123456), IOR_EIO);
    assert_ptr_equal(ior_os_strerror(WSAECONNRESET, buf, sizeof(buf)), buf);
    assert_true(strlen(buf) > 0);
    assert_ptr_equal(ior_os_strerror(WSAECONNRESET, buf, 4), buf);
    assert_true(strlen(buf) <= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_handler_stops_running_loop),
        cmocka_unit_test(test_console_close_waits_for_loop_free),
        cmocka_unit_test(test_timers_and_call_from_thread),
        cmocka_unit_test(test_os_errors_translate_and_print),
    };
    ior_set_allocator(&counting);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
