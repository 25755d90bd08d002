/*
 * libcurl's multi interface driven by ior (issue 14, part 2): curl owns
 * its sockets and asks, through CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION, to be told when they are ready and when its
 * timeout expires; ior's poll handles and timers answer. The HTTP server
 * is ior's own (a listener that answers GET /N with N pattern bytes), so
 * both ends of every byte are checked. Native only: Debian has no MinGW
 * libcurl.
 */
#include "net_util.h"

#include <curl/curl.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CP_TRANSFERS 8

/* --- the server: "GET /N" gets N pattern bytes, then the close --------- */

typedef struct cp_req {
    char head[1024];
    size_t got;
    int answered;
} cp_req_t;

static void req_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    cp_req_t *r = user;
    char status[128];
    unsigned long len = 0;
    uint64_t sent = 0;
    if (r->answered)
        return;
    assert_true(r->got + n < sizeof(r->head));
    memcpy(r->head + r->got, d, n);
    r->got += n;
    r->head[r->got] = '\0';
    if (strstr(r->head, "\r\n\r\n") == NULL)
        return;
    r->answered = 1;
    assert_int_equal(sscanf(r->head, "GET /%lu ", &len), 1);
    snprintf(status, sizeof(status),
             "HTTP/1.1 200 OK\r\nContent-Length: %lu\r\n"
             "Connection: close\r\n\r\n",
             len);
    assert_int_equal(ior_transport_write(t, status, strlen(status)), 0);
    while (sent < len) {
        size_t k = len - sent > NU_PATTERN_MAX ? NU_PATTERN_MAX
                                               : (size_t)(len - sent);
        assert_int_equal(ior_transport_write(t, nu_pattern(sent), k), 0);
        sent += k;
    }
    ior_transport_lose_connection(t);
}

static void req_lost(ior_transport_t *t, void *user, int reason)
{
    (void)t;
    (void)reason;
    free(user);
}

static const ior_protocol_ops_t req_ops = {req_data, NULL, NULL, req_lost};

static void srv_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    cp_req_t *r = calloc(1, sizeof(*r));
    (void)l;
    (void)user;
    assert_non_null(r);
    assert_int_equal(ior_transport_set_protocol(t, &req_ops, r), 0);
}

static const ior_listener_ops_t srv_ops = {srv_accept, NULL};

/* --- curl on ior --------------------------------------------------------- */

typedef struct cp_ctx {
    nu_loop_t nl;
    CURLM *multi;
    ior_timer_id timer;
    int timer_set;
    int running;
    int done;
    int polls_open;
    int polls_max;
    struct {
        CURL *easy;
        uint64_t len;
        uint64_t rx;
        uint64_t hash;
        long code;
        CURLcode result;
    } xfer[CP_TRANSFERS];
} cp_ctx_t;

typedef struct cp_sock {
    cp_ctx_t *x;
    curl_socket_t fd;
    ior_poll_t *p;
} cp_sock_t;

static void check_done(cp_ctx_t *x)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(x->multi, &left)) != NULL) {
        int i;
        if (m->msg != CURLMSG_DONE)
            continue;
        for (i = 0; i < CP_TRANSFERS; i++) {
            if (x->xfer[i].easy != m->easy_handle)
                continue;
            x->xfer[i].result = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE,
                              &x->xfer[i].code);
            x->done++;
        }
    }
    if (x->done == CP_TRANSFERS)
        nu_done(x->nl.loop);
}

static void on_ready(ior_poll_t *p, void *user, int status, unsigned events)
{
    cp_sock_t *s = user;
    cp_ctx_t *x = s->x;
    int mask = 0;
    (void)p;
    assert_int_equal(status, 0);
    if (events & IOR_POLL_READABLE)
        mask |= CURL_CSELECT_IN;
    if (events & IOR_POLL_WRITABLE)
        mask |= CURL_CSELECT_OUT;
    /* May call sock_cb, which may close this very handle. */
    assert_int_equal(curl_multi_socket_action(x->multi, s->fd, mask,
                                              &x->running),
                     CURLM_OK);
    check_done(x);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                   void *socketp)
{
    cp_ctx_t *x = userp;
    cp_sock_t *s = socketp;
    unsigned ev = 0;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            ior_poll_close(s->p);
            x->polls_open--;
            free(s);
            curl_multi_assign(x->multi, fd, NULL);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        assert_non_null(s);
        s->x = x;
        s->fd = fd;
        assert_int_equal(ior_poll_open(x->nl.loop, fd, on_ready, s, &s->p), 0);
        x->polls_open++;
        if (x->polls_open > x->polls_max)
            x->polls_max = x->polls_open;
        curl_multi_assign(x->multi, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= IOR_POLL_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= IOR_POLL_WRITABLE;
    assert_int_equal(ior_poll_start(s->p, ev), 0);
    return 0;
}

static void on_timeout(ior_loop_t *loop, void *user)
{
    cp_ctx_t *x = user;
    (void)loop;
    x->timer_set = 0;
    assert_int_equal(curl_multi_socket_action(x->multi, CURL_SOCKET_TIMEOUT,
                                              0, &x->running),
                     CURLM_OK);
    check_done(x);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    cp_ctx_t *x = userp;
    (void)multi;
    if (x->timer_set) {
        ior_timer_cancel(x->nl.loop, x->timer);
        x->timer_set = 0;
    }
    if (timeout_ms < 0)
        return 0;
    assert_int_equal(ior_call_later(x->nl.loop, (uint64_t)timeout_ms,
                                    on_timeout, x, &x->timer),
                     0);
    x->timer_set = 1;
    return 0;
}

static size_t body_cb(char *data, size_t size, size_t n, void *user)
{
    uint64_t *rx = user; /* rx, then hash, in the xfer entry */
    rx[1] = nu_fnv1a(rx[1], data, size * n);
    rx[0] += size * n;
    return size * n;
}

/*
 * CP_TRANSFERS concurrent GETs of sizes from 1 byte to 4 MiB through one
 * curl multi handle, run entirely by ior's loop: every body arrives whole
 * (its pattern hash), every status is 200, and every poll handle curl
 * asked for was closed when curl said remove.
 */
static void test_curl_multi_over_ior_poll_handles(void **state)
{
    cp_ctx_t *x = calloc(1, sizeof(*x));
    ior_listener_t *l;
    ior_addr_t a;
    char url[128], ip[64];
    int i;
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_tcp_listen(x->nl.loop, &a, NULL, &srv_ops, NULL, &l),
                     0);
    assert_int_equal(ior_listener_address(l, &a), 0);
    assert_int_equal(ior_addr_format_ip(&a, ip, sizeof(ip)), 0);
    x->multi = curl_multi_init();
    assert_non_null(x->multi);
    curl_multi_setopt(x->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(x->multi, CURLMOPT_SOCKETDATA, x);
    curl_multi_setopt(x->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(x->multi, CURLMOPT_TIMERDATA, x);
    for (i = 0; i < CP_TRANSFERS; i++) {
        CURL *e = curl_easy_init();
        assert_non_null(e);
        x->xfer[i].easy = e;
        x->xfer[i].len = i == 0 ? 1 : ((uint64_t)1 << (2 * i + 8)) + 13;
        x->xfer[i].hash = NU_FNV_INIT;
        snprintf(url, sizeof(url), "http://%s:%u/%llu", ip,
                 (unsigned)a.port, (unsigned long long)x->xfer[i].len);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &x->xfer[i].rx);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        assert_int_equal(curl_multi_add_handle(x->multi, e), CURLM_OK);
    }
    nu_loop_run(&x->nl);
    print_message("curl: %d transfers done, at most %d poll handles at once\n",
                  x->done, x->polls_max);
    for (i = 0; i < CP_TRANSFERS; i++) {
        assert_int_equal(x->xfer[i].result, CURLE_OK);
        assert_int_equal(x->xfer[i].code, 200);
        assert_true(x->xfer[i].rx == x->xfer[i].len);
        assert_true(x->xfer[i].hash == nu_pattern_hash(x->xfer[i].len));
        curl_multi_remove_handle(x->multi, x->xfer[i].easy);
        curl_easy_cleanup(x->xfer[i].easy);
    }
    curl_multi_cleanup(x->multi);
    assert_int_equal(x->polls_open, 0);
    assert_true(x->polls_max >= 2);
    if (x->timer_set)
        ior_timer_cancel(x->nl.loop, x->timer);
    ior_listener_close(l);
    nu_loop_free(&x->nl);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curl_multi_over_ior_poll_handles),
    };
    int r;
    nu_alloc_install();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    r = cmocka_run_group_tests_name("net_curl", tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
