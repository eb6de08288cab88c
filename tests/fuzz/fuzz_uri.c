/* dstack_uri_parse on arbitrary text, with the canonical-form invariant (architecture.md §3: the
 * canonical text is the cache key, so it must be a fixed point):
 *   parse(x) ok  ⇒  c = canonical(parse(x)) parses, and canonical(parse(c)) == c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/uri.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *canon = NULL, *again = NULL;
    dstack_uri uri, reparsed;
    dstack_error err;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (dstack_uri_parse(text, &uri, &err) != DSTACK_OK)
        goto done;
    canon = dstack_uri_canonical(&uri);
    if (canon == NULL)
        abort();
    if (dstack_uri_parse(canon, &reparsed, &err) != DSTACK_OK) {
        fprintf(stderr, "canonical form \"%s\" does not parse: %s\n", canon, err.message);
        abort();
    }
    again = dstack_uri_canonical(&reparsed);
    if (again == NULL || strcmp(again, canon) != 0) {
        fprintf(stderr, "canonical form is not stable: \"%s\" -> \"%s\"\n", canon,
                again != NULL ? again : "(null)");
        abort();
    }
    dstack_uri_free(&reparsed);
    dstack_uri_free(&uri);
done:
    free(again);
    free(canon);
    free(text);
    return 0;
}
