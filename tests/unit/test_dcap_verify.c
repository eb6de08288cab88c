/* DCAP verification with Intel collateral (protocol.md §5.6, §5.7) on collateral forged here
 * under a test root (tests/lib/collateral_forge.h): every TCB status and the status policy,
 * the status merge and advisory-ID union, revocation of the PCK and of the intermediate, FMSPC
 * and PCE-ID mismatch, tampered TCB info / QE identity text and signatures, expired and
 * not-yet-valid collateral and certificates, the QE identity policy (ISVSVN below every level
 * included), the TDX module identity, TD attributes and v5 quotes (bad collateral JSON and
 * usage errors: test_dcap_inputs.c).
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

#include "dcap_world.h"
#include "test_util.h"

static const char *const statuses[] = {"UpToDate",
                                       "SWHardeningNeeded",
                                       "ConfigurationNeeded",
                                       "ConfigurationAndSWHardeningNeeded",
                                       "OutOfDate",
                                       "OutOfDateConfigurationNeeded"};

static void test_up_to_date(void)
{
    world w;
    run o;

    dcap_world_init(&w);
    dcap_world_run(&w, &o, CF_NOW, 0, 0);
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
    dcap_world_free(&w);
}

/* Every accepting status, as the platform level says it, with its advisories; Revoked rejects;
 * `verified` follows the allowed statuses (default: UpToDate only). */
static void test_every_status(void)
{
    world w;
    run o;

    dcap_world_init(&w);
    for (int s = 0; s < 6; s++) {
        w.ts.levels[0].status = statuses[s];
        w.ts.levels[0].advisories = s == 0 ? NULL : "[\"INTEL-SA-00001\",\"INTEL-SA-00002\"]";
        dcap_expect_status(&w, (dstack_tcb_status)s, s == 0 ? "" : "INTEL-SA-00001,INTEL-SA-00002");
        dcap_world_run(&w, &o, CF_NOW, 0, 0); /* default policy: UpToDate only */
        CU_ASSERT(o.r.dcap_ok);
        CU_ASSERT_EQUAL(o.r.verified, s == 0);
        CU_ASSERT_EQUAL(o.rc, s == 0 ? DSTACK_OK : DSTACK_ERR_CRYPTO);
        if (s != 0) {
            CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "is not allowed (allowed: UpToDate)"));
            CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, statuses[s]));
            CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "INTEL-SA-00002"));
        }
        dcap_world_run(&w, &o, CF_NOW, 0, DSTACK_TCB_STATUS_BIT(s));
        CU_ASSERT(o.r.verified && o.rc == DSTACK_OK);
        CU_ASSERT_EQUAL(o.r.advisory_id_count, s == 0 ? 0 : 2);
    }
    w.ts.levels[0].status = "Revoked";
    dcap_expect_reject(&w, CF_NOW, 0, "TCB status is invalid: Revoked");
    dcap_world_free(&w);
}

/* platform.merge(module).merge(qe): the most severe status, IDs in first-seen order. */
static void test_merge_and_advisories(void)
{
    world w;
    run o;

    dcap_world_init(&w);
    w.ts.levels[0].status = "SWHardeningNeeded";
    w.ts.levels[0].advisories = "[\"INTEL-SA-00003\",\"INTEL-SA-00001\"]";
    w.ts.module_levels[0] = (cf_module_level){5, "ConfigurationNeeded",
                                              "[\"INTEL-SA-00001\","
                                              "\"INTEL-SA-00004\"]"};
    w.qs.qe_isvsvn = 5; /* below the UpToDate QE level 8: the OutOfDate level 4 */
    dcap_world_run(&w, &o, CF_NOW, 0, ALL_STATUSES);
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
    dcap_expect_status(&w, DSTACK_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, "");
    w.ts.module_levels[0] = (cf_module_level){5, "Revoked", NULL};
    dcap_expect_reject(&w, CF_NOW, 0, "TCB status is invalid: Revoked");
    dcap_world_free(&w);
}

/* Levels in any JSON order are matched in Intel's canonical order (highest first). */
static void test_level_order(void)
{
    world w;

    dcap_world_init(&w);
    w.ts.levels[1] = w.ts.levels[0];
    w.ts.levels[0].sgx[7] = 4; /* a lower level first */
    w.ts.levels[0].status = "OutOfDate";
    w.ts.n_levels = 2;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    /* the platform below the top level matches the next one */
    w.ts.levels[1].sgx[7] = 6;
    dcap_expect_status(&w, DSTACK_TCB_OUT_OF_DATE, "");
    /* and below every level, nothing matches */
    w.ts.levels[0].sgx[7] = 6;
    dcap_expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    w.ts.n_levels = 1;
    w.ts.levels[0] = w.ts.levels[1];
    w.ts.levels[0].sgx[7] = 5;
    w.ts.levels[0].pcesvn = 14; /* PCESVN above the platform's */
    dcap_expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    w.ts.levels[0].pcesvn = 13;
    w.ts.levels[0].tdx[2] = 4; /* TEE_TCB_SVN below */
    dcap_expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    dcap_world_free(&w);
}

static void test_revocation(void)
{
    world w;

    dcap_world_init(&w);
    w.col.ca_revokes[0] = w.pki.pck;
    dcap_expect_reject(&w, CF_NOW, 0, "CertRevoked (Test SGX PCK Certificate");
    w.col.ca_revokes[0] = NULL;
    w.col.root_revokes[0] = w.pki.ca;
    dcap_expect_reject(&w, CF_NOW, 0, "CertRevoked (Test SGX PCK Platform CA");
    w.col.root_revokes[0] = w.pki.tcb;
    dcap_expect_reject(&w, CF_NOW, 0, "CertRevoked (Test SGX TCB Signing");
    w.col.root_revokes[0] = w.pki.root; /* the root itself, in its own CRL */
    dcap_expect_reject(&w, CF_NOW, 0, "Root CA CRL check failed: CertRevoked");
    w.col.root_revokes[0] = NULL;
    /* some other serial listed: not revoked */
    w.col.ca_revokes[0] = w.pki.tcb;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    dcap_world_free(&w);
}

static void test_revocation_flags(void)
{
    world w;
    run o;

    dcap_world_init(&w);
    w.col.ca_revokes[0] = w.pki.pck;
    dcap_world_run(&w, &o, CF_NOW, 0, 0);
    CU_ASSERT(!o.r.pck_chain_ok && !o.r.revocation_checked && !o.r.tcb_status_checked);
    CU_ASSERT(o.r.structure_ok && !o.r.qe_report_signature_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.r.chain_error, "CertRevoked"));
    dcap_world_free(&w);
}

static void test_fmspc_and_pce_id(void)
{
    world w;

    dcap_world_init(&w);
    w.ts.fmspc = "B0C06F000000";
    dcap_expect_reject(&w, CF_NOW, 0, "Fmspc mismatch");
    w.ts.fmspc = "90c06f000000"; /* hex is case-insensitive */
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.ts.fmspc = "90C06F00000";
    dcap_expect_reject(&w, CF_NOW, 0, "Failed to decode TCB FMSPC");
    w.ts.fmspc = "90C06F000000";
    w.ts.pce_id = "0100";
    dcap_expect_reject(&w, CF_NOW, 0, "PCE-ID mismatch");
    w.ts.pce_id = "00";
    dcap_expect_reject(&w, CF_NOW, 0, "PCE-ID mismatch");
    w.ts.pce_id = "0000";
    w.ts.id = "SGX";
    dcap_expect_reject(&w, CF_NOW, 0, "TDX quote with non-TDX TCB info");
    w.ts.id = "TDX";
    w.ts.version = 2;
    dcap_expect_reject(&w, CF_NOW, 0, "TDX quote with non-TDX TCB info");
    dcap_world_free(&w);
}

static void test_tampered_documents(void)
{
    world w;

    dcap_world_init(&w);
    w.col.tamper_tcb_text = true;
    dcap_expect_reject(&w, CF_NOW, 0, "Signature is invalid for tcb_info in quote_collateral");
    w.col.tamper_tcb_text = false;
    w.col.tamper_tcb_signature = true;
    dcap_expect_reject(&w, CF_NOW, 0, "Signature is invalid for tcb_info in quote_collateral");
    w.col.tamper_tcb_signature = false;
    w.col.tamper_qe_text = true;
    dcap_expect_reject(&w, CF_NOW, 0, "Signature is invalid for qe_identity in quote_collateral");
    w.col.tamper_qe_text = false;
    w.col.tamper_qe_signature = true;
    dcap_expect_reject(&w, CF_NOW, 0, "Signature is invalid for qe_identity in quote_collateral");
    w.col.tamper_qe_signature = false;
    /* text that does not parse, and a status Intel does not have */
    w.col.tcb_info = "{\"id\":\"TDX\"}";
    dcap_expect_reject(&w, CF_NOW, 0, "Failed to decode TcbInfo: missing field `version`");
    w.col.tcb_info = NULL;
    w.ts.levels[0].status = "Fine";
    dcap_expect_reject(&w, CF_NOW, 0, "Failed to decode TcbInfo: field `tcbStatus`");
    w.ts.levels[0].status = "UpToDate";
    w.col.qe_identity = "[]";
    dcap_expect_reject(&w, CF_NOW, 0, "Failed to decode QeIdentity");
    w.col.qe_identity = NULL;
    w.es.mrsigner = "DC9E";
    dcap_expect_reject(&w, CF_NOW, 0, "Failed to decode QeIdentity: field `mrsigner`");
    dcap_world_free(&w);
}

/* Validity windows: TCB info, QE identity, CRLs (now < nextUpdate) and certificates. */
static void test_windows(void)
{
    world w;

    dcap_world_init(&w);
    dcap_expect_reject(&w, CF_ISSUE - 1, 0, "TCBInfo issue date is in the future");
    w.col.crl_next = CF_NEXT + 20 * 86400; /* CRLs that outlive the documents */
    dcap_expect_reject(&w, CF_NEXT + 1, 0, "TCBInfo expired");
    w.ts.next = CF_NEXT + 10 * 86400;
    dcap_expect_reject(&w, CF_NEXT + 1, 0, "QE Identity expired");
    w.ts.next = CF_NEXT;
    w.col.crl_next = 0;
    w.es.issue = CF_NOW + 10;
    dcap_expect_reject(&w, CF_NOW, 0, "QE Identity issue date is in the future");
    w.es.issue = CF_ISSUE;
    /* the CRLs expire first: the root CA CRL is checked before anything else */
    w.col.crl_next = CF_NOW;
    dcap_expect_reject(&w, CF_NOW, 0, "Root CA CRL check failed: CrlExpired");
    w.col.crl_next = CF_NOW + 1;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    /* thisUpdate is not checked (webpki) */
    w.col.crl_this = CF_NOW + 3600;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.col.crl_this = 0;
    w.col.crl_next = 0;
    /* now == nextUpdate of the TCB info still passes */
    w.es.next = CF_NEXT + 86400;
    {
        run o;

        dcap_world_run(&w, &o, CF_NEXT, 0, 0);
        CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_CRYPTO); /* the CRLs' nextUpdate is CF_NEXT */
        CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "CrlExpired"));
        w.col.crl_next = CF_NEXT + 1;
        dcap_world_run(&w, &o, CF_NEXT, 0, 0);
        CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
        w.col.crl_next = 0;
    }
    dcap_world_free(&w);
    /* a PCK certificate outside its validity */
    memset(&w, 0, sizeof(w));
    cf_platform_default(&w.plat);
    w.plat.not_before = CF_NOW + 60;
    cf_pki_init(&w.pki, 0x41, &w.plat);
    cf_quote_spec_default(&w.qs);
    cf_tcb_spec_default(&w.ts);
    cf_qe_spec_default(&w.es);
    dcap_expect_reject(&w, CF_NOW, 0, "CertNotValidYet (Test SGX PCK Certificate");
    {
        run o;

        dcap_world_run(&w, &o, CF_NOW + 60, 0, 0);
        CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    }
    dcap_world_free(&w);
}

static void test_qe_identity_policy(void)
{
    world w;

    dcap_world_init(&w);
    w.qs.qe_isvsvn = 3;
    dcap_expect_reject(&w, CF_NOW, 0, "QE ISVSVN 3 is below minimum required 4 from QE Identity");
    w.qs.qe_isvsvn = 4;
    dcap_expect_status(&w, DSTACK_TCB_OUT_OF_DATE, "INTEL-SA-00615");
    w.qs.qe_isvsvn = 8;
    w.es.n_levels = 0;
    dcap_expect_reject(&w, CF_NOW, 0, "No TCB levels found in QE Identity");
    w.es.n_levels = 2;
    w.qs.qe_mrsigner[0] ^= 1;
    dcap_expect_reject(&w, CF_NOW, 0, "QE MRSIGNER mismatch");
    w.qs.qe_mrsigner[0] ^= 1;
    w.qs.qe_isvprodid = 1;
    dcap_expect_reject(&w, CF_NOW, 0, "QE ISVPRODID mismatch");
    w.qs.qe_isvprodid = 2;
    w.qs.qe_attributes[0] |= 0x02; /* a debug QE, whatever the flags allow */
    dcap_expect_reject(&w, CF_NOW, DSTACK_QV_ALLOW_DEBUG,
                       "QE report validation failed: Debug mode");
    w.qs.qe_attributes[0] = 0x11;
    w.qs.qe_attributes[1] = 0x01; /* under the mask */
    dcap_expect_reject(&w, CF_NOW, 0, "QE ATTRIBUTES mismatch at byte 1");
    w.qs.qe_attributes[1] = 0;
    w.qs.qe_attributes[8] = 0xff; /* outside the mask: ignored */
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.qe_attributes[8] = 0;
    w.qs.qe_miscselect = 1;
    dcap_expect_reject(&w, CF_NOW, 0, "QE MISCSELECT mismatch");
    w.qs.qe_miscselect = 0;
    w.es.id = "QE";
    dcap_expect_reject(&w, CF_NOW, 0, "Unsupported QE Identity id/version");
    w.es.id = "TD_QE";
    w.es.version = 3;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.es.version = 4;
    dcap_expect_reject(&w, CF_NOW, 0, "Unsupported QE Identity id/version");
    w.es.version = 2;
    w.qs.qe_auth_len = 33;
    dcap_expect_reject(&w, CF_NOW, 0, "Invalid QE auth data length");
    dcap_world_free(&w);
}

static void test_tdx_module(void)
{
    world w;

    dcap_world_init(&w);
    w.qs.tee_tcb_svn[0] = 4; /* module SVN below the identity's level 5 */
    w.ts.levels[0].tdx[0] = 4;
    dcap_expect_reject(&w, CF_NOW, 0,
                       "TDX module identity check: TDX module ISVSVN 4 is below minimum required");
    w.ts.module_levels[1] = (cf_module_level){2, "OutOfDate", "[\"INTEL-SA-01036\"]"};
    w.ts.n_module_levels = 2;
    dcap_expect_status(&w, DSTACK_TCB_OUT_OF_DATE, "INTEL-SA-01036");
    w.qs.tee_tcb_svn[0] = 6;
    w.ts.levels[0].tdx[0] = 6;
    w.qs.mr_signer_seam[0] = 1;
    dcap_expect_reject(&w, CF_NOW, 0, "TDX module identity check: TDX module MRSIGNER mismatch");
    w.qs.mr_signer_seam[0] = 0;
    w.qs.seam_attributes[2] = 1; /* under an all-ones mask, expected zero */
    dcap_expect_reject(&w, CF_NOW, 0, "SEAMATTRIBUTES mismatch at byte 2");
    w.ts.module_mask = "FFFF00FFFFFFFFFF";
    dcap_expect_reject(&w, CF_NOW, 0, "SEAMATTRIBUTES has bits set outside mask at byte 2");
    w.qs.seam_attributes[2] = 0;
    w.ts.module_mask = "FFFFFFFFFFFFFFFF";
    w.qs.tee_tcb_svn[1] = 2; /* module version 2: no TDX_02 identity */
    dcap_expect_reject(&w, CF_NOW, 0, "No TDX module identity with id TDX_02 found in TCB Info");
    w.qs.tee_tcb_svn[1] = 0; /* version 0: the base tdxModule only, no status merged */
    w.ts.levels[0].tdx[1] = 0;
    w.ts.module_levels[0].status = "OutOfDate";
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.ts.no_module = true;
    dcap_expect_reject(&w, CF_NOW, 0, "TDX TCB Info is missing tdxModule field");
    w.ts.no_module = false;
    w.ts.module_attributes = "00";
    dcap_expect_reject(&w, CF_NOW, 0, "tdxModule.attributes is not 8 bytes of hex");
    dcap_world_free(&w);
}

/* Step 15 under the existing policy flags (debug), with dcap-qvl's reserved-bit rules. */
static void test_td_attributes(void)
{
    world w;
    run o;

    dcap_world_init(&w);
    w.qs.td_attributes[0] = 0x01;
    dcap_expect_reject(&w, CF_NOW, 0, "Debug mode is enabled");
    dcap_world_run(&w, &o, CF_NOW, DSTACK_QV_ALLOW_DEBUG, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(o.r.debug_td && o.r.verified);
    w.qs.td_attributes[0] = 0x02;
    dcap_expect_reject(&w, CF_NOW, DSTACK_QV_ALLOW_DEBUG, "Reserved bits in TD attributes are set");
    w.qs.td_attributes[0] = 0;
    w.qs.td_attributes[7] = 0x80; /* PERFMON: reserved to dcap-qvl */
    dcap_expect_reject(&w, CF_NOW, 0, "Reserved bits in TD attributes are set");
    w.qs.td_attributes[7] = 0;
    w.qs.td_attributes[3] = 0x10 | 0x40 | 0x80; /* PKS and KL are allowed */
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.td_attributes[3] = 0x20;
    dcap_expect_reject(&w, CF_NOW, 0, "Reserved bits in TD attributes are set");
    w.qs.td_attributes[3] = 0;
    dcap_expect_reject(&w, CF_NOW, 0, "SEPT_VE_DISABLE is not enabled");
    /* a debug TD with an old TCB reports the TCB first */
    w.qs.td_attributes[0] = 1;
    w.ts.levels[0].tdx[2] = 9;
    dcap_expect_reject(&w, CF_NOW, 0, "No matching TCB level found");
    dcap_world_free(&w);
}

static void test_v5_quotes(void)
{
    world w;
    run o;

    dcap_world_init(&w);
    w.qs.version = 5;
    w.qs.body_type = 3;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.mr_servicetd[47] = 1;
    dcap_expect_reject(&w, CF_NOW, 0, "Invalid MR service TD");
    dcap_world_run(&w, &o, CF_NOW, DSTACK_QV_ALLOW_SERVICE_TD, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    w.qs.body_type = 2;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    w.qs.body_type = 4;
    dcap_world_run(&w, &o, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to decode quote: Unsupported body type"));
    dcap_world_free(&w);
}

/* What is broken in the quote itself, under good collateral. */
static void test_quote_checks(void)
{
    world w;
    size_t len;
    uint8_t *q;
    char *json;
    run o;

    dcap_world_init(&w);
    q = cf_quote(&w.pki, &w.qs, &len);
    json = cf_collateral_json(&w.pki, NULL);
    q[200] ^= 1; /* MRTD: the quote signature */
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "ISV enclave report signature is invalid"));
    CU_ASSERT(o.r.qe_identity_checked && !o.r.quote_signature_ok && !o.r.tcb_status_checked);
    q[200] ^= 1;
    q[636 + 134 + 70] ^= 1; /* QE report MRENCLAVE: its signature */
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Signature is invalid for qe_report in quote"));
    q[636 + 134 + 70] ^= 1;
    q[636 + 64] ^= 1; /* attestation key: the QE report hash */
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "QE report hash mismatch"));
    q[636 + 64] ^= 1;
    q[12] ^= 1;
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Unknown QE vendor ID"));
    q[12] ^= 1;
    q[2] = 3;
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Unsupported DCAP attestation key type"));
    q[2] = 2;
    q[4] = 0; /* SGX: a 384-byte body, so the rest no longer adds up */
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    q[4] = 0x22;
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to decode quote: Invalid TEE type"));
    q[4] = 0x81;
    /* trailing bytes are ignored, a truncation is a protocol error */
    dcap_verify_at(&o, w.pki.root_pem, q, len - 10, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to decode quote"));
    dcap_verify_at(&o, w.pki.root_pem, q, 100, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_ERR_PROTOCOL);
    /* a foreign root or the Intel root: the root CA CRL is not the root's */
    dcap_verify_at(&o, NULL, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Root CA CRL check failed"));
    dcap_verify_at(&o, w.pki.root_pem, q, len, json, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    free(json);
    free(q);
    dcap_world_free(&w);
}

/* The optional pck_certificate_chain replaces the quote's chain. */
static void test_pck_chain_field(void)
{
    world w, other;

    dcap_world_init(&w);
    w.col.pck_certificate_chain = w.pki.pck_chain_pem;
    dcap_expect_status(&w, DSTACK_TCB_UP_TO_DATE, "");
    memset(&other, 0, sizeof(other));
    dcap_world_init(&other);
    cf_pki_free(&other.pki);
    cf_pki_init(&other.pki, 0x61, &other.plat);
    w.col.pck_certificate_chain = other.pki.pck_chain_pem; /* a PCK under another root */
    dcap_expect_reject(&w, CF_NOW, 0, "Failed to verify certificate chain");
    w.col.pck_certificate_chain = "no PEM here";
    dcap_expect_reject(&w, CF_NOW, 0, "Certificate chain is too short in quote");
    dcap_world_free(&other);
    dcap_world_free(&w);
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
    dcap_verify_at(&o, NULL, q, qlen, (const char *)json, now, 0, ALL_STATUSES);
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
    dcap_verify_at(&o, NULL, q, len, (const char *)json, T_2025_07_01, 0, ALL_STATUSES);
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
