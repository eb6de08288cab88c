/* dstack_tdx_quote_parse (protocol.md §5.1), the measurement helpers on what it accepts, and the
 * offline verifier on everything (it must never accept a mutated quote as verified unless
 * the mutation left the signed bytes and the certification data intact). */
#include <stdint.h>
#include <stdlib.h>

#include <dstack/attest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_tdx_quote quote;
    uint8_t agg[32];
    dstack_error err;
    char *summary;

    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                     .verification_time = 1798761600 /* 2027-01-01 */};
    dstack_quote_verify_result vr;
    dstack_status vrc = dstack_tdx_quote_verify(data, size, &opts, &vr, &err);
    if ((vrc == DSTACK_OK) != vr.verified)
        abort(); /* the status and the result must agree */
    if (vr.verified && (!vr.structure_ok || !vr.quote_signature_ok || !vr.pck_chain_ok))
        abort();

    if (dstack_tdx_quote_parse(data, size, &quote, &err) != DSTACK_OK)
        return 0;
    if (size < DSTACK_QUOTE_MIN_LEN || quote.version != 4)
        abort();
    dstack_mr_aggregated(&quote, agg);
    summary = dstack_measurement_summary(&quote, NULL);
    if (summary == NULL)
        abort();
    free(summary);
    return 0;
}
