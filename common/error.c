/* The error table: names and messages generated from IOR_ERRNO_MAP. */
#include "core.h"

const char *ior_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define IOR__ERR_MSG(name, value, msg)                                       \
    case value:                                                              \
        return msg;
        IOR_ERRNO_MAP(IOR__ERR_MSG)
#undef IOR__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *ior_err_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define IOR__ERR_NAME(name, value, msg)                                      \
    case value:                                                              \
        return #name;
        IOR_ERRNO_MAP(IOR__ERR_NAME)
#undef IOR__ERR_NAME
    default:
        return "UNKNOWN";
    }
}
