/* The forged Intel world the DCAP fuzz harnesses verify against (tests/lib/collateral_forge.h):
 * one PKI, one default quote, made on first use and kept for the process. */
#ifndef DSTACK_FUZZ_DCAP_WORLD_H
#define DSTACK_FUZZ_DCAP_WORLD_H

#include "collateral_forge.h"

typedef struct dcap_world {
    cf_pki pki;
    cf_platform plat;
    uint8_t *quote;
    size_t quote_len;
} dcap_world;

static inline const dcap_world *dcap_world_get(void)
{
    static dcap_world w;
    static bool made;
    cf_quote_spec qs;

    if (!made) {
        cf_platform_default(&w.plat);
        cf_pki_init(&w.pki, 0x51, &w.plat);
        cf_quote_spec_default(&qs);
        w.quote = cf_quote(&w.pki, &qs, &w.quote_len);
        made = true;
    }
    return &w;
}

#endif
