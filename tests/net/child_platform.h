/*
 * The few things child_helper needs beyond the C library: raw reads and
 * writes of the standard descriptors (stdio's buffering cannot say "give
 * me what has arrived"), binary mode on Windows, and a sleep; and one the
 * process tests need: waiting for a child that ior no longer watches.
 * child_platform_posix.c and child_platform_win.c, chosen by CMake.
 */
#ifndef IOR_CHILD_PLATFORM_H
#define IOR_CHILD_PLATFORM_H

#include <stddef.h>

/* Binary standard streams (Windows); nothing elsewhere. */
void cp_init(void);
/* Up to n bytes from descriptor fd: > 0, 0 at EOF, -1 on error. */
long cp_read(int fd, void *buf, size_t n);
/* All n bytes to descriptor fd: 0, or -1 on error. */
int cp_write_all(int fd, const void *buf, size_t n);
void cp_sleep_ms(unsigned ms);
/*
 * Whether process pid shares this process's console: "shared\n",
 * "own\n" (a console pid is not on) or "none\n" (no console; always on
 * POSIX).
 */
const char *cp_console_with(long pid);
/* Ends this process at once with code, as a crash or a kill would. */
void cp_die(int code);

/*
 * For the parent (test_net_process.c): waits for process pid to exit and
 * reaps it. Returns its exit status, -1000 - signal when a signal killed
 * it, or -2 when it can no longer be found (Windows, once it is gone).
 */
int cp_wait_exit(long pid);

#endif
