/* The simulator's files: compose hash (protocol.md §5.5), sys-config (vm_config →
 * os_image_hash) and every field of an appkeys.json — for files the project makes (a compose
 * measured into an attestation made here, dstack-sim --write-appkeys) and, as
 * test_fixtures_upstream, for the official simulator's app-compose.json, sys-config.json and
 * appkeys.json. */
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "test_evidence.h"
#include "test_util.h"

/* The payload of the last runtime event `name` of attestation.bin. */
static const dstack_runtime_event *runtime_event(const dstack_attestation *att, const char *name)
{
    for (size_t i = att->runtime_events_len; i-- > 0;)
        if (strcmp(att->runtime_events[i].event, name) == 0)
            return &att->runtime_events[i];
    return NULL;
}

/* os_image_hash text of the VmConfig JSON held as a string in a sys-config's "vm_config";
 * "" when absent. Caller frees. */
static char *os_image_hash_of(const char *sys_config)
{
    json_object *sys = json_tokener_parse(sys_config), *vm = NULL, *v;
    char *hash;

    CU_ASSERT_PTR_NOT_NULL_FATAL(sys);
    CU_ASSERT_FATAL(json_object_object_get_ex(sys, "vm_config", &v));
    CU_ASSERT_FATAL(json_object_is_type(v, json_type_string));
    vm = json_tokener_parse(json_object_get_string(v));
    CU_ASSERT_PTR_NOT_NULL_FATAL(vm);
    hash =
        strdup(json_object_object_get_ex(vm, "os_image_hash", &v) ? json_object_get_string(v) : "");
    json_object_put(vm);
    json_object_put(sys);
    return hash;
}

static const char *field(json_object *obj, const char *name)
{
    json_object *v;

    CU_ASSERT_FATAL(json_object_object_get_ex(obj, name, &v));
    CU_ASSERT_FATAL(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* ---- files the project makes ----------------------------------------------------------- */

/* A compose made here, measured into an attestation: its hash is the compose-hash event's,
 * and one flipped bit anywhere changes it. */
/* The os_image_hash of the attestation's vm_config, checked to be the one its os-image-hash
 * runtime event measured (free() it). */
static char *measured_os_image_hash(const dstack_attestation *att)
{
    const dstack_runtime_event *ev = runtime_event(att, "os-image-hash");
    char hex[65], *hash;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL_FATAL(ev->payload_len, 32);
    dstack_hex_encode(ev->payload, 32, hex);
    hash = os_image_hash_of(att->config);
    CU_ASSERT_STRING_EQUAL(hash, hex);
    return hash;
}

/* appkeys.json's ca_cert: self-signed, named `common_name`, and key_provider.None.key is its
 * key. Returns the CA for further checks (X509_free it). */
static X509 *check_appkeys_ca(json_object *root, const char *common_name)
{
    json_object *kp, *none;
    char name[128];
    EVP_PKEY *ca_key;
    X509 *ca;
    BIO *bio;

    bio = BIO_new_mem_buf(field(root, "ca_cert"), -1);
    ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, name, sizeof(name));
    CU_ASSERT_STRING_EQUAL(name, common_name);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)), 0);
    CU_ASSERT_FATAL(json_object_object_get_ex(root, "key_provider", &kp));
    CU_ASSERT_FATAL(json_object_object_get_ex(kp, "None", &none));
    bio = BIO_new_mem_buf(field(none, "key"), -1);
    ca_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca_key);
    CU_ASSERT_EQUAL(X509_check_private_key(ca, ca_key), 1);
    CU_ASSERT_EQUAL(X509_verify(ca, ca_key), 1);
    EVP_PKEY_free(ca_key);
    return ca;
}

static void test_own_compose(void)
{
    static const char compose[] =
        "{\"manifest_version\":2,\"name\":\"fixtures-test\",\"runner\":\"docker-compose\","
        "\"docker_compose_file\":\"services:\\n  app:\\n    image: busybox\\n\"}";
    uint8_t *copy = (uint8_t *)strdup(compose);
    size_t len = strlen(compose);
    const dstack_runtime_event *ev;
    dstack_attestation att;
    qf_pki pki;
    te_vm vm;

    qf_pki_init(&pki, "Test Root A", 1, true);
    te_vm_init(&vm, 1);
    SHA256(copy, len, vm.compose_hash);
    te_attestation(&pki, &vm, NULL, 0, &att);
    ev = runtime_event(&att, "compose-hash");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL_FATAL(ev->payload_len, 32);
    CU_ASSERT(dstack_compose_hash_matches(copy, len, ev->payload));
    copy[len / 2] ^= 0x20;
    CU_ASSERT_FALSE(dstack_compose_hash_matches(copy, len, ev->payload));
    dstack_attestation_free(&att);
    qf_pki_free(&pki);
    free(copy);
}

/* The config of an attestation made here is its VM's sys-config: the os_image_hash of its
 * vm_config is the one the os-image-hash event measured; another VM's is not. */
static void test_own_sys_config(void)
{
    dstack_attestation att;
    qf_pki pki;
    te_vm vm, other;
    char *att_hash, *other_config, *other_hash;

    qf_pki_init(&pki, "Test Root A", 1, true);
    te_vm_init(&vm, 1);
    te_vm_init(&other, 2);
    te_attestation(&pki, &vm, NULL, 0, &att);
    att_hash = measured_os_image_hash(&att);
    other_config = te_sys_config(&other);
    other_hash = os_image_hash_of(other_config);
    CU_ASSERT_STRING_NOT_EQUAL(att_hash, other_hash);
    free(other_hash);
    free(other_config);
    free(att_hash);
    dstack_attestation_free(&att);
    qf_pki_free(&pki);
}

/* `dstack-sim --write-appkeys`: the development identity in the official file format
 * (docs/dstack-sim.md); every value checked against DSTACK_DEV_* and the published CA key. */
static void test_dev_appkeys_file(void)
{
    static const char ca_spki[] =
        "3059301306072a8648ce3d020106082a8648ce3d03010703420004d1a7bd936cac8d5ac268570c80f43e8bd648"
        "5812cdc299a0408031f9a4ada5046296b559bfa5969582b4f4f760492c4deb9627c8f9cba819d42b9b1fb2725"
        "3fb";
    uint8_t *text = test_dev_appkeys(NULL);
    json_object *root = json_tokener_parse((const char *)text);
    uint8_t buf[65], app_pub[33], digest[32], recovered[33];
    uint8_t msg[18 + 20 + 33] = "dstack-kms-issued:";
    unsigned char *spki = NULL;
    const char *s;
    size_t n;
    int spki_len;
    X509 *ca;
    dstack_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_STRING_EQUAL(field(root, "disk_crypt_key"), "");
    CU_ASSERT_STRING_EQUAL(field(root, "env_crypt_key"), "");
    CU_ASSERT_STRING_EQUAL(field(root, "gateway_app_id"), "");
    s = field(root, "k256_key");
    CU_ASSERT_FATAL(dstack_hex_decode(s, strlen(s), buf, 32, &n) && n == 32);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_pubkey(buf, app_pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(app_pub, 33, test_env("DSTACK_DEV_APP_PUB"));
    s = field(root, "k256_signature");
    CU_ASSERT_FATAL(dstack_hex_decode(s, strlen(s), buf, 65, &n) && n == 65);
    test_env_hex("DSTACK_DEV_APP_ID", msg + 18, 20);
    memcpy(msg + 38, app_pub, 33);
    dstack_keccak256(msg, sizeof(msg), digest);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_recover(buf, digest, recovered, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(recovered, 33, test_env("DSTACK_DEV_KMS_ROOT"));

    ca = check_appkeys_ca(root, "dstack-sim INSECURE development CA");
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca), &spki);
    CU_ASSERT_FATAL(spki_len > 0);
    CU_ASSERT_HEX_EQUAL(spki, (size_t)spki_len, ca_spki);
    OPENSSL_free(spki);
    X509_free(ca);
    json_object_put(root);
    free(text);
}

/* ---- the official simulator's files (upstream data) ------------------------------------- */

static void test_app_compose(void)
{
    size_t len, bin_len;
    uint8_t *compose = test_read_fixture("dstack/app-compose.json", &len);
    uint8_t *bin = test_read_fixture("dstack/attestation.bin", &bin_len), expected[32];
    const dstack_runtime_event *ev;
    dstack_attestation att;
    dstack_error err;
    char hex[65];

    CU_ASSERT_EQUAL(len, 1091);
    CU_ASSERT_FATAL(
        dstack_hex_decode("5981514cb2c1c16c4c8d9ef04c69bc0efcb75186238a84872e6f858f2d9a6b56", 64,
                          expected, 32, NULL));
    CU_ASSERT(dstack_compose_hash_matches(compose, len, expected));
    compose[len / 2] ^= 0x20; /* one flipped bit anywhere changes the hash */
    CU_ASSERT_FALSE(dstack_compose_hash_matches(compose, len, expected));
    compose[len / 2] ^= 0x20;

    /* protocol.md §5.5: the simulator's compose file is not what attestation.bin measured */
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(bin, bin_len, &att, &err), DSTACK_OK);
    ev = runtime_event(&att, "compose-hash");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL_FATAL(ev->payload_len, 32);
    dstack_hex_encode(ev->payload, 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, "c143116fef3940e7f776bfc0919c256232ae5338a6e948c96b711e0b2383483a");
    CU_ASSERT_FALSE(dstack_compose_hash_matches(compose, len, ev->payload));
    dstack_attestation_free(&att);
    free(bin);
    free(compose);
}

static void test_sys_config(void)
{
    size_t bin_len;
    uint8_t *text = test_read_fixture("dstack/sys-config.json", NULL);
    uint8_t *bin = test_read_fixture("dstack/attestation.bin", &bin_len);
    dstack_attestation att;
    dstack_error err;
    char *sys_hash, *att_hash;

    sys_hash = os_image_hash_of((const char *)text);
    CU_ASSERT_STRING_EQUAL(sys_hash,
                           "64f0d1545cd510a8dfed7ad609d105b5d41f0cb2afcfdda8867ede00c88add7a");

    /* attestation.bin's config (a sys-config) is another VM's: its os_image_hash is the one its
     * os-image-hash runtime event measured, and not sys-config's */
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(bin, bin_len, &att, &err), DSTACK_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(att.config);
    att_hash = measured_os_image_hash(&att);
    CU_ASSERT_STRING_NOT_EQUAL(att_hash, sys_hash);
    free(att_hash);
    free(sys_hash);
    dstack_attestation_free(&att);
    free(bin);
    free(text);
}

static void test_appkeys(void)
{
    uint8_t *text = test_read_fixture("dstack/appkeys.json", NULL);
    json_object *root = json_tokener_parse((const char *)text);
    uint8_t buf[65], app_pub[33], digest[32], recovered[33];
    uint8_t msg[17 + 1 + 20 + 33] = "dstack-kms-issued:";
    const char *s;
    size_t n;
    dstack_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT(dstack_hex_decode(field(root, "disk_crypt_key"), 64, buf, 32, &n) && n == 32);
    CU_ASSERT(dstack_hex_decode(field(root, "env_crypt_key"), 64, buf, 32, &n) && n == 32);
    CU_ASSERT_STRING_EQUAL(field(root, "gateway_app_id"), "any");

    /* k256_key → app public key (protocol.md §9 V2) → k256_signature recovers the KMS root */
    s = field(root, "k256_key");
    CU_ASSERT_FATAL(dstack_hex_decode(s, strlen(s), buf, 32, &n) && n == 32);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_pubkey(buf, app_pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(app_pub, 33,
                        "02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
    s = field(root, "k256_signature");
    CU_ASSERT_FATAL(dstack_hex_decode(s, strlen(s), buf, 65, &n) && n == 65);
    CU_ASSERT_FATAL(
        dstack_hex_decode("5bb4ff9a3837357f19dc176407a5709c62eb6c56", 40, msg + 18, 20, NULL));
    memcpy(msg + 38, app_pub, 33);
    dstack_keccak256(msg, sizeof(msg), digest);
    CU_ASSERT_EQUAL_FATAL(dstack_secp256k1_recover(buf, digest, recovered, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(recovered, 33,
                        "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6");

    /* ca_cert: the self-signed "Dstack KMS CA", whose key is key_provider.None.key */
    X509_free(check_appkeys_ca(root, "Dstack KMS CA"));
    json_object_put(root);
    free(text);
}

int main(void)
{
    static const test_case cases[] = {
        {"compose made here: its hash is the compose-hash event's", test_own_compose},
        {"sys-config made here: os_image_hash is the os-image-hash event's", test_own_sys_config},
        {"dstack-sim --write-appkeys every field", test_dev_appkeys_file},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"app-compose.json hash, not attestation.bin's", test_app_compose},
        {"sys-config.json vm_config os_image_hash", test_sys_config},
        {"appkeys.json every field", test_appkeys},
        {NULL, NULL},
    };
    return test_run_split_suite("fixtures", cases, upstream);
}
