/* Self-issued RA-TLS certificates (architecture.md §4 cert=self;
 * protocol.md §4.1, §4.2, §4.5.3, §4.8).
 *
 * The certificate is self-signed with the derived key. Its evidence (gathered by
 * resolve_certs.c over report_data = SHA-512("ratls-cert:" || SPKI DER)) goes into the
 * dstack extensions, each non-critical with the double OCTET STRING wrapping of protocol.md §4.1,
 * in the agent's order: app info (.1.9), attestation (.1.8), then the legacy quote (.1.1)
 * and event log (.1.2) that verifiers older than 0.5.9 read.
 *
 * Validity: notBefore is 1975-01-01T00:00:00Z, as the agent's leaves (protocol.md §4.6), so a
 * guest whose clock is wrong at boot still accepts its own certificate; notAfter is
 * issuance + 3650 days, also the agent's default. The identity is the key, which never
 * changes for a path; the certificate is re-made on every (uncached) load. The serial is
 * 16 random bytes rather than rcgen's key hash: each load mints a different certificate
 * for the same key and issuer name, and RFC 5280 wants issuer+serial to be unique.
 */
#include "resolve/resolve_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "crypto/pkey_util.h"

#define RATLS_NOT_BEFORE 157766400LL /* 1975-01-01T00:00:00Z */
#define RATLS_LIFETIME (3650LL * 24 * 3600)

#define RATLS_CN_MAX 64 /* ub-common-name, RFC 5280 */

static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

void ratls_evidence_clear(ratls_evidence *ev)
{
    if (ev == NULL)
        return;
    free(ev->attestation);
    free(ev->quote);
    free(ev->event_log_json);
    free(ev->app_info);
    memset(ev, 0, sizeof(*ev));
}

dstack_status ratls_cert_build(const dstack_config *cfg, EVP_PKEY *key, const dstack_uri *uri,
                               const ratls_evidence *ev, X509 **out, dstack_error *err)
{
    dstack_cert_ext exts[4];
    size_t n = 0;
    dstack_cert_spec spec;

    if (ev->app_info != NULL)
        exts[n++] = (dstack_cert_ext){DSTACK_OID_APP_INFO, ev->app_info, ev->app_info_len};
    if (ev->attestation != NULL)
        exts[n++] = (dstack_cert_ext){DSTACK_OID_ATTESTATION, ev->attestation, ev->attestation_len};
    if (ev->quote != NULL) {
        exts[n++] = (dstack_cert_ext){DSTACK_OID_TDX_QUOTE, ev->quote, ev->quote_len};
        exts[n++] = (dstack_cert_ext){DSTACK_OID_EVENT_LOG, (const uint8_t *)ev->event_log_json,
                                      strlen(ev->event_log_json)};
    }
    memset(&spec, 0, sizeof(spec));
    spec.common_name = uri->cn != NULL ? uri->cn : uri->path;
    /* The parser bounds cn=; the path is only bounded when it becomes the CN. */
    if (uri->cn == NULL && utf8_length(uri->path) > RATLS_CN_MAX)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "the key path is longer than %d characters, the X.509 CN "
                                "limit: set cn= for the certificate",
                                RATLS_CN_MAX);
    spec.organization = NULL;
    spec.san = (const char *const *)uri->san;
    spec.san_len = uri->san_count;
    spec.server_auth = uri->usage_server;
    spec.client_auth = uri->usage_client;
    spec.is_ca = false;
    spec.ca_pathlen = -1;
    spec.not_before = RATLS_NOT_BEFORE;
    spec.not_after = (int64_t)time(NULL) + RATLS_LIFETIME;
    spec.exts = exts;
    spec.n_exts = n;
    spec.serial_from_key = false;
    spec.libctx = cfg->libctx;
    spec.propq = cfg->propq;
    return dstack_cert_build(&spec, key, NULL, NULL, out, err);
}

/* ---- .1.9 app info (protocol.md §4.5.3) ------------------------------------------------------ */

typedef struct msgpack_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} msgpack_buf;

static void mp_put(msgpack_buf *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static void mp_bin(msgpack_buf *b, const uint8_t *data, size_t len)
{
    uint8_t hdr[5];
    size_t h;
    if (len <= 0xff) {
        hdr[0] = 0xc4;
        hdr[1] = (uint8_t)len;
        h = 2;
    } else if (len <= 0xffff) {
        hdr[0] = 0xc5;
        hdr[1] = (uint8_t)(len >> 8);
        hdr[2] = (uint8_t)len;
        h = 3;
    } else {
        hdr[0] = 0xc6;
        hdr[1] = (uint8_t)(len >> 24);
        hdr[2] = (uint8_t)(len >> 16);
        hdr[3] = (uint8_t)(len >> 8);
        hdr[4] = (uint8_t)len;
        h = 5;
    }
    mp_put(b, hdr, h);
    if (len > 0)
        mp_put(b, data, len);
}

/* protocol.md §5.5: SHA-256(MRTD || RTMR0 || RTMR1 || RTMR2 || mr_key_provider), where
 * mr_key_provider = SHA-256(payload of the key-provider runtime event) or 32 zero bytes. */
static bool mr_system(const dstack_config *cfg, const dstack_tcb_info *tcb, uint8_t out[32])
{
    uint8_t key_provider[32] = {0};
    for (size_t i = 0; i < tcb->event_log.count; i++) {
        const dstack_event *e = &tcb->event_log.events[i];
        if (e->event_type != DSTACK_RUNTIME_EVENT_TYPE || e->event == NULL)
            continue;
        if (strcmp(e->event, "system-ready") == 0)
            break; /* later events cannot change the app's identity (protocol.md §2.4) */
        if (strcmp(e->event, "key-provider") == 0) {
            if (EVP_Q_digest(cfg->libctx, "SHA256", cfg->propq, e->payload, e->payload_len,
                             key_provider, NULL) != 1)
                return false;
            break;
        }
    }
    uint8_t buf[48 * 4 + 32];
    memcpy(buf, tcb->mrtd, 48);
    memcpy(buf + 48, tcb->rtmr[0], 48);
    memcpy(buf + 96, tcb->rtmr[1], 48);
    memcpy(buf + 144, tcb->rtmr[2], 48);
    memcpy(buf + 192, key_provider, 32);
    return EVP_Q_digest(cfg->libctx, "SHA256", cfg->propq, buf, sizeof(buf), out, NULL) == 1;
}

dstack_status ratls_app_info_encode(const dstack_config *cfg, const dstack_app_info *info,
                                    uint8_t **out, size_t *out_len, dstack_error *err)
{
    msgpack_buf b = {0};
    uint8_t mr_sys[32], os_image[64];
    size_t os_image_len = 0;
    const char *os_hex = info->os_image_hash != NULL ? info->os_image_hash : "";
    const char *kp = info->key_provider_info_json != NULL ? info->key_provider_info_json : "";

    if (!info->tcb_info.present || !info->tcb_info.has_rtmrs)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, "Info", NULL,
                                "app-info=yes: the agent's Info has no TCB measurements to "
                                "build the app-info extension from");
    if (!dstack_hex_decode(os_hex, strlen(os_hex), os_image, sizeof(os_image), &os_image_len))
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, "Info", NULL,
                                "Info: os_image_hash is not hex of at most %zu bytes",
                                sizeof(os_image));
    if (!mr_system(cfg, &info->tcb_info, mr_sys))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "SHA-256 failed");
    /* rmp_serde::to_vec of AppInfo: a positional array of 8 bins (protocol.md §4.5.3). */
    mp_put(&b, "\x98", 1);
    mp_bin(&b, info->app_id.data, info->app_id.len);
    mp_bin(&b, info->compose_hash.data, info->compose_hash.len);
    mp_bin(&b, info->instance_id.data, info->instance_id.len);
    mp_bin(&b, info->device_id.data, info->device_id.len);
    mp_bin(&b, mr_sys, sizeof(mr_sys));
    mp_bin(&b, info->mr_aggregated.data, info->mr_aggregated.len);
    mp_bin(&b, os_image, os_image_len);
    mp_bin(&b, (const uint8_t *)kp, strlen(kp));
    if (b.failed) {
        free(b.data);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    *out = b.data;
    *out_len = b.len;
    return DSTACK_OK;
}
