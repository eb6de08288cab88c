/* The forged world of the DCAP verification tests (test_dcap_verify.c, test_dcap_inputs.c): a
 * test PKI, a quote and the TCB info / QE identity specs of tests/lib/collateral_forge.h, and
 * one verification of a quote with its collateral JSON. */
#ifndef DCAP_WORLD_H
#define DCAP_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>

#include "collateral_forge.h"

#define ALL_STATUSES 0x3fu

/* One verification: quote, collateral JSON, time, flags and allowed statuses. */
typedef struct run {
    dstack_quote_verify_result r;
    dstack_error err;
    dstack_status rc;
} run;

/* The forged world of one test: PKI, quote spec, TCB info and QE identity specs, collateral. */
typedef struct world {
    cf_pki pki;
    cf_platform plat;
    cf_quote_spec qs;
    cf_tcb_spec ts;
    cf_qe_spec es;
    cf_collateral col;
} world;

void dcap_verify_at(run *o, const char *root_pem, const uint8_t *q, size_t len, const char *json,
                    int64_t now, unsigned flags, unsigned allowed);
void dcap_world_init(world *w);
void dcap_world_free(world *w);
/* Verifies the world's quote with its collateral at `now`. */
void dcap_world_run(world *w, run *o, int64_t now, unsigned flags, unsigned allowed);
/* The world's verdict must be a rejection whose message contains `what`. */
void dcap_expect_reject(world *w, int64_t now, unsigned flags, const char *what);
/* The world's verdict must be `status` with these advisory IDs, allowed. */
void dcap_expect_status(world *w, dstack_tcb_status status, const char *advisories);

#endif
