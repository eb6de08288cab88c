/* dstack-keytool show URI — what key a dstack: URI names (architecture.md §8): algorithm, public
 * key, SPKI SHA-256 (and the curl pin), Ethereum address for secp256k1, signature-chain status. */
#include "keytool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dstack/keys.h>

static void show_help(void)
{
    puts("Usage: dstack-keytool [global options] show URI [--json]\n"
         "\n"
         "Derives the key a dstack: URI names and prints its algorithm, public key, SPKI\n"
         "SHA-256 (with the `sha256//…` pin curl's --pinnedpubkey takes), the Ethereum address\n"
         "of a secp256k1 key, and whether its signature chain was verified (only with\n"
         "--kms-root-pubkey). No certificate is requested and nothing is written.\n"
         "\n"
         "Example: dstack-keytool show 'dstack:wallet/eth?alg=secp256k1' --json");
}

/* The public key as text: compressed SEC1 point for EC keys (the form dstack signature chains
 * use), the raw 32 bytes for Ed25519. */
static bool public_key_bytes(EVP_PKEY *pk, uint8_t *out, size_t cap, size_t *len, char *group,
                             size_t group_cap)
{
    uint8_t point[133];
    size_t plen = 0, coord;

    group[0] = '\0';
    if (EVP_PKEY_is_a(pk, "ED25519")) {
        snprintf(group, group_cap, "ed25519");
        *len = cap;
        return EVP_PKEY_get_raw_public_key(pk, out, len) == 1;
    }
    if (!EVP_PKEY_is_a(pk, "EC") ||
        !EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, group_cap, NULL) ||
        !EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                         sizeof(point), &plen))
        return false;
    if (plen > 0 && (point[0] == 2 || point[0] == 3)) {
        if (plen > cap)
            return false;
        memcpy(out, point, plen);
        *len = plen;
        return true;
    }
    if (plen < 3 || point[0] != 4 || (plen - 1) % 2 != 0)
        return false;
    coord = (plen - 1) / 2;
    if (coord + 1 > cap)
        return false;
    out[0] = (uint8_t)(2 + (point[plen - 1] & 1)); /* parity of Y */
    memcpy(out + 1, point + 1, coord);
    *len = coord + 1;
    return true;
}

static int show_run(kt_options *opts, int argc, char **argv)
{
    uint8_t kms_root[33];
    bool has_kms_root;
    dstack_resolver *resolver = NULL;
    dstack_resolved *res = NULL;
    dstack_error err;
    EVP_PKEY *pk = NULL;
    const unsigned char *p;
    char **pos = NULL;
    int npos = 0, rc;
    uint8_t pub[133];
    size_t pub_len = 0;
    char group[64], spki_hex[65], pin[53], eth_text[43] = "";
    char *pub_hex = NULL, *kms_hex = NULL;
    bool have_eth = false;

    dstack_error_clear(&err);
    rc = kt_parse(opts, argc, argv, NULL, NULL, NULL, show_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (npos != 1) {
        rc = kt_usage_error("show: expected exactly one dstack: URI (see show --help)");
        goto done;
    }
    if (kt_resolver_new(opts, &resolver, &err) != DSTACK_OK ||
        dstack_resolve(resolver, pos[0], DSTACK_WANT_KEY, &res, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    p = res->spki_der;
    pk = d2i_PUBKEY(NULL, &p, (long)res->spki_der_len);
    if (pk == NULL || !public_key_bytes(pk, pub, sizeof(pub), &pub_len, group, sizeof(group))) {
        dstack_error_set(&err, DSTACK_ERR_CRYPTO, NULL, NULL,
                         "%s: cannot decode the derived public key", pos[0]);
        rc = kt_fail(&err);
        goto done;
    }
    kt_spki_digest(res->spki_der, res->spki_der_len, spki_hex, pin);
    if (res->alg == DSTACK_ALG_SECP256K1 && pub_len == 33) {
        uint8_t addr[20];

        if (dstack_eth_address(pub, addr, &err) != DSTACK_OK) {
            rc = kt_fail(&err);
            goto done;
        }
        dstack_eth_address_text(addr, eth_text);
        have_eth = true;
    }
    pub_hex = kt_hex(pub, pub_len);
    has_kms_root = kt_kms_root(opts, kms_root);
    kms_hex = has_kms_root ? kt_hex(kms_root, sizeof(kms_root)) : NULL;
    if (pub_hex == NULL || (has_kms_root && kms_hex == NULL)) {
        rc = kt_usage_error("out of memory");
        goto done;
    }

    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "uri", json_object_new_string(pos[0]));
        json_object_object_add(o, "algorithm",
                               json_object_new_string(dstack_key_alg_name(res->alg)));
        json_object_object_add(o, "key_type", json_object_new_string(res->key_type));
        json_object_object_add(o, "group", json_object_new_string(group));
        json_object_object_add(o, "public_key", json_object_new_string(pub_hex));
        json_object_object_add(o, "spki_sha256", json_object_new_string(spki_hex));
        json_object_object_add(o, "pin", json_object_new_string(pin));
        json_object_object_add(o, "eth_address",
                               have_eth ? json_object_new_string(eth_text) : NULL);
        json_object_object_add(o, "chain_verified", json_object_new_boolean(res->chain_verified));
        json_object_object_add(o, "kms_root_pubkey",
                               kms_hex != NULL ? json_object_new_string(kms_hex) : NULL);
        json_object_object_add(o, "endpoint",
                               json_object_new_string(dstack_resolver_endpoint(resolver)));
        kt_print_json(o);
    } else {
        printf("uri:             %s\n", pos[0]);
        printf("algorithm:       %s (%s %s)\n", dstack_key_alg_name(res->alg), res->key_type,
               group);
        printf("public key:      %s\n", pub_hex);
        printf("spki sha256:     %s\n", spki_hex);
        printf("pin:             %s\n", pin);
        if (have_eth)
            printf("eth address:     %s\n", eth_text);
        if (res->chain_verified)
            printf("signature chain: verified, leads to KMS root %s\n", kms_hex);
        else if (has_kms_root)
            printf("signature chain: none for this key (ephemeral keys have no chain)\n");
        else
            printf("signature chain: not checked (give --kms-root-pubkey to verify)\n");
        printf("agent:           %s\n", dstack_resolver_endpoint(resolver));
    }
    rc = KT_EXIT_OK;
done:
    free(pub_hex);
    free(kms_hex);
    EVP_PKEY_free(pk);
    dstack_resolved_free(res);
    dstack_resolver_free(resolver);
    free(pos);
    return rc;
}

const kt_command kt_cmd_show = {"show", "algorithm, public key, pin and address of a dstack: URI",
                                show_run};
