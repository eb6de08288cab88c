/* Derived measurements (protocol.md §5.5) and a human-readable summary of a quote. */
#include <dstack/attest.h>
#include <dstack/keys.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/text_internal.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

void dstack_mr_aggregated(const dstack_tdx_quote *quote, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool with_config = !all_zero(quote->mr_config_id, 48) || !all_zero(quote->mr_owner, 48) ||
                       !all_zero(quote->mr_owner_config, 48);
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, quote->mrtd, 48) == 1;

    for (int i = 0; ok && i < 4; i++)
        ok = EVP_DigestUpdate(ctx, quote->rtmr[i], 48) == 1;
    if (ok && with_config)
        ok = EVP_DigestUpdate(ctx, quote->mr_config_id, 48) == 1 &&
             EVP_DigestUpdate(ctx, quote->mr_owner, 48) == 1 &&
             EVP_DigestUpdate(ctx, quote->mr_owner_config, 48) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        memset(out, 0, 32);
}

bool dstack_compose_hash_matches(const uint8_t *compose, size_t len, const uint8_t expected[32])
{
    uint8_t digest[32];

    if ((compose == NULL && len > 0) || expected == NULL ||
        EVP_Digest(compose != NULL ? compose : (const uint8_t *)"", len, digest, NULL, EVP_sha256(),
                   NULL) != 1)
        return false;
    return CRYPTO_memcmp(digest, expected, sizeof(digest)) == 0;
}

static void append_hex(dstack_text *t, const char *label, const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);

    if (hex == NULL) {
        t->failed = true;
        return;
    }
    dstack_hex_encode(p, n, hex);
    dstack_text_appendf(t, "%-16s %s\n", label, hex);
    free(hex);
}

/* Printable payloads are shown as text, anything else as hex (truncated to keep lines short). */
static void append_payload(dstack_text *t, const uint8_t *p, size_t n)
{
    bool printable = n > 0;
    size_t shown = n > 64 ? 64 : n;
    char hex[129];

    for (size_t i = 0; i < n && printable; i++)
        printable = p[i] >= 0x20 && p[i] < 0x7f;
    if (n == 0) {
        dstack_text_appendf(t, "(empty)");
    } else if (printable) {
        dstack_text_appendf(t, "\"%.*s\"%s", (int)shown, (const char *)p, n > shown ? "..." : "");
    } else {
        dstack_hex_encode(p, shown, hex);
        dstack_text_appendf(t, "%s%s", hex, n > shown ? "..." : "");
    }
}

/* Event names come from the attested party: control characters are masked so the summary is
 * safe to print on a terminal. */
static void append_name(dstack_text *t, const char *name)
{
    char shown[65];
    size_t n = 0;

    for (; name[n] != '\0' && n < sizeof(shown) - 1; n++)
        shown[n] =
            ((unsigned char)name[n] >= 0x20 && (unsigned char)name[n] < 0x7f) ? name[n] : '?';
    shown[n] = '\0';
    dstack_text_appendf(t, "  %-22s ", shown);
}

char *dstack_measurement_summary(const dstack_tdx_quote *quote, const dstack_event_log *log)
{
    dstack_text t = {0};
    uint8_t mr[32];

    if (quote == NULL)
        return NULL;
    dstack_text_appendf(&t, "TDX quote v%u (TEE type 0x%02x)\n", quote->version, quote->tee_type);
    append_hex(&t, "MRTD", quote->mrtd, 48);
    for (int i = 0; i < 4; i++) {
        char label[8];
        snprintf(label, sizeof(label), "RTMR%d", i);
        append_hex(&t, label, quote->rtmr[i], 48);
    }
    append_hex(&t, "MRCONFIGID", quote->mr_config_id, 48);
    append_hex(&t, "report_data", quote->report_data, 64);
    dstack_mr_aggregated(quote, mr);
    append_hex(&t, "mr_aggregated", mr, 32);
    dstack_text_appendf(&t, "%-16s %s\n", "debug TD",
                        quote->debug ? "YES (not production-safe)" : "no");
    if (log != NULL) {
        uint8_t rtmr[4][48];
        bool valid[4];
        size_t runtime = 0;

        dstack_event_log_replay(log, rtmr, valid);
        for (int i = 0; i < 4; i++)
            dstack_text_appendf(&t, "replay RTMR%d     %s\n", i,
                                !valid[i] ? "cannot be replayed (event without a usable digest)"
                                : memcmp(rtmr[i], quote->rtmr[i], 48) == 0 ? "matches quote"
                                                                           : "MISMATCH");
        for (size_t i = 0; i < log->count; i++)
            runtime += log->events[i].event_type == DSTACK_RUNTIME_EVENT_TYPE;
        dstack_text_appendf(&t, "runtime events   %zu of %zu events\n", runtime, log->count);
        for (size_t i = 0; i < log->count; i++) {
            const dstack_event *ev = &log->events[i];
            if (ev->event_type != DSTACK_RUNTIME_EVENT_TYPE)
                continue;
            append_name(&t, ev->event != NULL ? ev->event : "");
            append_payload(&t, ev->payload, ev->payload_len);
            dstack_text_appendf(&t, "\n");
        }
    }
    return dstack_text_take(&t, NULL);
}
