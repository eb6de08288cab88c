/* Helpers shared by the resolver tests (test_resolve.c, test_resolve_faults.c). */
#ifndef TEST_RESOLVE_UTIL_H
#define TEST_RESOLVE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include <dstack/resolve.h>

/* A resolver on the simulator of with-sim.sh (endpoints by discovery from the env). `tweak`
 * sets further parameters with tr_set(). */
dstack_resolver *tr_resolver(bool cache, void (*tweak)(dstack_config *cfg));
/* dstack_config_set that must succeed. */
void tr_set(dstack_config *cfg, const char *name, const char *value);

/* dstack_resolve that must succeed; prints the error and fails the test otherwise. */
dstack_resolved *tr_resolve_ok(dstack_resolver *r, const char *uri, unsigned want);

/* dstack_resolve that must fail with `status` and a message containing every needle
 * (NULL-terminated list). */
void tr_resolve_fails(dstack_resolver *r, const char *uri, unsigned want, dstack_status status,
                      const char *const needles[]);

X509 *tr_cert(const dstack_resolved *res, size_t i);
bool tr_has_ext(X509 *cert, const char *oid);

/* requests.<service> and connections.<service> of the simulator's GET /stats. */
long tr_sim_stat(const char *group, const char *service);

#endif
