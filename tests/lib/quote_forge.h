/* TDX v4 quotes (protocol.md §5.1) signed by keys a test controls: the signed header + TD report
 * body, the attestation key, a QE report binding it (SHA-256(att_key || auth data)), the QE
 * report signed by a "PCK" key, and a PEM certificate chain — the same layout Intel's quotes
 * have, so dstack_tdx_quote_verify() can be exercised with test PKIs and forgeries. */
#ifndef DSTACK_TEST_QUOTE_FORGE_H
#define DSTACK_TEST_QUOTE_FORGE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define QF_SIGNED_LEN 632 /* header + TD report body */
#define QF_OFF_SIG 636
#define QF_OFF_ATT_KEY (QF_OFF_SIG + 64)
#define QF_OFF_CERT_TYPE (QF_OFF_SIG + 128)
#define QF_OFF_QE_REPORT (QF_OFF_CERT_TYPE + 6)
#define QF_OFF_QE_SIG (QF_OFF_QE_REPORT + 384)
#define QF_OFF_AUTH_LEN (QF_OFF_QE_SIG + 64)
#define QF_OFF_AUTH (QF_OFF_AUTH_LEN + 2)
#define QF_AUTH_LEN 32 /* as in Intel's quotes */
#define QF_OFF_INNER_TYPE (QF_OFF_AUTH + QF_AUTH_LEN)
#define QF_OFF_PEM (QF_OFF_INNER_TYPE + 6)

/* The certificates as one PEM text (malloc'd). */
char *qf_pem_of(X509 *const *certs, int n);
/* ECDSA-P256/SHA-256 signature as raw r||s. */
void qf_sign_raw(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t out[64]);
/* n-byte little-endian integer. */
void qf_put_le(uint8_t *p, uint32_t v, int n);
/* A quote over `signed_part` (QF_SIGNED_LEN bytes) signed by `att_key`, its QE report signed
 * by `qe_signer`, carrying `pem` (NUL included in its size, as Intel's are). malloc'd. */
uint8_t *qf_build_quote(const uint8_t *signed_part, EVP_PKEY *att_key, EVP_PKEY *qe_signer,
                        const char *pem, size_t *len);

#endif
