/* dstack-sim — a simulated Intel (protocol.md §5.6–§5.8): a PCK hierarchy shaped like Intel's
 * (root CA, TCB signing certificate, PCK platform CA, PCK leaf with Intel's SGX extension) that
 * signs the simulator's quotes, and the collateral a PCCS would serve for them — CRLs, TCB info
 * and QE identity signed by the TCB signing key — so that any DCAP verifier given
 * <dir>/sim-intel-root.pem as its root verifies a simulator quote like a real one. Keys derive
 * from the app key like the simulator's other keys; none of it is Intel's, and the names say
 * "simulated, not Intel". The documents are made at startup, valid from an hour before to 30
 * days after; --tcb-status sets the status of the platform's TCB level.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "base/text_internal.h"
#include "crypto/pkey_util.h"

#define NOT_BEFORE 157766400 /* 1975-01-01 */
#define NOT_AFTER 2524607999 /* 2049-12-31 */
#define WINDOW (30 * 86400)  /* nextUpdate of every document */
#define SGX_EXT_OID "1.2.840.113741.1.13.1"

/* The simulated platform: "SIM\0\0\0" as FMSPC so its collateral is never mistaken for a
 * real platform's; the CPUSVN/PCESVN of a current Intel part. */
static const uint8_t sim_fmspc[6] = {0x53, 0x49, 0x4d, 0x00, 0x00, 0x00};
static const uint8_t sim_cpusvn[16] = {3, 3, 2, 2, 4, 1, 0, 5};
#define SIM_PCESVN 13

static void rfc3339(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void hex_upper(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02X", b[i]);
}

static char *pem_of(X509 *const *certs, int n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long len;

    for (int i = 0; bio != NULL && i < n; i++) {
        if (PEM_write_bio_X509(bio, certs[i]) != 1)
            goto done;
    }
    if (bio != NULL && (len = BIO_get_mem_data(bio, &data)) > 0)
        out = strndup(data, (size_t)len);
done:
    BIO_free(bio);
    return out;
}

/* ---- the PCK extension -------------------------------------------------------------------------
 */

/* DER TLV (lengths below 64 KiB) into out; the bytes written. */
static size_t tlv(uint8_t *out, uint8_t tag, const uint8_t *v, size_t n)
{
    size_t h = 2;

    out[0] = tag;
    if (n < 0x80) {
        out[1] = (uint8_t)n;
    } else if (n < 0x100) {
        out[1] = 0x81, out[2] = (uint8_t)n, h = 3;
    } else {
        out[1] = 0x82, out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n, h = 4;
    }
    memmove(out + h, v, n);
    return h + n;
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<a>[.<b>], <tag> value } */
static size_t item(uint8_t *out, uint8_t a, uint8_t b, uint8_t tag, const uint8_t *v, size_t n)
{
    uint8_t oid[11] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01, a, b}, inner[1100];
    size_t len = tlv(inner, 0x06, oid, b != 0 ? 11 : 10);

    len += tlv(inner + len, tag, v, n);
    return tlv(out, 0x30, inner, len);
}

/* Intel's SGX extension (protocol.md §5.6): PPID, TCB (16 component SVNs, PCESVN, CPUSVN),
 * PCE-ID, FMSPC, SGX type. */
static size_t sgx_extension(const uint8_t ppid[16], uint8_t *out)
{
    static const uint8_t pceid[2] = {0, 0}, sgx_type = 1, pcesvn = SIM_PCESVN;
    uint8_t tcb[1024], all[1536];
    size_t t = 0, a = 0;

    for (uint8_t i = 0; i < 16; i++) /* every SVN is below 0x80: a one-byte INTEGER */
        t += item(tcb + t, 2, (uint8_t)(i + 1), 0x02, &sim_cpusvn[i], 1);
    t += item(tcb + t, 2, 17, 0x02, &pcesvn, 1);
    t += item(tcb + t, 2, 18, 0x04, sim_cpusvn, 16);
    a += item(all + a, 1, 0, 0x04, ppid, 16);
    a += item(all + a, 2, 0, 0x30, tcb, t);
    a += item(all + a, 3, 0, 0x04, pceid, 2);
    a += item(all + a, 4, 0, 0x04, sim_fmspc, 6);
    a += item(all + a, 5, 0, 0x0a, &sgx_type, 1);
    return tlv(out, 0x30, all, a);
}

static X509 *issue(const char *cn, bool ca, int pathlen, EVP_PKEY *key, EVP_PKEY *issuer_key,
                   X509 *issuer)
{
    dstack_cert_spec spec;
    X509 *x = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.common_name = cn;
    spec.organization = "dstack-sim";
    spec.is_ca = ca;
    spec.ca_pathlen = pathlen;
    spec.not_before = NOT_BEFORE;
    spec.not_after = NOT_AFTER;
    spec.serial_from_key = true;
    return dstack_cert_build(&spec, key, issuer_key, issuer, &x, NULL) == DSTACK_OK ? x : NULL;
}

static bool add_sgx_extension(sim_intel *in)
{
    uint8_t ppid[16], der[2048];
    size_t n;
    ASN1_OBJECT *obj = OBJ_txt2obj(SGX_EXT_OID, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    bool ok;

    SHA256((const uint8_t *)"dstack-sim PPID", 15, der);
    memcpy(ppid, der, 16);
    n = sgx_extension(ppid, der);
    ok = obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, (int)n) == 1 &&
         (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
         X509_add_ext(in->pck, ext, -1) == 1 && X509_sign(in->pck, in->ca_key, EVP_sha256()) > 0;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok;
}

/* ---- CRLs and signed documents -------------------------------------------------------------- */

static uint8_t *crl_der(X509 *issuer, EVP_PKEY *key, int64_t from, size_t *len)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)from);
    ASN1_TIME *t2 = ASN1_TIME_set(NULL, (time_t)(from + WINDOW));
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    unsigned char *der = NULL;
    uint8_t *out = NULL;
    int n;

    if (crl != NULL && t1 != NULL && t2 != NULL && number != NULL &&
        X509_CRL_set_version(crl, 1) == 1 &&
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
        X509_CRL_set1_lastUpdate(crl, t1) == 1 && X509_CRL_set1_nextUpdate(crl, t2) == 1 &&
        ASN1_INTEGER_set(number, 1) == 1 &&
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1 &&
        X509_CRL_sign(crl, key, EVP_sha256()) > 0 && (n = i2d_X509_CRL(crl, &der)) > 0 &&
        (out = malloc((size_t)n)) != NULL) {
        memcpy(out, der, (size_t)n);
        *len = (size_t)n;
    }
    OPENSSL_free(der);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    return out;
}

static void components(dstack_text *t, const char *key, const uint8_t svn[16])
{
    dstack_text_appendf(t, "\"%s\":[", key);
    for (int i = 0; i < 16; i++)
        dstack_text_appendf(t, "%s{\"svn\":%u}", i ? "," : "", svn[i]);
    dstack_text_appendf(t, "]");
}

/* The TCB info for the simulated platform (protocol.md §5.7): one TCB level exactly at the
 * platform's SVNs with the configured status, and the TDX module identity of TEE_TCB_SVN[1]. */
static char *tcb_info_text(const sim_ctx *ctx, int64_t from)
{
    static const char zero48[] = "000000000000000000000000000000000000000000000000"
                                 "000000000000000000000000000000000000000000000000";
    const uint8_t *svn = ctx->att.tee_tcb_svn;
    const char *status = ctx->intel.tcb_status;
    char issue[21], next[21], fmspc[13], module[256];
    dstack_text t = {0};

    rfc3339(from, issue);
    rfc3339(from + WINDOW, next);
    hex_upper(sim_fmspc, 6, fmspc);
    snprintf(module, sizeof(module),
             "\"mrsigner\":\"%s\",\"attributes\":\"0000000000000000\","
             "\"attributesMask\":\"FFFFFFFFFFFFFFFF\"",
             zero48);
    dstack_text_appendf(
        &t,
        "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\",\"fmspc\":\"%s\","
        "\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,\"tdxModule\":{%s},"
        "\"tdxModuleIdentities\":[{\"id\":\"TDX_%02X\",%s,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%u},"
        "\"tcbDate\":\"2025-05-14T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}]}],\"tcbLevels\":[{"
        "\"tcb\":{",
        issue, next, fmspc, module, svn[1], module, svn[0]);
    components(&t, "sgxtcbcomponents", sim_cpusvn);
    dstack_text_appendf(&t, ",\"pcesvn\":%u,", SIM_PCESVN);
    components(&t, "tdxtcbcomponents", svn);
    dstack_text_appendf(&t, "},\"tcbDate\":\"2025-05-14T00:00:00Z\",\"tcbStatus\":\"%s\"", status);
    if (strcmp(status, "UpToDate") != 0)
        dstack_text_appendf(&t, ",\"advisoryIDs\":[\"DSTACK-SIM-SA-00001\"]");
    dstack_text_appendf(&t, "}]}");
    return dstack_text_take(&t, NULL);
}

static char *qe_identity_text(int64_t from)
{
    uint8_t mrsigner[32];
    char issue[21], next[21], hex[65];
    dstack_text t = {0};

    SHA256((const uint8_t *)SIM_QE_SIGNER_LABEL, strlen(SIM_QE_SIGNER_LABEL), mrsigner);
    hex_upper(mrsigner, 32, hex);
    rfc3339(from, issue);
    rfc3339(from + WINDOW, next);
    dstack_text_appendf(
        &t,
        "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
        "\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":"
        "\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":"
        "\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\",\"isvprodid\":%u,"
        "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2025-05-14T00:00:00Z\","
        "\"tcbStatus\":\"UpToDate\"}]}",
        issue, next, hex, SIM_QE_ISVPRODID, SIM_QE_ISVSVN);
    return dstack_text_take(&t, NULL);
}

bool sim_intel_init(sim_ctx *ctx, char *msg, size_t msg_len)
{
    sim_intel *in = &ctx->intel;
    sim_attest *att = &ctx->att;
    int64_t from = (int64_t)time(NULL) - 3600;
    X509 *certs[3];
    bool ok = false;

    if (in->tcb_status == NULL)
        in->tcb_status = "UpToDate";
    if (!sim_derived_p256(ctx, "dstack-sim simulated Intel root CA", &in->root_key) ||
        !sim_derived_p256(ctx, "dstack-sim simulated Intel TCB signing", &in->tcb_key) ||
        !sim_derived_p256(ctx, "dstack-sim simulated Intel PCK platform CA", &in->ca_key))
        goto done;
    in->root =
        issue("dstack-sim SGX Root CA (simulated, not Intel)", true, 1, in->root_key, NULL, NULL);
    in->tcb = in->root ? issue("dstack-sim SGX TCB Signing (simulated, not Intel)", false, -1,
                               in->tcb_key, in->root_key, in->root)
                       : NULL;
    in->ca = in->root ? issue("dstack-sim SGX PCK Platform CA (simulated, not Intel)", true, 0,
                              in->ca_key, in->root_key, in->root)
                      : NULL;
    in->pck = in->ca ? issue("dstack-sim SGX PCK Certificate (simulated, not Intel)", false, -1,
                             att->pck_key, in->ca_key, in->ca)
                     : NULL;
    if (in->tcb == NULL || in->pck == NULL || !add_sgx_extension(in))
        goto done;
    in->root_pem = pem_of(&in->root, 1);
    certs[0] = in->tcb, certs[1] = in->root;
    in->tcb_chain_pem = pem_of(certs, 2);
    certs[0] = in->ca;
    in->ca_chain_pem = pem_of(certs, 2);
    certs[0] = in->pck, certs[1] = in->ca, certs[2] = in->root;
    att->pck_pem = pem_of(certs, 3);
    in->root_crl = crl_der(in->root, in->root_key, from, &in->root_crl_len);
    in->pck_crl = crl_der(in->ca, in->ca_key, from, &in->pck_crl_len);
    in->tcb_info = tcb_info_text(ctx, from);
    in->qe_identity = qe_identity_text(from);
    hex_upper(sim_fmspc, 6, in->fmspc_hex);
    ok = in->root_pem && in->tcb_chain_pem && in->ca_chain_pem && att->pck_pem && in->root_crl &&
         in->pck_crl && in->tcb_info && in->qe_identity &&
         sim_sign_raw(in->tcb_key, (const uint8_t *)in->tcb_info, strlen(in->tcb_info),
                      in->tcb_info_sig) &&
         sim_sign_raw(in->tcb_key, (const uint8_t *)in->qe_identity, strlen(in->qe_identity),
                      in->qe_identity_sig);
done:
    if (!ok)
        snprintf(msg, msg_len, "cannot create the simulated Intel PCK hierarchy");
    return ok;
}

bool sim_intel_write_root(const sim_ctx *ctx, const char *dir, char **path, char *msg,
                          size_t msg_len)
{
    FILE *f;
    bool ok;

    if (asprintf(path, "%s/sim-intel-root.pem", dir) < 0) {
        *path = NULL;
        snprintf(msg, msg_len, "out of memory");
        return false;
    }
    f = fopen(*path, "w");
    ok = f != NULL && fputs(ctx->intel.root_pem, f) >= 0;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok) {
        snprintf(msg, msg_len, "cannot write %s", *path);
        free(*path);
        *path = NULL;
    }
    return ok;
}

void sim_intel_free(sim_intel *in)
{
    EVP_PKEY_free(in->root_key);
    EVP_PKEY_free(in->tcb_key);
    EVP_PKEY_free(in->ca_key);
    X509_free(in->root);
    X509_free(in->tcb);
    X509_free(in->ca);
    X509_free(in->pck);
    free(in->root_pem);
    free(in->tcb_chain_pem);
    free(in->ca_chain_pem);
    free(in->root_crl);
    free(in->pck_crl);
    free(in->tcb_info);
    free(in->qe_identity);
    memset(in, 0, sizeof(*in));
}
