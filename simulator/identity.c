/* dstack-sim — the app identity: app key, KMS signature, CA (protocol.md §3.1, §3.4, §4.6).
 *
 * Two sources:
 *  - `--appkeys F`: the official appkeys.json format. GetKey/DeriveKey/Sign then equal what
 *    the official simulator returns for the same file (protocol.md §9 V2). Its Info always reports
 *    the app id of its attestation fixture, so that is our default app id too (the fixture's
 *    k256_signature was issued for it); `--app-id` overrides.
 *  - the built-in development identity: everything derived with HKDF (protocol.md §3.1) from a
 * fixed, published seed string, mimicking the KMS construction of protocol.md §3.2, with a genuine
 *    signature by a published "development KMS root" key. INSECURE by design: anyone can
 *    recompute every secret from docs/dstack-sim.md.
 */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <dstack/keys.h>
#include <dstack/uri.h>

#include "crypto/pkey_util.h"
#include "agent_side.h"

#define SIM_DEV_SEED "dstack-sim insecure development identity v1"
#define SIM_APPKEYS_MAX (1024 * 1024)
/* The app id reported by the v0.5.11 official simulator (from its attestation fixture);
 * the appkeys.json it ships carries a KMS signature for exactly this app id (protocol.md §9 V2). */
static const char official_sim_app_id[] = "5bb4ff9a3837357f19dc176407a5709c62eb6c56";
/* 1975-01-01T00:00:00Z (rcgen default notBefore) and 2049-12-31T23:59:59Z. */
#define SIM_CA_NOT_BEFORE 157766400
#define SIM_CA_NOT_AFTER 2524607999

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;

    if (f == NULL)
        return NULL;
    buf = malloc(max + 1);
    if (buf != NULL) {
        n = fread(buf, 1, max + 1, f);
        if (ferror(f) || n > max) {
            OPENSSL_cleanse(buf, n);
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = n;
        }
    }
    fclose(f);
    return buf;
}

static char *cert_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_X509(bio, cert) == 1) {
        n = BIO_get_mem_data(bio, &data);
        out = n > 0 ? strndup(data, (size_t)n) : NULL;
    }
    BIO_free(bio);
    return out;
}

static bool finish_identity(sim_identity *id, char *msg, size_t msg_len)
{
    dstack_error err;

    if (dstack_secp256k1_pubkey(id->app_key, id->app_pub, &err) != DSTACK_OK) {
        snprintf(msg, msg_len, "app key: %s", err.message);
        return false;
    }
    id->ca_pem = cert_pem(id->ca_cert);
    if (id->ca_pem == NULL) {
        snprintf(msg, msg_len, "cannot encode the CA certificate");
        return false;
    }
    return true;
}

static const char *json_str(json_object *obj, const char *name)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* key_provider: {"None":{"key":PEM}} | {"Local":{"key":PEM,…}} | {"Kms":{"tmp_ca_key":PEM,
 * "tmp_ca_cert":PEM,…}} (protocol.md §3.1). Returns the CA key PEM and, for Kms, its cert PEM. */
static bool provider_ca(json_object *root, const char **key_pem, const char **cert_pem_out)
{
    json_object *kp = NULL, *inner = NULL;

    *key_pem = NULL;
    *cert_pem_out = NULL;
    if (!json_object_object_get_ex(root, "key_provider", &kp) ||
        !json_object_is_type(kp, json_type_object))
        return false;
    if (json_object_object_get_ex(kp, "None", &inner) ||
        json_object_object_get_ex(kp, "Local", &inner)) {
        *key_pem = json_str(inner, "key");
    } else if (json_object_object_get_ex(kp, "Kms", &inner)) {
        *key_pem = json_str(inner, "tmp_ca_key");
        *cert_pem_out = json_str(inner, "tmp_ca_cert");
    }
    return *key_pem != NULL;
}

bool sim_identity_load(sim_identity *id, const char *path, const uint8_t *app_id, char *msg,
                       size_t msg_len)
{
    size_t len = 0, n = 0;
    char *text = read_file(path, SIM_APPKEYS_MAX, &len);
    json_object *root = NULL;
    const char *k256, *sig, *ca_pem, *key_pem, *kms_cert;
    BIO *bio = NULL;
    bool ok = false;

    memset(id, 0, sizeof(*id));
    if (text == NULL) {
        snprintf(msg, msg_len, "cannot read %s (missing, unreadable or over 1 MiB)", path);
        return false;
    }
    root = json_tokener_parse(text);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        snprintf(msg, msg_len, "%s: not a JSON object", path);
        goto done;
    }
    k256 = json_str(root, "k256_key");
    if (k256 == NULL || !dstack_hex_decode(k256, strlen(k256), id->app_key, 32, &n) || n != 32) {
        snprintf(msg, msg_len, "%s: k256_key must be 32 bytes of hex", path);
        goto done;
    }
    sig = json_str(root, "k256_signature");
    if (sig != NULL &&
        !(dstack_hex_decode(sig, strlen(sig), id->k256_signature, 65, &id->k256_signature_len) &&
          (id->k256_signature_len == 65 || id->k256_signature_len == 0))) {
        snprintf(msg, msg_len, "%s: k256_signature must be empty or 65 bytes of hex", path);
        goto done;
    }
    ca_pem = json_str(root, "ca_cert");
    if (!provider_ca(root, &key_pem, &kms_cert)) {
        snprintf(msg, msg_len,
                 "%s: key_provider has no CA key (None.key, Local.key or "
                 "Kms.tmp_ca_key)",
                 path);
        goto done;
    }
    if (kms_cert != NULL)
        ca_pem = kms_cert;
    if (ca_pem == NULL || (bio = BIO_new_mem_buf(ca_pem, -1)) == NULL ||
        (id->ca_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
        snprintf(msg, msg_len, "%s: ca_cert is not a PEM certificate", path);
        goto done;
    }
    BIO_free(bio);
    if ((bio = BIO_new_mem_buf(key_pem, -1)) == NULL ||
        (id->ca_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
        !EVP_PKEY_is_a(id->ca_key, "EC") || X509_check_private_key(id->ca_cert, id->ca_key) != 1) {
        snprintf(msg, msg_len, "%s: the CA key is not a P-256 key matching ca_cert", path);
        goto done;
    }
    if (app_id != NULL)
        memcpy(id->app_id, app_id, 20);
    else
        dstack_hex_decode(official_sim_app_id, 40, id->app_id, 20, NULL);
    {
        /* instance_id = SHA-256(seed || app_id)[0..20] (protocol.md §5.5), seed fixed here. */
        uint8_t buf[sizeof("dstack-sim instance") - 1 + 20], digest[32];

        memcpy(buf, "dstack-sim instance", sizeof("dstack-sim instance") - 1);
        memcpy(buf + sizeof("dstack-sim instance") - 1, id->app_id, 20);
        SHA256(buf, sizeof(buf), digest);
        memcpy(id->instance_id, digest, 20);
    }
    ok = finish_identity(id, msg, msg_len);
done:
    BIO_free(bio);
    json_object_put(root);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!ok)
        sim_identity_free(id);
    return ok;
}

static bool derive(const uint8_t ikm[32], const void *info, size_t info_len, uint8_t out[32])
{
    return dstack_derive_key(ikm, info, info_len, out, NULL) == DSTACK_OK;
}

/* derive(ikm, app_id || label) as the KMS does for app keys (protocol.md §3.2). */
static bool derive_for_app(const uint8_t ikm[32], const uint8_t app_id[20], const char *label,
                           uint8_t out[32])
{
    uint8_t info[20 + 16];
    size_t n = strlen(label);

    if (n > 16)
        return false;
    memcpy(info, app_id, 20);
    memcpy(info + 20, label, n);
    return derive(ikm, info, 20 + n, out);
}

bool sim_identity_builtin(sim_identity *id, char *msg, size_t msg_len)
{
    uint8_t ikm[32], kms_root[32], tmp[32], ca_scalar[32], digest[32];
    uint8_t preimage[sizeof("dstack-kms-issued:") - 1 + 20 + 33];
    dstack_cert_spec spec;
    dstack_error err;
    bool ok = false;

    memset(id, 0, sizeof(*id));
    memset(&spec, 0, sizeof(spec));
    id->builtin = true;
    SHA256((const uint8_t *)SIM_DEV_SEED, strlen(SIM_DEV_SEED), ikm);
    if (!derive(ikm, "dev-kms-root-k256", 17, kms_root) || !derive(ikm, "dev-app-id", 10, tmp))
        goto derive_err;
    memcpy(id->app_id, tmp, 20);
    if (!derive(ikm, "dev-instance-id", 15, tmp))
        goto derive_err;
    memcpy(id->instance_id, tmp, 20);
    if (!derive_for_app(kms_root, id->app_id, "app-key", id->app_key) ||
        !derive_for_app(kms_root, id->app_id, "app-ca", ca_scalar))
        goto derive_err;
    if (dstack_secp256k1_pubkey(kms_root, id->kms_root_pub, &err) != DSTACK_OK ||
        dstack_secp256k1_pubkey(id->app_key, id->app_pub, &err) != DSTACK_OK)
        goto crypto_err;
    /* chain[1]: KMS root signature over Keccak256("dstack-kms-issued:" || app_id || app_pub) */
    memcpy(preimage, "dstack-kms-issued:", 18);
    memcpy(preimage + 18, id->app_id, 20);
    memcpy(preimage + 38, id->app_pub, 33);
    dstack_keccak256(preimage, sizeof(preimage), digest);
    if (dstack_secp256k1_sign_recoverable(kms_root, digest, id->k256_signature, &err) != DSTACK_OK)
        goto crypto_err;
    id->k256_signature_len = 65;
    if (dstack_pkey_from_secret(DSTACK_ALG_P256, ca_scalar, &id->ca_key, &err) != DSTACK_OK)
        goto crypto_err;
    spec.common_name = "dstack-sim INSECURE development CA";
    spec.organization = "dstack-sim";
    spec.is_ca = true;
    spec.ca_pathlen = 1;
    spec.not_before = SIM_CA_NOT_BEFORE;
    spec.not_after = SIM_CA_NOT_AFTER;
    spec.serial_from_key = true;
    if (dstack_cert_build(&spec, id->ca_key, NULL, NULL, &id->ca_cert, &err) != DSTACK_OK)
        goto crypto_err;
    ok = finish_identity(id, msg, msg_len);
    goto done;
derive_err:
    snprintf(msg, msg_len, "built-in identity: key derivation failed");
    goto done;
crypto_err:
    snprintf(msg, msg_len, "built-in identity: %s", err.message);
done:
    OPENSSL_cleanse(ikm, sizeof(ikm));
    OPENSSL_cleanse(kms_root, sizeof(kms_root));
    OPENSSL_cleanse(ca_scalar, sizeof(ca_scalar));
    OPENSSL_cleanse(tmp, sizeof(tmp));
    if (!ok)
        sim_identity_free(id);
    return ok;
}

static char *key_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1) {
        n = BIO_get_mem_data(bio, &data);
        out = n > 0 ? strndup(data, (size_t)n) : NULL;
    }
    BIO_free(bio);
    return out;
}

bool sim_identity_write_appkeys(const sim_identity *id, const char *path, char *msg, size_t msg_len)
{
    json_object *root = json_object_new_object(), *kp = json_object_new_object(),
                *none = json_object_new_object();
    char *pem = key_pem(id->ca_key), *k256 = sim_hex(id->app_key, 32),
         *sig = sim_hex(id->k256_signature, id->k256_signature_len);
    const char *text;
    FILE *f = NULL;
    bool ok = false;
    int fd;

    if (root == NULL || kp == NULL || none == NULL || pem == NULL || k256 == NULL || sig == NULL) {
        snprintf(msg, msg_len, "out of memory");
        goto done;
    }
    json_object_object_add(root, "disk_crypt_key", json_object_new_string(""));
    json_object_object_add(root, "env_crypt_key", json_object_new_string(""));
    json_object_object_add(root, "k256_key", json_object_new_string(k256));
    json_object_object_add(root, "k256_signature", json_object_new_string(sig));
    json_object_object_add(root, "gateway_app_id", json_object_new_string(""));
    json_object_object_add(root, "ca_cert", json_object_new_string(id->ca_pem));
    json_object_object_add(none, "key", json_object_new_string(pem));
    json_object_object_add(kp, "None", none);
    none = NULL;
    json_object_object_add(root, "key_provider", kp);
    kp = NULL;
    text = json_object_to_json_string_ext(root,
                                          JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        snprintf(msg, msg_len, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    if (fputs(text, f) < 0 || fputc('\n', f) < 0) {
        snprintf(msg, msg_len, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    ok = true;
done:
    if (f != NULL && fclose(f) != 0 && ok) {
        snprintf(msg, msg_len, "cannot write %s: %s", path, strerror(errno));
        ok = false;
    }
    json_object_put(none);
    json_object_put(kp);
    json_object_put(root);
    if (pem != NULL)
        OPENSSL_cleanse(pem, strlen(pem));
    if (k256 != NULL)
        OPENSSL_cleanse(k256, strlen(k256));
    free(pem);
    free(k256);
    free(sig);
    return ok;
}

void sim_identity_free(sim_identity *id)
{
    OPENSSL_cleanse(id->app_key, sizeof(id->app_key));
    EVP_PKEY_free(id->ca_key);
    X509_free(id->ca_cert);
    free(id->ca_pem);
    id->ca_key = NULL;
    id->ca_cert = NULL;
    id->ca_pem = NULL;
}
