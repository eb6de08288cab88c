/* dstack-sim — GetQuote, Attest, EmitEvent, Tappd.TdxQuote/RawQuote and
 * Worker.GetAttestationForAppKey (protocol.md §2.1–§2.3).
 */
#include "sim.h"
#include "agent_side.h"
#include "crypto/keccak_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <dstack/keys.h>

static json_object *text_string(char *text) /* takes ownership */
{
    json_object *s = text ? json_object_new_string(text) : NULL;

    free(text);
    return s;
}

/* GetQuoteResponse {quote, event_log, report_data, vm_config} (protocol.md §2.1). A 0.6 agent
 * on TDX omits the attestation field, which only platforms without a TDX quote fill
 * (protocol.md §2.6.2). */
static bool quote_reply(sim_ctx *ctx, const uint8_t report_data[64], sim_reply *reply)
{
    sim_evidence ev;
    json_object *obj;

    if (!sim_evidence_make(ctx, report_data, &ev))
        return false;
    obj = json_object_new_object();
    if (obj != NULL) {
        json_object_object_add(obj, "quote", sim_json_hex(ev.quote, ev.quote_len));
        json_object_object_add(obj, "event_log",
                               text_string(sim_event_log_json(ctx, &ev.log, ctx->strip_event_log)));
        json_object_object_add(obj, "report_data", sim_json_hex(report_data, 64));
        if (ctx->profile->quote_vm_config) /* 0.5.4+ */
            json_object_object_add(obj, "vm_config", json_object_new_string(ctx->vm_config));
    }
    sim_evidence_free(&ev);
    return sim_reply_json(reply, obj);
}

/* RawQuoteArgs for GetQuote/Attest: ≤ 64 bytes, right-padded with zeros (protocol.md §2.1). */
static bool padded_report_data(sim_args *args, sim_reply *reply, uint8_t out[64], bool *ok)
{
    uint8_t *data = NULL;
    size_t len = 0;

    *ok = true;
    if (!sim_arg_bytes(args, "report_data", &data, &len)) {
        sim_reply_arg_error(reply, args);
        return false;
    }
    if (len > 64) {
        free(data);
        sim_reply_error(reply, "Report data is too long");
        return false;
    }
    memset(out, 0, 64);
    if (len > 0)
        memcpy(out, data, len);
    free(data);
    return true;
}

bool sim_rpc_get_quote(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    uint8_t rd[64];
    bool ok;

    (void)svc;
    if (!padded_report_data(args, reply, rd, &ok))
        return ok;
    return quote_reply(ctx, rd, reply);
}

bool sim_rpc_attest(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    uint8_t rd[64], *att = NULL;
    size_t att_len = 0;
    sim_evidence ev;
    json_object *obj;
    bool ok;

    (void)svc;
    if (!padded_report_data(args, reply, rd, &ok))
        return ok;
    if (!sim_evidence_make(ctx, rd, &ev))
        return false;
    /* Real agent: the full event log, V0 SCALE, or V1 msgpack on an event-log-V2 boot
     * (protocol.md §2.1, §4.5.4). */
    ok = sim_attestation_encode(ctx, &ev, rd, false, &att, &att_len);
    sim_evidence_free(&ev);
    if (!ok)
        return false;
    obj = json_object_new_object();
    if (obj != NULL)
        json_object_object_add(obj, "attestation", sim_json_hex(att, att_len));
    free(att);
    return sim_reply_json(reply, obj);
}

bool sim_rpc_emit_event(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    const char *event;
    uint8_t *payload = NULL;
    size_t len = 0;
    bool ok;

    (void)svc;
    if (!sim_arg_string(args, "event", &event) || !sim_arg_bytes(args, "payload", &payload, &len))
        return sim_reply_arg_error(reply, args);
    /* The real agent appends and extends RTMR3 (no name validation); the official 0.5.9+
     * simulator refuses with 400 instead — we follow the agent (protocol.md §2.1). */
    ok = sim_attest_emit(ctx, event, payload, len) && sim_reply_raw(reply, "null");
    free(payload);
    return ok;
}

/* TdxQuote report_data: H(tag ":" data) zero-padded to 64, or raw (protocol.md §2.2). */
static bool content_hash(const char *alg, const char *tag, const uint8_t *data, size_t len,
                         uint8_t out[64])
{
    static const struct {
        const char *name;
        const char *evp; /* NULL = Keccak */
        size_t keccak_len;
    } algs[] = {
        {"sha256", "SHA256", 0},     {"sha384", "SHA384", 0},     {"sha512", "SHA512", 0},
        {"sha3-256", "SHA3-256", 0}, {"sha3-384", "SHA3-384", 0}, {"sha3-512", "SHA3-512", 0},
        {"keccak256", NULL, 32},     {"keccak384", NULL, 48},     {"keccak512", NULL, 64},
    };
    size_t tag_len = strlen(tag), i;
    uint8_t *msg;
    bool ok = false;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(algs[i].name, alg) == 0)
            break;
    }
    if (i == sizeof(algs) / sizeof(algs[0]))
        return false;
    msg = malloc(tag_len + 1 + len);
    if (msg == NULL)
        return false;
    memcpy(msg, tag, tag_len);
    msg[tag_len] = ':';
    if (len > 0)
        memcpy(msg + tag_len + 1, data, len);
    memset(out, 0, 64);
    if (algs[i].evp != NULL) {
        EVP_MD *md = EVP_MD_fetch(NULL, algs[i].evp, NULL);

        ok = md != NULL && EVP_Digest(msg, tag_len + 1 + len, out, NULL, md, NULL) == 1;
        EVP_MD_free(md);
    } else {
        ok = dstack_keccak(msg, tag_len + 1 + len, out, algs[i].keccak_len);
    }
    free(msg);
    return ok;
}

static bool tdx_quote_reply(sim_ctx *ctx, const uint8_t rd[64], const char *alg, const char *prefix,
                            sim_reply *reply)
{
    sim_evidence ev;
    json_object *obj;

    if (!sim_evidence_make(ctx, rd, &ev))
        return false;
    obj = json_object_new_object();
    if (obj != NULL) {
        json_object_object_add(obj, "quote", sim_json_hex(ev.quote, ev.quote_len));
        json_object_object_add(obj, "event_log",
                               text_string(sim_event_log_json(ctx, &ev.log, ctx->strip_event_log)));
        json_object_object_add(obj, "hash_algorithm", json_object_new_string(alg));
        json_object_object_add(obj, "prefix", json_object_new_string(prefix));
    }
    sim_evidence_free(&ev);
    return sim_reply_json(reply, obj);
}

bool sim_rpc_tdx_quote(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    const char *alg, *prefix;
    uint8_t *data = NULL, rd[64];
    size_t len = 0;
    bool ok;

    (void)svc;
    if (!sim_arg_string(args, "hash_algorithm", &alg) || !sim_arg_string(args, "prefix", &prefix) ||
        !sim_arg_bytes(args, "report_data", &data, &len))
        return sim_reply_arg_error(reply, args);
    if (alg[0] == '\0')
        alg = "sha512";
    if (strcmp(alg, "raw") == 0) {
        if (len != 64) {
            ok = sim_reply_error(reply, "invalid content length");
        } else {
            memcpy(rd, data, 64);
            ok = tdx_quote_reply(ctx, rd, "raw", "", reply);
        }
    } else if (!content_hash(alg, prefix[0] ? prefix : "app-data", data, len, rd)) {
        ok = sim_reply_error(reply, "invalid hash algorithm");
    } else {
        /* v0.5.11 echoes "app-data" even for a custom prefix (protocol.md §2.2, §10 item 5);
         * 0.6 the prefix it used */
        const char *echo = ctx->profile->tdx_prefix_echo && prefix[0] ? prefix : "app-data";
        ok = tdx_quote_reply(ctx, rd, alg, echo, reply);
    }
    free(data);
    return ok;
}

bool sim_rpc_raw_quote(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    uint8_t *data = NULL, rd[64];
    size_t len = 0;
    bool ok;

    (void)svc;
    if (!sim_arg_bytes(args, "report_data", &data, &len))
        return sim_reply_arg_error(reply, args);
    if (len != 64) {
        ok = sim_reply_error(reply, "invalid content length");
    } else {
        memcpy(rd, data, 64);
        ok = tdx_quote_reply(ctx, rd, "raw", "", reply);
    }
    free(data);
    return ok;
}

/* base64url without padding. */
static size_t b64url(const uint8_t *in, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;

    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        out[o++] = tbl[in[i] >> 2];
        out[o++] = tbl[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

        out[o++] = tbl[v >> 10];
        out[o++] = tbl[(v >> 4) & 63];
        out[o++] = tbl[(v & 15) << 2];
    }
    return o;
}

bool sim_rpc_attestation_for_app_key(sim_ctx *ctx, sim_service svc, sim_args *args,
                                     sim_reply *reply)
{
    const char *alg, *label;
    uint8_t key[32], pub[33], rd[64];
    size_t pub_len, off;
    sim_key_kind kind;
    bool ok;

    (void)svc;
    if (!sim_arg_string(args, "algorithm", &alg))
        return sim_reply_arg_error(reply, args);
    /* "" and secp256k1_prehashed are rejected in 0.5.7+ (protocol.md §2.3, §10 item 6) */
    if (strcmp(alg, "ed25519") == 0) {
        kind = SIM_KEY_ED25519;
        label = "dip1::ed25519-pk:";
    } else if (strcmp(alg, "secp256k1") == 0 || strcmp(alg, "k256") == 0) {
        kind = SIM_KEY_SECP256K1;
        label = "dip1::secp256k1c-pk:";
    } else {
        return sim_reply_error(reply, "Unsupported algorithm");
    }
    ok = dstack_derive_key(ctx->id.app_key, (const uint8_t *)"vms", 3, key, NULL) == DSTACK_OK &&
         sim_key_pub(kind, key, pub, &pub_len);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok)
        return false;
    memset(rd, 0, sizeof(rd));
    off = strlen(label);
    memcpy(rd, label, off);
    {
        char enc[48];
        size_t n = b64url(pub, pub_len, enc); /* 43 or 44 chars: fits in 64 - len(label) */

        memcpy(rd + off, enc, n);
    }
    return quote_reply(ctx, rd, reply);
}
