/*
 * iorcat -e on a backend without child processes (a Windows build before
 * iocp/process.c exists; tools/CMakeLists.txt picks this file): -e is
 * refused at start, with a message, instead of the link failing.
 */
#include "iorcat.h"

int iorcat_exec_init(iorcat_t *c)
{
    (void)c;
    iorcat_log("-e: child processes are not available in this build");
    return IOR_ENOTSUP;
}

void iorcat_exec_serve(iorcat_t *c, ior_transport_t *t)
{
    (void)c;
    (void)ior_transport_abort_connection(t); /* not reached: init failed */
}

void iorcat_exec_cleanup(iorcat_t *c)
{
    (void)c;
}
