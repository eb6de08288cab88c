/* Key derivation, Keccak-256, secp256k1 and signature chains against protocol.md §9 vectors and
 * dstack-sim's development identity (docs/dstack-sim.md, DSTACK_DEV_*); the V2 cases about the
 * official simulator's appkeys.json run as test_keys_upstream. */
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <dstack/keys.h>

#include "crypto/keccak_internal.h"
#include "crypto/pkey_util.h"
#include "test_util.h"
#include "agent_side.h"

static void from_hex(const char *hex, uint8_t *out, size_t want)
{
    size_t n = 0;
    CU_ASSERT_FATAL(dstack_hex_decode(hex, strlen(hex), out, want, &n));
    CU_ASSERT_FATAL(n == want);
}

/* The identity behind a signature chain: app key, its KMS signature (chain[1]), app id, root. */
typedef struct identity {
    uint8_t app_key[32], kms_sig[65], app_id[20], root[33];
} identity;

static void derive_for_app(const uint8_t ikm[32], const uint8_t app_id[20], const char *label,
                           uint8_t out[32])
{
    uint8_t info[20 + 16];
    dstack_error err;

    memcpy(info, app_id, 20);
    memcpy(info + 20, label, strlen(label));
    CU_ASSERT_EQUAL_FATAL(dstack_derive_key(ikm, info, 20 + strlen(label), out, &err), DSTACK_OK);
}

/* dstack-sim's development identity, derived here as docs/dstack-sim.md describes it (the KMS
 * construction of protocol.md §3.2), checked against the independently computed DSTACK_DEV_*
 * values and the k256_signature docs/dstack-sim.md publishes. */
#define DEV_K256_SIGNATURE                                                                         \
    "2df07192645c67f48351b5405f063660155743b493ae77a35e3ddaf2b68f37bd789811f67bba76b4f5e60c1ff57d" \
    "3e463ff501306cac831aaa8cd0509c3c24d000"

static void dev_identity(identity *id)
{
    static const char seed[] = "dstack-sim insecure development identity v1";
    uint8_t ikm[32], kms[32], tmp[32], app_pub[33], digest[32];
    uint8_t msg[18 + 20 + 33];
    dstack_error err;

    SHA256((const uint8_t *)seed, strlen(seed), ikm);
    CU_ASSERT_EQUAL_FATAL(
        dstack_derive_key(ikm, (const uint8_t *)"dev-kms-root-k256", 17, kms, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_derive_key(ikm, (const uint8_t *)"dev-app-id", 10, tmp, &err),
                          DSTACK_OK);
    memcpy(id->app_id, tmp, 20);
    derive_for_app(kms, id->app_id, "app-key", id->app_key);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_pubkey(kms, id->root, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_pubkey(id->app_key, app_pub, &err), DSTACK_OK);
    memcpy(msg, "dstack-kms-issued:", 18);
    memcpy(msg + 18, id->app_id, 20);
    memcpy(msg + 38, app_pub, 33);
    dstack_keccak256(msg, sizeof(msg), digest);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_sign_recoverable(kms, digest, id->kms_sig, &err),
                          DSTACK_OK);
}

/* k256_key and k256_signature of the official simulator's appkeys.json (upstream data), with
 * the app id and KMS root of protocol.md §9 V2. */
static void upstream_identity(identity *id)
{
    uint8_t *text = test_read_fixture("dstack/appkeys.json", NULL);
    json_object *root = json_tokener_parse((const char *)text), *v;

    CU_ASSERT_FATAL(root != NULL);
    CU_ASSERT_FATAL(json_object_object_get_ex(root, "k256_key", &v));
    from_hex(json_object_get_string(v), id->app_key, 32);
    CU_ASSERT_FATAL(json_object_object_get_ex(root, "k256_signature", &v));
    from_hex(json_object_get_string(v), id->kms_sig, 65);
    json_object_put(root);
    free(text);
    from_hex("5bb4ff9a3837357f19dc176407a5709c62eb6c56", id->app_id, 20);
    from_hex("0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6", id->root, 33);
}

static void test_hex_codec(void)
{
    uint8_t buf[4];
    size_t n = 0;
    char text[9];

    CU_ASSERT(dstack_hex_decode("0x0xDEadBe", 10, buf, sizeof(buf), &n));
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_HEX_EQUAL(buf, 3, "deadbe");
    dstack_hex_encode(buf, 3, text);
    CU_ASSERT_STRING_EQUAL(text, "deadbe");
    CU_ASSERT(dstack_hex_decode("", 0, buf, 0, &n));
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(dstack_hex_decode("0x", 2, buf, 0, &n));
    CU_ASSERT_FALSE(dstack_hex_decode("abc", 3, buf, sizeof(buf), &n));         /* odd */
    CU_ASSERT_FALSE(dstack_hex_decode("zz", 2, buf, sizeof(buf), &n));          /* bad char */
    CU_ASSERT_FALSE(dstack_hex_decode("0011223344", 10, buf, sizeof(buf), &n)); /* over cap */
    CU_ASSERT_FALSE(dstack_hex_decode(" 0", 2, buf, sizeof(buf), &n));
}

/* Every Keccak implementation against the same vectors: the public entry point, the internal
 * sponge, and OpenSSL's KECCAK-<bits> where the library has it (3.2+). */
typedef bool (*keccak_fn)(const uint8_t *data, size_t len, uint8_t *out, size_t out_len);

static bool keccak_openssl_default(const uint8_t *data, size_t len, uint8_t *out, size_t out_len)
{
    return dstack_keccak_openssl(NULL, NULL, data, len, out, out_len);
}

static const struct {
    const char *name;
    keccak_fn fn;
} keccak_impls[] = {
    {"dstack_keccak", dstack_keccak},
    {"internal", dstack_keccak_internal},
    {"openssl", keccak_openssl_default},
};

static bool keccak_impl_available(size_t i)
{
    uint8_t out[32];
    return keccak_impls[i].fn((const uint8_t *)"", 0, out, 32);
}

static void test_keccak_backends(void)
{
    /* OpenSSL >= 3.2 must be used; older libraries fall back to the internal sponge. */
    CU_ASSERT_EQUAL(keccak_impl_available(2), OpenSSL_version_num() >= 0x30200000L);
    CU_ASSERT_TRUE(keccak_impl_available(0));
    CU_ASSERT_TRUE(keccak_impl_available(1));
}

static void test_keccak(void)
{
    uint8_t out[32], data[513];

    for (size_t i = 0; i < sizeof(keccak_impls) / sizeof(keccak_impls[0]); i++) {
        keccak_fn k = keccak_impls[i].fn;
        if (!keccak_impl_available(i))
            continue;
        CU_ASSERT_TRUE(k((const uint8_t *)"", 0, out, 32));
        CU_ASSERT_HEX_EQUAL(out, 32,
                            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
        CU_ASSERT_TRUE(k((const uint8_t *)"abc", 3, out, 32));
        CU_ASSERT_HEX_EQUAL(out, 32,
                            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
        /* Multi-block and rate-boundary inputs, cross-checked with pycryptodome's keccak. */
        for (int j = 0; j < 512; j++)
            data[j] = (uint8_t)j;
        data[512] = 'x';
        CU_ASSERT_TRUE(k(data, sizeof(data), out, 32));
        CU_ASSERT_HEX_EQUAL(out, 32,
                            "163e4e377fa10891760266a10f8d26de50d8c6244daac95532b021905ae5d745");
        memset(data, 'a', 136);
        CU_ASSERT_TRUE(k(data, 136, out, 32));
        CU_ASSERT_HEX_EQUAL(out, 32,
                            "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e");
        CU_ASSERT_TRUE(k(data, 135, out, 32));
        CU_ASSERT_HEX_EQUAL(out, 32,
                            "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446");
    }
    dstack_keccak256((const uint8_t *)"abc", 3, out);
    CU_ASSERT_HEX_EQUAL(out, 32,
                        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

/* The wider outputs TdxQuote's keccak384/keccak512 use (other rates, same sponge);
 * cross-checked with pycryptodome. Sizes other than 32/48/64 are refused. */
static void test_keccak_wide(void)
{
    uint8_t out[64], data[513];

    for (int j = 0; j < 512; j++)
        data[j] = (uint8_t)j;
    data[512] = 'x';
    for (size_t i = 0; i < sizeof(keccak_impls) / sizeof(keccak_impls[0]); i++) {
        keccak_fn k = keccak_impls[i].fn;
        if (!keccak_impl_available(i))
            continue;
        CU_ASSERT_TRUE(k((const uint8_t *)"", 0, out, 48));
        CU_ASSERT_HEX_EQUAL(out, 48,
                            "2c23146a63a29acf99e73b88f8c24eaa7dc60aa771780ccc006afbfa8fe2479b"
                            "2dd2b21362337441ac12b515911957ff");
        CU_ASSERT_TRUE(k(data, sizeof(data), out, 48));
        CU_ASSERT_HEX_EQUAL(out, 48,
                            "bc6f9980e7c9af43271f33cceacda3ff2f458df73631103cb5fb43eb3752a781"
                            "d4beae01270418bde33dea37fba11f49");
        CU_ASSERT_TRUE(k((const uint8_t *)"abc", 3, out, 64));
        CU_ASSERT_HEX_EQUAL(out, 64,
                            "18587dc2ea106b9a1563e32b3312421ca164c7f1f07bc922a9c83d77cea3a1e5"
                            "d0c69910739025372dc14ac9642629379540c17e2a65b19d77aa511a9d00bb96");
        CU_ASSERT_TRUE(k(data, sizeof(data), out, 64));
        CU_ASSERT_HEX_EQUAL(out, 64,
                            "28f5e1c34b79351d33c97851ece83106204d78769760308d7c42ca504bbdf008"
                            "50820e0309c11e67470051ead5441ec249ceec54fda47bc711953e28bc887a75");
        CU_ASSERT_FALSE(k(data, 10, out, 20));
        CU_ASSERT_FALSE(k(data, 10, out, 0));
    }
}

/* protocol.md §9 V1. */
static void test_hkdf_v1(void)
{
    uint8_t app_key[32], key[32], pub[33], ed[32];
    dstack_error err;

    from_hex("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b", app_key, 32);
    CU_ASSERT_EQUAL_FATAL(dstack_derive_key(app_key, (const uint8_t *)"vms", 3, key, &err),
                          DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(key, 32,
                        "9db79b3fefe69f2a7b7efbc908c854bf845a629023361f2c9cb3db09fb99010f");
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(key, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33,
                        "03ab7f25d56455d300a1c1f77f57f6d16193e89cdd9edc5c5e2994b446b1f3373d");
    CU_ASSERT_EQUAL(dstack_ed25519_pubkey(key, ed, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(ed, 32, "e4f6eb7b50267f586ba765766db7ca9487f1a506f6a49026ae09a1c605681bdb");
    /* empty info is legal HKDF input (GetTlsKey) and differs from "vms" */
    CU_ASSERT_EQUAL(dstack_derive_key(app_key, NULL, 0, key, &err), DSTACK_OK);
    CU_ASSERT_NOT_EQUAL(key[0] ^ 0x9d, 0);
}

/* The development identity: KMS root, app id, app key, GetKey('/test/path') for both
 * algorithms, and a chain[1] equal to the one docs/dstack-sim.md publishes. */
static void test_dev_identity_keys(void)
{
    identity id;
    uint8_t pub[33], key[32], ed[32], want[32];
    const char *path = test_env("DSTACK_DEV_PATH");
    dstack_error err;

    dev_identity(&id);
    CU_ASSERT_HEX_EQUAL(id.app_id, 20, test_env("DSTACK_DEV_APP_ID"));
    CU_ASSERT_HEX_EQUAL(id.root, 33, test_env("DSTACK_DEV_KMS_ROOT"));
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(id.app_key, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33, test_env("DSTACK_DEV_APP_PUB"));
    CU_ASSERT_HEX_EQUAL(id.kms_sig, 65, DEV_K256_SIGNATURE);
    CU_ASSERT_EQUAL_FATAL(
        dstack_derive_key(id.app_key, (const uint8_t *)path, strlen(path), key, &err), DSTACK_OK);
    test_env_hex("DSTACK_DEV_SECRET", want, 32);
    CU_ASSERT_EQUAL(memcmp(key, want, 32), 0);
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(key, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33, test_env("DSTACK_DEV_K256_PUB"));
    CU_ASSERT_EQUAL(dstack_ed25519_pubkey(key, ed, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(ed, 32, test_env("DSTACK_DEV_ED25519_PUB"));
}

/* protocol.md §9 V2: the official simulator's app key, GetKey('/test/path'), Sign key. */
static void test_simulator_keys_v2(void)
{
    identity id;
    uint8_t key[32], pub[33], ed[32], digest[32], sig[65], rec[33];
    const char *msg =
        "test-purpose:02c1082e78670feed1c847db81dbd71be37e4d53200a746c0a89f0afa8173cf566";
    dstack_error err;

    upstream_identity(&id);
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(id.app_key, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33,
                        "02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
    CU_ASSERT_EQUAL(dstack_derive_key(id.app_key, (const uint8_t *)"/test/path", 10, key, &err),
                    DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(key, 32,
                        "b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7");
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(key, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33,
                        "02c1082e78670feed1c847db81dbd71be37e4d53200a746c0a89f0afa8173cf566");
    /* chain[0] = app key's RFC 6979 signature over Keccak256(purpose ":" hex(pub)) */
    dstack_keccak256((const uint8_t *)msg, strlen(msg), digest);
    CU_ASSERT_EQUAL(dstack_secp256k1_sign_recoverable(id.app_key, digest, sig, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(sig, 65,
                        "f50c51735a97072f0c98125ed61fc84e2fdb36e95990b9e57337dadc0e2a9712227f04e0"
                        "7209faecb8891d59ec144a6c13e411dc90b3423f28071bd3fe11978d01");
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(rec, 33,
                        "02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
    CU_ASSERT_EQUAL(dstack_ed25519_pubkey(key, ed, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(ed, 32, "2149e71e37ed8568f5a240e6966b5d6f6017428069ddf06ed4c04151de4b2304");

    CU_ASSERT_EQUAL(dstack_derive_key(id.app_key, (const uint8_t *)"vms", 3, key, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(key, 32,
                        "1091a4d6721f6a719ca57320e4975f7e237649131111ee1c5032f661dc1cfef2");
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(key, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33,
                        "036105f01d1fd781568f7c208b087b1c4f522601410ed7e9c7870d573de7c46d54");
    CU_ASSERT_EQUAL(dstack_ed25519_pubkey(key, ed, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(ed, 32, "698f56bd587d8ce3ca8db0e1c361ba9d190089f98dc4d9df800ff92ed073a65d");
}

/* protocol.md §9 V4: key = 1, SHA-256("Satoshi Nakamoto"). */
static void test_rfc6979_v4(void)
{
    uint8_t one[32] = {0}, digest[32], sig[65], rec[33], pub[33];
    dstack_error err;

    one[31] = 1;
    from_hex("a0dc65ffca799873cbea0ac274015b9526505daaaed385155425f7337704883e", digest, 32);
    CU_ASSERT_EQUAL(dstack_secp256k1_sign_recoverable(one, digest, sig, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(sig, 65,
                        "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
                        "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e501");
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(one, pub, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(rec, pub, 33), 0);
    /* Ethereum-style v = 27/28 recovers the same key */
    sig[64] += 27;
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(rec, pub, 33), 0);
    /* invalid recovery ids, zero r */
    sig[64] = 4;
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_ERR_CRYPTO);
    sig[64] = 200;
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_ERR_CRYPTO);
    memset(sig, 0, 65);
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_ERR_CRYPTO);
    memset(sig, 0xff, 64); /* r, s ≥ n */
    sig[64] = 0;
    CU_ASSERT_EQUAL(dstack_secp256k1_recover(sig, digest, rec, &err), DSTACK_ERR_CRYPTO);
}

static void test_secp256k1_range(void)
{
    uint8_t zero[32] = {0}, big[32], pub[33], sig[65], digest[32] = {1};
    dstack_error err;

    memset(big, 0xff, sizeof(big));
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(zero, pub, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(big, pub, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "out of range"));
    CU_ASSERT_EQUAL(dstack_secp256k1_sign_recoverable(zero, digest, sig, &err), DSTACK_ERR_CRYPTO);
}

static void test_eth_address(void)
{
    uint8_t one[32] = {0}, pub[33], addr[20], bad[33] = {0x05};
    char text[43];
    dstack_error err;

    one[31] = 1;
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(one, pub, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_eth_address(pub, addr, &err), DSTACK_OK);
    dstack_eth_address_text(addr, text);
    CU_ASSERT_STRING_EQUAL(text, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    CU_ASSERT_EQUAL(dstack_eth_address(bad, addr, &err), DSTACK_ERR_CRYPTO);
}

/* ---- signature chains (protocol.md §3.4) ------------------------------------------------- */

typedef struct chain_fixture {
    uint8_t key[32], chain0[65], chain1[65], app_id[20], root[33];
} chain_fixture;

/* GetKey('/test/path', 'test-purpose', algorithm) under `id`, signed as the agent signs it. */
static void chain_setup(chain_fixture *f, const identity *id, const char *algorithm)
{
    uint8_t digest[32], pub[33];
    char msg[128];
    dstack_error err;

    memcpy(f->chain1, id->kms_sig, 65);
    CU_ASSERT_EQUAL_FATAL(
        dstack_derive_key(id->app_key, (const uint8_t *)"/test/path", 10, f->key, &err), DSTACK_OK);
    if (strcmp(algorithm, "ed25519") == 0) {
        CU_ASSERT_EQUAL_FATAL(dstack_ed25519_pubkey(f->key, pub, &err), DSTACK_OK);
        strcpy(msg, "test-purpose:");
        dstack_hex_encode(pub, 32, msg + strlen(msg));
    } else {
        CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_pubkey(f->key, pub, &err), DSTACK_OK);
        strcpy(msg, "test-purpose:");
        dstack_hex_encode(pub, 33, msg + strlen(msg));
    }
    dstack_keccak256((const uint8_t *)msg, strlen(msg), digest);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_sign_recoverable(id->app_key, digest, f->chain0, &err),
                          DSTACK_OK);
    memcpy(f->app_id, id->app_id, 20);
    memcpy(f->root, id->root, 33);
}

static dstack_status verify(chain_fixture *f, const char *alg, const uint8_t *c0, size_t l0,
                            const uint8_t *c1, size_t l1, const uint8_t *root,
                            dstack_chain_result *res, dstack_error *err)
{
    const uint8_t *chain[2] = {c0, c1};
    size_t lens[2] = {l0, l1};

    return dstack_verify_signature_chain(alg, f->key, "test-purpose", chain, lens, 2, f->app_id, 20,
                                         root, res, err);
}

/* chain0_hex: the expected chain[0] where a published vector exists (NULL otherwise). */
static void check_chain_secp256k1(const identity *id, const char *chain0_hex, const char *app_pub,
                                  const char *root_hex)
{
    chain_fixture f;
    dstack_chain_result res;
    dstack_error err;

    chain_setup(&f, id, "secp256k1");
    if (chain0_hex != NULL)
        CU_ASSERT_HEX_EQUAL(f.chain0, 65, chain0_hex);
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", f.chain0, 65, f.chain1, 65, f.root, &res, &err),
                    DSTACK_OK);
    CU_ASSERT(res.has_kms);
    CU_ASSERT_HEX_EQUAL(res.app_pub, 33, app_pub);
    CU_ASSERT_HEX_EQUAL(res.kms_pub, 33, root_hex);
    /* "k256" and "" are aliases */
    CU_ASSERT_EQUAL(verify(&f, "k256", f.chain0, 65, f.chain1, 65, f.root, &res, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(verify(&f, "", f.chain0, 65, f.chain1, 65, f.root, &res, &err), DSTACK_OK);
    /* no expected root: empty chain[1] is fine and reported */
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", f.chain0, 65, NULL, 0, NULL, &res, &err), DSTACK_OK);
    CU_ASSERT_FALSE(res.has_kms);
}

static void check_chain_ed25519(const identity *id, const char *chain0_hex)
{
    chain_fixture f;
    dstack_chain_result res;
    dstack_error err;

    chain_setup(&f, id, "ed25519");
    if (chain0_hex != NULL)
        CU_ASSERT_HEX_EQUAL(f.chain0, 65, chain0_hex);
    CU_ASSERT_EQUAL(verify(&f, "ed25519", f.chain0, 65, f.chain1, 65, f.root, &res, &err),
                    DSTACK_OK);
    /* the same chain does not verify when the key is read as secp256k1 */
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", f.chain0, 65, f.chain1, 65, f.root, &res, &err),
                    DSTACK_ERR_CRYPTO);
}

static void test_chain_secp256k1(void)
{
    identity id;

    dev_identity(&id);
    check_chain_secp256k1(&id, NULL, test_env("DSTACK_DEV_APP_PUB"),
                          test_env("DSTACK_DEV_KMS_ROOT"));
}

static void test_chain_ed25519(void)
{
    identity id;

    dev_identity(&id);
    check_chain_ed25519(&id, NULL);
}

/* protocol.md §9 V2: the chain[0] vectors and the official appkeys.json's chain[1]. */
static void test_chain_secp256k1_v2(void)
{
    identity id;

    upstream_identity(&id);
    check_chain_secp256k1(&id,
                          "f50c51735a97072f0c98125ed61fc84e2fdb36e95990b9e57337dadc0e2a9712227f04e0"
                          "7209faecb8891d59ec144a6c13e411dc90b3423f28071bd3fe11978d01",
                          "02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c",
                          "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6");
}

static void test_chain_ed25519_v2(void)
{
    identity id;

    upstream_identity(&id);
    check_chain_ed25519(&id, "effb33c8bb9beab8058a165af210047acb15a67bb6482819b44655f8b22a150a45e5"
                             "0fdce916374f2f4bd380c83eac6ca8b6a765a4fb7c3f03ab9932342ce53200");
}

static void test_chain_negative(void)
{
    identity id;
    chain_fixture f;
    dstack_chain_result res;
    dstack_error err;
    uint8_t wrong_root[33], tampered[65];

    dev_identity(&id);
    chain_setup(&f, &id, "secp256k1");
    memcpy(wrong_root, f.root, 33);
    wrong_root[32] ^= 1;
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", f.chain0, 65, f.chain1, 65, wrong_root, &res, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, test_env("DSTACK_DEV_KMS_ROOT")));
    /* tampered chain[0]: recovers to another app key, so chain[1] no longer leads to root */
    memcpy(tampered, f.chain0, 65);
    tampered[10] ^= 0x40;
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", tampered, 65, f.chain1, 65, f.root, &res, &err),
                    DSTACK_ERR_CRYPTO);
    /* tampered chain[1] */
    memcpy(tampered, f.chain1, 65);
    tampered[40] ^= 0x01;
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", f.chain0, 65, tampered, 65, f.root, &res, &err),
                    DSTACK_ERR_CRYPTO);
    /* empty chain[1] while a root is expected */
    CU_ASSERT_EQUAL(verify(&f, "secp256k1", f.chain0, 65, NULL, 0, f.root, &res, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "chain[1] empty"));
    /* wrong purpose */
    {
        const uint8_t *chain[2] = {f.chain0, f.chain1};
        size_t lens[2] = {65, 65};
        CU_ASSERT_EQUAL(dstack_verify_signature_chain("secp256k1", f.key, "other", chain, lens, 2,
                                                      f.app_id, 20, f.root, &res, &err),
                        DSTACK_ERR_CRYPTO);
        /* empty chain, short chain[0], unknown algorithm, chain[1] without app id */
        CU_ASSERT_EQUAL(dstack_verify_signature_chain("secp256k1", f.key, "test-purpose", chain,
                                                      lens, 0, NULL, 0, NULL, &res, &err),
                        DSTACK_ERR_CRYPTO);
        lens[0] = 64;
        CU_ASSERT_EQUAL(dstack_verify_signature_chain("secp256k1", f.key, "test-purpose", chain,
                                                      lens, 2, f.app_id, 20, NULL, &res, &err),
                        DSTACK_ERR_CRYPTO);
        lens[0] = 65;
        CU_ASSERT_EQUAL(dstack_verify_signature_chain("rsa", f.key, "test-purpose", chain, lens, 2,
                                                      f.app_id, 20, NULL, &res, &err),
                        DSTACK_ERR_USAGE);
        CU_ASSERT_EQUAL(dstack_verify_signature_chain("secp256k1", f.key, "test-purpose", chain,
                                                      lens, 2, NULL, 0, NULL, &res, &err),
                        DSTACK_ERR_USAGE);
    }
}

/* ---- OpenSSL keys from secrets ---------------------------------------------------------- */

static void test_pkey_p256_pkcs8(void)
{
    uint8_t secret[32], rd[64];
    EVP_PKEY *pkey = NULL;
    unsigned char *der = NULL, *spki = NULL;
    size_t der_len = 0, spki_len = 0;
    dstack_error err;

    from_hex("b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7", secret, 32);
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &pkey, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_pkcs8_der(pkey, &der, &der_len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(der_len, 138);
    CU_ASSERT_HEX_EQUAL(der, der_len,
                        "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420"
                        "b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7a1440342"
                        "00040aac9a859333d1a79e726018d9fdd0a41c42b252090380e300db1b3aa135184b629c"
                        "51179943040144e1858a7e9020785cc528807c6f592c7dce0b8dc980eb20");
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_spki_der(pkey, &spki, &spki_len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(spki_len, 91);
    OPENSSL_secure_clear_free(der, der_len);
    OPENSSL_free(spki);
    EVP_PKEY_free(pkey);
    (void)rd;
    /* the development identity's DeriveKey('/test/path') */
    test_env_hex("DSTACK_DEV_SECRET", secret, 32);
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &pkey, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_pkcs8_der(pkey, &der, &der_len, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(der, der_len, test_env("DSTACK_DEV_P256_PKCS8"));
    OPENSSL_secure_clear_free(der, der_len);
    EVP_PKEY_free(pkey);
}

static void test_pkey_range(void)
{
    /* P-256 order n and secp256k1 order n */
    static const char *p256_n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    static const char *k1_n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    uint8_t secret[32] = {0};
    EVP_PKEY *pkey = NULL;
    dstack_error err;

    CU_ASSERT_EQUAL(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &pkey, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(err.message, "derived scalar out of range for P-256");
    CU_ASSERT_PTR_NULL(pkey);
    from_hex(p256_n, secret, 32);
    CU_ASSERT_EQUAL(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &pkey, &err),
                    DSTACK_ERR_CRYPTO);
    secret[31]--; /* n - 1 is the largest valid scalar */
    CU_ASSERT_EQUAL(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &pkey, &err), DSTACK_OK);
    EVP_PKEY_free(pkey);
    pkey = NULL;
    from_hex(k1_n, secret, 32);
    CU_ASSERT_EQUAL(dstack_pkey_from_secret(DSTACK_ALG_SECP256K1, secret, &pkey, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(err.message, "derived scalar out of range for secp256k1");
    /* P-256 n is below secp256k1 n, so valid there */
    from_hex(p256_n, secret, 32);
    CU_ASSERT_EQUAL(dstack_pkey_from_secret(DSTACK_ALG_SECP256K1, secret, &pkey, &err), DSTACK_OK);
    EVP_PKEY_free(pkey);
}

static void test_pkey_secp256k1_ed25519(void)
{
    uint8_t secret[32], pub[33], raw[65], ed[32];
    size_t raw_len = 0;
    EVP_PKEY *pkey = NULL;
    unsigned char *der = NULL;
    size_t der_len = 0;
    dstack_error err;

    from_hex("b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7", secret, 32);
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(DSTACK_ALG_SECP256K1, secret, &pkey, &err),
                          DSTACK_OK);
    CU_ASSERT(EVP_PKEY_is_a(pkey, "EC"));
    CU_ASSERT_EQUAL(
        EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", raw, sizeof(raw), &raw_len), 1);
    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(secret, pub, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(raw + 1, pub + 1, 32), 0); /* same X as libsecp256k1 */
    CU_ASSERT_EQUAL(dstack_pkey_to_pkcs8_der(pkey, &der, &der_len, &err), DSTACK_OK);
    CU_ASSERT(der_len > 100);
    OPENSSL_secure_clear_free(der, der_len);
    EVP_PKEY_free(pkey);

    CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(DSTACK_ALG_ED25519, secret, &pkey, &err),
                          DSTACK_OK);
    raw_len = sizeof(raw);
    CU_ASSERT_EQUAL(EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len), 1);
    CU_ASSERT_EQUAL(dstack_ed25519_pubkey(secret, ed, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(raw_len, 32);
    CU_ASSERT_EQUAL(memcmp(raw, ed, 32), 0);
    CU_ASSERT_EQUAL(dstack_pkey_to_pkcs8_der(pkey, &der, &der_len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(der_len, 48); /* RFC 8410 PrivateKeyInfo */
    OPENSSL_secure_clear_free(der, der_len);
    EVP_PKEY_free(pkey);
    CU_ASSERT_EQUAL(dstack_pkey_from_secret((dstack_key_alg)42, secret, &pkey, &err),
                    DSTACK_ERR_USAGE);
}

/* The DER crypto/key_der.c writes from the table against OpenSSL's own encoders, byte for
 * byte, for every row of the algorithm table. */
static void test_key_der_matches_encoder(void)
{
    uint8_t secret[32];
    dstack_error err;

    CU_ASSERT(dstack_alg_count() >= 3);
    for (size_t a = 0; a < dstack_alg_count(); a++) {
        dstack_key_alg alg = dstack_alg_at(a)->id;
        for (int round = 0; round < 8; round++) {
            EVP_PKEY *pkey = NULL;
            unsigned char *der = NULL, *spki = NULL;
            size_t der_len = 0, spki_len = 0;
            dstack_key_der kd;

            /* Fixed bytes, plus the extremes: leading zero byte and a top bit set. */
            for (size_t i = 0; i < 32; i++)
                secret[i] = (uint8_t)(0x5a ^ (i * 37) ^ (round * 101));
            if (round == 1)
                secret[0] = 0x00;
            if (round == 2)
                secret[0] = 0xfe;
            CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(alg, secret, &pkey, &err), DSTACK_OK);
            CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_pkcs8_der(pkey, &der, &der_len, &err), DSTACK_OK);
            CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_spki_der(pkey, &spki, &spki_len, &err), DSTACK_OK);
            CU_ASSERT_EQUAL_FATAL(dstack_key_der_from_secret(alg, secret, &kd, &err), DSTACK_OK);
            CU_ASSERT_EQUAL(kd.pkcs8_len, der_len);
            CU_ASSERT(kd.pkcs8_len == der_len && memcmp(kd.pkcs8, der, der_len) == 0);
            CU_ASSERT_EQUAL(kd.spki_len, spki_len);
            CU_ASSERT(kd.spki_len == spki_len && memcmp(kd.spki, spki, spki_len) == 0);
            CU_ASSERT(CRYPTO_secure_allocated(kd.pkcs8) || !CRYPTO_secure_malloc_initialized());
            dstack_key_der_free(&kd);
            CU_ASSERT_PTR_NULL(kd.pkcs8);
            OPENSSL_secure_clear_free(der, der_len);
            OPENSSL_free(spki);
            EVP_PKEY_free(pkey);
        }
    }
}

static void test_key_der_range(void)
{
    static const char *p256_n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    static const char *k1_n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    uint8_t secret[32] = {0};
    dstack_key_der kd;
    dstack_error err;

    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_P256, secret, &kd, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(err.message, "derived scalar out of range for P-256");
    CU_ASSERT_PTR_NULL(kd.pkcs8);
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_SECP256K1, secret, &kd, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(err.message, "derived scalar out of range for secp256k1");
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_ED25519, secret, &kd, &err), DSTACK_OK);
    dstack_key_der_free(&kd);
    from_hex(p256_n, secret, 32);
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_P256, secret, &kd, &err),
                    DSTACK_ERR_CRYPTO);
    secret[0] = 0xff, secret[31] = 0xff; /* above n, differing only in the last byte */
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_P256, secret, &kd, &err),
                    DSTACK_ERR_CRYPTO);
    from_hex(p256_n, secret, 32);
    secret[31]--; /* n - 1 */
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_P256, secret, &kd, &err), DSTACK_OK);
    dstack_key_der_free(&kd);
    from_hex(k1_n, secret, 32);
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_SECP256K1, secret, &kd, &err),
                    DSTACK_ERR_CRYPTO);
    secret[31]--;
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_SECP256K1, secret, &kd, &err), DSTACK_OK);
    dstack_key_der_free(&kd);
    memset(secret, 0xff, sizeof(secret));
    CU_ASSERT_EQUAL(dstack_key_der_from_secret(DSTACK_ALG_SECP256K1, secret, &kd, &err),
                    DSTACK_ERR_CRYPTO);
    CU_ASSERT_EQUAL(dstack_key_der_from_secret((dstack_key_alg)42, secret, &kd, &err),
                    DSTACK_ERR_USAGE);
}

int main(void)
{
    static const test_case cases[] = {
        {"hex encode/decode", test_hex_codec},
        {"Keccak: OpenSSL's on 3.2+, else internal", test_keccak_backends},
        {"keccak256 vectors", test_keccak},
        {"keccak384/512 vectors", test_keccak_wide},
        {"HKDF + public keys (spec V1)", test_hkdf_v1},
        {"development identity keys (DSTACK_DEV_*)", test_dev_identity_keys},
        {"RFC 6979 (spec V4) and recovery", test_rfc6979_v4},
        {"secp256k1 scalar range", test_secp256k1_range},
        {"Ethereum address EIP-55", test_eth_address},
        {"signature chain secp256k1", test_chain_secp256k1},
        {"signature chain ed25519", test_chain_ed25519},
        {"signature chain negative", test_chain_negative},
        {"P-256 PKCS#8 byte-identical (spec V2, DSTACK_DEV_P256_PKCS8)", test_pkey_p256_pkcs8},
        {"scalar range checks", test_pkey_range},
        {"secp256k1 and Ed25519 EVP keys", test_pkey_secp256k1_ed25519},
        {"key DER from the secret = OpenSSL's encoders", test_key_der_matches_encoder},
        {"key DER from the secret: scalar range", test_key_der_range},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"appkeys.json keys (spec V2)", test_simulator_keys_v2},
        {"appkeys.json signature chain secp256k1 (spec V2)", test_chain_secp256k1_v2},
        {"appkeys.json signature chain ed25519 (spec V2)", test_chain_ed25519_v2},
        {NULL, NULL},
    };
    /* as an application may: libdstack's key copies then live in the secure heap */
    (void)CRYPTO_secure_malloc_init(64 * 1024, 32);
    return test_run_split_suite("keys", cases, upstream);
}
