/* DCAP verification with Intel collateral (protocol.md §5.6, §5.7) on collateral forged here
 * under a test root (tests/lib/collateral_forge.h): every TCB status and the status policy,
 * the status merge and advisory-ID union, revocation of the PCK and of the intermediate, FMSPC
 * and PCE-ID mismatch, tampered TCB info / QE identity text and signatures, expired and
 * not-yet-valid collateral and certificates, the QE identity policy (ISVSVN below every level
 * included), the TDX module identity, TD attributes, v5 quotes, and bad collateral JSON.
 * test_dcap_verify_upstream: dcap-qvl's own samples give dcap-qvl's verdicts
 * (protocol.md §5.6: tdx_quote UpToDate at 2025-07-01, rejected at 2026-03-01 for its expired TCB
 * info; the v5 tdx_quote_outdated rejected at 2026-03-01 for no matching TCB level) and the
 * boundary times of its collateral. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>
#include <dstack/ratls.h>

#include "collateral_forge.h"
#include "test_util.h"

#define ALL_STATUSES 0x3fu

static const char *const statuses[] = {"UpToDate",
                                       "SWHardeningNeeded",
                                       "ConfigurationNeeded",
                                       "ConfigurationAndSWHardeningNeeded",
                                       "OutOfDate",
                                       "OutOfDateConfigurationNeeded"};

/* One verification: quote, collateral JSON, time, flags and allowed statuses. */
typedef struct run {
    dstack_quote_verify_result r;
    dstack_error err;
    dstack_status rc;
} run;

static void verify_at(run *o, const char *root_pem, const uint8_t *q, size_t len, const char *json,
                      int64_t now, unsigned flags, unsigned allowed)
{
    dstack_collateral *c = NULL;
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};

    dstack_error_clear(&o->err);
    memset(&o->r, 0, sizeof(o->r));
    o->rc = dstack_collateral_from_json(json, strlen(json), &c, &o->err);
    CU_ASSERT_EQUAL_FATAL(o->rc, DSTACK_OK);
    opts.trusted_root_pem = root_pem;
    opts.verification_time = now;
    opts.flags = flags;
    opts.collateral = c;
    opts.allowed_tcb_statuses = allowed;
    o->rc = dstack_tdx_quote_verify(q, len, &opts, &o->r, &o->err);
    if (o->rc != DSTACK_OK && getenv("TEST_VERBOSE") != NULL)
        fprintf(stderr, "  -> %s\n", o->err.message);
    dstack_collateral_free(c);
}

/* The forged world of one test: PKI, quote spec, TCB info and QE identity specs, collateral. */
typedef struct world {
    cf_pki pki;
    cf_platform plat;
    cf_quote_spec qs;
    cf_tcb_spec ts;
    cf_qe_spec es;
    cf_collateral col;
} world;

static void world_init(world *w)
{
    memset(w, 0, sizeof(*w));
    cf_platform_default(&w->plat);
    cf_pki_init(&w->pki, 0x41, &w->plat);
    cf_quote_spec_default(&w->qs);
    cf_tcb_spec_default(&w->ts);
    cf_qe_spec_default(&w->es);
}

static void world_free(world *w)
{
    cf_pki_free(&w->pki);
}

/* Verifies the world's quote with its collateral at `now`. */
static void world_run(world *w, run *o, int64_t now, unsigned flags, unsigned allowed)
{
    size_t len;
    uint8_t *q = cf_quote(&w->pki, &w->qs, &len);
    char *tcb = cf_tcb_info_text(&w->ts), *qe = cf_qe_identity_text(&w->es), *json;
    cf_collateral c = w->col;

    c.tcb_info = c.tcb_info ? c.tcb_info : tcb;
    c.qe_identity = c.qe_identity ? c.qe_identity : qe;
    json = cf_collateral_json(&w->pki, &c);
    verify_at(o, w->pki.root_pem, q, len, json, now, flags, allowed);
    free(json);
    free(tcb);
    free(qe);
    free(q);
}

/* The world's verdict must be a rejection whose message contains `what`. */
static void expect_reject(world *w, int64_t now, unsigned flags, const char *what)
{
    run o;

    world_run(w, &o, now, flags, ALL_STATUSES);
    if (o.rc == DSTACK_OK || strstr(o.err.message, what) == NULL)
        fprintf(stderr, "expected \"%s\", got rc %d: %s\n", what, o.rc, o.err.message);
    CU_ASSERT_NOT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(!o.r.dcap_ok && !o.r.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, what));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.r.dcap_error, what));
}

static void expect_status(world *w, dstack_tcb_status status, const char *advisories)
{
    run o;

    world_run(w, &o, CF_NOW, 0, ALL_STATUSES);
    if (o.rc != DSTACK_OK)
        fprintf(stderr, "expected %s, got: %s\n", dstack_tcb_status_name(status), o.err.message);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(o.r.dcap_ok && o.r.verified && o.r.tcb_status_allowed);
    CU_ASSERT_EQUAL(o.r.tcb_status, status);
    CU_ASSERT_STRING_EQUAL(o.r.advisory_ids, advisories);
}

static void test_up_to_date(void)
{
    world w;
    run o;

    world_init(&w);
    world_run(&w, &o, CF_NOW, 0, 0);
    if (o.rc != DSTACK_OK)
        fprintf(stderr, "forged collateral: %s\n", o.err.message);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(o.r.collateral_used && o.r.dcap_ok && o.r.verified && o.r.tcb_status_allowed);
    CU_ASSERT(o.r.structure_ok && o.r.quote_signature_ok && o.r.qe_report_binds_key);
    CU_ASSERT(o.r.qe_report_signature_ok && o.r.pck_chain_ok && o.r.policy_ok);
    CU_ASSERT(o.r.tcb_status_checked && o.r.revocation_checked && o.r.qe_identity_checked);
    CU_ASSERT_EQUAL(o.r.tcb_status, DSTACK_TCB_UP_TO_DATE);
    CU_ASSERT_STRING_EQUAL(dstack_tcb_status_name(o.r.tcb_status), "UpToDate");
    CU_ASSERT_STRING_EQUAL(o.r.advisory_ids, "");
    CU_ASSERT_EQUAL(o.r.advisory_id_count, 0);
    CU_ASSERT_EQUAL(o.r.collateral_expires, CF_NEXT);
    CU_ASSERT_EQUAL(o.r.fmspc[0], 0x90);
    CU_ASSERT_EQUAL(o.r.pce_svn, 13);
    CU_ASSERT_EQUAL(o.r.qe_isv_svn, 8);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.r.pck_subject, "Test SGX PCK Certificate"));
    CU_ASSERT_STRING_EQUAL(o.r.dcap_error, "");
    world_free(&w);
}

/* Every accepting status, as the platform level says it, with its advisories; Revoked rejects;
 * `verified` follows the allowed statuses (default: UpToDate only). */
static void test_every_status(void)
{
    world w;
    run o;

    world_init(&w);
    for (int s = 0; s < 6; s++) {
        w.ts.levels[0].status = statuses[s];
        w.ts.levels[0].advisories = s == 0 ? NULL : "[\"INTEL-SA-00001\",\"INTEL-SA-00002\"]";
        expect_status(&w, (dstack_tcb_status)s, s == 0 ? "" : "INTEL-SA-00001,INTEL-SA-00002");
        world_run(&w, &o, CF_NOW, 0, 0); /* default policy: UpToDate only */
        CU_ASSERT(o.r.dcap_ok);
        CU_ASSERT_EQUAL(o.r.verified, s == 0);
        CU_ASSERT_EQUAL(o.rc, s == 0 ? DSTACK_OK : DSTACK_ERR_CRYPTO);
        if (s != 0) {
            CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "is not allowed (allowed: UpToDate)"));
            CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, statuses[s]));
            CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "INTEL-SA-00002"));
        }
        world_run(&w, &o, CF_NOW, 0, DSTACK_TCB_STATUS_BIT(s));
        CU_ASSERT(o.r.verified && o.rc == DSTACK_OK);
        CU_ASSERT_EQUAL(o.r.advisory_id_count, s == 0 ? 0 : 2);
    }
    w.ts.levels[0].status = "Revoked";
    expect_reject(&w, CF_NOW, 0, "TCB status is invalid: Revoked");
    world_free(&w);
}

/* platform.merge(module).merge(qe): the most severe status, IDs in first-seen order. */
static void test_merge_and_advisories(void)
{
    world w;
    run o;

    world_init(&w);
    w.ts.levels[0].status = "SWHardeningNeeded";
    w.ts.levels[0].advisories = "[\"INTEL-SA-00003\",\"INTEL-SA-00001\"]";
    w.ts.module_levels[0] = (cf_module_level){5, "ConfigurationNeeded",
                                              "[\"INTEL-SA-00001\","
                                              "\"INTEL-SA-00004\"]"};
    w.qs.qe_isvsvn = 5; /* below the UpToDate QE level 8: the OutOfDate level 4 */
    world_run(&w, &o, CF_NOW, 0, ALL_STATUSES);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT_EQUAL(o.r.platform_tcb_status, DSTACK_TCB_CONFIGURATION_NEEDED);
    CU_ASSERT_EQUAL(o.r.qe_tcb_status, DSTACK_TCB_OUT_OF_DATE);
    CU_ASSERT_EQUAL(o.r.tcb_status, DSTACK_TCB_OUT_OF_DATE);
    CU_ASSERT_STRING_EQUAL(o.r.advisory_ids, "INTEL-SA-00003,INTEL-SA-00001,INTEL-SA-00004,"
                                             "INTEL-SA-00615");
    CU_ASSERT_EQUAL(o.r.advisory_id_count, 4);
    /* dcap-qvl's merge is max-severity: ConfigurationNeeded + OutOfDate is OutOfDate, not
     * Intel's OutOfDateConfigurationNeeded */
    w.qs.qe_isvsvn = 8;
    w.ts.levels[0].advisories = NULL;
    w.ts.module_levels[0] = (cf_module_level){5, "OutOfDateConfigurationNeeded", NULL};
    expect_status(&w, DSTACK_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, "");
    w.ts.module_levels[0] = (cf_module_level){5, "Revoked", NULL};
    expect_reject(&w, CF_NOW, 0, "TCB status is invalid: Revoked");
    world_free(&w);
}

/* Levels in any JSON order are matched in Intel's canonical order (highest first). */
static void test_level_order(void)
{
    world w;

    world_init(&w);
    w.ts.levels[1] = w.ts.levels[0];
    w.ts.levels[0].sgx[7] = 4; /* a lower level first */
    w.ts.levels[0].status = "OutOfDate";
    w.ts.n_levels = 2;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    /* the platform below the top level matches the next one */
    w.ts.levels[1].sgx[7] = 6;
    expect_status(&w, DSTACK_TCB_OUT_OF_DATE, "");
    /* and below every level, nothing matches */
    w.ts.levels[0].sgx[7] = 6;
    expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    w.ts.n_levels = 1;
    w.ts.levels[0] = w.ts.levels[1];
    w.ts.levels[0].sgx[7] = 5;
    w.ts.levels[0].pcesvn = 14; /* PCESVN above the platform's */
    expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    w.ts.levels[0].pcesvn = 13;
    w.ts.levels[0].tdx[2] = 4; /* TEE_TCB_SVN below */
    expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    world_free(&w);
}

static void test_revocation(void)
{
    world w;

    world_init(&w);
    w.col.ca_revokes[0] = w.pki.pck;
    expect_reject(&w, CF_NOW, 0, "CertRevoked (Test SGX PCK Certificate");
    w.col.ca_revokes[0] = NULL;
    w.col.root_revokes[0] = w.pki.ca;
    expect_reject(&w, CF_NOW, 0, "CertRevoked (Test SGX PCK Platform CA");
    w.col.root_revokes[0] = w.pki.tcb;
    expect_reject(&w, CF_NOW, 0, "CertRevoked (Test SGX TCB Signing");
    w.col.root_revokes[0] = w.pki.root; /* the root itself, in its own CRL */
    expect_reject(&w, CF_NOW, 0, "Root CA CRL check failed: CertRevoked");
    w.col.root_revokes[0] = NULL;
    /* some other serial listed: not revoked */
    w.col.ca_revokes[0] = w.pki.tcb;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    world_free(&w);
}

static void test_revocation_flags(void)
{
    world w;
    run o;

    world_init(&w);
    w.col.ca_revokes[0] = w.pki.pck;
    world_run(&w, &o, CF_NOW, 0, 0);
    CU_ASSERT(!o.r.pck_chain_ok && !o.r.revocation_checked && !o.r.tcb_status_checked);
    CU_ASSERT(o.r.structure_ok && !o.r.qe_report_signature_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.r.chain_error, "CertRevoked"));
    world_free(&w);
}

static void test_fmspc_and_pce_id(void)
{
    world w;

    world_init(&w);
    w.ts.fmspc = "B0C06F000000";
    expect_reject(&w, CF_NOW, 0, "Fmspc mismatch");
    w.ts.fmspc = "90c06f000000"; /* hex is case-insensitive */
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.ts.fmspc = "90C06F00000";
    expect_reject(&w, CF_NOW, 0, "Failed to decode TCB FMSPC");
    w.ts.fmspc = "90C06F000000";
    w.ts.pce_id = "0100";
    expect_reject(&w, CF_NOW, 0, "PCE-ID mismatch");
    w.ts.pce_id = "00";
    expect_reject(&w, CF_NOW, 0, "PCE-ID mismatch");
    w.ts.pce_id = "0000";
    w.ts.id = "SGX";
    expect_reject(&w, CF_NOW, 0, "TDX quote with non-TDX TCB info");
    w.ts.id = "TDX";
    w.ts.version = 2;
    expect_reject(&w, CF_NOW, 0, "TDX quote with non-TDX TCB info");
    world_free(&w);
}

static void test_tampered_documents(void)
{
    world w;

    world_init(&w);
    w.col.tamper_tcb_text = true;
    expect_reject(&w, CF_NOW, 0, "Signature is invalid for tcb_info in quote_collateral");
    w.col.tamper_tcb_text = false;
    w.col.tamper_tcb_signature = true;
    expect_reject(&w, CF_NOW, 0, "Signature is invalid for tcb_info in quote_collateral");
    w.col.tamper_tcb_signature = false;
    w.col.tamper_qe_text = true;
    expect_reject(&w, CF_NOW, 0, "Signature is invalid for qe_identity in quote_collateral");
    w.col.tamper_qe_text = false;
    w.col.tamper_qe_signature = true;
    expect_reject(&w, CF_NOW, 0, "Signature is invalid for qe_identity in quote_collateral");
    w.col.tamper_qe_signature = false;
    /* text that does not parse, and a status Intel does not have */
    w.col.tcb_info = "{\"id\":\"TDX\"}";
    expect_reject(&w, CF_NOW, 0, "Failed to decode TcbInfo: missing field `version`");
    w.col.tcb_info = NULL;
    w.ts.levels[0].status = "Fine";
    expect_reject(&w, CF_NOW, 0, "Failed to decode TcbInfo: field `tcbStatus`");
    w.ts.levels[0].status = "UpToDate";
    w.col.qe_identity = "[]";
    expect_reject(&w, CF_NOW, 0, "Failed to decode QeIdentity");
    w.col.qe_identity = NULL;
    w.es.mrsigner = "DC9E";
    expect_reject(&w, CF_NOW, 0, "Failed to decode QeIdentity: field `mrsigner`");
    world_free(&w);
}

/* Validity windows: TCB info, QE identity, CRLs (now < nextUpdate) and certificates. */
static void test_windows(void)
{
    world w;

    world_init(&w);
    expect_reject(&w, CF_ISSUE - 1, 0, "TCBInfo issue date is in the future");
    w.col.crl_next = CF_NEXT + 20 * 86400; /* CRLs that outlive the documents */
    expect_reject(&w, CF_NEXT + 1, 0, "TCBInfo expired");
    w.ts.next = CF_NEXT + 10 * 86400;
    expect_reject(&w, CF_NEXT + 1, 0, "QE Identity expired");
    w.ts.next = CF_NEXT;
    w.col.crl_next = 0;
    w.es.issue = CF_NOW + 10;
    expect_reject(&w, CF_NOW, 0, "QE Identity issue date is in the future");
    w.es.issue = CF_ISSUE;
    /* the CRLs expire first: the root CA CRL is checked before anything else */
    w.col.crl_next = CF_NOW;
    expect_reject(&w, CF_NOW, 0, "Root CA CRL check failed: CrlExpired");
    w.col.crl_next = CF_NOW + 1;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    /* thisUpdate is not checked (webpki) */
    w.col.crl_this = CF_NOW + 3600;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.col.crl_this = 0;
    w.col.crl_next = 0;
    /* now == nextUpdate of the TCB info still passes */
    w.es.next = CF_NEXT + 86400;
    {
        run o;

        world_run(&w, &o, CF_NEXT, 0, 0);
        CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_CRYPTO); /* the CRLs' nextUpdate is CF_NEXT */
        CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "CrlExpired"));
        w.col.crl_next = CF_NEXT + 1;
        world_run(&w, &o, CF_NEXT, 0, 0);
        CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
        w.col.crl_next = 0;
    }
    world_free(&w);
    /* a PCK certificate outside its validity */
    memset(&w, 0, sizeof(w));
    cf_platform_default(&w.plat);
    w.plat.not_before = CF_NOW + 60;
    cf_pki_init(&w.pki, 0x41, &w.plat);
    cf_quote_spec_default(&w.qs);
    cf_tcb_spec_default(&w.ts);
    cf_qe_spec_default(&w.es);
    expect_reject(&w, CF_NOW, 0, "CertNotValidYet (Test SGX PCK Certificate");
    {
        run o;

        world_run(&w, &o, CF_NOW + 60, 0, 0);
        CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    }
    world_free(&w);
}

static void test_qe_identity_policy(void)
{
    world w;

    world_init(&w);
    w.qs.qe_isvsvn = 3;
    expect_reject(&w, CF_NOW, 0, "QE ISVSVN 3 is below minimum required 4 from QE Identity");
    w.qs.qe_isvsvn = 4;
    expect_status(&w, DSTACK_TCB_OUT_OF_DATE, "INTEL-SA-00615");
    w.qs.qe_isvsvn = 8;
    w.es.n_levels = 0;
    expect_reject(&w, CF_NOW, 0, "No TCB levels found in QE Identity");
    w.es.n_levels = 2;
    w.qs.qe_mrsigner[0] ^= 1;
    expect_reject(&w, CF_NOW, 0, "QE MRSIGNER mismatch");
    w.qs.qe_mrsigner[0] ^= 1;
    w.qs.qe_isvprodid = 1;
    expect_reject(&w, CF_NOW, 0, "QE ISVPRODID mismatch");
    w.qs.qe_isvprodid = 2;
    w.qs.qe_attributes[0] |= 0x02; /* a debug QE, whatever the flags allow */
    expect_reject(&w, CF_NOW, DSTACK_QV_ALLOW_DEBUG, "QE report validation failed: Debug mode");
    w.qs.qe_attributes[0] = 0x11;
    w.qs.qe_attributes[1] = 0x01; /* under the mask */
    expect_reject(&w, CF_NOW, 0, "QE ATTRIBUTES mismatch at byte 1");
    w.qs.qe_attributes[1] = 0;
    w.qs.qe_attributes[8] = 0xff; /* outside the mask: ignored */
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.qe_attributes[8] = 0;
    w.qs.qe_miscselect = 1;
    expect_reject(&w, CF_NOW, 0, "QE MISCSELECT mismatch");
    w.qs.qe_miscselect = 0;
    w.es.id = "QE";
    expect_reject(&w, CF_NOW, 0, "Unsupported QE Identity id/version");
    w.es.id = "TD_QE";
    w.es.version = 3;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.es.version = 4;
    expect_reject(&w, CF_NOW, 0, "Unsupported QE Identity id/version");
    w.es.version = 2;
    w.qs.qe_auth_len = 33;
    expect_reject(&w, CF_NOW, 0, "Invalid QE auth data length");
    world_free(&w);
}

static void test_tdx_module(void)
{
    world w;

    world_init(&w);
    w.qs.tee_tcb_svn[0] = 4; /* module SVN below the identity's level 5 */
    w.ts.levels[0].tdx[0] = 4;
    expect_reject(&w, CF_NOW, 0,
                  "TDX module identity check: TDX module ISVSVN 4 is below minimum required");
    w.ts.module_levels[1] = (cf_module_level){2, "OutOfDate", "[\"INTEL-SA-01036\"]"};
    w.ts.n_module_levels = 2;
    expect_status(&w, DSTACK_TCB_OUT_OF_DATE, "INTEL-SA-01036");
    w.qs.tee_tcb_svn[0] = 6;
    w.ts.levels[0].tdx[0] = 6;
    w.qs.mr_signer_seam[0] = 1;
    expect_reject(&w, CF_NOW, 0, "TDX module identity check: TDX module MRSIGNER mismatch");
    w.qs.mr_signer_seam[0] = 0;
    w.qs.seam_attributes[2] = 1; /* under an all-ones mask, expected zero */
    expect_reject(&w, CF_NOW, 0, "SEAMATTRIBUTES mismatch at byte 2");
    w.ts.module_mask = "FFFF00FFFFFFFFFF";
    expect_reject(&w, CF_NOW, 0, "SEAMATTRIBUTES has bits set outside mask at byte 2");
    w.qs.seam_attributes[2] = 0;
    w.ts.module_mask = "FFFFFFFFFFFFFFFF";
    w.qs.tee_tcb_svn[1] = 2; /* module version 2: no TDX_02 identity */
    expect_reject(&w, CF_NOW, 0, "No TDX module identity with id TDX_02 found in TCB Info");
    w.qs.tee_tcb_svn[1] = 0; /* version 0: the base tdxModule only, no status merged */
    w.ts.levels[0].tdx[1] = 0;
    w.ts.module_levels[0].status = "OutOfDate";
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.ts.no_module = true;
    expect_reject(&w, CF_NOW, 0, "TDX TCB Info is missing tdxModule field");
    w.ts.no_module = false;
    w.ts.module_attributes = "00";
    expect_reject(&w, CF_NOW, 0, "tdxModule.attributes is not 8 bytes of hex");
    world_free(&w);
}

/* Step 15 under the existing policy flags (debug), with dcap-qvl's reserved-bit rules. */
static void test_td_attributes(void)
{
    world w;
    run o;

    world_init(&w);
    w.qs.td_attributes[0] = 0x01;
    expect_reject(&w, CF_NOW, 0, "Debug mode is enabled");
    world_run(&w, &o, CF_NOW, DSTACK_QV_ALLOW_DEBUG, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(o.r.debug_td && o.r.verified);
    w.qs.td_attributes[0] = 0x02;
    expect_reject(&w, CF_NOW, DSTACK_QV_ALLOW_DEBUG, "Reserved bits in TD attributes are set");
    w.qs.td_attributes[0] = 0;
    w.qs.td_attributes[7] = 0x80; /* PERFMON: reserved to dcap-qvl */
    expect_reject(&w, CF_NOW, 0, "Reserved bits in TD attributes are set");
    w.qs.td_attributes[7] = 0;
    w.qs.td_attributes[3] = 0x10 | 0x40 | 0x80; /* PKS and KL are allowed */
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.td_attributes[3] = 0x20;
    expect_reject(&w, CF_NOW, 0, "Reserved bits in TD attributes are set");
    w.qs.td_attributes[3] = 0;
    expect_reject(&w, CF_NOW, 0, "SEPT_VE_DISABLE is not enabled");
    /* a debug TD with an old TCB reports the TCB first */
    w.qs.td_attributes[0] = 1;
    w.ts.levels[0].tdx[2] = 9;
    expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    world_free(&w);
}

static void test_v5_quotes(void)
{
    world w;
    run o;

    world_init(&w);
    w.qs.version = 5;
    w.qs.body_type = 3;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.mr_servicetd[47] = 1;
    expect_reject(&w, CF_NOW, 0, "Invalid MR service TD");
    world_run(&w, &o, CF_NOW, DSTACK_QV_ALLOW_SERVICE_TD, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    w.qs.body_type = 2;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.body_type = 4;
    world_run(&w, &o, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to decode quote: Unsupported body type"));
    world_free(&w);
}

/* What is broken in the quote itself, under good collateral. */
static void test_quote_checks(void)
{
    world w;
    size_t len;
    uint8_t *q;
    char *json;
    run o;

    world_init(&w);
    q = cf_quote(&w.pki, &w.qs, &len);
    json = cf_collateral_json(&w.pki, NULL);
    q[200] ^= 1; /* MRTD: the quote signature */
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "ISV enclave report signature is invalid"));
    CU_ASSERT(o.r.qe_identity_checked && !o.r.quote_signature_ok && !o.r.tcb_status_checked);
    q[200] ^= 1;
    q[636 + 134 + 70] ^= 1; /* QE report MRENCLAVE: its signature */
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Signature is invalid for qe_report in quote"));
    q[636 + 134 + 70] ^= 1;
    q[636 + 64] ^= 1; /* attestation key: the QE report hash */
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "QE report hash mismatch"));
    q[636 + 64] ^= 1;
    q[12] ^= 1;
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Unknown QE vendor ID"));
    q[12] ^= 1;
    q[2] = 3;
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Unsupported DCAP attestation key type"));
    q[2] = 2;
    q[4] = 0; /* SGX: a 384-byte body, so the rest no longer adds up */
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    q[4] = 0x22;
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to decode quote: Invalid TEE type"));
    q[4] = 0x81;
    /* trailing bytes are ignored, a truncation is a protocol error */
    verify_at(&o, w.pki.root_pem, q, len - 10, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to decode quote"));
    verify_at(&o, w.pki.root_pem, q, 100, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    /* a foreign root or the Intel root: the root CA CRL is not the root's */
    verify_at(&o, NULL, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Root CA CRL check failed"));
    verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    free(json);
    free(q);
    world_free(&w);
}

/* The optional pck_certificate_chain replaces the quote's chain. */
static void test_pck_chain_field(void)
{
    world w, other;

    world_init(&w);
    w.col.pck_certificate_chain = w.pki.pck_chain_pem;
    expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    memset(&other, 0, sizeof(other));
    world_init(&other);
    cf_pki_free(&other.pki);
    cf_pki_init(&other.pki, 0x61, &other.plat);
    w.col.pck_certificate_chain = other.pki.pck_chain_pem; /* a PCK under another root */
    expect_reject(&w, CF_NOW, 0, "Failed to verify certificate chain");
    w.col.pck_certificate_chain = "no PEM here";
    expect_reject(&w, CF_NOW, 0, "Certificate chain is too short in quote");
    world_free(&other);
    world_free(&w);
}

static void check_json_error(const char *json, size_t len, const char *what)
{
    dstack_collateral *c = (dstack_collateral *)1;
    dstack_error err;

    dstack_error_clear(&err);
    CU_ASSERT_EQUAL(dstack_collateral_from_json(json, len, &c, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NULL(c);
    if (strstr(err.message, what) == NULL)
        fprintf(stderr, "expected \"%s\": %s\n", what, err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, what));
}

/* Replaces the first occurrence of `from` in `json` by `to` (malloc'd). */
static char *replace(const char *json, const char *from, const char *to)
{
    const char *at = strstr(json, from);
    size_t n = strlen(json) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    memcpy(out, json, (size_t)(at - json));
    strcpy(out + (at - json), to);
    strcat(out, at + strlen(from));
    return out;
}

static void test_collateral_json(void)
{
    world w;
    char *json, *bad, *back;
    dstack_collateral *c = NULL, *c2 = NULL;
    dstack_error err;
    run o;
    size_t len;
    uint8_t *q;

    world_init(&w);
    json = cf_collateral_json(&w.pki, NULL);
    q = cf_quote(&w.pki, &w.qs, &len);
    check_json_error("", 0, "not JSON");
    check_json_error("{", 1, "not JSON");
    check_json_error("[]", 2, "not an object");
    check_json_error("{} x", 4, "trailing characters");
    check_json_error("{}", 2, "field `pck_crl_issuer_chain` is missing");
    bad = replace(json, "\"pck_crl\":\"", "\"pck_crl\":\"0");
    check_json_error(bad, strlen(bad), "field `pck_crl` is not hex");
    free(bad);
    bad = replace(json, "\"pck_crl\":\"30", "\"pck_crl\":\"zz");
    check_json_error(bad, strlen(bad), "field `pck_crl` is not hex");
    free(bad);
    bad = replace(json, "\"tcb_info\":", "\"tcb_info\":3,\"x\":");
    check_json_error(bad, strlen(bad), "field `tcb_info` is not a string");
    free(bad);
    bad = replace(json, "{", "{\"qe_identity\":\"\",");
    check_json_error(bad, strlen(bad), "field `qe_identity` appears more than once");
    free(bad);
    bad = replace(json, "\"pck_crl\":\"30", "\"pck_crl\":\"0x30");
    check_json_error(bad, strlen(bad), "not hex");
    free(bad);
    bad = replace(json, "\"qe_identity_signature\"", "\"qe_identity_sig\"");
    check_json_error(bad, strlen(bad), "field `qe_identity_signature` is missing");
    free(bad);
    bad = replace(json, "-----BEGIN", "\\u0000-----BEGIN");
    check_json_error(bad, strlen(bad), "NUL");
    free(bad);
    bad = replace(json, "{", "{\"unknown\":[1,2,{\"x\":null}],\"pck_certificate_chain\":null,");
    CU_ASSERT_EQUAL(dstack_collateral_from_json(bad, strlen(bad), &c, &err), DSTACK_OK);
    dstack_collateral_free(c);
    c = NULL;
    free(bad);
    /* over the size limit */
    bad = calloc(1, DSTACK_COLLATERAL_MAX_JSON + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    memset(bad, ' ', DSTACK_COLLATERAL_MAX_JSON + 1);
    check_json_error(bad, DSTACK_COLLATERAL_MAX_JSON + 1, "over the");
    free(bad);
    /* a CRL that is no CRL: the JSON is fine, verification says what is wrong first */
    bad = replace(json, "\"root_ca_crl\":\"30", "\"root_ca_crl\":\"31");
    verify_at(&o, w.pki.root_pem, q, len, bad, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to parse CRL"));
    free(bad);
    /* round trip: the same verdict from the JSON written back */
    CU_ASSERT_EQUAL(dstack_collateral_from_json(json, strlen(json), &c, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_collateral_next_update(c), CF_NEXT);
    CU_ASSERT_EQUAL(dstack_collateral_to_json(c, &back, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_collateral_from_json(back, strlen(back), &c2, &err), DSTACK_OK);
    verify_at(&o, w.pki.root_pem, q, len, back, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    dstack_free(back);
    dstack_collateral_free(c);
    dstack_collateral_free(c2);
    CU_ASSERT_EQUAL(dstack_collateral_from_json(NULL, 0, &c, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_collateral_to_json(NULL, &back, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_collateral_next_update(NULL), 0);
    free(q);
    free(json);
    world_free(&w);
}

/* Options that make no sense with collateral, and versioned structs. */
static void test_usage(void)
{
    world w;
    size_t len;
    uint8_t *q;
    char *json, *two;
    dstack_collateral *c = NULL;
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};
    dstack_quote_verify_result r;
    dstack_error err;
    unsigned mask = 0;

    world_init(&w);
    q = cf_quote(&w.pki, &w.qs, &len);
    json = cf_collateral_json(&w.pki, NULL);
    CU_ASSERT_EQUAL_FATAL(dstack_collateral_from_json(json, strlen(json), &c, &err), DSTACK_OK);
    opts.collateral = c;
    opts.trusted_root_pem = w.pki.root_pem;
    opts.verification_time = CF_NOW;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_OK);
    opts.flags = DSTACK_QV_NO_TIME_CHECK;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    opts.flags = 0;
    two = malloc(2 * strlen(w.pki.root_pem) + 1);
    strcpy(two, w.pki.root_pem);
    strcat(two, w.pki.root_pem);
    opts.trusted_root_pem = two;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "exactly one trusted root"));
    opts.trusted_root_pem = "not a PEM";
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    opts.trusted_root_pem = w.pki.root_pem;
    opts.struct_size = 0;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)"));
    opts.struct_size = sizeof(opts) + 8;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    /* an older caller whose struct ends before `collateral`: offline verification */
    opts.struct_size = offsetof(dstack_quote_verify_opts, collateral);
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_OK);
    CU_ASSERT(!r.collateral_used && !r.tcb_status_checked);
    /* status lists */
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("UpToDate, SWHardeningNeeded", &mask, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(mask, 0x3u);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("OutOfDate,OutOfDateConfigurationNeeded", &mask, &err),
                    DSTACK_OK);
    CU_ASSERT_EQUAL(mask, 0x30u);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("Revoked", &mask, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("uptodate", &mask, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask(" , ", &mask, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(dstack_tcb_status_name(DSTACK_TCB_REVOKED), "Revoked");
    CU_ASSERT_STRING_EQUAL(dstack_tcb_status_name((dstack_tcb_status)42), "unknown");
    free(two);
    free(json);
    free(q);
    dstack_collateral_free(c);
    world_free(&w);
}

/* The handshake-time verifier's set-up errors (its handshakes: tests/integration/ratls_verify.sh).
 */
static void test_verifier_usage(void)
{
    dstack_ratls_verifier_opts vo = {DSTACK_OPTIONS_INIT(dstack_ratls_verifier_opts)};
    dstack_ratls_policy policy = {DSTACK_OPTIONS_INIT(dstack_ratls_policy)};
    dstack_ratls_verifier *v = (dstack_ratls_verifier *)1;
    dstack_ratls_verification out;
    dstack_error err;
    char path[] = "/tmp/dcap-verifier-XXXXXX";
    int fd;

    unsetenv("DSTACK_PCCS_URL");
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no collateral source"));
    vo.offline_ok = true;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_ratls_verifier_verify(v, NULL, &out, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_ratls_ssl_ctx_install(NULL, v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_ratls_ssl_install(NULL, v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(dstack_ratls_ssl_failure(NULL));
    CU_ASSERT_PTR_NULL(dstack_ratls_ssl_verification(NULL));
    dstack_ratls_verifier_free(v);
    dstack_ratls_verifier_free(NULL);
    /* The verifier keeps its own reference to the policy's issuer (ASan: no use after free). */
    policy.issuer = X509_new();
    vo.policy = &policy;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_OK);
    X509_free(policy.issuer);
    policy.issuer = NULL;
    dstack_ratls_verifier_free(v);
    vo.policy = NULL;
    vo.offline_ok = false;
    vo.collateral_file = "/nonexistent/coll.json";
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot read the collateral file"));
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0 && write(fd, "{\"x\":1}", 7) == 7);
    close(fd);
    vo.collateral_file = path;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is missing"));
    unlink(path);
    vo.collateral_file = NULL;
    vo.pccs_url = "http://127.0.0.1:1";
    policy.struct_size = 3;
    vo.policy = &policy;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dstack_ratls_policy.struct_size"));
    vo.struct_size = 0;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(NULL, NULL, &err), DSTACK_ERR_USAGE);
}

/* ---- upstream: dcap-qvl's samples -------------------------------------------------------------
 */

#define T_2025_07_01 1751328000
#define T_2026_03_01 1772323200

static void upstream(const char *quote_file, const char *collateral_file, int64_t now,
                     const char *want_error, dstack_tcb_status want_status)
{
    char path[128];
    size_t qlen, clen;
    uint8_t *q, *json;
    run o;

    snprintf(path, sizeof(path), "dcap-qvl/%s", quote_file);
    q = test_read_fixture(path, &qlen);
    snprintf(path, sizeof(path), "dcap-qvl/%s", collateral_file);
    json = test_read_fixture(path, &clen);
    verify_at(&o, NULL, q, qlen, (const char *)json, now, 0, ALL_STATUSES);
    if (want_error == NULL) {
        if (o.rc != DSTACK_OK)
            fprintf(stderr, "%s at %lld: %s\n", quote_file, (long long)now, o.err.message);
        CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
        CU_ASSERT_EQUAL(o.r.tcb_status, want_status);
    } else {
        if (o.rc == DSTACK_OK || strstr(o.err.message, want_error) == NULL)
            fprintf(stderr, "%s at %lld: want \"%s\", got: %s\n", quote_file, (long long)now,
                    want_error, o.err.message);
        CU_ASSERT_NOT_EQUAL(o.rc, DSTACK_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, want_error));
    }
    free(q);
    free(json);
}

static void test_upstream_acceptance(void)
{
    upstream("tdx_quote", "tdx_quote_collateral.json", T_2025_07_01, NULL, DSTACK_TCB_UP_TO_DATE);
    upstream("tdx_quote", "tdx_quote_collateral.json", T_2026_03_01, "TCBInfo expired", 0);
    upstream("tdx_quote_outdated", "tdx_quote_outdated_collateral.json", T_2026_03_01,
             "No matching TCB level found", 0);
    upstream("tdx_quote_outdated", "tdx_quote_outdated_collateral.json", T_2025_07_01,
             "TCBInfo issue date is in the future", 0);
    /* this verifier is TDX-only */
    upstream("sgx_quote", "sgx_quote_collateral.json", T_2025_07_01, "SGX quotes", 0);
}

/* The boundary times of tdx_quote's collateral (dcap-qvl's Rust semantics). */
static void test_upstream_boundaries(void)
{
    static const struct {
        int64_t now;
        const char *error;
    } rows[] = {
        {1750328162, "TCBInfo issue date is in the future"},
        {1750328163, "QE Identity issue date is in the future"},
        {1750329146, "QE Identity issue date is in the future"},
        {1750329147, NULL},
        {1752919234, NULL},
        {1752919235, "CrlExpired (Intel SGX PCK Certificate)"}, /* the PCK CRL's nextUpdate */
        {1752920163, "CrlExpired (Intel SGX PCK Certificate)"},
        {1752920164, "TCBInfo expired"},
        {1775215316, "TCBInfo expired"},
        {1775215317, "Root CA CRL check failed: CrlExpired"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        upstream("tdx_quote", "tdx_quote_collateral.json", rows[i].now, rows[i].error,
                 DSTACK_TCB_UP_TO_DATE);
}

/* A fixture's JSON member that is a hex quote, as raw bytes in a temporary fixture path. */
static void test_upstream_dstack_quote(void)
{
    size_t len, clen;
    uint8_t *q = test_read_fixture("dstack/tdx_quote", &len);
    uint8_t *json = test_read_fixture("dcap-qvl/tdx_quote_collateral.json", &clen);
    run o;

    /* the dstack fixture quote's CPUSVN[7] is 3, below every level of this collateral */
    verify_at(&o, NULL, q, len, (const char *)json, T_2025_07_01, 0, ALL_STATUSES);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "No matching TCB level found"));
    free(q);
    free(json);
}

int main(void)
{
    static const test_case cases[] = {
        {"UpToDate under a forged Intel", test_up_to_date},
        {"every TCB status and the status policy", test_every_status},
        {"status merge and advisory-ID union", test_merge_and_advisories},
        {"canonical TCB level order and no matching level", test_level_order},
        {"revoked PCK, intermediate, TCB signer and root", test_revocation},
        {"revocation in the result flags", test_revocation_flags},
        {"FMSPC and PCE-ID mismatch", test_fmspc_and_pce_id},
        {"tampered TCB info and QE identity", test_tampered_documents},
        {"expired and not-yet-valid collateral", test_windows},
        {"QE identity policy, ISVSVN below every level", test_qe_identity_policy},
        {"TDX module identity", test_tdx_module},
        {"TD attributes", test_td_attributes},
        {"v5 quotes (TD 1.0 and 1.5 bodies)", test_v5_quotes},
        {"quote checks under good collateral", test_quote_checks},
        {"pck_certificate_chain", test_pck_chain_field},
        {"collateral JSON input", test_collateral_json},
        {"usage errors and versioned options", test_usage},
        {"handshake-time verifier set-up", test_verifier_usage},
        {NULL, NULL},
    };
    static const test_case upstream_cases[] = {
        {"dcap-qvl samples: acceptance verdicts", test_upstream_acceptance},
        {"dcap-qvl samples: boundary times", test_upstream_boundaries},
        {"dstack fixture quote against dcap-qvl collateral", test_upstream_dstack_quote},
        {NULL, NULL},
    };
    const char *fixtures = getenv("DSTACK_FIXTURES");
    const char *mode = getenv("DSTACK_TEST_UPSTREAM");
    char probe[4096];
    struct stat st;

    snprintf(probe, sizeof(probe), "%s/dcap-qvl", fixtures ? fixtures : "");
    if (mode != NULL && strcmp(mode, "1") == 0 && stat(probe, &st) != 0) {
        printf("SKIP: dcap-qvl samples not found at %s (set DSTACK_FIXTURES)\n", probe);
        return TEST_SKIP;
    }
    return test_run_split_suite("dcap_verify", cases, upstream_cases);
}
