/* Offline verification of RA-TLS certificates (client/attest/ratls_verify.c) on certificates
 * made here around synthetic quotes under a test PKI (tests/lib/quote_forge.h): the quote must
 * bind the certificate's key, RTMR3 must replay, the app policy holds, and the certificate
 * itself is checked (signature by its issuer or its own key, validity, one attestation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define T_2027_01_01 1798761600 /* inside the test PKI's validity */

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
    att.quote = qf_build_quote(body, p->att_key, p->pck_key, p->chain_pem, &att.quote_len);
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

int main(void)
{
    static const test_case cases[] = {
        {"RA-TLS certificate verification and policy", test_ratls_verify},
        {"RA-TLS: the certificate itself (signature, validity, one attestation)",
         test_ratls_verify_certificate},
        {NULL, NULL},
    };
    return test_run_suite("ratls_cert_verify", cases);
}
