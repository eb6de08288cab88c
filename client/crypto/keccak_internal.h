/* libdstack internal — Keccak with any of TdxQuote's output sizes, and the two implementations
 * behind it, exposed so tests can check both against the same vectors whatever OpenSSL the build
 * runs on. */
#ifndef DSTACK_KECCAK_INTERNAL_H
#define DSTACK_KECCAK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/* Original Keccak with a 32-, 48- or 64-byte output (TdxQuote's keccak256/384/512, the
 * simulator); false for any other size. OpenSSL's KECCAK-<bits> from `libctx`/`propq` (NULL:
 * the default context) when it has one (3.2+), else the internal sponge with the same output. */
bool dstack_keccak(const uint8_t *data, size_t len, uint8_t *out, size_t out_len);
bool dstack_keccak_ex(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t *data, size_t len,
                      uint8_t *out, size_t out_len);

/* The portable sponge (out_len 32, 48 or 64). */
bool dstack_keccak_internal(const uint8_t *data, size_t len, uint8_t *out, size_t out_len);
/* OpenSSL's KECCAK-<bits> from libctx; false when the library does not have it (< 3.2). */
bool dstack_keccak_openssl(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t *data, size_t len,
                           uint8_t *out, size_t out_len);

#endif
