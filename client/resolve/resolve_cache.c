/* The per-process cache of resolved objects (architecture.md §4 "Cache").
 *
 * Keyed by canonical URI + endpoints (the caller builds the key), so spelling variants of a
 * URI share an entry and two agents never do. Entries hold the PKCS#8 key in OpenSSL's
 * secure heap (dstack_resolved_free cleanses it). An entry resolved with certificates also
 * serves key-only loads; the reverse is a miss, and the fuller result replaces the entry.
 * The resolver's lock guards every call; after fork() the child starts empty
 * (resolve.c), so the cache is strictly per process.
 */
#include "resolve/resolve_internal.h"

#include <stdlib.h>
#include <string.h>

const dstack_resolved *resolve_cache_get(const resolve_cache *c, const char *key, unsigned want)
{
    for (const resolve_cache_entry *e = c->head; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return (e->want & want) == want ? e->obj : NULL;
    return NULL;
}

static void entry_free(resolve_cache_entry *e)
{
    dstack_resolved_free(e->obj);
    free(e->key);
    free(e);
}

dstack_status resolve_cache_put(resolve_cache *c, const char *key, unsigned want,
                                dstack_resolved *obj, dstack_error *err)
{
    resolve_cache_entry *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        dstack_resolved_free(obj);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    e->want = want;
    e->obj = obj;
    /* Drop an older entry for the same key, and the oldest beyond the bound. */
    for (resolve_cache_entry **p = &c->head; *p != NULL;) {
        if (strcmp((*p)->key, key) == 0) {
            resolve_cache_entry *old = *p;
            *p = old->next;
            entry_free(old);
            c->count--;
        } else {
            p = &(*p)->next;
        }
    }
    e->next = c->head;
    c->head = e;
    c->count++;
    if (c->count > RESOLVE_CACHE_MAX) {
        resolve_cache_entry **p = &c->head;
        while ((*p)->next != NULL)
            p = &(*p)->next;
        entry_free(*p);
        *p = NULL;
        c->count--;
    }
    return DSTACK_OK;
}

void resolve_cache_clear(resolve_cache *c)
{
    resolve_cache_entry *e = c->head;
    while (e != NULL) {
        resolve_cache_entry *next = e->next;
        entry_free(e);
        e = next;
    }
    c->head = NULL;
    c->count = 0;
}
