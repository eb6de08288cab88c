/* Field readers for the signed JSON documents of Intel collateral (TCB info, QE identity),
 * with serde's rules as dcap-qvl derives them: a required field that is missing, repeated,
 * null or of another type fails the document; unknown fields are ignored; integers must be
 * JSON integers within the field's range. */
#include "attest/dcap_schema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dcap_field(const dstack_jv *obj, const char *key, bool required, const dstack_jv **out,
                dcap_doc_err *e)
{
    int rc = dstack_jv_get(obj, key, out);

    if (rc == 1)
        return true;
    if (rc == 0 && !required) {
        *out = NULL;
        return true;
    }
    snprintf(e->why, sizeof(e->why), "%s field `%s`",
             rc == -1   ? "duplicate"
             : rc == -2 ? "not an object around"
                        : "missing",
             key);
    return false;
}

bool dcap_field_string(const dstack_jv *obj, const char *key, char **out, dcap_doc_err *e)
{
    const dstack_jv *v;

    if (!dcap_field(obj, key, true, &v, e))
        return false;
    if (v->type != DSTACK_JV_STRING || strlen(v->str) != v->str_len) {
        snprintf(e->why, sizeof(e->why), "field `%s` is not a string", key);
        return false;
    }
    if ((*out = strdup(v->str)) == NULL) {
        snprintf(e->why, sizeof(e->why), "out of memory");
        return false;
    }
    return true;
}

bool dcap_field_uint(const dstack_jv *obj, const char *key, uint64_t max, uint64_t *out,
                     dcap_doc_err *e)
{
    const dstack_jv *v;

    if (!dcap_field(obj, key, true, &v, e))
        return false;
    if (!dstack_jv_uint(v, max, out)) {
        snprintf(e->why, sizeof(e->why), "field `%s` is not an integer in 0..%llu", key,
                 (unsigned long long)max);
        return false;
    }
    return true;
}

bool dcap_field_hex(const dstack_jv *obj, const char *key, uint8_t *out, size_t len,
                    dcap_doc_err *e)
{
    const dstack_jv *v;

    if (!dcap_field(obj, key, true, &v, e))
        return false;
    if (v->type != DSTACK_JV_STRING || !dstack_hex_exact(v->str, v->str_len, out, len)) {
        snprintf(e->why, sizeof(e->why), "field `%s` is not %zu bytes of hex", key, len);
        return false;
    }
    return true;
}

bool dcap_field_array(const dstack_jv *obj, const char *key, bool required, const dstack_jv **out,
                      dcap_doc_err *e)
{
    if (!dcap_field(obj, key, required, out, e))
        return false;
    if (*out != NULL && (*out)->type != DSTACK_JV_ARRAY) {
        snprintf(e->why, sizeof(e->why), "field `%s` is not an array", key);
        return false;
    }
    return true;
}

bool dcap_field_status(const dstack_jv *level, dcap_tcb *out, dcap_doc_err *e)
{
    const dstack_jv *v;
    char *date = NULL;

    memset(out, 0, sizeof(*out));
    /* tcbDate is required but unused, as in dcap-qvl */
    if (!dcap_field_string(level, "tcbDate", &date, e))
        return false;
    free(date);
    if (!dcap_field(level, "tcbStatus", true, &v, e))
        return false;
    if (v->type != DSTACK_JV_STRING || !dcap_status_from_name(v->str, &out->status)) {
        snprintf(e->why, sizeof(e->why), "field `tcbStatus` is not one of Intel's statuses");
        return false;
    }
    if (!dcap_advisories_read(level, &out->adv)) {
        snprintf(e->why, sizeof(e->why), "field `advisoryIDs` is not an array of strings");
        return false;
    }
    return true;
}
