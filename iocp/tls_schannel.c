/*
 * The TLS engine over SChannel (SSPI), the TLS of Windows itself: a tool
 * built on ior ships no TLS library (common/tls_engine.h). As with
 * OpenSSL's memory BIOs, SChannel only turns buffers into buffers here:
 * ciphertext from the peer is kept in `in` until a whole record is
 * there (SEC_E_INCOMPLETE_MESSAGE), what follows a record comes back as
 * SECBUFFER_EXTRA, and whatever SChannel makes for the peer is appended
 * to `out` for common/tls.c to send.
 *
 * Verification is ours (ISC_REQ_MANUAL_CRED_VALIDATION), the same on
 * every Windows and under Wine: the peer's chain is built with crypt32
 * (CertGetCertificateChain) against the system's roots, or against the
 * caller's PEM file only (its certificates as an extra store, the root
 * required to be one of them), then the SSL policy checks the name
 * (CertVerifyCertificateChainPolicy). The reasons use OpenSSL's words, so
 * a refusal reads the same on every platform.
 *
 * TLS 1.3 needs SCH_CREDENTIALS (Windows 10 1809 and later); where that
 * is refused (older Windows, Wine 8) SCHANNEL_CRED with TLS 1.2 is used.
 * Wine 8 reports the peer's close_notify as SEC_E_OK with no data, where
 * Windows says SEC_I_CONTEXT_EXPIRED; only under Wine is an empty record
 * taken for the close (on Windows an empty record is just empty).
 *
 * Server: SChannel runs its key operations in LSASS, so the key must be
 * a persisted one: the PEM (PKCS#8) key is imported once into the user's
 * Microsoft Software Key Storage Provider under a name made from the
 * certificate's SHA-1 ("ior-tls-<hash>", so the same pair reuses it) and
 * tied to the certificate (CERT_KEY_PROV_INFO). Wine 8 has no SChannel
 * server (AcceptSecurityContext is not implemented): this side is for the
 * Windows runner only.
 */
#define SECURITY_WIN32
/* SCH_CREDENTIALS and TLS_PARAMETERS (TLS 1.3) sit behind this switch. */
#define SCHANNEL_USE_BLACKLISTS
#include "iocp.h"
#include "tls_engine.h"

#include <subauth.h>
#include <wincrypt.h>
#include <ncrypt.h>
#include <schannel.h>
#include <security.h>

#include <stdio.h>
#include <string.h>

#define IOR__SCH_MAX_TOKEN (64u * 1024u)

typedef struct bytes {
    unsigned char *p;
    size_t len;
    size_t cap;
} bytes_t;

struct ior__tlse {
    CredHandle cred;
    CtxtHandle ctx;
    int have_cred;
    int have_ctx;
    int done;          /* handshake complete */
    int closed;        /* the peer's close_notify */
    int under_wine;
    int server;
    int insecure;
    PCCERT_CONTEXT cert; /* server: ours */
    wchar_t *name;     /* the server's name (SNI, and the name checked) */
    HCERTSTORE ca;     /* the caller's CAs, or NULL: the system's */
    SecPkgContext_StreamSizes sizes;
    bytes_t in;        /* ciphertext from the peer, not yet used */
    bytes_t out;       /* ciphertext for the peer */
    bytes_t plain;     /* decrypted, not yet read */
    size_t plain_off;
    unsigned char alpn_buf[300]; /* SEC_APPLICATION_PROTOCOLS */
    unsigned long alpn_len;
    int code;
    char why[256];
    char version[16];
    char cipher[128];
    char alpn[256];
};

const char *ior__tlse_name(void)
{
    return "schannel";
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int bytes_reserve(bytes_t *b, size_t more)
{
    size_t want = b->len + more;
    unsigned char *p;

    if (want <= b->cap)
        return 0;
    if (want < b->cap * 2)
        want = b->cap * 2;
    p = (unsigned char *)ior__realloc(b->p, want);
    if (p == NULL)
        return IOR_ENOMEM;
    b->p = p;
    b->cap = want;
    return 0;
}

static int bytes_add(bytes_t *b, const void *data, size_t len)
{
    if (bytes_reserve(b, len) != 0)
        return IOR_ENOMEM;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

/* Keeps the last `keep` bytes of b (what SChannel left unused). */
static void bytes_keep_tail(bytes_t *b, size_t keep)
{
    if (keep > b->len)
        keep = b->len;
    memmove(b->p, b->p + b->len - keep, keep);
    b->len = keep;
}

static void set_why(ior__tlse_t *e, int code, const char *what, long status)
{
    e->code = code;
    if (status != 0)
        (void)snprintf(e->why, sizeof(e->why), "%s (0x%08lx)", what,
                       (unsigned long)status);
    else
        (void)snprintf(e->why, sizeof(e->why), "%s", what);
}

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w;

    if (n <= 0)
        return NULL;
    w = (wchar_t *)ior__malloc((size_t)n * sizeof(wchar_t));
    if (w != NULL && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) <= 0) {
        ior__free(w);
        w = NULL;
    }
    return w;
}

/* ------------------------------------------------------------------ */
/* The caller's CA file                                                */
/* ------------------------------------------------------------------ */

static int read_file(const char *path, bytes_t *out)
{
    wchar_t *w = wide(path);
    HANDLE h;
    DWORD got;
    char buf[16384];
    int r = 0;

    if (w == NULL)
        return IOR_ENOMEM;
    h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    ior__free(w);
    if (h == INVALID_HANDLE_VALUE)
        return IOR_ENOENT;
    while (r == 0 && ReadFile(h, buf, (DWORD)sizeof(buf), &got, NULL) &&
           got > 0)
        r = bytes_add(out, buf, got);
    CloseHandle(h);
    return r;
}

/* Every PEM certificate of path into a memory store; NULL on failure. */
static HCERTSTORE load_cas(const char *path, char *why, size_t why_len)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    bytes_t f = {NULL, 0, 0};
    HCERTSTORE store = NULL;
    const char *p;
    const char *stop;
    int found = 0;

    if (read_file(path, &f) != 0 || bytes_add(&f, "", 1) != 0) {
        (void)snprintf(why, why_len, "cannot read the CA file %s", path);
        ior__free(f.p);
        return NULL;
    }
    store = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, 0, NULL);
    p = (const char *)f.p;
    while (store != NULL && (p = strstr(p, begin)) != NULL &&
           (stop = strstr(p, end)) != NULL) {
        DWORD der_len = 0;
        BYTE *der;
        DWORD pem_len = (DWORD)(stop + sizeof(end) - 1 - p);

        if (!CryptStringToBinaryA(p, pem_len, CRYPT_STRING_BASE64HEADER, NULL,
                                  &der_len, NULL, NULL))
            break;
        der = (BYTE *)ior__malloc(der_len);
        if (der != NULL &&
            CryptStringToBinaryA(p, pem_len, CRYPT_STRING_BASE64HEADER, der,
                                 &der_len, NULL, NULL) &&
            CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, der,
                                             der_len, CERT_STORE_ADD_ALWAYS,
                                             NULL))
            found++;
        ior__free(der);
        p = stop + sizeof(end) - 1;
    }
    ior__free(f.p);
    if (store != NULL && found > 0)
        return store;
    if (store != NULL)
        CertCloseStore(store, 0);
    (void)snprintf(why, why_len, "no certificate in the CA file %s", path);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */
/* ------------------------------------------------------------------ */

/* The root of the chain is one of the caller's CAs. */
static int root_is_ours(const ior__tlse_t *e, PCCERT_CHAIN_CONTEXT chain)
{
    PCERT_SIMPLE_CHAIN simple;
    PCCERT_CONTEXT root;
    PCCERT_CONTEXT found;

    if (chain->cChain == 0)
        return 0;
    simple = chain->rgpChain[0];
    if (simple->cElement == 0)
        return 0;
    root = simple->rgpElement[simple->cElement - 1]->pCertContext;
    found = CertFindCertificateInStore(e->ca, X509_ASN_ENCODING, 0,
                                       CERT_FIND_EXISTING, root, NULL);
    if (found == NULL)
        return 0;
    CertFreeCertificateContext(found);
    return 1;
}

/* What a policy or chain error means, in OpenSSL's words. */
static const char *cert_words(DWORD err)
{
    switch (err) {
    case (DWORD)CERT_E_CN_NO_MATCH:
        return "hostname mismatch";
    case (DWORD)CERT_E_EXPIRED:
        return "certificate has expired";
    case (DWORD)CERT_E_UNTRUSTEDROOT:
    case (DWORD)CERT_E_CHAINING:
        return "unable to get local issuer certificate";
    case (DWORD)CERT_E_WRONG_USAGE:
        return "unsupported certificate purpose";
    case (DWORD)CRYPT_E_REVOKED:
        return "certificate revoked";
    default:
        return "certificate verify failed";
    }
}

static int verify_chain(ior__tlse_t *e, PCCERT_CONTEXT cert)
{
    static LPSTR server_auth[] = {(LPSTR)szOID_PKIX_KP_SERVER_AUTH};
    CERT_CHAIN_PARA para;
    CERT_CHAIN_POLICY_PARA pol;
    CERT_CHAIN_POLICY_STATUS status;
    SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl;
    PCCERT_CHAIN_CONTEXT chain = NULL;
    HCERTSTORE extra = cert->hCertStore;
    HCERTSTORE both = NULL;
    DWORD bits;
    DWORD err = 0;

    if (e->ca != NULL) {
        /* The peer's intermediates and the caller's CAs together. */
        both = CertOpenStore(CERT_STORE_PROV_COLLECTION, 0, 0, 0, NULL);
        if (both == NULL ||
            !CertAddStoreToCollection(both, cert->hCertStore, 0, 0) ||
            !CertAddStoreToCollection(both, e->ca, 0, 0)) {
            if (both != NULL)
                CertCloseStore(both, 0);
            set_why(e, IOR_ETLS, "certificate store", (long)GetLastError());
            return -1;
        }
        extra = both;
    }
    memset(&para, 0, sizeof(para));
    para.cbSize = sizeof(para);
    para.RequestedUsage.dwType = USAGE_MATCH_TYPE_AND;
    para.RequestedUsage.Usage.cUsageIdentifier = 1;
    para.RequestedUsage.Usage.rgpszUsageIdentifier = server_auth;
    if (!CertGetCertificateChain(NULL, cert, NULL, extra, &para, 0, NULL,
                                 &chain)) {
        err = GetLastError();
        if (both != NULL)
            CertCloseStore(both, 0);
        set_why(e, IOR_ECERT, "certificate: certificate verify failed",
                (long)err);
        return -1;
    }
    /*
     * The chain's own verdict first, not only the policy's: Wine 8's SSL
     * policy passes a chain to an unknown root (seen here with the system
     * store), Windows' does not. Revocation is not asked for.
     */
    bits = chain->TrustStatus.dwErrorStatus &
           ~(DWORD)(CERT_TRUST_REVOCATION_STATUS_UNKNOWN |
                    CERT_TRUST_IS_OFFLINE_REVOCATION);
    if (e->ca != NULL)
        bits &= ~(DWORD)CERT_TRUST_IS_UNTRUSTED_ROOT; /* checked below */
    if (bits & CERT_TRUST_IS_NOT_TIME_VALID)
        err = (DWORD)CERT_E_EXPIRED;
    else if (e->ca != NULL && !root_is_ours(e, chain))
        err = (DWORD)CERT_E_UNTRUSTEDROOT;
    else if (bits & (CERT_TRUST_IS_UNTRUSTED_ROOT | CERT_TRUST_IS_PARTIAL_CHAIN))
        err = (DWORD)CERT_E_UNTRUSTEDROOT;
    else if (bits != 0)
        err = (DWORD)CERT_E_CHAINING;
    if (err == 0) {
        memset(&ssl, 0, sizeof(ssl));
        ssl.cbSize = sizeof(ssl);
        ssl.dwAuthType = AUTHTYPE_SERVER;
        ssl.pwszServerName = e->name;
        memset(&pol, 0, sizeof(pol));
        pol.cbSize = sizeof(pol);
        pol.pvExtraPolicyPara = &ssl;
        /* With the caller's CAs the root was checked above. */
        if (e->ca != NULL)
            pol.dwFlags = CERT_CHAIN_POLICY_ALLOW_UNKNOWN_CA_FLAG;
        memset(&status, 0, sizeof(status));
        status.cbSize = sizeof(status);
        if (!CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain,
                                              &pol, &status))
            err = GetLastError();
        else
            err = status.dwError;
    }
    CertFreeCertificateChain(chain);
    if (both != NULL)
        CertCloseStore(both, 0);
    if (err == 0)
        return 0;
    e->code = IOR_ECERT;
    (void)snprintf(e->why, sizeof(e->why), "certificate: %s",
                   cert_words(err));
    return -1;
}

static int verify_peer(ior__tlse_t *e)
{
    PCCERT_CONTEXT cert = NULL;
    SECURITY_STATUS st;
    int r;

    if (e->insecure)
        return 0;
    st = QueryContextAttributesW(&e->ctx, SECPKG_ATTR_REMOTE_CERT_CONTEXT,
                                 (void *)&cert);
    if (st != SEC_E_OK || cert == NULL) {
        set_why(e, IOR_ECERT, "certificate: the peer sent none", (long)st);
        return -1;
    }
    r = verify_chain(e, cert);
    CertFreeCertificateContext(cert);
    return r;
}

/* ------------------------------------------------------------------ */
/* A server's certificate and key                                      */
/* ------------------------------------------------------------------ */

/* The DER of the first PEM block of this kind in path, or NULL. */
static BYTE *pem_block(const char *path, const char *kind, DWORD *len)
{
    char begin[64];
    char end[64];
    bytes_t f = {NULL, 0, 0};
    const char *p;
    const char *q;
    BYTE *der = NULL;
    DWORD n = 0;

    (void)snprintf(begin, sizeof(begin), "-----BEGIN %s-----", kind);
    (void)snprintf(end, sizeof(end), "-----END %s-----", kind);
    if (read_file(path, &f) != 0 || bytes_add(&f, "", 1) != 0) {
        ior__free(f.p);
        return NULL;
    }
    p = strstr((const char *)f.p, begin);
    q = p != NULL ? strstr(p, end) : NULL;
    if (q != NULL) {
        DWORD pem_len = (DWORD)(q + strlen(end) - p);
        if (CryptStringToBinaryA(p, pem_len, CRYPT_STRING_BASE64HEADER, NULL,
                                 &n, NULL, NULL) &&
            (der = (BYTE *)ior__malloc(n)) != NULL &&
            !CryptStringToBinaryA(p, pem_len, CRYPT_STRING_BASE64HEADER, der,
                                  &n, NULL, NULL)) {
            ior__free(der);
            der = NULL;
        }
    }
    ior__free(f.p);
    *len = n;
    return der;
}

/* "ior-tls-" and the certificate's SHA-1 in hex: one key per pair. */
static void key_name(PCCERT_CONTEXT cert, wchar_t *out, size_t cap)
{
    BYTE sha[20];
    DWORD n = sizeof(sha);
    size_t i;
    int at;

    at = swprintf(out, cap, L"ior-tls-");
    if (!CertGetCertificateContextProperty(cert, CERT_SHA1_HASH_PROP_ID, sha,
                                           &n))
        n = 0;
    for (i = 0; i < n && at + 2 < (int)cap; i++)
        at += swprintf(out + at, cap - (size_t)at, L"%02x", sha[i]);
}

/* A PKCS#12 file: its certificate that has a key (imported, persisted). */
static int load_pfx(ior__tlse_t *e, const ior_tls_options_t *o, char *why,
                    size_t why_len)
{
    bytes_t f = {NULL, 0, 0};
    CRYPT_DATA_BLOB blob;
    HCERTSTORE store = NULL;
    PCCERT_CONTEXT c = NULL;
    wchar_t *pw = wide(o->pfx_password != NULL ? o->pfx_password : "");
    DWORD n;

    if (pw != NULL && read_file(o->pfx_file, &f) == 0) {
        blob.cbData = (DWORD)f.len;
        blob.pbData = f.p;
        store = PFXImportCertStore(&blob, pw, CRYPT_USER_KEYSET);
    }
    while (store != NULL &&
           (c = CertEnumCertificatesInStore(store, c)) != NULL) {
        n = 0;
        if (CertGetCertificateContextProperty(c, CERT_KEY_PROV_INFO_PROP_ID,
                                              NULL, &n)) {
            e->cert = CertDuplicateCertificateContext(c);
            CertFreeCertificateContext(c);
            break;
        }
    }
    if (store != NULL)
        CertCloseStore(store, 0);
    if (pw != NULL) {
        SecureZeroMemory(pw, wcslen(pw) * sizeof(wchar_t));
        ior__free(pw);
    }
    ior__free(f.p);
    if (e->cert != NULL)
        return 0;
    (void)snprintf(why, why_len,
                   "no certificate with a key in %s (or a wrong password)",
                   o->pfx_file);
    return -1;
}

/* The first certificate in CurrentUser\My whose subject has the text. */
static int load_from_store(ior__tlse_t *e, const ior_tls_options_t *o,
                           char *why, size_t why_len)
{
    wchar_t *subject = wide(o->store_subject);
    HCERTSTORE store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                     CERT_SYSTEM_STORE_CURRENT_USER |
                                         CERT_STORE_READONLY_FLAG,
                                     L"MY");

    if (store != NULL && subject != NULL)
        e->cert = CertFindCertificateInStore(store, X509_ASN_ENCODING, 0,
                                             CERT_FIND_SUBJECT_STR_W, subject,
                                             NULL);
    if (store != NULL)
        CertCloseStore(store, 0);
    ior__free(subject);
    if (e->cert != NULL)
        return 0;
    (void)snprintf(why, why_len,
                   "no certificate with \"%s\" in its subject in the user's "
                   "personal store", o->store_subject);
    return -1;
}

static int load_server_cert(ior__tlse_t *e, const ior_tls_options_t *o,
                            char *why, size_t why_len)
{
    NCRYPT_PROV_HANDLE prov = 0;
    NCRYPT_KEY_HANDLE key = 0;
    NCryptBuffer nb;
    NCryptBufferDesc nd;
    CRYPT_KEY_PROV_INFO kpi;
    wchar_t name[64];
    DWORD cert_len = 0;
    DWORD key_len = 0;
    BYTE *cert_der;
    BYTE *key_der;
    SECURITY_STATUS st = 0;
    int ok = 0;

    if (o->pfx_file != NULL)
        return load_pfx(e, o, why, why_len);
    if (o->store_subject != NULL)
        return load_from_store(e, o, why, why_len);
    cert_der = pem_block(o->cert_file, "CERTIFICATE", &cert_len);
    key_der = pem_block(o->key_file, "PRIVATE KEY", &key_len);

    if (cert_der == NULL)
        (void)snprintf(why, why_len, "no PEM certificate in %s",
                       o->cert_file);
    else if (key_der == NULL)
        (void)snprintf(why, why_len,
                       "no PKCS#8 PEM key (BEGIN PRIVATE KEY) in %s",
                       o->key_file);
    else if ((e->cert = CertCreateCertificateContext(
                  X509_ASN_ENCODING, cert_der, cert_len)) == NULL)
        (void)snprintf(why, why_len, "the certificate in %s is not valid",
                       o->cert_file);
    else {
        key_name(e->cert, name, sizeof(name) / sizeof(name[0]));
        nb.cbBuffer = (ULONG)((wcslen(name) + 1) * sizeof(wchar_t));
        nb.BufferType = NCRYPTBUFFER_PKCS_KEY_NAME;
        nb.pvBuffer = name;
        nd.ulVersion = NCRYPTBUFFER_VERSION;
        nd.cBuffers = 1;
        nd.pBuffers = &nb;
        st = NCryptOpenStorageProvider(&prov, MS_KEY_STORAGE_PROVIDER, 0);
        if (st == 0)
            st = NCryptImportKey(prov, 0, NCRYPT_PKCS8_PRIVATE_KEY_BLOB, &nd,
                                 &key, key_der, key_len,
                                 NCRYPT_OVERWRITE_KEY_FLAG);
        memset(&kpi, 0, sizeof(kpi));
        kpi.pwszContainerName = name;
        kpi.pwszProvName = (LPWSTR)MS_KEY_STORAGE_PROVIDER;
        if (st == 0 &&
            CertSetCertificateContextProperty(e->cert, CERT_KEY_PROV_INFO_PROP_ID,
                                              0, &kpi))
            ok = 1;
        else
            (void)snprintf(why, why_len,
                           "the key in %s could not be imported (0x%08lx)",
                           o->key_file, (unsigned long)st);
    }
    if (key != 0)
        NCryptFreeObject(key);
    if (prov != 0)
        NCryptFreeObject(prov);
    if (key_der != NULL) {
        SecureZeroMemory(key_der, key_len);
        ior__free(key_der);
    }
    ior__free(cert_der);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Credentials and the handshake                                       */
/* ------------------------------------------------------------------ */

static SECURITY_STATUS acquire(ior__tlse_t *e)
{
    SCH_CREDENTIALS sc;
    TLS_PARAMETERS tp;
    SCHANNEL_CRED old;
    TimeStamp expiry;
    SECURITY_STATUS st;
    DWORD use = e->server ? SECPKG_CRED_INBOUND : SECPKG_CRED_OUTBOUND;
    DWORD flags = e->server ? 0
                            : SCH_CRED_MANUAL_CRED_VALIDATION |
                                  SCH_CRED_NO_DEFAULT_CREDS;

    /* TLS 1.2 and 1.3 where SCH_CREDENTIALS is known. */
    memset(&sc, 0, sizeof(sc));
    memset(&tp, 0, sizeof(tp));
    tp.grbitDisabledProtocols =
        e->server ? SP_PROT_SSL2_SERVER | SP_PROT_SSL3_SERVER |
                        SP_PROT_TLS1_0_SERVER | SP_PROT_TLS1_1_SERVER
                  : SP_PROT_SSL2_CLIENT | SP_PROT_SSL3_CLIENT |
                        SP_PROT_TLS1_0_CLIENT | SP_PROT_TLS1_1_CLIENT;
    sc.dwVersion = SCH_CREDENTIALS_VERSION;
    sc.dwFlags = flags | SCH_USE_STRONG_CRYPTO;
    sc.cTlsParameters = 1;
    sc.pTlsParameters = &tp;
    if (e->server) {
        sc.cCreds = 1;
        sc.paCred = &e->cert;
    }
    st = AcquireCredentialsHandleW(NULL, (LPWSTR)UNISP_NAME_W, use, NULL,
                                   &sc, NULL, NULL, &e->cred, &expiry);
    if (st == SEC_E_OK)
        return st;
    memset(&old, 0, sizeof(old));
    old.dwVersion = SCHANNEL_CRED_VERSION;
    old.grbitEnabledProtocols =
        e->server ? SP_PROT_TLS1_2_SERVER : SP_PROT_TLS1_2_CLIENT;
    old.dwFlags = flags;
    if (e->server) {
        old.cCreds = 1;
        old.paCred = &e->cert;
    }
    return AcquireCredentialsHandleW(NULL, (LPWSTR)UNISP_NAME_W, use, NULL,
                                     &old, NULL, NULL, &e->cred, &expiry);
}

/* The ALPN list as SChannel's input buffer. */
static int alpn_setup(ior__tlse_t *e, const char *const *names)
{
    SEC_APPLICATION_PROTOCOLS *ap = (SEC_APPLICATION_PROTOCOLS *)e->alpn_buf;
    SEC_APPLICATION_PROTOCOL_LIST *list = &ap->ProtocolLists[0];
    size_t off = 0;
    size_t i;

    if (names == NULL || names[0] == NULL)
        return 0;
    for (i = 0; names[i] != NULL; i++) {
        size_t n = strlen(names[i]);
        size_t room = sizeof(e->alpn_buf) -
                      offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists) -
                      offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtocolList);
        if (n == 0 || n > 255 || off + 1 + n > room)
            return -1;
        list->ProtocolList[off++] = (unsigned char)n;
        memcpy(list->ProtocolList + off, names[i], n);
        off += n;
    }
    list->ProtoNegoExt = SecApplicationProtocolNegotiationExt_ALPN;
    list->ProtocolListSize = (unsigned short)off;
    ap->ProtocolListsSize =
        (unsigned long)(offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtocolList) +
                        off);
    e->alpn_len =
        (unsigned long)(offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists) +
                        ap->ProtocolListsSize);
    return 0;
}

void ior__tlse_free(ior__tlse_t *e)
{
    if (e == NULL)
        return;
    if (e->have_ctx)
        DeleteSecurityContext(&e->ctx);
    if (e->have_cred)
        FreeCredentialsHandle(&e->cred);
    if (e->ca != NULL)
        CertCloseStore(e->ca, 0);
    if (e->cert != NULL)
        CertFreeCertificateContext(e->cert);
    ior__free(e->name);
    ior__free(e->in.p);
    ior__free(e->out.p);
    ior__free(e->plain.p);
    ior__free(e);
}

int ior__tlse_new(const ior_tls_options_t *o, ior__tlse_t **out, char *why,
                  size_t why_len)
{
    ior__tlse_t *e;
    SECURITY_STATUS st;

    *out = NULL;
    e = (ior__tlse_t *)ior__calloc(1, sizeof(*e));
    if (e == NULL)
        return IOR_ENOMEM;
    e->under_wine = ior__iocp_under_wine();
    e->server = o->server;
    if (o->server && load_server_cert(e, o, why, why_len) != 0) {
        ior__tlse_free(e);
        return IOR_ETLS;
    }
    e->insecure = o->insecure;
    if (alpn_setup(e, o->alpn) != 0) {
        ior__tlse_free(e);
        (void)snprintf(why, why_len, "ALPN list too long or has empty names");
        return IOR_EINVAL;
    }
    if (o->server_name != NULL && o->server_name[0] != '\0' &&
        (e->name = wide(o->server_name)) == NULL) {
        ior__tlse_free(e);
        return IOR_ENOMEM;
    }
    if (o->ca_file != NULL && !o->insecure &&
        (e->ca = load_cas(o->ca_file, why, why_len)) == NULL) {
        ior__tlse_free(e);
        return IOR_ETLS;
    }
    st = acquire(e);
    if (st != SEC_E_OK) {
        (void)snprintf(why, why_len,
                       "SChannel refused the credentials (0x%08lx)",
                       (unsigned long)st);
        ior__tlse_free(e);
        return IOR_ETLS;
    }
    e->have_cred = 1;
    *out = e;
    return 0;
}

int ior__tlse_feed(ior__tlse_t *e, const void *data, size_t len)
{
    return bytes_add(&e->in, data, len);
}

#define ISC_FLAGS                                                          \
    (ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT |                     \
     ISC_REQ_CONFIDENTIALITY | ISC_REQ_ALLOCATE_MEMORY | ISC_REQ_STREAM |  \
     ISC_REQ_EXTENDED_ERROR | ISC_REQ_MANUAL_CRED_VALIDATION)

/* Appends SChannel's output token to `out` and frees it. */
static int take_token(ior__tlse_t *e, SecBuffer *b)
{
    int r = 0;

    if (b->pvBuffer != NULL && b->cbBuffer > 0)
        r = bytes_add(&e->out, b->pvBuffer, b->cbBuffer);
    if (b->pvBuffer != NULL)
        FreeContextBuffer(b->pvBuffer);
    b->pvBuffer = NULL;
    b->cbBuffer = 0;
    return r;
}

/*
 * What a handshake call left: its token and alert for the peer, and, when
 * it was given `in`, the input it did not use (SECBUFFER_EXTRA) kept.
 */
static SECURITY_STATUS after_hs_call(ior__tlse_t *e, SECURITY_STATUS st,
                                     SecBuffer out[2], const SecBuffer *extra,
                                     int had_input)
{
    if (take_token(e, &out[0]) != 0)
        st = SEC_E_INSUFFICIENT_MEMORY;
    if (out[1].pvBuffer != NULL) {
        (void)bytes_add(&e->out, out[1].pvBuffer, out[1].cbBuffer);
        FreeContextBuffer(out[1].pvBuffer);
    }
    if (had_input && st != SEC_E_INCOMPLETE_MESSAGE) {
        if (extra->BufferType == SECBUFFER_EXTRA)
            bytes_keep_tail(&e->in, extra->cbBuffer);
        else
            e->in.len = 0;
    }
    return st;
}

/* One InitializeSecurityContext over what `in` holds. */
static SECURITY_STATUS isc_once(ior__tlse_t *e, int first)
{
    SecBuffer inb[2];
    SecBuffer outb[2];
    SecBufferDesc ind;
    SecBufferDesc outd;
    unsigned long attrs = 0;
    TimeStamp expiry;
    SECURITY_STATUS st;

    memset(inb, 0, sizeof(inb));
    memset(outb, 0, sizeof(outb));
    if (first) {
        inb[0].BufferType = SECBUFFER_APPLICATION_PROTOCOLS;
        inb[0].pvBuffer = e->alpn_buf;
        inb[0].cbBuffer = e->alpn_len;
    } else {
        inb[0].BufferType = SECBUFFER_TOKEN;
        inb[0].pvBuffer = e->in.p;
        inb[0].cbBuffer = (unsigned long)e->in.len;
    }
    inb[1].BufferType = SECBUFFER_EMPTY;
    ind.ulVersion = SECBUFFER_VERSION;
    ind.cBuffers = 2;
    ind.pBuffers = inb;
    outb[0].BufferType = SECBUFFER_TOKEN;
    outb[1].BufferType = SECBUFFER_ALERT;
    outd.ulVersion = SECBUFFER_VERSION;
    outd.cBuffers = 2;
    outd.pBuffers = outb;
    st = InitializeSecurityContextW(
        &e->cred, first ? NULL : &e->ctx, e->name, ISC_FLAGS, 0, 0,
        (first && e->alpn_len == 0) ? NULL : &ind, 0,
        first ? &e->ctx : NULL, &outd, &attrs, &expiry);
    if (first && (st == SEC_I_CONTINUE_NEEDED || st == SEC_E_OK))
        e->have_ctx = 1;
    return after_hs_call(e, st, outb, &inb[1], !first);
}

#define ASC_FLAGS                                                          \
    (ASC_REQ_SEQUENCE_DETECT | ASC_REQ_REPLAY_DETECT |                     \
     ASC_REQ_CONFIDENTIALITY | ASC_REQ_ALLOCATE_MEMORY | ASC_REQ_STREAM |  \
     ASC_REQ_EXTENDED_ERROR)

/* One AcceptSecurityContext over what `in` holds (the server's side). */
static SECURITY_STATUS asc_once(ior__tlse_t *e)
{
    SecBuffer inb[3];
    SecBuffer outb[2];
    SecBufferDesc ind;
    SecBufferDesc outd;
    unsigned long attrs = 0;
    TimeStamp expiry;
    SECURITY_STATUS st;
    int first = !e->have_ctx;

    memset(inb, 0, sizeof(inb));
    memset(outb, 0, sizeof(outb));
    inb[0].BufferType = SECBUFFER_TOKEN;
    inb[0].pvBuffer = e->in.p;
    inb[0].cbBuffer = (unsigned long)e->in.len;
    inb[1].BufferType = SECBUFFER_EMPTY;
    inb[2].BufferType = SECBUFFER_APPLICATION_PROTOCOLS;
    inb[2].pvBuffer = e->alpn_buf;
    inb[2].cbBuffer = e->alpn_len;
    ind.ulVersion = SECBUFFER_VERSION;
    ind.cBuffers = e->alpn_len > 0 ? 3 : 2;
    ind.pBuffers = inb;
    outb[0].BufferType = SECBUFFER_TOKEN;
    outb[1].BufferType = SECBUFFER_ALERT;
    outd.ulVersion = SECBUFFER_VERSION;
    outd.cBuffers = 2;
    outd.pBuffers = outb;
    st = AcceptSecurityContext(&e->cred, first ? NULL : &e->ctx, &ind,
                               ASC_FLAGS, 0, first ? &e->ctx : NULL, &outd,
                               &attrs, &expiry);
    if (first && (st == SEC_I_CONTINUE_NEEDED || st == SEC_E_OK))
        e->have_ctx = 1;
    return after_hs_call(e, st, outb, &inb[1], 1);
}

/* The next handshake call of our side, over what `in` holds. */
static SECURITY_STATUS hs_once(ior__tlse_t *e)
{
    return e->server ? asc_once(e) : isc_once(e, 0);
}

static const char *protocol_name(DWORD p)
{
    if (p & (SP_PROT_TLS1_3_CLIENT | SP_PROT_TLS1_3_SERVER))
        return "TLSv1.3";
    if (p & (SP_PROT_TLS1_2_CLIENT | SP_PROT_TLS1_2_SERVER))
        return "TLSv1.2";
    return "TLS";
}

static void learn_info(ior__tlse_t *e)
{
    SecPkgContext_ConnectionInfo ci;
    SecPkgContext_CipherInfo cipher;
    SecPkgContext_ApplicationProtocol ap;

    (void)snprintf(e->version, sizeof(e->version), "TLS");
    (void)snprintf(e->cipher, sizeof(e->cipher), "unknown");
    if (QueryContextAttributesW(&e->ctx, SECPKG_ATTR_CONNECTION_INFO, &ci) ==
        SEC_E_OK)
        (void)snprintf(e->version, sizeof(e->version), "%s",
                       protocol_name(ci.dwProtocol));
    memset(&cipher, 0, sizeof(cipher));
    if (QueryContextAttributesW(&e->ctx, SECPKG_ATTR_CIPHER_INFO, &cipher) ==
            SEC_E_OK &&
        cipher.szCipherSuite[0] != 0)
        (void)WideCharToMultiByte(CP_UTF8, 0, cipher.szCipherSuite, -1,
                                  e->cipher, (int)sizeof(e->cipher), NULL,
                                  NULL);
    e->alpn[0] = '\0';
    memset(&ap, 0, sizeof(ap));
    if (e->alpn_len > 0 &&
        QueryContextAttributesW(&e->ctx, SECPKG_ATTR_APPLICATION_PROTOCOL,
                                &ap) == SEC_E_OK &&
        ap.ProtoNegoStatus == SecApplicationProtocolNegotiationStatus_Success) {
        /* ProtocolIdSize is at most 255: e->alpn holds it and the NUL. */
        memcpy(e->alpn, ap.ProtocolId, ap.ProtocolIdSize);
        e->alpn[ap.ProtocolIdSize] = '\0';
    }
}

int ior__tlse_step(ior__tlse_t *e)
{
    SECURITY_STATUS st;

    if (e->done)
        return IOR__TLSE_DONE;
    if (!e->have_ctx && !e->server) {
        st = isc_once(e, 1);
        if (st != SEC_I_CONTINUE_NEEDED) {
            set_why(e, IOR_ETLS, "the TLS handshake could not start",
                    (long)st);
            return IOR__TLSE_FAILED;
        }
    }
    while (e->in.len > 0) {
        st = hs_once(e);
        if (st == SEC_E_INCOMPLETE_MESSAGE)
            return IOR__TLSE_AGAIN;
        if (st == SEC_I_CONTINUE_NEEDED)
            continue;
        if (st != SEC_E_OK) {
            set_why(e, IOR_ETLS, "TLS handshake failed", (long)st);
            return IOR__TLSE_FAILED;
        }
        if (QueryContextAttributesW(&e->ctx, SECPKG_ATTR_STREAM_SIZES,
                                    &e->sizes) != SEC_E_OK) {
            set_why(e, IOR_ETLS, "SChannel gave no record sizes", 0);
            return IOR__TLSE_FAILED;
        }
        if (!e->server && verify_peer(e) != 0)
            return IOR__TLSE_FAILED;
        learn_info(e);
        e->done = 1;
        return IOR__TLSE_DONE;
    }
    return IOR__TLSE_AGAIN;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */
/* ------------------------------------------------------------------ */

/* A TLS 1.3 post-handshake message (or a renegotiation) is handshake. */
static int renegotiate(ior__tlse_t *e)
{
    SECURITY_STATUS st;

    do {
        st = hs_once(e);
    } while (st == SEC_I_CONTINUE_NEEDED && e->in.len > 0);
    if (st == SEC_E_OK || st == SEC_I_CONTINUE_NEEDED ||
        st == SEC_E_INCOMPLETE_MESSAGE)
        return 0;
    set_why(e, IOR_ETLS, "TLS post-handshake message failed", (long)st);
    return -1;
}

/* Decrypts records from `in` into `plain` until one gives data. */
static int decrypt_some(ior__tlse_t *e)
{
    while (e->in.len > 0 && !e->closed) {
        SecBuffer b[4];
        SecBufferDesc d;
        SECURITY_STATUS st;
        SecBuffer *data = NULL;
        SecBuffer *extra = NULL;
        int i;

        memset(b, 0, sizeof(b));
        b[0].BufferType = SECBUFFER_DATA;
        b[0].pvBuffer = e->in.p;
        b[0].cbBuffer = (unsigned long)e->in.len;
        b[1].BufferType = b[2].BufferType = b[3].BufferType = SECBUFFER_EMPTY;
        d.ulVersion = SECBUFFER_VERSION;
        d.cBuffers = 4;
        d.pBuffers = b;
        st = DecryptMessage(&e->ctx, &d, 0, NULL);
        if (st == SEC_E_INCOMPLETE_MESSAGE)
            return 0;
        if (st == SEC_I_CONTEXT_EXPIRED) {
            e->closed = 1;
            return 0;
        }
        if (st != SEC_E_OK && st != SEC_I_RENEGOTIATE) {
            set_why(e, IOR_ETLS, "TLS record could not be decrypted",
                    (long)st);
            return -1;
        }
        for (i = 1; i < 4; i++) {
            if (b[i].BufferType == SECBUFFER_DATA && data == NULL)
                data = &b[i];
            if (b[i].BufferType == SECBUFFER_EXTRA && extra == NULL)
                extra = &b[i];
        }
        if (data != NULL && data->cbBuffer > 0 &&
            bytes_add(&e->plain, data->pvBuffer, data->cbBuffer) != 0) {
            set_why(e, IOR_ENOMEM, "out of memory", 0);
            return -1;
        }
        if (st == SEC_E_OK && e->under_wine && extra == NULL &&
            (data == NULL || data->cbBuffer == 0))
            e->closed = 1; /* Wine's form of close_notify (header) */
        if (extra != NULL)
            bytes_keep_tail(&e->in, extra->cbBuffer);
        else
            e->in.len = 0;
        if (st == SEC_I_RENEGOTIATE && renegotiate(e) != 0)
            return -1;
        if (e->plain.len > e->plain_off)
            return 0;
    }
    return 0;
}

long ior__tlse_read(ior__tlse_t *e, void *buf, size_t cap)
{
    size_t n;

    if (e->plain.len == e->plain_off) {
        e->plain.len = e->plain_off = 0;
        if (decrypt_some(e) != 0)
            return IOR__TLSE_FAILED;
    }
    n = e->plain.len - e->plain_off;
    if (n == 0)
        return e->closed ? IOR__TLSE_CLOSED : IOR__TLSE_AGAIN;
    if (n > cap)
        n = cap;
    memcpy(buf, e->plain.p + e->plain_off, n);
    e->plain_off += n;
    return (long)n;
}

long ior__tlse_write(ior__tlse_t *e, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;

    while (left > 0) {
        size_t n = left > e->sizes.cbMaximumMessage ? e->sizes.cbMaximumMessage
                                                    : left;
        size_t room = e->sizes.cbHeader + n + e->sizes.cbTrailer;
        SecBuffer b[4];
        SecBufferDesc d;
        SECURITY_STATUS st;
        unsigned char *rec;

        if (bytes_reserve(&e->out, room) != 0) {
            set_why(e, IOR_ENOMEM, "out of memory", 0);
            return IOR__TLSE_FAILED;
        }
        rec = e->out.p + e->out.len;
        memcpy(rec + e->sizes.cbHeader, p, n);
        memset(b, 0, sizeof(b));
        b[0].BufferType = SECBUFFER_STREAM_HEADER;
        b[0].pvBuffer = rec;
        b[0].cbBuffer = e->sizes.cbHeader;
        b[1].BufferType = SECBUFFER_DATA;
        b[1].pvBuffer = rec + e->sizes.cbHeader;
        b[1].cbBuffer = (unsigned long)n;
        b[2].BufferType = SECBUFFER_STREAM_TRAILER;
        b[2].pvBuffer = rec + e->sizes.cbHeader + n;
        b[2].cbBuffer = e->sizes.cbTrailer;
        b[3].BufferType = SECBUFFER_EMPTY;
        d.ulVersion = SECBUFFER_VERSION;
        d.cBuffers = 4;
        d.pBuffers = b;
        st = EncryptMessage(&e->ctx, 0, &d, 0);
        if (st != SEC_E_OK) {
            set_why(e, IOR_ETLS, "TLS record could not be encrypted",
                    (long)st);
            return IOR__TLSE_FAILED;
        }
        e->out.len += b[0].cbBuffer + b[1].cbBuffer + b[2].cbBuffer;
        p += n;
        left -= n;
    }
    return (long)len;
}

void ior__tlse_close_notify(ior__tlse_t *e)
{
    DWORD type = SCHANNEL_SHUTDOWN;
    SecBuffer b;
    SecBuffer outb;
    SecBufferDesc d;
    SecBufferDesc outd;
    unsigned long attrs = 0;
    TimeStamp expiry;

    if (!e->have_ctx)
        return;
    b.BufferType = SECBUFFER_TOKEN;
    b.pvBuffer = &type;
    b.cbBuffer = sizeof(type);
    d.ulVersion = SECBUFFER_VERSION;
    d.cBuffers = 1;
    d.pBuffers = &b;
    if (ApplyControlToken(&e->ctx, &d) != SEC_E_OK)
        return;
    /* The alert itself comes out of one more call, with no input. */
    memset(&outb, 0, sizeof(outb));
    outb.BufferType = SECBUFFER_TOKEN;
    outd.ulVersion = SECBUFFER_VERSION;
    outd.cBuffers = 1;
    outd.pBuffers = &outb;
    if (e->server)
        (void)AcceptSecurityContext(&e->cred, &e->ctx, NULL, ASC_FLAGS, 0,
                                    NULL, &outd, &attrs, &expiry);
    else
        (void)InitializeSecurityContextW(&e->cred, &e->ctx, e->name,
                                         ISC_FLAGS, 0, 0, NULL, 0, NULL,
                                         &outd, &attrs, &expiry);
    (void)take_token(e, &outb);
}

size_t ior__tlse_pull(ior__tlse_t *e, void *buf, size_t cap)
{
    size_t n = e->out.len < cap ? e->out.len : cap;

    if (n == 0)
        return 0;
    memcpy(buf, e->out.p, n);
    memmove(e->out.p, e->out.p + n, e->out.len - n);
    e->out.len -= n;
    return n;
}

void ior__tlse_info(ior__tlse_t *e, ior_tls_info_t *info)
{
    info->version = e->version;
    info->cipher = e->cipher;
    info->alpn = e->alpn[0] != '\0' ? e->alpn : NULL;
}

int ior__tlse_error(ior__tlse_t *e, char *why, size_t why_len)
{
    (void)snprintf(why, why_len, "%s", e->why);
    return e->code != 0 ? e->code : IOR_ETLS;
}
