/*
 * TLS through ior.h (common/tls.c over the build's engine): both ends are
 * ior, over loopback TCP, with certificates made at test time by
 * tests/tls/make_certs.sh (IOR_TLS_CERTS names their folder). Streams are
 * checked by SHA-256 (OpenSSL's libcrypto, native builds only) against
 * the net suite's byte pattern. Every test waits for connection_lost on
 * both ends under the nu_loop watchdog; nothing sleeps to synchronise.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, dup (the file test) */
#include "../net/net_util.h"
#include "../net/stress_util.h"
#include "../portable.h"

#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* --- certificates ----------------------------------------------------- */

static char cert_dir[1024];

static const char *cert(const char *name)
{
    static char paths[8][1200];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", cert_dir, name);
    return p;
}

/* --- SHA-256 ------------------------------------------------------------ */

static void sha_bytes(EVP_MD_CTX *c, const void *d, size_t n)
{
    assert_int_equal(EVP_DigestUpdate(c, d, n), 1);
}

static void sha_done(EVP_MD_CTX *c, unsigned char out[32])
{
    unsigned len = 0;
    assert_int_equal(EVP_DigestFinal_ex(c, out, &len), 1);
    assert_int_equal(len, 32);
}

/* The SHA-256 of the first len bytes of the pattern. */
static void pattern_sha(uint64_t len, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint64_t off = 0;
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    while (off < len) {
        size_t n = len - off > NU_PATTERN_MAX / 2 ? NU_PATTERN_MAX / 2
                                                  : (size_t)(len - off);
        sha_bytes(c, nu_pattern(off), n);
        off += n;
    }
    sha_done(c, out);
    EVP_MD_CTX_free(c);
}

/* --- one TLS end -------------------------------------------------------- */

#define CHUNK (64 * 1024)

typedef struct end {
    ior_loop_t *loop;
    ior_transport_t *t;     /* the TLS transport; NULL once lost */
    ior_transport_t *inner; /* the TCP transport it was started on */
    int *lost_count;        /* shared by the pair: stop at 2 */
    /* the handshake */
    int handshakes;
    char version[32], cipher[96], alpn[32];
    /* receiving */
    EVP_MD_CTX *sha;
    uint64_t rx;
    char first[64]; /* the first bytes received, for small checks */
    int eof;
    int lost;
    int reason;
    char why[256];
    int pause_reading; /* pause as soon as the handshake is done */
    /* sending: the pattern, through a push producer */
    uint64_t to_send;
    uint64_t sent;
    int paused;
    int pauses;
    int half_close; /* lose_write_connection once all is sent */
    int cap_on_pause; /* send without end until the first pause, then stop */
    size_t peak_buffered;
    const char *early;    /* written right after ior_tls_start */
    int close_after_early; /* then lose_connection at once */
    void (*started)(struct end *e); /* right after ior_tls_start */
    void (*on_rx)(struct end *e);   /* after each data_received */
    void (*on_first_pause)(struct end *e);
    void (*after_handshake)(struct end *e);
    void *test; /* the test's own */
    const ior_protocol_ops_t *ops; /* NULL: end_ops */
} end_t;

static void send_more(end_t *e)
{
    while (!e->paused && e->t != NULL && e->sent < e->to_send) {
        size_t n = e->to_send - e->sent > CHUNK ? CHUNK
                                                : (size_t)(e->to_send - e->sent);
        size_t b;
        assert_int_equal(ior_transport_write(e->t, nu_pattern(e->sent), n), 0);
        e->sent += n;
        if (e->cap_on_pause && e->pauses > 0)
            e->to_send = e->sent;
        b = ior_transport_buffered(e->t);
        if (b > e->peak_buffered)
            e->peak_buffered = b;
    }
    if (e->t != NULL && e->sent == e->to_send && e->to_send > 0 &&
        e->half_close) {
        e->half_close = 0;
        assert_int_equal(ior_transport_lose_write_connection(e->t), 0);
    }
}

static void p_pause(void *user)
{
    end_t *e = user;
    e->paused = 1;
    if (e->pauses++ == 0 && e->on_first_pause != NULL)
        e->on_first_pause(e);
}

static void p_resume(void *user)
{
    end_t *e = user;
    e->paused = 0;
    send_more(e);
}

static void p_stop(void *user)
{
    end_t *e = user;
    e->paused = 1;
}

static const ior_producer_ops_t producer = {p_pause, p_resume, p_stop};

static void on_handshake(ior_transport_t *t, void *user,
                         const ior_tls_info_t *info)
{
    end_t *e = user;
    assert_ptr_equal(t, e->t);
    e->handshakes++;
    snprintf(e->version, sizeof(e->version), "%s", info->version);
    snprintf(e->cipher, sizeof(e->cipher), "%s", info->cipher);
    snprintf(e->alpn, sizeof(e->alpn), "%s",
             info->alpn != NULL ? info->alpn : "(none)");
    if (e->pause_reading)
        assert_int_equal(ior_transport_pause_producing(t), 0);
    if (e->to_send > 0) {
        assert_int_equal(
            ior_transport_register_producer(t, &producer, e, 1), 0);
        send_more(e);
    }
    if (e->after_handshake != NULL)
        e->after_handshake(e);
}

static void on_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    end_t *e = user;
    (void)t;
    if (e->rx < sizeof(e->first)) {
        size_t k = sizeof(e->first) - 1 - (size_t)e->rx;
        memcpy(e->first + e->rx, d, n < k ? n : k);
    }
    if (e->sha != NULL)
        sha_bytes(e->sha, d, n);
    e->rx += n;
    if (e->on_rx != NULL)
        e->on_rx(e);
}

static void on_eof(ior_transport_t *t, void *user)
{
    end_t *e = user;
    (void)t;
    e->eof++;
    /* Nothing more to send: the close finishes once our side is done. */
    if (e->to_send == 0)
        assert_int_equal(ior_transport_lose_connection(t), 0);
}

static void on_lost(ior_transport_t *t, void *user, int reason)
{
    end_t *e = user;
    e->lost++;
    e->reason = reason;
    ior_tls_reason(t, e->why, sizeof(e->why));
    e->t = NULL;
    if (++*e->lost_count == 2)
        nu_done(e->loop);
}

static const ior_protocol_ops_t end_ops = {on_data, on_eof, NULL, on_lost};

/* --- a pair of ends over loopback ---------------------------------------- */

typedef struct pair {
    nu_loop_t nl;
    ior_listener_t *l;
    end_t server, client;
    int lost;
    ior_tls_options_t so, co;
    int raw_server; /* accept but start no TLS (a peer that never answers) */
} pair_t;

static void start_end(end_t *e, ior_transport_t *inner,
                      const ior_tls_options_t *o)
{
    e->inner = inner;
    assert_int_equal(ior_tls_start(inner, o, e->ops != NULL ? e->ops
                                                           : &end_ops,
                                   e, &e->t),
                     0);
    assert_non_null(e->t);
    if (e->early != NULL)
        assert_int_equal(ior_transport_write(e->t, e->early,
                                             strlen(e->early)), 0);
    if (e->close_after_early)
        assert_int_equal(ior_transport_lose_connection(e->t), 0);
    if (e->started != NULL)
        e->started(e);
}

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    pair_t *p = user;
    (void)l;
    if (p->raw_server) {
        p->server.inner = t; /* kept open, never answered */
        assert_int_equal(ior_transport_set_protocol(t, &end_ops, &p->server),
                         0);
        return;
    }
    start_end(&p->server, t, &p->so);
}

static const ior_listener_ops_t listener_ops = {on_accept, NULL};

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    pair_t *p = user;
    (void)loop;
    (void)os_error;
    assert_int_equal(status, 0);
    start_end(&p->client, t, &p->co);
}

static const char *const client_alpn[] = {"h2", "ior-test", NULL};
static const char *const server_alpn[] = {"ior-test", "http/1.1", NULL};

/* Options everyone starts from: a verifying client of localhost. */
static void pair_init(pair_t *p)
{
    memset(p, 0, sizeof(*p));
    nu_loop_init(&p->nl);
    p->server.loop = p->client.loop = p->nl.loop;
    p->server.lost_count = p->client.lost_count = &p->lost;
    p->so.server = 1;
    p->so.cert_file = cert("server.pem");
    p->so.key_file = cert("server.key");
    p->so.alpn = server_alpn;
    p->so.handshake_done = on_handshake;
    p->co.server_name = "localhost";
    p->co.ca_file = cert("ca.pem");
    p->co.alpn = client_alpn;
    p->co.handshake_done = on_handshake;
}

static void pair_run(pair_t *p)
{
    ior_addr_t a;
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_tcp_listen(p->nl.loop, &a, NULL, &listener_ops, p,
                                    &p->l),
                     0);
    assert_int_equal(ior_listener_address(p->l, &a), 0);
    assert_int_equal(ior_tcp_connect(p->nl.loop, &a, NULL, on_connect, p), 0);
    nu_loop_run(&p->nl);
    ior_listener_close(p->l);
}

static void pair_free(pair_t *p)
{
    nu_loop_free(&p->nl);
}

/* --- tests ----------------------------------------------------------------- */

/*
 * 64 MiB each way (a tenth under IOR_TEST_SCALE=10, valgrind), both ends
 * sending at once through producers, each half-closing with close_notify
 * when done (TLS 1.3 lets the other side go on): both streams arrive
 * whole by SHA-256, the handshake agreed on TLS 1.3 and ALPN "ior-test"
 * (the server's first choice the client offers), both close cleanly.
 */
static void test_tls_both_ways_checked_by_sha256(void **state)
{
    pair_t p;
    unsigned char want[32], got_s[32], got_c[32];
    uint64_t len = (64u << 20) / (uint64_t)sx_scale();
    (void)state;
    pair_init(&p);
    p.server.sha = EVP_MD_CTX_new();
    p.client.sha = EVP_MD_CTX_new();
    assert_non_null(p.server.sha);
    assert_non_null(p.client.sha);
    assert_int_equal(EVP_DigestInit_ex(p.server.sha, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestInit_ex(p.client.sha, EVP_sha256(), NULL), 1);
    p.server.to_send = p.client.to_send = len;
    p.server.half_close = p.client.half_close = 1;
    pair_run(&p);
    pattern_sha(len, want);
    sha_done(p.server.sha, got_s);
    sha_done(p.client.sha, got_c);
    EVP_MD_CTX_free(p.server.sha);
    EVP_MD_CTX_free(p.client.sha);
    print_message("tls: %s %s alpn %s; %llu bytes each way; producer pauses "
                  "client %d server %d\n",
                  p.client.version, p.client.cipher, p.client.alpn,
                  (unsigned long long)len, p.client.pauses, p.server.pauses);
    assert_int_equal(p.client.handshakes, 1);
    assert_int_equal(p.server.handshakes, 1);
    assert_string_equal(p.client.version, "TLSv1.3");
    assert_string_equal(p.server.version, "TLSv1.3");
    assert_string_equal(p.client.alpn, "ior-test");
    assert_string_equal(p.server.alpn, "ior-test");
    assert_int_equal(p.server.rx, len);
    assert_int_equal(p.client.rx, len);
    assert_memory_equal(got_s, want, 32);
    assert_memory_equal(got_c, want, 32);
    assert_int_equal(p.server.eof, 1);
    assert_int_equal(p.client.eof, 1);
    assert_int_equal(p.server.reason, IOR_EDONE);
    assert_int_equal(p.client.reason, IOR_EDONE);
    pair_free(&p);
}

/*
 * A file region through TLS: the layer takes the core's copy path (the
 * kernel cannot encrypt), so the region is read 256 KiB at a time into
 * records, in order with the writes around it; written before the
 * handshake, it waits for it like any write.
 */
#define FILE_LEN (3u * 1024u * 1024u + 77u)
#define FILE_FROM 1000u

typedef struct file_src {
    char path[64];
    int fd;
    int released;
} file_src_t;

static void file_released(void *ctx, const void *base, size_t len)
{
    file_src_t *f = ctx;
    assert_null(base);
    assert_int_equal(len, 0);
    f->released++;
}

static void write_file_early(end_t *e)
{
    file_src_t *f = e->test;
    assert_int_equal(ior_transport_write(e->t, nu_pattern(0), FILE_FROM), 0);
    assert_int_equal(ior_transport_write_file(e->t, f->fd, FILE_FROM,
                                              FILE_LEN - FILE_FROM - 5,
                                              file_released, f),
                     0);
    assert_int_equal(ior_transport_write(e->t, nu_pattern(FILE_LEN - 5), 5),
                     0);
    assert_int_equal(ior_transport_lose_connection(e->t), 0);
}

static void test_tls_write_file_takes_the_copy_path(void **state)
{
    pair_t p;
    file_src_t f;
    unsigned char want[32], got[32];
    uint64_t off = 0;
    FILE *out;
    (void)state;
    memset(&f, 0, sizeof(f));
    snprintf(f.path, sizeof(f.path), "/tmp/ior-tls-file-XXXXXX");
    f.fd = mkstemp(f.path);
    assert_true(f.fd >= 0);
    out = fdopen(dup(f.fd), "wb");
    assert_non_null(out);
    while (off < FILE_LEN) {
        size_t n = FILE_LEN - off > NU_PATTERN_MAX ? NU_PATTERN_MAX
                                                   : (size_t)(FILE_LEN - off);
        assert_int_equal(fwrite(nu_pattern(off), 1, n, out), n);
        off += n;
    }
    assert_int_equal(fclose(out), 0);
    pair_init(&p);
    p.server.sha = EVP_MD_CTX_new();
    assert_non_null(p.server.sha);
    assert_int_equal(EVP_DigestInit_ex(p.server.sha, EVP_sha256(), NULL), 1);
    p.client.test = &f;
    p.client.started = write_file_early;
    pair_run(&p);
    pattern_sha(FILE_LEN, want);
    sha_done(p.server.sha, got);
    EVP_MD_CTX_free(p.server.sha);
    assert_int_equal(p.server.rx, FILE_LEN);
    assert_memory_equal(got, want, 32);
    assert_int_equal(p.client.reason, IOR_EDONE);
    assert_int_equal(f.released, 1);
    pair_free(&p);
    assert_int_equal(close(f.fd), 0);
    assert_int_equal(unlink(f.path), 0);
}

/* Writes of awkward sizes around the 16 KiB record arrive as written. */
static const size_t boundary_sizes[] = {1, 16383, 16384, 16385, 1u << 20, 1};

/* All written at once, before the handshake: they wait for it. */
static void write_boundaries(end_t *e)
{
    uint64_t off = 0;
    size_t i;
    for (i = 0; i < sizeof(boundary_sizes) / sizeof(boundary_sizes[0]); i++) {
        size_t left = boundary_sizes[i];
        while (left > 0) {
            size_t n = left > NU_PATTERN_MAX / 2 ? NU_PATTERN_MAX / 2 : left;
            assert_int_equal(ior_transport_write(e->t, nu_pattern(off), n), 0);
            off += n;
            left -= n;
        }
    }
    assert_int_equal(ior_transport_lose_connection(e->t), 0);
}

static void test_tls_record_boundaries(void **state)
{
    pair_t p;
    unsigned char want[32], got[32];
    uint64_t total = 0;
    size_t i;
    (void)state;
    pair_init(&p);
    p.server.sha = EVP_MD_CTX_new();
    assert_non_null(p.server.sha);
    assert_int_equal(EVP_DigestInit_ex(p.server.sha, EVP_sha256(), NULL), 1);
    for (i = 0; i < sizeof(boundary_sizes) / sizeof(boundary_sizes[0]); i++)
        total += boundary_sizes[i];
    p.client.started = write_boundaries;
    pair_run(&p);
    pattern_sha(total, want);
    sha_done(p.server.sha, got);
    EVP_MD_CTX_free(p.server.sha);
    print_message("tls: boundaries: server got %llu of %llu, eof %d; client "
                  "%s (%s), server %s (%s)\n",
                  (unsigned long long)p.server.rx, (unsigned long long)total,
                  p.server.eof, ior_err_name(p.client.reason), p.client.why,
                  ior_err_name(p.server.reason), p.server.why);
    assert_int_equal(p.server.rx, total);
    assert_memory_equal(got, want, 32);
    assert_int_equal(p.server.eof, 1);
    assert_int_equal(p.client.reason, IOR_EDONE);
    assert_int_equal(p.server.reason, IOR_EDONE);
    pair_free(&p);
}

/*
 * Verification failures are IOR_ECERT on the client with the engine's
 * reason, and what the client wrote before the handshake is never sent
 * (the server receives no plaintext; it sees the client's alert: ETLS).
 */
static void cert_failure(const char *leaf, const char *name,
                         const char *why_has)
{
    pair_t p;
    pair_init(&p);
    p.so.cert_file = cert(leaf[0] == 'r'   ? "rogue.pem"
                          : leaf[0] == 'e' ? "expired.pem"
                                           : "server.pem");
    p.so.key_file = cert(leaf[0] == 'r'   ? "rogue.key"
                         : leaf[0] == 'e' ? "expired.key"
                                          : "server.key");
    p.co.server_name = name;
    p.client.early = "secret";
    pair_run(&p);
    print_message("tls: %s as %s: client %s (%s), server %s (%s)\n", leaf,
                  name, ior_err_name(p.client.reason), p.client.why,
                  ior_err_name(p.server.reason), p.server.why);
    assert_int_equal(p.client.handshakes, 0);
    assert_int_equal(p.client.reason, IOR_ECERT);
    assert_non_null(strstr(p.client.why, why_has));
    assert_int_equal(p.server.rx, 0);
    assert_int_equal(p.server.reason, IOR_ETLS);
    pair_free(&p);
}

static void test_tls_unknown_ca_is_ecert(void **state)
{
    (void)state;
    cert_failure("rogue", "localhost", "local issuer");
}

static void test_tls_wrong_name_is_ecert(void **state)
{
    (void)state;
    cert_failure("server", "other.example", "mismatch");
}

static void test_tls_expired_is_ecert(void **state)
{
    (void)state;
    cert_failure("expired", "localhost", "expired");
}

/*
 * Without ca_file the client trusts the system's CAs only, which do not
 * include the test CA: IOR_ECERT. With insecure it checks nothing, so
 * even another CA's certificate for another name is taken.
 */
static void test_tls_system_store_default_and_insecure(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.co.ca_file = NULL;
    p.client.early = "secret";
    pair_run(&p);
    assert_int_equal(p.client.reason, IOR_ECERT);
    assert_non_null(strstr(p.client.why, "local issuer"));
    assert_int_equal(p.server.rx, 0);
    pair_free(&p);

    pair_init(&p);
    p.so.cert_file = cert("rogue.pem");
    p.so.key_file = cert("rogue.key");
    p.co.ca_file = NULL;
    p.co.server_name = "other.example";
    p.co.insecure = 1;
    p.client.early = "unchecked";
    p.client.close_after_early = 1;
    pair_run(&p);
    assert_int_equal(p.client.handshakes, 1);
    assert_string_equal(p.server.first, "unchecked");
    assert_int_equal(p.client.reason, IOR_EDONE);
    pair_free(&p);
}

/* An address as the name is checked against the certificate's IP SAN. */
static void test_tls_ip_name_verified(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.co.server_name = "127.0.0.1";
    p.client.early = "by address";
    p.client.close_after_early = 1;
    pair_run(&p); /* the server closes after the client's EOF */
    assert_int_equal(p.client.handshakes, 1);
    assert_string_equal(p.server.first, "by address");
    assert_int_equal(p.client.reason, IOR_EDONE);
    assert_int_equal(p.server.reason, IOR_EDONE);
    pair_free(&p);
}

/*
 * The peer's TCP ends after data without close_notify: IOR_ETRUNCATED,
 * after the data that came before it. (The test closes the server's TCP
 * transport under its TLS layer, as a peer that crashed would.)
 */
static void trunc_after_hello(ior_transport_t *t, void *user,
                              const ior_tls_info_t *info)
{
    end_t *e = user;
    (void)info;
    e->handshakes++;
    assert_int_equal(ior_transport_write(t, "hello", 5), 0);
}

/* Once "hello" is in, the server's TCP closes without close_notify. */
static void cut_server_tcp(end_t *e)
{
    pair_t *p = e->test;
    if (e->rx == 5)
        assert_int_equal(ior_transport_lose_connection(p->server.inner), 0);
}

static void test_tls_truncation_is_an_error(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.so.handshake_done = trunc_after_hello;
    p.client.on_rx = cut_server_tcp;
    p.client.test = &p;
    pair_run(&p);
    print_message("tls: truncation: client %s (%s), server %s\n",
                  ior_err_name(p.client.reason), p.client.why,
                  ior_err_name(p.server.reason));
    assert_int_equal(p.client.rx, 5);
    assert_memory_equal(p.client.first, "hello", 5);
    assert_int_equal(p.client.reason, IOR_ETRUNCATED);
    assert_int_equal(p.client.eof, 0);
    pair_free(&p);
}

/* A peer that never answers the hello: IOR_ETIMEDOUT after the option. */
static void test_tls_handshake_timeout(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.raw_server = 1;
    p.co.handshake_timeout_ms = 200;
    pair_run(&p);
    assert_int_equal(p.client.handshakes, 0);
    assert_int_equal(p.client.reason, IOR_ETIMEDOUT);
    assert_non_null(strstr(p.client.why, "timed out"));
    pair_free(&p);
}

/*
 * A reader that does not read: the sender's producer is paused and its
 * plaintext queue stays within the high-water mark plus one write, the
 * TLS layer's ciphertext within the TCP transport's; once the reader
 * resumes, every byte arrives.
 */
static void resume_reader(ior_loop_t *loop, void *user)
{
    pair_t *p = user;
    (void)loop;
    print_message("tls: slow reader: the client's producer paused after "
                  "%llu bytes (socket buffers included); plaintext queue "
                  "peak %zu bytes\n",
                  (unsigned long long)p->client.sent,
                  p->client.peak_buffered);
    assert_true(p->client.paused); /* nothing resumes it but reading */
    assert_int_equal(ior_transport_resume_producing(p->server.t), 0);
}

/*
 * Once the client's producer has paused and the server (whose handshake
 * may end after the client's: TLS 1.3) has paused its reading, the reader
 * resumes a little later (any delay works).
 */
static void schedule_resume(end_t *e)
{
    pair_t *p = e->test;
    if (p->client.pauses == 0 || p->server.handshakes == 0)
        return;
    assert_int_equal(ior_call_later(e->loop, 100, resume_reader, p, NULL), 0);
}

static void test_tls_slow_reader_bounds_memory(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.server.pause_reading = 1;
    /* Whatever the socket buffers hold, the producer pauses in the end. */
    p.client.to_send = UINT64_MAX;
    p.client.cap_on_pause = 1;
    p.client.half_close = 1;
    p.client.on_first_pause = schedule_resume;
    p.server.after_handshake = schedule_resume;
    p.client.test = p.server.test = &p;
    pair_run(&p);
    assert_true(p.client.pauses >= 1);
    assert_true(p.client.peak_buffered <= 64 * 1024 + CHUNK);
    assert_int_equal(p.server.rx, p.client.sent);
    assert_int_equal(p.server.reason, IOR_EDONE);
    assert_int_equal(p.client.reason, IOR_EDONE);
    pair_free(&p);
}

/* --- aborts ------------------------------------------------------------- */

/* The client aborts its TLS transport before the handshake could end. */
static void abort_at_once(end_t *e)
{
    assert_int_equal(ior_transport_abort_connection(e->t), 0);
}

/*
 * Abort mid-handshake: IOR_EABORTED once, no handshake callback, nothing
 * leaks (the server may or may not see the connection: a reset one can
 * vanish before the accept, so only the client is waited for).
 */
static void test_tls_abort_mid_handshake(void **state)
{
    pair_t p;
    int server_lost = 0;
    (void)state;
    pair_init(&p);
    p.server.lost_count = &server_lost;
    p.lost = 1; /* the client's loss alone stops the loop */
    p.client.started = abort_at_once;
    p.client.early = "never sent";
    pair_run(&p);
    assert_int_equal(p.client.lost, 1);
    assert_int_equal(p.client.reason, IOR_EABORTED);
    assert_int_equal(p.client.handshakes, 0);
    assert_int_equal(p.server.rx, 0);
    pair_free(&p);
}

/* After 1 MiB has arrived, the client aborts while both ends send. */
static void abort_after_a_mib(end_t *e)
{
    if (e->rx >= (1u << 20) && e->t != NULL)
        assert_int_equal(ior_transport_abort_connection(e->t), 0);
}

/*
 * Abort mid-stream, both ends sending: the aborting end reports
 * IOR_EABORTED and nothing after it; the peer sees an error (a reset, on
 * its read or its write: which one comes first is the OS's), never a
 * clean end.
 */
static void test_tls_abort_mid_stream(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.server.to_send = p.client.to_send = 64u << 20;
    p.client.on_rx = abort_after_a_mib;
    pair_run(&p);
    print_message("tls: abort mid-stream: client %s after %llu bytes, server "
                  "%s\n",
                  ior_err_name(p.client.reason),
                  (unsigned long long)p.client.rx,
                  ior_err_name(p.server.reason));
    assert_int_equal(p.client.reason, IOR_EABORTED);
    assert_true(p.server.reason < 0);
    assert_true(p.server.reason != IOR_EDONE &&
                p.server.reason != IOR_EABORTED);
    assert_int_equal(p.server.eof, 0);
    pair_free(&p);
}

/* --- the producer rules through TLS ---------------------------------------- */

/*
 * Rules 3 and 4 through TLS: a pull producer on the client writes 16 KiB
 * each time it is resumed, which happens on registration and whenever
 * the queue drains into the TLS layer, exactly once per drain while the
 * server sends too; 8 MiB arrive whole, in order, and the close waits for
 * the producer to be unregistered (rule 6).
 */
typedef struct puller {
    ior_transport_t *t;
    uint64_t off;
    uint64_t total;
    int resumes;
} puller_t;

static void pull_resume(void *user)
{
    puller_t *p = user;
    size_t n = p->total - p->off > 16384 ? 16384 : (size_t)(p->total - p->off);
    p->resumes++;
    if (n == 0) {
        assert_int_equal(ior_transport_unregister_producer(p->t), 0);
        return;
    }
    assert_int_equal(ior_transport_write(p->t, nu_pattern(p->off), n), 0);
    p->off += n;
}

static void pull_stop(void *user)
{
    (void)user;
}

static const ior_producer_ops_t pull_ops = {NULL, pull_resume, pull_stop};

static puller_t the_puller;

static void start_pulling(ior_transport_t *t, void *user,
                          const ior_tls_info_t *info)
{
    end_t *e = user;
    (void)info;
    e->handshakes++;
    the_puller.t = t;
    assert_int_equal(ior_transport_register_producer(t, &pull_ops,
                                                     &the_puller, 0),
                     0);
    /* Held open by the registered pull producer until it unregisters. */
    assert_int_equal(ior_transport_lose_connection(t), 0);
}

static void test_tls_pull_producer(void **state)
{
    pair_t p;
    unsigned char want[32], got[32];
    (void)state;
    memset(&the_puller, 0, sizeof(the_puller));
    the_puller.total = (8u << 20) / (uint64_t)sx_scale();
    pair_init(&p);
    p.co.handshake_done = start_pulling;
    /* Records arriving meanwhile make the client's layer work often: no
     * drain may be reported twice for that. */
    p.server.to_send = (1u << 20) / (uint64_t)sx_scale();
    p.server.half_close = 1;
    p.server.sha = EVP_MD_CTX_new();
    assert_non_null(p.server.sha);
    assert_int_equal(EVP_DigestInit_ex(p.server.sha, EVP_sha256(), NULL), 1);
    pair_run(&p);
    pattern_sha(the_puller.total, want);
    sha_done(p.server.sha, got);
    EVP_MD_CTX_free(p.server.sha);
    assert_int_equal(p.server.rx, the_puller.total);
    assert_memory_equal(got, want, 32);
    /* One resume per write (the last one short), and one to finish. */
    assert_int_equal(the_puller.resumes,
                     (int)((the_puller.total + 16383) / 16384) + 1);
    assert_int_equal(p.client.reason, IOR_EDONE);
    assert_int_equal(p.server.reason, IOR_EDONE);
    pair_free(&p);
}

/*
 * Rule 8 through TLS: borrowed chunks written before the handshake and
 * then aborted are released exactly once each, in write order, before
 * connection_lost; none of them reaches the peer.
 */
static int released[4];
static int nreleased;
static int released_before_lost;

static void release_one(void *ctx, const void *base, size_t len)
{
    (void)base;
    (void)len;
    assert_true(nreleased < 4);
    released[nreleased++] = (int)(intptr_t)ctx;
}

static void write_refs_then_abort(end_t *e)
{
    static const char chunk[4][8] = {"first", "second", "third", "fourth"};
    int i;
    for (i = 0; i < 4; i++)
        assert_int_equal(ior_transport_write_ref(e->t, chunk[i],
                                                 strlen(chunk[i]),
                                                 release_one,
                                                 (void *)(intptr_t)i),
                         0);
    assert_int_equal(ior_transport_abort_connection(e->t), 0);
}

static void count_released(ior_transport_t *t, void *user, int reason)
{
    released_before_lost = nreleased;
    on_lost(t, user, reason);
}

static const ior_protocol_ops_t counting_ops = {on_data, on_eof, NULL,
                                                count_released};

static void test_tls_abort_releases_in_order(void **state)
{
    pair_t p;
    int server_lost = 0;
    int i;
    (void)state;
    nreleased = released_before_lost = 0;
    pair_init(&p);
    p.server.lost_count = &server_lost;
    p.lost = 1;
    p.client.started = write_refs_then_abort;
    p.client.ops = &counting_ops;
    pair_run(&p);
    assert_int_equal(p.client.reason, IOR_EABORTED);
    assert_int_equal(nreleased, 4);
    assert_int_equal(released_before_lost, 4);
    for (i = 0; i < 4; i++)
        assert_int_equal(released[i], i);
    assert_int_equal(p.server.rx, 0);
    pair_free(&p);
}

/*
 * Rules 10 and 12 through TLS: a TLS echo server whose transport is its
 * own streaming producer (ior_transport_producer_ops, as ior-echo), so a
 * client that reads slowly pauses the server's reading through both TLS
 * layers; every byte comes back in order (SHA-256), the server's queue
 * stays near its mark, and the server closes from inside its EOF callback.
 */
static size_t echo_peak;

static void echo_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    end_t *e = user;
    size_t b;
    e->rx += n;
    assert_int_equal(ior_transport_write(t, d, n), 0);
    b = ior_transport_buffered(t);
    if (b > echo_peak)
        echo_peak = b;
}

static void echo_eof(ior_transport_t *t, void *user)
{
    (void)user;
    assert_int_equal(ior_transport_lose_connection(t), 0);
}

static const ior_protocol_ops_t echo_ops = {echo_data, echo_eof, NULL,
                                            on_lost};

static void echo_self_producer(ior_transport_t *t, void *user,
                               const ior_tls_info_t *info)
{
    end_t *e = user;
    (void)info;
    e->handshakes++;
    assert_int_equal(ior_transport_register_producer(
                         t, &ior_transport_producer_ops, t, 1),
                     0);
}

/* The client reads in small bites: it pauses after each 64 KiB, briefly. */
static void client_resume(ior_loop_t *loop, void *user)
{
    end_t *e = user;
    (void)loop;
    if (e->t != NULL)
        assert_int_equal(ior_transport_resume_producing(e->t), 0);
}

static void slow_client_rx(end_t *e)
{
    if (e->t != NULL && (e->rx / 65536) != ((e->rx - 1) / 65536) &&
        e->rx < e->to_send) {
        assert_int_equal(ior_transport_pause_producing(e->t), 0);
        assert_int_equal(ior_call_later(e->loop, 1, client_resume, e, NULL),
                         0);
    }
}

static void test_tls_echo_with_transport_as_producer(void **state)
{
    pair_t p;
    unsigned char want[32], got[32];
    (void)state;
    echo_peak = 0;
    pair_init(&p);
    p.so.handshake_done = echo_self_producer;
    p.server.ops = &echo_ops;
    p.client.to_send = (16u << 20) / (uint64_t)sx_scale();
    p.client.half_close = 1;
    p.client.on_rx = slow_client_rx;
    p.client.sha = EVP_MD_CTX_new();
    assert_non_null(p.client.sha);
    assert_int_equal(EVP_DigestInit_ex(p.client.sha, EVP_sha256(), NULL), 1);
    pair_run(&p);
    pattern_sha(p.client.to_send, want);
    sha_done(p.client.sha, got);
    EVP_MD_CTX_free(p.client.sha);
    print_message("tls: echo through a self-producing TLS server: %llu "
                  "bytes back, server queue peak %zu bytes\n",
                  (unsigned long long)p.client.rx, echo_peak);
    assert_int_equal(p.server.handshakes, 1);
    assert_int_equal(p.client.rx, p.client.to_send);
    assert_memory_equal(got, want, 32);
    assert_true(echo_peak <= 64 * 1024 + 64 * 1024);
    assert_int_equal(p.client.reason, IOR_EDONE);
    assert_int_equal(p.server.reason, IOR_EDONE);
    pair_free(&p);
}

/*
 * ior_loop_free in the middle of a clean close (close_notify queued, the
 * TCP transport not yet done): connection_lost still comes exactly once
 * for every transport, and nothing leaks (nu_loop_free checks).
 */
static void close_and_stop(ior_transport_t *t, void *user,
                           const ior_tls_info_t *info)
{
    end_t *e = user;
    (void)info;
    e->handshakes++;
    assert_int_equal(ior_transport_write(t, "bye", 3), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    nu_done(e->loop);
}

static void test_tls_loop_free_during_clean_close(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.co.handshake_done = close_and_stop;
    pair_run(&p);
    assert_int_equal(p.client.handshakes, 1);
    pair_free(&p);
    assert_int_equal(p.client.lost, 1);
    assert_int_equal(p.server.lost, 1); /* it exists since the accept */
}

/* --- PKCS#12 and connecting in one call ------------------------------------ */

/* A server from a PKCS#12 file (chain and key, with its password). */
static void test_tls_server_from_pfx(void **state)
{
    pair_t p;
    (void)state;
    pair_init(&p);
    p.so.cert_file = p.so.key_file = NULL;
    p.so.pfx_file = cert("server.pfx");
    p.so.pfx_password = "ior-test";
    p.client.early = "over a pfx";
    p.client.close_after_early = 1;
    pair_run(&p);
    assert_int_equal(p.client.handshakes, 1);
    assert_string_equal(p.server.first, "over a pfx");
    assert_int_equal(p.client.reason, IOR_EDONE);
    assert_int_equal(p.server.reason, IOR_EDONE);
    pair_free(&p);
}

typedef struct dial {
    end_t *e;
    int calls;
    int status;
    uint16_t port; /* the server's */
} dial_t;

static void dialed(ior_loop_t *loop, void *user, ior_transport_t *t,
                   int status, int os_error)
{
    dial_t *d = user;
    (void)loop;
    (void)os_error;
    d->calls++;
    d->status = status;
    if (status != 0) {
        assert_null(t);
        nu_done(loop);
        return;
    }
    d->e->t = t;
    /* TCP's options and addresses reach the TCP transport below. */
    assert_int_equal(ior_transport_set_nodelay(t, 1), 0);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 30), 0);
    {
        ior_addr_t peer;
        assert_int_equal(ior_transport_peer_address(t, &peer), 0);
        assert_int_equal(peer.port, d->port);
    }
    assert_int_equal(ior_transport_set_protocol(t, &end_ops, d->e), 0);
    assert_int_equal(ior_transport_write(t, "dialed", 6), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
}

/*
 * ior_tls_connect: TCP and TLS in one call; the callback gets the TLS
 * transport, whose handshake then verifies the server as ever, and whose
 * TCP options and addresses are the connection's below. A refused
 * connect comes back as the connect's error, with no transport.
 */
static void test_tls_connect_in_one_call(void **state)
{
    pair_t p;
    dial_t d;
    ior_addr_t a;
    ior_listener_t *dead = NULL;
    (void)state;
    pair_init(&p);
    memset(&d, 0, sizeof(d));
    d.e = &p.client;
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_tcp_listen(p.nl.loop, &a, NULL, &listener_ops, &p,
                                    &p.l),
                     0);
    assert_int_equal(ior_listener_address(p.l, &a), 0);
    d.port = a.port;
    assert_int_equal(ior_tls_connect(p.nl.loop, &a, NULL, &p.co, dialed, &d),
                     0);
    nu_loop_run(&p.nl);
    ior_listener_close(p.l);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(p.client.handshakes, 1);
    assert_string_equal(p.server.first, "dialed");
    assert_int_equal(p.client.reason, IOR_EDONE);
    /* A port nobody listens on any more. */
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_tcp_listen(p.nl.loop, &a, NULL, &listener_ops, &p,
                                    &dead),
                     0);
    assert_int_equal(ior_listener_address(dead, &a), 0);
    ior_listener_close(dead);
    memset(&d, 0, sizeof(d));
    d.e = &p.client;
    assert_int_equal(ior_tls_connect(p.nl.loop, &a, NULL, &p.co, dialed, &d),
                     0);
    nu_loop_run(&p.nl);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, IOR_ECONNREFUSED);
    /* A server's options are not a client's. */
    assert_int_equal(ior_tls_connect(p.nl.loop, &a, NULL, &p.so, dialed, &d),
                     IOR_EINVAL);
    pair_free(&p);
}

/* Bad options are refused before anything starts; the engine's name. */
static void check_options(ior_loop_t *loop, void *user, ior_transport_t *t,
                          int status, int os_error)
{
    int *checked = user;
    ior_tls_options_t o;
    ior_transport_t *out = NULL;
    char why[256] = "";
    (void)os_error;
    assert_int_equal(status, 0);
    memset(&o, 0, sizeof(o));
    /* A verifying client needs a name; a server its certificate and key. */
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_EINVAL);
    o.server = 1;
    o.cert_file = cert("server.pem");
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_EINVAL);
    /* Files the engine cannot use; its words come back in o.error. */
    o.key_file = cert("no-such.key");
    o.error = why;
    o.error_len = sizeof(why);
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_ETLS);
    assert_true(why[0] != '\0');
    o.error = NULL;
    memset(&o, 0, sizeof(o));
    o.server_name = "localhost";
    o.ca_file = cert("no-such-ca.pem");
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_ETLS);
    /* A server takes PEM files or a PFX, not both; a PFX's password. */
    memset(&o, 0, sizeof(o));
    o.server = 1;
    o.cert_file = cert("server.pem");
    o.key_file = cert("server.key");
    o.pfx_file = cert("server.pfx");
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_EINVAL);
    o.cert_file = o.key_file = NULL;
    o.pfx_password = "wrong";
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_ETLS);
    /* The system store is Windows' (SChannel); elsewhere not supported. */
    o.pfx_file = NULL;
    o.store_subject = "localhost";
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out),
                     IOR_ENOTSUP);
    memset(&o, 0, sizeof(o));
    o.server_name = "localhost";
    /* A transport with a producer of the user's is not the layer's. */
    assert_int_equal(ior_transport_register_producer(t, &producer, NULL, 1),
                     0);
    o.ca_file = NULL;
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out), IOR_EBUSY);
    assert_int_equal(ior_transport_unregister_producer(t), 0);
    /* One that is closing is refused too. */
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_int_equal(ior_tls_start(t, &o, &end_ops, NULL, &out),
                     IOR_ENOTCONN);
    assert_null(out);
    *checked = 1;
    nu_done(loop);
}

/* Accepted and left without a protocol: ior aborts it. */
static void drop_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    (void)user;
    (void)t;
}

static const ior_listener_ops_t drop_listener = {drop_accept, NULL};

static void test_tls_options_checked(void **state)
{
    nu_loop_t nl;
    ior_tls_options_t o;
    ior_transport_t *out = NULL;
    ior_listener_t *l = NULL;
    ior_addr_t a;
    int checked = 0;
    (void)state;
    nu_loop_init(&nl);
    assert_string_equal(ior_tls_engine(), "openssl");
    memset(&o, 0, sizeof(o));
    assert_int_equal(ior_tls_start(NULL, &o, &end_ops, NULL, &out),
                     IOR_EINVAL);
    assert_null(out);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_tcp_listen(nl.loop, &a, NULL, &drop_listener, NULL,
                                    &l),
                     0);
    assert_int_equal(ior_listener_address(l, &a), 0);
    assert_int_equal(ior_tcp_connect(nl.loop, &a, NULL, check_options,
                                     &checked),
                     0);
    nu_loop_run(&nl);
    assert_int_equal(checked, 1);
    ior_listener_close(l);
    nu_loop_free(&nl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_options_checked),
        cmocka_unit_test(test_tls_both_ways_checked_by_sha256),
        cmocka_unit_test(test_tls_record_boundaries),
        cmocka_unit_test(test_tls_write_file_takes_the_copy_path),
        cmocka_unit_test(test_tls_unknown_ca_is_ecert),
        cmocka_unit_test(test_tls_wrong_name_is_ecert),
        cmocka_unit_test(test_tls_expired_is_ecert),
        cmocka_unit_test(test_tls_ip_name_verified),
        cmocka_unit_test(test_tls_system_store_default_and_insecure),
        cmocka_unit_test(test_tls_truncation_is_an_error),
        cmocka_unit_test(test_tls_handshake_timeout),
        cmocka_unit_test(test_tls_slow_reader_bounds_memory),
        cmocka_unit_test(test_tls_abort_mid_handshake),
        cmocka_unit_test(test_tls_abort_mid_stream),
        cmocka_unit_test(test_tls_pull_producer),
        cmocka_unit_test(test_tls_abort_releases_in_order),
        cmocka_unit_test(test_tls_echo_with_transport_as_producer),
        cmocka_unit_test(test_tls_loop_free_during_clean_close),
        cmocka_unit_test(test_tls_server_from_pfx),
        cmocka_unit_test(test_tls_connect_in_one_call),
    };
    const char *d = test_getenv("IOR_TLS_CERTS");
    if (d == NULL || d[0] == '\0') {
        fprintf(stderr, "IOR_TLS_CERTS is not set\n");
        return 2;
    }
    snprintf(cert_dir, sizeof(cert_dir), "%s", d);
    nu_alloc_install();
    return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
