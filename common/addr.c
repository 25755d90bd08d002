/*
 * Numeric address parsing and formatting, written here so common/ needs no
 * OS header (inet_pton differs between Winsock and POSIX). Formatting
 * follows RFC 5952: lowercase, the longest run of two or more zero groups
 * compressed (the first on a tie), IPv4-mapped addresses in dotted form.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses exactly four dotted decimal octets from s[0..len). */
static int parse_ipv4(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    int part;

    for (part = 0; part < 4; part++) {
        unsigned v = 0;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (digits > 0 && v == 0)
                return IOR_EINVAL; /* no leading zeros: "01" is ambiguous */
            v = v * 10 + (unsigned)(s[i] - '0');
            if (v > 255)
                return IOR_EINVAL;
            i++;
            digits++;
        }
        if (digits == 0)
            return IOR_EINVAL;
        out[part] = (uint8_t)v;
        if (part < 3) {
            if (i >= len || s[i] != '.')
                return IOR_EINVAL;
            i++;
        }
    }
    return i == len ? 0 : IOR_EINVAL;
}

/* Parses an IPv6 address without scope from s[0..len). */
static int parse_ipv6(const char *s, size_t len, uint8_t out[16])
{
    uint16_t groups[8];
    int ngroups = 0, gap = -1;
    size_t i = 0;

    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len >= 1 && s[0] == ':') {
        return IOR_EINVAL;
    }
    while (i < len) {
        size_t start = i;
        unsigned v = 0;
        int h;
        if (ngroups >= 8)
            return IOR_EINVAL;
        while (i < len && (h = hexval(s[i])) >= 0 && i - start < 4) {
            v = v * 16 + (unsigned)h;
            i++;
        }
        if (i < len && s[i] == '.') {
            /* Trailing dotted IPv4 takes the last two groups. */
            uint8_t v4[4];
            if (ngroups > 6 || parse_ipv4(s + start, len - start, v4) != 0)
                return IOR_EINVAL;
            groups[ngroups++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[ngroups++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = len;
            break;
        }
        if (i == start)
            return IOR_EINVAL;
        groups[ngroups++] = (uint16_t)v;
        if (i == len)
            break;
        if (s[i] != ':')
            return IOR_EINVAL;
        i++;
        if (i < len && s[i] == ':') {
            if (gap >= 0)
                return IOR_EINVAL;
            gap = ngroups;
            i++;
        } else if (i == len) {
            return IOR_EINVAL; /* trailing single colon */
        }
    }
    if (gap < 0 && ngroups != 8)
        return IOR_EINVAL;
    if (gap >= 0 && ngroups > 7)
        return IOR_EINVAL;
    {
        int fill = 8 - ngroups, g, o = 0;
        for (g = 0; g < ngroups; g++) {
            if (g == gap) {
                int z;
                for (z = 0; z < fill; z++) {
                    out[o++] = 0;
                    out[o++] = 0;
                }
            }
            out[o++] = (uint8_t)(groups[g] >> 8);
            out[o++] = (uint8_t)(groups[g] & 0xff);
        }
        while (o < 16)
            out[o++] = 0; /* gap at the end ("1::") */
    }
    return 0;
}

int ior_addr_parse(ior_addr_t *out, const char *ip, uint16_t port)
{
    ior_addr_t a;
    size_t len;
    const char *pct;

    if (out == NULL || ip == NULL)
        return IOR_EINVAL;
    memset(&a, 0, sizeof a);
    len = strlen(ip);
    a.port = port;
    if (parse_ipv4(ip, len, a.bytes) == 0) {
        a.family = IOR_AF_INET;
        *out = a;
        return 0;
    }
    pct = memchr(ip, '%', len);
    if (pct != NULL) {
        const char *p = pct + 1;
        uint32_t scope = 0;
        if (*p == '\0')
            return IOR_EINVAL;
        for (; *p; p++) {
            uint32_t d = (uint32_t)(*p - '0');
            if (*p < '0' || *p > '9' || scope > (UINT32_MAX - d) / 10)
                return IOR_EINVAL; /* numeric scopes only: no name lookup */
            scope = scope * 10 + d;
        }
        a.scope_id = scope;
        len = (size_t)(pct - ip);
    }
    if (parse_ipv6(ip, len, a.bytes) != 0)
        return IOR_EINVAL;
    a.family = IOR_AF_INET6;
    *out = a;
    return 0;
}

static int is_v4_mapped(const uint8_t *b)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
                                       0xff};
    return memcmp(b, prefix, 12) == 0;
}

/* Writes the IPv6 text into tmp (at least 64 bytes). */
static void format_ipv6(const ior_addr_t *a, char *tmp)
{
    unsigned g[8];
    int i, best = -1, bestlen = 0, o = 0;

    for (i = 0; i < 8; i++)
        g[i] = (unsigned)a->bytes[2 * i] << 8 | a->bytes[2 * i + 1];
    for (i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > bestlen && j - i >= 2) {
            best = i;
            bestlen = j - i;
        }
        i = (j == i) ? i + 1 : j;
    }
    if (is_v4_mapped(a->bytes)) {
        o = snprintf(tmp, 64, "::ffff:%u.%u.%u.%u", a->bytes[12], a->bytes[13],
                    a->bytes[14], a->bytes[15]);
    } else {
        for (i = 0; i < 8; i++) {
            if (i == best) {
                o += snprintf(tmp + o, (size_t)(64 - o), "::");
                i += bestlen - 1;
                continue;
            }
            if (i > 0 && i != best + bestlen)
                tmp[o++] = ':';
            o += snprintf(tmp + o, (size_t)(64 - o), "%x", g[i]);
        }
    }
    if (a->scope_id != 0)
        o += snprintf(tmp + o, (size_t)(64 - o), "%%%lu", (unsigned long)a->scope_id);
    tmp[o] = '\0';
}

static int format_ip(const ior_addr_t *a, char *tmp)
{
    if (a->family == IOR_AF_INET) {
        snprintf(tmp, IOR_ADDR_STRLEN, "%u.%u.%u.%u", a->bytes[0], a->bytes[1], a->bytes[2],
                a->bytes[3]);
        return 0;
    }
    if (a->family == IOR_AF_INET6) {
        format_ipv6(a, tmp);
        return 0;
    }
    return IOR_EINVAL;
}

static int copy_out(const char *tmp, char *buf, size_t len)
{
    size_t n = strlen(tmp);
    if (n + 1 > len)
        return IOR_ERANGE;
    memcpy(buf, tmp, n + 1);
    return 0;
}

int ior_addr_format_ip(const ior_addr_t *addr, char *buf, size_t len)
{
    char tmp[IOR_ADDR_STRLEN];
    int rc;

    if (addr == NULL || buf == NULL)
        return IOR_EINVAL;
    rc = format_ip(addr, tmp);
    return rc != 0 ? rc : copy_out(tmp, buf, len);
}

int ior_addr_format(const ior_addr_t *addr, char *buf, size_t len)
{
    char ip[IOR_ADDR_STRLEN], tmp[IOR_ADDR_STRLEN + 8];
    int rc;

    if (addr == NULL || buf == NULL)
        return IOR_EINVAL;
    rc = format_ip(addr, ip);
    if (rc != 0)
        return rc;
    if (addr->family == IOR_AF_INET6)
        snprintf(tmp, sizeof tmp, "[%s]:%u", ip, (unsigned)addr->port);
    else
        snprintf(tmp, sizeof tmp, "%s:%u", ip, (unsigned)addr->port);
    return copy_out(tmp, buf, len);
}

/* ------------------------------------------------------------------ */
/* For the backends: one place for the IPv4-mapped rule                */
/* ------------------------------------------------------------------ */

int ior__addr_family_ok(const ior_addr_t *a)
{
    return a->family == IOR_AF_INET || a->family == IOR_AF_INET6;
}

/*
 * An IPv4-mapped IPv6 address (a v4 client of a dual-stack socket) is
 * reported as the IPv4 address it carries: that is what a user logs or
 * compares against, and what libuv users see on Linux. Twisted differs:
 * it reports an IPv6Address.
 */
void ior__addr_unmap(ior_addr_t *a)
{
    uint8_t v4[4];
    if (a->family != IOR_AF_INET6 || !is_v4_mapped(a->bytes))
        return;
    memcpy(v4, a->bytes + 12, 4);
    memset(a->bytes, 0, sizeof(a->bytes));
    memcpy(a->bytes, v4, 4);
    a->family = IOR_AF_INET;
    a->scope_id = 0;
}

void ior__addr_map_v6(const ior_addr_t *a, ior_addr_t *out)
{
    *out = *a;
    if (a->family != IOR_AF_INET)
        return;
    memset(out->bytes, 0, sizeof(out->bytes));
    out->bytes[10] = 0xff;
    out->bytes[11] = 0xff;
    memcpy(out->bytes + 12, a->bytes, 4);
    out->family = IOR_AF_INET6;
    out->scope_id = 0;
}

int ior__addr_is_loopback(const ior_addr_t *a)
{
    static const uint8_t one6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0xff, 0xff};
    if (a->family == IOR_AF_INET)
        return a->bytes[0] == 127;
    if (a->family == IOR_AF_INET6)
        return memcmp(a->bytes, one6, 16) == 0 ||
               (memcmp(a->bytes, mapped, 12) == 0 && a->bytes[12] == 127);
    return 0;
}

int ior__addr_is_wildcard(const ior_addr_t *a)
{
    static const uint8_t zero[16] = {0};
    if (a->family == IOR_AF_INET)
        return memcmp(a->bytes, zero, 4) == 0;
    if (a->family == IOR_AF_INET6)
        return memcmp(a->bytes, zero, 16) == 0;
    return 0;
}
