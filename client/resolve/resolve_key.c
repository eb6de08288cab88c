/* The key of a dstack: URI (architecture.md §4 "Key"): GetKey, the fallbacks for agents that
 * only have the legacy Tappd socket, the signature chain to the configured KMS root, and the
 * app-id check.
 */
#include "resolve/resolve_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/keys.h>

#include "crypto/pkey_util.h"

/* Which RPC on which endpoint supplied the key, for errors found in it later. */
typedef struct key_source {
    const char *method;
    const char *endpoint;
} key_source;

/* GetKey; agents that have only the legacy Tappd socket: Tappd.DeriveK256Key (same bytes,
 * same chain, protocol.md §2.2); a 0.3 agent: Tappd.DeriveKey for p256. An endpoint the user
 * named is never replaced by a discovered one. */
static dstack_status fetch_key(resolve_job *job, const dstack_alg_info *alg,
                               dstack_key_response *kr, key_source *src, dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_client *c = NULL;
    dstack_error guest_err, tappd_err;
    dstack_status rc;

    dstack_error_clear(&guest_err);
    dstack_error_clear(&tappd_err);
    RDEBUG(r, RDEBUG_RPC, "GetKey(algorithm %s) on %s", alg->agent_algorithm, r->endpoint);
    src->method = "GetKey";
    src->endpoint = r->endpoint;
    rc = job_guest(job, &c, &guest_err);
    if (rc == DSTACK_OK)
        rc = dstack_get_key(c, job->uri.path, job->uri.purpose, alg->agent_algorithm, kr,
                            &guest_err);
    if (rc == DSTACK_OK)
        return rc;
    if (!resolve_guest_absent(job, &guest_err)) {
        if (err != NULL)
            *err = guest_err;
        return rc;
    }
    RDEBUG(r, RDEBUG_RPC, "guest agent socket absent; Tappd.DeriveK256Key on %s",
           r->tappd_endpoint);
    src->method = "Tappd.DeriveK256Key";
    src->endpoint = r->tappd_endpoint;
    rc = job_tappd(job, &c, &tappd_err);
    if (rc == DSTACK_OK)
        rc = dstack_tappd_derive_k256_key(c, job->uri.path, job->uri.purpose, alg->agent_algorithm,
                                          kr, &tappd_err);
    if (rc == DSTACK_ERR_AGENT && resolve_method_missing(&tappd_err)) {
        /* A 0.3.x agent: Tappd without DeriveK256Key (protocol.md §8). */
        if (alg->legacy_tappd_key) {
            dstack_error_clear(&tappd_err);
            src->method = "Tappd.DeriveKey";
            rc = resolve_legacy_p256_key(job, kr, &tappd_err);
        } else {
            dstack_error_context(&tappd_err,
                                 "this agent predates dstack 0.4 and derives only P-256 keys "
                                 "(alg=p256), not %s",
                                 alg->name);
        }
    }
    if (rc == DSTACK_ERR_CONNECTION && err != NULL) {
        /* Neither socket answers: report the primary one, mention the fallback. */
        *err = guest_err;
        dstack_error_append(err, "; legacy fallback: %s", tappd_err.message);
    } else if (rc != DSTACK_OK && err != NULL) {
        *err = tappd_err;
    }
    return rc;
}

static void hex_text(const uint8_t *buf, size_t len, char *out, size_t cap)
{
    if (2 * len + 1 > cap)
        len = (cap - 1) / 2;
    dstack_hex_encode(buf, len, out);
}

dstack_status resolve_check_app_id(resolve_job *job, dstack_error *err)
{
    dstack_resolver *r = job->r;
    const dstack_config *cfg = r->cfg;
    const dstack_app_info *info = NULL;
    char want[2 * sizeof(cfg->app_id) + 1], got[2 * 64 + 1];
    dstack_status rc = job_info(job, &info, err);

    if (rc != DSTACK_OK)
        return rc;
    if (info->app_id.len == cfg->app_id_len &&
        memcmp(info->app_id.data, cfg->app_id, cfg->app_id_len) == 0)
        return DSTACK_OK;
    hex_text(cfg->app_id, cfg->app_id_len, want, sizeof(want));
    hex_text(info->app_id.data, info->app_id.len, got, sizeof(got));
    return dstack_error_set(err, DSTACK_ERR_CRYPTO, "Info", r->endpoint,
                            "the agent serves app_id %s, but app-id %s is configured",
                            got[0] != '\0' ? got : "(empty)", want);
}

/* protocol.md §3.4: the chain must lead from the derived key to the configured KMS root, for
 * the configured app id — never the one the agent claims, which is what a hostile agent would
 * change (dstack_config_check() makes app-id mandatory with kms-root-pubkey). */
static dstack_status verify_chain(resolve_job *job, const dstack_alg_info *alg,
                                  const dstack_key_response *kr, const key_source *src,
                                  dstack_error *err)
{
    dstack_resolver *r = job->r;
    const dstack_config *cfg = r->cfg;
    const uint8_t **chain = NULL;
    size_t *lens = NULL, n = kr->signature_chain_len;
    dstack_chain_result result;
    dstack_status rc;

    chain = calloc(n + 1, sizeof(*chain));
    lens = calloc(n + 1, sizeof(*lens));
    if (chain == NULL || lens == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        chain[i] = kr->signature_chain[i].data;
        lens[i] = kr->signature_chain[i].len;
    }
    rc = dstack_verify_signature_chain(alg->agent_algorithm, kr->key.data, job->uri.purpose, chain,
                                       lens, n, cfg->app_id, cfg->app_id_len, cfg->kms_root,
                                       &result, err);
    if (rc != DSTACK_OK && alg->id == DSTACK_ALG_ED25519) {
        /* Agents before 0.5.6 ignore `algorithm` (protocol.md §3.3): the bytes are the same
         * Ed25519 seed, but chain[0] signs their secp256k1 public key. Either proves the app
         * key endorsed these 32 bytes. */
        dstack_error retry;
        dstack_error_clear(&retry);
        if (dstack_verify_signature_chain("secp256k1", kr->key.data, job->uri.purpose, chain, lens,
                                          n, cfg->app_id, cfg->app_id_len, cfg->kms_root, &result,
                                          &retry) == DSTACK_OK) {
            RDEBUG(r, RDEBUG_RESOLVE,
                   "ed25519 key: chain signs its secp256k1 public key (agent older than 0.5.6)");
            rc = DSTACK_OK;
        }
    }
    if (rc != DSTACK_OK) {
        /* The detail names the key the chain leads to and the configured root. */
        dstack_error_origin(err, src->method, src->endpoint);
        dstack_error_context(err, "key refused by the kms-root-pubkey check");
        goto done;
    }
    job->out->chain_verified = true;
    RDEBUG(r, RDEBUG_RESOLVE, "signature chain verified to the configured KMS root");
done:
    free(chain);
    free(lens);
    return rc;
}

dstack_status resolve_key(resolve_job *job, unsigned want, dstack_error *err)
{
    const dstack_alg_info *alg = dstack_alg_get(job->uri.alg);
    dstack_key_response kr;
    key_source src = {NULL, NULL};
    dstack_key_der der;
    dstack_status rc;

    memset(&kr, 0, sizeof(kr));
    rc = fetch_key(job, alg, &kr, &src, err);
    if (rc != DSTACK_OK)
        goto done;
    if (kr.key.len != alg->secret_len) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, src.method, src.endpoint,
                              "key is %zu bytes, expected %zu", kr.key.len, alg->secret_len);
        goto done;
    }
    if (job->r->cfg->has_kms_root) {
        rc = verify_chain(job, alg, &kr, &src, err);
        if (rc != DSTACK_OK)
            goto done;
    }
    rc = dstack_key_der_from_secret_ex(job->r->cfg->libctx, job->r->cfg->propq, alg->id,
                                       kr.key.data, &der, err);
    if (rc == DSTACK_OK) {
        job->out->key_der = der.pkcs8;
        job->out->key_der_len = der.pkcs8_len;
        job->out->spki_der = der.spki;
        job->out->spki_der_len = der.spki_len;
        if ((want & DSTACK_WANT_CERTS) != 0)
            rc = dstack_pkey_from_secret_ex(job->r->cfg->libctx, job->r->cfg->propq, alg->id,
                                            kr.key.data, &job->pkey, err);
    }
    if (rc != DSTACK_OK && err != NULL) {
        /* e.g. zero or ≥ the group order: the agent's reply is unusable */
        char detail[sizeof(err->detail)];
        memcpy(detail, err->detail, sizeof(detail));
        dstack_error_set(err, rc, src.method, src.endpoint, "the agent's key is unusable: %s",
                         detail);
    }
done:
    dstack_key_response_free(&kr);
    return rc;
}
