/* Certificate sources of architecture.md §4: agent-issued (Tappd.DeriveKey), self-issued RA-TLS
 * (evidence from Attest / GetQuote, certificate built by ratls_cert.c), ephemeral
 * (GetTlsKey), auto, none. Runs without the resolver lock, after the key is known.
 *
 * Everything the agent sends is parsed in libdstack's private library context with
 * passphrases refused (crypto/untrusted.h), and evidence is checked against the report_data
 * it was asked for before it goes into a certificate.
 */
#include "resolve/resolve_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include <dstack/attest.h>

#include "attest/attest_internal.h"
#include "crypto/pkey_util.h"
#include "crypto/untrusted.h"

/* ---- agent-issued chains ------------------------------------------------------------------- */

/* Real agents return [leaf, CA] (protocol.md §4.6); a longer chain than this is hostile or broken,
 * and every entry costs a PEM decode and a copy in the result. */
#define RESOLVE_MAX_CHAIN 16

/* The leaf's SubjectPublicKeyInfo is byte-identical to the key's (compared as DER: the two
 * objects live in different library contexts). */
static bool leaf_carries_key(X509 *leaf, const dstack_resolved *out)
{
    unsigned char *spki = NULL;
    int len = i2d_PUBKEY(X509_get0_pubkey(leaf), &spki);
    bool same = len > 0 && (size_t)len == out->spki_der_len &&
                memcmp(spki, out->spki_der, out->spki_der_len) == 0;

    OPENSSL_free(spki);
    return same;
}

/* Decodes the PEM chain (leaf first) into the result. The leaf must carry our key: a
 * certificate for another key would make TLS fail later with a far less helpful message,
 * or, worse, pair our key with someone else's identity. */
static dstack_status add_pem_chain(resolve_job *job, const dstack_tls_key_response *tr,
                                   const char *method, const char *endpoint, dstack_error *err)
{
    OSSL_LIB_CTX *ctx = job_untrusted_ctx(job, err);
    dstack_status rc = DSTACK_OK;

    if (ctx == NULL)
        return DSTACK_ERR_INTERNAL;
    if (tr->certificate_chain_len == 0)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, method, endpoint,
                                "the agent returned no certificate");
    if (tr->certificate_chain_len > RESOLVE_MAX_CHAIN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, method, endpoint,
                                "the certificate chain has %zu entries, at most %d are accepted",
                                tr->certificate_chain_len, RESOLVE_MAX_CHAIN);
    for (size_t i = 0; i < tr->certificate_chain_len && rc == DSTACK_OK; i++) {
        char why[96];
        X509 *cert = dstack_untrusted_x509_pem(ctx, tr->certificate_chain[i], why, sizeof(why));
        if (cert == NULL) {
            rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, method, endpoint,
                                  "certificate %zu of the chain is not a single PEM certificate "
                                  "(%s)",
                                  i, why);
            break;
        }
        if (i == 0 && !leaf_carries_key(cert, job->out))
            rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, method, endpoint,
                                  "agent certificate does not match the derived key");
        if (rc == DSTACK_OK)
            rc = resolved_add_cert(job->out, cert, err);
        X509_free(cert);
    }
    return rc;
}

static void tls_request(const resolve_job *job, const char *default_cn, dstack_tls_key_request *req)
{
    memset(req, 0, sizeof(*req));
    req->struct_size = sizeof(*req);
    req->subject = job->uri.cn != NULL ? job->uri.cn : default_cn;
    req->alt_names = (const char *const *)job->uri.san;
    req->alt_names_len = job->uri.san_count;
    req->usage_ra_tls = job->ratls != DSTACK_RATLS_NO;
    req->usage_server_auth = job->uri.usage_server;
    req->usage_client_auth = job->uri.usage_client;
}

/* `may_fall_back`: for cert=auto, a missing Tappd service means "use self" (*fell_back). */
static dstack_status cert_agent(resolve_job *job, bool may_fall_back, bool *fell_back,
                                dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_tls_key_response tr;
    dstack_tls_key_request req;
    dstack_client *c = NULL;
    dstack_error call_err;
    dstack_status rc;

    memset(&tr, 0, sizeof(tr));
    dstack_error_clear(&call_err);
    if (!dstack_alg_get(job->uri.alg)->agent_certificates)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "cert=agent needs alg=p256: the agent issues P-256 "
                                "certificates only (use cert=self for %s)",
                                dstack_key_alg_name(job->uri.alg));
    /* Tappd.DeriveKey has no with_app_info field (protocol.md §2.2). */
    if (job->uri.app_info)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "app-info=yes cannot be used with cert=agent: Tappd.DeriveKey "
                                "cannot embed app info (use cert=self or ephemeral=yes)");
    tls_request(job, job->uri.path, &req);
    req.path = job->uri.path;
    /* deterministic: the leaf carries the derived key (protocol.md §3.2) */
    req.random_seed = false;
    RDEBUG(r, RDEBUG_RPC, "Tappd.DeriveKey on %s", r->tappd_endpoint);
    rc = job_tappd(job, &c, &call_err);
    if (rc == DSTACK_OK)
        rc = dstack_tappd_derive_key(c, &req, &tr, &call_err);
    if (rc != DSTACK_OK) {
        /* cert=auto goes self-issued only when the Tappd service is absent — its socket,
         * found by discovery, does not exist — or the agent says it has no DeriveKey.
         * A timeout, a reset, an HTTP error or garbage is a failure, never a downgrade. */
        bool absent = !r->tappd_explicit && resolve_socket_missing(r->tappd_endpoint, &call_err);
        if (may_fall_back && (absent || resolve_method_missing(&call_err))) {
            RDEBUG(r, RDEBUG_RESOLVE, "cert=auto: Tappd service unavailable (%s); self-issuing",
                   call_err.message);
            *fell_back = true;
            rc = DSTACK_OK;
        } else if (err != NULL) {
            *err = call_err;
        }
        goto done;
    }
    rc = add_pem_chain(job, &tr, "Tappd.DeriveKey", r->tappd_endpoint, err);
    if (rc == DSTACK_OK)
        snprintf(job->out->cert_source, sizeof(job->out->cert_source), "agent");
done:
    dstack_tls_key_response_free(&tr);
    return rc;
}

/* GetTlsKey issues P-256 keys (protocol.md §2.1); the result is labelled p256, so nothing else. */
static bool is_p256(const EVP_PKEY *pkey)
{
    char group[64];
    return EVP_PKEY_is_a(pkey, "EC") &&
           EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          NULL) == 1 &&
           (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0);
}

/* Agents before 0.4 have no Tappd.DeriveK256Key. Their p256 key is, by definition
 * (architecture.md §3), the Tappd.DeriveKey(path) key — derived from the app CA key there
 * (protocol.md §3.2, §8), so it differs from what 0.4+ agents derive. The scalar goes to
 * `kr->key` (secure heap); there is no signature chain. */
dstack_status resolve_legacy_p256_key(resolve_job *job, dstack_key_response *kr, dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_tls_key_response tr;
    dstack_tls_key_request req;
    dstack_client *c = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *scalar = NULL;
    OSSL_LIB_CTX *uctx;
    char why[96] = "not a P-256 key";
    dstack_status rc;

    memset(&tr, 0, sizeof(tr));
    tls_request(job, job->uri.path, &req);
    req.path = job->uri.path;
    req.random_seed = false;
    RDEBUG(r, RDEBUG_RPC, "no Tappd.DeriveK256Key (agent < 0.4): Tappd.DeriveKey on %s",
           r->tappd_endpoint);
    rc = job_tappd(job, &c, err);
    if (rc == DSTACK_OK)
        rc = dstack_tappd_derive_key(c, &req, &tr, err);
    if (rc != DSTACK_OK)
        goto done;
    if ((uctx = job_untrusted_ctx(job, err)) == NULL) {
        rc = DSTACK_ERR_INTERNAL;
        goto done;
    }
    pkey = dstack_untrusted_private_key(uctx, tr.key_pem, why, sizeof(why));
    kr->key.data = OPENSSL_secure_malloc(32);
    if (pkey == NULL || !is_p256(pkey) ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &scalar) != 1 ||
        kr->key.data == NULL || BN_bn2binpad(scalar, kr->key.data, 32) != 32) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, "Tappd.DeriveKey", r->tappd_endpoint,
                              "key is not a single PEM P-256 private key (%s)",
                              pkey == NULL ? why : "not a P-256 key");
        goto done;
    }
    kr->key.len = 32;
done:
    if (rc != DSTACK_OK)
        dstack_key_response_free(kr);
    BN_clear_free(scalar);
    EVP_PKEY_free(pkey);
    dstack_tls_key_response_free(&tr);
    return rc;
}

dstack_status resolve_ephemeral(resolve_job *job, dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_tls_key_response tr;
    dstack_tls_key_request req;
    dstack_client *c = NULL;
    EVP_PKEY *parsed = NULL;
    OSSL_LIB_CTX *uctx;
    unsigned char *der = NULL;
    const unsigned char *p;
    char why[96] = "not a P-256 key";
    int len;
    dstack_status rc;

    memset(&tr, 0, sizeof(tr));
    tls_request(job, "dstack", &req);
    req.with_app_info = job->uri.app_info;
    RDEBUG(r, RDEBUG_RPC, "GetTlsKey on %s", r->endpoint);
    rc = job_guest(job, &c, err);
    if (rc == DSTACK_OK)
        rc = dstack_get_tls_key(c, &req, &tr, err);
    if (rc != DSTACK_OK)
        goto done;
    if ((uctx = job_untrusted_ctx(job, err)) == NULL) {
        rc = DSTACK_ERR_INTERNAL;
        goto done;
    }
    parsed = dstack_untrusted_private_key(uctx, tr.key_pem, why, sizeof(why));
    if (parsed == NULL || !is_p256(parsed)) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, "GetTlsKey", r->endpoint,
                              "key is not a single PEM P-256 private key (%s)",
                              parsed == NULL ? why : "not a P-256 key");
        goto done;
    }
    /* Into the caller's library context, through PKCS#8 DER (plain ASN.1, no decoders). */
    len = i2d_PrivateKey(parsed, &der);
    p = der;
    job->pkey =
        len > 0 ? d2i_AutoPrivateKey_ex(NULL, &p, len, r->cfg->libctx, r->cfg->propq) : NULL;
    if (job->pkey == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, "GetTlsKey", r->endpoint,
                              "cannot import the agent's key");
        goto done;
    }
    rc = dstack_pkey_to_spki_der(job->pkey, &job->out->spki_der, &job->out->spki_der_len, err);
    if (rc == DSTACK_OK)
        rc = add_pem_chain(job, &tr, "GetTlsKey", r->endpoint, err);
    if (rc == DSTACK_OK)
        snprintf(job->out->cert_source, sizeof(job->out->cert_source), "ephemeral");
done:
    if (der != NULL)
        OPENSSL_clear_free(der, (size_t)len);
    EVP_PKEY_free(parsed);
    dstack_tls_key_response_free(&tr);
    return rc;
}

/* ---- self-issued RA-TLS certificates ----------------------------------------------------- */

/* The evidence must be for the report_data asked for: embedding an attestation of something
 * else would produce a certificate that no verifier accepts, or one that vouches for another
 * key. Attest: the attestation's report_data and, when its platform evidence carries one this
 * library reads (a TDX quote, a SEV-SNP report), the evidence's. The bytes then go into the
 * certificate unchanged, whatever the platform (protocol.md §4.4.1, §4.8). */
static dstack_status check_attestation(const resolve_job *job, const dstack_bytes *att,
                                       const uint8_t rd[64], dstack_error *err)
{
    dstack_attestation a;
    uint8_t evidence_rd[64];
    dstack_status rc;

    memset(&a, 0, sizeof(a));
    rc = dstack_attestation_decode(att->data, att->len, &a, err);
    if (rc != DSTACK_OK) {
        dstack_error_origin(err, "Attest", job->r->endpoint);
        dstack_error_context(err, "the agent's attestation does not decode");
        return DSTACK_ERR_PROTOCOL;
    }
    if (memcmp(a.report_data, rd, 64) != 0)
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, "Attest", job->r->endpoint,
                              "the attestation is for another report_data than the one asked "
                              "for (this certificate's key)");
    else if (dstack_attestation_evidence_report_data(&a, evidence_rd) &&
             memcmp(evidence_rd, rd, 64) != 0)
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, "Attest", job->r->endpoint,
                              "the attestation's %s evidence is for another report_data than "
                              "the one asked for",
                              dstack_platform_name(a.platform));
    dstack_attestation_free(&a);
    return rc;
}

static dstack_status get_attestation(resolve_job *job, const uint8_t rd[64], ratls_evidence *ev,
                                     dstack_error *err)
{
    dstack_client *c = NULL;
    dstack_bytes att = {0};
    RDEBUG(job->r, RDEBUG_RPC, "Attest on %s", job->r->endpoint);
    dstack_status rc = job_guest(job, &c, err);
    if (rc == DSTACK_OK)
        rc = dstack_attest(c, rd, 64, &att, err);
    if (rc != DSTACK_OK)
        return rc;
    if (att.len == 0) {
        dstack_bytes_free(&att);
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, "Attest", job->r->endpoint,
                                "empty attestation");
    }
    rc = check_attestation(job, &att, rd, err);
    if (rc != DSTACK_OK) {
        dstack_bytes_free(&att);
        return rc;
    }
    /* Own copies: the RPC layer's buffers go back through its own free function. */
    ev->attestation = malloc(att.len);
    if (ev->attestation != NULL) {
        memcpy(ev->attestation, att.data, att.len);
        ev->attestation_len = att.len;
    }
    dstack_bytes_free(&att);
    if (ev->attestation == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    return DSTACK_OK;
}

/* GetQuote; with only the Tappd socket, Tappd.RawQuote (rd is exactly 64 bytes, which is
 * what RawQuote needs, protocol.md §2.2). */
static dstack_status get_quote(resolve_job *job, const uint8_t rd[64], ratls_evidence *ev,
                               dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_quote_response q;
    dstack_client *c = NULL;
    dstack_error guest_err;
    dstack_status rc;

    memset(&q, 0, sizeof(q));
    dstack_error_clear(&guest_err);
    const char *method = "GetQuote", *endpoint = r->endpoint;
    dstack_tdx_quote parsed;

    RDEBUG(r, RDEBUG_RPC, "GetQuote on %s", r->endpoint);
    rc = job_guest(job, &c, &guest_err);
    if (rc == DSTACK_OK)
        rc = dstack_get_quote(c, rd, 64, &q, &guest_err);
    if (rc != DSTACK_OK && resolve_guest_absent(job, &guest_err)) {
        RDEBUG(r, RDEBUG_RPC, "no guest agent socket; Tappd.RawQuote on %s", r->tappd_endpoint);
        dstack_quote_response_free(&q);
        memset(&q, 0, sizeof(q));
        method = "Tappd.RawQuote";
        endpoint = r->tappd_endpoint;
        rc = job_tappd(job, &c, err);
        if (rc == DSTACK_OK)
            rc = dstack_tappd_raw_quote(c, rd, 64, &q, err);
    } else if (rc != DSTACK_OK && err != NULL) {
        *err = guest_err;
    }
    if (rc != DSTACK_OK)
        goto done;
    if (q.quote.len == 0 && q.attestation.len > 0) {
        /* 0.6 agents on other TEEs answer with the attestation field only (protocol.md §2.1). */
        int platform = dstack_attestation_platform(q.attestation.data, q.attestation.len);

        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, method, endpoint,
                              "not a TDX attestation: %s (ratls=quote needs a TDX quote; use "
                              "ratls=attest)",
                              dstack_platform_name(platform));
        goto done;
    }
    if (q.quote.len == 0 || q.event_log_json == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, method, endpoint,
                              "response has no quote or event log");
        goto done;
    }
    /* As for Attest: the quote must be for exactly the report_data asked for. */
    if (dstack_tdx_quote_parse(q.quote.data, q.quote.len, &parsed, NULL) != DSTACK_OK ||
        memcmp(parsed.report_data, rd, 64) != 0) {
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, method, endpoint,
                              "the quote is not a TDX quote for the report_data asked for "
                              "(this certificate's key)");
        goto done;
    }
    ev->quote = malloc(q.quote.len);
    ev->event_log_json = strdup(q.event_log_json);
    if (ev->quote == NULL || ev->event_log_json == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    memcpy(ev->quote, q.quote.data, q.quote.len);
    ev->quote_len = q.quote.len;
done:
    dstack_quote_response_free(&q);
    return rc;
}

static dstack_status gather_evidence(resolve_job *job, const uint8_t rd[64], ratls_evidence *ev,
                                     dstack_error *err)
{
    dstack_ratls_mode mode = job->ratls;
    dstack_status rc = DSTACK_OK;

    if (mode == DSTACK_RATLS_AUTO) {
        dstack_error attest_err;
        dstack_error_clear(&attest_err);
        rc = get_attestation(job, rd, ev, &attest_err);
        if (rc == DSTACK_OK)
            goto app_info;
        /* Agents before 0.5.6 have no Attest, legacy agents no guest socket (protocol.md §0). */
        if (!resolve_method_missing(&attest_err) && !resolve_guest_absent(job, &attest_err)) {
            if (err != NULL)
                *err = attest_err;
            return rc;
        }
        RDEBUG(job->r, RDEBUG_RESOLVE, "ratls=auto: Attest unavailable (%s); using GetQuote",
               attest_err.message);
        mode = DSTACK_RATLS_QUOTE;
        rc = DSTACK_OK;
    }
    if (mode == DSTACK_RATLS_ATTEST || mode == DSTACK_RATLS_BOTH)
        rc = get_attestation(job, rd, ev, err);
    if (rc == DSTACK_OK && (mode == DSTACK_RATLS_QUOTE || mode == DSTACK_RATLS_BOTH))
        rc = get_quote(job, rd, ev, err);
    if (rc != DSTACK_OK)
        return rc;
app_info:
    if (job->uri.app_info) {
        const dstack_app_info *info = NULL;
        rc = job_info(job, &info, err);
        if (rc == DSTACK_OK)
            rc = ratls_app_info_encode(job->r->cfg, info, &ev->app_info, &ev->app_info_len, err);
    }
    return rc;
}

static dstack_status cert_self(resolve_job *job, dstack_error *err)
{
    ratls_evidence ev;
    uint8_t rd[64];
    X509 *cert = NULL;
    dstack_status rc;

    memset(&ev, 0, sizeof(ev));
    /* protocol.md §4.2: the attestation binds exactly this certificate's SubjectPublicKeyInfo. */
    rc = dstack_ratls_report_data_ex(job->r->cfg->libctx, job->r->cfg->propq, job->out->spki_der,
                                     job->out->spki_der_len, rd, err);
    if (rc == DSTACK_OK)
        rc = gather_evidence(job, rd, &ev, err);
    if (rc == DSTACK_OK)
        rc = ratls_cert_build(job->r->cfg, job->pkey, &job->uri, &ev, &cert, err);
    if (rc == DSTACK_OK)
        rc = resolved_add_cert(job->out, cert, err);
    if (rc == DSTACK_OK)
        snprintf(job->out->cert_source, sizeof(job->out->cert_source), "self");
    X509_free(cert);
    ratls_evidence_clear(&ev);
    return rc;
}

dstack_status resolve_certs(resolve_job *job, dstack_error *err)
{
    bool fell_back = false;
    dstack_status rc;

    switch (job->cert) {
    case DSTACK_CERT_NONE:
        return DSTACK_OK;
    case DSTACK_CERT_AGENT:
        return cert_agent(job, false, &fell_back, err);
    case DSTACK_CERT_SELF:
        return cert_self(job, err);
    case DSTACK_CERT_AUTO:
        /* Agent-issued chains are P-256 only and cannot carry app info; a missing Tappd
         * service (new agents may drop it) also selects a self-issued certificate. */
        if (job->uri.alg == DSTACK_ALG_P256 && !job->uri.app_info) {
            rc = cert_agent(job, true, &fell_back, err);
            if (rc != DSTACK_OK || !fell_back)
                return rc;
        }
        return cert_self(job, err);
    }
    return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown certificate mode %d",
                            (int)job->cert);
}
