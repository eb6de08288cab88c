/* The reference-PEM payload (architecture.md §6) through libdstack's codec — the parser the
 * provider's decoder and dstack-keytool use (client/resolve/keyref.c). Whatever decodes must
 * re-encode to the same bytes' meaning: encode(uri) decodes back to the same URI. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/keyref.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *uri = NULL, *back = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    bool ours = false, again = false;

    if (dstack_keyref_decode(data, size, &uri, &ours, NULL) != DSTACK_OK)
        return 0;
    if (!ours || uri == NULL || uri[0] == '\0')
        abort();
    if (dstack_keyref_encode(uri, &der, &der_len, NULL) != DSTACK_OK ||
        dstack_keyref_decode(der, der_len, &back, &again, NULL) != DSTACK_OK || !again ||
        strcmp(uri, back) != 0)
        abort();
    free(back);
    free(der);
    free(uri);
    return 0;
}
