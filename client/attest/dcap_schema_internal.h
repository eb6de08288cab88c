/* libdstack internal — serde-like field readers shared by the TCB info and QE identity
 * parsers (dcap_schema.c). Not installed. */
#ifndef DSTACK_DCAP_SCHEMA_INTERNAL_H
#define DSTACK_DCAP_SCHEMA_INTERNAL_H

#include "attest/dcap_internal.h"

typedef struct dcap_doc_err {
    char why[256];
} dcap_doc_err;

/* `key` of `obj`: false (e->why set) when repeated, or missing and required; *out NULL when
 * absent and optional. */
bool dcap_field(const dstack_jv *obj, const char *key, bool required, const dstack_jv **out,
                dcap_doc_err *e);
bool dcap_field_string(const dstack_jv *obj, const char *key, char **out, dcap_doc_err *e);
bool dcap_field_uint(const dstack_jv *obj, const char *key, uint64_t max, uint64_t *out,
                     dcap_doc_err *e);
/* Exactly `len` bytes of hex (serde's fixed-size byte fields). */
bool dcap_field_hex(const dstack_jv *obj, const char *key, uint8_t *out, size_t len,
                    dcap_doc_err *e);
/* An array (`required` false: absent gives *out NULL, the default empty list). */
bool dcap_field_array(const dstack_jv *obj, const char *key, bool required, const dstack_jv **out,
                      dcap_doc_err *e);
/* tcbDate (required, unused), tcbStatus and advisoryIDs of one TCB level. */
bool dcap_field_status(const dstack_jv *level, dcap_tcb *out, dcap_doc_err *e);

#endif
