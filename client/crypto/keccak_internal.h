/* libdstack internal — the two Keccak implementations behind dstack_keccak_ex(), exposed so
 * tests can check both against the same vectors whatever OpenSSL the build runs on. */
#ifndef DSTACK_KECCAK_INTERNAL_H
#define DSTACK_KECCAK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/* The portable sponge (out_len 32, 48 or 64). */
bool dstack_keccak_internal(const uint8_t *data, size_t len, uint8_t *out, size_t out_len);
/* OpenSSL's KECCAK-<bits> from libctx; false when the library does not have it (< 3.2). */
bool dstack_keccak_openssl(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t *data, size_t len,
                           uint8_t *out, size_t out_len);

#endif
