/* The DCAP tests' forged world (dcap_world.h). */
#include "dcap_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

void dcap_verify_at(run *o, const char *root_pem, const uint8_t *q, size_t len, const char *json,
                    int64_t now, unsigned flags, unsigned allowed)
{
    dstack_collateral *c = NULL;
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};

    dstack_error_clear(&o->err);
    memset(&o->r, 0, sizeof(o->r));
    o->rc = dstack_collateral_from_json(json, strlen(json), &c, &o->err);
    CU_ASSERT_EQUAL_FATAL(o->rc, DSTACK_OK);
    opts.trusted_root_pem = root_pem;
    opts.verification_time = now;
    opts.flags = flags;
    opts.collateral = c;
    opts.allowed_tcb_statuses = allowed;
    o->rc = dstack_tdx_quote_verify(q, len, &opts, &o->r, &o->err);
    if (o->rc != DSTACK_OK && getenv("TEST_VERBOSE") != NULL)
        fprintf(stderr, "  -> %s\n", o->err.message);
    dstack_collateral_free(c);
}

void dcap_world_init(world *w)
{
    memset(w, 0, sizeof(*w));
    cf_platform_default(&w->plat);
    cf_pki_init(&w->pki, 0x41, &w->plat);
    cf_quote_spec_default(&w->qs);
    cf_tcb_spec_default(&w->ts);
    cf_qe_spec_default(&w->es);
}

void dcap_world_free(world *w)
{
    cf_pki_free(&w->pki);
}

void dcap_world_run(world *w, run *o, int64_t now, unsigned flags, unsigned allowed)
{
    size_t len;
    uint8_t *q = cf_quote(&w->pki, &w->qs, &len);
    char *tcb = cf_tcb_info_text(&w->ts), *qe = cf_qe_identity_text(&w->es), *json;
    cf_collateral c = w->col;

    c.tcb_info = c.tcb_info ? c.tcb_info : tcb;
    c.qe_identity = c.qe_identity ? c.qe_identity : qe;
    json = cf_collateral_json(&w->pki, &c);
    dcap_verify_at(o, w->pki.root_pem, q, len, json, now, flags, allowed);
    free(json);
    free(tcb);
    free(qe);
    free(q);
}

void dcap_expect_reject(world *w, int64_t now, unsigned flags, const char *what)
{
    run o;

    dcap_world_run(w, &o, now, flags, ALL_STATUSES);
    if (o.rc == DSTACK_OK || strstr(o.err.message, what) == NULL)
        fprintf(stderr, "expected \"%s\", got rc %d: %s\n", what, o.rc, o.err.message);
    CU_ASSERT_NOT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(!o.r.dcap_ok && !o.r.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err.message, what));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.r.dcap_error, what));
}

void dcap_expect_status(world *w, dstack_tcb_status status, const char *advisories)
{
    run o;

    dcap_world_run(w, &o, CF_NOW, 0, ALL_STATUSES);
    if (o.rc != DSTACK_OK)
        fprintf(stderr, "expected %s, got: %s\n", dstack_tcb_status_name(status), o.err.message);
    CU_ASSERT_EQUAL(o.rc, DSTACK_OK);
    CU_ASSERT(o.r.dcap_ok && o.r.verified && o.r.tcb_status_allowed);
    CU_ASSERT_EQUAL(o.r.tcb_status, status);
    CU_ASSERT_STRING_EQUAL(o.r.advisory_ids, advisories);
}
