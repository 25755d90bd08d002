/*
 * Console handles in the threaded path (pipe_thread.c): the console
 * speaks UTF-16, a transport speaks bytes, and ior's bytes are UTF-8.
 * ReadFile on a console returns the OEM code page and WriteFile of UTF-8
 * shows mojibake unless the console's code page is 65001, so a console
 * is read with ReadConsoleW and written with WriteConsoleW, converting
 * at the edge, as libuv's tty.c does.
 *
 * Reads: one line per ReadConsoleW in the console's own (cooked) mode. A
 * high surrogate at the end of a read waits for its pair. ^Z at the start
 * of a line is the end of input, as ReadFile and the C runtime make it.
 * Ctrl-C ends the read with no characters and ERROR_OPERATION_ABORTED
 * (the caller reads again).
 *
 * Writes: a UTF-8 sequence cut by the end of one write is completed by
 * the next; invalid bytes show as U+FFFD.
 *
 * Cancel: Windows does not reliably end a blocked ReadConsoleW with
 * CancelSynchronousIo, and an abandoned read would take the user's next
 * line. So closing puts one Enter key-down into the input buffer, which ends
 * the read (the line typed so far goes with it, as in libuv), and puts
 * the cursor back where the echo of that Enter moved it from. A status
 * word tells whether a read is in progress, so the Enter goes in only
 * while one is, and never becomes an empty line for the next reader.
 */
#include "iocp.h"

#include <string.h>

#define CON_IDLE 0
#define CON_READING 1
#define CON_TRAPPED 2 /* an Enter was put in to end the read */

/* UTF-16 units per read: at most 3 bytes of UTF-8 each. */
#define CON_UNITS (IOR__CONSOLE_BUF / 3u)

struct ior__iocp_console {
    volatile LONG status;
    WCHAR carry; /* a high surrogate waiting for its pair; 0: none */
    WCHAR wbuf[IOR__CONSOLE_BUF + 4];
    char mbuf[IOR__CONSOLE_BUF + 4];
    char tail[4]; /* the start of a UTF-8 sequence cut by a write */
    DWORD tail_len;
    COORD cursor; /* saved by the cancel */
    int have_cursor;
};

ior__iocp_console_t *ior__iocp_console_new(void)
{
    return (ior__iocp_console_t *)ior__calloc(1, sizeof(ior__iocp_console_t));
}

void ior__iocp_console_free(ior__iocp_console_t *c)
{
    ior__free(c);
}

static int is_high(WCHAR u)
{
    return u >= 0xD800 && u <= 0xDBFF;
}

DWORD ior__iocp_console_read(HANDLE h, ior__iocp_console_t *c, char *out,
                             DWORD cap, DWORD *n)
{
    *n = 0;
    for (;;) {
        DWORD have = c->carry ? 1u : 0u;
        DWORD got = 0;
        DWORD units;
        LONG was;
        BOOL ok;
        int bytes;

        c->wbuf[0] = c->carry;
        c->carry = 0;
        InterlockedExchange(&c->status, CON_READING);
        SetLastError(0);
        ok = ReadConsoleW(h, c->wbuf + have, CON_UNITS - have, &got, NULL);
        was = InterlockedExchange(&c->status, CON_IDLE);
        if (!ok)
            return GetLastError();
        if (was == CON_TRAPPED)
            return ERROR_OPERATION_ABORTED; /* closing: the line is dropped */
        if (got == 0 && GetLastError() == ERROR_OPERATION_ABORTED)
            return ERROR_OPERATION_ABORTED; /* Ctrl-C */
        if (got == 0)
            return 0; /* EOF */
        if (have == 0 && c->wbuf[0] == 0x1A)
            return 0; /* ^Z at the start of a line: EOF */
        units = have + got;
        if (is_high(c->wbuf[units - 1])) {
            c->carry = c->wbuf[units - 1];
            units--;
        }
        if (units == 0)
            continue; /* only half a pair so far */
        bytes = WideCharToMultiByte(CP_UTF8, 0, c->wbuf, (int)units, out,
                                    (int)cap, NULL, NULL);
        if (bytes <= 0)
            return GetLastError();
        *n = (DWORD)bytes;
        return 0;
    }
}

/* Bytes at the end of s[0..len) that start a sequence not yet whole. */
static DWORD cut_tail(const unsigned char *s, DWORD len)
{
    DWORD back;

    for (back = 1; back <= 3 && back <= len; back++) {
        unsigned char b = s[len - back];
        DWORD need;

        if ((b & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back */
        if (b >= 0xC2 && b <= 0xDF)
            need = 2;
        else if (b >= 0xE0 && b <= 0xEF)
            need = 3;
        else if (b >= 0xF0 && b <= 0xF4)
            need = 4;
        else
            return 0; /* ASCII or invalid: nothing to wait for */
        return need > back ? back : 0;
    }
    return 0;
}

DWORD ior__iocp_console_write(HANDLE h, ior__iocp_console_t *c,
                              const char *in, DWORD len)
{
    DWORD total = c->tail_len + len;
    DWORD keep;
    DWORD done = 0;
    int units;

    memcpy(c->mbuf, c->tail, c->tail_len);
    memcpy(c->mbuf + c->tail_len, in, len);
    keep = cut_tail((const unsigned char *)c->mbuf, total);
    memcpy(c->tail, c->mbuf + total - keep, keep);
    c->tail_len = keep;
    total -= keep;
    if (total == 0)
        return 0;
    units = MultiByteToWideChar(CP_UTF8, 0, c->mbuf, (int)total, c->wbuf,
                                IOR__CONSOLE_BUF + 4);
    if (units <= 0)
        return GetLastError();
    while (done < (DWORD)units) {
        DWORD put = 0;

        if (!WriteConsoleW(h, c->wbuf + done, (DWORD)units - done, &put,
                           NULL))
            return GetLastError();
        if (put == 0)
            return ERROR_WRITE_FAULT;
        done += put;
    }
    return 0;
}

static HANDLE open_output(void)
{
    return CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                       OPEN_EXISTING, 0, NULL);
}

static void key(INPUT_RECORD *r)
{
    memset(r, 0, sizeof(*r));
    r->EventType = KEY_EVENT;
    r->Event.KeyEvent.bKeyDown = TRUE;
    r->Event.KeyEvent.wRepeatCount = 1;
    r->Event.KeyEvent.wVirtualKeyCode = VK_RETURN;
    /* Enter's scan code on every layout (MapVirtualKey would need user32). */
    r->Event.KeyEvent.wVirtualScanCode = 0x1C;
    r->Event.KeyEvent.uChar.UnicodeChar = L'\r';
}

int ior__iocp_console_trap_read(HANDLE h, ior__iocp_console_t *c)
{
    INPUT_RECORD enter;
    CONSOLE_SCREEN_BUFFER_INFO info;
    HANDLE out;
    DWORD put = 0;

    if (InterlockedCompareExchange(&c->status, CON_TRAPPED, CON_READING) !=
        CON_READING)
        return 0;
    out = open_output();
    c->have_cursor = out != INVALID_HANDLE_VALUE &&
                     GetConsoleScreenBufferInfo(out, &info);
    if (c->have_cursor)
        c->cursor = info.dwCursorPosition;
    if (out != INVALID_HANDLE_VALUE)
        CloseHandle(out);
    /* A key-down only: a key-up would stay queued as an event. */
    key(&enter);
    return WriteConsoleInputW(h, &enter, 1, &put) && put == 1;
}

void ior__iocp_console_untrap(ior__iocp_console_t *c)
{
    HANDLE out;

    if (!c->have_cursor)
        return;
    c->have_cursor = 0;
    out = open_output();
    if (out == INVALID_HANDLE_VALUE)
        return;
    (void)SetConsoleCursorPosition(out, c->cursor);
    CloseHandle(out);
}

int ior__iocp_console_is_reading(const ior__iocp_console_t *c)
{
    return c != NULL && c->status == CON_READING;
}
