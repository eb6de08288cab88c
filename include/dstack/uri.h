/* libdstack — the dstack: key URI (architecture.md §3, a contract).
 *
 *   dstack:<path>[?<param>=<value>[&<param>=<value>]...]
 */
#ifndef DSTACK_URI_H
#define DSTACK_URI_H

#include <stdbool.h>
#include <stddef.h>

#include <dstack/error.h>
#include <dstack/keys.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef enum dstack_cert_mode {
    DSTACK_CERT_AUTO = 0,
    DSTACK_CERT_AGENT,
    DSTACK_CERT_SELF,
    DSTACK_CERT_NONE
} dstack_cert_mode;

typedef enum dstack_ratls_mode {
    DSTACK_RATLS_AUTO = 0,
    DSTACK_RATLS_ATTEST,
    DSTACK_RATLS_QUOTE,
    DSTACK_RATLS_BOTH,
    DSTACK_RATLS_NO
} dstack_ratls_mode;

typedef struct dstack_uri {
    char *path; /* percent-decoded; "" only when ephemeral */
    dstack_key_alg alg;
    char *purpose; /* "" when absent */
    dstack_cert_mode cert;
    bool cert_set; /* false → provider default applies */
    dstack_ratls_mode ratls;
    bool ratls_set;
    char *cn;   /* NULL → the path (or "dstack" for an ephemeral key) */
    char **san; /* DNS names or IP literals, in URI order */
    size_t san_count;
    bool usage_server; /* default true */
    bool usage_client;
    bool app_info;
    bool ephemeral;
} dstack_uri;

/* Parses strictly: scheme must be "dstack:", unknown or repeated parameters (except san),
 * bad percent-escapes, empty values, empty path without ephemeral=yes, path with
 * ephemeral=yes, and non-p256 alg with ephemeral are DSTACK_ERR_USAGE errors whose
 * message names the URI and the offending part. */
dstack_status dstack_uri_parse(const char *text, dstack_uri *out, dstack_error *err);
void dstack_uri_free(dstack_uri *uri);

/* Canonical text (parameters in a fixed order, defaults omitted) — the cache key; it always
 * parses again to the same URI. Caller frees with free(). */
char *dstack_uri_canonical(const dstack_uri *uri);
/* The parameter names in canonical order, NULL past the end (documentation, tests). */
const char *dstack_uri_param_name(size_t index);

const char *dstack_cert_mode_name(dstack_cert_mode mode); /* "auto", "agent", "self", "none" */
const char *dstack_ratls_mode_name(dstack_ratls_mode m);  /* "auto", "attest", … */
bool dstack_cert_mode_parse(const char *text, dstack_cert_mode *out);
bool dstack_ratls_mode_parse(const char *text, dstack_ratls_mode *out);
/* The accepted words for messages and documentation: "auto, agent, self or none". */
const char *dstack_cert_mode_choices(void);
const char *dstack_ratls_mode_choices(void);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
