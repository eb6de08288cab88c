/* RTMR replay (protocol.md §5.3) and its comparison with a quote. */
#include <dstack/attest.h>
#include <dstack/keys.h>

#include <string.h>

#include <openssl/evp.h>

#include "attest/attest_internal.h"

#define RTMR_LEN 48

void dstack_runtime_event_digest(const char *name, const uint8_t *payload, size_t payload_len,
                                 uint8_t out[48])
{
    /* LE32(0x08000001): the agent hashes the type in native order, little-endian on every
     * supported host (protocol.md §5.3). */
    static const uint8_t type_le[4] = {0x01, 0x00, 0x00, 0x08};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int out_len = RTMR_LEN;
    int ok =
        ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, type_le, sizeof(type_le)) == 1 &&
        EVP_DigestUpdate(ctx, ":", 1) == 1 &&
        EVP_DigestUpdate(ctx, name != NULL ? name : "", name != NULL ? strlen(name) : 0) == 1 &&
        EVP_DigestUpdate(ctx, ":", 1) == 1 &&
        (payload_len == 0 || EVP_DigestUpdate(ctx, payload, payload_len) == 1) &&
        EVP_DigestFinal_ex(ctx, out, &out_len) == 1;

    EVP_MD_CTX_free(ctx);
    if (!ok)
        memset(out, 0xff, RTMR_LEN); /* never equals a real digest chain by accident */
}

/* mr = SHA-384(mr || digest) */
static void extend(uint8_t mr[48], const uint8_t digest[48])
{
    uint8_t buf[2 * RTMR_LEN];
    unsigned int len = RTMR_LEN;

    memcpy(buf, mr, RTMR_LEN);
    memcpy(buf + RTMR_LEN, digest, RTMR_LEN);
    if (EVP_Digest(buf, sizeof(buf), mr, &len, EVP_sha384(), NULL) != 1)
        memset(mr, 0xff, RTMR_LEN);
}

void dstack_event_log_replay(const dstack_event_log *log, uint8_t rtmr[4][48], bool valid[4])
{
    memset(rtmr, 0, 4 * RTMR_LEN);
    if (valid != NULL)
        for (int i = 0; i < 4; i++)
            valid[i] = true;
    for (size_t i = 0; log != NULL && i < log->count; i++) {
        const dstack_event *ev = &log->events[i];
        uint8_t digest[RTMR_LEN];

        if (ev->imr > 3)
            continue; /* not an RTMR (TCG index 0 = MRTD is dropped by the agent already) */
        if (ev->event_type == DSTACK_RUNTIME_EVENT_TYPE) {
            /* Never trust a logged runtime digest: stripped logs blank it (protocol.md §5.2). A
             * V2 preimage that contradicts the event makes the RTMR untrustworthy. */
            if (valid != NULL && !dstack_event_preimage_ok(ev))
                valid[ev->imr] = false;
            dstack_runtime_event_digest_versioned(ev->version, ev->event, ev->payload,
                                                  ev->payload_len, digest);
        } else if (ev->digest_len == RTMR_LEN) {
            memcpy(digest, ev->digest, RTMR_LEN);
        } else {
            if (valid != NULL)
                valid[ev->imr] = false;
            continue;
        }
        extend(rtmr[ev->imr], digest);
    }
}

void dstack_runtime_events_replay(const dstack_runtime_event *events, size_t n, uint8_t out[48])
{
    memset(out, 0, RTMR_LEN);
    for (size_t i = 0; i < n; i++) {
        uint8_t digest[RTMR_LEN];

        dstack_runtime_event_digest_versioned(events[i].version, events[i].event, events[i].payload,
                                              events[i].payload_len, digest);
        extend(out, digest);
    }
}

dstack_status dstack_event_log_check_quote(const dstack_event_log *log,
                                           const dstack_tdx_quote *quote, unsigned which,
                                           dstack_error *err)
{
    uint8_t rtmr[4][RTMR_LEN];
    bool valid[4];
    char got[2 * RTMR_LEN + 1], want[2 * RTMR_LEN + 1];

    dstack_status rc;

    if (log == NULL || quote == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "event log check: missing event log or quote");
    if ((rc = dstack_event_log_check_preimages(log, err)) != DSTACK_OK)
        return rc;
    dstack_event_log_replay(log, rtmr, valid);
    for (unsigned i = 0; i < 4; i++) {
        if (!(which & (1u << i)))
            continue;
        if (!valid[i])
            return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                    "RTMR%u cannot be replayed: the event log has an RTMR%u "
                                    "event without a 48-byte digest",
                                    i, i);
        if (memcmp(rtmr[i], quote->rtmr[i], RTMR_LEN) != 0) {
            dstack_hex_encode(rtmr[i], RTMR_LEN, got);
            dstack_hex_encode(quote->rtmr[i], RTMR_LEN, want);
            return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                    "RTMR%u mismatch: event log replays to %s, quote has %s", i,
                                    got, want);
        }
    }
    return DSTACK_OK;
}
