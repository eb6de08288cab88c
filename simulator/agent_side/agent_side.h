/* What only the agent's side of the protocol does — derive app keys, sign as the app and the
 * KMS, encode attestations — for dstack-sim and for tests that act as an agent. A client never
 * needs these, so they are not in libdstack's public API (architecture.md §2). */
#ifndef DSTACK_AGENT_SIDE_H
#define DSTACK_AGENT_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include <dstack/attest.h>
#include <dstack/error.h>

/* HKDF-SHA256, salt "RATLS", info = path bytes, L = 32 (protocol.md §3.1). */
dstack_status dstack_derive_key(const uint8_t app_key[32], const uint8_t *info, size_t info_len,
                                uint8_t out[32], dstack_error *err);

/* Deterministic (RFC 6979), low-S, recoverable secp256k1 signature r||s||v with v ∈ {0,1}
 * (the signature chains of protocol.md §3.4). */
dstack_status dstack_secp256k1_sign_recoverable(const uint8_t secret[32], const uint8_t digest[32],
                                                uint8_t sig[65], dstack_error *err);

/* Encodes VersionedAttestation V0 SCALE of a TDX attestation (protocol.md §4.4; what the real
 * agent's Attest returns; V2 events cannot be represented). *out is released with
 * dstack_free(). */
dstack_status dstack_attestation_encode_v0(const dstack_attestation *att, uint8_t **out,
                                           size_t *out_len, dstack_error *err);

/* Encodes VersionedAttestation V1 msgpack of a TDX attestation (protocol.md §4.5, §4.5.4; what a
 * 0.6 agent writes once a boot has event-log V2 events), "version" and "preimage" of each event
 * included where set. *out is released with dstack_free(). */
dstack_status dstack_attestation_encode_v1(const dstack_attestation *att, uint8_t **out,
                                           size_t *out_len, dstack_error *err);

#endif
