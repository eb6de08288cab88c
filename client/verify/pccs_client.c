/* Collateral for a quote from a PCCS or Intel PCS (protocol.md §5.8): the PCK CRL of the CA
 * that issued the quote's PCK certificate, the TDX TCB info for its FMSPC, the TDX QE identity
 * and the root CA CRL, with the issuer chains the response headers carry; optionally through
 * the on-disk cache (pccs_cache.c). The signed documents are cut out of the responses byte for
 * byte: re-serialising them would only reproduce Intel's signed bytes by luck. */
#include <dstack/collateral.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <dstack/keys.h>

#include "attest/dcap_internal.h"
#include "base/api_internal.h"
#include "base/json_strict_internal.h"
#include "crypto/untrusted.h"
#include "verify/verify_internal.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_RESPONSE (4u * 1024u * 1024u)
#define INTEL_PCS "https://api.trustedservices.intel.com"

/* What the fetch needs from the quote. */
typedef struct platform {
    char fmspc[13]; /* uppercase hex */
    const char *ca; /* "platform" or "processor" */
} platform;

static dstack_status read_platform(const uint8_t *quote, size_t len, platform *out,
                                   dstack_error *err)
{
    char why[DCAP_WHY_LEN];
    OSSL_LIB_CTX *lib = dstack_untrusted_acquire();
    STACK_OF(X509) *chain = NULL;
    dcap_quote q;
    dcap_pck_ext ext;
    dstack_status rc;

    memset(out, 0, sizeof(*out));
    if (!dcap_quote_walk(quote, len, &q, why, sizeof(why))) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "%s", why);
        goto done;
    }
    if (q.tee_type != DCAP_TEE_TDX) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "not a TDX quote (TEE type 0x%x): only TDX collateral is fetched",
                              q.tee_type);
        goto done;
    }
    if (q.inner_type != 5) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "the quote carries no PEM PCK chain (certification data type %u)",
                              q.inner_type);
        goto done;
    }
    chain = dcap_pem_certs((const char *)q.inner, q.inner_len, 8, why, sizeof(why));
    if (chain == NULL || sk_X509_num(chain) == 0 ||
        !dcap_pck_ext_read(sk_X509_value(chain, 0), &ext, why, sizeof(why))) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "the quote's PCK certificate is unusable: %s",
                              chain != NULL && sk_X509_num(chain) == 0 ? "no certificate" : why);
        goto done;
    }
    for (int i = 0; i < 6; i++)
        snprintf(out->fmspc + 2 * i, 3, "%02X", ext.fmspc[i]);
    out->ca = dcap_pck_ca_kind(sk_X509_value(chain, 0));
    rc = DSTACK_OK;
done:
    sk_X509_pop_free(chain, X509_free);
    dstack_untrusted_release(lib);
    return rc;
}

/* dcap-qvl's base URL rules: trailing '/' and a trailing /sgx|tdx/certification/v4 dropped. */
static char *normalise_base(const char *url)
{
    static const char *const suffixes[] = {"/sgx/certification/v4", "/tdx/certification/v4"};
    char *base = strdup(url);
    size_t n;

    if (base == NULL)
        return NULL;
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    for (int i = 0; i < 2; i++) {
        size_t s = strlen(suffixes[i]);

        if (n >= s && strcmp(base + n - s, suffixes[i]) == 0)
            base[n -= s] = '\0';
    }
    return base;
}

static dstack_status get(const dstack_pccs_opts *o, const char *url, dstack_http_response *r,
                         dstack_error *err)
{
    dstack_status rc = dstack_http_get(url, o->timeout_ms, o->max_response, r, err);

    if (rc != DSTACK_OK) {
        dstack_error_context(err, "PCCS");
        return rc;
    }
    if (r->status < 200 || r->status > 299) {
        rc = dstack_error_set(err, DSTACK_ERR_AGENT, NULL, url, "PCCS answered HTTP %ld%s%.200s",
                              r->status, r->body_len > 0 ? ": " : "", (const char *)r->body);
        err->http_status = r->status;
        dstack_http_response_free(r);
    }
    return rc;
}

/* %XX only ('+' stays '+'), into a NUL-terminated malloc'd string. */
static char *percent_decode(const char *v, size_t n)
{
    char *out = malloc(n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (v[i] == '%' && i + 2 < n && (hi = dstack_hex_digit(v[i + 1])) >= 0 &&
            (lo = dstack_hex_digit(v[i + 2])) >= 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = v[i];
        }
    }
    *o = '\0';
    if (strlen(out) != (size_t)(o - out)) { /* a %00 */
        free(out);
        return NULL;
    }
    return out;
}

static dstack_status chain_header(const dstack_http_response *r, const char *url, const char *name,
                                  const char *alt, char **out, dstack_error *err)
{
    size_t n = 0;
    const char *v = dstack_http_header(r, name, &n);

    if (v == NULL && alt != NULL)
        v = dstack_http_header(r, alt, &n);
    if (v == NULL)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url,
                                "PCCS response has no %s header", name);
    if ((*out = percent_decode(v, n)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url,
                                "PCCS %s header is not a percent-encoded PEM", name);
    return DSTACK_OK;
}

/* {"<member>": {...signed object...}, "signature": "<hex r||s>"}: the object's exact bytes. */
static dstack_status signed_member(const dstack_http_response *r, const char *url,
                                   const char *member, char **text, uint8_t **sig, size_t *sig_len,
                                   dstack_error *err)
{
    char why[128] = "";
    dstack_jv *j = dstack_jv_parse((const char *)r->body, r->body_len, why, sizeof(why));
    const dstack_jv *doc = NULL, *s = NULL;
    dstack_status rc = DSTACK_OK;

    if (j == NULL || dstack_jv_get(j, member, &doc) != 1 || doc->type != DSTACK_JV_OBJECT ||
        dstack_jv_get(j, "signature", &s) != 1 || s->type != DSTACK_JV_STRING ||
        s->str_len % 2 != 0) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url,
                              "PCCS answer is not {\"%s\": {…}, \"signature\": \"<hex>\"}%s%s",
                              member, why[0] ? ": " : "", why);
        goto done;
    }
    *text = strndup((const char *)r->body + doc->start, doc->end - doc->start);
    *sig = malloc(s->str_len / 2 + 1);
    *sig_len = s->str_len / 2;
    if (*text == NULL || *sig == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    if (!dstack_hex_exact(s->str, s->str_len, *sig, *sig_len))
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url, "PCCS %s signature is not hex",
                              member);
done:
    dstack_jv_free(j);
    return rc;
}

static dstack_status take_body(dstack_http_response *r, uint8_t **out, size_t *len)
{
    *out = r->body;
    *len = r->body_len;
    r->body = NULL;
    return DSTACK_OK;
}

/* The first URI of the CRL distribution points of the last certificate of `pem` (the root). */
static char *root_crl_uri(const char *pem)
{
    char why[DCAP_WHY_LEN];
    OSSL_LIB_CTX *lib = dstack_untrusted_acquire();
    STACK_OF(X509) *chain = dcap_pem_certs(pem, strlen(pem), 8, why, sizeof(why));
    STACK_OF(DIST_POINT) *dps = NULL;
    char *uri = NULL;

    if (chain != NULL && sk_X509_num(chain) > 0)
        dps = X509_get_ext_d2i(sk_X509_value(chain, sk_X509_num(chain) - 1),
                               NID_crl_distribution_points, NULL, NULL);
    for (int i = 0; dps != NULL && i < sk_DIST_POINT_num(dps) && uri == NULL; i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        for (int k = 0; k < sk_GENERAL_NAME_num(dp->distpoint->name.fullname) && !uri; k++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, k);

            if (gn->type == GEN_URI)
                uri = strndup((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                              (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier));
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    sk_X509_pop_free(chain, X509_free);
    dstack_untrusted_release(lib);
    return uri;
}

/* The root CA CRL: a PCCS's rootcacrl (hex text), else the root's CRL distribution point. */
static dstack_status root_crl(const dstack_pccs_opts *o, const char *base, const char *qe_chain,
                              dcap_collateral_parts *p, dstack_error *err)
{
    char url[1024], *uri;
    dstack_http_response r;
    dstack_error ignored;
    size_t n;
    dstack_status rc;

    if (strncmp(base, INTEL_PCS, strlen(INTEL_PCS)) != 0) {
        snprintf(url, sizeof(url), "%s/sgx/certification/v4/rootcacrl", base);
        if (get(o, url, &r, &ignored) == DSTACK_OK) {
            n = r.body_len;
            while (n > 0 &&
                   (r.body[n - 1] == '\n' || r.body[n - 1] == '\r' || r.body[n - 1] == ' '))
                n--;
            p->root_ca_crl = malloc(n / 2 + 1);
            p->root_ca_crl_len = n / 2;
            rc = p->root_ca_crl != NULL && n % 2 == 0 &&
                         dstack_hex_exact((const char *)r.body, n, p->root_ca_crl, n / 2)
                     ? DSTACK_OK
                     : dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url,
                                        "PCCS root CA CRL is not hex");
            dstack_http_response_free(&r);
            return rc;
        }
    }
    if ((uri = root_crl_uri(qe_chain)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "no root CA CRL: the PCCS has none and the root certificate names "
                                "no CRL distribution point");
    rc = get(o, uri, &r, err);
    free(uri);
    if (rc != DSTACK_OK)
        return rc;
    take_body(&r, &p->root_ca_crl, &p->root_ca_crl_len);
    dstack_http_response_free(&r);
    return DSTACK_OK;
}

static dstack_status fetch(const dstack_pccs_opts *o, const char *base, const platform *plat,
                           dstack_collateral **out, dstack_error *err)
{
    dcap_collateral_parts p;
    dstack_http_response r;
    char url[1024];
    dstack_status rc;

    memset(&p, 0, sizeof(p));
    memset(&r, 0, sizeof(r));
    snprintf(url, sizeof(url), "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base, plat->ca);
    if ((rc = get(o, url, &r, err)) != DSTACK_OK ||
        (rc = chain_header(&r, url, "SGX-PCK-CRL-Issuer-Chain", NULL, &p.pck_crl_issuer_chain,
                           err)) != DSTACK_OK)
        goto done;
    take_body(&r, &p.pck_crl, &p.pck_crl_len);
    dstack_http_response_free(&r);
    snprintf(url, sizeof(url), "%s/tdx/certification/v4/tcb?fmspc=%s", base, plat->fmspc);
    if ((rc = get(o, url, &r, err)) != DSTACK_OK ||
        (rc = chain_header(&r, url, "SGX-TCB-Info-Issuer-Chain", "TCB-Info-Issuer-Chain",
                           &p.tcb_info_issuer_chain, err)) != DSTACK_OK ||
        (rc = signed_member(&r, url, "tcbInfo", &p.tcb_info, &p.tcb_info_signature,
                            &p.tcb_info_signature_len, err)) != DSTACK_OK)
        goto done;
    dstack_http_response_free(&r);
    snprintf(url, sizeof(url), "%s/tdx/certification/v4/qe/identity?update=standard", base);
    if ((rc = get(o, url, &r, err)) != DSTACK_OK ||
        (rc = chain_header(&r, url, "SGX-Enclave-Identity-Issuer-Chain", NULL,
                           &p.qe_identity_issuer_chain, err)) != DSTACK_OK ||
        (rc = signed_member(&r, url, "enclaveIdentity", &p.qe_identity, &p.qe_identity_signature,
                            &p.qe_identity_signature_len, err)) != DSTACK_OK)
        goto done;
    dstack_http_response_free(&r);
    if ((rc = root_crl(o, base, p.qe_identity_issuer_chain, &p, err)) != DSTACK_OK)
        goto done;
    /* pck_certificate_chain stays empty: the quote's own chain is used, so one collateral
     * serves every platform of this FMSPC (and the cache may hand it to any of them) */
    return dcap_collateral_build(&p, out, err);
done:
    dstack_http_response_free(&r);
    dcap_collateral_parts_free(&p);
    return rc;
}

/* The cache key: SHA-256 of what the collateral depends on. */
static void cache_key(const char *base, const platform *plat, char out[65])
{
    char text[1200];
    uint8_t d[32];

    snprintf(text, sizeof(text), "dstack-pccs-v1\n%s\ntdx\n%s\n%s", base, plat->fmspc, plat->ca);
    EVP_Digest(text, strlen(text), d, NULL, EVP_sha256(), NULL);
    dstack_hex_encode(d, 32, out);
}

dstack_status dstack_pccs_cache_key(const uint8_t *quote, size_t len, const char *url, char key[65],
                                    dstack_error *err)
{
    platform plat;
    char *base;
    dstack_status rc = read_platform(quote, len, &plat, err);

    if (rc != DSTACK_OK)
        return rc;
    if ((base = normalise_base(url)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    cache_key(base, &plat, key);
    free(base);
    return DSTACK_OK;
}

const char *dstack_pccs_url_or_env(const char *given)
{
    const char *env;

    if (given != NULL && *given != '\0')
        return given;
    env = getenv(DSTACK_PCCS_URL_ENV);
    return env != NULL && *env != '\0' ? env : NULL;
}

dstack_status dstack_pccs_fetch(const uint8_t *quote, size_t len, const dstack_pccs_opts *opts_in,
                                dstack_collateral **out, dstack_error *err)
{
    dstack_pccs_opts o;
    platform plat;
    char *base = NULL, key[65];
    int64_t now;
    dstack_status rc;

    if (out != NULL)
        *out = NULL;
    if (quote == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_pccs_fetch: no quote or no result");
    if ((rc = dstack_options_read(opts_in, &o, sizeof(o), "dstack_pccs_opts", err)) != DSTACK_OK)
        return rc;
    if ((o.url = dstack_pccs_url_or_env(o.url)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "no PCCS URL (dstack_pccs_opts.url or " DSTACK_PCCS_URL_ENV ")");
    if (strncmp(o.url, "http://", 7) != 0 && strncmp(o.url, "https://", 8) != 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "PCCS URL '%.200s' is not http:// or https://", o.url);
    if (strlen(o.url) > 512)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "PCCS URL too long");
    o.timeout_ms = o.timeout_ms ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
    o.max_response = o.max_response ? o.max_response : DEFAULT_MAX_RESPONSE;
    now = o.now ? o.now : (int64_t)time(NULL);
    if ((rc = read_platform(quote, len, &plat, err)) != DSTACK_OK)
        return rc;
    if ((base = normalise_base(o.url)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    cache_key(base, &plat, key);
    if (o.cache_dir != NULL && (*out = dstack_pccs_cache_get(o.cache_dir, key, now)) != NULL) {
        free(base);
        return DSTACK_OK;
    }
    rc = fetch(&o, base, &plat, out, err);
    if (rc == DSTACK_OK && o.cache_dir != NULL)
        (void)dstack_pccs_cache_put(o.cache_dir, key, *out);
    free(base);
    return rc;
}
