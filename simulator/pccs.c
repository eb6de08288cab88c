/* dstack-sim — the PCCS v4 API for the simulated Intel's collateral (protocol.md §5.8), served
 * with --pccs HOST:PORT: the PCK CRL, the TDX TCB info for the simulated FMSPC, the TDX QE
 * identity and the root CA CRL, each with its issuer chain percent-encoded in a response header
 * as Intel PCS and PCCS send it. The listener (listener.c) applies --fault to these requests
 * under the names PCCS.pckcrl, PCCS.tcb, PCCS.qe_identity and PCCS.rootcacrl. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

static const struct {
    const char *path, *method;
} routes[] = {
    {"/sgx/certification/v4/pckcrl", "PCCS.pckcrl"},
    {"/tdx/certification/v4/tcb", "PCCS.tcb"},
    {"/tdx/certification/v4/qe/identity", "PCCS.qe_identity"},
    {"/sgx/certification/v4/rootcacrl", "PCCS.rootcacrl"},
};

const char *sim_pccs_method(const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) == 0)
            return routes[i].method;
    }
    return NULL;
}

/* RFC 3986 percent-encoding of everything but the unreserved characters. */
static char *percent_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(3 * strlen(s) + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

static bool error_reply(sim_pccs_reply *r, unsigned status, const char *what)
{
    r->status = status;
    r->content_type = "application/json";
    if (asprintf(&r->body, "{\"error\":\"%s\"}", what) < 0)
        r->body = NULL;
    r->len = r->body ? strlen(r->body) : 0;
    return r->body != NULL;
}

static bool doc_reply(sim_pccs_reply *r, const char *member, const char *doc, const uint8_t sig[64],
                      const char *header, const char *chain)
{
    char *hex = sim_hex(sig, 64);

    r->status = 200;
    r->content_type = "application/json";
    r->header_name = header;
    r->header_value = percent_encode(chain);
    /* the signed object is sent byte for byte as it was signed */
    if (hex == NULL || asprintf(&r->body, "{\"%s\":%s,\"signature\":\"%s\"}", member, doc, hex) < 0)
        r->body = NULL;
    free(hex);
    r->len = r->body ? strlen(r->body) : 0;
    return r->body != NULL && r->header_value != NULL;
}

static char *crl_pem(const uint8_t *der, size_t len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (bio != NULL && PEM_write_bio(bio, "X509 CRL", "", der, (long)len) > 0 &&
        (n = BIO_get_mem_data(bio, &data)) > 0)
        out = strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

bool sim_pccs_answer(const sim_ctx *ctx, const char *method, const sim_pccs_query *q,
                     sim_pccs_reply *r)
{
    const sim_intel *in = &ctx->intel;

    memset(r, 0, sizeof(*r));
    if (strcmp(method, "PCCS.pckcrl") == 0) {
        if (q->ca == NULL)
            return error_reply(r, 400, "missing parameter ca");
        if (strcasecmp(q->ca, "platform") != 0)
            return error_reply(r, 404,
                               "no PCK CRL for this CA (the simulated PCK CA is "
                               "ca=platform)");
        r->status = 200;
        r->header_name = "SGX-PCK-CRL-Issuer-Chain";
        r->header_value = percent_encode(in->ca_chain_pem);
        if (q->encoding != NULL && strcasecmp(q->encoding, "der") == 0) {
            r->content_type = "application/pkix-crl";
            r->body = malloc(in->pck_crl_len);
            if (r->body != NULL)
                memcpy(r->body, in->pck_crl, in->pck_crl_len);
            r->len = in->pck_crl_len;
        } else {
            r->content_type = "application/x-pem-file";
            r->body = crl_pem(in->pck_crl, in->pck_crl_len);
            r->len = r->body ? strlen(r->body) : 0;
        }
        return r->body != NULL && r->header_value != NULL;
    }
    if (strcmp(method, "PCCS.tcb") == 0) {
        if (q->fmspc == NULL)
            return error_reply(r, 400, "missing parameter fmspc");
        if (strcasecmp(q->fmspc, in->fmspc_hex) != 0)
            return error_reply(r, 404, "no TCB info for this FMSPC");
        return doc_reply(r, "tcbInfo", in->tcb_info, in->tcb_info_sig, "TCB-Info-Issuer-Chain",
                         in->tcb_chain_pem);
    }
    if (strcmp(method, "PCCS.qe_identity") == 0)
        return doc_reply(r, "enclaveIdentity", in->qe_identity, in->qe_identity_sig,
                         "SGX-Enclave-Identity-Issuer-Chain", in->tcb_chain_pem);
    /* PCCS.rootcacrl: a PCCS answers with the DER CRL as hex text */
    r->status = 200;
    r->content_type = "text/plain";
    r->body = sim_hex(in->root_crl, in->root_crl_len);
    r->len = r->body ? strlen(r->body) : 0;
    return r->body != NULL;
}

void sim_pccs_reply_free(sim_pccs_reply *r)
{
    free(r->body);
    free(r->header_value);
    memset(r, 0, sizeof(*r));
}
