/* dstack_event_log_parse (event-log JSON, protocol.md §5.2, V2 included, §5.3.1): parse, check
 * the V2 preimages, replay, serialise; the serialised form must parse back to the same
 * serialisation, and the preimage check must agree with the replay's verdict on RTMR3. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/attest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_event_log log, again;
    uint8_t rtmr[4][48];
    bool valid[4];
    char *json = NULL, *json2 = NULL;
    dstack_error err;

    if (dstack_event_log_parse((const char *)data, size, &log, &err) != DSTACK_OK)
        return 0;
    dstack_event_log_replay(&log, rtmr, valid);
    {
        bool preimages_ok = dstack_event_log_check_preimages(&log, &err) == DSTACK_OK;
        /* every V2 runtime event is on some RTMR; a bad preimage must void that RTMR */
        if (!preimages_ok && valid[0] && valid[1] && valid[2] && valid[3]) {
            bool off_rtmr = false;
            for (size_t i = 0; i < log.count; i++)
                off_rtmr |= log.events[i].imr > 3;
            if (!off_rtmr)
                abort();
        }
    }
    json = dstack_event_log_to_json(&log);
    if (json == NULL)
        abort();
    if (dstack_event_log_parse(json, strlen(json), &again, &err) != DSTACK_OK) {
        fprintf(stderr, "serialised log does not parse: %s\n", err.message);
        abort();
    }
    json2 = dstack_event_log_to_json(&again);
    if (json2 == NULL || strcmp(json, json2) != 0)
        abort();
    dstack_event_log_free(&again);
    free(json2);
    free(json);
    dstack_event_log_free(&log);
    return 0;
}
