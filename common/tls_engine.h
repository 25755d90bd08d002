/*
 * The TLS engine seam: what common/tls.c (the layer that keeps the
 * consumer rules) asks of a TLS library. An engine knows nothing of
 * sockets or loops: ciphertext goes in and out through memory, as with
 * OpenSSL's memory BIOs or SSPI's buffers. One engine per build, resolved
 * at link time like the backend seam: posix/tls_openssl.c,
 * iocp/tls_schannel.c, or common/tls_none.c.
 */
#ifndef IOR_TLS_ENGINE_H
#define IOR_TLS_ENGINE_H

#include "ior.h"

#include <stddef.h>

typedef struct ior__tlse ior__tlse_t;

/* Results of ior__tlse_step and ior__tlse_read (besides bytes read). */
#define IOR__TLSE_AGAIN 0     /* needs more ciphertext from the peer */
#define IOR__TLSE_DONE 1      /* step: the handshake is complete */
#define IOR__TLSE_CLOSED (-1) /* read: the peer sent close_notify */
#define IOR__TLSE_FAILED (-2) /* a failure: ior__tlse_error says which */

/* The engine's name, for ior_tls_engine(). */
const char *ior__tlse_name(void);

/*
 * A new engine for one connection, with the checked options. On failure
 * returns an IOR_E* code (IOR_ENOTSUP without an engine, IOR_ETLS for
 * options the engine refuses, IOR_ENOMEM) and writes its words to why.
 */
int ior__tlse_new(const ior_tls_options_t *o, ior__tlse_t **out, char *why,
                  size_t why_len);
void ior__tlse_free(ior__tlse_t *e);

/* Ciphertext from the peer; the engine keeps all of it. 0 or IOR_ENOMEM. */
int ior__tlse_feed(ior__tlse_t *e, const void *data, size_t len);
/* Advances the handshake: IOR__TLSE_AGAIN, _DONE or _FAILED. */
int ior__tlse_step(ior__tlse_t *e);
/*
 * After the handshake: plaintext into buf. > 0 bytes, IOR__TLSE_AGAIN (no
 * whole record yet), IOR__TLSE_CLOSED, or IOR__TLSE_FAILED.
 */
long ior__tlse_read(ior__tlse_t *e, void *buf, size_t cap);
/*
 * Encrypts len (> 0) plaintext bytes into records waiting in the engine:
 * all of them, or IOR__TLSE_FAILED.
 */
long ior__tlse_write(ior__tlse_t *e, const void *data, size_t len);
/* Queues close_notify (once). */
void ior__tlse_close_notify(ior__tlse_t *e);
/* Ciphertext waiting to go to the peer: up to cap bytes, 0 when none. */
size_t ior__tlse_pull(ior__tlse_t *e, void *buf, size_t cap);
/* After _DONE: what was agreed. */
void ior__tlse_info(ior__tlse_t *e, ior_tls_info_t *info);
/*
 * After IOR__TLSE_FAILED: IOR_ECERT for a certificate the checks refused,
 * IOR_ETLS for the rest, with the engine's words in why.
 */
int ior__tlse_error(ior__tlse_t *e, char *why, size_t why_len);

#endif /* IOR_TLS_ENGINE_H */
