/* The boot-time event log from the CCEL ACPI table (protocol.md §5.2): a TCG2 crypto-agile log
 * (TCG PC Client Platform Firmware Profile §10.2). The first record is a TCG_PCR_EVENT in the
 * SHA-1 format carrying the "Spec ID Event03" structure, which lists the digest algorithms
 * and their sizes; every following record is a TCG_PCR_EVENT2:
 *
 *   u32 mr_index | u32 event_type | u32 digest_count | { u16 alg_id | digest }* |
 *   u32 event_size | event[event_size]
 *
 * The table is a fixed-size buffer: the log ends where the firmware left it unwritten
 * (0xFF fill, or zeros). Every length below is checked against the bytes that remain.
 */
#include <dstack/attest.h>

#include <string.h>

#include "attest/attest_internal.h"

#define TCG_EV_NO_ACTION 0x00000003u
#define TCG_ALG_SHA384 0x000Cu
#define TCG_SHA384_LEN 48u
#define TCG_SPEC_ID_SIGNATURE "Spec ID Event03"
/* Spec ID Event03: signature[16], platform class u32, version 3×u8, uintn size u8,
 * number of algorithms u32. */
#define TCG_SPEC_ID_FIXED_LEN 28u
/* More algorithms than the TCG registry knows would be a corrupted header. */
#define TCG_MAX_ALGORITHMS 32u

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

typedef struct alg_size {
    uint16_t id;
    uint16_t size;
} alg_size;

static bool take(reader *r, size_t n, const uint8_t **out)
{
    if (r->left < n)
        return false;
    if (out != NULL)
        *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static bool take_u16(reader *r, uint16_t *v)
{
    const uint8_t *b;

    if (!take(r, 2, &b))
        return false;
    *v = (uint16_t)(b[0] | (b[1] << 8));
    return true;
}

static bool take_u32(reader *r, uint32_t *v)
{
    const uint8_t *b;

    if (!take(r, 4, &b))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

static dstack_status bad(dstack_error *err, size_t offset, const char *what)
{
    return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                            "CCEL event log at offset %zu: %s", offset, what);
}

/* The SHA-1-format header record; fills the algorithm table from its Spec ID event. */
static dstack_status parse_header(reader *r, const uint8_t *base, alg_size *algs, uint32_t *n_algs,
                                  dstack_error *err)
{
    uint32_t mr_index, type, size, n;
    const uint8_t *event;
    reader spec;

    if (!take_u32(r, &mr_index) || !take_u32(r, &type) || !take(r, 20, NULL) || !take_u32(r, &size))
        return bad(err, 0, "truncated Spec ID header");
    if (!take(r, size, &event))
        return bad(err, 0, "Spec ID event runs past the end of the table");
    spec = (reader){event, size};
    if (type != TCG_EV_NO_ACTION || size < TCG_SPEC_ID_FIXED_LEN ||
        memcmp(event, TCG_SPEC_ID_SIGNATURE, sizeof(TCG_SPEC_ID_SIGNATURE)) != 0)
        return bad(err, 0, "first record is not a TCG \"Spec ID Event03\" header");
    take(&spec, 24, NULL);
    take_u32(&spec, &n);
    if (n == 0 || n > TCG_MAX_ALGORITHMS)
        return bad(err, (size_t)(spec.p - base), "Spec ID header lists an invalid algorithm count");
    for (uint32_t i = 0; i < n; i++) {
        if (!take_u16(&spec, &algs[i].id) || !take_u16(&spec, &algs[i].size))
            return bad(err, (size_t)(spec.p - base), "truncated Spec ID algorithm list");
        if (algs[i].id == TCG_ALG_SHA384 && algs[i].size != TCG_SHA384_LEN)
            return bad(err, (size_t)(spec.p - base), "Spec ID header gives SHA-384 a wrong size");
    }
    *n_algs = n;
    return DSTACK_OK;
}

static const alg_size *find_alg(const alg_size *algs, uint32_t n, uint16_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (algs[i].id == id)
            return &algs[i];
    return NULL;
}

/* Unwritten table space: the firmware fills the CCEL area with 0xFF (or leaves zeros). */
static bool at_padding(const reader *r)
{
    static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zeros[8];

    size_t n = r->left < sizeof(ones) ? r->left : sizeof(ones);

    /* A short non-padding tail is not padding: parse_event() reports it as truncated. */
    return n == 0 || memcmp(r->p, ones, n) == 0 || memcmp(r->p, zeros, n) == 0;
}

/* One TCG_PCR_EVENT2; appends it unless it is an EV_NO_ACTION record (those extend nothing
 * and the agent does not report them). */
static dstack_status parse_event(reader *r, const uint8_t *base, const alg_size *algs,
                                 uint32_t n_algs, dstack_event_log *out, dstack_error *err)
{
    size_t start = (size_t)(r->p - base);
    uint32_t mr_index, type, count, size;
    const uint8_t *sha384 = NULL, *event;

    if (!take_u32(r, &mr_index) || !take_u32(r, &type) || !take_u32(r, &count))
        return bad(err, start, "truncated event header");
    if (count == 0 || count > n_algs)
        return bad(err, start, "digest count does not match the Spec ID header");
    for (uint32_t i = 0; i < count; i++) {
        uint16_t id;
        const alg_size *alg;
        const uint8_t *digest;

        if (!take_u16(r, &id))
            return bad(err, start, "truncated digest list");
        alg = find_alg(algs, n_algs, id);
        if (alg == NULL)
            return bad(err, start, "digest algorithm not declared in the Spec ID header");
        if (!take(r, alg->size, &digest))
            return bad(err, start, "digest runs past the end of the table");
        if (id == TCG_ALG_SHA384)
            sha384 = digest;
    }
    if (!take_u32(r, &size) || !take(r, size, &event))
        return bad(err, start, "event data runs past the end of the table");
    if (type == TCG_EV_NO_ACTION)
        return DSTACK_OK;
    if (sha384 == NULL)
        return bad(err, start, "event has no SHA-384 digest");
    /* TDX maps TCG MR index 1..4 to RTMR0..3 (MR index 0 is MRTD, which no event extends).
     * Some firmware (GCP) logs 0-based indices; like the agent at HEAD, treat 0 as RTMR0. */
    if (mr_index > 4)
        return bad(err, start, "MR index is not an RTMR (expected 0..4)");
    return dstack_event_log_append(out, mr_index > 0 ? mr_index - 1 : 0, type, sha384,
                                   TCG_SHA384_LEN, "", event, size, err);
}

dstack_status dstack_ccel_parse(const uint8_t *buf, size_t len, dstack_event_log *out,
                                dstack_error *err)
{
    alg_size algs[TCG_MAX_ALGORITHMS];
    uint32_t n_algs = 0;
    reader r = {buf, len};
    dstack_status st;

    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "CCEL parse: no output");
    memset(out, 0, sizeof(*out));
    if (buf == NULL || len == 0)
        return bad(err, 0, "empty table");
    st = parse_header(&r, buf, algs, &n_algs, err);
    if (st != DSTACK_OK)
        return st;
    if (find_alg(algs, n_algs, TCG_ALG_SHA384) == NULL)
        return bad(err, 0, "the log carries no SHA-384 digests (TDX RTMRs need them)");
    while (!at_padding(&r)) {
        st = parse_event(&r, buf, algs, n_algs, out, err);
        if (st != DSTACK_OK) {
            dstack_event_log_free(out);
            return st;
        }
    }
    return DSTACK_OK;
}
