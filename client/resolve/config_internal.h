/* libdstack internal — the fields behind the opaque dstack_config (config.c), read by the
 * resolver. Not installed. */
#ifndef DSTACK_CONFIG_INTERNAL_H
#define DSTACK_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/config.h>
#include <dstack/uri.h>

#define DSTACK_TIMEOUT_MS_DEFAULT 5000L
#define DSTACK_TIMEOUT_MS_MAX 600000L

struct dstack_config {
    char *endpoint;       /* NULL → discovery (protocol.md §1.2) */
    char *tappd_endpoint; /* NULL → discovery */
    long timeout_ms;
    dstack_cert_mode cert;
    dstack_ratls_mode ratls;
    bool cache;
    bool has_kms_root;
    uint8_t kms_root[33]; /* compressed secp256k1 */
    bool has_app_id;
    uint8_t app_id[32];
    size_t app_id_len;
    OSSL_LIB_CTX *libctx; /* borrowed; NULL = OpenSSL's default context */
    char *propq;          /* NULL = none */
    dstack_debug_fn debug;
    void *debug_ctx;
    unsigned explicit_mask; /* bit i: parameter i of the table was set */
};

#endif
