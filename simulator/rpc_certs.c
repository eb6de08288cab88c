/* dstack-sim — GetTlsKey and Tappd.DeriveKey: P-256 keys with CA-signed leaves
 * (protocol.md §2.1, §2.2, §3.2, §4.6).
 *
 * Leaf layout follows rcgen as the agent uses it: serial from the key, CN only, SAN (IP or
 * DNS, 0.5.11), KeyUsage digitalSignature critical, EKU only as requested, then .1.9 app info
 * (with_app_info), .1.4 "app:custom", .1.8 attestation (usage_ra_tls) bound to the key by
 * report_data = SHA-512("ratls-cert:" || SPKI DER). Chain = [leaf, CA].
 *
 * Older emulated agents (ctx->profile, protocol.md §0, §4.3, §4.6) differ: up to 0.5.5 the
 * attestation is a .1.1 quote + .1.2 event log, before 0.5.11 every SAN is a dNSName, 0.3
 * leaves have no KeyUsage, live 365 days and carry no attestation, and 0.3 DeriveKey
 * derives from the app CA key instead of the app key (protocol.md §3.2).
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <dstack/keys.h>
#include <dstack/uri.h>

#include "crypto/pkey_util.h"
#include "agent_side.h"

#define NOT_BEFORE_DEFAULT 157766400 /* 1975-01-01T00:00:00Z (rcgen default) */
#define VALIDITY_DEFAULT (3650ll * 86400)
#define VALIDITY_V03 (365ll * 86400) /* 0.3.x leaves (protocol.md §4.6) */
#define TIME_MAX 253402300799ull     /* 9999-12-31T23:59:59Z */

typedef struct cert_request {
    const char *subject;
    const char **alt_names;
    size_t n_alt_names;
    bool ra_tls, server_auth, client_auth, with_app_info;
    bool nb_set, na_set;
    uint64_t not_before, not_after;
} cert_request;

/* msgpack bin (bin8/bin16/bin32). */
static size_t put_bin(uint8_t *out, const uint8_t *data, size_t len)
{
    size_t h;

    if (len < 256) {
        out[0] = 0xc4, out[1] = (uint8_t)len, h = 2;
    } else if (len < 65536) {
        out[0] = 0xc5, out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len, h = 3;
    } else {
        out[0] = 0xc6, out[1] = (uint8_t)(len >> 24), out[2] = (uint8_t)(len >> 16);
        out[3] = (uint8_t)(len >> 8), out[4] = (uint8_t)len, h = 5;
    }
    memcpy(out + h, data, len);
    return h + len;
}

/* .1.9: rmp_serde positional array of 8 bins, on 0.6 a ninth element init_script_hashes —
 * an array of 32-byte bins, empty here since the simulated compose has no init scripts
 * (protocol.md §4.5.3). */
static uint8_t *app_info_ext(sim_ctx *ctx, const sim_evidence *ev, size_t *out_len)
{
    const char *kp = ctx->key_provider_info;
    uint8_t device_id[32], mr_system[32], mr_agg[32], rtmr[4][48];
    dstack_tdx_quote measured = ev->parsed;
    const uint8_t *items[8];
    size_t lens[8], total = 1, i;
    uint8_t *buf, *p;

    SHA256((const uint8_t *)"", 0, device_id);
    dstack_event_log_replay(&ev->log, rtmr, NULL);
    memcpy(measured.rtmr[3], rtmr[3], 48);
    dstack_mr_aggregated(&measured, mr_agg);
    sim_mr_system(ctx, &ev->parsed, mr_system);
    items[0] = ctx->id.app_id, lens[0] = 20;
    items[1] = ctx->compose_hash, lens[1] = 32;
    items[2] = ctx->id.instance_id, lens[2] = ctx->no_instance_id ? 0 : 20;
    items[3] = device_id, lens[3] = 32;
    items[4] = mr_system, lens[4] = 32;
    items[5] = mr_agg, lens[5] = 32;
    items[6] = ctx->os_image_hash, lens[6] = 32;
    items[7] = (const uint8_t *)kp, lens[7] = strlen(kp);
    for (i = 0; i < 8; i++)
        total += 5 + lens[i];
    buf = malloc(total + 1);
    if (buf == NULL)
        return NULL;
    p = buf;
    *p++ = (uint8_t)(0x90 | ctx->profile->app_info_fields); /* fixarray */
    for (i = 0; i < 8; i++)
        p += put_bin(p, items[i], lens[i]);
    if (ctx->profile->app_info_fields == 9)
        *p++ = 0x90; /* init_script_hashes: [] */
    *out_len = (size_t)(p - buf);
    return buf;
}

static void free_key_pem(char *pem)
{
    if (pem != NULL) {
        OPENSSL_cleanse(pem, strlen(pem));
        free(pem);
    }
}

static char *pem_of(EVP_PKEY *key, X509 *cert)
{
    BIO *bio = BIO_new(key ? BIO_s_secmem() : BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;
    int ok;

    if (bio == NULL)
        return NULL;
    ok = key ? PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
             : PEM_write_bio_X509(bio, cert);
    n = BIO_get_mem_data(bio, &data);
    if (ok == 1 && n > 0)
        out = strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

static bool valid_alt_names(const cert_request *req, sim_reply *reply, bool *ok)
{
    size_t i;
    const unsigned char *s;

    for (i = 0; i < req->n_alt_names; i++) {
        for (s = (const unsigned char *)req->alt_names[i]; *s; s++) {
            if (*s >= 0x80) { /* dNSName is an IA5String (rcgen rejects non-ASCII) */
                *ok = sim_reply_error(reply, "Failed to sign the CSR: invalid DNS name: %s",
                                      req->alt_names[i]);
                return false;
            }
        }
    }
    return true;
}

/* Pre-0.5.11 agents wrote every alt name as a dNSName (protocol.md §2.1); 0.3 leaves had no
 * KeyUsage (protocol.md §4.6). The shared certificate builder writes the v0.5.11 shape, so older
 * shapes are edited here and the leaf is signed again by the CA. */
static bool legacy_leaf_shape(sim_ctx *ctx, const cert_request *req, X509 *leaf)
{
    const sim_profile *profile = ctx->profile;
    GENERAL_NAMES *names = NULL;
    GENERAL_NAME *gn = NULL;
    X509_EXTENSION *ext = NULL;
    ASN1_IA5STRING *dns = NULL;
    bool ok = false;
    size_t i;
    int loc;

    if (profile->cert_ip_san && !profile->cert_v03_leaf)
        return true;
    if (!profile->cert_ip_san && req->n_alt_names > 0 &&
        (loc = X509_get_ext_by_NID(leaf, NID_subject_alt_name, -1)) >= 0) {
        names = sk_GENERAL_NAME_new_null();
        if (names == NULL)
            goto done;
        for (i = 0; i < req->n_alt_names; i++) {
            dns = ASN1_IA5STRING_new();
            gn = GENERAL_NAME_new();
            if (dns == NULL || gn == NULL ||
                !ASN1_STRING_set(dns, req->alt_names[i], (int)strlen(req->alt_names[i])))
                goto done;
            GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
            dns = NULL;
            if (!sk_GENERAL_NAME_push(names, gn))
                goto done;
            gn = NULL;
        }
        ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
        X509_EXTENSION_free(X509_delete_ext(leaf, loc));
        if (ext == NULL || !X509_add_ext(leaf, ext, loc))
            goto done;
    }
    if (profile->cert_v03_leaf && (loc = X509_get_ext_by_NID(leaf, NID_key_usage, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(leaf, loc));
    ok = X509_sign(leaf, ctx->id.ca_key, EVP_sha256()) > 0;
done:
    ASN1_IA5STRING_free(dns);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(names);
    X509_EXTENSION_free(ext);
    return ok;
}

/* The RA-TLS extension(s) an agent of this release puts into its leaves (protocol.md §4.3). */
static bool attestation_exts(sim_ctx *ctx, const sim_evidence *ev, const uint8_t rd[64],
                             dstack_cert_ext *exts, size_t *n_exts, uint8_t **att, size_t *att_len,
                             char **log_json)
{
    if (ctx->profile->cert_ext == SIM_CERT_EXT_ATTESTATION) {
        /* certificates carry the stripped form (protocol.md §4.3, §4.4, §4.5.4) */
        if (!sim_attestation_encode(ctx, ev, rd, true, att, att_len))
            return false;
        exts[(*n_exts)++] = (dstack_cert_ext){DSTACK_OID_ATTESTATION, *att, *att_len};
    } else if (ctx->profile->cert_ext == SIM_CERT_EXT_QUOTE) {
        /* <= 0.5.5: the quote and the full JSON event log */
        *log_json = sim_event_log_json(ctx, &ev->log, false);
        if (*log_json == NULL)
            return false;
        exts[(*n_exts)++] = (dstack_cert_ext){DSTACK_OID_TDX_QUOTE, ev->quote, ev->quote_len};
        exts[(*n_exts)++] =
            (dstack_cert_ext){DSTACK_OID_EVENT_LOG, (const uint8_t *)*log_json, strlen(*log_json)};
    }
    return true;
}

typedef enum issue_result { ISSUED, ISSUE_REFUSED, ISSUE_FAILED } issue_result;

/* The leaf for `secret` and its key, as PEM (ISSUED); ISSUE_REFUSED when the agent would
 * refuse the request (the error is in `reply`). */
static issue_result issue_leaf(sim_ctx *ctx, const cert_request *req, const uint8_t secret[32],
                               sim_reply *reply, char **key_pem, char **leaf_pem)
{
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    unsigned char *spki = NULL;
    size_t spki_len = 0, n_exts = 0, info_len = 0, att_len = 0;
    uint8_t rd[64], *info = NULL, *att = NULL;
    char *log_json = NULL;
    dstack_cert_ext exts[4];
    dstack_cert_spec spec;
    sim_evidence ev;
    bool have_ev = false, ok = false;
    issue_result result = ISSUE_FAILED;
    dstack_error err;

    *key_pem = *leaf_pem = NULL;
    memset(&spec, 0, sizeof(spec));
    memset(rd, 0, sizeof(rd));
    if (!valid_alt_names(req, reply, &ok))
        return ok ? ISSUE_REFUSED : ISSUE_FAILED;
    if ((req->nb_set && req->not_before > TIME_MAX) || (req->na_set && req->not_after > TIME_MAX))
        return sim_reply_error(reply, "Failed to sign the CSR: invalid certificate validity")
                   ? ISSUE_REFUSED
                   : ISSUE_FAILED;
    if (dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &key, &err) != DSTACK_OK)
        return sim_reply_error(reply, "Failed to derive key: %s", err.message) ? ISSUE_REFUSED
                                                                               : ISSUE_FAILED;
    if (dstack_pkey_to_spki_der(key, &spki, &spki_len, NULL) != DSTACK_OK)
        goto done;
    if (req->ra_tls || req->with_app_info) {
        if (req->ra_tls)
            dstack_ratls_report_data(spki, spki_len, rd);
        if (!sim_evidence_make(ctx, rd, &ev))
            goto done;
        have_ev = true;
    }
    if (req->with_app_info) {
        info = app_info_ext(ctx, &ev, &info_len);
        if (info == NULL)
            goto done;
        exts[n_exts++] = (dstack_cert_ext){DSTACK_OID_APP_INFO, info, info_len};
    }
    exts[n_exts++] = (dstack_cert_ext){DSTACK_OID_SPECIAL_USAGE, (const uint8_t *)"app:custom", 10};
    if (req->ra_tls && !attestation_exts(ctx, &ev, rd, exts, &n_exts, &att, &att_len, &log_json))
        goto done;
    spec.common_name = req->subject;
    spec.san = req->alt_names;
    spec.san_len = req->n_alt_names;
    spec.server_auth = req->server_auth;
    spec.client_auth = req->client_auth;
    spec.ca_pathlen = -1;
    spec.not_before = req->nb_set ? (int64_t)req->not_before : NOT_BEFORE_DEFAULT;
    spec.not_after =
        req->na_set
            ? (int64_t)req->not_after
            : (int64_t)time(NULL) + (ctx->profile->cert_v03_leaf ? VALIDITY_V03 : VALIDITY_DEFAULT);
    spec.exts = exts;
    spec.n_exts = n_exts;
    spec.serial_from_key = true;
    if (dstack_cert_build(&spec, key, ctx->id.ca_key, ctx->id.ca_cert, &leaf, &err) != DSTACK_OK) {
        result = sim_reply_error(reply, "Failed to sign the CSR: %s", err.message) ? ISSUE_REFUSED
                                                                                   : ISSUE_FAILED;
        goto done;
    }
    if (!legacy_leaf_shape(ctx, req, leaf))
        goto done;
    *key_pem = pem_of(key, NULL);
    *leaf_pem = pem_of(NULL, leaf);
    if (*key_pem != NULL && *leaf_pem != NULL)
        result = ISSUED;
done:
    if (result != ISSUED) {
        free_key_pem(*key_pem);
        free(*leaf_pem);
        *key_pem = *leaf_pem = NULL;
    }
    free(info);
    free(att);
    free(log_json);
    if (have_ev)
        sim_evidence_free(&ev);
    OPENSSL_free(spki);
    X509_free(leaf);
    EVP_PKEY_free(key);
    return result;
}

/* GetTlsKeyResponse {key, certificate_chain: [leaf, CA]} (protocol.md §4.6). */
static bool issue(sim_ctx *ctx, const cert_request *req, const uint8_t secret[32], sim_reply *reply)
{
    char *key_pem = NULL, *leaf_pem = NULL;
    json_object *obj = NULL, *chain = NULL;
    issue_result r = issue_leaf(ctx, req, secret, reply, &key_pem, &leaf_pem);
    bool ok = r == ISSUE_REFUSED;

    if (r != ISSUED)
        return ok;
    obj = json_object_new_object();
    chain = json_object_new_array();
    if (obj == NULL || chain == NULL)
        goto done;
    json_object_object_add(obj, "key", json_object_new_string(key_pem));
    json_object_array_add(chain, json_object_new_string(leaf_pem));
    json_object_array_add(chain, json_object_new_string(ctx->id.ca_pem));
    json_object_object_add(obj, "certificate_chain", chain);
    chain = NULL;
    ok = sim_reply_json(reply, obj);
    obj = NULL;
done:
    json_object_put(obj);
    json_object_put(chain);
    free_key_pem(key_pem);
    free(leaf_pem);
    return ok;
}

/* The agent's own demo client certificate (protocol.md §2.6.5): a random P-256 key, CN
 * demo-cert, clientAuth, the release's RA-TLS extension; the chain joined with "\n" as the
 * agent joins it. 0.3 agents reported the app CA instead. Made on first use and kept. */
const char *sim_app_cert(sim_ctx *ctx)
{
    cert_request req;
    sim_reply scratch = {0};
    uint8_t seed[32], secret[32];
    char *key_pem = NULL, *leaf_pem = NULL;

    pthread_mutex_lock(&ctx->app_cert_lock);
    if (ctx->app_cert == NULL && ctx->profile->app_cert_is_ca) {
        ctx->app_cert = strdup(ctx->id.ca_pem);
    } else if (ctx->app_cert == NULL) {
        memset(&req, 0, sizeof(req));
        req.subject = "demo-cert";
        req.client_auth = true;
        req.ra_tls = true;
        if (RAND_priv_bytes(seed, sizeof(seed)) == 1 &&
            dstack_derive_key(seed, (const uint8_t *)"", 0, secret, NULL) == DSTACK_OK &&
            issue_leaf(ctx, &req, secret, &scratch, &key_pem, &leaf_pem) == ISSUED &&
            asprintf(&ctx->app_cert, "%s\n%s", leaf_pem, ctx->id.ca_pem) < 0)
            ctx->app_cert = NULL;
        OPENSSL_cleanse(seed, sizeof(seed));
        OPENSSL_cleanse(secret, sizeof(secret));
        free_key_pem(key_pem);
        free(leaf_pem);
        free(scratch.body);
    }
    pthread_mutex_unlock(&ctx->app_cert_lock);
    return ctx->app_cert;
}

bool sim_rpc_get_tls_key(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    cert_request req;
    uint8_t seed[32], secret[32];
    bool ok = false;

    (void)svc;
    memset(&req, 0, sizeof(req));
    /* not_before/not_after/with_app_info arrived in 0.5.6; older agents ignore them like
     * any unknown field (protocol.md §0, §1.4). */
    if (!sim_arg_string(args, "subject", &req.subject) ||
        !sim_arg_strings(args, "alt_names", &req.alt_names, &req.n_alt_names) ||
        !sim_arg_bool(args, "usage_ra_tls", &req.ra_tls) ||
        !sim_arg_bool(args, "usage_server_auth", &req.server_auth) ||
        !sim_arg_bool(args, "usage_client_auth", &req.client_auth) ||
        (ctx->profile->cert_options &&
         (!sim_arg_opt_u64(args, "not_before", &req.nb_set, &req.not_before) ||
          !sim_arg_opt_u64(args, "not_after", &req.na_set, &req.not_after) ||
          !sim_arg_bool(args, "with_app_info", &req.with_app_info)))) {
        ok = sim_reply_arg_error(reply, args);
        goto done;
    }
    /* 0.6 checks the order before anything else, when both are given (protocol.md §2.6.4). */
    if (ctx->profile->tls_validity_check && req.nb_set && req.na_set &&
        req.not_before >= req.not_after) {
        ok = sim_reply_error(reply, "not_before must be earlier than not_after");
        goto done;
    }
    /* A fresh random key per call: 32 random bytes through HKDF with empty info
     * (protocol.md §2.1). */
    if (RAND_priv_bytes(seed, sizeof(seed)) != 1 ||
        dstack_derive_key(seed, (const uint8_t *)"", 0, secret, NULL) != DSTACK_OK)
        goto done;
    ok = issue(ctx, &req, secret, reply);
done:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(secret, sizeof(secret));
    free(req.alt_names);
    return ok;
}

/* The 0.3.x IKM: the app CA's P-256 private scalar (protocol.md §3.2 last row). */
static bool ca_scalar(const sim_identity *id, uint8_t out[32])
{
    BIGNUM *priv = NULL;
    bool ok = EVP_PKEY_get_bn_param(id->ca_key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1 &&
              BN_bn2binpad(priv, out, 32) == 32;

    BN_clear_free(priv);
    return ok;
}

bool sim_rpc_derive_key(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    cert_request req;
    const char *path;
    bool random_seed = false, ok = false;
    uint8_t seed[32], secret[32];

    (void)svc;
    memset(&req, 0, sizeof(req));
    memset(seed, 0, sizeof(seed));
    if (!sim_arg_string(args, "path", &path) || !sim_arg_string(args, "subject", &req.subject) ||
        !sim_arg_strings(args, "alt_names", &req.alt_names, &req.n_alt_names)) {
        ok = sim_reply_arg_error(reply, args);
        goto done;
    }
    /* 0.3.x DeriveKeyArgs has only path, subject and alt_names; the usage flags and
     * random_seed came with 0.4 (protocol.md §8) and are ignored before, like unknown fields. */
    if (!ctx->profile->derive_from_ca_key &&
        (!sim_arg_bool(args, "usage_ra_tls", &req.ra_tls) ||
         !sim_arg_bool(args, "usage_server_auth", &req.server_auth) ||
         !sim_arg_bool(args, "usage_client_auth", &req.client_auth) ||
         !sim_arg_bool(args, "random_seed", &random_seed))) {
        ok = sim_reply_arg_error(reply, args);
        goto done;
    }
    /* P-256 scalar = HKDF(app key or 32 random bytes, path) (protocol.md §2.2, §3.2); 0.3.x used
     * the app CA key, so its keys differ from every later release's. */
    if (random_seed) {
        if (RAND_priv_bytes(seed, sizeof(seed)) != 1)
            goto done;
    } else if (ctx->profile->derive_from_ca_key) {
        if (!ca_scalar(&ctx->id, seed))
            goto done;
    } else {
        memcpy(seed, ctx->id.app_key, 32);
    }
    if (dstack_derive_key(seed, (const uint8_t *)path, strlen(path), secret, NULL) != DSTACK_OK)
        goto done;
    ok = issue(ctx, &req, secret, reply);
done:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(secret, sizeof(secret));
    free(req.alt_names);
    return ok;
}
