/* Typed RPCs, keep-alive, fork safety and batches against dstack-sim with its built-in
 * development identity (expected values: DSTACK_DEV_*, docs/dstack-sim.md, protocol.md §9 V3).
 * test_client_rpc_upstream runs the key, chain, Info, Sign and worker cases against dstack-sim
 * with the official appkeys.json, expecting protocol.md §9 V2. */
#include "test_client_util.h"
#include "agent_side.h"
#include "agent/json_codec.h"

#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <dstack/attest.h>
#include <dstack/rpc.h>

/* What the simulator's identity must produce: GetKey(path, "test-purpose") key and public keys,
 * the app key's public key, KMS root, app id, chain[1], and the Sign key's public keys. */
typedef struct expect {
    const char *path, *key, *pub, *ed_pub, *app_pub, *kms_root, *app_id;
    char chain1[131], sign_k256_pub[67], sign_ed_pub[65], worker_report_data[65];
} expected_identity;

static expected_identity ident;

/* The k256_signature docs/dstack-sim.md publishes for the development identity. */
#define DEV_K256_SIGNATURE                                                                         \
    "2df07192645c67f48351b5405f063660155743b493ae77a35e3ddaf2b68f37bd789811f67bba76b4f5e60c1ff57d" \
    "3e463ff501306cac831aaa8cd0509c3c24d000"

/* "dip1::secp256k1c-pk:" + base64url(compressed pub) (protocol.md §2.3). */
static void worker_report_data(const uint8_t pub[33], char out[65])
{
    char b64[64];
    int n = EVP_EncodeBlock((unsigned char *)b64, pub, 33);

    if (n != 44)
        abort();
    for (int i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    b64[n] = '\0';
    snprintf(out, 65, "dip1::secp256k1c-pk:%s", b64);
}

/* The development identity: DSTACK_DEV_* and, for Sign (= GetKey("vms"), protocol.md §3.2),
 * the app key of `dstack-sim --write-appkeys` (checked against DSTACK_DEV_APP_PUB). */
static void expect_dev(void)
{
    uint8_t *text = test_dev_appkeys(NULL), app_key[32], key[32], pub[33], ed[32];
    json_object *root = json_tokener_parse((const char *)text), *v;
    dstack_error e;

    ident = (expected_identity){.path = test_env("DSTACK_DEV_PATH"),
                                .key = test_env("DSTACK_DEV_SECRET"),
                                .pub = test_env("DSTACK_DEV_K256_PUB"),
                                .ed_pub = test_env("DSTACK_DEV_ED25519_PUB"),
                                .app_pub = test_env("DSTACK_DEV_APP_PUB"),
                                .kms_root = test_env("DSTACK_DEV_KMS_ROOT"),
                                .app_id = test_env("DSTACK_DEV_APP_ID")};
    snprintf(ident.chain1, sizeof(ident.chain1), "%s", DEV_K256_SIGNATURE);
    if (root == NULL || !json_object_object_get_ex(root, "k256_key", &v) ||
        !hex_to(json_object_get_string(v), app_key, 32) ||
        dstack_secp256k1_pubkey(app_key, pub, &e) != DSTACK_OK) {
        fprintf(stderr, "client_rpc: no usable k256_key from dstack-sim --write-appkeys\n");
        exit(2);
    }
    dstack_hex_encode(pub, 33, ident.sign_k256_pub); /* the app key, checked below */
    if (strcmp(ident.sign_k256_pub, ident.app_pub) != 0 ||
        dstack_derive_key(app_key, (const uint8_t *)"vms", 3, key, &e) != DSTACK_OK ||
        dstack_secp256k1_pubkey(key, pub, &e) != DSTACK_OK ||
        dstack_ed25519_pubkey(key, ed, &e) != DSTACK_OK) {
        fprintf(stderr, "client_rpc: --write-appkeys is not the development identity\n");
        exit(2);
    }
    dstack_hex_encode(pub, 33, ident.sign_k256_pub);
    dstack_hex_encode(ed, 32, ident.sign_ed_pub);
    worker_report_data(pub, ident.worker_report_data);
    json_object_put(root);
    free(text);
}

/* protocol.md §9 V2 and the official appkeys.json's k256_signature (upstream data). */
static void expect_v2(void)
{
    uint8_t *text = test_read_fixture("dstack/appkeys.json", NULL);
    json_object *root = json_tokener_parse((const char *)text), *sig;

    ident = (expected_identity){
        .path = "/test/path",
        .key = "b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7",
        .pub = "02c1082e78670feed1c847db81dbd71be37e4d53200a746c0a89f0afa8173cf566",
        .ed_pub = "2149e71e37ed8568f5a240e6966b5d6f6017428069ddf06ed4c04151de4b2304",
        .app_pub = "02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c",
        .kms_root = "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6",
        .app_id = "5bb4ff9a3837357f19dc176407a5709c62eb6c56"};
    if (root == NULL || !json_object_object_get_ex(root, "k256_signature", &sig)) {
        fprintf(stderr, "client_rpc: appkeys.json has no k256_signature\n");
        exit(2);
    }
    snprintf(ident.chain1, sizeof(ident.chain1), "%s", json_object_get_string(sig));
    snprintf(ident.sign_k256_pub, sizeof(ident.sign_k256_pub), "%s",
             "036105f01d1fd781568f7c208b087b1c4f522601410ed7e9c7870d573de7c46d54");
    snprintf(ident.sign_ed_pub, sizeof(ident.sign_ed_pub), "%s",
             "698f56bd587d8ce3ca8db0e1c361ba9d190089f98dc4d9df800ff92ed073a65d");
    snprintf(ident.worker_report_data, sizeof(ident.worker_report_data), "%s",
             "dip1::secp256k1c-pk:A2EF8B0f14FWj3wgiwh7HE9SJgFBDtfpx4cNVz3nxG1U");
    json_object_put(root);
    free(text);
}

/* Recovers the signer of chain entry `sig` over Keccak256(msg). */
static char *recover_hex(const dstack_bytes *sig, const uint8_t *msg, size_t msg_len)
{
    uint8_t digest[32], pub[33];
    dstack_error e;
    CU_ASSERT_EQUAL_FATAL(sig->len, 65);
    dstack_keccak256(msg, msg_len, digest);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_recover(sig->data, digest, pub, &e), DSTACK_OK);
    return test_hex(pub, sizeof(pub));
}

static void check_app_chain(const dstack_key_response *k, const char *purpose,
                            const char *derived_pub_hex)
{
    char msg[256];
    uint8_t kms_msg[18 + 20 + 33], chain1[65];
    size_t n;
    char *got;

    CU_ASSERT_EQUAL_FATAL(k->signature_chain_len, 2);
    /* chain[0]: app key over purpose ":" hex(pub) (protocol.md §3.4). */
    n = (size_t)snprintf(msg, sizeof(msg), "%s:%s", purpose, derived_pub_hex);
    got = recover_hex(&k->signature_chain[0], (const uint8_t *)msg, n);
    CU_ASSERT_STRING_EQUAL(got, ident.app_pub);
    free(got);

    /* chain[1]: the identity's k256_signature, KMS root over "dstack-kms-issued:" app_id pub. */
    CU_ASSERT_FATAL(hex_to(ident.chain1, chain1, sizeof(chain1)));
    CU_ASSERT_EQUAL(k->signature_chain[1].len, 65);
    CU_ASSERT(k->signature_chain[1].len == 65 &&
              memcmp(k->signature_chain[1].data, chain1, 65) == 0);
    memcpy(kms_msg, "dstack-kms-issued:", 18);
    CU_ASSERT_FATAL(hex_to(ident.app_id, kms_msg + 18, 20));
    CU_ASSERT_FATAL(hex_to(ident.app_pub, kms_msg + 38, 33));
    got = recover_hex(&k->signature_chain[1], kms_msg, sizeof(kms_msg));
    CU_ASSERT_STRING_EQUAL(got, ident.kms_root);
    free(got);
}

static void test_get_key_secp256k1(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_key_response k;
    dstack_error e;
    uint8_t pub[33];

    CU_ASSERT_EQUAL_FATAL(dstack_get_key(c, ident.path, "test-purpose", "secp256k1", &k, &e),
                          DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(k.key.data, k.key.len, ident.key);
    CU_ASSERT(CRYPTO_secure_allocated(k.key.data));
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(k.key.data, pub, &e), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, sizeof(pub), ident.pub);
    check_app_chain(&k, "test-purpose", ident.pub);
    dstack_key_response_free(&k);
    CU_ASSERT_PTR_NULL(k.key.data);

    /* No algorithm (agent default) and the k256 alias give the same bytes. */
    CU_ASSERT_EQUAL(dstack_get_key(c, ident.path, "test-purpose", NULL, &k, &e), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(k.key.data, k.key.len, ident.key);
    dstack_key_response_free(&k);
    CU_ASSERT_EQUAL(dstack_get_key(c, ident.path, "", "k256", &k, &e), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(k.key.data, k.key.len, ident.key);
    dstack_key_response_free(&k);
    dstack_client_free(c);
}

static void test_get_key_ed25519(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_key_response k;
    dstack_error e;
    uint8_t pub[32];

    CU_ASSERT_EQUAL_FATAL(dstack_get_key(c, ident.path, "test-purpose", "ed25519", &k, &e),
                          DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(k.key.data, k.key.len, ident.key);
    CU_ASSERT_EQUAL(dstack_ed25519_pubkey(k.key.data, pub, &e), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, sizeof(pub), ident.ed_pub);
    check_app_chain(&k, "test-purpose", ident.ed_pub);
    dstack_key_response_free(&k);
    dstack_client_free(c);
}

static void test_get_key_errors(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_key_response k;
    dstack_error e;

    CU_ASSERT_EQUAL(dstack_get_key(c, "/test/path", "", "rsa", &k, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.status, DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.http_status, 400);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "Unsupported algorithm");
    CU_ASSERT_STRING_EQUAL(e.method, "GetKey");
    CU_ASSERT_STRING_EQUAL(e.endpoint, dstack_client_endpoint(c));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "GetKey on "));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, ": agent answered HTTP 400: Unsupported algorithm"));
    CU_ASSERT_PTR_NULL(k.key.data);
    /* The error record is reset by the next successful call's failure-free path. */
    CU_ASSERT_EQUAL(dstack_get_key(c, "x", "", NULL, &k, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(e.status, DSTACK_OK);
    CU_ASSERT_EQUAL(e.agent_error[0], '\0');
    dstack_key_response_free(&k);
    CU_ASSERT_EQUAL(dstack_get_key(c, "x", "", NULL, NULL, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_get_key(NULL, "x", "", NULL, &k, &e), DSTACK_ERR_USAGE);
    dstack_client_free(c);
}

static void test_tappd_keys(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_TAPPD, 0);
    dstack_key_response k;
    dstack_tls_key_response t;
    dstack_error e;

    CU_ASSERT_EQUAL_FATAL(dstack_tappd_derive_k256_key(c, ident.path, "test-purpose", NULL, &k, &e),
                          DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(k.key.data, k.key.len, ident.key);
    check_app_chain(&k, "test-purpose", ident.pub);
    dstack_key_response_free(&k);

    /* Tappd.DeriveKey(path, random_seed=false): P-256 scalar = GetKey bytes (protocol.md §3.2). */
    dstack_tls_key_request req = {DSTACK_OPTIONS_INIT(dstack_tls_key_request), .path = ident.path,
                                  .subject = "demo"};
    CU_ASSERT_EQUAL_FATAL(dstack_tappd_derive_key(c, &req, &t, &e), DSTACK_OK);
    BIO *bio = BIO_new_mem_buf(t.key_pem, -1);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIGNUM *priv = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(pkey);
    CU_ASSERT(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1);
    uint8_t scalar[32];
    CU_ASSERT(BN_bn2binpad(priv, scalar, 32) == 32);
    CU_ASSERT_HEX_EQUAL(scalar, 32, ident.key);
    CU_ASSERT_EQUAL(t.certificate_chain_len, 2);
    for (size_t i = 0; i < t.certificate_chain_len; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(t.certificate_chain[i], "-----BEGIN CERTIFICATE-----"));
    BN_clear_free(priv);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    dstack_tls_key_response_free(&t);
    CU_ASSERT_EQUAL(dstack_tappd_derive_key(c, NULL, &t, &e), DSTACK_ERR_USAGE);
    dstack_client_free(c);
}

static void test_get_tls_key(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_tls_key_response t;
    dstack_error e;
    const char *sans[] = {"api.example.com", "10.0.0.5"};
    dstack_tls_key_request req = {DSTACK_OPTIONS_INIT(dstack_tls_key_request),
                                  .subject = "svc",
                                  .alt_names = sans,
                                  .alt_names_len = 2,
                                  .usage_server_auth = true,
                                  .has_not_before = true,
                                  .not_before = 1700000000,
                                  .has_not_after = true,
                                  .not_after = 1900000000};

    CU_ASSERT_EQUAL_FATAL(dstack_get_tls_key(c, &req, &t, &e), DSTACK_OK);
    CU_ASSERT(CRYPTO_secure_allocated(t.key_pem));
    CU_ASSERT_EQUAL_FATAL(t.certificate_chain_len, 2);
    BIO *kb = BIO_new_mem_buf(t.key_pem, -1);
    BIO *cb = BIO_new_mem_buf(t.certificate_chain[0], -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    X509 *leaf = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    CU_ASSERT(EVP_PKEY_is_a(key, "EC"));
    CU_ASSERT(X509_check_private_key(leaf, key) == 1);
    CU_ASSERT(X509_check_host(leaf, "api.example.com", 0, 0, NULL) == 1);
    X509_free(leaf);
    EVP_PKEY_free(key);
    BIO_free(kb);
    BIO_free(cb);
    dstack_tls_key_response_free(&t);

    /* 0.6 refuses an inverted or empty validity when both ends are given (protocol.md
     * protocol.md §2.6.4), with the agent's exact text. */
    req.not_after = req.not_before;
    CU_ASSERT_EQUAL(dstack_get_tls_key(c, &req, &t, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.http_status, 400);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "not_before must be earlier than not_after");
    req.has_not_before = false; /* one end only: no check */
    CU_ASSERT_EQUAL(dstack_get_tls_key(c, &req, &t, &e), DSTACK_OK);
    dstack_tls_key_response_free(&t);
    dstack_client_free(c);
}

static void test_get_quote(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_quote_response q;
    dstack_error e;
    uint8_t want[64] = "hello report";
    uint8_t big[65] = {0};
    unsigned long conns;

    CU_ASSERT_EQUAL_FATAL(dstack_get_quote(c, want, 12, &q, &e), DSTACK_OK);
    /* Right-padded with zeros to 64 bytes (protocol.md §2.1) and patched into the quote. */
    CU_ASSERT_EQUAL(q.report_data.len, 64);
    CU_ASSERT(q.report_data.len == 64 && memcmp(q.report_data.data, want, 64) == 0);
    CU_ASSERT_FATAL(q.quote.len >= DSTACK_QUOTE_MIN_LEN);
    CU_ASSERT(memcmp(q.quote.data + 568, want, 64) == 0);
    CU_ASSERT(q.event_log_json[0] == '[');
    CU_ASSERT(q.event_log.count > 0);
    CU_ASSERT_PTR_NOT_NULL(q.vm_config);
    CU_ASSERT_STRING_EQUAL(q.hash_algorithm, "");
    dstack_tdx_quote parsed;
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(q.quote.data, q.quote.len, &parsed, &e), DSTACK_OK);
    CU_ASSERT(memcmp(parsed.report_data, want, 64) == 0);
    /* TDX: no attestation field (protocol.md §2.6.2) */
    CU_ASSERT_EQUAL(q.attestation.len, 0);
    dstack_quote_response_free(&q);

    /* > 64 bytes is refused client-side, before any request. */
    conns = dstack_client_connections_opened(c);
    CU_ASSERT_EQUAL(dstack_get_quote(c, big, sizeof(big), &q, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "GetQuote"));
    CU_ASSERT_EQUAL(dstack_attest(c, big, sizeof(big), &q.quote, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), conns);
    CU_ASSERT_EQUAL(dstack_get_quote(c, NULL, 3, &q, &e), DSTACK_ERR_USAGE);
    dstack_client_free(c);
}

static void test_tappd_quotes(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_TAPPD, 0);
    dstack_quote_response q;
    dstack_error e;
    uint8_t expect[64], raw[64];
    const char *content = "test content";

    /* V3: default hash sha512 over "app-data:" || report_data (protocol.md §2.2, §9). */
    SHA512((const uint8_t *)"app-data:test content", 21, expect);
    CU_ASSERT_EQUAL_FATAL(
        dstack_tappd_tdx_quote(c, (const uint8_t *)content, strlen(content), NULL, NULL, &q, &e),
        DSTACK_OK);
    CU_ASSERT_FATAL(q.quote.len >= DSTACK_QUOTE_MIN_LEN);
    CU_ASSERT(memcmp(q.quote.data + 568, expect, 64) == 0);
    CU_ASSERT_STRING_EQUAL(q.hash_algorithm, "sha512");
    CU_ASSERT(q.event_log.count > 0);
    dstack_quote_response_free(&q);

    for (int i = 0; i < 64; i++)
        raw[i] = (uint8_t)(i * 3 + 1);
    CU_ASSERT_EQUAL_FATAL(dstack_tappd_raw_quote(c, raw, 64, &q, &e), DSTACK_OK);
    CU_ASSERT(q.quote.len >= DSTACK_QUOTE_MIN_LEN && memcmp(q.quote.data + 568, raw, 64) == 0);
    dstack_quote_response_free(&q);

    CU_ASSERT_EQUAL(dstack_tappd_raw_quote(c, raw, 10, &q, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.http_status, 400);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "invalid content length");
    CU_ASSERT_STRING_EQUAL(e.method, "Tappd.RawQuote");
    CU_ASSERT_EQUAL(dstack_tappd_tdx_quote(c, raw, 4, "md5", NULL, &q, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "invalid hash algorithm");
    dstack_client_free(c);
}

static void test_attest(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_bytes att;
    dstack_attestation decoded;
    dstack_error e;
    uint8_t rd[64] = "attest me";

    CU_ASSERT_EQUAL_FATAL(dstack_attest(c, rd, 9, &att, &e), DSTACK_OK);
    CU_ASSERT_FATAL(att.len > DSTACK_QUOTE_MIN_LEN);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(att.data, att.len, &decoded, &e), DSTACK_OK);
    CU_ASSERT(memcmp(decoded.report_data, rd, 64) == 0);
    dstack_attestation_free(&decoded);
    dstack_bytes_free(&att);
    CU_ASSERT_PTR_NULL(att.data);
    dstack_client_free(c);
}

/* dstack-sim builds Info from its own compose file and measurements (not from the official
 * simulator's attestation.bin), so check what protocol.md §2.4/§5.5 say must hold between
 * fields. */
/* Info.app_cert: the agent's demo client certificate and its CA, PEMs joined with "\n"
 * (protocol.md §2.6.5): CN demo-cert, clientAuth only, an RA-TLS attestation of its key. */
static void check_app_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    dstack_ratls_info info;
    char cn[32] = "";

    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    CU_ASSERT_PTR_NOT_NULL(ca);
    CU_ASSERT_PTR_NOT_NULL(strstr(pem, "-----END CERTIFICATE-----\n\n-----BEGIN CERTIFICATE-----"));
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn));
    CU_ASSERT_STRING_EQUAL(cn, "demo-cert");
    CU_ASSERT_EQUAL(X509_get_extended_key_usage(leaf), XKU_SSL_CLIENT);
    CU_ASSERT(ca == NULL || X509_verify(leaf, X509_get0_pubkey(ca)) == 1);
    CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(leaf, &info, NULL), DSTACK_OK);
    CU_ASSERT_TRUE(info.has_attestation);
    CU_ASSERT_TRUE(info.report_data_binds_key);
    CU_ASSERT_TRUE(info.rtmr3_matches);
    dstack_ratls_info_free(&info);
    X509_free(ca);
    X509_free(leaf);
    BIO_free(bio);
}

static void check_info(const dstack_app_info *i, bool worker)
{
    uint8_t digest[32], rtmr[4][48];
    bool valid[4];

    CU_ASSERT_HEX_EQUAL(i->app_id.data, i->app_id.len, ident.app_id);
    CU_ASSERT_EQUAL(i->instance_id.len, 20);
    CU_ASSERT_EQUAL(i->compose_hash.len, 32);
    CU_ASSERT_EQUAL(i->mr_aggregated.len, 32);
    CU_ASSERT_HEX_EQUAL(i->device_id.data, i->device_id.len,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CU_ASSERT_STRING_EQUAL(i->key_provider_name, "kms");
    CU_ASSERT(strncmp(i->key_provider_id, "3059", 4) == 0);
    CU_ASSERT(strstr(i->key_provider_info_json, "\"kms\"") != NULL);
    CU_ASSERT(i->app_name[0] != '\0');
    CU_ASSERT_PTR_NOT_NULL(i->cloud_vendor);
    CU_ASSERT_FALSE(i->legacy_worker_info);
    check_app_cert(i->app_cert);
    if (worker) {
        /* Worker.Info hides tcb_info unless public_tcbinfo (protocol.md §2.3). */
        CU_ASSERT_EQUAL(i->tcb_info.present, i->tcb_info_json[0] != '\0');
        return;
    }
    CU_ASSERT_FATAL(i->tcb_info.present);
    CU_ASSERT_FATAL(i->tcb_info.has_rtmrs);
    /* compose_hash = SHA-256(raw app-compose text) and is repeated inside tcb_info. */
    SHA256((const uint8_t *)i->tcb_info.app_compose, strlen(i->tcb_info.app_compose), digest);
    CU_ASSERT(memcmp(digest, i->compose_hash.data, 32) == 0);
    char *hex = test_hex(i->compose_hash.data, 32);
    CU_ASSERT_STRING_EQUAL(i->tcb_info.compose_hash, hex);
    free(hex);
    /* mr_aggregated = SHA-256(MRTD || RTMR0..3) with zero MRCONFIGID/MROWNER*. */
    uint8_t concat[5 * 48];
    memcpy(concat, i->tcb_info.mrtd, 48);
    memcpy(concat + 48, i->tcb_info.rtmr, 4 * 48);
    SHA256(concat, sizeof(concat), digest);
    CU_ASSERT(memcmp(digest, i->mr_aggregated.data, 32) == 0);
    /* The (unstripped) tcb_info event log replays to the reported RTMRs. */
    CU_ASSERT_FATAL(i->tcb_info.event_log.count > 0);
    dstack_event_log_replay(&i->tcb_info.event_log, rtmr, valid);
    for (int r = 0; r < 4; r++) {
        CU_ASSERT(valid[r]);
        CU_ASSERT(memcmp(rtmr[r], i->tcb_info.rtmr[r], 48) == 0);
    }
}

static void test_info_and_version(void)
{
    for (int s = DSTACK_SERVICE_GUEST; s <= DSTACK_SERVICE_WORKER; s++) {
        dstack_client *c = sim_client((dstack_service)s, 0);
        dstack_app_info info;
        dstack_version_info v;
        dstack_error e;

        CU_ASSERT_EQUAL_FATAL(dstack_info(c, &info, &e), DSTACK_OK);
        check_info(&info, s == DSTACK_SERVICE_WORKER);
        dstack_app_info_free(&info);
        CU_ASSERT_PTR_NULL(info.app_name);
        CU_ASSERT_EQUAL_FATAL(dstack_version(c, &v, &e), DSTACK_OK);
        CU_ASSERT(v.version[0] != '\0');
        CU_ASSERT_PTR_NOT_NULL(v.rev);
        dstack_version_info_free(&v);
        CU_ASSERT(dstack_is_reachable(c, 1000));
        dstack_client_free(c);
    }
}

static void test_sign_verify(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    const char *algs[] = {"secp256k1", "ed25519"};
    const char *pubs[] = {ident.sign_k256_pub, ident.sign_ed_pub};
    const uint8_t data[] = "message to sign";
    dstack_error e;

    for (int a = 0; a < 2; a++) {
        dstack_sign_response s;
        bool valid = false;
        CU_ASSERT_EQUAL_FATAL(dstack_sign(c, algs[a], data, sizeof(data) - 1, &s, &e), DSTACK_OK);
        CU_ASSERT_HEX_EQUAL(s.public_key.data, s.public_key.len, pubs[a]);
        CU_ASSERT_EQUAL(s.signature.len, 64);
        CU_ASSERT_EQUAL_FATAL(s.signature_chain_len, 3);
        CU_ASSERT(s.signature_chain[0].len == 64 &&
                  memcmp(s.signature_chain[0].data, s.signature.data, 64) == 0);
        CU_ASSERT_EQUAL(dstack_verify(c, algs[a], data, sizeof(data) - 1, s.signature.data,
                                      s.signature.len, s.public_key.data, s.public_key.len, &valid,
                                      &e),
                        DSTACK_OK);
        CU_ASSERT_TRUE(valid);
        /* Tampered data no longer verifies. */
        CU_ASSERT_EQUAL(dstack_verify(c, algs[a], data, sizeof(data) - 2, s.signature.data,
                                      s.signature.len, s.public_key.data, s.public_key.len, &valid,
                                      &e),
                        DSTACK_OK);
        CU_ASSERT_FALSE(valid);
        dstack_sign_response_free(&s);
    }
    dstack_sign_response s;
    CU_ASSERT_EQUAL(dstack_sign(c, "rsa", data, 3, &s, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "Unsupported algorithm");
    dstack_client_free(c);
}

static void test_worker_attestation(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_WORKER, 0);
    dstack_quote_response q;
    dstack_error e;
    const char *rd = ident.worker_report_data;

    CU_ASSERT_EQUAL_FATAL(dstack_worker_get_attestation_for_app_key(c, "secp256k1", &q, &e),
                          DSTACK_OK);
    CU_ASSERT_EQUAL(q.report_data.len, 64);
    CU_ASSERT_EQUAL(strlen(rd), 64);
    CU_ASSERT(q.report_data.len == 64 && memcmp(q.report_data.data, rd, 64) == 0);
    CU_ASSERT(q.quote.len >= DSTACK_QUOTE_MIN_LEN && memcmp(q.quote.data + 568, rd, 64) == 0);
    dstack_quote_response_free(&q);
    CU_ASSERT_EQUAL(dstack_worker_get_attestation_for_app_key(c, "", &q, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_STRING_EQUAL(e.method, "Worker.GetAttestationForAppKey");
    dstack_client_free(c);
}

static void test_emit_event(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_error e;
    dstack_status rc = dstack_emit_event(c, "test-event", (const uint8_t *)"xy", 2, &e);

    /* 0.6 removed EmitEvent (protocol.md §2.6.1): the agent's answer, and the Version that
     * explains it. */
    CU_ASSERT_EQUAL(rc, DSTACK_ERR_AGENT);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "Service not found: EmitEvent");
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "the agent is dstack 0.6.0, which removed EmitEvent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "dstack-util extend"));
    CU_ASSERT_EQUAL(dstack_emit_event(c, "", NULL, 0, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_emit_event(c, NULL, NULL, 0, &e), DSTACK_ERR_USAGE);
    dstack_client_free(c);
}

static void test_gpu_info(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_gpu_info_response g;
    dstack_error e;

    /* No GPU: an empty attestation (protocol.md §2.6.3). */
    CU_ASSERT_EQUAL_FATAL(dstack_gpu_info(c, &g, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(g.attestation, "");
    dstack_gpu_info_response_free(&g);
    CU_ASSERT_PTR_NULL(g.attestation);
    CU_ASSERT_EQUAL(dstack_gpu_info(c, NULL, &e), DSTACK_ERR_USAGE);
    dstack_client_free(c);
}

static void test_raw_calls(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_raw_response r;
    json_object *obj;
    dstack_error e;

    CU_ASSERT_EQUAL_FATAL(dstack_call_raw(c, "NoSuchMethod", NULL, &r, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(r.http_status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.headers, "HTTP/1.1 400"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "Service not found"));
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_call(c, "NoSuchMethod", "{}", &obj, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "Service not found: NoSuchMethod");
    CU_ASSERT_PTR_NULL(obj);
    /* Method names become path segments: only identifiers are allowed. */
    CU_ASSERT_EQUAL(dstack_call_raw(c, "../GetKey", NULL, &r, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "", NULL, &r, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_call(c, "Version", NULL, &obj, &e), DSTACK_OK);
    CU_ASSERT(json_object_is_type(obj, json_type_object));
    json_object_put(obj);
    dstack_client_free(c);
}

/* 50 sequential calls share one keep-alive connection: our count and the agent's agree. */
static void test_keep_alive(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_error e;
    long before = sim_stat("connections", "dstack");

    CU_ASSERT_FATAL(before >= 0);
    for (int i = 0; i < 50; i++) {
        dstack_key_response k;
        CU_ASSERT_EQUAL(dstack_get_key(c, "keepalive", "", NULL, &k, &e), DSTACK_OK);
        dstack_key_response_free(&k);
    }
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 1);
    CU_ASSERT_EQUAL(sim_stat("connections", "dstack") - before, 1);
    dstack_client_free(c);
}

/* A fork() child must not share the parent's connection: it reconnects, and the parent's
 * connection keeps working. */
static void test_fork(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_version_info v;
    dstack_error e;
    int status = -1;

    CU_ASSERT_EQUAL_FATAL(dstack_version(c, &v, &e), DSTACK_OK);
    dstack_version_info_free(&v);
    long before = sim_stat("connections", "dstack");
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        dstack_key_response k;
        int ok = dstack_get_key(c, ident.path, "", NULL, &k, &e) == DSTACK_OK && k.key.len == 32 &&
                 dstack_client_connections_opened(c) == 2;
        dstack_key_response_free(&k);
        dstack_client_free(c);
        _exit(ok ? 0 : 1);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(dstack_version(c, &v, &e), DSTACK_OK);
    dstack_version_info_free(&v);
    /* Only the child's new connection was opened; the parent reused its own. */
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 1);
    CU_ASSERT_EQUAL(sim_stat("connections", "dstack") - before, 1);
    dstack_client_free(c);
}

#define BATCH_N 64

static void test_batch(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_batch_request req[BATCH_N];
    dstack_batch_result res[BATCH_N];
    char bodies[BATCH_N][96];
    dstack_error e;

    for (int i = 0; i < BATCH_N; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "{\"path\":\"batch/%d\",\"purpose\":\"p\"}", i);
        req[i].method = "GetKey";
        req[i].json_body = bodies[i];
    }
    CU_ASSERT_EQUAL_FATAL(dstack_call_batch(c, req, BATCH_N, res, 8, &e), DSTACK_OK);
    for (int i = 0; i < BATCH_N; i++) {
        char path[32];
        dstack_key_response k;
        json_object *obj = json_tokener_parse(res[i].response.body), *key;
        CU_ASSERT_EQUAL(res[i].status, DSTACK_OK);
        CU_ASSERT_EQUAL(res[i].response.http_status, 200);
        snprintf(path, sizeof(path), "batch/%d", i);
        CU_ASSERT_EQUAL_FATAL(dstack_get_key(c, path, "p", NULL, &k, &e), DSTACK_OK);
        CU_ASSERT_FATAL(json_object_object_get_ex(obj, "key", &key));
        CU_ASSERT_HEX_EQUAL(k.key.data, k.key.len, json_object_get_string(key));
        dstack_key_response_free(&k);
        json_object_put(obj);
    }
    dstack_batch_results_clear(res, BATCH_N);

    /* One bad request does not spoil the others. */
    req[5].json_body = "{\"path\":\"x\",\"algorithm\":\"nope\"}";
    req[9].method = "bad/name";
    CU_ASSERT_EQUAL(dstack_call_batch(c, req, 16, res, 0, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.http_status, 400);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "Unsupported algorithm");
    for (int i = 0; i < 16; i++) {
        dstack_status want = i == 5 ? DSTACK_ERR_AGENT : i == 9 ? DSTACK_ERR_USAGE : DSTACK_OK;
        CU_ASSERT_EQUAL(res[i].status, want);
        if (want == DSTACK_OK)
            CU_ASSERT_PTR_NOT_NULL(strstr(res[i].response.body, "\"key\""));
    }
    CU_ASSERT_EQUAL(res[5].response.http_status, 400);
    dstack_batch_results_clear(res, 16);
    CU_ASSERT_EQUAL(dstack_call_batch(c, req, 0, NULL, 0, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_call_batch(c, NULL, 3, res, 0, &e), DSTACK_ERR_USAGE);
    dstack_client_free(c);
}

int main(void)
{
    static const test_case cases[] = {
        {"GetKey secp256k1: key, chain to app and KMS root", test_get_key_secp256k1},
        {"GetKey ed25519: same key bytes, chain", test_get_key_ed25519},
        {"GetKey errors: agent 400, usage", test_get_key_errors},
        {"Tappd DeriveK256Key and DeriveKey", test_tappd_keys},
        {"GetTlsKey: key matches leaf, 2 PEMs; validity order", test_get_tls_key},
        {"GetQuote: report_data padded and patched", test_get_quote},
        {"Tappd TdxQuote and RawQuote", test_tappd_quotes},
        {"Attest: decodable, report_data bound", test_attest},
        {"Info and Version on guest, tappd, worker", test_info_and_version},
        {"Sign and Verify roundtrip, tampered", test_sign_verify},
        {"Worker GetAttestationForAppKey", test_worker_attestation},
        {"EmitEvent on 0.6: removed, and said so", test_emit_event},
        {"GpuInfo without GPU", test_gpu_info},
        {"raw calls and method validation", test_raw_calls},
        {"keep-alive: 50 calls, 1 connection", test_keep_alive},
        {"fork: child reconnects, parent keeps its connection", test_fork},
        {"batch: 64 concurrent GetKey, one failure isolated", test_batch},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"GetKey secp256k1: V2 key, chain to app and KMS root", test_get_key_secp256k1},
        {"GetKey ed25519: V2 key bytes, chain", test_get_key_ed25519},
        {"Tappd DeriveK256Key and DeriveKey (V2)", test_tappd_keys},
        {"Info and Version on guest, tappd, worker (V2 app id)", test_info_and_version},
        {"Sign and Verify roundtrip, V2 Sign key", test_sign_verify},
        {"Worker GetAttestationForAppKey (V2 Sign key)", test_worker_attestation},
        {NULL, NULL},
    };
    const char *mode = getenv("DSTACK_TEST_UPSTREAM");
    const char *fixtures = getenv("DSTACK_FIXTURES");
    char probe[4096];

    /* The expectations follow the identity with-sim.sh started the simulator with. */
    snprintf(probe, sizeof(probe), "%s/dstack/appkeys.json", fixtures ? fixtures : "");
    if (mode != NULL && strcmp(mode, "1") == 0) {
        if (access(probe, R_OK) == 0)
            expect_v2();
    } else {
        expect_dev();
    }
    /* As an application may: the agent's key bytes then arrive in the secure heap. */
    (void)CRYPTO_secure_malloc_init(64 * 1024, 32);
    return test_run_split_suite("client_rpc", cases, upstream);
}
