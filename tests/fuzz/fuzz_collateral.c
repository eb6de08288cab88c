/* QuoteCollateralV3 JSON (protocol.md §5.7): dstack_collateral_from_json on anything, and on
 * what it accepts a verification of a forged quote (dcap-qvl's whole order, protocol.md §5.6) and
 * a JSON round trip. Invariants: status and result agree, an accepted quote had a TCB level
 * that is not Revoked, and the collateral written back reads back to the same nextUpdate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/collateral.h>

#include "dcap_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dcap_world *w = dcap_world_get();
    dstack_collateral *c = NULL, *again = NULL;
    dstack_quote_verify_opts o = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};
    dstack_quote_verify_result r;
    dstack_error err;
    dstack_status rc;
    char *json = NULL;

    if (dstack_collateral_from_json((const char *)data, size, &c, &err) != DSTACK_OK)
        return 0;
    o.trusted_root_pem = w->pki.root_pem;
    o.verification_time = CF_NOW;
    o.collateral = c;
    o.allowed_tcb_statuses = 0x3f;
    rc = dstack_tdx_quote_verify(w->quote, w->quote_len, &o, &r, &err);
    if ((rc == DSTACK_OK) != r.verified || (r.verified && !r.dcap_ok))
        abort();
    if (r.dcap_ok && (!r.tcb_status_checked || r.tcb_status == DSTACK_TCB_REVOKED))
        abort();
    if (dstack_collateral_to_json(c, &json, &err) != DSTACK_OK ||
        dstack_collateral_from_json(json, strlen(json), &again, &err) != DSTACK_OK ||
        dstack_collateral_next_update(again) != dstack_collateral_next_update(c))
        abort();
    dstack_free(json);
    dstack_collateral_free(again);
    dstack_collateral_free(c);
    return 0;
}
