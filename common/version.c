/* The library's version, for a program to compare with the header's. */
#include "core.h"

unsigned ior_version(void)
{
    return IOR_VERSION_HEX;
}

const char *ior_version_string(void)
{
    return IOR_VERSION_STRING;
}
