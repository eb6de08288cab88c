/* VersionedAttestation V1: the msgpack encoding (rmp_serde::to_vec_named) of 0.5.9+
 * simulators and 0.6 agents (protocol.md §4.5, §4.5.4): every 0.6 platform kind, event-log V2
 * `version`/`preimage`. A small bounded reader: maps with string keys, unknown keys skipped,
 * nesting depth limited, byte arrays accepted as `bin` or as arrays of small integers (serde's
 * default for Vec<u8>). */
#include <dstack/attest.h>

#include <stdlib.h>
#include <string.h>

#include <dstack/keys.h>

#include "attest/attest_internal.h"

#define MAX_DEPTH 16

typedef struct mp {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    dstack_error *err;
} mp;

static dstack_status bad(mp *m, const char *what)
{
    return dstack_error_set(m->err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                            "V1 attestation malformed at offset %zu: %s", m->pos, what);
}

static bool take(mp *m, size_t n, const uint8_t **out)
{
    if (n > m->len - m->pos)
        return false;
    *out = m->buf + m->pos;
    m->pos += n;
    return true;
}

static bool be(mp *m, size_t n, uint64_t *out)
{
    const uint8_t *p;

    if (!take(m, n, &p))
        return false;
    *out = 0;
    for (size_t i = 0; i < n; i++)
        *out = *out << 8 | p[i];
    return true;
}

static bool peek(const mp *m, uint8_t *b)
{
    if (m->pos >= m->len)
        return false;
    *b = m->buf[m->pos];
    return true;
}

/* Non-negative integer of any width. */
static bool read_uint(mp *m, uint64_t *out)
{
    uint8_t b;

    if (!peek(m, &b))
        return false;
    if (b <= 0x7f) {
        m->pos++;
        *out = b;
        return true;
    }
    if (b >= 0xcc && b <= 0xcf) {
        m->pos++;
        return be(m, (size_t)1 << (b - 0xcc), out);
    }
    return false;
}

/* Header of a str (type 's'), bin ('b'), array ('a') or map ('m'); returns its length. */
static bool read_header(mp *m, char kind, uint64_t *n)
{
    uint8_t b;

    if (!peek(m, &b))
        return false;
    m->pos++;
    switch (kind) {
    case 's':
        if ((b & 0xe0) == 0xa0) {
            *n = b & 0x1f;
            return true;
        }
        return b >= 0xd9 && b <= 0xdb && be(m, (size_t)1 << (b - 0xd9), n);
    case 'b':
        return b >= 0xc4 && b <= 0xc6 && be(m, (size_t)1 << (b - 0xc4), n);
    case 'a':
        if ((b & 0xf0) == 0x90) {
            *n = b & 0x0f;
            return true;
        }
        return (b == 0xdc && be(m, 2, n)) || (b == 0xdd && be(m, 4, n));
    case 'm':
        if ((b & 0xf0) == 0x80) {
            *n = b & 0x0f;
            return true;
        }
        return (b == 0xde && be(m, 2, n)) || (b == 0xdf && be(m, 4, n));
    }
    return false;
}

static bool read_str(mp *m, const uint8_t **s, size_t *len)
{
    uint64_t n;

    if (!read_header(m, 's', &n) || n > m->len - m->pos)
        return false;
    *len = (size_t)n;
    return take(m, *len, s);
}

static bool key_is(const uint8_t *k, size_t k_len, const char *name)
{
    return k_len == strlen(name) && memcmp(k, name, k_len) == 0;
}

/* Skips one value of any type. */
static bool skip(mp *m, int depth)
{
    uint8_t b;
    uint64_t n = 0;
    const uint8_t *p;

    if (depth > MAX_DEPTH || !peek(m, &b))
        return false;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        m->pos++;
        return true;
    }
    if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb))
        return read_header(m, 's', &n) && n <= m->len - m->pos && take(m, (size_t)n, &p);
    if (b >= 0xc4 && b <= 0xc6)
        return read_header(m, 'b', &n) && n <= m->len - m->pos && take(m, (size_t)n, &p);
    if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd || (b & 0xf0) == 0x80 || b == 0xde ||
        b == 0xdf) {
        bool is_map = (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
        if (!read_header(m, is_map ? 'm' : 'a', &n))
            return false;
        if (n > m->len - m->pos) /* every element takes at least one byte */
            return false;
        for (uint64_t i = 0; i < (is_map ? 2 * n : n); i++)
            if (!skip(m, depth + 1))
                return false;
        return true;
    }
    m->pos++;
    switch (b) {
    case 0xca:
        return take(m, 4, &p);
    case 0xcb:
        return take(m, 8, &p);
    case 0xcc:
    case 0xd0:
        return take(m, 1, &p);
    case 0xcd:
    case 0xd1:
        return take(m, 2, &p);
    case 0xce:
    case 0xd2:
        return take(m, 4, &p);
    case 0xcf:
    case 0xd3:
        return take(m, 8, &p);
    case 0xd4:
        return take(m, 2, &p);
    case 0xd5:
        return take(m, 3, &p);
    case 0xd6:
        return take(m, 5, &p);
    case 0xd7:
        return take(m, 9, &p);
    case 0xd8:
        return take(m, 17, &p);
    case 0xc7:
    case 0xc8:
    case 0xc9: {
        size_t w = (size_t)1 << (b - 0xc7);
        return be(m, w, &n) && n < m->len - m->pos && take(m, (size_t)n + 1, &p);
    }
    }
    return false; /* 0xc1 is never used */
}

/* Vec<u8> as `bin` or as an array of integers 0..255; the result is malloc'd (NULL if empty). */
static dstack_status read_byte_vec(mp *m, uint8_t **out, size_t *out_len, const char *what)
{
    uint8_t b;
    uint64_t n;
    const uint8_t *p;

    *out = NULL;
    *out_len = 0;
    if (!peek(m, &b))
        return bad(m, what);
    if (b >= 0xc4 && b <= 0xc6) {
        if (!read_header(m, 'b', &n) || n > m->len - m->pos || !take(m, (size_t)n, &p))
            return bad(m, what);
    } else if (read_header(m, 'a', &n)) {
        if (n > m->len - m->pos)
            return bad(m, what);
        p = NULL;
    } else {
        return bad(m, what);
    }
    if (n == 0)
        return DSTACK_OK;
    *out = malloc((size_t)n);
    if (*out == NULL)
        return dstack_error_set(m->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    *out_len = (size_t)n;
    if (p != NULL) {
        memcpy(*out, p, (size_t)n);
        return DSTACK_OK;
    }
    for (size_t i = 0; i < (size_t)n; i++) {
        uint64_t v;
        if (!read_uint(m, &v) || v > 0xff) {
            free(*out);
            *out = NULL;
            *out_len = 0;
            return bad(m, what);
        }
        (*out)[i] = (uint8_t)v;
    }
    return DSTACK_OK;
}

static dstack_status read_cstring(mp *m, char **out, const char *what)
{
    const uint8_t *s;
    size_t len;

    if (!read_str(m, &s, &len) || (len > 0 && memchr(s, 0, len) != NULL))
        return bad(m, what);
    *out = strndup((const char *)s, len);
    if (*out == NULL)
        return dstack_error_set(m->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    return DSTACK_OK;
}

/* Iterates a map: calls `field` for each string key; unknown keys are skipped. */
typedef dstack_status (*field_fn)(mp *m, const uint8_t *key, size_t key_len, void *ctx, int depth);

static dstack_status read_map(mp *m, int depth, field_fn field, void *ctx, const char *what)
{
    uint64_t n;

    if (depth > MAX_DEPTH)
        return bad(m, "nesting too deep");
    if (!read_header(m, 'm', &n) || n > (m->len - m->pos) / 2)
        return bad(m, what);
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *key;
        size_t key_len;
        dstack_status rc;

        if (!read_str(m, &key, &key_len))
            return bad(m, "map key is not a string");
        rc = field(m, key, key_len, ctx, depth + 1);
        if (rc != DSTACK_OK)
            return rc;
    }
    return DSTACK_OK;
}

static dstack_status skip_value(mp *m, int depth)
{
    return skip(m, depth) ? DSTACK_OK : bad(m, "cannot skip value");
}

typedef struct tdx_event_ctx {
    uint32_t imr, event_type;
    uint8_t *digest, *payload;
    size_t digest_len, payload_len;
    char *event;
    unsigned seen;
    unsigned version;
    bool has_preimage;
    uint8_t *preimage;
    size_t preimage_len;
} tdx_event_ctx;

/* EventLogVersion: the integer 1 or 2 (protocol.md §5.3.1). */
static dstack_status read_event_version(mp *m, unsigned *out)
{
    uint64_t v;

    if (!read_uint(m, &v) || (v != DSTACK_EVENT_LOG_V1 && v != DSTACK_EVENT_LOG_V2))
        return bad(m, "unknown event log version");
    *out = (unsigned)v;
    return DSTACK_OK;
}

/* preimage: Option<String> of hex (nil = none). */
static dstack_status read_preimage(mp *m, tdx_event_ctx *e)
{
    const uint8_t *s;
    size_t len;
    uint8_t b;

    if (peek(m, &b) && b == 0xc0) {
        m->pos++;
        return DSTACK_OK;
    }
    if (!read_str(m, &s, &len) || len % 2 != 0)
        return bad(m, "preimage is not a hex string");
    free(e->preimage);
    e->preimage = malloc(len / 2 + 1);
    if (e->preimage == NULL)
        return dstack_error_set(m->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    if (!dstack_hex_decode((const char *)s, len, e->preimage, len / 2 + 1, &e->preimage_len))
        return bad(m, "preimage is not a hex string");
    e->has_preimage = true;
    return DSTACK_OK;
}

static dstack_status tdx_event_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    tdx_event_ctx *e = vctx;
    uint64_t v;

    if (key_is(k, kl, "imr") || key_is(k, kl, "event_type")) {
        bool is_imr = key_is(k, kl, "imr");
        if (!read_uint(m, &v) || v > UINT32_MAX)
            return bad(m, is_imr ? "event imr" : "event_type");
        *(is_imr ? &e->imr : &e->event_type) = (uint32_t)v;
        e->seen |= is_imr ? 1u : 2u;
        return DSTACK_OK;
    }
    if (key_is(k, kl, "digest")) {
        free(e->digest);
        return read_byte_vec(m, &e->digest, &e->digest_len, "event digest");
    }
    if (key_is(k, kl, "event_payload")) {
        free(e->payload);
        return read_byte_vec(m, &e->payload, &e->payload_len, "event_payload");
    }
    if (key_is(k, kl, "event")) {
        free(e->event);
        e->event = NULL;
        return read_cstring(m, &e->event, "event name");
    }
    if (key_is(k, kl, "version"))
        return read_event_version(m, &e->version);
    if (key_is(k, kl, "preimage"))
        return read_preimage(m, e);
    return skip_value(m, depth);
}

static dstack_status read_tdx_events(mp *m, dstack_attestation *att, int depth)
{
    uint64_t n;
    dstack_status rc = DSTACK_OK;

    if (!read_header(m, 'a', &n) || n > m->len - m->pos)
        return bad(m, "event_log is not an array");
    for (uint64_t i = 0; i < n && rc == DSTACK_OK; i++) {
        tdx_event_ctx e = {.version = DSTACK_EVENT_LOG_V1};

        rc = read_map(m, depth, tdx_event_field, &e, "TDX event is not a map");
        if (rc == DSTACK_OK && e.seen != 3)
            rc = bad(m, "TDX event lacks imr or event_type");
        if (rc == DSTACK_OK) {
            dstack_event ev = {.imr = e.imr,
                               .event_type = e.event_type,
                               .digest = e.digest,
                               .digest_len = e.digest_len,
                               .event = e.event,
                               .payload = e.payload,
                               .payload_len = e.payload_len,
                               .version = e.version,
                               .has_preimage = e.has_preimage,
                               .preimage = e.preimage,
                               .preimage_len = e.preimage_len};
            rc = dstack_event_log_append_event(&att->tdx_event_log, &ev, m->err);
        }
        free(e.digest);
        free(e.payload);
        free(e.event);
        free(e.preimage);
    }
    return rc;
}

/* Reads an array whose items `item` decodes; *count gets their number. */
typedef dstack_status (*item_fn)(mp *m, void *ctx, int depth);

static dstack_status read_array(mp *m, int depth, item_fn item, void *ctx, size_t *count,
                                const char *what)
{
    uint64_t n;
    dstack_status rc = DSTACK_OK;

    if (depth > MAX_DEPTH)
        return bad(m, "nesting too deep");
    if (!read_header(m, 'a', &n) || n > m->len - m->pos)
        return bad(m, what);
    for (uint64_t i = 0; i < n && rc == DSTACK_OK; i++)
        rc = item(m, ctx, depth + 1);
    if (count != NULL)
        *count = (size_t)n;
    return rc;
}

/* A byte vector that is checked and dropped. */
static dstack_status skip_byte_vec(mp *m, const char *what)
{
    uint8_t *p = NULL;
    size_t len = 0;
    dstack_status rc = read_byte_vec(m, &p, &len, what);

    free(p);
    return rc;
}

/* Which fields a platform's data map had; each kind lists the ones it requires. */
enum {
    F_QUOTE = 1u << 0,
    F_EVENT_LOG = 1u << 1,
    F_TPM_QUOTE = 1u << 2,
    F_DOCUMENT = 1u << 3,
    F_CERT_CHAIN = 1u << 4,
    F_MR_CONFIG = 1u << 5,
};

typedef struct platform_ctx {
    dstack_attestation *att;
    unsigned seen;
    unsigned tpm_seen;
} platform_ctx;

static dstack_status pcr_value_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    uint64_t v;
    char *alg = NULL;
    dstack_status rc;

    (void)vctx;
    if (key_is(k, kl, "index"))
        return read_uint(m, &v) && v <= UINT32_MAX ? DSTACK_OK : bad(m, "PCR index");
    if (key_is(k, kl, "algorithm")) {
        rc = read_cstring(m, &alg, "PCR algorithm");
        free(alg);
        return rc;
    }
    if (key_is(k, kl, "value"))
        return skip_byte_vec(m, "PCR value");
    return skip_value(m, depth);
}

static dstack_status pcr_value_item(mp *m, void *ctx, int depth)
{
    return read_map(m, depth, pcr_value_field, ctx, "PCR value is not a map");
}

static dstack_status tpm_event_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    uint64_t v;

    (void)vctx;
    if (key_is(k, kl, "pcr_index"))
        return read_uint(m, &v) && v <= UINT32_MAX ? DSTACK_OK : bad(m, "TPM event pcr_index");
    if (key_is(k, kl, "digest"))
        return skip_byte_vec(m, "TPM event digest");
    return skip_value(m, depth);
}

static dstack_status tpm_event_item(mp *m, void *ctx, int depth)
{
    return read_map(m, depth, tpm_event_field, ctx, "TPM event is not a map");
}

/* TpmQuote {message, signature, pcr_values, ak_cert, platform, event_log}: the message is
 * kept (platform_document), the rest checked for shape (protocol.md §4.5.4). */
static dstack_status tpm_quote_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    platform_ctx *c = vctx;
    dstack_attestation *att = c->att;
    const uint8_t *s;
    size_t len;

    if (key_is(k, kl, "message")) {
        free(att->platform_document);
        c->tpm_seen |= F_DOCUMENT;
        return read_byte_vec(m, &att->platform_document, &att->platform_document_len,
                             "TPM quote message");
    }
    if (key_is(k, kl, "signature") || key_is(k, kl, "ak_cert"))
        return skip_byte_vec(m, "TPM quote signature or AK certificate");
    if (key_is(k, kl, "pcr_values"))
        return read_array(m, depth, pcr_value_item, NULL, &att->platform_item_count,
                          "pcr_values is not an array");
    if (key_is(k, kl, "event_log"))
        return read_array(m, depth, tpm_event_item, NULL, NULL, "TPM event_log is not an array");
    if (key_is(k, kl, "platform")) {
        if (!read_str(m, &s, &len) ||
            !(key_is(s, len, "dstack") || key_is(s, len, "gcp") || key_is(s, len, "nitroenclave") ||
              key_is(s, len, "aws-ec2")))
            return bad(m, "unknown TPM platform");
        return DSTACK_OK;
    }
    return skip_value(m, depth);
}

static dstack_status cert_item(mp *m, void *ctx, int depth)
{
    (void)ctx;
    (void)depth;
    return skip_byte_vec(m, "SEV-SNP certificate");
}

/* The data of every platform kind (protocol.md §4.5.4); the kind decides which fields it
 * needs. */
static dstack_status platform_data_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    platform_ctx *c = vctx;
    dstack_attestation *att = c->att;
    int kind = att->platform;
    dstack_status rc;

    if (dstack_attestation_is_tdx(att) && key_is(k, kl, "quote")) {
        free(att->quote);
        c->seen |= F_QUOTE;
        return read_byte_vec(m, &att->quote, &att->quote_len, "quote");
    }
    if (dstack_attestation_is_tdx(att) && key_is(k, kl, "event_log")) {
        dstack_event_log_free(&att->tdx_event_log);
        c->seen |= F_EVENT_LOG;
        return read_tdx_events(m, att, depth);
    }
    if (kind == DSTACK_PLATFORM_GCP_TDX && key_is(k, kl, "tpm_quote")) {
        c->seen |= F_TPM_QUOTE;
        c->tpm_seen = 0;
        rc = read_map(m, depth, tpm_quote_field, c, "tpm_quote is not a map");
        if (rc == DSTACK_OK && !(c->tpm_seen & F_DOCUMENT))
            rc = bad(m, "tpm_quote has no message");
        return rc;
    }
    if ((kind == DSTACK_PLATFORM_NITRO_ENCLAVE && key_is(k, kl, "nsm_quote")) ||
        (kind == DSTACK_PLATFORM_AWS_NITRO_TPM && key_is(k, kl, "attestation_doc")) ||
        (kind == DSTACK_PLATFORM_AMD_SEV_SNP && key_is(k, kl, "report"))) {
        free(att->platform_document);
        c->seen |= F_DOCUMENT;
        return read_byte_vec(m, &att->platform_document, &att->platform_document_len,
                             "platform document");
    }
    if (kind == DSTACK_PLATFORM_AMD_SEV_SNP && key_is(k, kl, "cert_chain")) {
        c->seen |= F_CERT_CHAIN;
        return read_array(m, depth, cert_item, NULL, &att->platform_item_count,
                          "cert_chain is not an array");
    }
    if (kind == DSTACK_PLATFORM_AMD_SEV_SNP && key_is(k, kl, "mr_config")) {
        free(att->sev_snp_mr_config);
        att->sev_snp_mr_config = NULL;
        c->seen |= F_MR_CONFIG;
        return read_cstring(m, &att->sev_snp_mr_config, "mr_config");
    }
    return skip_value(m, depth);
}

static const struct {
    const char *kind;
    dstack_platform platform;
    unsigned required;  /* fields of its data map */
    bool data_optional; /* 0.5.11 wrote these kinds without data (protocol.md §4.5.4) */
} platform_kinds[] = {
    {"tdx", DSTACK_PLATFORM_TDX, 0, false},
    {"gcp-tdx", DSTACK_PLATFORM_GCP_TDX, F_QUOTE | F_EVENT_LOG | F_TPM_QUOTE, true},
    {"nitro-enclave", DSTACK_PLATFORM_NITRO_ENCLAVE, F_DOCUMENT, true},
    {"aws-nitro-tpm", DSTACK_PLATFORM_AWS_NITRO_TPM, F_DOCUMENT, false},
    {"sev-snp", DSTACK_PLATFORM_AMD_SEV_SNP, F_DOCUMENT | F_CERT_CHAIN | F_MR_CONFIG, false},
};

typedef struct kind_ctx {
    dstack_attestation *att;
    const uint8_t *kind;
    size_t kind_len;
    size_t data_pos; /* offset of "data" value, 0 = absent */
} kind_ctx;

/* {"kind": str, "data": …}: remember where data starts; it is decoded once kind is known. */
static dstack_status kind_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    kind_ctx *c = vctx;

    if (key_is(k, kl, "kind"))
        return read_str(m, &c->kind, &c->kind_len) ? DSTACK_OK : bad(m, "kind is not a string");
    if (key_is(k, kl, "data"))
        c->data_pos = m->pos;
    return skip_value(m, depth);
}

typedef struct runtime_event_ctx {
    char *event;
    uint8_t *payload;
    size_t payload_len;
    unsigned version;
} runtime_event_ctx;

static dstack_status runtime_event_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    runtime_event_ctx *e = vctx;

    if (key_is(k, kl, "event")) {
        free(e->event);
        e->event = NULL;
        return read_cstring(m, &e->event, "runtime event name");
    }
    if (key_is(k, kl, "payload")) {
        free(e->payload);
        return read_byte_vec(m, &e->payload, &e->payload_len, "runtime event payload");
    }
    if (key_is(k, kl, "version"))
        return read_event_version(m, &e->version);
    return skip_value(m, depth);
}

static dstack_status stack_data_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    dstack_attestation *att = vctx;
    dstack_status rc = DSTACK_OK;
    uint64_t n;

    if (key_is(k, kl, "report_data")) {
        uint8_t *rd;
        size_t rd_len;
        if ((rc = read_byte_vec(m, &rd, &rd_len, "report_data")) != DSTACK_OK)
            return rc;
        if (rd_len != 64)
            rc = bad(m, "report_data is not 64 bytes");
        else
            memcpy(att->report_data, rd, 64);
        free(rd);
        return rc;
    }
    if (key_is(k, kl, "config")) {
        free(att->config);
        att->config = NULL;
        return read_cstring(m, &att->config, "config");
    }
    if (!key_is(k, kl, "runtime_events"))
        return skip_value(m, depth);
    if (!read_header(m, 'a', &n) || n > m->len - m->pos)
        return bad(m, "runtime_events is not an array");
    for (uint64_t i = 0; i < n && rc == DSTACK_OK; i++) {
        runtime_event_ctx e = {.version = DSTACK_EVENT_LOG_V1};
        rc = read_map(m, depth, runtime_event_field, &e, "runtime event is not a map");
        if (rc == DSTACK_OK)
            rc = dstack_attestation_add_runtime_event(att, e.event ? e.event : "",
                                                      e.event ? strlen(e.event) : 0, e.payload,
                                                      e.payload_len, e.version, m->err);
        free(e.event);
        free(e.payload);
    }
    return rc;
}

typedef struct top_ctx {
    dstack_attestation *att;
    bool has_version, has_platform, has_stack;
} top_ctx;

static dstack_status decode_kind_data(mp *m, kind_ctx *c, int depth, bool is_platform)
{
    size_t resume;
    dstack_status rc;

    if ((rc = read_map(m, depth, kind_field, c, "expected a {kind, data} map")) != DSTACK_OK)
        return rc;
    resume = m->pos; /* data was skipped once; it is decoded below and we continue here */
    if (c->kind == NULL)
        return bad(m, is_platform ? "platform has no kind" : "stack has no kind");
    if (is_platform) {
        size_t i, n = sizeof(platform_kinds) / sizeof(platform_kinds[0]);
        platform_ctx pc = {.att = c->att};

        for (i = 0; i < n && !key_is(c->kind, c->kind_len, platform_kinds[i].kind); i++)
            ;
        if (i == n)
            return bad(m, "unknown platform kind");
        c->att->platform = platform_kinds[i].platform;
        if (c->data_pos == 0 && platform_kinds[i].data_optional)
            return DSTACK_OK;
        if (c->data_pos == 0)
            return bad(m, "platform has no data");
        m->pos = c->data_pos;
        rc = read_map(m, depth, platform_data_field, &pc, "platform data is not a map");
        if (rc == DSTACK_OK && (pc.seen & platform_kinds[i].required) != platform_kinds[i].required)
            rc = bad(m, "platform data lacks a required field");
    } else {
        if (!key_is(c->kind, c->kind_len, "dstack") && !key_is(c->kind, c->kind_len, "dstack-pod"))
            return bad(m, "unknown stack kind");
        if (c->data_pos == 0)
            return bad(m, "stack has no data");
        m->pos = c->data_pos;
        rc = read_map(m, depth, stack_data_field, c->att, "stack data is not a map");
    }
    m->pos = resume;
    return rc;
}

static dstack_status top_field(mp *m, const uint8_t *k, size_t kl, void *vctx, int depth)
{
    top_ctx *t = vctx;
    uint64_t v;

    if (key_is(k, kl, "version")) {
        if (!read_uint(m, &v) || v != 1)
            return bad(m, "version is not 1");
        t->has_version = true;
        return DSTACK_OK;
    }
    if (key_is(k, kl, "platform") || key_is(k, kl, "stack")) {
        bool is_platform = key_is(k, kl, "platform");
        kind_ctx c = {.att = t->att};
        if ((is_platform && t->has_platform) || (!is_platform && t->has_stack))
            return bad(m, "duplicate key");
        *(is_platform ? &t->has_platform : &t->has_stack) = true;
        return decode_kind_data(m, &c, depth, is_platform);
    }
    return skip_value(m, depth);
}

dstack_status dstack_attestation_decode_v1(const uint8_t *buf, size_t len, dstack_attestation *out,
                                           dstack_error *err)
{
    mp m = {.buf = buf, .len = len, .pos = 0, .err = err};
    top_ctx t = {.att = out};
    dstack_status rc;

    out->version = 1;
    if ((rc = read_map(&m, 0, top_field, &t, "top level is not a map")) != DSTACK_OK)
        return rc;
    if (!t.has_version || !t.has_platform || !t.has_stack)
        return bad(&m, "version, platform or stack missing");
    if (m.pos != m.len)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "V1 attestation has %zu trailing bytes", m.len - m.pos);
    if (out->config == NULL && (out->config = strdup("")) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    return DSTACK_OK;
}
