/*
 * Console handles through ior_pipe_open (iocp/console.c): read and written
 * as UTF-8 through ReadConsoleW/WriteConsoleW, and a blocked console read
 * ended by the close without taking the user's next line.
 *
 * Needs a console. On Windows the test makes one (AllocConsole) if it has
 * none. Wine 8 gives a console only to a program started from a terminal
 * (AllocConsole fails without a display), so CTest runs this test inside
 * script(1); without a console it skips, saying so.
 */
#include "wine_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static HANDLE con_in = INVALID_HANDLE_VALUE;
static HANDLE con_out = INVALID_HANDLE_VALUE;

static int have_console(void)
{
    DWORD one;

    if (GetConsoleProcessList(&one, 1) == 0 && !AllocConsole())
        return 0;
    if (con_in == INVALID_HANDLE_VALUE)
        con_in = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE,
                             FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                             OPEN_EXISTING, 0, NULL);
    if (con_out == INVALID_HANDLE_VALUE)
        con_out = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE,
                              FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                              OPEN_EXISTING, 0, NULL);
    return con_in != INVALID_HANDLE_VALUE && con_out != INVALID_HANDLE_VALUE;
}

#define NEED_CONSOLE()                                                      \
    do {                                                                    \
        if (!have_console()) {                                              \
            print_message("skipped: no console (under Wine only a program " \
                          "started from a terminal has one: run the test "  \
                          "inside script(1), as CTest does; on Windows "    \
                          "AllocConsole failed)\n");                        \
            skip();                                                         \
        }                                                                   \
    } while (0)

static HANDLE dup_of(HANDLE h)
{
    HANDLE d = NULL;
    assert_true(DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(),
                                &d, 0, FALSE, DUPLICATE_SAME_ACCESS));
    return d;
}

/* Types s into the console's input buffer, as a user would. */
static void type_keys(const WCHAR *s)
{
    INPUT_RECORD r[2];
    DWORD put;
    size_t i;

    for (i = 0; s[i]; i++) {
        int k;
        for (k = 0; k < 2; k++) {
            memset(&r[k], 0, sizeof(r[k]));
            r[k].EventType = KEY_EVENT;
            r[k].Event.KeyEvent.bKeyDown = k == 0;
            r[k].Event.KeyEvent.wRepeatCount = 1;
            r[k].Event.KeyEvent.wVirtualKeyCode =
                s[i] == L'\r' ? VK_RETURN : 0;
            r[k].Event.KeyEvent.uChar.UnicodeChar = s[i];
        }
        put = 0;
        assert_true(WriteConsoleInputW(con_in, r, 2, &put));
        assert_int_equal(put, 2);
    }
}

/*
 * Characters waiting in the input buffer: key-down events that carry one,
 * which is what a reader would get. Other events are no input: key-ups a
 * finished line read leaves behind, and the character-less Shift/Ctrl
 * key-downs Wine's terminal console adds from the pty now and then
 * (seen under load); whether they are there depends on timing.
 */
static DWORD chars_waiting(void)
{
    INPUT_RECORD r[128];
    DWORD n = 0;
    DWORD i;
    DWORD down = 0;

    assert_true(PeekConsoleInputW(con_in, r, 128, &n));
    for (i = 0; i < n; i++)
        if (r[i].EventType == KEY_EVENT && r[i].Event.KeyEvent.bKeyDown &&
            r[i].Event.KeyEvent.uChar.UnicodeChar != 0)
            down++;
    return down;
}

/* --- a reader that collects lines ----------------------------------------- */

typedef struct lines {
    ior_loop_t *loop;
    ior_transport_t *t;
    char buf[256];
    size_t len;
    int want_lines;
    int lost;
    int reason;
} lines_t;

static void ln_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    lines_t *l = user;
    size_t i;
    int seen = 0;
    (void)t;
    assert_true(l->len + n <= sizeof(l->buf));
    memcpy(l->buf + l->len, d, n);
    l->len += n;
    for (i = 0; i < l->len; i++)
        seen += l->buf[i] == '\n';
    if (seen >= l->want_lines)
        ior_loop_stop(l->loop);
}

static void ln_lost(ior_transport_t *t, void *user, int reason)
{
    lines_t *l = user;
    (void)t;
    l->lost++;
    l->reason = reason;
    l->t = NULL;
    ior_loop_stop(l->loop);
}

static const ior_protocol_ops_t ln_ops = {ln_data, NULL, NULL, ln_lost};

static void open_reader(tloop_t *tl, lines_t *l, int want_lines)
{
    memset(l, 0, sizeof(*l));
    l->loop = tl->loop;
    l->want_lines = want_lines;
    assert_int_equal(ior_pipe_open(tl->loop, (intptr_t)dup_of(con_in),
                                   IOR_PIPE_READ, &ln_ops, l, &l->t),
                     0);
}

/* Stops the loop once the reader thread is inside ReadConsoleW. */
static void until_reading(ior_loop_t *loop, void *user)
{
    lines_t *l = user;
    if (ior__iocp_console_reading(l->t))
        ior_loop_stop(loop);
    else
        assert_int_equal(ior_call_later(loop, 0, until_reading, l, NULL), 0);
}

/*
 * Keys typed at the console arrive as UTF-8, line by line, with the
 * console's CR LF: é, € and an emoji (a surrogate pair) included. Closing
 * the transport while its next read waits ends that read with the one
 * Enter it puts in, which that read consumes: no character is left for
 * the next reader.
 */
static void test_console_reads_lines_as_utf8(void **state)
{
    static const char want[] = "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\r\n"
                               "second\r\n";
    tloop_t tl;
    lines_t l;
    (void)state;
    NEED_CONSOLE();
    assert_true(FlushConsoleInputBuffer(con_in));
    tloop_init(&tl);
    open_reader(&tl, &l, 2);
    type_keys(L"h\u00e9\u20ac\U0001F600\r");
    type_keys(L"second\r");
    tloop_run(&tl);
    assert_int_equal(l.len, sizeof(want) - 1);
    assert_memory_equal(l.buf, want, sizeof(want) - 1);
    /* The next read is waiting for a line: close under it. */
    assert_int_equal(ior_call_later(tl.loop, 0, until_reading, &l, NULL), 0);
    tloop_run(&tl);
    assert_int_equal(ior_transport_lose_connection(l.t), 0);
    tloop_run(&tl);
    assert_int_equal(l.lost, 1);
    assert_int_equal(l.reason, IOR_EDONE);
    tloop_free(&tl);
    /* The Enter the close put in was taken by the read it ended. */
    assert_int_equal(chars_waiting(), 0);
}

typedef struct direct_read {
    WCHAR buf[64];
    DWORD n;
} direct_read_t;

static DWORD WINAPI direct_read_main(void *arg)
{
    direct_read_t *r = arg;
    if (!ReadConsoleW(con_in, r->buf, 64, &r->n, NULL))
        r->n = 0;
    return 0;
}

/*
 * A transport closed while its console read is blocked leaves no reader
 * behind: the line typed afterwards goes to whoever reads next (here a
 * plain ReadConsoleW), not to an abandoned thread of ior's.
 */
static void test_console_close_leaves_the_next_line(void **state)
{
    tloop_t tl;
    lines_t l;
    direct_read_t r;
    HANDLE th;
    (void)state;
    NEED_CONSOLE();
    assert_true(FlushConsoleInputBuffer(con_in));
    tloop_init(&tl);
    open_reader(&tl, &l, 1);
    assert_int_equal(ior_call_later(tl.loop, 0, until_reading, &l, NULL), 0);
    tloop_run(&tl);
    assert_int_equal(ior_transport_abort_connection(l.t), 0);
    tloop_run(&tl);
    assert_int_equal(l.reason, IOR_EABORTED);
    tloop_free(&tl);
    memset(&r, 0, sizeof(r));
    th = CreateThread(NULL, 0, direct_read_main, &r, 0, NULL);
    assert_non_null(th);
    type_keys(L"next\r");
    if (WaitForSingleObject(th, 10000) != WAIT_OBJECT_0) {
        type_keys(L"\r"); /* let our own reader go before failing */
        WaitForSingleObject(th, INFINITE);
        fail_msg("the line typed after the close never reached the reader");
    }
    CloseHandle(th);
    assert_int_equal(r.n, 6);
    assert_memory_equal(r.buf, L"next\r\n", 6 * sizeof(WCHAR));
}

/* --- writing -------------------------------------------------------------- */

static void wr_lost(ior_transport_t *t, void *user, int reason)
{
    lines_t *l = user;
    (void)t;
    l->lost++;
    l->reason = reason;
    ior_loop_stop(l->loop);
}

static const ior_protocol_ops_t wr_ops = {NULL, NULL, NULL, wr_lost};

/* The n cells ending just before the cursor. */
static void cells_before_cursor(WCHAR *out, DWORD n)
{
    CONSOLE_SCREEN_BUFFER_INFO info;
    COORD at;
    DWORD got = 0;
    long pos;

    assert_true(GetConsoleScreenBufferInfo(con_out, &info));
    pos = (long)info.dwCursorPosition.Y * info.dwSize.X +
          info.dwCursorPosition.X - (long)n;
    assert_true(pos >= 0);
    at.X = (SHORT)(pos % info.dwSize.X);
    at.Y = (SHORT)(pos / info.dwSize.X);
    assert_true(ReadConsoleOutputCharacterW(con_out, out, n, at, &got));
    assert_int_equal(got, n);
}

/*
 * UTF-8 written to a console shows as the characters it encodes,
 * whatever the console's code page: 64 KiB - 1 of 'a' put the first byte
 * of the € into one write to the console and the rest into the next
 * (the thread writes 64 KiB at a time), and an invalid byte shows as
 * U+FFFD.
 */
static void test_console_writes_utf8(void **state)
{
    static const char tail[] = "\xe2\x82\xacy\xc3\xa9\xffz";
    const WCHAR want[] = {0x20AC, L'y', 0x00E9, 0xFFFD, L'z'};
    WCHAR cells[5];
    tloop_t tl;
    lines_t l;
    ior_transport_t *t = NULL;
    char *big;
    DWORD put;
    (void)state;
    NEED_CONSOLE();
    assert_true(WriteConsoleW(con_out, L"\r\n", 2, &put, NULL));
    tloop_init(&tl);
    memset(&l, 0, sizeof(l));
    l.loop = tl.loop;
    assert_int_equal(ior_pipe_open(tl.loop, (intptr_t)dup_of(con_out),
                                   IOR_PIPE_WRITE, &wr_ops, &l, &t),
                     0);
    big = malloc(65535);
    assert_non_null(big);
    memset(big, 'a', 65535);
    assert_int_equal(ior_transport_write(t, big, 65535), 0);
    free(big);
    assert_int_equal(ior_transport_write(t, tail, sizeof(tail) - 1), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    tloop_run(&tl);
    assert_int_equal(l.reason, IOR_EDONE);
    tloop_free(&tl);
    cells_before_cursor(cells, 5);
    assert_memory_equal(cells, want, sizeof(want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_reads_lines_as_utf8),
        cmocka_unit_test(test_console_close_leaves_the_next_line),
        cmocka_unit_test(test_console_writes_utf8),
    };
    return cmocka_run_group_tests_name("iocp_console", tests, NULL, NULL);
}
