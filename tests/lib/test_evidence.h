/* Attestation evidence the tests make themselves instead of reading upstream data: a dstack
 * VM's measured boot as an event log (protocol.md §5.2–§5.4), VersionedAttestation V0/V1
 * around a quote forged under a test PKI (tests/lib/quote_forge.h, protocol.md §4.4, §4.5),
 * stripped logs as current agents return them, CCEL tables (TCG2 crypto-agile, SHA-384), and
 * a small msgpack writer. Shared by the unit tests and tests/fuzz/gen_seeds.c; no CUnit. */
#ifndef DSTACK_TEST_EVIDENCE_H
#define DSTACK_TEST_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/attest.h>

#include "quote_forge.h"

/* What a test VM boots with: the payloads of its runtime events. */
typedef struct te_vm {
    uint8_t app_id[20];
    uint8_t compose_hash[32];
    uint8_t instance_id[20];
    uint8_t os_image_hash[32];
    char key_provider[160]; /* JSON text */
    char storage_fs[16];
} te_vm;

/* Boot events (RTMR0–2) of te_event_log, of which TE_NAMED_BOOT_EVENTS carry an event name
 * and keep their payload when stripped ("acpi-*", payload "ACPI DATA"), and the runtime
 * events of protocol.md §5.4 on RTMR3. */
#define TE_BOOT_EVENTS 20
#define TE_NAMED_BOOT_EVENTS 3
#define TE_RUNTIME_EVENTS 9

/* Deterministic, distinct per `seed`: app id, compose hash, instance id, OS image hash,
 * key-provider {"name":"kms","id":…}, storage-fs "ext4". */
void te_vm_init(te_vm *vm, uint8_t seed);

/* The full (unstripped) log of a boot: TE_BOOT_EVENTS events with digest = SHA-384(payload),
 * then system-preparing, app-id, compose-hash, instance-id, boot-mr-done, os-image-hash,
 * key-provider, storage-fs, system-ready with their v1 runtime digests. */
void te_event_log(const te_vm *vm, dstack_event_log *out);

/* Stripped like current agents (protocol.md §5.2, §10.1): boot events keep digests and lose
 * payloads unless named, runtime events keep payloads and lose digests. attestation_form:
 * only the named boot events and the runtime events, as in a stripped V0 attestation. */
void te_strip_log(const dstack_event_log *full, bool attestation_form, dstack_event_log *out);

/* The config of te_attestation: a sys-config whose vm_config names the VM's os_image_hash.
 * malloc'd. */
char *te_sys_config(const te_vm *vm);

/* A V0 attestation of `vm`: the full log, its runtime events, `report_data` (NULL: zero) and
 * a quote under `pki` over the replayed RTMRs and report_data followed by `pad` zero bytes.
 * dstack_attestation_free() it. */
void te_attestation(const qf_pki *pki, const te_vm *vm, const uint8_t report_data[64], size_t pad,
                    dstack_attestation *out);

/* A growing byte buffer. */
typedef struct te_buf {
    uint8_t *p;
    size_t len, cap;
} te_buf;

void te_put(te_buf *b, const void *p, size_t n);
void te_put_le(te_buf *b, uint64_t v, int n);
void te_buf_free(te_buf *b);

/* ---- msgpack (protocol.md §4.5) ---- */
void mp_uint(te_buf *w, uint64_t v);
void mp_str(te_buf *w, const char *s);
void mp_bin(te_buf *w, const uint8_t *p, size_t n);
void mp_array(te_buf *w, size_t n);
void mp_map(te_buf *w, size_t n);
/* Vec<u8> as serde writes it by default: an array of small integers. */
void mp_int_array(te_buf *w, const uint8_t *p, size_t n);
/* The V1 form of an attestation. bytes_as_bin: quote and report_data as bin instead of int
 * arrays; extra_keys: unknown keys (one nested, first) the decoder must skip; stack_kind
 * "dstack" or "dstack-pod". Key order: version, stack (before platform). */
void te_write_v1(te_buf *w, const dstack_attestation *a, bool bytes_as_bin, bool extra_keys,
                 const char *stack_kind);

/* ---- every 0.6 platform variant (protocol.md §4.4.1, §4.5.4) ---- */
/* SCALE primitives: compact integer, Vec<u8>, String. */
void te_scale_compact(te_buf *b, uint64_t v);
void te_scale_bytes(te_buf *b, const void *p, size_t n);
void te_scale_str(te_buf *b, const char *s);
/* The REPORT_DATA of the fake SEV-SNP reports below (at 0x50 of a 1184-byte report). */
extern const uint8_t te_snp_report_data[64];
/* A V0 attestation of `platform` (dstack_platform, or an unknown index) with its 0.6 payload:
 * tdx/gcp-tdx a 4-byte fake quote "TDXQ" with one runtime event, gcp-tdx a TPM quote (message
 * of 19 bytes, 2 PCR values, Platform byte `tpm_platform`), nitro-enclave a 22-byte document,
 * sev-snp a 1184-byte report with 3 certificates and an mr_config, aws-nitro-tpm a 21-byte
 * document; one runtime event "app-id", report_data 0x42…, config "{}". */
void te_write_v0_platform(te_buf *b, int platform, uint8_t tpm_platform);
/* The same in V1 msgpack, well formed (TE_MP_OK) or not; the runtime event with `rt_version`
 * (1 = no "version" key). */
enum { TE_MP_OK, TE_MP_NO_DATA, TE_MP_MISSING_FIELD, TE_MP_WRONG_TYPE, TE_MP_BAD_TPM_PLATFORM };
void te_write_v1_platform(te_buf *w, int platform, int variation, unsigned rt_version);
/* A V1 TDX attestation of an event-log-V2 boot (protocol.md §5.3.1): the event with
 * "version": `version` and its preimage as the agent writes it, broken, nil or absent. */
enum { TE_PRE_NONE, TE_PRE_OK, TE_PRE_NOT_HEX, TE_PRE_INTEGER, TE_PRE_NIL };
void te_write_v1_v2_events(te_buf *b, unsigned version, int preimage);

/* ---- CCEL (the ACPI table's TCG2 crypto-agile log) ---- */
/* Spec ID Event03 header declaring `algs` ((id, size) pairs, n of them). */
void te_ccel_header(te_buf *t, const uint16_t *algs, uint32_t n);
/* One TCG_PCR_EVENT2 with one digest of algorithm `alg`. */
void te_ccel_event(te_buf *t, uint32_t mr_index, uint32_t type, uint16_t alg, const uint8_t *digest,
                   size_t digest_len, const uint8_t *data, size_t data_len);
/* A firmware's table for the boot events of `log` (RTMR0–2 → MR index 1–3, SHA-384), then
 * 0xFF fill up to `size` bytes (none if size is smaller). Returns the length of header +
 * events. */
size_t te_ccel_table(const dstack_event_log *log, size_t size, te_buf *t);

#endif
