/* dstack_attestation_decode (V0 SCALE and V1 msgpack, protocol.md §4.4/§4.5). Whatever decodes must
 * re-encode as V0, and that encoding must be a fixed point of decode+encode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/attest.h>

#include "agent_side.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_attestation att, again;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t enc_len = 0, enc2_len = 0;
    dstack_error err;

    if (dstack_attestation_decode(data, size, &att, &err) != DSTACK_OK) {
        dstack_attestation_free(&att);
        return 0;
    }
    if (dstack_attestation_encode_v0(&att, &enc, &enc_len, &err) == DSTACK_OK) {
        if (dstack_attestation_decode(enc, enc_len, &again, &err) != DSTACK_OK) {
            fprintf(stderr, "V0 re-encoding does not decode: %s\n", err.message);
            abort();
        }
        if (dstack_attestation_encode_v0(&again, &enc2, &enc2_len, &err) != DSTACK_OK ||
            enc2_len != enc_len || memcmp(enc, enc2, enc_len) != 0) {
            fprintf(stderr, "V0 encoding is not a fixed point\n");
            abort();
        }
        dstack_attestation_free(&again);
    }
    free(enc2);
    free(enc);
    dstack_attestation_free(&att);
    return 0;
}
