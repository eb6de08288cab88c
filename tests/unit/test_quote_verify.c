/* Offline DCAP verification of TDX quotes and RA-TLS certificates on quotes made here under
 * test PKIs shaped like Intel's (tests/lib/quote_forge.h): each tampered part, truncation, size
 * lie, validity period, foreign root and policy violation is caught, and the RA-TLS path binds
 * a fresh key. test_quote_verify_upstream: every upstream quote verifies to the Intel SGX Root
 * CA, within its PCK's validity, and not under a foreign root. */
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

/* ---- RA-TLS certificates ---------------------------------------------------------------- */
static const uint8_t test_app_id[20] = {0x5b, 0xb4, 1,  2,  3,  4,  5,  6,  7,  8,
                                        9,    10,   11, 12, 13, 14, 15, 16, 17, 18};

/* How the certificate around the attestation is made. */
typedef enum { ISSUED_BY_ROOT, SELF_SIGNED, TWO_ATTESTATIONS } cert_form;

/* An RA-TLS leaf for `key` whose .1.8 attestation holds a synthetic quote binding it; when
 * `bind` is false the quote binds some other key. */
static X509 *ratls_cert(const qf_pki *p, EVP_PKEY *key, bool bind, bool replay_ok, cert_form form)
{
    dstack_attestation att;
    dstack_event_log none = {NULL, 0};
    uint8_t body[632], compose[32], *enc = NULL, *spki = NULL;
    size_t enc_len = 0, spki_len = 0;
    dstack_cert_ext ext[2];
    dstack_cert_spec spec;
    X509 *cert = NULL;

    memset(&att, 0, sizeof(att));
    memset(compose, 0xc0, sizeof(compose));
    att.runtime_events = calloc(4, sizeof(dstack_runtime_event));
    att.runtime_events[0] =
        (dstack_runtime_event){strdup("app-id"), malloc(20), 20, DSTACK_EVENT_LOG_V1};
    memcpy(att.runtime_events[0].payload, test_app_id, 20);
    att.runtime_events[1] =
        (dstack_runtime_event){strdup("compose-hash"), malloc(32), 32, DSTACK_EVENT_LOG_V1};
    memcpy(att.runtime_events[1].payload, compose, 32);
    att.runtime_events[2] =
        (dstack_runtime_event){strdup("boot-mr-done"), NULL, 0, DSTACK_EVENT_LOG_V1};
    /* After boot-mr-done: an app-emitted "app-id" must not count. */
    att.runtime_events[3] =
        (dstack_runtime_event){strdup("app-id"), calloc(1, 20), 20, DSTACK_EVENT_LOG_V1};
    att.runtime_events_len = 4;
    att.config = strdup("{}");
    qf_body(body, NULL, NULL);
    CU_ASSERT_FATAL(dstack_pkey_to_spki_der(key, &spki, &spki_len, NULL) == DSTACK_OK);
    dstack_ratls_report_data(spki, spki_len, att.report_data);
    if (!bind)
        att.report_data[0] ^= 1;
    memcpy(body + 568, att.report_data, 64);
    {
        dstack_event_log log = {NULL, 0};
        uint8_t rtmr[4][48];

        for (size_t i = 0; i < att.runtime_events_len; i++)
            CU_ASSERT_FATAL(
                dstack_event_log_append(&log, 3, DSTACK_RUNTIME_EVENT_TYPE, NULL, 0,
                                        att.runtime_events[i].event, att.runtime_events[i].payload,
                                        att.runtime_events[i].payload_len, NULL) == DSTACK_OK);
        dstack_event_log_replay(&log, rtmr, NULL);
        memcpy(body + 520, rtmr[3], 48);
        if (!replay_ok)
            body[520] ^= 1;
        dstack_event_log_free(&log);
    }
    att.quote = synth_quote(p, body, &att.quote_len);
    att.tdx_event_log = none;
    CU_ASSERT_FATAL(dstack_attestation_encode_v0(&att, &enc, &enc_len, NULL) == DSTACK_OK);
    ext[0] = ext[1] = (dstack_cert_ext){DSTACK_OID_ATTESTATION, enc, enc_len};
    memset(&spec, 0, sizeof(spec));
    spec.common_name = "ratls.test";
    spec.not_before = 157766400;
    spec.not_after = 2524607999;
    spec.exts = ext;
    spec.n_exts = form == TWO_ATTESTATIONS ? 2 : 1;
    spec.ca_pathlen = -1;
    CU_ASSERT_FATAL(dstack_cert_build(&spec, key, form == SELF_SIGNED ? NULL : p->root_key,
                                      form == SELF_SIGNED ? NULL : p->root, &cert,
                                      NULL) == DSTACK_OK);
    free(enc);
    OPENSSL_free(spki);
    dstack_attestation_free(&att);
    return cert;
}

static void test_ratls_verify(void)
{
    qf_pki pki;
    EVP_PKEY *key = qf_p256(9);
    X509 *good, *unbound, *bad_replay;
    dstack_ratls_policy policy;
    dstack_quote_verify_opts qopts;
    dstack_ratls_verification v;
    dstack_error err;
    uint8_t compose[32];

    qf_pki_init(&pki, "Test Root A", 1, true);
    good = ratls_cert(&pki, key, true, true, ISSUED_BY_ROOT);
    unbound = ratls_cert(&pki, key, false, true, ISSUED_BY_ROOT);
    bad_replay = ratls_cert(&pki, key, true, false, ISSUED_BY_ROOT);
    memset(&policy, 0, sizeof(policy));
    policy.struct_size = sizeof(policy);
    qopts = (dstack_quote_verify_opts){DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                       .trusted_root_pem = pki.root_pem,
                                       .verification_time = T_2027_01_01, .flags = 0};
    policy.quote = &qopts;
    policy.issuer = pki.root;

    CU_ASSERT_EQUAL(dstack_ratls_verify(good, &policy, &v, &err), DSTACK_OK);
    CU_ASSERT(v.verified && v.report_data_binds_key && v.rtmr3_matches && v.quote_result.verified);
    CU_ASSERT(v.has_app_id && memcmp(v.app_id, test_app_id, 20) == 0);
    memset(compose, 0xc0, sizeof(compose));
    CU_ASSERT(v.has_compose_hash && memcmp(v.compose_hash, compose, 32) == 0);
    CU_ASSERT(!v.policy_checked);

    /* Policy: app id and compose hash from the boot events, mr_aggregated from the quote. */
    policy.has_app_id = true;
    memcpy(policy.app_id, test_app_id, 20);
    policy.has_compose_hash = true;
    memcpy(policy.compose_hash, compose, 32);
    policy.has_mr_aggregated = true;
    memcpy(policy.mr_aggregated, v.mr_aggregated, 32);
    CU_ASSERT_EQUAL(dstack_ratls_verify(good, &policy, &v, &err), DSTACK_OK);
    CU_ASSERT(v.policy_checked && v.policy_ok);
    policy.app_id[19] ^= 1;
    CU_ASSERT_EQUAL(dstack_ratls_verify(good, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!v.policy_ok && !v.verified && v.quote_result.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "app-id"));
    policy.app_id[19] ^= 1;
    policy.compose_hash[0] ^= 1;
    CU_ASSERT_EQUAL(dstack_ratls_verify(good, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "compose-hash"));
    policy.compose_hash[0] ^= 1;
    policy.mr_aggregated[0] ^= 1;
    CU_ASSERT_EQUAL(dstack_ratls_verify(good, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "mr_aggregated"));
    policy.mr_aggregated[0] ^= 1;

    CU_ASSERT_EQUAL(dstack_ratls_verify(unbound, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!v.report_data_binds_key && v.quote_result.verified && !v.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "does not bind"));
    CU_ASSERT_EQUAL(dstack_ratls_verify(bad_replay, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!v.rtmr3_matches && v.report_data_binds_key && !v.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "RTMR3"));
    /* Under the Intel root the same certificate's quote is not vouched for. */
    qopts.trusted_root_pem = NULL;
    CU_ASSERT_EQUAL(dstack_ratls_verify(good, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!v.quote_result.pck_chain_ok && v.report_data_binds_key && v.rtmr3_matches);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "PCK certificate chain"));
    /* A certificate without attestation; no certificate. */
    CU_ASSERT_EQUAL(dstack_ratls_verify(pki.root, NULL, &v, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT(!v.has_attestation && !v.verified);
    CU_ASSERT_EQUAL(dstack_ratls_verify(NULL, NULL, &v, &err), DSTACK_ERR_USAGE);

    X509_free(good);
    X509_free(unbound);
    X509_free(bad_replay);
    qf_pki_free(&pki);
    EVP_PKEY_free(key);
}

/* The certificate around the attestation (protocol.md §4.7, before step 1): the same
 * extensions signed by someone else, outside their validity, or twice in one certificate
 * are refused, each with its own message. */
static void test_ratls_verify_certificate(void)
{
    qf_pki pki, other;
    EVP_PKEY *key = qf_p256(9);
    X509 *issued, *self, *twice;
    dstack_ratls_policy policy;
    dstack_quote_verify_opts qopts;
    dstack_ratls_verification v;
    dstack_error err;

    qf_pki_init(&pki, "Test Root A", 1, true);
    qf_pki_init(&other, "Test Root B", 1, true);
    issued = ratls_cert(&pki, key, true, true, ISSUED_BY_ROOT);
    self = ratls_cert(&pki, key, true, true, SELF_SIGNED);
    twice = ratls_cert(&pki, key, true, true, TWO_ATTESTATIONS);
    memset(&policy, 0, sizeof(policy));
    policy.struct_size = sizeof(policy);
    qopts = (dstack_quote_verify_opts){DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                       .trusted_root_pem = pki.root_pem,
                                       .verification_time = T_2027_01_01};
    policy.quote = &qopts;

    /* cert=self: its own key signed it; no issuer needed. */
    CU_ASSERT_EQUAL(dstack_ratls_verify(self, &policy, &v, &err), DSTACK_OK);
    CU_ASSERT(v.cert_signature_ok && v.cert_time_ok && v.verified);
    /* An issued certificate without its issuer, or with another one. */
    CU_ASSERT_EQUAL(dstack_ratls_verify(issued, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!v.cert_signature_ok && !v.verified && v.report_data_binds_key);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not self-signed"));
    policy.issuer = other.root;
    CU_ASSERT_EQUAL(dstack_ratls_verify(issued, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not signed by the given issuer"));
    policy.issuer = pki.root;
    CU_ASSERT_EQUAL(dstack_ratls_verify(issued, &policy, &v, &err), DSTACK_OK);
    /* A self-signed certificate does not pass as issued by a root. */
    CU_ASSERT_EQUAL(dstack_ratls_verify(self, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    policy.issuer = NULL;
    /* Validity at the verification time: before notBefore (1975), after notAfter (2049). */
    qopts.verification_time = 100000000;
    CU_ASSERT_EQUAL(dstack_ratls_verify(self, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(v.cert_signature_ok && !v.cert_time_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "RA-TLS certificate: the certificate is not valid"));
    qopts.verification_time = 2600000000;
    CU_ASSERT_EQUAL(dstack_ratls_verify(self, &policy, &v, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!v.cert_time_ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not valid at 2600000000"));
    qopts.verification_time = T_2027_01_01;
    /* Two attestation extensions: unreadable, whatever signs it. */
    CU_ASSERT_EQUAL(dstack_ratls_verify(twice, &policy, &v, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than one " DSTACK_OID_ATTESTATION));
    CU_ASSERT(!v.verified);

    X509_free(issued);
    X509_free(self);
    X509_free(twice);
    qf_pki_free(&other);
    EVP_PKEY_free(key);
    qf_pki_free(&pki);
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
        {"RA-TLS certificate verification and policy", test_ratls_verify},
        {"RA-TLS: the certificate itself (signature, validity, one attestation)",
         test_ratls_verify_certificate},
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
