/* dstack-keytool verify — the report of a quote or RA-TLS verification, as text or JSON
 * (docs/dstack-keytool.md lists the JSON fields). */
#include "keytool_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static const char *ok(bool b)
{
    return b ? "ok" : "FAILED";
}

static void print_quote_text(const dstack_quote_verify_result *r)
{
    printf("quote structure:        %s\n", ok(r->structure_ok));
    if (!r->structure_ok)
        return;
    printf("quote signature:        %s (attestation key over header and TD report)\n",
           ok(r->quote_signature_ok));
    printf("QE report binds key:    %s\n", ok(r->qe_report_binds_key));
    printf("QE report signature:    %s (PCK certificate key)\n", ok(r->qe_report_signature_ok));
    if (r->pck_chain_ok)
        printf("PCK chain:              ok (%s)\n", r->pck_subject);
    else
        printf("PCK chain:              FAILED: %s\n", r->chain_error);
    printf("debug TD:               %s\n", r->debug_td ? "YES" : "no");
    printf("MRSIGNERSEAM all zero:  %s\n", r->mr_signer_seam_zero ? "yes" : "no");
    printf("TD attributes:          %s\n", ok(r->td_attributes_ok));
    if (!r->collateral_used) {
        printf("TDX quote (DCAP):       %s\n", r->verified ? "VERIFIED (offline)" : "NOT VERIFIED");
        printf("TCB status:             not checked (needs Intel collateral: --collateral or "
               "--pccs-url)\n");
        printf("revocation (CRLs):      not checked (needs Intel collateral)\n");
        printf("QE identity:            not checked (needs Intel collateral)\n");
        return;
    }
    printf("QE identity:            %s\n", ok(r->qe_identity_checked));
    printf("revocation (CRLs):      %s\n", ok(r->revocation_checked));
    printf("DCAP with collateral:   %s\n", r->dcap_ok ? "ok" : "FAILED");
    if (!r->dcap_ok)
        printf("DCAP failure:           %s\n", r->dcap_error);
    if (r->tcb_status_checked) {
        printf("TCB status:             %s (%s)\n", dstack_tcb_status_name(r->tcb_status),
               r->tcb_status_allowed ? "allowed" : "NOT ALLOWED");
        printf("advisory IDs:           %s\n", r->advisory_ids[0] ? r->advisory_ids : "(none)");
    }
    printf("collateral expires:     %lld (UNIX time, earliest nextUpdate)\n",
           (long long)r->collateral_expires);
}

static json_object *advisories_json(const dstack_quote_verify_result *r)
{
    json_object *a = json_object_new_array();
    const char *p = r->advisory_ids;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");

        json_object_array_add(a, json_object_new_string_len(p, (int)n));
        p += n;
        if (*p == ',')
            p++;
    }
    return a;
}

static json_object *quote_json(const dstack_quote_verify_result *r)
{
    json_object *o = json_object_new_object();
    char *fmspc = kt_hex(r->fmspc, sizeof(r->fmspc));

    json_object_object_add(o, "structure_ok", json_object_new_boolean(r->structure_ok));
    json_object_object_add(o, "signature_ok", json_object_new_boolean(r->quote_signature_ok));
    json_object_object_add(o, "qe_report_binds_key",
                           json_object_new_boolean(r->qe_report_binds_key));
    json_object_object_add(o, "qe_report_signature_ok",
                           json_object_new_boolean(r->qe_report_signature_ok));
    json_object_object_add(o, "pck_chain_ok", json_object_new_boolean(r->pck_chain_ok));
    json_object_object_add(o, "pck_subject", json_object_new_string(r->pck_subject));
    json_object_object_add(o, "chain_error", json_object_new_string(r->chain_error));
    json_object_object_add(o, "debug_td", json_object_new_boolean(r->debug_td));
    json_object_object_add(o, "mr_signer_seam_zero",
                           json_object_new_boolean(r->mr_signer_seam_zero));
    json_object_object_add(o, "td_attributes_ok", json_object_new_boolean(r->td_attributes_ok));
    json_object_object_add(o, "policy_ok", json_object_new_boolean(r->policy_ok));
    json_object_object_add(o, "verified", json_object_new_boolean(r->verified));
    json_object_object_add(o, "collateral_used", json_object_new_boolean(r->collateral_used));
    json_object_object_add(o, "dcap_ok",
                           r->collateral_used ? json_object_new_boolean(r->dcap_ok) : NULL);
    json_object_object_add(o, "dcap_error",
                           r->collateral_used && !r->dcap_ok ? json_object_new_string(r->dcap_error)
                                                             : NULL);
    json_object_object_add(o, "tcb_status",
                           r->tcb_status_checked
                               ? json_object_new_string(dstack_tcb_status_name(r->tcb_status))
                               : NULL);
    json_object_object_add(o, "tcb_status_allowed",
                           r->tcb_status_checked ? json_object_new_boolean(r->tcb_status_allowed)
                                                 : NULL);
    json_object_object_add(o, "platform_tcb_status",
                           r->tcb_status_checked ? json_object_new_string(dstack_tcb_status_name(
                                                       r->platform_tcb_status))
                                                 : NULL);
    json_object_object_add(o, "qe_tcb_status",
                           r->tcb_status_checked
                               ? json_object_new_string(dstack_tcb_status_name(r->qe_tcb_status))
                               : NULL);
    json_object_object_add(o, "advisory_ids", r->tcb_status_checked ? advisories_json(r) : NULL);
    json_object_object_add(o, "collateral_expires",
                           r->collateral_used ? json_object_new_int64(r->collateral_expires)
                                              : NULL);
    json_object_object_add(o, "fmspc",
                           r->collateral_used && r->pck_chain_ok && fmspc != NULL
                               ? json_object_new_string(fmspc)
                               : NULL);
    json_object_object_add(o, "tcb_status_checked", json_object_new_boolean(r->tcb_status_checked));
    json_object_object_add(o, "revocation_checked", json_object_new_boolean(r->revocation_checked));
    json_object_object_add(o, "qe_identity_checked",
                           json_object_new_boolean(r->qe_identity_checked));
    free(fmspc);
    return o;
}

static void add_hex(json_object *o, const char *key, bool present, const uint8_t *b, size_t n)
{
    char *hex = present ? kt_hex(b, n) : NULL;

    json_object_object_add(o, key, hex != NULL ? json_object_new_string(hex) : NULL);
    free(hex);
}

static void print_hex_line(const char *label, bool present, const uint8_t *b, size_t n)
{
    char *hex = present ? kt_hex(b, n) : NULL;

    printf("%-23s %s\n", label, hex != NULL ? hex : "(none)");
    free(hex);
}

void kt_report_cert(const kt_options *opts, const char *source, const dstack_ratls_verification *v,
                    const dstack_error *err)
{
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "source", json_object_new_string(source));
        json_object_object_add(o, "verified", json_object_new_boolean(err == NULL));
        json_object_object_add(o, "cert_signature_ok",
                               json_object_new_boolean(v->cert_signature_ok));
        json_object_object_add(o, "cert_time_ok", json_object_new_boolean(v->cert_time_ok));
        json_object_object_add(o, "has_attestation", json_object_new_boolean(v->has_attestation));
        json_object_object_add(o, "report_data_binds_key",
                               json_object_new_boolean(v->report_data_binds_key));
        json_object_object_add(o, "rtmr3_matches", json_object_new_boolean(v->rtmr3_matches));
        json_object_object_add(o, "quote", quote_json(&v->quote_result));
        add_hex(o, "app_id", v->has_app_id, v->app_id, sizeof(v->app_id));
        add_hex(o, "compose_hash", v->has_compose_hash, v->compose_hash, 32);
        add_hex(o, "mr_aggregated", v->quote_parsed, v->mr_aggregated, 32);
        json_object_object_add(o, "policy_checked", json_object_new_boolean(v->policy_checked));
        json_object_object_add(o, "policy_ok", json_object_new_boolean(v->policy_ok));
        json_object_object_add(o, "error",
                               err == NULL ? NULL : json_object_new_string(err->message));
        kt_print_json(o);
        return;
    }
    printf("source:                 %s\n", source);
    printf("certificate signature:  %s\n", ok(v->cert_signature_ok));
    printf("certificate validity:   %s\n", ok(v->cert_time_ok));
    if (v->quote_parsed) {
        printf("report_data binds key:  %s\n", ok(v->report_data_binds_key));
        printf("RTMR3 replay:           %s\n", ok(v->rtmr3_matches));
        print_quote_text(&v->quote_result);
        print_hex_line("app id:", v->has_app_id, v->app_id, sizeof(v->app_id));
        print_hex_line("compose hash:", v->has_compose_hash, v->compose_hash, 32);
        print_hex_line("mr_aggregated:", true, v->mr_aggregated, 32);
        if (v->policy_checked)
            printf("policy:                 %s\n", ok(v->policy_ok));
    }
    printf("result:                 %s\n", err == NULL ? "VERIFIED" : "NOT VERIFIED");
    if (err != NULL)
        printf("reason:                 %s\n", err->message);
}

void kt_report_quote(const kt_options *opts, const char *source,
                     const dstack_quote_verify_result *r, const dstack_error *err)
{
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "source", json_object_new_string(source));
        json_object_object_add(o, "verified", json_object_new_boolean(err == NULL));
        json_object_object_add(o, "quote", quote_json(r));
        json_object_object_add(o, "error",
                               err == NULL ? NULL : json_object_new_string(err->message));
        kt_print_json(o);
        return;
    }
    printf("source:                 %s\n", source);
    print_quote_text(r);
    printf("result:                 %s\n", err == NULL ? "VERIFIED" : "NOT VERIFIED");
    if (err != NULL)
        printf("reason:                 %s\n", err->message);
}
