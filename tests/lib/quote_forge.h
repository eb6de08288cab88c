/* TDX v4 quotes (protocol.md §5.1) signed by keys a test controls: the signed header + TD report
 * body, the attestation key, a QE report binding it (SHA-256(att_key || auth data)), the QE
 * report signed by a "PCK" key, and a PEM certificate chain — the same layout Intel's quotes
 * have, so dstack_tdx_quote_verify() can be exercised with test PKIs and forgeries. Also used by
 * tests/fuzz/gen_seeds.c, so nothing here needs CUnit: a failed step aborts with a message. */
#ifndef DSTACK_TEST_QUOTE_FORGE_H
#define DSTACK_TEST_QUOTE_FORGE_H

#include <stdbool.h>
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

/* Offsets in the header + TD report body (protocol.md §5.1). */
#define QF_OFF_MR_SIGNER_SEAM 112
#define QF_OFF_TD_ATTRIBUTES 168
#define QF_OFF_MRTD 184
#define QF_OFF_RTMR0 376
#define QF_OFF_RTMR3 520
#define QF_OFF_REPORT_DATA 568

/* The PCK validity of qf_pki_init (and of its CAs): 1975-01-01 .. 2049-12-31. */
#define QF_NOT_BEFORE 157766400
#define QF_NOT_AFTER 2524607999

/* Aborts with a message naming the failed condition (set-up steps that cannot fail). */
#define QF_REQUIRE(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            qf_fail(#cond, __FILE__, __LINE__);                                                    \
    } while (0)
void qf_fail(const char *what, const char *file, int line) __attribute__((noreturn));

/* A P-256 key whose scalar is 32 bytes of `seed` (seed ≠ 0): reproducible test keys. */
EVP_PKEY *qf_p256(uint8_t seed);
/* The certificates as one PEM text (malloc'd). */
char *qf_pem_of(X509 *const *certs, int n);
/* ECDSA-P256/SHA-256 signature as raw r||s. */
void qf_sign_raw(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t out[64]);
/* n-byte little-endian integer. */
void qf_put_le(uint8_t *p, uint32_t v, int n);

/* A test PKI shaped like Intel's: a root CA, an intermediate CA and a PCK leaf carrying Intel's
 * SGX extension (1.2.840.113741.1.13.1) unless !sgx_ext, plus the quote's attestation key. Keys
 * are qf_p256(seed), qf_p256(seed + 1), …; names end in "(test, not Intel)". */
typedef struct qf_pki {
    EVP_PKEY *root_key, *ca_key, *pck_key, *att_key;
    X509 *root, *ca, *pck;
    char *root_pem;  /* the trust anchor */
    char *chain_pem; /* PCK leaf, intermediate, root: what a quote carries */
} qf_pki;

void qf_pki_init(qf_pki *p, const char *root_cn, uint8_t seed, bool sgx_ext);
/* The same with the PCK leaf valid from not_before to not_after (UNIX seconds). */
void qf_pki_init_ex(qf_pki *p, const char *root_cn, uint8_t seed, bool sgx_ext, int64_t not_before,
                    int64_t not_after);
void qf_pki_free(qf_pki *p);

/* Header + TD report body of a production TDX 1.0 TD: version 4, ECDSA-P256, TEE type TDX,
 * Intel's QE vendor id, fixed TEE TCB SVN, MRSEAM, XFAM and MRTD, zero MRSIGNERSEAM, TD
 * attributes with only SEPT_VE_DISABLE (bit 28) set, then `rtmr` and `report_data` (NULL:
 * zero). */
void qf_body(uint8_t out[QF_SIGNED_LEN], const uint8_t rtmr[4][48], const uint8_t report_data[64]);

/* A quote over `signed_part` (QF_SIGNED_LEN bytes) signed by `att_key`, its QE report signed
 * by `qe_signer`, carrying `pem` (NUL included in its size, as Intel's are). malloc'd. */
uint8_t *qf_build_quote(const uint8_t *signed_part, EVP_PKEY *att_key, EVP_PKEY *qe_signer,
                        const char *pem, size_t *len);
/* The same under `p` (attestation key, PCK leaf, its chain), followed by `pad` zero bytes as
 * the TDX driver leaves them after the signature data. */
uint8_t *qf_quote(const qf_pki *p, const uint8_t *signed_part, size_t pad, size_t *len);

#endif
