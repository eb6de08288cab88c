/* dstack_tdx_quote_verify with collateral: dcap-qvl's verification (dcap_verify.c,
 * protocol.md §5.6) reported through the public result, then the caller's TCB status policy. */
#include "attest/dcap_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The merged advisory IDs, comma-separated; false when they do not fit (fail closed: a
 * relying party must never see a shortened list). */
static bool join_advisories(const dcap_advisories *a, dstack_quote_verify_result *out)
{
    size_t used = 0;

    out->advisory_ids[0] = '\0';
    for (size_t i = 0; i < a->n; i++) {
        size_t n = strlen(a->ids[i]) + (i > 0);

        if (used + n >= sizeof(out->advisory_ids))
            return false;
        snprintf(out->advisory_ids + used, sizeof(out->advisory_ids) - used, "%s%s",
                 i > 0 ? "," : "", a->ids[i]);
        used += n;
    }
    out->advisory_id_count = a->n;
    return true;
}

static dstack_status verify_with(const uint8_t *quote, size_t len,
                                 const dstack_quote_verify_opts *opts, X509 *anchor,
                                 dstack_quote_verify_result *out, dstack_error *err);

static void copy_report(const dcap_result *r, dstack_quote_verify_result *out)
{
    static const uint8_t zero48[48];
    const dcap_quote *q = &r->quote;

    out->structure_ok = r->quote_ok;
    if (r->quote_ok && q->body_type != DCAP_BODY_SGX) {
        out->debug_td = (q->body[DCAP_TD_ATTRIBUTES] & 1) != 0;
        out->mr_signer_seam_zero = memcmp(q->body + DCAP_TD_MR_SIGNER_SEAM, zero48, 48) == 0;
    }
    if (r->quote_ok) {
        memcpy(out->qe_mr_enclave, q->qe_report + DCAP_QE_MR_ENCLAVE, 32);
        memcpy(out->qe_mr_signer, q->qe_report + DCAP_QE_MR_SIGNER, 32);
        out->qe_isv_prod_id = (uint16_t)(q->qe_report[DCAP_QE_ISV_PROD_ID] |
                                         q->qe_report[DCAP_QE_ISV_PROD_ID + 1] << 8);
        out->qe_isv_svn =
            (uint16_t)(q->qe_report[DCAP_QE_ISV_SVN] | q->qe_report[DCAP_QE_ISV_SVN + 1] << 8);
    }
    snprintf(out->pck_subject, sizeof(out->pck_subject), "%s", r->pck_subject);
    out->pck_chain_ok = r->pck_ok;
    out->revocation_checked = r->pck_ok;
    if (r->pck_ok) {
        memcpy(out->fmspc, r->pck.fmspc, 6);
        memcpy(out->cpu_svn, r->pck.cpusvn, 16);
        out->pce_svn = r->pck.pcesvn;
    }
    out->qe_report_signature_ok = r->qe_report_signature_ok;
    out->qe_report_binds_key = r->qe_report_binds_key;
    out->qe_identity_checked = r->qe_identity_ok;
    out->quote_signature_ok = r->quote_signature_ok;
    out->tcb_status_checked = r->tcb_matched;
    out->td_attributes_ok = r->td_attributes_ok;
    out->policy_ok = r->td_attributes_ok;
    if (r->tcb_matched) {
        out->tcb_status = r->final.status;
        out->platform_tcb_status = r->platform.status;
        out->qe_tcb_status = r->qe.status;
    }
}

dstack_status dcap_quote_verify_collateral(const uint8_t *quote, size_t len,
                                           const dstack_quote_verify_opts *opts,
                                           const char *root_pem, dstack_quote_verify_result *out,
                                           dstack_error *err)
{
    char why[DCAP_WHY_LEN];
    STACK_OF(X509) *anchors =
        dcap_collateral_certs(opts->collateral, root_pem, strlen(root_pem), 8, why, sizeof(why));
    dstack_status rc;

    if (anchors == NULL || sk_X509_num(anchors) != 1) {
        rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                              "verification with collateral takes exactly one trusted root "
                              "certificate (PEM), not %d",
                              anchors != NULL ? sk_X509_num(anchors) : 0);
        sk_X509_pop_free(anchors, X509_free);
        return rc;
    }
    rc = verify_with(quote, len, opts, sk_X509_value(anchors, 0), out, err);
    sk_X509_pop_free(anchors, X509_free);
    return rc;
}

static dstack_status verify_with(const uint8_t *quote, size_t len,
                                 const dstack_quote_verify_opts *opts, X509 *anchor,
                                 dstack_quote_verify_result *out, dstack_error *err)
{
    unsigned allowed = opts->allowed_tcb_statuses != 0
                           ? opts->allowed_tcb_statuses
                           : DSTACK_TCB_STATUS_BIT(DSTACK_TCB_UP_TO_DATE);
    dcap_params p = {quote,
                     len,
                     opts->collateral,
                     anchor,
                     opts->verification_time != 0 ? opts->verification_time : (int64_t)time(NULL),
                     (opts->flags & DSTACK_QV_ALLOW_DEBUG) != 0,
                     (opts->flags & DSTACK_QV_ALLOW_SERVICE_TD) != 0};
    dcap_result r;
    bool protocol_error = false, ok;
    char allowed_text[160] = "";
    dstack_status rc;

    ok = dcap_verify(&p, &r, out->dcap_error, sizeof(out->dcap_error), &protocol_error);
    out->collateral_used = true;
    out->collateral_expires = dstack_collateral_next_update(opts->collateral);
    copy_report(&r, out);
    if (!r.pck_ok && r.quote_ok && strstr(out->dcap_error, "certificate chain") != NULL)
        snprintf(out->chain_error, sizeof(out->chain_error), "%s", out->dcap_error);
    if (r.tcb_matched && !join_advisories(&r.final.adv, out)) {
        ok = false;
        snprintf(out->dcap_error, sizeof(out->dcap_error),
                 "the merged advisory IDs do not fit in %d bytes", DSTACK_ADVISORY_IDS_MAX);
    }
    out->dcap_ok = ok;
    out->tcb_status_allowed = ok && (allowed & DSTACK_TCB_STATUS_BIT(r.final.status)) != 0;
    out->verified = out->dcap_ok && out->tcb_status_allowed;
    if (out->verified) {
        rc = DSTACK_OK;
    } else if (!ok) {
        rc =
            dstack_error_set(err, protocol_error ? DSTACK_ERR_PROTOCOL : DSTACK_ERR_CRYPTO, NULL,
                             NULL, "DCAP verification with collateral failed: %s", out->dcap_error);
    } else {
        for (int s = DSTACK_TCB_UP_TO_DATE; s < DSTACK_TCB_REVOKED; s++) {
            if (allowed & DSTACK_TCB_STATUS_BIT(s))
                snprintf(allowed_text + strlen(allowed_text),
                         sizeof(allowed_text) - strlen(allowed_text), "%s%s",
                         allowed_text[0] ? ", " : "", dstack_tcb_status_name(s));
        }
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                              "TCB status %s is not allowed (allowed: %s)%s%s",
                              dstack_tcb_status_name(r.final.status), allowed_text,
                              out->advisory_ids[0] ? "; advisories " : "", out->advisory_ids);
    }
    dcap_result_free(&r);
    return rc;
}
