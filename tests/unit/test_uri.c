/* dstack: URI grammar (architecture.md §3): a table of good URIs with their canonical form and of
 * bad URIs with the message part that must name the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/uri.h>

#include "test_util.h"

typedef struct good_case {
    const char *uri;
    const char *canonical;
} good_case;

static const good_case good_cases[] = {
    {"dstack:tls/web", "dstack:tls/web"},
    {"DSTACK:tls/web", "dstack:tls/web"},
    {"dstack:/test/path", "dstack:/test/path"},
    {"dstack:%2F%2Fhost/x", "dstack:%2F%2Fhost/x"},
    {"dstack:tls/web?alg=p256", "dstack:tls/web"},
    {"dstack:wallet/eth?alg=secp256k1&purpose=signing",
     "dstack:wallet/eth?alg=secp256k1&purpose=signing"},
    {"dstack:wallet/eth?purpose=signing&alg=k256",
     "dstack:wallet/eth?alg=secp256k1&purpose=signing"},
    {"dstack:id?alg=ed25519", "dstack:id?alg=ed25519"},
    {"dstack:tls/web?san=api.example.com,10.0.0.5&usage=server",
     "dstack:tls/web?san=api.example.com,10.0.0.5"},
    {"dstack:tls/web?san=a.example&san=b.example", "dstack:tls/web?san=a.example,b.example"},
    {"dstack:tls/web?san=%3A%3A1", "dstack:tls/web?san=%3A%3A1"},
    {"dstack:tls/web?san=::1,fe80::1", "dstack:tls/web?san=%3A%3A1,fe80%3A%3A1"},
    {"dstack:tls/web?san=*.example.com", "dstack:tls/web?san=%2A.example.com"},
    {"dstack:?ephemeral=yes&cn=demo", "dstack:?cn=demo&ephemeral=yes"},
    {"dstack:?ephemeral=yes&cert=agent", "dstack:?cert=agent&ephemeral=yes"},
    {"dstack:tls/web?cert=auto", "dstack:tls/web?cert=auto"},
    {"dstack:tls/web?cert=self&ratls=both", "dstack:tls/web?cert=self&ratls=both"},
    {"dstack:tls/web?ratls=no&cert=agent", "dstack:tls/web?cert=agent&ratls=no"},
    {"dstack:tls/web?cert=none", "dstack:tls/web?cert=none"},
    {"dstack:tls/web?usage=client", "dstack:tls/web?usage=client"},
    {"dstack:tls/web?usage=server,client", "dstack:tls/web?usage=server,client"},
    {"dstack:tls/web?app-info=no", "dstack:tls/web"},
    {"dstack:tls/web?app-info=yes&cert=self", "dstack:tls/web?cert=self&app-info=yes"},
    {"dstack:my%20key", "dstack:my%20key"},
    {"dstack:%74ls/web", "dstack:tls/web"},
    {"dstack:tls/web?cn=My%20Service%2C%20Inc.", "dstack:tls/web?cn=My%20Service%2C%20Inc."},
    {"dstack:tls/web?purpose=a%26b%3Dc", "dstack:tls/web?purpose=a%26b%3Dc"},
    {"dstack:caf%C3%A9", "dstack:caf%C3%A9"},
    {"dstack:a+b", "dstack:a%2Bb"},
    {NULL, NULL},
};

typedef struct bad_case {
    const char *uri;
    const char *message; /* substring the error must contain */
} bad_case;

static const bad_case bad_cases[] = {
    {"tls/web", "not a dstack: URI"},
    {"dstak:tls/web", "not a dstack: URI"},
    {"", "not a dstack: URI"},
    {"dstack:", "empty key path"},
    {"dstack:?alg=p256", "empty key path"},
    {"dstack:tls/web?alg=rsa",
     "dstack:tls/web?alg=rsa: unsupported alg \"rsa\" (expected p256, secp256k1, k256 or "
     "ed25519)"},
    {"dstack:tls/web?alg=P256", "unsupported alg \"P256\""},
    {"dstack:tls/web?alg=", "parameter \"alg\" has an empty value"},
    {"dstack:tls/web?alg", "parameter \"alg\" has no value"},
    {"dstack:tls/web?alg=p256&alg=p256", "parameter \"alg\" given more than once"},
    {"dstack:tls/web?purpose=a&purpose=b", "parameter \"purpose\" given more than once"},
    {"dstack:tls/web?cn=a&cn=b", "parameter \"cn\" given more than once"},
    {"dstack:tls/web?colour=red", "unknown parameter \"colour\""},
    {"dstack:tls/web?Alg=p256", "unknown parameter \"Alg\""},
    {"dstack:tls/web?=x", "unknown parameter \"\""},
    {"dstack:tls/web?", "empty parameter"},
    {"dstack:tls/web?alg=p256&", "empty parameter"},
    {"dstack:tls/web?alg=p256&&cert=self", "empty parameter"},
    {"dstack:tls/web?cert=kms", "unsupported cert \"kms\" (expected auto, agent, self or none)"},
    {"dstack:tls/web?ratls=yes", "unsupported ratls \"yes\""},
    {"dstack:tls/web?usage=both", "unsupported usage \"both\""},
    {"dstack:tls/web?usage=client,server", "unsupported usage \"client,server\""},
    {"dstack:tls/web?app-info=true", "unsupported app-info \"true\" (expected yes or no)"},
    {"dstack:tls/web?ephemeral=yes", "ephemeral=yes needs an empty path"},
    {"dstack:?ephemeral=no", "unsupported ephemeral \"no\""},
    {"dstack:?ephemeral=yes&alg=ed25519", "ephemeral=yes supports alg=p256 only"},
    {"dstack:?ephemeral=yes&alg=secp256k1", "ephemeral=yes supports alg=p256 only"},
    {"dstack:?ephemeral=yes&cert=none", "cannot be combined with cert=none"},
    {"dstack:?ephemeral=yes&cert=self", "cannot be combined with cert=self"},
    {"dstack:?ephemeral=yes&purpose=x", "purpose has no meaning with ephemeral=yes"},
    {"dstack:tls/web?cert=none&san=a.example", "san has no meaning with cert=none"},
    {"dstack:tls/web?cert=none&ratls=attest", "ratls has no meaning with cert=none"},
    {"dstack:tls%zzweb", "bad percent-escape \"%zz\" in path"},
    {"dstack:tls/web%4", "bad percent-escape \"%4\" in path"},
    {"dstack:tls/web%", "bad percent-escape \"%\" in path"},
    {"dstack:tls%00web", "%00 (NUL byte) in path"},
    {"dstack:tls/web?cn=a%00b", "%00 (NUL byte) in cn value"},
    {"dstack:tls/web?purpose=%G1", "bad percent-escape \"%G1\" in purpose value"},
    {"dstack:%C3%28", "path is not valid UTF-8"},
    {"dstack:%C0%AF", "path is not valid UTF-8"},
    {"dstack:%ED%A0%80", "path is not valid UTF-8"},
    {"dstack:tls/web?cn=%FF", "cn value is not valid UTF-8"},
    {"dstack:tls web", "raw space or control character at offset 10"},
    {"dstack:tls/web\n", "raw space or control character at offset 14"},
    {"dstack:tls/web#frag", "fragments are not allowed"},
    {"dstack://host/tls/web", "has no authority part"},
    {"dstack://", "has no authority part"},
    {"dstack:tls/web?san=", "parameter \"san\" has an empty value"},
    {"dstack:tls/web?san=a.example,", "empty entry in san list"},
    {"dstack:tls/web?san=,a.example", "empty entry in san list"},
    {"dstack:tls/web?san=exa_mple.com", "san \"exa_mple.com\" is neither a DNS name nor"},
    {"dstack:tls/web?san=-bad.example", "san \"-bad.example\" is neither"},
    {"dstack:tls/web?san=bad-.example", "san \"bad-.example\" is neither"},
    {"dstack:tls/web?san=a..example", "san \"a..example\" is neither"},
    {"dstack:tls/web?san=example.com.", "san \"example.com.\" is neither"},
    {"dstack:tls/web?san=1.2.3.4.5.6.7.8.9%3A", "is neither a DNS name nor"},
    {"dstack:tls/web?san=%5B%3A%3A1%5D", "san \"[::1]\" is neither"},
    {"dstack:tls/web?san=caf%C3%A9.example", "san \"caf\\xc3\\xa9.example\" is neither"},
    {"dstack:tls/web?san=a.*.example", "san \"a.*.example\" is neither"},
    {"dstack:tls/web?san="
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
     "is neither a DNS name"},
    {"dstack:tls/web?cn="
     "0123456789012345678901234567890123456789012345678901234567890123X",
     "cn is longer than 64 characters"},
    {NULL, NULL},
};

static void test_good_table(void)
{
    size_t n = 0;
    for (const good_case *c = good_cases; c->uri != NULL; c++, n++) {
        dstack_uri uri;
        dstack_error err;
        dstack_error_clear(&err);
        dstack_status rc = dstack_uri_parse(c->uri, &uri, &err);
        if (rc != DSTACK_OK) {
            fprintf(stderr, "  unexpected failure for %s: %s\n", c->uri, err.message);
            CU_FAIL("good URI rejected");
            continue;
        }
        char *canon = dstack_uri_canonical(&uri);
        CU_ASSERT_PTR_NOT_NULL_FATAL(canon);
        if (strcmp(canon, c->canonical) != 0)
            fprintf(stderr, "  %s: canonical %s, expected %s\n", c->uri, canon, c->canonical);
        CU_ASSERT_STRING_EQUAL(canon, c->canonical);
        /* The canonical form is itself a URI with the same meaning and the same canonical
         * form (it is the cache key). */
        dstack_uri again;
        CU_ASSERT_EQUAL_FATAL(dstack_uri_parse(canon, &again, &err), DSTACK_OK);
        char *canon2 = dstack_uri_canonical(&again);
        CU_ASSERT_STRING_EQUAL(canon2, canon);
        free(canon2);
        dstack_uri_free(&again);
        free(canon);
        dstack_uri_free(&uri);
    }
    fprintf(stderr, "  %zu good URIs\n", n);
    CU_ASSERT(n >= 25);
}

static void test_bad_table(void)
{
    size_t n = 0;
    for (const bad_case *c = bad_cases; c->uri != NULL; c++, n++) {
        dstack_uri uri;
        dstack_error err;
        dstack_error_clear(&err);
        dstack_status rc = dstack_uri_parse(c->uri, &uri, &err);
        if (rc == DSTACK_OK) {
            fprintf(stderr, "  accepted bad URI %s\n", c->uri);
            CU_FAIL("bad URI accepted");
            dstack_uri_free(&uri);
            continue;
        }
        CU_ASSERT_EQUAL(rc, DSTACK_ERR_USAGE);
        CU_ASSERT_EQUAL(err.status, DSTACK_ERR_USAGE);
        if (strstr(err.message, c->message) == NULL) {
            fprintf(stderr, "  %s: message [%s] lacks [%s]\n", c->uri, err.message, c->message);
            CU_FAIL("message does not name the problem");
        }
        /* Every message starts with the URI (escaped where needed). */
        if (c->uri[0] != '\0' && strchr(c->uri, '\n') == NULL && strlen(c->uri) < 100)
            CU_ASSERT(strncmp(err.message, c->uri, strlen(c->uri)) == 0);
        /* On failure the output holds nothing. */
        CU_ASSERT_PTR_NULL(uri.path);
        CU_ASSERT_PTR_NULL(uri.san);
    }
    fprintf(stderr, "  %zu bad URIs\n", n);
    CU_ASSERT(n >= 45);
}

static void test_fields(void)
{
    dstack_uri uri;
    dstack_error err;
    CU_ASSERT_EQUAL_FATAL(
        dstack_uri_parse("dstack:tls/my%2Fweb?san=a.example,10.0.0.5&san=::1&cn=Web&"
                         "usage=server,client&cert=self&ratls=quote&purpose=p&app-info=yes",
                         &uri, &err),
        DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(uri.path, "tls/my/web");
    CU_ASSERT_EQUAL(uri.alg, DSTACK_ALG_P256);
    CU_ASSERT_STRING_EQUAL(uri.purpose, "p");
    CU_ASSERT(uri.cert_set && uri.cert == DSTACK_CERT_SELF);
    CU_ASSERT(uri.ratls_set && uri.ratls == DSTACK_RATLS_QUOTE);
    CU_ASSERT_STRING_EQUAL(uri.cn, "Web");
    CU_ASSERT_EQUAL_FATAL(uri.san_count, 3);
    CU_ASSERT_STRING_EQUAL(uri.san[0], "a.example");
    CU_ASSERT_STRING_EQUAL(uri.san[1], "10.0.0.5");
    CU_ASSERT_STRING_EQUAL(uri.san[2], "::1");
    CU_ASSERT(uri.usage_server && uri.usage_client);
    CU_ASSERT(uri.app_info);
    CU_ASSERT(!uri.ephemeral);
    dstack_uri_free(&uri);
    dstack_uri_free(&uri); /* idempotent */

    CU_ASSERT_EQUAL_FATAL(dstack_uri_parse("dstack:x", &uri, &err), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(uri.purpose, "");
    CU_ASSERT_PTR_NULL(uri.cn);
    CU_ASSERT(!uri.cert_set && !uri.ratls_set);
    CU_ASSERT(uri.usage_server && !uri.usage_client);
    CU_ASSERT_EQUAL(uri.san_count, 0);
    dstack_uri_free(&uri);

    CU_ASSERT_EQUAL_FATAL(dstack_uri_parse("dstack:?ephemeral=yes", &uri, &err), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(uri.path, "");
    CU_ASSERT(uri.ephemeral);
    dstack_uri_free(&uri);
}

static void test_hostile_input(void)
{
    dstack_uri uri;
    dstack_error err;
    /* Control bytes are escaped in messages, never copied raw. */
    CU_ASSERT_EQUAL(dstack_uri_parse("dstack:a\x1b[31m", &uri, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(strchr(err.message, '\x1b'));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\\x1b"));
    /* Oversized URIs are refused, and long ones shortened in messages. */
    size_t big = 5000;
    char *s = malloc(big + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memcpy(s, "dstack:", 7);
    memset(s + 7, 'a', big - 7);
    s[big] = '\0';
    CU_ASSERT_EQUAL(dstack_uri_parse(s, &uri, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "longer than"));
    CU_ASSERT(strlen(err.message) < 300);
    /* Too many SANs. */
    strcpy(s, "dstack:x?san=a0");
    for (int i = 1; i <= 64; i++)
        sprintf(s + strlen(s), ",a%d", i);
    CU_ASSERT_EQUAL(dstack_uri_parse(s, &uri, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 64 san entries"));
    free(s);
    /* NULL arguments. */
    CU_ASSERT_EQUAL(dstack_uri_parse(NULL, &uri, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_uri_parse("dstack:x", NULL, NULL), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(dstack_uri_canonical(NULL));
}

static void test_names(void)
{
    dstack_cert_mode cm;
    dstack_ratls_mode rm;
    CU_ASSERT_STRING_EQUAL(dstack_key_alg_name(DSTACK_ALG_P256), "p256");
    CU_ASSERT_STRING_EQUAL(dstack_key_alg_name(DSTACK_ALG_SECP256K1), "secp256k1");
    CU_ASSERT_STRING_EQUAL(dstack_key_alg_name(DSTACK_ALG_ED25519), "ed25519");
    for (int i = DSTACK_CERT_AUTO; i <= DSTACK_CERT_NONE; i++) {
        CU_ASSERT(dstack_cert_mode_parse(dstack_cert_mode_name((dstack_cert_mode)i), &cm));
        CU_ASSERT_EQUAL(cm, i);
    }
    for (int i = DSTACK_RATLS_AUTO; i <= DSTACK_RATLS_NO; i++) {
        CU_ASSERT(dstack_ratls_mode_parse(dstack_ratls_mode_name((dstack_ratls_mode)i), &rm));
        CU_ASSERT_EQUAL(rm, i);
    }
    CU_ASSERT(!dstack_cert_mode_parse("Agent", &cm));
    CU_ASSERT(!dstack_cert_mode_parse(NULL, &cm));
    CU_ASSERT(!dstack_ratls_mode_parse("yes", &rm));
    CU_ASSERT_STRING_EQUAL(dstack_cert_mode_name((dstack_cert_mode)42), "unknown");
}

int main(void)
{
    static const test_case cases[] = {
        {"good URIs and canonical forms", test_good_table},
        {"bad URIs name the problem", test_bad_table},
        {"parsed fields", test_fields},
        {"hostile input", test_hostile_input},
        {"mode names", test_names},
        {NULL, NULL},
    };
    return test_run_suite("uri", cases);
}
