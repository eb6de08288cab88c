/* dstack provider — its openssl.cnf section (architecture.md §5), read once at provider load.
 *
 * The parameters are libdstack's configuration table (include/dstack/config.h): the provider
 * asks the core for every name of that table and hands the text to dstack_config_set(). It
 * adds what only an openssl.cnf section has: finding keys the table does not know (typos). */
#ifndef DSTACK_PROV_CONFIG_H
#define DSTACK_PROV_CONFIG_H

#include <stddef.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <dstack/config.h>

/* Builds the configuration from the provider's section (through core_get_params). On an
 * invalid, unknown or inconsistent setting returns NULL and writes a message naming the
 * parameter, the value and — for an unknown name — the closest valid one into `why`. */
dstack_config *dstack_prov_config_load(const OSSL_CORE_HANDLE *handle,
                                       OSSL_FUNC_core_get_params_fn *get_params, char *why,
                                       size_t why_len);

/* Writes the effective configuration to the debug log (level 1). */
void dstack_prov_config_log(const dstack_config *cfg, const char *endpoint,
                            const char *tappd_endpoint);

/* The names of the provider's own section that are not parameters of libdstack's table but
 * belong to OpenSSL's provider configuration (module, activate, …). Exposed for
 * config_file.c. */
int dstack_prov_config_is_openssl_key(const char *name);

/* Unknown keys in the section OpenSSL read for provider `prov_name` (config_file.c). Returns
 * 0 and fills `why` when the section holds a name that is neither a parameter nor one of
 * OpenSSL's; 1 otherwise, also when the section cannot be found (e.g. the application loaded
 * a configuration file of its own): then `note` says why the check was skipped. `seen[i]` is
 * the text the core handed over for parameter i of the table (NULL: none), used to make sure
 * the file is the one OpenSSL read. */
int dstack_prov_config_file_check(const char *prov_name, const char *const *seen, char *why,
                                  size_t why_len, char *note, size_t note_len);

#endif
