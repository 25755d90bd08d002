/* Windows side of child_platform.h: the CRT's descriptors, binary mode. */
#include "child_platform.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <windows.h>

void cp_init(void)
{
    (void)_setmode(_fileno(stdin), _O_BINARY);
    (void)_setmode(_fileno(stdout), _O_BINARY);
    (void)_setmode(_fileno(stderr), _O_BINARY);
}

long cp_read(int fd, void *buf, size_t n)
{
    unsigned want = n > 0x40000000u ? 0x40000000u : (unsigned)n;
    return (long)_read(fd, buf, want);
}

int cp_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        unsigned want = n > 0x40000000u ? 0x40000000u : (unsigned)n;
        int w = _write(fd, p, want);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void cp_sleep_ms(unsigned ms)
{
    Sleep(ms);
}

int cp_wait_exit(long pid)
{
    DWORD code = 0;
    HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                           FALSE, (DWORD)pid);
    if (h == NULL)
        return -2;
    (void)WaitForSingleObject(h, INFINITE);
    if (!GetExitCodeProcess(h, &code))
        code = (DWORD)-2;
    CloseHandle(h);
    return (int)code;
}

const char *cp_console_with(long pid)
{
    DWORD pids[64];
    DWORD n = GetConsoleProcessList(pids, 64);
    DWORD i;
    if (n == 0)
        return "none\n";
    for (i = 0; i < n && i < 64; i++)
        if (pids[i] == (DWORD)pid)
            return "shared\n";
    return "own\n";
}

void cp_die(int code)
{
    (void)TerminateProcess(GetCurrentProcess(), (UINT)code);
}
