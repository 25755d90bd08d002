/*
 * The library's version, for a program to compare with the header's, and
 * its clock for measuring.
 */
#include "core.h"

uint64_t ior_hrtime(void)
{
    return ior__os_hrtime_ns();
}

unsigned ior_version(void)
{
    return IOR_VERSION_HEX;
}

const char *ior_version_string(void)
{
    return IOR_VERSION_STRING;
}
