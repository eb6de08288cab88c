/* libdstack — reference PEM files (architecture.md §6, a contract).
 *
 *   -----BEGIN DSTACK KEY URI-----
 *   base64( DER SEQUENCE { desc VisibleString "dstack key URI v1", uri UTF8String } )
 *   -----END DSTACK KEY URI-----
 *
 * A reference names a key by its dstack: URI and holds no secret. With the dstack provider
 * active, OpenSSL's PEM_read_bio_PrivateKey() turns it into the derived key. One ASN.1
 * definition (client/resolve/keyref.c) reads and writes it for the provider's decoder,
 * dstack-keytool and the fuzzer.
 */
#ifndef DSTACK_KEYREF_H
#define DSTACK_KEYREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

#define DSTACK_KEYREF_PEM_LABEL "DSTACK KEY URI"
#define DSTACK_KEYREF_DESCRIPTION "dstack key URI v1"
/* A reference is a URI of a few hundred bytes; anything far larger is not one. */
#define DSTACK_KEYREF_MAX_DER 16384

/* Decodes the DER payload of a reference. On success *uri is the URI (dstack_free() it). *ours
 * tells whether the input claims to be a dstack reference at all (its description starts
 * with "dstack key URI"): a failure on input that is not ours is not an error for a decoder
 * that shares its input with others. Errors are DSTACK_ERR_USAGE, saying what is wrong. */
dstack_status dstack_keyref_decode(const uint8_t *der, size_t len, char **uri, bool *ours,
                                   dstack_error *err);

/* The DER payload (dstack_free() it) and the whole PEM text (dstack_free() it) for `uri`. */
dstack_status dstack_keyref_encode(const char *uri, uint8_t **der, size_t *len, dstack_error *err);
dstack_status dstack_keyref_encode_pem(const char *uri, char **pem, dstack_error *err);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
