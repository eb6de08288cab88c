/* What the DCAP verifier takes as input (protocol.md §5.7): collateral JSON that is bad,
 * oversized or tampered gives a clear DSTACK_ERR_PROTOCOL naming the field, the JSON written
 * back verifies the same; options that make no sense with collateral and versioned structs are
 * usage errors; the handshake-time verifier's set-up errors (its handshakes:
 * tests/integration/ratls_verify.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>
#include <dstack/ratls.h>

#include "dcap_world.h"
#include "test_util.h"

static void check_json_error(const char *json, size_t len, const char *what)
{
    dstack_collateral *c = (dstack_collateral *)1;
    dstack_error err;

    dstack_error_clear(&err);
    CU_ASSERT_EQUAL(dstack_collateral_from_json(json, len, &c, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NULL(c);
    if (strstr(err.message, what) == NULL)
        fprintf(stderr, "expected \"%s\": %s\n", what, err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, what));
}

/* Replaces the first occurrence of `from` in `json` by `to` (malloc'd). */
static char *replace(const char *json, const char *from, const char *to)
{
    const char *at = strstr(json, from);
    size_t n = strlen(json) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    memcpy(out, json, (size_t)(at - json));
    strcpy(out + (at - json), to);
    strcat(out, at + strlen(from));
    return out;
}

static void test_collateral_json(void)
{
    world w;
    char *json, *bad, *back;
    dstack_collateral *c = NULL, *c2 = NULL;
    dstack_error err;
    run o;
    size_t len;
    uint8_t *q;

    dcap_world_init(&w);
    json = cf_collateral_json(&w.pki, NULL);
    q = cf_quote(&w.pki, &w.qs, &len);
    check_json_error("", 0, "not JSON");
    check_json_error("{", 1, "not JSON");
    check_json_error("[]", 2, "not an object");
    check_json_error("{} x", 4, "trailing characters");
    check_json_error("{}", 2, "field `pck_crl_issuer_chain` is missing");
    bad = replace(json, "\"pck_crl\":\"", "\"pck_crl\":\"0");
    check_json_error(bad, strlen(bad), "field `pck_crl` is not hex");
    free(bad);
    bad = replace(json, "\"pck_crl\":\"30", "\"pck_crl\":\"zz");
    check_json_error(bad, strlen(bad), "field `pck_crl` is not hex");
    free(bad);
    bad = replace(json, "\"tcb_info\":", "\"tcb_info\":3,\"x\":");
    check_json_error(bad, strlen(bad), "field `tcb_info` is not a string");
    free(bad);
    bad = replace(json, "{", "{\"qe_identity\":\"\",");
    check_json_error(bad, strlen(bad), "field `qe_identity` appears more than once");
    free(bad);
    bad = replace(json, "\"pck_crl\":\"30", "\"pck_crl\":\"0x30");
    check_json_error(bad, strlen(bad), "not hex");
    free(bad);
    bad = replace(json, "\"qe_identity_signature\"", "\"qe_identity_sig\"");
    check_json_error(bad, strlen(bad), "field `qe_identity_signature` is missing");
    free(bad);
    bad = replace(json, "-----BEGIN", "\\u0000-----BEGIN");
    check_json_error(bad, strlen(bad), "NUL");
    free(bad);
    bad = replace(json, "{", "{\"unknown\":[1,2,{\"x\":null}],\"pck_certificate_chain\":null,");
    CU_ASSERT_EQUAL(dstack_collateral_from_json(bad, strlen(bad), &c, &err), DSTACK_OK);
    dstack_collateral_free(c);
    c = NULL;
    free(bad);
    /* over the size limit */
    bad = calloc(1, DSTACK_COLLATERAL_MAX_JSON + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    memset(bad, ' ', DSTACK_COLLATERAL_MAX_JSON + 1);
    check_json_error(bad, DSTACK_COLLATERAL_MAX_JSON + 1, "over the");
    free(bad);
    /* a CRL that is no CRL: the JSON is fine, verification says what is wrong first */
    bad = replace(json, "\"root_ca_crl\":\"30", "\"root_ca_crl\":\"31");
    dcap_verify_at(&o, w.pki.root_pem, q, len, bad, CF_NOW, 0, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, "Failed to parse CRL"));
    free(bad);
    /* round trip: the same verdict from the JSON written back */
    CU_ASSERT_EQUAL(dstack_collateral_from_json(json, strlen(json), &c, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_collateral_next_update(c), CF_NEXT);
    CU_ASSERT_EQUAL(dstack_collateral_to_json(c, &back, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_collateral_from_json(back, strlen(back), &c2, &err), DSTACK_OK);
    dcap_verify_at(&o, w.pki.root_pem, q, len, back, CF_NOW, 0, 0);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    dstack_free(back);
    dstack_collateral_free(c);
    dstack_collateral_free(c2);
    CU_ASSERT_EQUAL(dstack_collateral_from_json(NULL, 0, &c, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_collateral_to_json(NULL, &back, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_collateral_next_update(NULL), 0);
    free(q);
    free(json);
    dcap_world_free(&w);
}

/* Options that make no sense with collateral, and versioned structs. */
static void test_usage(void)
{
    world w;
    size_t len;
    uint8_t *q;
    char *json, *two;
    dstack_collateral *c = NULL;
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};
    dstack_quote_verify_result r;
    dstack_error err;
    unsigned mask = 0;

    dcap_world_init(&w);
    q = cf_quote(&w.pki, &w.qs, &len);
    json = cf_collateral_json(&w.pki, NULL);
    CU_ASSERT_EQUAL_FATAL(dstack_collateral_from_json(json, strlen(json), &c, &err), DSTACK_OK);
    opts.collateral = c;
    opts.trusted_root_pem = w.pki.root_pem;
    opts.verification_time = CF_NOW;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_OK);
    opts.flags = DSTACK_QV_NO_TIME_CHECK;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    opts.flags = 0;
    two = malloc(2 * strlen(w.pki.root_pem) + 1);
    strcpy(two, w.pki.root_pem);
    strcat(two, w.pki.root_pem);
    opts.trusted_root_pem = two;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "exactly one trusted root"));
    opts.trusted_root_pem = "not a PEM";
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    opts.trusted_root_pem = w.pki.root_pem;
    opts.struct_size = 0;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)"));
    opts.struct_size = sizeof(opts) + 8;
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_ERR_USAGE);
    /* an older caller whose struct ends before `collateral`: offline verification */
    opts.struct_size = offsetof(dstack_quote_verify_opts, collateral);
    CU_ASSERT_EQUAL(dstack_tdx_quote_verify(q, len, &opts, &r, &err), DSTACK_OK);
    CU_ASSERT(!r.collateral_used && !r.tcb_status_checked);
    /* status lists */
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("UpToDate, SWHardeningNeeded", &mask, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(mask, 0x3u);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("OutOfDate,OutOfDateConfigurationNeeded", &mask, &err),
                    DSTACK_OK);
    CU_ASSERT_EQUAL(mask, 0x30u);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("Revoked", &mask, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask("uptodate", &mask, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_tcb_status_mask(" , ", &mask, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(dstack_tcb_status_name(DSTACK_TCB_REVOKED), "Revoked");
    CU_ASSERT_STRING_EQUAL(dstack_tcb_status_name((dstack_tcb_status)42), "unknown");
    free(two);
    free(json);
    free(q);
    dstack_collateral_free(c);
    dcap_world_free(&w);
}

/* The handshake-time verifier's set-up errors (its handshakes: tests/integration/ratls_verify.sh).
 */
static void test_verifier_usage(void)
{
    dstack_ratls_verifier_opts vo = {DSTACK_OPTIONS_INIT(dstack_ratls_verifier_opts)};
    dstack_ratls_policy policy = {DSTACK_OPTIONS_INIT(dstack_ratls_policy)};
    dstack_ratls_verifier *v = (dstack_ratls_verifier *)1;
    dstack_ratls_verification out;
    dstack_error err;
    char path[] = "/tmp/dcap-verifier-XXXXXX";
    int fd;

    unsetenv("DSTACK_PCCS_URL");
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no collateral source"));
    vo.offline_ok = true;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_ratls_verifier_verify(v, NULL, &out, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_ratls_ssl_ctx_install(NULL, v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_ratls_ssl_install(NULL, v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(dstack_ratls_ssl_failure(NULL));
    CU_ASSERT_PTR_NULL(dstack_ratls_ssl_verification(NULL));
    dstack_ratls_verifier_free(v);
    dstack_ratls_verifier_free(NULL);
    /* The verifier keeps its own reference to the policy's issuer (ASan: no use after free). */
    policy.issuer = X509_new();
    vo.policy = &policy;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_OK);
    X509_free(policy.issuer);
    policy.issuer = NULL;
    dstack_ratls_verifier_free(v);
    vo.policy = NULL;
    vo.offline_ok = false;
    vo.collateral_file = "/nonexistent/coll.json";
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot read the collateral file"));
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0 && write(fd, "{\"x\":1}", 7) == 7);
    close(fd);
    vo.collateral_file = path;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is missing"));
    unlink(path);
    vo.collateral_file = NULL;
    vo.pccs_url = "http://127.0.0.1:1";
    policy.struct_size = 3;
    vo.policy = &policy;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dstack_ratls_policy.struct_size"));
    vo.struct_size = 0;
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(&vo, &v, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_ratls_verifier_new(NULL, NULL, &err), DSTACK_ERR_USAGE);
}

int main(void)
{
    static const test_case cases[] = {
        {"collateral JSON input", test_collateral_json},
        {"usage errors and versioned options", test_usage},
        {"handshake-time verifier set-up", test_verifier_usage},
        {NULL, NULL},
    };
    return test_run_suite("dcap_inputs", cases);
}
