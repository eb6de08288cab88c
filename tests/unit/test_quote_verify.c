/* Offline DCAP verification of TDX quotes and RA-TLS certificates on quotes made here under
 * test PKIs shaped like Intel's (tests/lib/quote_forge.h): each tampered part, truncation, size
 * lie, validity period, foreign root and policy violation is caught (RA-TLS certificates:
 * test_ratls_cert_verify.c). test_quote_verify_upstream: every upstream quote verifies to the Intel
 * SGX Root CA, within its PCK's validity, and not under a foreign root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "crypto/pkey_util.h"
#include "test_evidence.h"
#include "test_util.h"
#include "agent_side.h"
#include "attest/attest_internal.h"

#define T_2026_01_01 1767225600 /* before the tdx-lite PCK's notBefore (2026-04-15) */
#define T_2026_04_15 1776211200
#define T_2027_01_01 1798761600 /* inside every fixture PCK's validity */
#define T_2031_08_02 1943395200
#define T_2032_01_01 1956528000 /* after the tdx_quote PCK's notAfter (2031-08-02) */

#define QUOTE_PAD 70

static const dstack_quote_verify_opts at_2027 = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                                 .trusted_root_pem = NULL,
                                                 .verification_time = T_2027_01_01, .flags = 0};

/* A quote of test VM 1 (RTMRs = its boot's replay) under `p`, padded like the agent's. */
static uint8_t *own_quote(const qf_pki *p, size_t *len)
{
    dstack_event_log log;
    uint8_t rtmr[4][48], body[QF_SIGNED_LEN], rd[64] = "own quote";
    te_vm vm;

    te_vm_init(&vm, 1);
    te_event_log(&vm, &log);
    dstack_event_log_replay(&log, rtmr, NULL);
    dstack_event_log_free(&log);
    qf_body(body, (const uint8_t(*)[48])rtmr, rd);
    return qf_quote(p, body, QUOTE_PAD, len);
}

/* Signature-data length of a quote made here. */
static size_t sig_len_of(const uint8_t *q)
{
    return (size_t)q[632] | (size_t)q[633] << 8 | (size_t)q[634] << 16 | (size_t)q[635] << 24;
}

static dstack_status verify(const uint8_t *q, size_t len, const dstack_quote_verify_opts *opts,
                            dstack_quote_verify_result *r, dstack_error *err)
{
    dstack_error_clear(err);
    return dstack_tdx_quote_verify(q, len, opts, r, err);
}

/* Each test's PKI ("Test Root A") and quote; the options trust that root at 2027-01-01. */
typedef struct own {
    qf_pki pki;
    uint8_t *q;
    size_t len;
    dstack_quote_verify_opts opts;
} own;

static void own_init(own *o)
{
    qf_pki_init(&o->pki, "Test Root A", 1, true);
    o->q = own_quote(&o->pki, &o->len);
    o->opts = (dstack_quote_verify_opts){DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                         .trusted_root_pem = o->pki.root_pem,
                                         .verification_time = T_2027_01_01, .flags = 0};
}

static void own_free(own *o)
{
    free(o->q);
    qf_pki_free(&o->pki);
}

static void check_verified(const dstack_quote_verify_result *r)
{
    CU_ASSERT(r->structure_ok && r->quote_signature_ok && r->qe_report_binds_key);
    CU_ASSERT(r->qe_report_signature_ok && r->pck_chain_ok && r->policy_ok && r->verified);
    CU_ASSERT(!r->debug_td && r->mr_signer_seam_zero);
    CU_ASSERT(!r->tcb_status_checked && !r->revocation_checked && !r->qe_identity_checked);
    CU_ASSERT_STRING_EQUAL(r->chain_error, "");
    CU_ASSERT_EQUAL(r->qe_isv_prod_id, 2); /* a TD quoting enclave */
}

/* A quote made here verifies to its test root, with and without the driver padding. */
static void test_own_quote_verifies(void)
{
    own o;
    dstack_quote_verify_result r;
    dstack_error err;
    dstack_status rc;

    own_init(&o);
    rc = verify(o.q, o.len, &o.opts, &r, &err);
    if (rc != DSTACK_OK)
        fprintf(stderr, "own quote: %s\n", err.message);
    CU_ASSERT_EQUAL(rc, DSTACK_OK);
    check_verified(&r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.pck_subject, "CN=Test SGX PCK Certificate"));
    CU_ASSERT_EQUAL(verify(o.q, o.len - QUOTE_PAD, &o.opts, &r, &err), DSTACK_OK);
    check_verified(&r);
    own_free(&o);
}

/* The PCK leaf's validity period (here 2026-04-15 .. 2031-08-02, like the upstream PCKs'). */
static void test_verification_time(void)
{
    qf_pki pki;
    size_t len;
    uint8_t *q;
    dstack_quote_verify_opts at = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                   .trusted_root_pem = NULL, .verification_time = T_2027_01_01,
                                   .flags = 0};
    dstack_quote_verify_result r;
    dstack_error err;

    qf_pki_init_ex(&pki, "Test Root A", 1, true, T_2026_04_15, T_2031_08_02);
    q = own_quote(&pki, &len);
    at.trusted_root_pem = pki.root_pem;
    CU_ASSERT_EQUAL(verify(q, len, &at, &r, &err), DSTACK_OK);
    at.verification_time = T_2026_01_01;
    CU_ASSERT_EQUAL(verify(q, len, &at, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && r.quote_signature_ok && r.qe_report_signature_ok);
    CU_ASSERT_STRING_EQUAL(r.chain_error, "certificate is not yet valid");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not yet valid"));
    at.flags = DSTACK_QV_NO_TIME_CHECK;
    CU_ASSERT_EQUAL(verify(q, len, &at, &r, &err), DSTACK_OK);
    at.flags = 0;
    at.verification_time = T_2032_01_01;
    CU_ASSERT_EQUAL(verify(q, len, &at, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(r.chain_error, "certificate has expired");
    free(q);
    qf_pki_free(&pki);
}

/* One flipped byte in each signed or signing part is caught by the check that owns it. */
static void test_flipped_bytes(void)
{
    static const struct {
        size_t off;
        const char *what;
        bool quote_sig, binds, qe_sig, chain;
    } cases[] = {
        {200, "TD report body (MRTD)", false, true, true, true},
        {20, "header user data", false, true, true, true},
        {QF_OFF_SIG + 5, "quote signature", false, true, true, true},
        {QF_OFF_ATT_KEY + 5, "attestation key", false, false, true, true},
        {QF_OFF_QE_REPORT + 70, "QE report MRENCLAVE", true, true, false, true},
        {QF_OFF_QE_REPORT + 330, "QE report report_data", true, false, false, true},
        {QF_OFF_QE_SIG + 40, "QE report signature", true, true, false, true},
        {QF_OFF_AUTH + 3, "QE auth data", true, false, true, true},
    };
    own o;
    uint8_t *q;
    size_t len;
    dstack_quote_verify_result r;
    dstack_error err;

    own_init(&o);
    q = o.q;
    len = o.len;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        q[cases[i].off] ^= 0x01;
        CU_ASSERT_EQUAL(verify(q, len, &o.opts, &r, &err), DSTACK_ERR_CRYPTO);
        if (r.quote_signature_ok != cases[i].quote_sig || r.qe_report_binds_key != cases[i].binds ||
            r.qe_report_signature_ok != cases[i].qe_sig || r.pck_chain_ok != cases[i].chain)
            fprintf(stderr, "flipped %s: %d %d %d %d\n", cases[i].what, r.quote_signature_ok,
                    r.qe_report_binds_key, r.qe_report_signature_ok, r.pck_chain_ok);
        CU_ASSERT(r.structure_ok && !r.verified);
        CU_ASSERT_EQUAL(r.quote_signature_ok, cases[i].quote_sig);
        CU_ASSERT_EQUAL(r.qe_report_binds_key, cases[i].binds);
        CU_ASSERT_EQUAL(r.qe_report_signature_ok, cases[i].qe_sig);
        CU_ASSERT_EQUAL(r.pck_chain_ok, cases[i].chain);
        q[cases[i].off] ^= 0x01;
    }
    CU_ASSERT_EQUAL(verify(q, len, &o.opts, &r, &err), DSTACK_OK);
    own_free(&o);
}

/* The n-th base64 character (counting back from the end when n < 0) of the c-th certificate
 * of the quote's PEM chain. */
static size_t pem_offset(const uint8_t *q, int c, int n)
{
    const char *pem = (const char *)q + QF_OFF_PEM, *begin = pem, *end;

    for (int i = 0; i <= c; i++) {
        begin = strstr(i == 0 ? begin : end, "-----BEGIN CERTIFICATE-----\n");
        CU_ASSERT_PTR_NOT_NULL_FATAL(begin);
        begin += 28;
        end = strstr(begin, "-----END CERTIFICATE-----");
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    }
    if (n >= 0)
        return (size_t)(begin + n - (const char *)q);
    /* back from the end, over base64 characters only (not '=' or line breaks) */
    for (const char *p = end - 1; p > begin; p--)
        if (*p != '\n' && *p != '=' && ++n == 0)
            return (size_t)(p - (const char *)q);
    CU_FAIL_FATAL("certificate too short");
    return 0;
}

/* A changed base64 character inside the PCK leaf (its TBS or its signature) or the
 * intermediate breaks the chain; a removed PEM line makes it unparsable. */
static void test_flipped_pck_pem(void)
{
    own o;
    uint8_t *q;
    size_t len, offsets[3];
    dstack_quote_verify_result r;
    dstack_error err;

    own_init(&o);
    q = o.q;
    len = o.len;
    offsets[0] = pem_offset(q, 0, 200); /* leaf TBS */
    offsets[1] = pem_offset(q, 0, -10); /* leaf signature */
    offsets[2] = pem_offset(q, 1, 200); /* intermediate */
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        uint8_t saved = q[offsets[i]];

        q[offsets[i]] = saved == 'A' ? 'B' : 'A';
        CU_ASSERT_EQUAL(verify(q, len, &o.opts, &r, &err), DSTACK_ERR_CRYPTO);
        CU_ASSERT(r.structure_ok && !r.pck_chain_ok && !r.verified);
        CU_ASSERT(r.chain_error[0] != '\0');
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "PCK certificate chain"));
        q[offsets[i]] = saved;
    }
    q[QF_OFF_PEM + 5] = '#'; /* "-----BEGIN" mangled: the leaf is gone, garbage precedes */
    CU_ASSERT_EQUAL(verify(q, len, &o.opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && !r.qe_report_signature_ok);
    own_free(&o);
}

/* own_init, returning where the signature data ends. */
static size_t own_init_sig_end(own *o)
{
    own_init(o);
    return QF_OFF_SIG + sig_len_of(o->q);
}

/* Cut at each field boundary, once as is and once with the signature-data length shrunk
 * to match (so only the inner sizes disagree): always a protocol error, never a crash. */
static void test_truncation(void)
{
    own o;
    size_t end = own_init_sig_end(&o);
    uint8_t *q = o.q;
    const size_t cuts[] = {0,
                           1,
                           47,
                           48,
                           631,
                           632,
                           635,
                           QF_OFF_SIG,
                           QF_OFF_SIG + 1,
                           QF_OFF_ATT_KEY,
                           QF_OFF_CERT_TYPE,
                           QF_OFF_CERT_TYPE + 2,
                           QF_OFF_QE_REPORT,
                           QF_OFF_QE_REPORT + 383,
                           QF_OFF_QE_SIG,
                           QF_OFF_AUTH_LEN,
                           QF_OFF_AUTH_LEN + 1,
                           QF_OFF_AUTH,
                           QF_OFF_AUTH + 31,
                           QF_OFF_INNER_TYPE,
                           QF_OFF_INNER_TYPE + 4,
                           QF_OFF_PEM,
                           QF_OFF_PEM + 100,
                           end - 1};
    dstack_quote_verify_result r;
    dstack_error err;

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        uint8_t *cut = malloc(cuts[i] + 1);

        memcpy(cut, q, cuts[i]);
        CU_ASSERT_EQUAL(verify(cut, cuts[i], &o.opts, &r, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT(!r.structure_ok && !r.verified);
        if (cuts[i] >= QF_OFF_SIG) {
            qf_put_le(cut + 632, (uint32_t)(cuts[i] - QF_OFF_SIG), 4);
            if (verify(cut, cuts[i], &o.opts, &r, &err) != DSTACK_ERR_PROTOCOL)
                fprintf(stderr, "cut at %zu: %s\n", cuts[i], err.message);
            CU_ASSERT_EQUAL(verify(cut, cuts[i], &o.opts, &r, &err), DSTACK_ERR_PROTOCOL);
            CU_ASSERT(!r.structure_ok && !r.verified);
        }
        free(cut);
    }
    /* Every size shrunk consistently: the PEM itself is cut mid-certificate. */
    {
        size_t cut_len = QF_OFF_PEM + 1000;
        uint8_t *cut = malloc(cut_len);

        memcpy(cut, q, cut_len);
        qf_put_le(cut + 632, (uint32_t)(cut_len - QF_OFF_SIG), 4);
        qf_put_le(cut + QF_OFF_CERT_TYPE + 2, (uint32_t)(cut_len - QF_OFF_QE_REPORT), 4);
        qf_put_le(cut + QF_OFF_INNER_TYPE + 2, (uint32_t)(cut_len - QF_OFF_PEM), 4);
        CU_ASSERT_EQUAL(verify(cut, cut_len, &o.opts, &r, &err), DSTACK_ERR_CRYPTO);
        CU_ASSERT(r.structure_ok && !r.pck_chain_ok && r.quote_signature_ok);
        free(cut);
    }
    own_free(&o);
}

/* Sizes and types that lie. */
static void test_hostile_sizes_and_types(void)
{
    own o;
    uint8_t *q, *copy;
    size_t len;
    dstack_quote_verify_result r;
    dstack_error err;
    static const struct {
        size_t off;
        uint8_t bytes[4];
        size_t n;
        const char *msg;
    } lies[] = {
        {QF_OFF_CERT_TYPE, {5, 0}, 2, "certification data type 5"},
        {QF_OFF_CERT_TYPE, {7, 0}, 2, "certification data type 7"},
        {QF_OFF_CERT_TYPE + 2, {0xff, 0xff, 0xff, 0xff}, 4, "does not match"},
        {QF_OFF_CERT_TYPE + 2, {0, 0, 0, 0}, 4, "does not match"},
        {QF_OFF_AUTH_LEN, {0xff, 0xff}, 2, "auth data"},
        {QF_OFF_AUTH_LEN, {0, 0}, 2, "PCK certificate chain"}, /* auth bytes read as a type */
        {QF_OFF_INNER_TYPE, {4, 0}, 2, "QE certification data type 4"},
        {QF_OFF_INNER_TYPE + 2, {0xff, 0xff, 0xff, 0x7f}, 4, "PCK chain size"},
        {QF_OFF_PEM + 30, {0}, 1, "NUL"},
        {2, {3, 0}, 2, "attestation key type 3"},
        {0, {6, 0}, 2, "version 6"},
        {0, {5, 0}, 2, "body type"}, /* a v4 layout read as v5 */
    };

    own_init(&o);
    q = o.q;
    len = o.len;
    copy = malloc(len);
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        memcpy(copy, q, len);
        memcpy(copy + lies[i].off, lies[i].bytes, lies[i].n);
        CU_ASSERT_EQUAL(verify(copy, len, &o.opts, &r, &err), DSTACK_ERR_PROTOCOL);
        if (strstr(err.message, lies[i].msg) == NULL)
            fprintf(stderr, "lie %zu: %s\n", i, err.message);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, lies[i].msg));
        CU_ASSERT(!r.verified);
    }
    CU_ASSERT_EQUAL(verify(NULL, 0, &o.opts, &r, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(verify(q, len, &o.opts, NULL, &err), DSTACK_ERR_USAGE);
    free(copy);
    own_free(&o);
}

/* A quote whose header and body are `signed_part` (632 bytes), signed under `p`. */
static uint8_t *synth_quote(const qf_pki *p, const uint8_t *signed_part, size_t *len)
{
    return qf_build_quote(signed_part, p->att_key, p->pck_key, p->chain_pem, len);
}

static void test_custom_root_and_policy(void)
{
    size_t len, olen;
    uint8_t *q, *other_q, body[632];
    qf_pki pki, other, no_ext;
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                     .trusted_root_pem = NULL, .verification_time = T_2027_01_01,
                                     .flags = 0};
    dstack_quote_verify_result r;
    dstack_error err;

    qf_pki_init(&pki, "Test Root A", 1, true);
    qf_pki_init(&other, "Test Root B", 11, true);
    qf_body(body, NULL, NULL);
    q = synth_quote(&pki, body, &len);
    other_q = synth_quote(&other, body, &olen);
    /* Under the Intel root a self-made chain fails, while every signature holds. */
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(r.quote_signature_ok && r.qe_report_binds_key && r.qe_report_signature_ok);
    CU_ASSERT(!r.pck_chain_ok);
    opts.trusted_root_pem = pki.root_pem;
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_OK);
    CU_ASSERT(r.verified);
    CU_ASSERT_EQUAL(r.qe_isv_prod_id, 2);
    /* A different trusted root: the chain, and only the chain, fails. */
    opts.trusted_root_pem = other.root_pem;
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && r.quote_signature_ok && r.qe_report_signature_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "PCK certificate chain"));
    /* Another PKI's (valid) quote under a foreign root. */
    opts.trusted_root_pem = pki.root_pem;
    CU_ASSERT_EQUAL(verify(other_q, olen, &opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && r.quote_signature_ok);
    free(other_q);
    opts.trusted_root_pem = "not a certificate";
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    free(q);

    /* Policy (protocol.md §4.7 step 3): a debug TD and a non-zero MRSIGNERSEAM, validly signed. */
    opts.trusted_root_pem = pki.root_pem;
    body[168] |= 1;
    q = synth_quote(&pki, body, &len);
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(r.debug_td && !r.policy_ok && r.quote_signature_ok && r.pck_chain_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "debug TD"));
    opts.flags = DSTACK_QV_ALLOW_DEBUG;
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_OK);
    free(q);
    body[168] &= (uint8_t)~1u;
    body[112 + 7] = 0x42;
    q = synth_quote(&pki, body, &len);
    opts.flags = 0;
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.mr_signer_seam_zero && !r.policy_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "MRSIGNERSEAM"));
    opts.flags = DSTACK_QV_ALLOW_SEAM_SIGNER;
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_OK);
    free(q);

    /* A chain that verifies but whose leaf is no PCK certificate. */
    qf_pki_init(&no_ext, "Test Root C", 21, false);
    body[112 + 7] = 0;
    q = synth_quote(&no_ext, body, &len);
    opts.trusted_root_pem = no_ext.root_pem;
    opts.flags = 0;
    CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && r.qe_report_signature_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.chain_error, "SGX extension"));
    free(q);
    qf_pki_free(&no_ext);
    qf_pki_free(&pki);
    qf_pki_free(&other);
}

/* ---- upstream data ------------------------------------------------------------------------ */

static uint8_t *hex_field(const char *fixture, const char *field, size_t *len)
{
    uint8_t *text = test_read_fixture(fixture, NULL), *out;
    json_object *root = json_tokener_parse((const char *)text), *v;
    const char *hex;

    CU_ASSERT_FATAL(root != NULL && json_object_object_get_ex(root, field, &v));
    hex = json_object_get_string(v);
    out = malloc(strlen(hex) / 2 + 1);
    CU_ASSERT_FATAL(out != NULL && dstack_hex_decode(hex, strlen(hex), out, strlen(hex) / 2, len));
    json_object_put(root);
    free(text);
    return out;
}

/* The quote of each fixture that carries one. */
static uint8_t *fixture_quote(int which, size_t *len, const char **name)
{
    dstack_attestation att;
    uint8_t *buf, *quote;
    size_t blen;

    switch (which) {
    case 0:
        *name = "tdx_quote";
        return test_read_fixture("dstack/tdx_quote", len);
    case 1:
        *name = "attestation.bin";
        buf = test_read_fixture("dstack/attestation.bin", &blen);
        CU_ASSERT_FATAL(dstack_attestation_decode(buf, blen, &att, NULL) == DSTACK_OK);
        quote = malloc(att.quote_len);
        CU_ASSERT_FATAL(quote != NULL);
        memcpy(quote, att.quote, att.quote_len);
        *len = att.quote_len;
        dstack_attestation_free(&att);
        free(buf);
        return quote;
    case 2:
        *name = "quote-report.json";
        return hex_field("dstack/quote-report.json", "quote", len);
    default:
        *name = "tdx-lite-getquote.json";
        return hex_field("dstack/tdx-lite-getquote.json", "quote", len);
    }
}

static void test_fixtures_verify_to_intel_root(void)
{
    for (int i = 0; i < 4; i++) {
        const char *name;
        size_t len;
        uint8_t *q = fixture_quote(i, &len, &name);
        dstack_quote_verify_result r;
        dstack_error err;
        dstack_status rc = verify(q, len, &at_2027, &r, &err);

        if (rc != DSTACK_OK)
            fprintf(stderr, "%s: %s\n", name, err.message);
        CU_ASSERT_EQUAL(rc, DSTACK_OK);
        CU_ASSERT(r.structure_ok && r.quote_signature_ok && r.qe_report_binds_key);
        CU_ASSERT(r.qe_report_signature_ok && r.pck_chain_ok && r.policy_ok && r.verified);
        CU_ASSERT(!r.debug_td && r.mr_signer_seam_zero);
        CU_ASSERT(!r.tcb_status_checked && !r.revocation_checked && !r.qe_identity_checked);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.pck_subject, "CN=Intel SGX PCK Certificate"));
        CU_ASSERT_STRING_EQUAL(r.chain_error, "");
        CU_ASSERT_EQUAL(r.qe_isv_prod_id, 2); /* Intel's TD quoting enclave */
        free(q);
    }
}

/* Validity periods: tdx-lite's PCK starts 2026-04-15, tdx_quote's ends 2031-08-02. */
static void test_verification_time_upstream(void)
{
    const char *name;
    size_t len_lite, len_old;
    uint8_t *lite = fixture_quote(3, &len_lite, &name), *old = fixture_quote(0, &len_old, &name);
    dstack_quote_verify_opts early = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                      .trusted_root_pem = NULL, .verification_time = T_2026_01_01,
                                      .flags = 0},
                             late = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                     .trusted_root_pem = NULL, .verification_time = T_2032_01_01,
                                     .flags = 0};
    dstack_quote_verify_opts any = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                    .trusted_root_pem = NULL, .verification_time = T_2026_01_01,
                                    .flags = DSTACK_QV_NO_TIME_CHECK};
    dstack_quote_verify_result r;
    dstack_error err;

    CU_ASSERT_EQUAL(verify(lite, len_lite, &early, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && r.quote_signature_ok && r.qe_report_signature_ok);
    CU_ASSERT_STRING_EQUAL(r.chain_error, "certificate is not yet valid");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not yet valid"));
    CU_ASSERT_EQUAL(verify(lite, len_lite, &any, &r, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(verify(old, len_old, &late, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(r.chain_error, "certificate has expired");
    CU_ASSERT_EQUAL(verify(old, len_old, &at_2027, &r, &err), DSTACK_OK);
    free(lite);
    free(old);
}

/* Intel-signed quotes are not vouched for by a foreign root. */
static void test_fixture_under_foreign_root(void)
{
    qf_pki pki;
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                     .trusted_root_pem = NULL, .verification_time = T_2027_01_01,
                                     .flags = 0};
    dstack_quote_verify_result r;
    dstack_error err;

    qf_pki_init(&pki, "Test Root B", 11, true);
    opts.trusted_root_pem = pki.root_pem;
    for (int i = 0; i < 4; i++) {
        const char *name;
        size_t len;
        uint8_t *q = fixture_quote(i, &len, &name);

        CU_ASSERT_EQUAL(verify(q, len, &opts, &r, &err), DSTACK_ERR_CRYPTO);
        CU_ASSERT(!r.pck_chain_ok && r.quote_signature_ok && r.qe_report_signature_ok);
        free(q);
    }
    qf_pki_free(&pki);
}

int main(void)
{
    static const test_case cases[] = {
        {"quotes made here verify to their test root", test_own_quote_verifies},
        {"PCK validity at the verification time", test_verification_time},
        {"flipped byte in each signed part", test_flipped_bytes},
        {"flipped character in the PCK chain PEM", test_flipped_pck_pem},
        {"truncated at every structural boundary", test_truncation},
        {"hostile sizes and unsupported types", test_hostile_sizes_and_types},
        {"custom trusted root, foreign root, debug/MRSIGNERSEAM policy",
         test_custom_root_and_policy},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"fixture quotes verify to the Intel SGX root", test_fixtures_verify_to_intel_root},
        {"fixture PCK validity at the verification time", test_verification_time_upstream},
        {"fixture quotes under a foreign root", test_fixture_under_foreign_root},
        {NULL, NULL},
    };
    return test_run_split_suite("quote_verify", cases, upstream);
}
