/* CRLs (protocol.md §5.6): dcap_crl_parse on any DER, and what it accepts used as both the root
 * CA CRL and the PCK CRL for the root check and the forged PCK chain. A chain that verifies
 * with a CRL must have had it speak for every certificate on the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/dcap_internal.h"
#include "crypto/untrusted.h"
#include "dcap_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dcap_world *w = dcap_world_get();
    OSSL_LIB_CTX *lib = dstack_untrusted_acquire();
    char why[DCAP_WHY_LEN];
    X509_CRL *crl = dcap_crl_parse(data, size, why, sizeof(why));
    X509_CRL *crls[2] = {crl, crl};
    STACK_OF(X509) *chain = NULL;
    dcap_chain_ctx c = {w->pki.root, crls, CF_NOW, NULL};
    bool root_ok, chain_ok;

    if (crl != NULL) {
        chain =
            dcap_pem_certs(w->pki.pck_chain_pem, strlen(w->pki.pck_chain_pem), 8, why, sizeof(why));
        if (chain == NULL)
            abort();
        root_ok = dcap_root_crl_check(&c, why, sizeof(why));
        chain_ok = dcap_chain_verify(&c, chain, why, sizeof(why));
        /* one CRL cannot speak for both the leaf (issued by the CA) and the CA (by the root) */
        if (chain_ok)
            abort();
        (void)root_ok;
        sk_X509_pop_free(chain, X509_free);
        X509_CRL_free(crl);
    }
    dstack_untrusted_release(lib);
    return 0;
}
