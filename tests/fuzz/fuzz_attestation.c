/* dstack_attestation_decode (V0 SCALE and V1 msgpack, every 0.6 platform, protocol.md §4.4,
 * protocol.md §4.4.1, §4.5, §4.5.4). What decodes is asked what the TDX-only operations ask (a
 * platform name, the TDX quote or "not a TDX attestation", the event log's V2 preimages); a TDX
 * attestation must re-encode as V0 — or, with V2 events, as V1 — and that encoding must be a
 * fixed point of decode+encode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/attest.h>

#include "agent_side.h"

typedef dstack_status (*encode_fn)(const dstack_attestation *, uint8_t **, size_t *,
                                   dstack_error *);

static void fixed_point(const dstack_attestation *att, encode_fn encode, const char *what)
{
    dstack_attestation again;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t enc_len = 0, enc2_len = 0;
    dstack_error err;

    if (encode(att, &enc, &enc_len, &err) != DSTACK_OK)
        return;
    if (dstack_attestation_decode(enc, enc_len, &again, &err) != DSTACK_OK) {
        fprintf(stderr, "%s re-encoding does not decode: %s\n", what, err.message);
        abort();
    }
    if (encode(&again, &enc2, &enc2_len, &err) != DSTACK_OK || enc2_len != enc_len ||
        memcmp(enc, enc2, enc_len) != 0) {
        fprintf(stderr, "%s encoding is not a fixed point\n", what);
        abort();
    }
    dstack_attestation_free(&again);
    free(enc2);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_attestation att;
    dstack_tdx_quote quote;
    dstack_error err;

    if (dstack_attestation_decode(data, size, &att, &err) != DSTACK_OK) {
        dstack_attestation_free(&att);
        return 0;
    }
    if (strcmp(dstack_platform_name(att.platform), "unknown") == 0)
        abort(); /* a decoded attestation always names its platform */
    if (dstack_attestation_tdx_quote(&att, &quote, &err) != DSTACK_OK &&
        !dstack_attestation_is_tdx(&att) && strstr(err.message, "not a TDX attestation") == NULL)
        abort();
    (void)dstack_event_log_check_preimages(&att.tdx_event_log, &err);
    fixed_point(&att, dstack_attestation_encode_v0, "V0");
    fixed_point(&att, dstack_attestation_encode_v1, "V1");
    dstack_attestation_free(&att);
    return 0;
}
