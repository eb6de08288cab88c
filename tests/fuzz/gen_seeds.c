/* Seeds for every fuzz harness, made by the project itself at build time (tests/fuzz/fuzz.cmake):
 *
 *   gen_seeds OUTDIR
 *
 * writes OUTDIR/<harness>/<name>.bin (raw bytes) or .txt (text), in each harness's input
 * format: dstack: URIs (uri), V0 and V1 attestations with events, of every 0.6 platform
 * (attestation), event-log JSON, V2 included (eventlog), v4 quotes with a PCK chain under a test
 * PKI (quote), CCEL tables (ccel), reference-PEM DER (keyref), RA-TLS certificates and their
 * extensions (ratls, mode byte first), agent JSON replies (json), and Intel collateral forged
 * under a test root: collateral JSON, TCB info, QE identity and CRLs (collateral, tcb_info,
 * qe_identity, crl). Everything comes from tests/lib/quote_forge.h, tests/lib/collateral_forge.h
 * and tests/lib/test_evidence.h; no upstream data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>
#include <dstack/keys.h>
#include <dstack/uri.h>

#include "attest/attest_internal.h"
#include "crypto/pkey_util.h"
#include "dcap_world.h"
#include "test_evidence.h"
#include "agent_side.h"

static const char *out_dir;

/* Every seed is first shown to be what it claims: its parser accepts it (and, where that is
 * the point, it verifies or binds), so the harnesses start from realistic input. */
static void expect(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "gen_seeds: %s\n", what);
        exit(1);
    }
}

static void write_seed(const char *harness, const char *name, const void *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", out_dir, harness);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, harness, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void write_text(const char *harness, const char *name, const char *text)
{
    write_seed(harness, name, text, strlen(text));
}

/* ---- uri, keyref ------------------------------------------------------------------------- */

static const char *const uris[] = {
    "dstack:tls/web",
    "dstack:tls/web?san=api.example.com,10.0.0.5&usage=server",
    "dstack:tls/mtls?usage=server,client&cn=svc.internal&san=svc.internal&san=2001:db8::1",
    "dstack:wallet/eth?alg=secp256k1&purpose=signing",
    "dstack:id/node-1?alg=ed25519&cert=self&ratls=quote",
    "dstack:tls/agent?cert=agent&app-info=yes",
    "dstack:tls/self?cert=self&ratls=both&cn=caf%C3%A9",
    "dstack:%2F%2Fdouble/slash?cert=none",
    "dstack:?ephemeral=yes&cn=demo&app-info=yes",
    "dstack:a%2Fb%20c?ratls=attest&purpose=p%26q",
};

/* DER length octets. */
static void der_len(te_buf *b, size_t n)
{
    if (n < 128) {
        te_put_le(b, n, 1);
    } else if (n < 256) {
        te_put(b, "\x81", 1);
        te_put_le(b, n, 1);
    } else {
        te_put(b, "\x82", 1);
        te_put_le(b, (n >> 8) & 0xff, 1);
        te_put_le(b, n & 0xff, 1);
    }
}

/* architecture.md §6: SEQUENCE { VisibleString "dstack key URI v1", UTF8String uri }. */
static void keyref_der(const char *uri, te_buf *out)
{
    static const char desc[] = "dstack key URI v1";
    te_buf inner = {0};

    te_put(&inner, "\x1a", 1);
    der_len(&inner, strlen(desc));
    te_put(&inner, desc, strlen(desc));
    te_put(&inner, "\x0c", 1);
    der_len(&inner, strlen(uri));
    te_put(&inner, uri, strlen(uri));
    out->len = 0;
    te_put(out, "\x30", 1);
    der_len(out, inner.len);
    te_put(out, inner.p, inner.len);
    te_buf_free(&inner);
}

static void gen_uri_keyref(void)
{
    te_buf der = {0};
    char name[32], long_uri[400];

    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        dstack_uri uri;
        char *canon;

        if (dstack_uri_parse(uris[i], &uri, NULL) != DSTACK_OK) {
            fprintf(stderr, "gen_seeds: seed URI %s does not parse\n", uris[i]);
            exit(1);
        }
        canon = dstack_uri_canonical(&uri);
        snprintf(name, sizeof(name), "gen-%02zu.txt", i);
        write_text("uri", name, uris[i]);
        snprintf(name, sizeof(name), "gen-%02zu-canonical.txt", i);
        write_text("uri", name, canon);
        keyref_der(canon, &der);
        snprintf(name, sizeof(name), "gen-%02zu.bin", i);
        write_seed("keyref", name, der.p, der.len);
        free(canon);
        dstack_uri_free(&uri);
    }
    /* a URI long enough for two-byte DER lengths */
    snprintf(long_uri, sizeof(long_uri), "dstack:tls/%0300d?san=a.example", 7);
    keyref_der(long_uri, &der);
    write_seed("keyref", "gen-long.bin", der.p, der.len);
    te_buf_free(&der);
}

/* ---- attestation, eventlog, quote, ccel --------------------------------------------------- */

static void write_log(const char *name, const dstack_event_log *log)
{
    char *json = dstack_event_log_to_json(log);
    dstack_event_log back;

    QF_REQUIRE(json != NULL);
    expect(dstack_event_log_parse(json, strlen(json), &back, NULL) == DSTACK_OK &&
               back.count == log->count,
           "event log seed does not parse back");
    dstack_event_log_free(&back);
    write_text("eventlog", name, json);
    free(json);
}

/* An attestation seed must decode, with its quote. */
static void check_attestation(const uint8_t *p, size_t n)
{
    dstack_attestation back;
    dstack_tdx_quote q;

    expect(dstack_attestation_decode(p, n, &back, NULL) == DSTACK_OK &&
               dstack_tdx_quote_parse(back.quote, back.quote_len, &q, NULL) == DSTACK_OK,
           "attestation seed does not decode");
    dstack_attestation_free(&back);
}

static void write_v0(const char *harness, const char *name, const dstack_attestation *att)
{
    uint8_t *enc = NULL;
    size_t len = 0;

    QF_REQUIRE(dstack_attestation_encode_v0(att, &enc, &len, NULL) == DSTACK_OK);
    check_attestation(enc, len);
    write_seed(harness, name, enc, len);
    free(enc);
}

static void strip(dstack_attestation *att)
{
    dstack_event_log stripped;

    te_strip_log(&att->tdx_event_log, true, &stripped);
    dstack_event_log_free(&att->tdx_event_log);
    att->tdx_event_log = stripped;
}

/* 0.6 (protocol.md §4.4.1, §4.5.4, §5.3.1): every platform variant in SCALE and msgpack, a
 * V2 boot's msgpack attestation, and V2 quote logs (stripped and full) with preimages. */
static void gen_v06(const qf_pki *pki)
{
    static const char *const names[] = {"tdx", "gcp-tdx", "nitro", "sev-snp", "aws-nitro-tpm"};
    te_buf w = {0};
    dstack_attestation att, back;
    dstack_event_log stripped;
    char name[64];
    te_vm vm;

    for (int p = 0; p < 5; p++) {
        te_write_v0_platform(&w, p, 1);
        expect(dstack_attestation_decode(w.p, w.len, &back, NULL) == DSTACK_OK &&
                   back.platform == p,
               "SCALE platform seed does not decode to its platform");
        dstack_attestation_free(&back);
        snprintf(name, sizeof(name), "gen-v0-%s.bin", names[p]);
        write_seed("attestation", name, w.p, w.len);
        te_write_v1_platform(&w, p, TE_MP_OK, p == 0 ? 2 : 1);
        expect(dstack_attestation_decode(w.p, w.len, &back, NULL) == DSTACK_OK &&
                   back.platform == p,
               "msgpack platform seed does not decode to its platform");
        dstack_attestation_free(&back);
        snprintf(name, sizeof(name), "gen-v1-%s.bin", names[p]);
        write_seed("attestation", name, w.p, w.len);
    }
    te_write_v1_v2_events(&w, 2, TE_PRE_OK);
    expect(dstack_attestation_decode(w.p, w.len, &back, NULL) == DSTACK_OK &&
               back.tdx_event_log.events[0].has_preimage,
           "V2 msgpack seed does not decode with its preimage");
    dstack_attestation_free(&back);
    write_seed("attestation", "gen-v1-v2-events.bin", w.p, w.len);
    /* a V2 boot's log, full and stripped, each V2 runtime event with its JCS preimage */
    te_vm_init(&vm, 6);
    te_attestation(pki, &vm, NULL, 0, &att);
    for (size_t i = 0; i < att.tdx_event_log.count; i++) {
        dstack_event *e = &att.tdx_event_log.events[i];

        if (e->event_type != DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        e->version = DSTACK_EVENT_LOG_V2;
        dstack_runtime_event_digest_v2(e->event, e->payload, e->payload_len, e->digest);
        QF_REQUIRE(dstack_runtime_event_preimage_v2(e->event, e->payload, e->payload_len,
                                                    &e->preimage, &e->preimage_len));
        e->has_preimage = true;
    }
    expect(dstack_event_log_check_preimages(&att.tdx_event_log, NULL) == DSTACK_OK,
           "V2 log seed has a bad preimage");
    write_log("gen-v2-full.txt", &att.tdx_event_log);
    te_strip_log(&att.tdx_event_log, false, &stripped);
    write_log("gen-v2-stripped.txt", &stripped);
    dstack_event_log_free(&stripped);
    dstack_attestation_free(&att);
    te_buf_free(&w);
}

static void gen_evidence(const qf_pki *pki)
{
    static const uint16_t two_algs[] = {0x000b, 32, 0x000c, 48};
    dstack_attestation att;
    dstack_event_log stripped;
    te_buf w = {0};
    uint8_t rd[64] = "dstack gen_seeds report_data", body[QF_SIGNED_LEN], zero32[32] = {0};
    uint8_t *q;
    size_t len;
    te_vm vm;

    te_vm_init(&vm, 1);
    te_attestation(pki, &vm, rd, 70, &att);
    write_v0("attestation", "gen-v0-full.bin", &att);
    te_write_v1(&w, &att, true, false, "dstack");
    check_attestation(w.p, w.len);
    write_seed("attestation", "gen-v1-bin.bin", w.p, w.len);
    te_write_v1(&w, &att, false, true, "dstack-pod");
    check_attestation(w.p, w.len);
    write_seed("attestation", "gen-v1-int-arrays-pod.bin", w.p, w.len);
    write_log("gen-full.txt", &att.tdx_event_log);
    te_strip_log(&att.tdx_event_log, false, &stripped);
    write_log("gen-stripped.txt", &stripped);
    dstack_event_log_free(&stripped);
    {
        dstack_quote_verify_opts opts = {
            DSTACK_OPTIONS_INIT(dstack_quote_verify_opts), .trusted_root_pem = pki->root_pem,
            .verification_time = 1798761600 /* 2027-01-01 */, .flags = 0};
        dstack_quote_verify_result r;

        expect(dstack_tdx_quote_verify(att.quote, att.quote_len, &opts, &r, NULL) == DSTACK_OK &&
                   dstack_tdx_quote_verify(att.quote, att.quote_len - 70, &opts, &r, NULL) ==
                       DSTACK_OK,
               "quote seed does not verify to its test root");
    }
    write_seed("quote", "gen-padded.bin", att.quote, att.quote_len);
    write_seed("quote", "gen-exact.bin", att.quote, att.quote_len - 70);
    /* boot events only, as a CCEL table (0xFF fill) and with zero fill after two algorithms */
    w.len = 0;
    te_ccel_table(&att.tdx_event_log, 4096, &w);
    expect(dstack_ccel_parse(w.p, w.len, &stripped, NULL) == DSTACK_OK &&
               stripped.count == TE_BOOT_EVENTS,
           "CCEL seed does not parse to the boot events");
    dstack_event_log_free(&stripped);
    write_seed("ccel", "gen-tdvf.bin", w.p, w.len);
    te_ccel_header(&w, two_algs, 2);
    for (size_t i = 0; i < att.tdx_event_log.count && i < 6; i++) {
        const dstack_event *e = &att.tdx_event_log.events[i];

        te_ccel_event(&w, e->imr + 1, e->event_type, 0x000c, e->digest, 48, e->payload,
                      e->payload_len);
    }
    te_put(&w, zero32, sizeof(zero32));
    expect(dstack_ccel_parse(w.p, w.len, &stripped, NULL) == DSTACK_OK && stripped.count == 6,
           "two-algorithm CCEL seed does not parse");
    dstack_event_log_free(&stripped);
    write_seed("ccel", "gen-zero-fill.bin", w.p, w.len);
    strip(&att);
    write_v0("attestation", "gen-v0-stripped.bin", &att);
    write_log("gen-attestation-form.txt", &att.tdx_event_log);
    dstack_attestation_free(&att);

    /* a debug TD with a non-zero MRSIGNERSEAM, and a quote whose chain is only the leaf */
    qf_body(body, NULL, rd);
    body[QF_OFF_TD_ATTRIBUTES] |= 1;
    body[QF_OFF_MR_SIGNER_SEAM] = 0x42;
    q = qf_quote(pki, body, 0, &len);
    write_seed("quote", "gen-debug-td.bin", q, len);
    free(q);
    {
        char *leaf = qf_pem_of(&pki->pck, 1);

        q = qf_build_quote(body, pki->att_key, pki->pck_key, leaf, &len);
        write_seed("quote", "gen-leaf-only.bin", q, len);
        free(q);
        free(leaf);
    }
    te_buf_free(&w);
}

/* ---- ratls ------------------------------------------------------------------------------- */

/* A self-signed RA-TLS leaf for `key` with `exts`, as DER; `binds`: its attestation must bind
 * the key and replay RTMR3 (dstack_ratls_inspect). */
static void ratls_der(EVP_PKEY *key, const dstack_cert_ext *exts, size_t n, bool binds, te_buf *out)
{
    static const char *const san[] = {"ratls.example", "10.0.0.7"};
    dstack_cert_spec spec = {.common_name = "ratls.example",
                             .san = san,
                             .san_len = 2,
                             .server_auth = true,
                             .ca_pathlen = -1,
                             .not_before = QF_NOT_BEFORE,
                             .not_after = QF_NOT_AFTER,
                             .exts = exts,
                             .n_exts = n,
                             .serial_from_key = true};
    unsigned char *der = NULL;
    X509 *cert = NULL;
    int der_len;

    dstack_ratls_info info;

    QF_REQUIRE(dstack_cert_build(&spec, key, NULL, NULL, &cert, NULL) == DSTACK_OK);
    expect(
        dstack_ratls_inspect(cert, &info, NULL) == DSTACK_OK &&
            (!binds || (info.has_attestation && info.report_data_binds_key && info.rtmr3_matches)),
        "RA-TLS seed certificate does not bind its key");
    dstack_ratls_info_free(&info);
    der_len = i2d_X509(cert, &der);
    QF_REQUIRE(der_len > 0);
    out->len = 0;
    te_put(out, "\x00", 1); /* mode 0: certificate DER */
    te_put(out, der, (size_t)der_len);
    OPENSSL_free(der);
    X509_free(cert);
}

static void gen_ratls(const qf_pki *pki)
{
    EVP_PKEY *key = qf_p256(0x51);
    dstack_attestation att;
    uint8_t rd[64], *spki = NULL, *enc = NULL;
    size_t spki_len = 0, enc_len = 0;
    char *log_json;
    te_buf b = {0};
    te_vm vm;

    QF_REQUIRE(dstack_pkey_to_spki_der(key, &spki, &spki_len, NULL) == DSTACK_OK);
    dstack_ratls_report_data(spki, spki_len, rd);
    te_vm_init(&vm, 2);
    te_attestation(pki, &vm, rd, 0, &att);
    log_json = dstack_event_log_to_json(&att.tdx_event_log);
    QF_REQUIRE(log_json != NULL);
    /* mode 2: LE16 quote length, quote (.1.1), event log (.1.2) */
    te_put(&b, "\x02", 1);
    te_put_le(&b, att.quote_len, 2);
    te_put(&b, att.quote, att.quote_len);
    te_put(&b, log_json, strlen(log_json));
    write_seed("ratls", "gen-mode2-quote-log.bin", b.p, b.len);
    {
        dstack_cert_ext exts[] = {
            {DSTACK_OID_TDX_QUOTE, att.quote, att.quote_len},
            {DSTACK_OID_EVENT_LOG, (const uint8_t *)log_json, strlen(log_json)}};

        ratls_der(key, exts, 2, true, &b);
        write_seed("ratls", "gen-mode0-legacy-oids.bin", b.p, b.len);
    }
    strip(&att);
    QF_REQUIRE(dstack_attestation_encode_v0(&att, &enc, &enc_len, NULL) == DSTACK_OK);
    /* mode 1: the .1.8 attestation of a certificate signed by the harness */
    b.len = 0;
    te_put(&b, "\x01", 1);
    te_put(&b, enc, enc_len);
    write_seed("ratls", "gen-mode1-v0.bin", b.p, b.len);
    {
        te_buf v1 = {0};

        te_write_v1(&v1, &att, true, false, "dstack");
        b.len = 0;
        te_put(&b, "\x01", 1);
        te_put(&b, v1.p, v1.len);
        write_seed("ratls", "gen-mode1-v1.bin", b.p, b.len);
        te_buf_free(&v1);
    }
    {
        dstack_cert_ext exts[] = {{DSTACK_OID_APP_ID, vm.app_id, 20},
                                  {DSTACK_OID_SPECIAL_USAGE, (const uint8_t *)"app:custom", 10},
                                  {DSTACK_OID_ATTESTATION, enc, enc_len}};

        ratls_der(key, exts, 3, true, &b);
        write_seed("ratls", "gen-mode0-attestation.bin", b.p, b.len);
        ratls_der(key, NULL, 0, false, &b);
        write_seed("ratls", "gen-mode0-plain.bin", b.p, b.len);
    }
    free(enc);
    free(log_json);
    OPENSSL_free(spki);
    dstack_attestation_free(&att);
    EVP_PKEY_free(key);
    te_buf_free(&b);
}

/* ---- json: agent replies (protocol.md §2) ------------------------------------------------- */

static void add_hex(json_object *o, const char *name, const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);

    QF_REQUIRE(hex != NULL);
    dstack_hex_encode(p, n, hex);
    json_object_object_add(o, name, json_object_new_string(hex));
    free(hex);
}

static void write_json(const char *name, json_object *o)
{
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    json_object *back = json_tokener_parse(text);

    expect(back != NULL, "agent reply seed is not JSON");
    json_object_put(back);
    write_text("json", name, text);
    json_object_put(o);
}

static void gen_json(const qf_pki *pki)
{
    json_object *o, *arr, *tcb;
    dstack_attestation att;
    uint8_t key[32], sig[65], pub[33], *enc = NULL;
    size_t enc_len = 0;
    char *log_json, *config;
    te_vm vm;

    te_vm_init(&vm, 3);
    te_attestation(pki, &vm, NULL, 70, &att);
    log_json = dstack_event_log_to_json(&att.tdx_event_log);
    QF_REQUIRE(log_json != NULL);
    config = te_sys_config(&vm);
    memset(key, 0x5a, sizeof(key));
    memset(sig, 0xa5, sizeof(sig));
    sig[64] = 1;

    o = json_object_new_object(); /* GetKey, chain[1] empty (protocol.md §10.15) */
    add_hex(o, "key", key, 32);
    arr = json_object_new_array();
    add_hex(o, "chain0", sig, 65);
    json_object_array_add(arr, json_object_get(json_object_object_get(o, "chain0")));
    json_object_object_del(o, "chain0");
    json_object_array_add(arr, json_object_new_string(""));
    json_object_object_add(o, "signature_chain", arr);
    write_json("gen-getkey.txt", o);

    o = json_object_new_object(); /* GetQuote */
    add_hex(o, "quote", att.quote, att.quote_len);
    json_object_object_add(o, "event_log", json_object_new_string(log_json));
    add_hex(o, "report_data", att.report_data, 64);
    json_object_object_add(o, "vm_config",
                           json_object_new_string("{\"os_image_hash\":\"00\",\"cpu_count\":2}"));
    write_json("gen-getquote.txt", o);

    QF_REQUIRE(dstack_attestation_encode_v0(&att, &enc, &enc_len, NULL) == DSTACK_OK);
    o = json_object_new_object(); /* Attest */
    add_hex(o, "attestation", enc, enc_len);
    write_json("gen-attest.txt", o);

    o = json_object_new_object(); /* Info, tcb_info as JSON in a string */
    add_hex(o, "app_id", vm.app_id, 20);
    add_hex(o, "instance_id", vm.instance_id, 20);
    json_object_object_add(o, "app_name", json_object_new_string("gen-seeds-app"));
    add_hex(o, "compose_hash", vm.compose_hash, 32);
    json_object_object_add(o, "key_provider_info", json_object_new_string(vm.key_provider));
    tcb = json_object_new_object();
    add_hex(tcb, "mrtd", att.quote + QF_OFF_MRTD, 48);
    add_hex(tcb, "rtmr3", att.quote + QF_OFF_RTMR3, 48);
    json_object_object_add(tcb, "event_log", json_tokener_parse(log_json));
    json_object_object_add(
        o, "tcb_info",
        json_object_new_string(json_object_to_json_string_ext(tcb, JSON_C_TO_STRING_PLAIN)));
    json_object_put(tcb);
    json_object_object_add(o, "vm_config", json_object_new_string(config));
    write_json("gen-info.txt", o);

    o = json_object_new_object(); /* Sign */
    add_hex(o, "signature", sig, 64);
    arr = json_object_new_array();
    for (int i = 0; i < 3; i++) {
        char hex[131];

        dstack_hex_encode(sig, 65, hex);
        json_object_array_add(arr, json_object_new_string(hex));
    }
    json_object_object_add(o, "signature_chain", arr);
    QF_REQUIRE(dstack_secp256k1_pubkey(key, pub, NULL) == DSTACK_OK);
    add_hex(o, "public_key", pub, 33);
    write_json("gen-sign.txt", o);

    o = json_object_new_object(); /* GetTlsKey */
    json_object_object_add(o, "key", json_object_new_string(pki->root_pem));
    arr = json_object_new_array();
    json_object_array_add(arr, json_object_new_string(pki->chain_pem));
    json_object_array_add(arr, json_object_new_string(pki->root_pem));
    json_object_object_add(o, "certificate_chain", arr);
    json_object_object_add(o, "not_before", json_object_new_int64(1700000000));
    json_object_object_add(o, "is_valid", json_object_new_boolean(1));
    write_json("gen-tls.txt", o);

    free(enc);
    free(config);
    free(log_json);
    dstack_attestation_free(&att);
}

/* Collateral for the harnesses' forged world (dcap_world.h), so the seeds reach every step. */
static void gen_dcap(void)
{
    const dcap_world *w = dcap_world_get();
    cf_tcb_spec ts;
    cf_qe_spec es;
    cf_collateral c = {0};
    char *text, *json;
    uint8_t *der;
    size_t len;
    dstack_collateral *parsed;

    json = cf_collateral_json(&w->pki, NULL);
    expect(dstack_collateral_from_json(json, strlen(json), &parsed, NULL) == DSTACK_OK,
           "forged collateral parses");
    dstack_collateral_free(parsed);
    write_text("collateral", "gen-default.txt", json);
    free(json);
    cf_tcb_spec_default(&ts);
    ts.levels[1] = ts.levels[0];
    ts.levels[1].pcesvn = 5;
    ts.levels[1].status = "OutOfDate";
    ts.levels[1].advisories = "[\"INTEL-SA-00001\",\"INTEL-SA-00837\"]";
    ts.n_levels = 2;
    ts.module_levels[1] = (cf_module_level){2, "OutOfDate", "[\"INTEL-SA-01036\"]"};
    ts.n_module_levels = 2;
    text = cf_tcb_info_text(&ts);
    write_text("tcb_info", "gen-two-levels.txt", text);
    c.tcb_info = text;
    c.ca_revokes[0] = w->pki.pck;
    json = cf_collateral_json(&w->pki, &c);
    write_text("collateral", "gen-revoked-pck.txt", json);
    free(json);
    free(text);
    cf_tcb_spec_default(&ts);
    text = cf_tcb_info_text(&ts);
    write_text("tcb_info", "gen-default.txt", text);
    free(text);
    ts.no_module = true;
    ts.n_module_levels = 0;
    text = cf_tcb_info_text(&ts);
    write_text("tcb_info", "gen-no-module.txt", text);
    free(text);
    cf_qe_spec_default(&es);
    text = cf_qe_identity_text(&es);
    write_text("qe_identity", "gen-default.txt", text);
    free(text);
    der = cf_crl(w->pki.root, w->pki.root_key, CF_ISSUE, CF_NEXT, NULL, 0, &len);
    write_seed("crl", "gen-root-empty.bin", der, len);
    free(der);
    der = cf_crl(w->pki.ca, w->pki.ca_key, CF_ISSUE, CF_NEXT, &w->pki.pck, 1, &len);
    write_seed("crl", "gen-pck-revoked.bin", der, len);
    free(der);
}

int main(int argc, char **argv)
{
    qf_pki pki;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds OUTDIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    qf_pki_init(&pki, "Test Root (gen_seeds)", 0x31, true);
    gen_uri_keyref();
    gen_evidence(&pki);
    gen_v06(&pki);
    gen_ratls(&pki);
    gen_json(&pki);
    gen_dcap();
    qf_pki_free(&pki);
    return 0;
}
