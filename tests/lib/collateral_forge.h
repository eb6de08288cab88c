/* Intel collateral forged under a test root (protocol.md §5.6, §5.7): a PKI shaped like Intel's
 * (root CA, TCB signing certificate, PCK platform CA, PCK leaf with the full SGX extension),
 * TDX v4/v5 quotes under it with a chosen TEE TCB SVN, TD attributes and QE report, TCB info
 * and QE identity JSON written from a spec and signed as Intel signs them, CRLs with chosen
 * revocations and dates, and the QuoteCollateralV3 JSON around them. Everything the DCAP
 * verifier decides on can be set here, so every verdict has a test without upstream data.
 * Nothing here needs CUnit (tests/fuzz/gen_seeds.c uses it too): a failed step aborts. */
#ifndef DSTACK_TEST_COLLATERAL_FORGE_H
#define DSTACK_TEST_COLLATERAL_FORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "quote_forge.h"

/* The times the forged collateral is valid around (2026-06-01 ... +30 days). */
#define CF_ISSUE 1780272000
#define CF_NEXT (CF_ISSUE + 30 * 86400)
#define CF_NOW (CF_ISSUE + 86400) /* a verification time inside every window */

/* What the PCK certificate says about the platform. */
typedef struct cf_platform {
    uint8_t cpusvn[16];
    uint16_t pcesvn;
    uint8_t fmspc[6];
    uint8_t pceid[2];
    int64_t not_before, not_after; /* of the PCK leaf */
} cf_platform;

/* cpusvn 3,3,2,2,4,1,0,5,0..., pcesvn 13, FMSPC 90C06F000000, PCE-ID 0000, valid 1975..2049. */
void cf_platform_default(cf_platform *p);

typedef struct cf_pki {
    EVP_PKEY *root_key, *tcb_key, *ca_key, *pck_key, *att_key;
    X509 *root, *tcb, *ca, *pck;
    char *root_pem;      /* the trust anchor */
    char *tcb_chain_pem; /* TCB signing, root */
    char *ca_chain_pem;  /* PCK platform CA, root */
    char *pck_chain_pem; /* PCK leaf, PCK platform CA, root */
} cf_pki;

/* Keys qf_p256(seed) … qf_p256(seed + 4); names end in "(test, not Intel)". */
void cf_pki_init(cf_pki *p, uint8_t seed, const cf_platform *plat);
void cf_pki_free(cf_pki *p);

typedef struct cf_quote_spec {
    int version;   /* 4 or 5 */
    int body_type; /* v5: 2 (TD 1.0) or 3 (TD 1.5) */
    uint8_t tee_tcb_svn[16];
    uint8_t td_attributes[8];
    uint8_t mr_signer_seam[48];
    uint8_t seam_attributes[8];
    uint8_t mr_servicetd[48]; /* TD 1.5 */
    uint8_t report_data[64];
    uint8_t rtmr[4][48];
    /* the QE report */
    uint8_t qe_mrsigner[32];
    uint16_t qe_isvprodid, qe_isvsvn;
    uint8_t qe_attributes[16];
    uint32_t qe_miscselect;
    size_t qe_auth_len; /* 32 as Intel's */
} cf_quote_spec;

/* v4, TEE_TCB_SVN 6,1,3,0,..., only SEPT_VE_DISABLE set, zero MRSIGNERSEAM, the QE of
 * cf_qe_spec_default (ISVSVN 8). */
void cf_quote_spec_default(cf_quote_spec *s);
/* A quote under `p` (attestation key, QE report signed by the PCK key, PCK chain). malloc'd. */
uint8_t *cf_quote(const cf_pki *p, const cf_quote_spec *s, size_t *len);

/* ---- signed documents -------------------------------------------------------------------------
 */
typedef struct cf_level {
    uint8_t sgx[16];
    unsigned pcesvn;
    uint8_t tdx[16];
    const char *status;
    const char *advisories; /* JSON array text ("[\"INTEL-SA-00001\"]"), NULL = no member */
} cf_level;

typedef struct cf_module_level {
    unsigned isvsvn;
    const char *status;
    const char *advisories;
} cf_module_level;

typedef struct cf_tcb_spec {
    const char *id; /* "TDX" */
    unsigned version;
    int64_t issue, next;
    const char *fmspc, *pce_id; /* hex */
    cf_level levels[8];
    size_t n_levels;
    bool no_module; /* leave tdxModule out */
    const char *module_mrsigner, *module_attributes, *module_mask;
    /* one tdxModuleIdentities entry "TDX_01" (for TEE_TCB_SVN[1] = 1) with these levels;
     * n_module_levels 0 = no identities */
    cf_module_level module_levels[4];
    size_t n_module_levels;
} cf_tcb_spec;

/* TDX, version 3, CF_ISSUE..CF_NEXT, FMSPC/PCE-ID of cf_platform_default, one level that the
 * default platform and quote reach exactly (UpToDate), a module identity TDX_01 level 5
 * (UpToDate), zero module MRSIGNER and attributes under an all-ones mask. */
void cf_tcb_spec_default(cf_tcb_spec *s);
char *cf_tcb_info_text(const cf_tcb_spec *s); /* malloc'd */

typedef struct cf_qe_level {
    unsigned isvsvn;
    const char *status;
    const char *advisories;
} cf_qe_level;

typedef struct cf_qe_spec {
    const char *id; /* "TD_QE" */
    unsigned version;
    int64_t issue, next;
    const char *mrsigner, *attributes, *attributes_mask, *miscselect, *miscselect_mask;
    unsigned isvprodid;
    cf_qe_level levels[4];
    size_t n_levels;
} cf_qe_spec;

/* TD_QE version 2, CF_ISSUE..CF_NEXT, the default quote's QE (MRSIGNER, ISVPRODID 2,
 * attributes 11… under mask FBFF…), levels ISVSVN 8 UpToDate, 4 OutOfDate. */
void cf_qe_spec_default(cf_qe_spec *s);
char *cf_qe_identity_text(const cf_qe_spec *s); /* malloc'd */

/* ---- the collateral -----------------------------------------------------------------------------
 */
typedef struct cf_collateral {
    const char *tcb_info;       /* signed as is; NULL = cf_tcb_info_text(default) */
    const char *qe_identity;    /* NULL = cf_qe_identity_text(default) */
    int64_t crl_this, crl_next; /* both CRLs; 0 = CF_ISSUE, CF_NEXT */
    X509 *root_revokes[2];      /* serials the root CA CRL lists */
    X509 *ca_revokes[2];        /* serials the PCK CRL lists */
    bool tamper_tcb_signature, tamper_qe_signature; /* flip a bit after signing */
    bool tamper_tcb_text, tamper_qe_text;           /* flip a bit of the text after signing */
    const char *pck_certificate_chain;              /* the optional field */
} cf_collateral;

/* DER of a CRL by `issuer` listing `revoked`. malloc'd. */
uint8_t *cf_crl(X509 *issuer, EVP_PKEY *key, int64_t this_update, int64_t next_update,
                X509 *const *revoked, size_t n, size_t *len);
/* The QuoteCollateralV3 JSON of `c` under `p` (NULL c: all defaults). malloc'd. */
char *cf_collateral_json(const cf_pki *p, const cf_collateral *c);

/* "YYYY-MM-DDTHH:MM:SSZ" of a UNIX time into out[21]. */
void cf_rfc3339(int64_t t, char out[21]);

#endif
