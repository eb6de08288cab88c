/* TCB info (protocol.md §5.6, §5.7): the `tcb_info` JSON by dcap-qvl's schema, its levels in
 * Intel's canonical order, TCB level matching for a TD report (step 13) and the TDX module
 * identity. */
#include "attest/dcap_schema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dstack/keys.h>

static bool svn_list(const dstack_jv *tcb, const char *key, bool required, uint8_t **out, size_t *n,
                     dcap_doc_err *e)
{
    const dstack_jv *arr;
    uint64_t svn;

    *out = NULL;
    *n = 0;
    if (!dcap_field_array(tcb, key, required, &arr, e))
        return false;
    if (arr == NULL || arr->count == 0)
        return true;
    if ((*out = malloc(arr->count)) == NULL) {
        snprintf(e->why, sizeof(e->why), "out of memory");
        return false;
    }
    for (size_t i = 0; i < arr->count; i++) {
        if (!dcap_field_uint(&arr->items[i], "svn", 255, &svn, e))
            return false;
        (*out)[(*n)++] = (uint8_t)svn;
    }
    return true;
}

static bool read_level(const dstack_jv *lv, dcap_tcb_level *out, dcap_doc_err *e)
{
    const dstack_jv *tcb;
    uint64_t pcesvn;

    return dcap_field(lv, "tcb", true, &tcb, e) &&
           svn_list(tcb, "sgxtcbcomponents", true, &out->sgx, &out->sgx_n, e) &&
           svn_list(tcb, "tdxtcbcomponents", false, &out->tdx, &out->tdx_n, e) &&
           dcap_field_uint(tcb, "pcesvn", 0xffff, &pcesvn, e) &&
           (out->pcesvn = (uint16_t)pcesvn, dcap_field_status(lv, &out->tcb, e));
}

static bool read_module(const dstack_jv *m, char **mrsigner, char **attributes, char **mask,
                        dcap_doc_err *e)
{
    return dcap_field_string(m, "mrsigner", mrsigner, e) &&
           dcap_field_string(m, "attributes", attributes, e) &&
           dcap_field_string(m, "attributesMask", mask, e);
}

static bool read_identity(const dstack_jv *j, dcap_module_identity *out, dcap_doc_err *e)
{
    const dstack_jv *levels, *tcb;
    uint64_t svn;

    if (!dcap_field_string(j, "id", &out->id, e) ||
        !read_module(j, &out->mrsigner, &out->attributes, &out->attributes_mask, e) ||
        !dcap_field_array(j, "tcbLevels", true, &levels, e))
        return false;
    if (levels->count > 0 && (out->levels = calloc(levels->count, sizeof(*out->levels))) == NULL) {
        snprintf(e->why, sizeof(e->why), "out of memory");
        return false;
    }
    for (size_t i = 0; i < levels->count; i++) {
        dcap_module_level *l = &out->levels[out->n_levels++];

        if (!dcap_field(&levels->items[i], "tcb", true, &tcb, e) ||
            !dcap_field_uint(tcb, "isvsvn", 255, &svn, e) ||
            !dcap_field_status(&levels->items[i], &l->tcb, e))
            return false;
        l->isvsvn = (uint8_t)svn;
    }
    return true;
}

static int cmp_svns(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    for (size_t i = 0; i < an && i < bn; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return an == bn ? 0 : an < bn ? -1 : 1;
}

/* Intel QVL's canonical order: descending by SGX components, PCESVN, then (TDX TCB info) TDX
 * components; equal keys keep JSON order. */
static int level_order(const void *pa, const void *pb, void *tdx)
{
    const dcap_tcb_level *a = pa, *b = pb;
    int c = cmp_svns(b->sgx, b->sgx_n, a->sgx, a->sgx_n);

    if (c == 0)
        c = b->pcesvn < a->pcesvn ? -1 : b->pcesvn > a->pcesvn;
    if (c == 0 && *(const bool *)tdx)
        c = cmp_svns(b->tdx, b->tdx_n, a->tdx, a->tdx_n);
    if (c == 0)
        c = a->json_index < b->json_index ? -1 : a->json_index > b->json_index;
    return c;
}

static void canonicalize(dcap_tcb_info *t)
{
    bool tdx = t->version >= 3 && strcmp(t->id, "TDX") == 0;

    qsort_r(t->levels, t->n_levels, sizeof(*t->levels), level_order, &tdx);
}

static bool parse_into(const dstack_jv *j, dcap_tcb_info *t, dcap_doc_err *e)
{
    const dstack_jv *levels, *module, *ids;
    uint64_t v;

    if (j->type != DSTACK_JV_OBJECT) {
        snprintf(e->why, sizeof(e->why), "not a JSON object");
        return false;
    }
    if (!dcap_field_string(j, "id", &t->id, e) || !dcap_field_uint(j, "version", 255, &v, e))
        return false;
    t->version = (uint8_t)v;
    if (!dcap_field_string(j, "issueDate", &t->issue_date, e) ||
        !dcap_field_string(j, "nextUpdate", &t->next_update, e) ||
        !dcap_field_string(j, "fmspc", &t->fmspc, e) ||
        !dcap_field_string(j, "pceId", &t->pce_id, e) ||
        !dcap_field_uint(j, "tcbType", 0xffffffffu, &v, e) ||
        !dcap_field_uint(j, "tcbEvaluationDataNumber", 0xffffffffu, &v, e) ||
        !dcap_field_array(j, "tcbLevels", true, &levels, e))
        return false;
    if (levels->count > 0 && (t->levels = calloc(levels->count, sizeof(*t->levels))) == NULL) {
        snprintf(e->why, sizeof(e->why), "out of memory");
        return false;
    }
    for (size_t i = 0; i < levels->count; i++) {
        t->levels[t->n_levels].json_index = i;
        if (!read_level(&levels->items[i], &t->levels[t->n_levels++], e))
            return false;
    }
    /* tdxModule is an Option: absent or null means none */
    if (!dcap_field(j, "tdxModule", false, &module, e))
        return false;
    if (module != NULL && module->type != DSTACK_JV_NULL) {
        t->has_module = true;
        if (!read_module(module, &t->module_mrsigner, &t->module_attributes,
                         &t->module_attributes_mask, e))
            return false;
    }
    if (!dcap_field_array(j, "tdxModuleIdentities", false, &ids, e))
        return false;
    if (ids != NULL && ids->count > 0) {
        if ((t->identities = calloc(ids->count, sizeof(*t->identities))) == NULL) {
            snprintf(e->why, sizeof(e->why), "out of memory");
            return false;
        }
        for (size_t i = 0; i < ids->count; i++) {
            if (!read_identity(&ids->items[i], &t->identities[t->n_identities++], e))
                return false;
        }
    }
    canonicalize(t);
    return true;
}

dcap_tcb_info *dcap_tcb_info_parse(const char *json, size_t len, char *why, size_t why_len)
{
    dcap_tcb_info *t = calloc(1, sizeof(*t));
    dcap_doc_err e = {{0}};
    dstack_jv *j = dstack_jv_parse(json, len, e.why, sizeof(e.why));
    bool ok = t != NULL && j != NULL && parse_into(j, t, &e);

    dstack_jv_free(j);
    if (ok)
        return t;
    snprintf(why, why_len, "Failed to decode TcbInfo: %s", t == NULL ? "out of memory" : e.why);
    dcap_tcb_info_free(t);
    return NULL;
}

void dcap_tcb_info_free(dcap_tcb_info *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_levels; i++) {
        free(t->levels[i].sgx);
        free(t->levels[i].tdx);
        dcap_advisories_free(&t->levels[i].tcb.adv);
    }
    for (size_t i = 0; i < t->n_identities; i++) {
        dcap_module_identity *m = &t->identities[i];

        for (size_t k = 0; k < m->n_levels; k++)
            dcap_advisories_free(&m->levels[k].tcb.adv);
        free(m->levels);
        free(m->id);
        free(m->mrsigner);
        free(m->attributes);
        free(m->attributes_mask);
    }
    free(t->identities);
    free(t->levels);
    free(t->id);
    free(t->issue_date);
    free(t->next_update);
    free(t->fmspc);
    free(t->pce_id);
    free(t->module_mrsigner);
    free(t->module_attributes);
    free(t->module_attributes_mask);
    free(t);
}

/* ---- step 13 --------------------------------------------------------------------------------- */

/* hex::decode: even length, either case, into out (cap bytes); *n the length. */
static bool hex_any(const char *hex, uint8_t *out, size_t cap, size_t *n)
{
    size_t len = strlen(hex);

    if (len % 2 != 0 || len / 2 > cap || !dstack_hex_exact(hex, len, out, len / 2))
        return false;
    *n = len / 2;
    return true;
}

static bool module_hex(const char *hex, const char *field, uint8_t *out, size_t len, char *why,
                       size_t why_len)
{
    if (dstack_hex_exact(hex, strlen(hex), out, len))
        return true;
    snprintf(why, why_len, "TDX module identity check: %s is not %zu bytes of hex (\"%.64s\")",
             field, len, hex);
    return false;
}

/* protocol.md §5.6, the TDX module identity: *has_level false when nothing is merged. */
static bool module_check(const dcap_tcb_info *t, const uint8_t *body, dcap_tcb *out,
                         bool *has_level, char *why, size_t why_len)
{
    const uint8_t *svn = body + DCAP_TD_TEE_TCB_SVN;
    const uint8_t *seam_attr = body + DCAP_TD_SEAM_ATTRIBUTES;
    uint8_t mrsigner[48], attributes[8], mask[8];
    const dcap_module_identity *m = NULL;
    char wanted[16];

    *has_level = false;
    if (!t->has_module)
        return dcap_fail(why, why_len, "TDX module identity check: %s",
                         "TDX TCB Info is missing tdxModule field");
    if (!module_hex(t->module_mrsigner, "tdxModule.mrsigner", mrsigner, 48, why, why_len) ||
        !module_hex(t->module_attributes, "tdxModule.attributes", attributes, 8, why, why_len) ||
        !module_hex(t->module_attributes_mask, "tdxModule.attributesMask", mask, 8, why, why_len))
        return false;
    if (svn[1] > 0 && t->n_identities > 0) {
        snprintf(wanted, sizeof(wanted), "TDX_%02X", svn[1]);
        for (size_t i = 0; i < t->n_identities && m == NULL; i++) {
            if (strcasecmp(t->identities[i].id, wanted) == 0)
                m = &t->identities[i];
        }
        if (m == NULL)
            return dcap_fail(
                why, why_len,
                "TDX module identity check: No TDX module identity with id %s found in "
                "TCB Info",
                wanted);
        if (!module_hex(m->mrsigner, "tdxModuleIdentity.mrsigner", mrsigner, 48, why, why_len) ||
            !module_hex(m->attributes, "tdxModuleIdentity.attributes", attributes, 8, why,
                        why_len) ||
            !module_hex(m->attributes_mask, "tdxModuleIdentity.attributesMask", mask, 8, why,
                        why_len))
            return false;
    }
    if (memcmp(body + DCAP_TD_MR_SIGNER_SEAM, mrsigner, 48) != 0)
        return dcap_fail(why, why_len, "TDX module identity check: %s",
                         "TDX module MRSIGNER mismatch");
    for (int i = 0; i < 8; i++) {
        if ((attributes[i] & mask[i]) != (seam_attr[i] & mask[i])) {
            snprintf(why, why_len,
                     "TDX module identity check: TDX module SEAMATTRIBUTES mismatch at byte %d", i);
            return false;
        }
        if (seam_attr[i] & (uint8_t)~mask[i]) {
            snprintf(why, why_len,
                     "TDX module identity check: TDX module SEAMATTRIBUTES has bits set outside "
                     "mask at byte %d",
                     i);
            return false;
        }
    }
    if (m == NULL)
        return true;
    for (size_t i = 0; i < m->n_levels; i++) {
        if (svn[0] >= m->levels[i].isvsvn) {
            *has_level = true;
            return dcap_tcb_copy(out, &m->levels[i].tcb) ||
                   dcap_fail(why, why_len, "%s", "out of memory");
        }
    }
    snprintf(why, why_len,
             "TDX module identity check: TDX module ISVSVN %u is below minimum required from TDX "
             "module TCB levels",
             svn[0]);
    return false;
}

bool dcap_tcb_match(const dcap_tcb_info *t, const dcap_quote *q, const dcap_pck_ext *pck,
                    dcap_tcb *out, char *why, size_t why_len)
{
    const uint8_t *tee = q->body + DCAP_TD_TEE_TCB_SVN;
    uint8_t bytes[64];
    size_t n;
    const dcap_tcb_level *hit = NULL;
    dcap_tcb module;
    bool has_module_level;

    memset(out, 0, sizeof(*out));
    why[0] = '\0';
    if (!hex_any(t->fmspc, bytes, sizeof(bytes), &n))
        return dcap_fail(why, why_len, "%s", "Failed to decode TCB FMSPC");
    if (n != 6 || memcmp(bytes, pck->fmspc, 6) != 0)
        return dcap_fail(why, why_len, "%s", "Fmspc mismatch");
    /* Intel's QVL requires the TCB info to be the PCK's PCE's; dcap-qvl skips it. */
    if (!hex_any(t->pce_id, bytes, sizeof(bytes), &n))
        return dcap_fail(why, why_len, "%s", "Failed to decode TCB PCE-ID");
    if (n != 2 || memcmp(bytes, pck->pceid, 2) != 0)
        return dcap_fail(why, why_len, "PCE-ID mismatch: TCB info %s is not the PCK certificate's",
                         t->pce_id);
    if (t->version < 3 || strcmp(t->id, "TDX") != 0)
        return dcap_fail(why, why_len, "%s", "TDX quote with non-TDX TCB info in the collateral");
    for (size_t i = 0; i < t->n_levels && hit == NULL; i++) {
        const dcap_tcb_level *l = &t->levels[i];
        bool below = false;

        if (pck->pcesvn < l->pcesvn)
            continue;
        if (l->sgx_n != 16) {
            snprintf(why, why_len, "SGX component count mismatch: expected 16, got %zu", l->sgx_n);
            return false;
        }
        for (int k = 0; k < 16 && !below; k++)
            below = pck->cpusvn[k] < l->sgx[k];
        if (below)
            continue;
        if (l->tdx_n != 16) {
            snprintf(why, why_len, "TDX component count mismatch: expected 16, got %zu", l->tdx_n);
            return false;
        }
        for (int k = 0; k < 16 && !below; k++)
            below = tee[k] < l->tdx[k];
        if (!below)
            hit = l;
    }
    if (hit == NULL)
        return dcap_fail(why, why_len, "%s", "No matching TCB level found");
    memset(&module, 0, sizeof(module));
    if (!dcap_tcb_copy(out, &hit->tcb) ||
        !module_check(t, q->body, &module, &has_module_level, why, why_len)) {
        if (why[0] == '\0')
            dcap_fail(why, why_len, "%s", "out of memory");
        dcap_advisories_free(&out->adv);
        dcap_advisories_free(&module.adv);
        return false;
    }
    if (has_module_level && !dcap_tcb_merge(out, &module)) {
        dcap_advisories_free(&module.adv);
        return dcap_fail(why, why_len, "%s", "out of memory");
    }
    dcap_advisories_free(&module.adv);
    return true;
}
