/* QE identity (protocol.md §5.6, §5.7): the `qe_identity` JSON by dcap-qvl's schema and the QE
 * report checked against it (step 11). */
#include "attest/dcap_schema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_into(const dstack_jv *j, dcap_qe_identity *q, dcap_doc_err *e)
{
    const dstack_jv *levels, *tcb;
    uint64_t v;

    if (j->type != DSTACK_JV_OBJECT) {
        snprintf(e->why, sizeof(e->why), "not a JSON object");
        return false;
    }
    if (!dcap_field_string(j, "id", &q->id, e) || !dcap_field_uint(j, "version", 255, &v, e))
        return false;
    q->version = (uint8_t)v;
    if (!dcap_field_string(j, "issueDate", &q->issue_date, e) ||
        !dcap_field_string(j, "nextUpdate", &q->next_update, e) ||
        !dcap_field_uint(j, "tcbEvaluationDataNumber", 0xffffffffu, &v, e) ||
        !dcap_field_hex(j, "miscselect", q->miscselect, 4, e) ||
        !dcap_field_hex(j, "miscselectMask", q->miscselect_mask, 4, e) ||
        !dcap_field_hex(j, "attributes", q->attributes, 16, e) ||
        !dcap_field_hex(j, "attributesMask", q->attributes_mask, 16, e) ||
        !dcap_field_hex(j, "mrsigner", q->mrsigner, 32, e) ||
        !dcap_field_uint(j, "isvprodid", 0xffff, &v, e))
        return false;
    q->isvprodid = (uint16_t)v;
    if (!dcap_field_array(j, "tcbLevels", true, &levels, e))
        return false;
    if (levels->count > 0 && (q->levels = calloc(levels->count, sizeof(*q->levels))) == NULL) {
        snprintf(e->why, sizeof(e->why), "out of memory");
        return false;
    }
    for (size_t i = 0; i < levels->count; i++) {
        dcap_qe_level *l = &q->levels[q->n_levels++];

        if (!dcap_field(&levels->items[i], "tcb", true, &tcb, e) ||
            !dcap_field_uint(tcb, "isvsvn", 0xffff, &v, e) ||
            !dcap_field_status(&levels->items[i], &l->tcb, e))
            return false;
        l->isvsvn = (uint16_t)v;
    }
    return true;
}

dcap_qe_identity *dcap_qe_identity_parse(const char *json, size_t len, char *why, size_t why_len)
{
    dcap_qe_identity *q = calloc(1, sizeof(*q));
    dcap_doc_err e = {{0}};
    dstack_jv *j = dstack_jv_parse(json, len, e.why, sizeof(e.why));
    bool ok = q != NULL && j != NULL && parse_into(j, q, &e);

    dstack_jv_free(j);
    if (ok)
        return q;
    snprintf(why, why_len, "Failed to decode QeIdentity: %s", q == NULL ? "out of memory" : e.why);
    dcap_qe_identity_free(q);
    return NULL;
}

void dcap_qe_identity_free(dcap_qe_identity *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->n_levels; i++)
        dcap_advisories_free(&q->levels[i].tcb.adv);
    free(q->levels);
    free(q->id);
    free(q->issue_date);
    free(q->next_update);
    free(q);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool dcap_qe_policy(const dcap_qe_identity *id, const uint8_t *r, dcap_tcb *out, char *why,
                    size_t why_len)
{
    uint32_t mask = le32(id->miscselect_mask);
    uint16_t isv_svn = (uint16_t)(r[DCAP_QE_ISV_SVN] | r[DCAP_QE_ISV_SVN + 1] << 8);
    uint16_t prod = (uint16_t)(r[DCAP_QE_ISV_PROD_ID] | r[DCAP_QE_ISV_PROD_ID + 1] << 8);

    memset(out, 0, sizeof(*out));
    if (memcmp(r + DCAP_QE_MR_SIGNER, id->mrsigner, 32) != 0) {
        snprintf(why, why_len, "QE MRSIGNER mismatch");
        return false;
    }
    /* the QE always runs in production mode, whatever the workload policy allows */
    if (r[DCAP_QE_ATTRIBUTES] & 0x02) {
        snprintf(why, why_len, "QE report validation failed: Debug mode is enabled");
        return false;
    }
    if (prod != id->isvprodid) {
        snprintf(why, why_len, "QE ISVPRODID mismatch: expected %u, got %u", id->isvprodid, prod);
        return false;
    }
    if ((le32(r + DCAP_QE_MISC_SELECT) & mask) != (le32(id->miscselect) & mask)) {
        snprintf(why, why_len, "QE MISCSELECT mismatch");
        return false;
    }
    for (int i = 0; i < 16; i++) {
        if ((id->attributes[i] & id->attributes_mask[i]) !=
            (r[DCAP_QE_ATTRIBUTES + i] & id->attributes_mask[i])) {
            snprintf(why, why_len, "QE ATTRIBUTES mismatch at byte %d", i);
            return false;
        }
    }
    for (size_t i = 0; i < id->n_levels; i++) {
        if (isv_svn >= id->levels[i].isvsvn) {
            if (dcap_tcb_copy(out, &id->levels[i].tcb))
                return true;
            snprintf(why, why_len, "out of memory");
            return false;
        }
    }
    if (id->n_levels == 0)
        snprintf(why, why_len, "No TCB levels found in QE Identity");
    else
        snprintf(why, why_len, "QE ISVSVN %u is below minimum required %u from QE Identity",
                 isv_svn, id->levels[id->n_levels - 1].isvsvn);
    return false;
}
