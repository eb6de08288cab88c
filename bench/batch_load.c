/* bench-batch-load — startup with many keys (issue 6, figure 4): the time to turn N distinct
 * key paths into EVP_PKEYs
 *
 *   --mode sequential  one dstack_get_key() per path on one kept-alive client connection;
 *   --mode batch       every GetKey request in one dstack_call_batch() (concurrent
 *                      connections), then the same key construction;
 *   --mode store       one OSSL_STORE load of dstack:<path>?cert=none per path through the
 *                      provider (configure it with cache = no), for reference.
 *
 * All modes build the same P-256 keys (architecture.md §4: the GetKey bytes are the P-256 scalar)
 * and keep them; after the clock stops, a SHA-256 over the public keys in order is printed so the
 * report can check that the modes agree.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include <dstack/client.h>
#include <dstack/keys.h>
#include <dstack/rpc.h>

#include "bench_util.h"
#include "crypto/pkey_util.h"

#define MAX_KEYS 100000ul
#define PATH_FMT "bench/batch/%lu"

/* Time spent turning secrets into EVP_PKEYs, reported separately so the round-trip share of
 * each mode is visible. */
static uint64_t build_ns;

typedef struct batch_opts {
    const char *mode;
    const char *endpoint;
    unsigned long keys;
    unsigned long parallelism;
    const char *label;
    unsigned long round;
} batch_opts;

/* Folds one key's SubjectPublicKeyInfo into the running digest. */
static bool digest_pubkey(EVP_MD_CTX *md, EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(pkey, &der);
    bool ok = len > 0 && EVP_DigestUpdate(md, der, (size_t)len);

    OPENSSL_free(der);
    return ok;
}

static bool key_from_secret(const uint8_t *secret, size_t len, EVP_PKEY **out, dstack_error *err)
{
    uint64_t t0 = bench_now_ns();
    bool ok;

    if (len != 32) {
        dstack_error_set(err, DSTACK_ERR_PROTOCOL, "GetKey", NULL, "key is %zu bytes, not 32", len);
        return false;
    }
    ok = dstack_pkey_from_secret(DSTACK_ALG_P256, secret, out, err) == DSTACK_OK;
    build_ns += bench_now_ns() - t0;
    return ok;
}

static bool run_sequential(dstack_client *c, const batch_opts *o, EVP_PKEY **keys,
                           dstack_error *err)
{
    dstack_key_response resp;
    char path[64];
    unsigned long i;
    bool ok;

    for (i = 0; i < o->keys; i++) {
        memset(&resp, 0, sizeof(resp));
        snprintf(path, sizeof(path), PATH_FMT, i);
        if (dstack_get_key(c, path, "", NULL, &resp, err) != DSTACK_OK)
            return false;
        ok = key_from_secret(resp.key.data, resp.key.len, &keys[i], err);
        dstack_key_response_free(&resp);
        if (!ok)
            return false;
    }
    return true;
}

/* The "key" field of one GetKey response body (protocol.md §2.1): 64 hex characters. */
static bool key_from_body(const dstack_batch_result *res, EVP_PKEY **out, dstack_error *err)
{
    json_object *root = NULL, *key = NULL;
    uint8_t secret[32];
    size_t len = 0;
    bool ok = false;

    root = json_tokener_parse(res->response.body);
    if (root == NULL || !json_object_object_get_ex(root, "key", &key) ||
        !json_object_is_type(key, json_type_string) ||
        !dstack_hex_decode(json_object_get_string(key), (size_t)json_object_get_string_len(key),
                           secret, sizeof(secret), &len)) {
        dstack_error_set(err, DSTACK_ERR_PROTOCOL, "GetKey", NULL,
                         "batch response without a hex \"key\"");
        goto done;
    }
    ok = key_from_secret(secret, len, out, err);
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_object_put(root);
    return ok;
}

static bool run_batch(dstack_client *c, const batch_opts *o, EVP_PKEY **keys, dstack_error *err)
{
    dstack_batch_request *reqs = calloc(o->keys, sizeof(*reqs));
    dstack_batch_result *results = calloc(o->keys, sizeof(*results));
    char **bodies = calloc(o->keys, sizeof(*bodies));
    unsigned long i;
    bool ok = false;

    if (reqs == NULL || results == NULL || bodies == NULL)
        goto done;
    for (i = 0; i < o->keys; i++) {
        if (asprintf(&bodies[i], "{\"path\":\"" PATH_FMT "\",\"purpose\":\"\"}", i) < 0) {
            bodies[i] = NULL;
            goto done;
        }
        reqs[i].method = "GetKey";
        reqs[i].json_body = bodies[i];
    }
    if (dstack_call_batch(c, reqs, o->keys, results, o->parallelism, err) != DSTACK_OK)
        goto done;
    for (i = 0; i < o->keys; i++) {
        if (!key_from_body(&results[i], &keys[i], err))
            goto done;
    }
    ok = true;
done:
    if (results != NULL)
        dstack_batch_results_clear(results, o->keys);
    for (i = 0; bodies != NULL && i < o->keys; i++)
        free(bodies[i]);
    free(bodies);
    free(results);
    free(reqs);
    return ok;
}

static bool run_store(const batch_opts *o, EVP_PKEY **keys)
{
    OSSL_STORE_CTX *ctx = NULL;
    OSSL_STORE_INFO *info = NULL;
    char uri[96];
    unsigned long i;
    bool ok = true;

    for (i = 0; ok && i < o->keys; i++) {
        snprintf(uri, sizeof(uri), "dstack:" PATH_FMT "?cert=none", i);
        ctx = OSSL_STORE_open_ex(uri, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        ok = ctx != NULL && OSSL_STORE_expect(ctx, OSSL_STORE_INFO_PKEY);
        info = ok ? OSSL_STORE_load(ctx) : NULL;
        ok = info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY &&
             (keys[i] = OSSL_STORE_INFO_get1_PKEY(info)) != NULL;
        OSSL_STORE_INFO_free(info);
        if (ctx != NULL && !OSSL_STORE_close(ctx))
            ok = false;
        if (!ok)
            fprintf(stderr, "store load of %s failed\n", uri);
    }
    return ok;
}

static bool parse_args(int argc, char **argv, batch_opts *o)
{
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"endpoint", required_argument, NULL, 'e'},
        {"keys", required_argument, NULL, 'k'},
        {"parallelism", required_argument, NULL, 'p'},
        {"label", required_argument, NULL, 'l'},
        {"round", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->keys = 1000;
    o->parallelism = 16;
    o->round = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->mode = optarg;
            break;
        case 'e':
            o->endpoint = optarg;
            break;
        case 'k':
            if (!bench_parse_count(optarg, MAX_KEYS, &o->keys))
                return false;
            break;
        case 'p':
            if (!bench_parse_count(optarg, 256, &o->parallelism))
                return false;
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'r':
            if (!bench_parse_count(optarg, 1000, &o->round))
                return false;
            break;
        default:
            return false;
        }
    }
    return optind == argc && o->mode != NULL && bench_label_ok(o->label) &&
           (strcmp(o->mode, "sequential") == 0 || strcmp(o->mode, "batch") == 0 ||
            strcmp(o->mode, "store") == 0);
}

int main(int argc, char **argv)
{
    batch_opts o;
    dstack_client_options copts = {DSTACK_OPTIONS_INIT(dstack_client_options)};
    dstack_client *c = NULL;
    dstack_error err;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY **keys = NULL;
    unsigned char digest[32];
    char digest_hex[65], extra[200];
    unsigned int dlen = 0;
    uint64_t t0, t1;
    unsigned long i;
    bool ok;
    int rc = 1;

    dstack_error_clear(&err);
    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bench-batch-load --mode sequential|batch|store [--endpoint EP]\n"
                        "         [--keys N] [--parallelism P] --label LABEL [--round R]\n");
        return 2;
    }
    if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) || (md = EVP_MD_CTX_new()) == NULL ||
        !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        (keys = calloc(o.keys, sizeof(*keys))) == NULL)
        goto done;
    copts.service = DSTACK_SERVICE_GUEST;
    copts.endpoint = o.endpoint;
    if (strcmp(o.mode, "store") != 0 && dstack_client_new(&copts, &c, &err) != DSTACK_OK)
        goto done;

    /* The clock covers connection setup too: startup cost is what figure 4 is about. */
    t0 = bench_now_ns();
    if (strcmp(o.mode, "sequential") == 0)
        ok = run_sequential(c, &o, keys, &err);
    else if (strcmp(o.mode, "batch") == 0)
        ok = run_batch(c, &o, keys, &err);
    else
        ok = run_store(&o, keys);
    t1 = bench_now_ns();
    for (i = 0; ok && i < o.keys; i++)
        ok = digest_pubkey(md, keys[i]);
    if (!ok || !EVP_DigestFinal_ex(md, digest, &dlen))
        goto done;

    dstack_hex_encode(digest, sizeof(digest), digest_hex);
    snprintf(extra, sizeof(extra),
             "\"keys\":%lu,\"parallelism\":%lu,\"build_ms\":%.3f,\"pubkeys_sha256\":\"%s\"", o.keys,
             strcmp(o.mode, "batch") == 0 ? o.parallelism : 1ul, (double)build_ns / 1e6,
             digest_hex);
    bench_print_value(o.label, o.round, "ms", (double)(t1 - t0) / 1e6, extra);
    rc = 0;
done:
    if (rc != 0) {
        if (err.message[0] != '\0')
            fprintf(stderr, "%s: %s\n", o.label != NULL ? o.label : "bench-batch-load",
                    err.message);
        ERR_print_errors_fp(stderr);
    }
    for (i = 0; keys != NULL && i < o.keys; i++)
        EVP_PKEY_free(keys[i]);
    free(keys);
    EVP_MD_CTX_free(md);
    dstack_client_free(c);
    return rc;
}
