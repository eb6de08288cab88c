/* libdstack — key derivation helpers, Keccak-256, signature chains (protocol.md §3). */
#ifndef DSTACK_KEYS_H
#define DSTACK_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

/* How the agent's derived bytes are used. */
typedef enum dstack_key_alg {
    DSTACK_ALG_P256 = 0,
    DSTACK_ALG_SECP256K1,
    DSTACK_ALG_ED25519
} dstack_key_alg;

/* Everything the project knows about one algorithm, in one table (client/crypto/alg.c):
 * adding a curve is a row there plus tests and documentation. */
typedef struct dstack_alg_info {
    dstack_key_alg id;
    const char *name;             /* the URI's alg= word, e.g. "p256" */
    const char *display;          /* in messages: "P-256", "secp256k1", "Ed25519" */
    const char *const *aliases;   /* further accepted words, NULL-terminated */
    const char *agent_algorithm;  /* GetKey `algorithm` whose bytes this uses (protocol.md §3.2) */
    const char *openssl_type;     /* EVP_PKEY / DER data type: "EC", "ED25519" */
    const char *group;            /* EC group name, NULL for non-EC keys */
    const char *signature_digest; /* digest of certificate signatures, NULL for PureEdDSA */
    bool agent_certificates;      /* the agent (Tappd.DeriveKey) issues certificates for it */
    bool agent_ephemeral;         /* GetTlsKey issues keys of this kind (protocol.md §2.1) */
    bool legacy_tappd_key;        /* 0.3 agents derive it with Tappd.DeriveKey (protocol.md §8) */
    size_t secret_len;            /* bytes of agent key material it takes */
} dstack_alg_info;

/* The row of `alg` (NULL for an unknown value). */
const dstack_alg_info *dstack_alg_get(dstack_key_alg alg);
/* The row named `name` or with that alias, NULL if none. */
const dstack_alg_info *dstack_alg_find(const char *name);
size_t dstack_alg_count(void);
const dstack_alg_info *dstack_alg_at(size_t index);
/* Every accepted word for messages: "p256, secp256k1, k256 or ed25519". */
const char *dstack_alg_choices(void);
/* "p256", "secp256k1", "ed25519" ("unknown" for a value outside the table). */
const char *dstack_key_alg_name(dstack_key_alg alg);

/* Original Keccak-256 (Ethereum padding 0x01, not SHA3-256). */
void dstack_keccak256(const uint8_t *data, size_t len, uint8_t out[32]);

/* Public keys of a 32-byte secret. */
dstack_status dstack_secp256k1_pubkey(const uint8_t secret[32], uint8_t compressed[33],
                                      dstack_error *err);
dstack_status dstack_ed25519_pubkey(const uint8_t seed[32], uint8_t pub[32], dstack_error *err);

/* 20-byte Ethereum address = last 20 bytes of Keccak-256(uncompressed X||Y). */
dstack_status dstack_eth_address(const uint8_t compressed_pub[33], uint8_t addr[20],
                                 dstack_error *err);
/* EIP-55 checksummed "0x…" text (43 bytes incl. NUL). */
void dstack_eth_address_text(const uint8_t addr[20], char out[43]);

/* Recover the compressed secp256k1 key behind a 65-byte r||s||v (v ∈ {0,1,27,28}) signature
 * over a 32-byte digest. */
dstack_status dstack_secp256k1_recover(const uint8_t sig[65], const uint8_t digest[32],
                                       uint8_t compressed_pub[33], dstack_error *err);

/* Signature-chain verification (protocol.md §3.4).
 *   algorithm: "secp256k1"/"k256"/"" or "ed25519" — how `key` is used
 *   chain[0]:  app signature over Keccak256(purpose ":" hex(pub))
 *   chain[1]:  KMS signature over Keccak256("dstack-kms-issued:" app_id app_pub); may be empty
 * On success app_pub (33 B) and kms_pub (33 B) receive the recovered keys; *has_kms is false
 * when chain[1] is empty. If `expected_kms_root` is non-NULL the recovered KMS key must equal it
 * (an empty chain[1] is then a DSTACK_ERR_CRYPTO failure). `app_id` is needed for chain[1]. */
typedef struct dstack_chain_result {
    uint8_t app_pub[33];
    bool has_kms;
    uint8_t kms_pub[33];
} dstack_chain_result;

dstack_status dstack_verify_signature_chain(const char *algorithm, const uint8_t key[32],
                                            const char *purpose, const uint8_t *const chain[],
                                            const size_t chain_len[], size_t n_chain,
                                            const uint8_t *app_id, size_t app_id_len,
                                            const uint8_t *expected_kms_root,
                                            dstack_chain_result *out, dstack_error *err);

/* Lowercase hex helpers. decode accepts an optional (repeated) 0x prefix and either case;
 * returns false on odd length / bad characters / overflow of `cap`. */
void dstack_hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
bool dstack_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);
/* Value of one hex digit (either case), or -1. */
int dstack_hex_digit(char c);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
