/* dstack_event_log_parse (event-log JSON, protocol.md §5.2): parse, replay, serialise; the
 * serialised form must parse back to the same serialisation. */
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
