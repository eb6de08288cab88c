/* Verifying an RA-TLS certificate end to end (protocol.md §4.7): the attestation it carries, the
 * TDX quote's DCAP verification (quote_verify.c: offline, or with collateral and a TCB status
 * policy), the report_data binding of the certificate key, RTMR3 replay of the runtime events,
 * and an optional app policy.
 */
#include <dstack/attest.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/api_internal.h"

#define APP_ID_LEN 20
#define COMPOSE_HASH_LEN 32

/* The payload of the boot-time runtime event `name` (protocol.md §5.4). Only events before
 * "boot-mr-done" count: the system writes app-id and compose-hash before it, while anything
 * after is application-emitted and must not be able to masquerade as them. */
static bool boot_event(const dstack_attestation *att, const char *name, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < att->runtime_events_len; i++) {
        const dstack_runtime_event *ev = &att->runtime_events[i];

        if (strcmp(ev->event, "boot-mr-done") == 0)
            break;
        if (strcmp(ev->event, name) == 0) {
            if (ev->payload_len != len)
                return false;
            memcpy(out, ev->payload, len);
            return true;
        }
    }
    return false;
}

static void read_identity(const dstack_ratls_info *info, dstack_ratls_verification *out)
{
    out->has_app_id = boot_event(&info->attestation, "app-id", out->app_id, APP_ID_LEN);
    out->has_compose_hash =
        boot_event(&info->attestation, "compose-hash", out->compose_hash, COMPOSE_HASH_LEN);
    dstack_mr_aggregated(&info->quote, out->mr_aggregated);
}

/* protocol.md §4.7 step 6; returns the message of the first mismatch, NULL when all requested
 * match. */
static const char *check_policy(const dstack_ratls_policy *policy, dstack_ratls_verification *out)
{
    const char *why = NULL;

    out->policy_checked =
        policy->has_app_id || policy->has_compose_hash || policy->has_mr_aggregated;
    if (policy->has_mr_aggregated &&
        CRYPTO_memcmp(policy->mr_aggregated, out->mr_aggregated, 32) != 0)
        why = "mr_aggregated differs from the expected value";
    if (policy->has_compose_hash &&
        (!out->has_compose_hash ||
         CRYPTO_memcmp(policy->compose_hash, out->compose_hash, COMPOSE_HASH_LEN) != 0))
        why = out->has_compose_hash ? "compose-hash event differs from the expected hash"
                                    : "attestation has no 32-byte compose-hash boot event";
    if (policy->has_app_id &&
        (!out->has_app_id || CRYPTO_memcmp(policy->app_id, out->app_id, APP_ID_LEN) != 0))
        why = out->has_app_id ? "app-id event differs from the expected app id"
                              : "attestation has no 20-byte app-id boot event";
    out->policy_ok = why == NULL;
    return why;
}

/* The certificate as a certificate (protocol.md §4.7 step 1): a verifier that looked only at
 * the attestation would accept the same extensions re-signed by anyone, or long expired.
 * Returns the first problem, NULL when both checks hold. */
static const char *check_certificate(X509 *cert, const dstack_ratls_policy *policy,
                                     const dstack_quote_verify_opts *quote_opts,
                                     dstack_ratls_verification *out, char *why, size_t why_len)
{
    X509 *signer = policy->issuer != NULL ? policy->issuer : cert;
    EVP_PKEY *key = X509_get0_pubkey(signer);
    int64_t at = quote_opts->verification_time;
    time_t when = at != 0 ? (time_t)at : time(NULL);

    /* An issuer must be a CA for this certificate (names, key identifiers, keyCertSign); a
     * self-signed leaf has no keyCertSign, so for it the names must match. */
    bool names_ok = policy->issuer != NULL ? X509_check_issued(signer, cert) == X509_V_OK
                                           : X509_NAME_cmp(X509_get_subject_name(cert),
                                                           X509_get_issuer_name(cert)) == 0;

    out->cert_signature_ok = key != NULL && names_ok && X509_verify(cert, key) == 1;
    ERR_clear_error();
    out->cert_time_ok = (quote_opts->flags & DSTACK_QV_NO_TIME_CHECK) != 0 ||
                        (X509_cmp_time(X509_get0_notBefore(cert), &when) < 0 &&
                         X509_cmp_time(X509_get0_notAfter(cert), &when) > 0);
    if (!out->cert_signature_ok) {
        char name[256] = "";
        X509_NAME_oneline(X509_get_issuer_name(cert), name, sizeof(name));
        if (policy->issuer != NULL)
            snprintf(why, why_len,
                     "the certificate is not signed by the given issuer (its issuer "
                     "is %s)",
                     name);
        else
            snprintf(why, why_len,
                     "the certificate is not self-signed (issuer %s): give its "
                     "issuer certificate",
                     name);
        return why;
    }
    if (!out->cert_time_ok) {
        snprintf(why, why_len, "the certificate is not valid at %lld (notBefore/notAfter)",
                 (long long)when);
        return why;
    }
    return NULL;
}

dstack_status dstack_ratls_verify(X509 *cert, const dstack_ratls_policy *policy_in,
                                  dstack_ratls_verification *out, dstack_error *err)
{
    dstack_ratls_policy policy_copy, *policy = &policy_copy;
    dstack_quote_verify_opts quote_opts;
    dstack_ratls_info info;
    dstack_error quote_err;
    dstack_status rc, quote_rc;
    const char *policy_why, *cert_why;
    char why[512];

    memset(&info, 0, sizeof(info));
    if (out == NULL || cert == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_ratls_verify: no certificate or no result");
    memset(out, 0, sizeof(*out));
    if ((rc = dstack_options_read(policy_in, &policy_copy, sizeof(policy_copy),
                                  "dstack_ratls_policy", err)) != DSTACK_OK ||
        (rc = dstack_options_read(policy->quote, &quote_opts, sizeof(quote_opts),
                                  "dstack_quote_verify_opts", err)) != DSTACK_OK)
        return rc;
    cert_why = check_certificate(cert, policy, &quote_opts, out, why, sizeof(why));
    if ((rc = dstack_ratls_inspect(cert, &info, err)) != DSTACK_OK)
        goto done;
    out->has_attestation = info.has_attestation;
    out->from_legacy_oids = info.from_legacy_oids;
    if (!info.has_attestation) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "certificate carries no dstack attestation (neither %s nor %s)",
                              DSTACK_OID_ATTESTATION, DSTACK_OID_TDX_QUOTE);
        goto done;
    }
    if (!info.quote_parsed) {
        dstack_tdx_quote unused;
        rc = dstack_attestation_tdx_quote(&info.attestation, &unused, err);
        if (rc == DSTACK_OK) /* cannot happen: inspect parsed what this parses */
            rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "no TDX v4/v5 quote");
        dstack_error_context(err, "certificate attestation");
        goto done;
    }
    out->quote_parsed = true;
    out->quote = info.quote;
    out->report_data_binds_key = info.report_data_binds_key;
    out->rtmr3_matches = info.rtmr3_matches;
    read_identity(&info, out);
    policy_why = check_policy(policy, out);
    dstack_error_clear(&quote_err);
    quote_rc = dstack_tdx_quote_verify(info.attestation.quote, info.attestation.quote_len,
                                       policy->quote, &out->quote_result, &quote_err);
    out->verified = cert_why == NULL && out->report_data_binds_key && out->rtmr3_matches &&
                    quote_rc == DSTACK_OK && out->policy_ok;
    /* The order of the messages follows protocol.md §4.7: certificate, binding, quote, replay,
     * policy. */
    if (out->verified)
        rc = DSTACK_OK;
    else if (cert_why != NULL)
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "RA-TLS certificate: %s",
                              cert_why);
    else if (!out->report_data_binds_key)
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                              "RA-TLS report_data does not bind the certificate key "
                              "(SHA-512(\"ratls-cert:\" || SPKI))");
    else if (quote_rc != DSTACK_OK)
        rc = dstack_error_set(err, quote_rc, NULL, NULL, "RA-TLS %s", quote_err.message);
    else if (!out->rtmr3_matches)
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                              "RA-TLS runtime events do not replay to the quote's RTMR3");
    else
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "RA-TLS policy: %s", policy_why);
done:
    dstack_ratls_info_free(&info);
    return rc;
}
