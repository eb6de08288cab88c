/* TCB statuses by Intel's names, dcap-qvl's status merge and advisory-ID lists
 * (protocol.md §5.6). */
#include "attest/dcap_internal.h"

#include <stdlib.h>
#include <string.h>

/* In dstack_tcb_status order, which is the severity order of the merge. */
static const char *const status_names[] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};
#define N_STATUS (sizeof(status_names) / sizeof(status_names[0]))

const char *dstack_tcb_status_name(dstack_tcb_status status)
{
    return (unsigned)status < N_STATUS ? status_names[status] : "unknown";
}

bool dcap_status_from_name(const char *name, dstack_tcb_status *out)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (dstack_tcb_status)i;
            return true;
        }
    }
    return false;
}

dstack_status dstack_tcb_status_mask(const char *list, unsigned *mask, dstack_error *err)
{
    const char *p = list;
    unsigned m = 0;

    if (list == NULL || mask == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "no TCB status list");
    while (*p != '\0') {
        char name[48];
        size_t n = strcspn(p, ", ");
        dstack_tcb_status s;

        if (n == 0) {
            p++;
            continue;
        }
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        if (!dcap_status_from_name(name, &s) || s == DSTACK_TCB_REVOKED)
            return dstack_error_set(
                err, DSTACK_ERR_USAGE, NULL, NULL,
                "'%s' is not an acceptable TCB status (UpToDate, SWHardeningNeeded, "
                "ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, "
                "OutOfDateConfigurationNeeded; Revoked always rejects)",
                name);
        m |= DSTACK_TCB_STATUS_BIT(s);
        p += strcspn(p, ", ");
    }
    if (m == 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "empty TCB status list");
    *mask = m;
    return DSTACK_OK;
}

void dcap_advisories_free(dcap_advisories *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->ids[i]);
    free(a->ids);
    a->ids = NULL;
    a->n = 0;
}

static bool adv_push(dcap_advisories *a, const char *id)
{
    char **grown = realloc(a->ids, (a->n + 1) * sizeof(*grown));

    if (grown == NULL)
        return false;
    a->ids = grown;
    if ((a->ids[a->n] = strdup(id)) == NULL)
        return false;
    a->n++;
    return true;
}

bool dcap_tcb_copy(dcap_tcb *dst, const dcap_tcb *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->status = src->status;
    for (size_t i = 0; i < src->adv.n; i++) {
        if (!adv_push(&dst->adv, src->adv.ids[i]))
            return false;
    }
    return true;
}

bool dcap_tcb_merge(dcap_tcb *a, const dcap_tcb *b)
{
    if (b->status > a->status)
        a->status = b->status;
    for (size_t i = 0; i < b->adv.n; i++) {
        bool present = false;

        for (size_t j = 0; j < a->adv.n && !present; j++)
            present = strcmp(a->adv.ids[j], b->adv.ids[i]) == 0;
        if (!present && !adv_push(&a->adv, b->adv.ids[i]))
            return false;
    }
    return true;
}

bool dcap_advisories_read(const dstack_jv *level, dcap_advisories *out)
{
    const dstack_jv *arr = NULL;
    int rc = dstack_jv_get(level, "advisoryIDs", &arr);

    memset(out, 0, sizeof(*out));
    if (rc == 0)
        return true;
    if (rc < 0 || arr->type != DSTACK_JV_ARRAY)
        return false;
    for (size_t i = 0; i < arr->count; i++) {
        const dstack_jv *s = &arr->items[i];

        if (s->type != DSTACK_JV_STRING || strlen(s->str) != s->str_len || !adv_push(out, s->str)) {
            dcap_advisories_free(out);
            return false;
        }
    }
    return true;
}
