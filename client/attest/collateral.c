/* QuoteCollateralV3 JSON (protocol.md §5.7) and the prepared collateral object: the fields as
 * given (signed documents byte for byte) plus what can be parsed once — CRLs, issuer chains,
 * the TCB info and QE identity — so that verifying many quotes against one collateral parses
 * nothing twice. What a field says is judged when a quote is verified (dcap_verify.c), in
 * dcap-qvl's order; only the JSON shape is judged here. */
#include "attest/dcap_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <dstack/keys.h>

#include "base/text_internal.h"
#include "crypto/untrusted.h"

#define MAX_CHAIN_PEM (256u * 1024u)
#define MAX_CRL_DER (4u * 1024u * 1024u)
#define MAX_DOC (1024u * 1024u)
#define MAX_SIGNATURE 1024u
#define MAX_CHAIN_CERTS 8
#define CERT_CACHE_SLOTS 8

struct dcap_cert_cache {
    uint8_t digest[CERT_CACHE_SLOTS][32];
    STACK_OF(X509) * chain[CERT_CACHE_SLOTS];
    size_t next;
};

static void cert_cache_free(struct dcap_cert_cache *cc)
{
    if (cc == NULL)
        return;
    for (size_t i = 0; i < CERT_CACHE_SLOTS; i++)
        sk_X509_pop_free(cc->chain[i], X509_free);
    free(cc);
}

/* A new stack holding new references to the certificates of `chain`. */
static STACK_OF(X509) * chain_ref(STACK_OF(X509) * chain)
{
    STACK_OF(X509) *copy = sk_X509_dup(chain);

    for (int i = 0; copy != NULL && i < sk_X509_num(copy); i++)
        X509_up_ref(sk_X509_value(copy, i));
    return copy;
}

STACK_OF(X509) * dcap_collateral_certs(const dstack_collateral *cc, const char *pem, size_t len,
                                       int max, char *why, size_t why_len)
{
    dstack_collateral *c = (dstack_collateral *)cc;
    STACK_OF(X509) * parsed, *out = NULL;
    uint8_t d[32];
    size_t slot;

    if (EVP_Digest(pem, len, d, NULL, EVP_sha256(), NULL) != 1)
        return dcap_pem_certs(pem, len, max, why, why_len);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < CERT_CACHE_SLOTS && out == NULL; i++) {
        if (c->certs->chain[i] != NULL && memcmp(c->certs->digest[i], d, 32) == 0 &&
            sk_X509_num(c->certs->chain[i]) <= max)
            out = chain_ref(c->certs->chain[i]);
    }
    pthread_mutex_unlock(&c->lock);
    if (out != NULL)
        return out;
    /* parsed outside the lock; a chain that does not parse is not remembered */
    if ((parsed = dcap_pem_certs(pem, len, max, why, why_len)) == NULL)
        return NULL;
    out = chain_ref(parsed);
    pthread_mutex_lock(&c->lock);
    slot = c->certs->next;
    c->certs->next = (slot + 1) % CERT_CACHE_SLOTS;
    sk_X509_pop_free(c->certs->chain[slot], X509_free);
    c->certs->chain[slot] = parsed;
    memcpy(c->certs->digest[slot], d, 32);
    pthread_mutex_unlock(&c->lock);
    return out;
}

static dstack_status bad(dstack_error *err, const char *what, const char *field)
{
    return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "collateral JSON: field `%s` %s",
                            field, what);
}

/* A required string member (`optional`: absent or null gives NULL). */
static dstack_status get_string(const dstack_jv *obj, const char *key, bool optional, size_t max,
                                char **out, size_t *out_len, dstack_error *err)
{
    const dstack_jv *v = NULL;
    int rc = dstack_jv_get(obj, key, &v);

    *out = NULL;
    if (rc == -1)
        return bad(err, "appears more than once", key);
    if (rc == 0 || (optional && v->type == DSTACK_JV_NULL)) {
        if (optional)
            return DSTACK_OK;
        return bad(err, "is missing", key);
    }
    if (v->type != DSTACK_JV_STRING)
        return bad(err, "is not a string", key);
    if (strlen(v->str) != v->str_len)
        return bad(err, "contains a NUL character", key);
    if (v->str_len > max)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "collateral JSON: field `%s` is %zu bytes, over the %zu-byte "
                                "limit",
                                key, v->str_len, max);
    if ((*out = strdup(v->str)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    if (out_len != NULL)
        *out_len = v->str_len;
    return DSTACK_OK;
}

/* A hex byte field (serde_bytes in a human-readable format: hex, either case, no prefix). */
static dstack_status get_hex(const dstack_jv *obj, const char *key, size_t max, uint8_t **out,
                             size_t *out_len, dstack_error *err)
{
    char *hex = NULL;
    size_t n = 0;
    dstack_status rc = get_string(obj, key, false, 2 * max, &hex, &n, err);

    *out = NULL;
    if (rc != DSTACK_OK)
        return rc;
    if (n % 2 != 0 || (*out = malloc(n / 2 + 1)) == NULL ||
        !dstack_hex_exact(hex, n, *out, n / 2)) {
        free(hex);
        free(*out);
        *out = NULL;
        return bad(err, "is not hex", key);
    }
    *out_len = n / 2;
    free(hex);
    return DSTACK_OK;
}

static void doc_digest(dcap_signed_doc *d)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, d->text, d->text_len) != 1 ||
        EVP_DigestUpdate(md, d->signature, d->signature_len) != 1 ||
        EVP_DigestFinal_ex(md, d->digest, NULL) != 1)
        memset(d->digest, 0, sizeof(d->digest));
    EVP_MD_CTX_free(md);
}

static void doc_free(dcap_signed_doc *d)
{
    free(d->text);
    free(d->signature);
    free(d->issuer_chain);
    sk_X509_pop_free(d->chain, X509_free);
}

/* Everything that can be judged without a quote and a time, kept for dcap_verify. */
static void prepare(dstack_collateral *c)
{
    int64_t t[4] = {0};
    bool known = true;

    c->crls[0] =
        dcap_crl_parse(c->root_ca_crl_der, c->root_ca_crl_len, c->crl_error, sizeof(c->crl_error));
    if (c->crls[0] != NULL)
        c->crls[1] =
            dcap_crl_parse(c->pck_crl_der, c->pck_crl_len, c->crl_error, sizeof(c->crl_error));
    c->tcb_info = dcap_tcb_info_parse(c->tcb_doc.text, c->tcb_doc.text_len, c->tcb_info_error,
                                      sizeof(c->tcb_info_error));
    c->qe_identity = dcap_qe_identity_parse(c->qe_doc.text, c->qe_doc.text_len,
                                            c->qe_identity_error, sizeof(c->qe_identity_error));
    known = c->crls[0] != NULL && c->crls[1] != NULL && c->tcb_info != NULL &&
            c->qe_identity != NULL && dcap_asn1_time(X509_CRL_get0_nextUpdate(c->crls[0]), &t[0]) &&
            dcap_asn1_time(X509_CRL_get0_nextUpdate(c->crls[1]), &t[1]) &&
            dcap_rfc3339(c->tcb_info->next_update, &t[2]) &&
            dcap_rfc3339(c->qe_identity->next_update, &t[3]);
    c->next_update = 0;
    for (int i = 0; known && i < 4; i++) {
        if (c->next_update == 0 || t[i] < c->next_update)
            c->next_update = t[i];
    }
}

static dstack_status check_len(const char *field, size_t len, size_t max, dstack_error *err)
{
    if (len <= max)
        return DSTACK_OK;
    return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                            "collateral field `%s` is %zu bytes, over the %zu-byte limit", field,
                            len, max);
}

/* `same`: a document already taken whose issuer chain may be the same text (Intel signs the
 * TCB info and the QE identity with one certificate): then its parsed chain is shared. */
static dstack_status take_doc(dcap_signed_doc *d, char **issuer_chain, char **text,
                              uint8_t **signature, size_t signature_len,
                              const dcap_signed_doc *same)
{
    d->issuer_chain = *issuer_chain;
    d->text = *text;
    d->text_len = strlen(*text);
    d->signature = *signature;
    d->signature_len = signature_len;
    *issuer_chain = *text = NULL;
    *signature = NULL;
    if (same != NULL && same->chain != NULL && strcmp(same->issuer_chain, d->issuer_chain) == 0)
        d->chain = chain_ref(same->chain);
    else
        d->chain = dcap_pem_certs(d->issuer_chain, strlen(d->issuer_chain), MAX_CHAIN_CERTS,
                                  d->chain_error, sizeof(d->chain_error));
    doc_digest(d);
    return DSTACK_OK;
}

dstack_status dcap_collateral_build(dcap_collateral_parts *p, dstack_collateral **out,
                                    dstack_error *err)
{
    dstack_collateral *c = NULL;
    OSSL_LIB_CTX *lib = NULL;
    dstack_status rc;

    *out = NULL;
    if ((rc = check_len("pck_crl_issuer_chain", strlen(p->pck_crl_issuer_chain), MAX_CHAIN_PEM,
                        err)) != DSTACK_OK ||
        (rc = check_len("root_ca_crl", p->root_ca_crl_len, MAX_CRL_DER, err)) != DSTACK_OK ||
        (rc = check_len("pck_crl", p->pck_crl_len, MAX_CRL_DER, err)) != DSTACK_OK ||
        (rc = check_len("tcb_info_issuer_chain", strlen(p->tcb_info_issuer_chain), MAX_CHAIN_PEM,
                        err)) != DSTACK_OK ||
        (rc = check_len("tcb_info", strlen(p->tcb_info), MAX_DOC, err)) != DSTACK_OK ||
        (rc = check_len("tcb_info_signature", p->tcb_info_signature_len, MAX_SIGNATURE, err)) !=
            DSTACK_OK ||
        (rc = check_len("qe_identity_issuer_chain", strlen(p->qe_identity_issuer_chain),
                        MAX_CHAIN_PEM, err)) != DSTACK_OK ||
        (rc = check_len("qe_identity", strlen(p->qe_identity), MAX_DOC, err)) != DSTACK_OK ||
        (rc = check_len("qe_identity_signature", p->qe_identity_signature_len, MAX_SIGNATURE,
                        err)) != DSTACK_OK ||
        (p->pck_certificate_chain != NULL &&
         (rc = check_len("pck_certificate_chain", strlen(p->pck_certificate_chain), MAX_CHAIN_PEM,
                         err)) != DSTACK_OK))
        goto done;
    /* hold the parsing context for the certificates and CRLs the object keeps */
    if ((lib = dstack_untrusted_acquire()) == NULL || (c = calloc(1, sizeof(*c))) == NULL ||
        pthread_mutex_init(&c->lock, NULL) != 0 || (c->memo = dcap_sig_memo_new()) == NULL ||
        (c->certs = calloc(1, sizeof(*c->certs))) == NULL) {
        if (c != NULL) {
            pthread_mutex_destroy(&c->lock);
            dcap_sig_memo_free(c->memo);
        }
        free(c);
        c = NULL;
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    c->refs = 1;
    c->lib = lib;
    lib = NULL;
    c->pck_crl_issuer_chain = p->pck_crl_issuer_chain;
    c->root_ca_crl_der = p->root_ca_crl;
    c->root_ca_crl_len = p->root_ca_crl_len;
    c->pck_crl_der = p->pck_crl;
    c->pck_crl_len = p->pck_crl_len;
    c->pck_certificate_chain = p->pck_certificate_chain;
    p->pck_crl_issuer_chain = p->pck_certificate_chain = NULL;
    p->root_ca_crl = p->pck_crl = NULL;
    take_doc(&c->tcb_doc, &p->tcb_info_issuer_chain, &p->tcb_info, &p->tcb_info_signature,
             p->tcb_info_signature_len, NULL);
    take_doc(&c->qe_doc, &p->qe_identity_issuer_chain, &p->qe_identity, &p->qe_identity_signature,
             p->qe_identity_signature_len, &c->tcb_doc);
    prepare(c);
    *out = c;
    rc = DSTACK_OK;
done:
    dcap_collateral_parts_free(p);
    dstack_untrusted_release(lib);
    return rc;
}

void dcap_collateral_parts_free(dcap_collateral_parts *p)
{
    free(p->pck_crl_issuer_chain);
    free(p->root_ca_crl);
    free(p->pck_crl);
    free(p->tcb_info_issuer_chain);
    free(p->tcb_info);
    free(p->tcb_info_signature);
    free(p->qe_identity_issuer_chain);
    free(p->qe_identity);
    free(p->qe_identity_signature);
    free(p->pck_certificate_chain);
    memset(p, 0, sizeof(*p));
}

dstack_status dstack_collateral_from_json(const char *json, size_t len, dstack_collateral **out,
                                          dstack_error *err)
{
    char why[256] = "";
    dstack_jv *j = NULL;
    dcap_collateral_parts p;
    dstack_status rc;

    memset(&p, 0, sizeof(p));
    if (out != NULL)
        *out = NULL;
    if (json == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_collateral_from_json: no text or no result");
    if (len > DSTACK_COLLATERAL_MAX_JSON)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "collateral JSON is %zu bytes, over the %u-byte limit", len,
                                DSTACK_COLLATERAL_MAX_JSON);
    if ((j = dstack_jv_parse(json, len, why, sizeof(why))) == NULL)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "collateral is not JSON: %s",
                                why);
    if (j->type != DSTACK_JV_OBJECT) {
        dstack_jv_free(j);
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "collateral JSON is not an object (QuoteCollateralV3)");
    }
    if ((rc = get_string(j, "pck_crl_issuer_chain", false, MAX_CHAIN_PEM, &p.pck_crl_issuer_chain,
                         NULL, err)) != DSTACK_OK ||
        (rc = get_hex(j, "root_ca_crl", MAX_CRL_DER, &p.root_ca_crl, &p.root_ca_crl_len, err)) !=
            DSTACK_OK ||
        (rc = get_hex(j, "pck_crl", MAX_CRL_DER, &p.pck_crl, &p.pck_crl_len, err)) != DSTACK_OK ||
        (rc = get_string(j, "tcb_info_issuer_chain", false, MAX_CHAIN_PEM, &p.tcb_info_issuer_chain,
                         NULL, err)) != DSTACK_OK ||
        (rc = get_string(j, "tcb_info", false, MAX_DOC, &p.tcb_info, NULL, err)) != DSTACK_OK ||
        (rc = get_hex(j, "tcb_info_signature", MAX_SIGNATURE, &p.tcb_info_signature,
                      &p.tcb_info_signature_len, err)) != DSTACK_OK ||
        (rc = get_string(j, "qe_identity_issuer_chain", false, MAX_CHAIN_PEM,
                         &p.qe_identity_issuer_chain, NULL, err)) != DSTACK_OK ||
        (rc = get_string(j, "qe_identity", false, MAX_DOC, &p.qe_identity, NULL, err)) !=
            DSTACK_OK ||
        (rc = get_hex(j, "qe_identity_signature", MAX_SIGNATURE, &p.qe_identity_signature,
                      &p.qe_identity_signature_len, err)) != DSTACK_OK ||
        (rc = get_string(j, "pck_certificate_chain", true, MAX_CHAIN_PEM, &p.pck_certificate_chain,
                         NULL, err)) != DSTACK_OK) {
        dcap_collateral_parts_free(&p);
        dstack_jv_free(j);
        return rc;
    }
    dstack_jv_free(j);
    return dcap_collateral_build(&p, out, err);
}

dstack_collateral *dcap_collateral_ref(const dstack_collateral *cc)
{
    dstack_collateral *c = (dstack_collateral *)cc;

    pthread_mutex_lock(&c->lock);
    c->refs++;
    pthread_mutex_unlock(&c->lock);
    return c;
}

void dstack_collateral_free(dstack_collateral *c)
{
    int left;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    left = --c->refs;
    pthread_mutex_unlock(&c->lock);
    if (left > 0)
        return;
    free(c->pck_crl_issuer_chain);
    free(c->root_ca_crl_der);
    free(c->pck_crl_der);
    X509_CRL_free(c->crls[0]);
    X509_CRL_free(c->crls[1]);
    doc_free(&c->tcb_doc);
    doc_free(&c->qe_doc);
    dcap_tcb_info_free(c->tcb_info);
    dcap_qe_identity_free(c->qe_identity);
    free(c->pck_certificate_chain);
    dcap_sig_memo_free(c->memo);
    cert_cache_free(c->certs);
    dstack_untrusted_release(c->lib);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int64_t dstack_collateral_next_update(const dstack_collateral *c)
{
    return c != NULL ? c->next_update : 0;
}

/* ---- writing ------------------------------------------------------------------------------- */

static void put_string(dstack_text *t, const char *s)
{
    dstack_text_append(t, "\"", 1);
    for (; *s != '\0'; s++) {
        char esc[8];
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            esc[0] = '\\', esc[1] = (char)ch;
            dstack_text_append(t, esc, 2);
        } else if (ch == '\n') {
            dstack_text_append(t, "\\n", 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            dstack_text_append(t, esc, 6);
        } else {
            dstack_text_append(t, s, 1);
        }
    }
    dstack_text_append(t, "\"", 1);
}

static void put_hex(dstack_text *t, const uint8_t *b, size_t n)
{
    char *hex = malloc(2 * n + 1);

    if (hex == NULL) {
        t->failed = true;
        return;
    }
    dstack_hex_encode(b, n, hex);
    dstack_text_append(t, "\"", 1);
    dstack_text_append(t, hex, 2 * n);
    dstack_text_append(t, "\"", 1);
    free(hex);
}

static void member(dstack_text *t, const char *key, bool first)
{
    if (!first)
        dstack_text_append(t, ",", 1);
    put_string(t, key);
    dstack_text_append(t, ":", 1);
}

dstack_status dstack_collateral_to_json(const dstack_collateral *c, char **json, dstack_error *err)
{
    dstack_text t = {0};

    if (json != NULL)
        *json = NULL;
    if (c == NULL || json == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_collateral_to_json: no collateral or no result");
    dstack_text_append(&t, "{", 1);
    member(&t, "pck_crl_issuer_chain", true);
    put_string(&t, c->pck_crl_issuer_chain);
    member(&t, "root_ca_crl", false);
    put_hex(&t, c->root_ca_crl_der, c->root_ca_crl_len);
    member(&t, "pck_crl", false);
    put_hex(&t, c->pck_crl_der, c->pck_crl_len);
    member(&t, "tcb_info_issuer_chain", false);
    put_string(&t, c->tcb_doc.issuer_chain);
    member(&t, "tcb_info", false);
    put_string(&t, c->tcb_doc.text);
    member(&t, "tcb_info_signature", false);
    put_hex(&t, c->tcb_doc.signature, c->tcb_doc.signature_len);
    member(&t, "qe_identity_issuer_chain", false);
    put_string(&t, c->qe_doc.issuer_chain);
    member(&t, "qe_identity", false);
    put_string(&t, c->qe_doc.text);
    member(&t, "qe_identity_signature", false);
    put_hex(&t, c->qe_doc.signature, c->qe_doc.signature_len);
    if (c->pck_certificate_chain != NULL) {
        member(&t, "pck_certificate_chain", false);
        put_string(&t, c->pck_certificate_chain);
    }
    dstack_text_append(&t, "}\n", 2);
    if ((*json = dstack_text_take(&t, NULL)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    return DSTACK_OK;
}
