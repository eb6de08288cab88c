/* The RA-TLS verifier behind handshake-time verification (include/dstack/ratls.h,
 * architecture.md §12): the relying party's policy, a collateral source (fixed, or a PCCS with
 * an in-memory cache per platform type until nextUpdate) and a cache of verdicts per
 * certificate. One verifier serves many threads and connections; its lock guards the two
 * caches only and is never held across a PCCS fetch or a verification. */
#include <dstack/ratls.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/dcap_internal.h"
#include "base/api_internal.h"
#include "verify/verify_internal.h"

#define PCCS_SLOTS 8
#define VERDICT_SLOTS 128
#define OFFLINE_VERDICT_SECONDS 3600
#define COLLATERAL_FILE_MAX DSTACK_COLLATERAL_MAX_JSON

typedef struct pccs_slot {
    char key[65];
    dstack_collateral *c;
} pccs_slot;

typedef struct verdict {
    uint8_t cert[32]; /* SHA-256 of the certificate DER */
    int64_t until;    /* valid while now < until */
    dstack_ratls_verification v;
} verdict;

struct dstack_ratls_verifier {
    pthread_mutex_t lock;
    int refs;
    dstack_ratls_policy policy;
    dstack_quote_verify_opts quote;
    char *root_pem;
    dstack_collateral *fixed; /* from the policy or the file */
    char *pccs_url, *cache_dir;
    unsigned timeout_ms;
    bool offline, verdict_cache;
    pccs_slot pccs[PCCS_SLOTS];
    size_t pccs_next;
    verdict *verdicts; /* VERDICT_SLOTS, used round-robin */
    size_t verdict_used, verdict_next;
};

static char *read_text(const char *path, size_t *len, dstack_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        (size_t)n > COLLATERAL_FILE_MAX || fseek(f, 0, SEEK_SET) != 0 ||
        (buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                         "cannot read the collateral file %.200s (missing, unreadable or over "
                         "%u bytes)",
                         path, COLLATERAL_FILE_MAX);
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

dstack_status dstack_ratls_verifier_new(const dstack_ratls_verifier_opts *opts_in,
                                        dstack_ratls_verifier **out, dstack_error *err)
{
    dstack_ratls_verifier_opts o;
    dstack_ratls_verifier *v = NULL;
    const char *url;
    char *text = NULL;
    size_t len = 0;
    dstack_status rc;

    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_ratls_verifier_new: no result");
    *out = NULL;
    if ((rc = dstack_options_read(opts_in, &o, sizeof(o), "dstack_ratls_verifier_opts", err)) !=
        DSTACK_OK)
        return rc;
    if ((v = calloc(1, sizeof(*v))) == NULL || pthread_mutex_init(&v->lock, NULL) != 0) {
        free(v);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    v->refs = 1;
    if ((rc = dstack_options_read(o.policy, &v->policy, sizeof(v->policy), "dstack_ratls_policy",
                                  err)) != DSTACK_OK ||
        (rc = dstack_options_read(v->policy.quote, &v->quote, sizeof(v->quote),
                                  "dstack_quote_verify_opts", err)) != DSTACK_OK) {
        v->policy.issuer = NULL; /* not yet a reference of ours */
        goto err;
    }
    /* the caller may free its issuer certificate once the verifier exists */
    if (v->policy.issuer != NULL && X509_up_ref(v->policy.issuer) != 1) {
        v->policy.issuer = NULL;
        goto oom;
    }
    v->policy.struct_size = sizeof(v->policy);
    v->quote.struct_size = sizeof(v->quote);
    v->policy.quote = &v->quote;
    if (v->quote.trusted_root_pem != NULL &&
        (v->root_pem = strdup(v->quote.trusted_root_pem)) == NULL)
        goto oom;
    v->quote.trusted_root_pem = v->root_pem;
    v->verdict_cache = !o.no_verdict_cache;
    v->timeout_ms = o.pccs_timeout_ms;
    url = dstack_pccs_url_or_env(o.pccs_url);
    if (v->quote.collateral != NULL) {
        v->fixed = dcap_collateral_ref(v->quote.collateral);
    } else if (o.collateral_file != NULL) {
        if ((text = read_text(o.collateral_file, &len, err)) == NULL) {
            rc = DSTACK_ERR_USAGE;
            goto err;
        }
        rc = dstack_collateral_from_json(text, len, &v->fixed, err);
        free(text);
        if (rc != DSTACK_OK) {
            dstack_error_context(err, "collateral file %.200s", o.collateral_file);
            goto err;
        }
    } else if (url != NULL) {
        if ((v->pccs_url = strdup(url)) == NULL ||
            (o.cache_dir != NULL && (v->cache_dir = strdup(o.cache_dir)) == NULL))
            goto oom;
    } else if (o.offline_ok) {
        v->offline = true;
    } else {
        rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                              "RA-TLS verifier: no collateral source (a collateral file, a PCCS "
                              "URL or " DSTACK_PCCS_URL_ENV
                              "); set offline_ok to verify without TCB "
                              "status, revocation and QE identity");
        goto err;
    }
    v->quote.collateral = NULL; /* set per verification */
    if (v->verdict_cache && (v->verdicts = calloc(VERDICT_SLOTS, sizeof(*v->verdicts))) == NULL)
        goto oom;
    *out = v;
    return DSTACK_OK;
oom:
    rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
err:
    dstack_ratls_verifier_free(v);
    return rc;
}

dstack_ratls_verifier *dstack_ratls_verifier_ref(dstack_ratls_verifier *v)
{
    pthread_mutex_lock(&v->lock);
    v->refs++;
    pthread_mutex_unlock(&v->lock);
    return v;
}

void dstack_ratls_verifier_free(dstack_ratls_verifier *v)
{
    int left;

    if (v == NULL)
        return;
    pthread_mutex_lock(&v->lock);
    left = --v->refs;
    pthread_mutex_unlock(&v->lock);
    if (left > 0)
        return;
    for (size_t i = 0; i < PCCS_SLOTS; i++)
        dstack_collateral_free(v->pccs[i].c);
    dstack_collateral_free(v->fixed);
    free(v->verdicts);
    X509_free(v->policy.issuer);
    free(v->root_pem);
    free(v->pccs_url);
    free(v->cache_dir);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* The collateral for this quote: fixed, from the memory cache, or fetched (and remembered). */
static dstack_status collateral_for(dstack_ratls_verifier *v, const dstack_attestation *att,
                                    int64_t now, dstack_collateral **out, dstack_error *err)
{
    dstack_pccs_opts po = {DSTACK_OPTIONS_INIT(dstack_pccs_opts)};
    char key[65];
    dstack_status rc;

    *out = NULL;
    if (v->fixed != NULL) {
        *out = dcap_collateral_ref(v->fixed);
        return DSTACK_OK;
    }
    if (v->offline)
        return DSTACK_OK;
    if (att->quote == NULL)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "RA-TLS certificate attestation holds no quote");
    if ((rc = dstack_pccs_cache_key(att->quote, att->quote_len, v->pccs_url, key, err)) !=
        DSTACK_OK)
        return rc;
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < PCCS_SLOTS && *out == NULL; i++) {
        if (v->pccs[i].c != NULL && strcmp(v->pccs[i].key, key) == 0 &&
            now < dstack_collateral_next_update(v->pccs[i].c))
            *out = dcap_collateral_ref(v->pccs[i].c);
    }
    pthread_mutex_unlock(&v->lock);
    if (*out != NULL)
        return DSTACK_OK;
    po.url = v->pccs_url;
    po.timeout_ms = v->timeout_ms;
    po.cache_dir = v->cache_dir;
    po.now = now;
    if ((rc = dstack_pccs_fetch(att->quote, att->quote_len, &po, out, err)) != DSTACK_OK) {
        dstack_error_context(err, "RA-TLS collateral");
        return rc;
    }
    pthread_mutex_lock(&v->lock);
    {
        pccs_slot *s = &v->pccs[v->pccs_next];

        v->pccs_next = (v->pccs_next + 1) % PCCS_SLOTS;
        dstack_collateral_free(s->c);
        s->c = dcap_collateral_ref(*out);
        memcpy(s->key, key, sizeof(s->key));
    }
    pthread_mutex_unlock(&v->lock);
    return DSTACK_OK;
}

static bool cert_digest(X509 *cert, uint8_t out[32])
{
    unsigned int n = 0;

    return X509_digest(cert, EVP_sha256(), out, &n) == 1 && n == 32;
}

static bool verdict_lookup(dstack_ratls_verifier *v, const uint8_t digest[32], int64_t now,
                           dstack_ratls_verification *out)
{
    bool hit = false;

    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < v->verdict_used && !hit; i++) {
        if (memcmp(v->verdicts[i].cert, digest, 32) == 0 && now < v->verdicts[i].until) {
            *out = v->verdicts[i].v;
            hit = true;
        }
    }
    pthread_mutex_unlock(&v->lock);
    return hit;
}

static void verdict_store(dstack_ratls_verifier *v, const uint8_t digest[32], int64_t until,
                          const dstack_ratls_verification *r)
{
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < v->verdict_used; i++) {
        if (memcmp(v->verdicts[i].cert, digest, 32) == 0) { /* a renewed verdict */
            v->verdicts[i].until = until;
            v->verdicts[i].v = *r;
            pthread_mutex_unlock(&v->lock);
            return;
        }
    }
    memcpy(v->verdicts[v->verdict_next].cert, digest, 32);
    v->verdicts[v->verdict_next].until = until;
    v->verdicts[v->verdict_next].v = *r;
    v->verdict_next = (v->verdict_next + 1) % VERDICT_SLOTS;
    if (v->verdict_used < VERDICT_SLOTS)
        v->verdict_used++;
    pthread_mutex_unlock(&v->lock);
}

/* The certificate among those the peer sent that issued `cert` (names, key identifiers, CA
 * key usage, as X509_check_issued judges); NULL for a self-issued certificate or none found. */
static X509 *sent_issuer(X509 *cert, const STACK_OF(X509) * sent)
{
    int i;

    if (sent == NULL || X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0)
        return NULL;
    for (i = 0; i < sk_X509_num(sent); i++) {
        X509 *candidate = sk_X509_value(sent, i);
        if (candidate != cert && X509_check_issued(candidate, cert) == X509_V_OK)
            return candidate;
    }
    return NULL;
}

dstack_status dstack_ratls_verifier_verify(dstack_ratls_verifier *v, X509 *cert,
                                           dstack_ratls_verification *out, dstack_error *err)
{
    return dstack_ratls_verifier_verify_sent(v, cert, NULL, out, err);
}

dstack_status dstack_ratls_verifier_verify_sent(dstack_ratls_verifier *v, X509 *cert,
                                                const STACK_OF(X509) * sent,
                                                dstack_ratls_verification *out, dstack_error *err)
{
    int64_t now, not_before, not_after, until;
    dstack_quote_verify_opts qopts;
    dstack_ratls_policy policy;
    dstack_ratls_info info;
    dstack_collateral *c = NULL;
    uint8_t digest[32];
    bool have_digest;
    dstack_status rc;

    if (v == NULL || cert == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_ratls_verifier_verify: no verifier, certificate or result");
    memset(out, 0, sizeof(*out));
    now = v->quote.verification_time != 0 ? v->quote.verification_time : (int64_t)time(NULL);
    have_digest = cert_digest(cert, digest);
    if (v->verdict_cache && have_digest && verdict_lookup(v, digest, now, out))
        return DSTACK_OK;
    /* the TLS layer's own check, replaced by this verification: the leaf's validity */
    if (!dcap_asn1_time(X509_get0_notBefore(cert), &not_before) ||
        !dcap_asn1_time(X509_get0_notAfter(cert), &not_after))
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "RA-TLS certificate validity does not parse");
    if (!(v->quote.flags & DSTACK_QV_NO_TIME_CHECK) && (now < not_before || now > not_after))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "RA-TLS certificate is %s at the verification time",
                                now < not_before ? "not yet valid" : "expired");
    if (!v->offline && v->fixed == NULL) {
        /* the quote is needed to know which platform's collateral to use */
        if ((rc = dstack_ratls_inspect(cert, &info, err)) != DSTACK_OK)
            return rc;
        rc = info.has_attestation
                 ? collateral_for(v, &info.attestation, now, &c, err)
                 : dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                    "certificate carries no dstack attestation (neither %s nor "
                                    "%s)",
                                    DSTACK_OID_ATTESTATION, DSTACK_OID_TDX_QUOTE);
        dstack_ratls_info_free(&info);
        if (rc != DSTACK_OK)
            return rc;
    } else if ((rc = collateral_for(v, NULL, now, &c, err)) != DSTACK_OK) {
        return rc;
    }
    policy = v->policy;
    if (policy.issuer == NULL)
        policy.issuer = sent_issuer(cert, sent);
    qopts = v->quote;
    qopts.collateral = c;
    policy.quote = &qopts;
    rc = dstack_ratls_verify(cert, &policy, out, err);
    if (rc == DSTACK_OK && v->verdict_cache && have_digest) {
        until = c != NULL ? dstack_collateral_next_update(c) : now + OFFLINE_VERDICT_SECONDS;
        if (not_after + 1 < until)
            until = not_after + 1;
        verdict_store(v, digest, until, out);
    }
    dstack_collateral_free(c);
    return rc;
}
