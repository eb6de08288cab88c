/* Event log v2 (protocol.md §5.3.1): the JCS-canonical preimage of a runtime event, its
 * SHA-384 digest, and the check of the preimages 0.6 agents attach to V2 events. */
#include <dstack/attest.h>
#include <dstack/keys.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attest/attest_internal.h"
#include "base/text_internal.h"

#define DIGEST_LEN 48

static void put_str(dstack_text *t, const char *s)
{
    dstack_text_append(t, s, strlen(s));
}

/* A JSON string as RFC 8785 (and serde_json, which serde_jcs uses) writes it: `"` and `\`
 * escaped, the five short escapes, other controls as \u00xx with lowercase hex, every other
 * byte (UTF-8 included, `/` and DEL too) verbatim. */
static void put_json_string(dstack_text *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    dstack_text_append(t, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        char esc[7] = "\\u00";

        switch (*c) {
        case '"':
            put_str(t, "\\\"");
            break;
        case '\\':
            put_str(t, "\\\\");
            break;
        case '\b':
            put_str(t, "\\b");
            break;
        case '\f':
            put_str(t, "\\f");
            break;
        case '\n':
            put_str(t, "\\n");
            break;
        case '\r':
            put_str(t, "\\r");
            break;
        case '\t':
            put_str(t, "\\t");
            break;
        default:
            if (*c < 0x20) {
                esc[4] = hex[*c >> 4];
                esc[5] = hex[*c & 15];
                dstack_text_append(t, esc, 6);
            } else {
                dstack_text_append(t, (const char *)c, 1);
            }
        }
    }
    dstack_text_append(t, "\"", 1);
}

bool dstack_runtime_event_preimage_v2(const char *name, const uint8_t *payload, size_t payload_len,
                                      uint8_t **out, size_t *out_len)
{
    dstack_text t = {.limit = DSTACK_ATTESTATION_MAX_LEN};
    char *hex = NULL;
    char type[16];

    *out = NULL;
    *out_len = 0;
    if (payload_len > DSTACK_ATTESTATION_MAX_LEN / 2)
        return false;
    hex = malloc(2 * payload_len + 1);
    if (hex == NULL)
        return false;
    dstack_hex_encode(payload, payload_len, hex);
    /* JCS sorts the keys: name < payload < type. */
    put_str(&t, "{\"name\":");
    put_json_string(&t, name != NULL ? name : "");
    put_str(&t, ",\"payload\":\"");
    put_str(&t, hex);
    snprintf(type, sizeof(type), "%u", DSTACK_RUNTIME_EVENT_TYPE);
    put_str(&t, "\",\"type\":");
    put_str(&t, type);
    put_str(&t, "}");
    free(hex);
    *out = (uint8_t *)dstack_text_take(&t, out_len);
    return *out != NULL;
}

void dstack_runtime_event_digest_v2(const char *name, const uint8_t *payload, size_t payload_len,
                                    uint8_t out[48])
{
    uint8_t *pre = NULL;
    size_t pre_len = 0;
    unsigned int len = DIGEST_LEN;

    if (!dstack_runtime_event_preimage_v2(name, payload, payload_len, &pre, &pre_len) ||
        EVP_Digest(pre, pre_len, out, &len, EVP_sha384(), NULL) != 1)
        memset(out, 0xff, DIGEST_LEN); /* never equals a real digest chain by accident */
    free(pre);
}

void dstack_runtime_event_digest_versioned(unsigned version, const char *name,
                                           const uint8_t *payload, size_t payload_len,
                                           uint8_t out[48])
{
    if (version == DSTACK_EVENT_LOG_V2)
        dstack_runtime_event_digest_v2(name, payload, payload_len, out);
    else
        dstack_runtime_event_digest(name, payload, payload_len, out);
}

/* NULL when the event passes, else why it does not. */
static const char *preimage_problem(const dstack_event *ev)
{
    uint8_t *canonical = NULL, digest[DIGEST_LEN];
    size_t canonical_len = 0;
    unsigned int len = DIGEST_LEN;
    const char *why = NULL;

    if (ev->event_type != DSTACK_RUNTIME_EVENT_TYPE || ev->version != DSTACK_EVENT_LOG_V2 ||
        !ev->has_preimage)
        return NULL;
    if (ev->digest_len > 0 &&
        (EVP_Digest(ev->preimage_len > 0 ? ev->preimage : (const uint8_t *)"", ev->preimage_len,
                    digest, &len, EVP_sha384(), NULL) != 1 ||
         ev->digest_len != DIGEST_LEN || CRYPTO_memcmp(digest, ev->digest, DIGEST_LEN) != 0))
        return "its preimage does not hash to its digest";
    /* The preimage must also be what the displayed name and payload hash to, or a verifier
     * would replay one event and show another. */
    if (!dstack_runtime_event_preimage_v2(ev->event, ev->payload, ev->payload_len, &canonical,
                                          &canonical_len))
        why = "its canonical form cannot be built";
    else if (canonical_len != ev->preimage_len ||
             memcmp(canonical, ev->preimage, canonical_len) != 0)
        why = "its preimage is not the canonical JSON of its name and payload";
    free(canonical);
    return why;
}

bool dstack_event_preimage_ok(const dstack_event *ev)
{
    return preimage_problem(ev) == NULL;
}

dstack_status dstack_event_log_check_preimages(const dstack_event_log *log, dstack_error *err)
{
    for (size_t i = 0; log != NULL && i < log->count; i++) {
        const char *why = preimage_problem(&log->events[i]);

        if (why != NULL)
            return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                    "event log entry %zu (V2 runtime event \"%s\"): %s", i,
                                    log->events[i].event, why);
    }
    return DSTACK_OK;
}
