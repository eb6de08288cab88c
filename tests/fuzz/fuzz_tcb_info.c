/* TCB info JSON (protocol.md §5.6, §5.7): dcap_tcb_info_parse on anything, and TCB level
 * matching of the forged platform and TD report against what it accepts. A match yields one of
 * Intel's statuses; the levels are in canonical order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/dcap_internal.h"
#include "dcap_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dcap_world *w = dcap_world_get();
    char why[DCAP_WHY_LEN];
    dcap_tcb_info *t = dcap_tcb_info_parse((const char *)data, size, why, sizeof(why));
    dcap_quote q;
    dcap_pck_ext pck = {0};
    dcap_tcb out;

    if (t == NULL)
        return 0;
    if (!dcap_quote_walk(w->quote, w->quote_len, &q, why, sizeof(why)))
        abort();
    memcpy(pck.cpusvn, w->plat.cpusvn, 16);
    pck.pcesvn = w->plat.pcesvn;
    memcpy(pck.fmspc, w->plat.fmspc, 6);
    memcpy(pck.pceid, w->plat.pceid, 2);
    if (dcap_tcb_match(t, &q, &pck, &out, why, sizeof(why))) {
        if (out.status > DSTACK_TCB_REVOKED)
            abort();
        dcap_advisories_free(&out.adv);
    }
    for (size_t i = 1; i < t->n_levels; i++) {
        if (t->levels[i - 1].pcesvn < t->levels[i].pcesvn && t->levels[i - 1].sgx_n == 16 &&
            t->levels[i].sgx_n == 16 && memcmp(t->levels[i - 1].sgx, t->levels[i].sgx, 16) == 0)
            abort(); /* equal SGX components: descending PCESVN */
    }
    dcap_tcb_info_free(t);
    return 0;
}
