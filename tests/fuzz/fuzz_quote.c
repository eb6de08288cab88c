/* dstack_tdx_quote_parse (spec §5.1) and the measurement helpers on what it accepts. */
#include <stdint.h>
#include <stdlib.h>

#include <dstack/attest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_tdx_quote quote;
    uint8_t agg[32];
    dstack_error err;
    char *summary;

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
