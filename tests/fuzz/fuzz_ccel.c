/* dstack_ccel_parse (CCEL ACPI table, TCG2 crypto-agile log): every accepted event has a
 * 48-byte digest and an RTMR index, and the result serialises and replays. */
#include <stdint.h>
#include <stdlib.h>

#include <dstack/attest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_event_log log;
    uint8_t rtmr[4][48];
    bool valid[4];
    dstack_error err;
    char *json;

    if (dstack_ccel_parse(data, size, &log, &err) != DSTACK_OK)
        return 0;
    for (size_t i = 0; i < log.count; i++)
        if (log.events[i].imr > 3 || log.events[i].digest_len != 48 ||
            log.events[i].payload_len > size)
            abort();
    dstack_event_log_replay(&log, rtmr, valid);
    for (int i = 0; i < 4; i++)
        if (!valid[i])
            abort();
    json = dstack_event_log_to_json(&log);
    if (json == NULL)
        abort();
    free(json);
    dstack_event_log_free(&log);
    return 0;
}
