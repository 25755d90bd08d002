/*
 * The error table (ior_strerror, ior_err_name), the allocator switch and
 * the address helpers (ior_addr_parse / format / format_ip).
 */
#include "harness.h"

#include <limits.h>
#include <string.h>

typedef struct code {
    int value;
    const char *name;
    const char *msg;
} code_t;

static const code_t codes[] = {
#define XX(name, value, msg) {value, #name, msg},
    IOR_ERRNO_MAP(XX)
#undef XX
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Every IOR_E* code has its own name and message, from the one table. */
static void test_every_code_has_distinct_name_and_message(void **state)
{
    size_t i, j;
    (void)state;
    assert_int_equal(NCODES, 34);
    for (i = 0; i < NCODES; i++) {
        assert_true(codes[i].value < 0);
        assert_true(codes[i].value > IOR_E__LAST);
        assert_string_equal(ior_err_name(codes[i].value), codes[i].name);
        assert_string_equal(ior_strerror(codes[i].value), codes[i].msg);
        for (j = 0; j < i; j++) {
            assert_int_not_equal(codes[i].value, codes[j].value);
            assert_string_not_equal(ior_err_name(codes[i].value),
                                    ior_err_name(codes[j].value));
            assert_string_not_equal(ior_strerror(codes[i].value),
                                    ior_strerror(codes[j].value));
        }
    }
}

/* Unknown codes get "unknown error" and "UNKNOWN"; 0 is not a code and
 * gets a message of its own that no error shares. */
static void test_unknown_codes(void **state)
{
    static const int unknown[] = {1, 5, IOR_E__LAST, -36, -1000, INT_MIN,
                                  INT_MAX};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(ior_strerror(unknown[i]), "unknown error");
        assert_string_equal(ior_err_name(unknown[i]), "UNKNOWN");
    }
    assert_non_null(ior_strerror(0));
    assert_non_null(ior_err_name(0));
    for (i = 0; i < NCODES; i++)
        assert_string_not_equal(ior_strerror(0), codes[i].msg);
}

static void noop(ior_loop_t *loop, void *user)
{
    (void)loop;
    (void)user;
}

/* ior_set_allocator refuses an incomplete allocator and keeps the one
 * installed, which goes on seeing every allocation. */
static void test_set_allocator_refuses_incomplete(void **state)
{
    ior_allocator_t bad = {NULL, NULL, NULL, NULL};
    size_t before;
    (void)state;
    assert_int_equal(ior_set_allocator(&bad), IOR_EINVAL);
    before = alloc_calls();
    assert_int_equal(ior_call_later(E.loop, 1, noop, NULL, NULL), 0);
    assert_true(alloc_calls() > before);
    env_free_loop();
    assert_int_equal(alloc_live(), 0);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

/* Parses text, formats it back and checks the canonical form. */
static void round_trip(const char *in, const char *canonical)
{
    ior_addr_t a, b;
    char buf[IOR_ADDR_STRLEN];
    assert_int_equal(ior_addr_parse(&a, in, 80), 0);
    assert_int_equal(ior_addr_format_ip(&a, buf, sizeof(buf)), 0);
    assert_string_equal(buf, canonical);
    assert_int_equal(ior_addr_parse(&b, buf, 80), 0);
    assert_memory_equal(&a, &b, sizeof(a));
}

/* IPv4: parse, bytes in network order, format with and without port. */
static void test_addr_ipv4_round_trip(void **state)
{
    ior_addr_t a;
    char buf[IOR_ADDR_STRLEN];
    static const uint8_t lo[4] = {127, 0, 0, 1};
    (void)state;
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 8080), 0);
    assert_int_equal(a.family, IOR_AF_INET);
    assert_int_equal(a.port, 8080);
    assert_memory_equal(a.bytes, lo, 4);
    assert_int_equal(ior_addr_format(&a, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "127.0.0.1:8080");
    round_trip("0.0.0.0", "0.0.0.0");
    round_trip("255.255.255.255", "255.255.255.255");
}

/* IPv6 text follows RFC 5952: lower case, no leading zeros, the longest
 * run of two or more zero groups compressed (the first on a tie), a lone
 * zero group not compressed. */
static void test_addr_ipv6_compression_rules(void **state)
{
    (void)state;
    round_trip("::", "::");
    round_trip("::1", "::1");
    round_trip("1::", "1::");
    round_trip("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
    round_trip("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    round_trip("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    round_trip("1:0:0:2:0:0:0:3", "1:0:0:2::3");
    round_trip("1:0:0:0:2:0:0:0", "1::2:0:0:0");
    round_trip("0:0:1:0:0:0:0:0", "0:0:1::");
    round_trip("fe80::a:b:c:d", "fe80::a:b:c:d");
    round_trip("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8");
    round_trip("::ffff:10.1.2.3", "::ffff:10.1.2.3");
}

/* IPv6 with a port is bracketed; a numeric scope survives a round trip. */
static void test_addr_ipv6_port_and_scope(void **state)
{
    ior_addr_t a, b;
    char buf[IOR_ADDR_STRLEN];
    (void)state;
    assert_int_equal(ior_addr_parse(&a, "::1", 443), 0);
    assert_int_equal(a.family, IOR_AF_INET6);
    assert_int_equal(a.bytes[15], 1);
    assert_int_equal(ior_addr_format(&a, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "[::1]:443");
    assert_int_equal(ior_addr_parse(&a, "fe80::1%3", 22), 0);
    assert_int_equal(a.scope_id, 3);
    assert_int_equal(ior_addr_format_ip(&a, buf, sizeof(buf)), 0);
    assert_int_equal(ior_addr_parse(&b, buf, 22), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    /* The whole uint32 range of scope ids is valid. */
    assert_int_equal(ior_addr_parse(&a, "fe80::1%4294967295", 1), 0);
    assert_true(a.scope_id == 4294967295u);
    assert_int_equal(ior_addr_parse(&a, "fe80::1%4294967296", 1),
                     IOR_EINVAL);
}

/* Anything that is not a numeric address is IOR_EINVAL; out is left. */
static void test_addr_parse_rejects_bad_input(void **state)
{
    static const char *bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", " 1.2.3.4",
        "1.2.3.4 ", "1..2.3", "localhost", "::1::", "1:2:3:4:5:6:7:8:9",
        "12345::", "g::", ":1", "1:", ":::", "1.2.3.4%1", "fe80::1%",
        "fe80::1%eth0", "::ffff:1.2.3", "[::1]", "1:2:3:4:5:6:7::8:9",
    };
    ior_addr_t a;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&a, 0x5a, sizeof(a));
        if (ior_addr_parse(&a, bad[i], 1) != IOR_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(ior_addr_parse(NULL, "::1", 1), IOR_EINVAL);
    assert_int_equal(ior_addr_parse(&a, NULL, 1), IOR_EINVAL);
}

/* Formatting: IOR_ERANGE when the buffer is short by one, IOR_EINVAL for
 * an unset address. */
static void test_addr_format_errors(void **state)
{
    ior_addr_t a, unset;
    char buf[IOR_ADDR_STRLEN];
    (void)state;
    memset(&unset, 0, sizeof(unset));
    assert_int_equal(ior_addr_parse(&a, "1.2.3.4", 80), 0);
    assert_int_equal(ior_addr_format(&a, buf, 11), 0); /* "1.2.3.4:80" */
    assert_string_equal(buf, "1.2.3.4:80");
    assert_int_equal(ior_addr_format(&a, buf, 10), IOR_ERANGE);
    assert_int_equal(ior_addr_format_ip(&a, buf, 8), 0);
    assert_int_equal(ior_addr_format_ip(&a, buf, 7), IOR_ERANGE);
    assert_int_equal(ior_addr_format(&unset, buf, sizeof(buf)), IOR_EINVAL);
    assert_int_equal(ior_addr_format_ip(&unset, buf, sizeof(buf)),
                     IOR_EINVAL);
    /* The longest text (eight full groups, the largest scope and port)
     * fits IOR_ADDR_STRLEN. */
    memset(&a, 0, sizeof(a));
    a.family = IOR_AF_INET6;
    a.port = 65535;
    a.scope_id = 4294967295u;
    memset(a.bytes, 0xff, sizeof(a.bytes));
    a.bytes[15] = 0xfe;
    assert_int_equal(ior_addr_format(&a, buf, sizeof(buf)), 0);
    assert_string_equal(buf,
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe%4294967295]:65535");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_every_code_has_distinct_name_and_message),
        ENV_TEST(test_unknown_codes),
        ENV_TEST(test_set_allocator_refuses_incomplete),
        ENV_TEST(test_addr_ipv4_round_trip),
        ENV_TEST(test_addr_ipv6_compression_rules),
        ENV_TEST(test_addr_ipv6_port_and_scope),
        ENV_TEST(test_addr_parse_rejects_bad_input),
        ENV_TEST(test_addr_format_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
