/* libdstack internal — building OpenSSL keys and certificates from raw material.
 * Shared by client/ (self-issued RA-TLS certificates), simulator/ (agent-issued chains)
 * and tools/. Not installed. */
#ifndef DSTACK_PKEY_UTIL_H
#define DSTACK_PKEY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dstack/error.h>
#include <dstack/keys.h>

/* EVP_PKEY from a 32-byte secret: P-256 / secp256k1 scalar (rejects 0 and >= n with
 * DSTACK_ERR_CRYPTO "derived scalar out of range for <curve>") or Ed25519 seed. */
dstack_status dstack_pkey_from_secret(dstack_key_alg alg, const uint8_t secret[32], EVP_PKEY **out,
                                      dstack_error *err);
/* The same in `libctx` with `propq` (NULL: OpenSSL's default context). */
dstack_status dstack_pkey_from_secret_ex(OSSL_LIB_CTX *libctx, const char *propq,
                                         dstack_key_alg alg, const uint8_t secret[32],
                                         EVP_PKEY **out, dstack_error *err);

/* PKCS#8 PrivateKeyInfo DER (free with OPENSSL_secure_clear_free, which cleanses it). */
dstack_status dstack_pkey_to_pkcs8_der(EVP_PKEY *pkey, unsigned char **der, size_t *der_len,
                                       dstack_error *err);
/* SubjectPublicKeyInfo DER (OPENSSL_free). */
dstack_status dstack_pkey_to_spki_der(EVP_PKEY *pkey, unsigned char **der, size_t *der_len,
                                      dstack_error *err);

/* A key's DER forms built from its 32-byte secret without an EVP_PKEY (crypto/key_der.c):
 * same bytes as dstack_pkey_to_pkcs8_der / dstack_pkey_to_spki_der of
 * dstack_pkey_from_secret, same range errors, but no OSSL_ENCODER fetch. */
typedef struct dstack_key_der {
    unsigned char *pkcs8; /* PrivateKeyInfo, secure heap */
    size_t pkcs8_len;
    unsigned char *spki; /* SubjectPublicKeyInfo, OPENSSL_malloc */
    size_t spki_len;
} dstack_key_der;

dstack_status dstack_key_der_from_secret(dstack_key_alg alg, const uint8_t secret[32],
                                         dstack_key_der *out, dstack_error *err);
/* The same in `libctx` with `propq` (NULL: OpenSSL's default context). */
dstack_status dstack_key_der_from_secret_ex(OSSL_LIB_CTX *libctx, const char *propq,
                                            dstack_key_alg alg, const uint8_t secret[32],
                                            dstack_key_der *out, dstack_error *err);
void dstack_key_der_free(dstack_key_der *der);

/* A non-critical extension whose extnValue is OCTET STRING { OCTET STRING payload }
 * (protocol.md §4.1 double wrapping). */
typedef struct dstack_cert_ext {
    const char *oid;
    const uint8_t *payload;
    size_t payload_len;
} dstack_cert_ext;

typedef struct dstack_cert_spec {
    const char *common_name;  /* UTF8String CN; may be "" */
    const char *organization; /* NULL → no O */
    const char *const *san;   /* IPv4/IPv6 literal → iPAddress, else dNSName */
    size_t san_len;
    bool server_auth; /* EKU entries (no EKU extension when both false) */
    bool client_auth;
    bool is_ca;         /* BasicConstraints CA:TRUE critical + keyCertSign|cRLSign, SKI */
    int ca_pathlen;     /* -1 → no pathlen */
    int64_t not_before; /* UNIX seconds */
    int64_t not_after;
    const dstack_cert_ext *exts; /* in order, after SAN/KU/EKU */
    size_t n_exts;
    /* Serial = first 20 bytes of SHA-256(raw EC point) with top bit cleared, as rcgen
     * does (protocol.md §4.6); false → 16 random bytes. */
    bool serial_from_key;
    /* Library context and property query for the digests and the signature (NULL:
     * OpenSSL's default context). */
    OSSL_LIB_CTX *libctx;
    const char *propq;
} dstack_cert_spec;

/* Builds and signs an X.509 v3 certificate. issuer_key NULL → self-signed with subject_key,
 * issuer_cert NULL → issuer name = subject name. ECDSA keys sign with SHA-256, Ed25519
 * with PureEdDSA. Leaves get KeyUsage digitalSignature (critical). */
dstack_status dstack_cert_build(const dstack_cert_spec *spec, EVP_PKEY *subject_key,
                                EVP_PKEY *issuer_key, X509 *issuer_cert, X509 **out,
                                dstack_error *err);

/* Room for the SEC1 uncompressed point of any curve OpenSSL has (P-521: 1 + 2 * 66). */
#define DSTACK_EC_POINT_MAX 133

/* The SEC1 uncompressed public point of an EC row's secret (alg->secret_len bytes), after
 * the range check of protocol.md §3.1 ("derived scalar out of range for <display>"). Shared by
 * EVP_PKEY building and crypto/key_der.c, so both compute it the same way. */
dstack_status dstack_ec_public_from_secret(OSSL_LIB_CTX *libctx, const char *propq,
                                           const dstack_alg_info *alg, const uint8_t *secret,
                                           uint8_t *pub, size_t cap, size_t *pub_len,
                                           dstack_error *err);

/* 65-byte SEC1 uncompressed public key of a secp256k1 scalar, via libsecp256k1: OpenSSL
 * has no fast path for this curve and its generic EC_POINT_mul costs ~50x more. */
dstack_status dstack_secp256k1_pubkey_uncompressed(const uint8_t secret[32],
                                                   uint8_t uncompressed[65], dstack_error *err);

#endif
