/* QE identity JSON (protocol.md §5.6, §5.7): dcap_qe_identity_parse on anything, and the QE
 * identity policy of the forged quote's QE report against what it accepts. */
#include <stdint.h>
#include <stdlib.h>

#include "attest/dcap_internal.h"
#include "dcap_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dcap_world *w = dcap_world_get();
    char why[DCAP_WHY_LEN];
    dcap_qe_identity *id = dcap_qe_identity_parse((const char *)data, size, why, sizeof(why));
    dcap_quote q;
    dcap_tcb out;

    if (id == NULL)
        return 0;
    if (!dcap_quote_walk(w->quote, w->quote_len, &q, why, sizeof(why)))
        abort();
    if (dcap_qe_policy(id, q.qe_report, &out, why, sizeof(why))) {
        if (id->n_levels == 0 || out.status > DSTACK_TCB_REVOKED)
            abort();
        dcap_advisories_free(&out.adv);
    }
    dcap_qe_identity_free(id);
    return 0;
}
