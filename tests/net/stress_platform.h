/*
 * What the stress and fault tests need from the OS beyond ior.h and
 * platform.h: process CPU time, a descriptor limit that can be lowered and
 * filled, a scan for descriptors or handles a child would inherit, and a
 * raw bind with SO_REUSEADDR. One file per platform (stress_posix.c,
 * stress_win.c), chosen by CMake, so the tests carry no #ifdef.
 */
#ifndef IOR_TEST_STRESS_PLATFORM_H
#define IOR_TEST_STRESS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* User plus system CPU time of the whole process, in microseconds. */
uint64_t sp_cpu_usec(void);
/* A monotonic clock in microseconds. */
uint64_t sp_mono_usec(void);

/*
 * Lowers the soft descriptor limit to what is open now plus `slack`, then
 * opens placeholder descriptors until the process is out. Returns how many
 * placeholders it holds, or -1 with *why set when the platform cannot run
 * out (Windows: sockets are not bound by a per-process limit).
 */
int sp_fd_exhaust(int slack, const char **why);
/* Closes one placeholder (0), or -1 when none is left. */
int sp_fd_release_one(void);
/* Closes every placeholder and restores the limit. */
void sp_fd_restore(void);

/*
 * Writes into out (up to max) the descriptors (POSIX, other than 0, 1 and
 * 2) or socket handles (Windows) that a child process would inherit, and
 * returns how many there are; *seen counts every descriptor or socket
 * examined (a scan that sees nothing proves nothing). -1 with *why set
 * when the platform cannot tell.
 */
int sp_inheritable(intptr_t *out, int max, int *seen, const char **why);

/*
 * Binds a plain socket with SO_REUSEADDR to 127.0.0.1:port and listens.
 * Returns 0 if that worked (the port was free for a cooperating socket),
 * 1 if the OS refused, -1 if no socket could be made.
 */
int sp_bind_reuseaddr(uint16_t port);

/*
 * 1 when the program runs under Wine (ntdll exports wine_get_version),
 * where some socket behaviour differs from Windows; 0 elsewhere.
 */
int sp_is_wine(void);

#endif
