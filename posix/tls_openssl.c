/*
 * The TLS engine over OpenSSL 3 (common/tls_engine.h): one SSL per
 * connection between two memory BIOs, so OpenSSL never sees a socket and
 * common/tls.c decides when bytes move (as Twisted's TLSMemoryBIOProtocol
 * does with pyOpenSSL).
 *
 * Verification (client): SSL_VERIFY_PEER against the system's store
 * (SSL_CTX_set_default_verify_paths) or the caller's PEM file, and the
 * name through SSL_set1_host (or X509_VERIFY_PARAM_set1_ip_asc for an
 * address); SNI carries the name unless it is an address (RFC 6066).
 * TLS 1.2 is the oldest version offered.
 */
#include "tls_engine.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "seam.h"

struct ior__tlse {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio; /* ciphertext from the peer (SSL reads it) */
    BIO *wbio; /* ciphertext for the peer (SSL writes it) */
    int code;  /* after a failure: IOR_ECERT or IOR_ETLS */
    char why[256];
    unsigned char alpn[256]; /* wire format: length-prefixed names */
    unsigned alpn_len;
    char alpn_chosen[256]; /* what the handshake chose, NUL-terminated */
};

const char *ior__tlse_name(void)
{
    return "openssl";
}

/* OpenSSL's words for the first queued error, or a fallback. */
static void take_error(char *why, size_t len, const char *fallback)
{
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, why, len);
    else
        (void)snprintf(why, len, "%s", fallback);
    ERR_clear_error();
}

static int is_ip(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The NULL-terminated list as ALPN's wire format; 0, or -1 if too long. */
static int alpn_wire(const char *const *names, unsigned char *out,
                     unsigned *len)
{
    size_t i;

    *len = 0;
    for (i = 0; names != NULL && names[i] != NULL; i++) {
        size_t n = strlen(names[i]);
        if (n == 0 || n > 255 || *len + 1 + n > 256)
            return -1;
        out[(*len)++] = (unsigned char)n;
        memcpy(out + *len, names[i], n);
        *len += (unsigned)n;
    }
    return 0;
}

/* Server: our first name the client also offers; none is no ALPN. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
    ior__tlse_t *e = arg;
    unsigned char *sel = NULL;

    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, e->alpn, e->alpn_len, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int setup_client(ior__tlse_t *e, const ior_tls_options_t *o)
{
    const char *name = o->server_name;

    if (o->insecure) {
        SSL_CTX_set_verify(e->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(e->ctx, SSL_VERIFY_PEER, NULL);
        if (o->ca_file != NULL
                ? SSL_CTX_load_verify_locations(e->ctx, o->ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(e->ctx) != 1)
            return -1;
    }
    e->ssl = SSL_new(e->ctx);
    if (e->ssl == NULL)
        return -1;
    SSL_set_connect_state(e->ssl);
    if (name != NULL && name[0] != '\0') {
        if (!is_ip(name) && SSL_set_tlsext_host_name(e->ssl, name) != 1)
            return -1;
        if (!o->insecure &&
            (is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(
                               SSL_get0_param(e->ssl), name) != 1
                         : SSL_set1_host(e->ssl, name) != 1))
            return -1;
    }
    /* SSL_set_alpn_protos returns 0 on success. */
    if (e->alpn_len > 0 &&
        SSL_set_alpn_protos(e->ssl, e->alpn, e->alpn_len) != 0)
        return -1;
    return 0;
}

/* A PKCS#12 file: its certificate, key and chain into the context. */
static int use_pfx(ior__tlse_t *e, const char *path, const char *password)
{
    BIO *f = BIO_new_file(path, "rb");
    PKCS12 *p12 = f != NULL ? d2i_PKCS12_bio(f, NULL) : NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    int ok = p12 != NULL &&
             PKCS12_parse(p12, password != NULL ? password : "", &key, &cert,
                          &chain) == 1 &&
             cert != NULL && key != NULL &&
             SSL_CTX_use_certificate(e->ctx, cert) == 1 &&
             SSL_CTX_use_PrivateKey(e->ctx, key) == 1;
    int i;

    for (i = 0; ok && chain != NULL && i < sk_X509_num(chain); i++)
        ok = SSL_CTX_add1_chain_cert(e->ctx, sk_X509_value(chain, i)) == 1;
    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    PKCS12_free(p12);
    BIO_free(f);
    return ok ? 0 : -1;
}

static int setup_server(ior__tlse_t *e, const ior_tls_options_t *o)
{
    if (o->pfx_file != NULL
            ? use_pfx(e, o->pfx_file, o->pfx_password) != 0
            : SSL_CTX_use_certificate_chain_file(e->ctx, o->cert_file) != 1 ||
                  SSL_CTX_use_PrivateKey_file(e->ctx, o->key_file,
                                              SSL_FILETYPE_PEM) != 1)
        return -1;
    if (SSL_CTX_check_private_key(e->ctx) != 1)
        return -1;
    if (e->alpn_len > 0)
        SSL_CTX_set_alpn_select_cb(e->ctx, alpn_select, e);
    e->ssl = SSL_new(e->ctx);
    if (e->ssl == NULL)
        return -1;
    SSL_set_accept_state(e->ssl);
    return 0;
}

void ior__tlse_free(ior__tlse_t *e)
{
    if (e == NULL)
        return;
    if (e->ssl != NULL)
        SSL_free(e->ssl); /* and the BIOs it owns */
    else {
        BIO_free(e->rbio);
        BIO_free(e->wbio);
    }
    SSL_CTX_free(e->ctx);
    ior__free(e);
}

int ior__tlse_new(const ior_tls_options_t *o, ior__tlse_t **out, char *why,
                  size_t why_len)
{
    ior__tlse_t *e = (ior__tlse_t *)ior__calloc(1, sizeof(*e));
    int r;

    *out = NULL;
    if (e == NULL)
        return IOR_ENOMEM;
    if (o->server && o->store_subject != NULL) {
        ior__free(e);
        (void)snprintf(why, why_len,
                       "a certificate store is a Windows thing: use PEM or "
                       "PKCS#12 files here");
        return IOR_ENOTSUP;
    }
    ERR_clear_error();
    if (alpn_wire(o->alpn, e->alpn, &e->alpn_len) != 0) {
        ior__free(e);
        (void)snprintf(why, why_len, "ALPN list too long or has empty names");
        return IOR_EINVAL;
    }
    e->ctx = SSL_CTX_new(TLS_method());
    e->rbio = BIO_new(BIO_s_mem());
    e->wbio = BIO_new(BIO_s_mem());
    r = e->ctx != NULL && e->rbio != NULL && e->wbio != NULL &&
                SSL_CTX_set_min_proto_version(e->ctx, TLS1_2_VERSION) == 1
            ? (o->server ? setup_server(e, o) : setup_client(e, o))
            : -1;
    if (r != 0) {
        take_error(why, why_len, "the TLS context could not be made");
        ior__tlse_free(e);
        return IOR_ETLS;
    }
    /* The SSL owns both BIOs from here on. */
    SSL_set_bio(e->ssl, e->rbio, e->wbio);
    SSL_set_mode(e->ssl, SSL_MODE_RELEASE_BUFFERS);
    *out = e;
    return 0;
}

int ior__tlse_feed(ior__tlse_t *e, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        int w = BIO_write(e->rbio, p, n);
        if (w <= 0)
            return IOR_ENOMEM;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Why the last call failed: verification first, then the error queue. */
static void record_failure(ior__tlse_t *e)
{
    long v = SSL_get_verify_result(e->ssl);

    if (v != X509_V_OK) {
        e->code = IOR_ECERT;
        (void)snprintf(e->why, sizeof(e->why), "certificate: %s",
                       X509_verify_cert_error_string(v));
        ERR_clear_error();
        return;
    }
    e->code = IOR_ETLS;
    take_error(e->why, sizeof(e->why), "TLS protocol failure");
}

int ior__tlse_step(ior__tlse_t *e)
{
    int r;

    ERR_clear_error();
    r = SSL_do_handshake(e->ssl);
    if (r == 1)
        return IOR__TLSE_DONE;
    switch (SSL_get_error(e->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return IOR__TLSE_AGAIN;
    default:
        record_failure(e);
        return IOR__TLSE_FAILED;
    }
}

long ior__tlse_read(ior__tlse_t *e, void *buf, size_t cap)
{
    int n;

    ERR_clear_error();
    n = SSL_read(e->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (n > 0)
        return n;
    switch (SSL_get_error(e->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return IOR__TLSE_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return IOR__TLSE_CLOSED;
    default:
        record_failure(e);
        return IOR__TLSE_FAILED;
    }
}

long ior__tlse_write(ior__tlse_t *e, const void *data, size_t len)
{
    int n;

    ERR_clear_error();
    /* Into a memory BIO: all of it, or a failure. */
    n = SSL_write(e->ssl, data, len > INT_MAX ? INT_MAX : (int)len);
    if (n <= 0 || (size_t)n != len) {
        record_failure(e);
        return IOR__TLSE_FAILED;
    }
    return n;
}

void ior__tlse_close_notify(ior__tlse_t *e)
{
    ERR_clear_error();
    (void)SSL_shutdown(e->ssl);
    ERR_clear_error();
}

size_t ior__tlse_pull(ior__tlse_t *e, void *buf, size_t cap)
{
    int n;

    if (BIO_ctrl_pending(e->wbio) == 0)
        return 0;
    n = BIO_read(e->wbio, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    return n > 0 ? (size_t)n : 0;
}

void ior__tlse_info(ior__tlse_t *e, ior_tls_info_t *info)
{
    const unsigned char *sel = NULL;
    unsigned len = 0;

    info->version = SSL_get_version(e->ssl);
    info->cipher = SSL_get_cipher_name(e->ssl);
    SSL_get0_alpn_selected(e->ssl, &sel, &len);
    info->alpn = NULL;
    if (sel != NULL && len > 0 && len < sizeof(e->alpn_chosen)) {
        /* Kept in the engine, NUL-terminated, as long as it lives. */
        memcpy(e->alpn_chosen, sel, len);
        e->alpn_chosen[len] = '\0';
        info->alpn = e->alpn_chosen;
    }
}

int ior__tlse_error(ior__tlse_t *e, char *why, size_t why_len)
{
    (void)snprintf(why, why_len, "%s", e->why);
    return e->code != 0 ? e->code : IOR_ETLS;
}
