/* X.509 v3 certificates in the layout of rcgen 0.13 as used by the dstack agent (protocol.md §4.6):
 * subject O then CN (UTF8String), extensions SAN, KeyUsage, EKU, [SKI, BasicConstraints for
 * CAs], then the caller's custom extensions (protocol.md §4.1 double OCTET STRING wrapping). */
#include "crypto/pkey_util.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define SERIAL_LEN 20
/* X.509 times hold four-digit years: 0000-01-01 .. 9999-12-31T23:59:59Z. */
#define TIME_MIN (-62167219200LL)
#define TIME_MAX 253402300799LL
#define RANDOM_SERIAL_LEN 16

/* rcgen: serial = SHA-256(raw public key)[0..20] with the top bit cleared (protocol.md §4.6). For
 * EC keys the raw key is the uncompressed point, for Ed25519 the 32 raw bytes. */
static int serial_from_key(const dstack_cert_spec *spec, EVP_PKEY *key, uint8_t serial[SERIAL_LEN])
{
    uint8_t raw[133], digest[32];
    size_t raw_len = 0;

    if (EVP_PKEY_is_a(key, "ED25519")) {
        raw_len = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1)
            return 0;
    } else if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw,
                                               sizeof(raw), &raw_len) != 1) {
        return 0;
    }
    if (EVP_Q_digest(spec->libctx, "SHA256", spec->propq, raw, raw_len, digest, NULL) != 1)
        return 0;
    memcpy(serial, digest, SERIAL_LEN);
    serial[0] &= 0x7f;
    return 1;
}

static int set_serial(X509 *x, const dstack_cert_spec *spec, EVP_PKEY *subject_key)
{
    uint8_t buf[SERIAL_LEN];
    size_t len = RANDOM_SERIAL_LEN;
    BIGNUM *bn = NULL;
    int ok = 0;

    if (spec->serial_from_key) {
        if (!serial_from_key(spec, subject_key, buf))
            return 0;
        len = SERIAL_LEN;
    } else {
        if (RAND_bytes_ex(spec->libctx, buf, RANDOM_SERIAL_LEN, 0) != 1)
            return 0;
        buf[0] &= 0x7f; /* positive */
        buf[0] |= 0x40; /* and never zero */
    }
    bn = BN_bin2bn(buf, (int)len, NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int build_subject(X509 *x, const dstack_cert_spec *spec)
{
    X509_NAME *name = X509_get_subject_name(x);
    const char *cn = spec->common_name != NULL ? spec->common_name : "";

    /* An explicit V_ASN1_UTF8STRING type keeps the encoding independent of the global
     * ASN1_STRING_set_default_mask. */
    if (spec->organization != NULL &&
        !X509_NAME_add_entry_by_NID(name, NID_organizationName, V_ASN1_UTF8STRING,
                                    (const unsigned char *)spec->organization,
                                    (int)strlen(spec->organization), -1, 0))
        return 0;
    return X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
                                      (const unsigned char *)cn, (int)strlen(cn), -1, 0);
}

static dstack_status add_san(X509 *x, const dstack_cert_spec *spec, dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_CRYPTO;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = NULL;

    if (names == NULL)
        goto err;
    for (size_t i = 0; i < spec->san_len; i++) {
        const char *value = spec->san[i];
        ASN1_OCTET_STRING *ip;

        if (value == NULL || *value == '\0') {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                  "subjectAltName entry %zu is empty", i);
            goto done;
        }
        /* Since 0.5.11 the agent turns IP literals into iPAddress names (protocol.md §2.1). */
        ip = a2i_IPADDRESS(value);
        if (ip != NULL) {
            gn = GENERAL_NAME_new();
            if (gn == NULL) {
                ASN1_OCTET_STRING_free(ip);
                goto err;
            }
            GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
        } else {
            ASN1_IA5STRING *dns;

            for (const char *c = value; *c != '\0'; c++) {
                if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) {
                    rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                          "subjectAltName \"%s\" is neither an IP address nor "
                                          "a printable ASCII DNS name",
                                          value);
                    goto done;
                }
            }
            dns = ASN1_IA5STRING_new();
            gn = GENERAL_NAME_new();
            if (dns == NULL || gn == NULL || !ASN1_STRING_set(dns, value, (int)strlen(value))) {
                ASN1_IA5STRING_free(dns);
                goto err;
            }
            GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
        }
        if (!sk_GENERAL_NAME_push(names, gn))
            goto err;
        gn = NULL;
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_APPEND) != 1)
        goto err;
    rc = DSTACK_OK;
    goto done;
err:
    rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                          "cannot build the subjectAltName extension");
done:
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(names);
    return rc;
}

static int add_key_usage(X509 *x, bool is_ca)
{
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    int ok = ku != NULL && ASN1_BIT_STRING_set_bit(ku, 0, 1); /* digitalSignature */

    if (ok && is_ca)
        ok = ASN1_BIT_STRING_set_bit(ku, 5, 1) && /* keyCertSign */
             ASN1_BIT_STRING_set_bit(ku, 6, 1);   /* cRLSign */
    ok = ok && X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_APPEND) == 1;
    ASN1_BIT_STRING_free(ku);
    return ok;
}

static int add_eku(X509 *x, const dstack_cert_spec *spec)
{
    EXTENDED_KEY_USAGE *eku;
    int ok;

    if (!spec->server_auth && !spec->client_auth)
        return 1;
    eku = sk_ASN1_OBJECT_new_null();
    ok = eku != NULL;
    if (ok && spec->server_auth)
        ok = sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) > 0;
    if (ok && spec->client_auth)
        ok = sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) > 0;
    ok = ok && X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0, X509V3_ADD_APPEND) == 1;
    sk_ASN1_OBJECT_free(eku); /* built-in objects: nothing to free per element */
    return ok;
}

/* rcgen: SKI = SHA-256(SPKI DER)[0..20] (verified on the simulator CA certificate). */
static int add_ski(X509 *x, const dstack_cert_spec *spec, EVP_PKEY *key)
{
    unsigned char *spki = NULL;
    uint8_t digest[32];
    ASN1_OCTET_STRING *ski = NULL;
    int len = i2d_PUBKEY(key, &spki);
    int ok = len > 0 && EVP_Q_digest(spec->libctx, "SHA256", spec->propq, spki, (size_t)len, digest,
                                     NULL) == 1;

    ok = ok && (ski = ASN1_OCTET_STRING_new()) != NULL && ASN1_OCTET_STRING_set(ski, digest, 20);
    ok = ok && X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_APPEND) == 1;
    ASN1_OCTET_STRING_free(ski);
    OPENSSL_free(spki);
    return ok;
}

static int add_basic_constraints(X509 *x, int pathlen)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    int ok = bc != NULL;

    if (ok) {
        bc->ca = 0xff;
        if (pathlen >= 0) {
            bc->pathlen = ASN1_INTEGER_new();
            ok = bc->pathlen != NULL && ASN1_INTEGER_set(bc->pathlen, pathlen);
        }
    }
    ok = ok && X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_APPEND) == 1;
    BASIC_CONSTRAINTS_free(bc);
    return ok;
}

static dstack_status add_custom_ext(X509 *x, const dstack_cert_ext *ext, dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_CRYPTO;
    ASN1_OBJECT *obj = NULL;
    ASN1_OCTET_STRING *inner = NULL, *outer = NULL;
    X509_EXTENSION *xext = NULL;
    unsigned char *der = NULL;
    int der_len;

    if (ext->oid == NULL || (obj = OBJ_txt2obj(ext->oid, 1)) == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "invalid extension OID \"%s\"",
                              ext->oid ? ext->oid : "(null)");
        goto done;
    }
    if (ext->payload_len > INT32_MAX) {
        rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "extension %s payload too large",
                              ext->oid);
        goto done;
    }
    inner = ASN1_OCTET_STRING_new();
    outer = ASN1_OCTET_STRING_new();
    if (inner == NULL || outer == NULL ||
        !ASN1_OCTET_STRING_set(inner, ext->payload, (int)ext->payload_len) ||
        (der_len = i2d_ASN1_OCTET_STRING(inner, &der)) <= 0)
        goto err;
    ASN1_STRING_set0(outer, der, der_len);
    der = NULL;
    xext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, outer);
    if (xext == NULL || !X509_add_ext(x, xext, -1))
        goto err;
    rc = DSTACK_OK;
    goto done;
err:
    rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "cannot add extension %s", ext->oid);
done:
    X509_EXTENSION_free(xext);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(outer);
    ASN1_OCTET_STRING_free(inner);
    ASN1_OBJECT_free(obj);
    return rc;
}

static int sign_cert(X509 *x, const dstack_cert_spec *spec, EVP_PKEY *key)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    /* PureEdDSA takes no digest; ECDSA issuers sign with SHA-256 as rcgen does. */
    const char *md = EVP_PKEY_is_a(key, "ED25519") ? NULL : "SHA256";
    int ok = mctx != NULL &&
             EVP_DigestSignInit_ex(mctx, NULL, md, spec->libctx, spec->propq, key, NULL) == 1 &&
             X509_sign_ctx(x, mctx) > 0;

    EVP_MD_CTX_free(mctx);
    return ok;
}

dstack_status dstack_cert_build(const dstack_cert_spec *spec, EVP_PKEY *subject_key,
                                EVP_PKEY *issuer_key, X509 *issuer_cert, X509 **out,
                                dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_CRYPTO;
    const char *what = "cannot create the certificate";
    X509 *x = NULL;

    *out = NULL;
    if (spec == NULL || subject_key == NULL || (spec->san_len > 0 && spec->san == NULL) ||
        (spec->n_exts > 0 && spec->exts == NULL)) {
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_cert_build: missing certificate parameters");
    }
    if (spec->not_before < TIME_MIN || spec->not_before > TIME_MAX || spec->not_after < TIME_MIN ||
        spec->not_after > TIME_MAX)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "certificate validity outside years 0000-9999");
    if (issuer_key == NULL)
        issuer_key = subject_key;
    x = X509_new_ex(spec->libctx, spec->propq);
    if (x == NULL || !X509_set_version(x, X509_VERSION_3) || !set_serial(x, spec, subject_key) ||
        !build_subject(x, spec))
        goto err;
    if (!X509_set_issuer_name(x, issuer_cert != NULL ? X509_get_subject_name(issuer_cert)
                                                     : X509_get_subject_name(x)))
        goto err;
    /* ASN1_TIME_set picks UTCTime for 1950–2049 and GeneralizedTime otherwise (RFC 5280). */
    what = "cannot set the certificate validity";
    if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)spec->not_before) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), (time_t)spec->not_after) == NULL)
        goto err;
    what = "cannot set the certificate public key";
    if (!X509_set_pubkey(x, subject_key))
        goto err;
    if (spec->san_len > 0 && (rc = add_san(x, spec, err)) != DSTACK_OK)
        goto done;
    what = "cannot add the standard certificate extensions";
    if (!add_key_usage(x, spec->is_ca) || !add_eku(x, spec))
        goto err;
    if (spec->is_ca &&
        (!add_ski(x, spec, subject_key) || !add_basic_constraints(x, spec->ca_pathlen)))
        goto err;
    for (size_t i = 0; i < spec->n_exts; i++)
        if ((rc = add_custom_ext(x, &spec->exts[i], err)) != DSTACK_OK)
            goto done;
    what = "cannot sign the certificate";
    if (!sign_cert(x, spec, issuer_key))
        goto err;
    *out = x;
    x = NULL;
    rc = DSTACK_OK;
    goto done;
err:
    rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "%s", what);
done:
    X509_free(x);
    return rc;
}
