/* libdstack's configuration table (include/dstack/config.h, client/resolve/config.c): every
 * parameter's accepted and refused values, the messages, "did you mean", defaults, reset,
 * the rule between kms-root-pubkey and app-id, and provider-dstack(7)'s parameter table
 * checked against the table itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/config.h>
#include <dstack/resolve.h>

#include "test_util.h"

#define ROOT_02 "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6"
/* The same point uncompressed: the engine used to accept this (a drift bug). */
#define ROOT_04                                                                                    \
    "04c1082e78670feed1c847db81dbd71be37e4d53200a746c0a89f0afa8173cf566"                           \
    "1e7c4b0b2e5a3b9d7e6c5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"

static dstack_status set(dstack_config *cfg, const char *name, const char *value, dstack_error *err)
{
    dstack_error_clear(err);
    return dstack_config_set(cfg, name, value, err);
}

static char *get(const dstack_config *cfg, const char *name)
{
    static char buf[600];
    CU_ASSERT_EQUAL(dstack_config_get(cfg, name, buf, sizeof(buf), NULL), DSTACK_OK);
    return buf;
}

static void test_defaults(void)
{
    dstack_config *cfg = dstack_config_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(get(cfg, "timeout-ms"), "5000");
    CU_ASSERT_STRING_EQUAL(get(cfg, "cert"), "auto");
    CU_ASSERT_STRING_EQUAL(get(cfg, "ratls"), "auto");
    CU_ASSERT_STRING_EQUAL(get(cfg, "cache"), "yes");
    CU_ASSERT_STRING_EQUAL(get(cfg, "endpoint"), "");
    CU_ASSERT_STRING_EQUAL(get(cfg, "kms-root-pubkey"), "");
    for (size_t i = 0; i < dstack_config_param_count(); i++) {
        const dstack_config_param *p = dstack_config_param_at(i);
        CU_ASSERT_FALSE(dstack_config_is_set(cfg, p->name));
        CU_ASSERT_PTR_NOT_NULL(p->values);
        CU_ASSERT_PTR_NOT_NULL(p->default_value);
        CU_ASSERT_PTR_NOT_NULL(p->doc);
        CU_ASSERT_PTR_EQUAL(dstack_config_param_find(p->name), p);
    }
    CU_ASSERT_PTR_NULL(dstack_config_param_at(dstack_config_param_count()));
    dstack_config_free(cfg);
}

/* The three drift bugs of issue 10: one range, one key form, one endpoint rule — now there is
 * only one parser, and these are its answers. */
static void test_one_rule_per_parameter(void)
{
    dstack_config *cfg = dstack_config_new();
    dstack_error err;

    CU_ASSERT_EQUAL(set(cfg, "kms-root-pubkey", ROOT_04, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "compressed secp256k1"));
    CU_ASSERT_EQUAL(set(cfg, "kms-root-pubkey", ROOT_02, &err), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(get(cfg, "kms-root-pubkey"), ROOT_02);
    CU_ASSERT_EQUAL(set(cfg, "timeout-ms", "600000", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(set(cfg, "timeout-ms", "600001", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(set(cfg, "timeout-ms", "3600000", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(err.message, "timeout-ms = \"3600000\" is invalid: expected "
                                        "milliseconds between 1 and 600000");
    CU_ASSERT_STRING_EQUAL(get(cfg, "timeout-ms"), "600000"); /* a bad value changes nothing */
    CU_ASSERT_EQUAL(set(cfg, "endpoint", "relative/dstack.sock", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "absolute Unix socket path"));
    CU_ASSERT_EQUAL(set(cfg, "tappd-endpoint", "tappd.sock", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(set(cfg, "endpoint", "/run/dstack.sock", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(set(cfg, "endpoint", "unix:/run/dstack.sock", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(set(cfg, "endpoint", "http://127.0.0.1:8090", &err), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(get(cfg, "endpoint"), "http://127.0.0.1:8090");
    dstack_config_free(cfg);
}

static void test_values(void)
{
    static const struct {
        const char *name, *value;
        bool ok;
    } cases[] = {
        {"timeout-ms", "1", true},
        {"timeout-ms", "0", false},
        {"timeout-ms", "-5", false},
        {"timeout-ms", "12ms", false},
        {"timeout-ms", " 10", false},
        {"timeout-ms", "99999999999999999999", false},
        {"cert", "agent", true},
        {"cert", "self", true},
        {"cert", "none", true},
        {"cert", "Agent", false},
        {"ratls", "both", true},
        {"ratls", "yes", false},
        {"cache", "no", true},
        {"cache", "off", false},
        {"app-id", "00112233", true},
        {"app-id", "0x0011", true},
        {"app-id", "xyz", false},
        {"app-id", "001", false},
        {"kms-root-pubkey", "02", false},
        {"endpoint", "ftp://x", false},
    };
    dstack_config *cfg = dstack_config_new();
    dstack_error err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dstack_status rc = set(cfg, cases[i].name, cases[i].value, &err);
        if ((rc == DSTACK_OK) != cases[i].ok)
            fprintf(stderr, "\n  %s = %s: %s\n", cases[i].name, cases[i].value, err.message);
        CU_ASSERT_EQUAL(rc == DSTACK_OK, cases[i].ok);
        if (!cases[i].ok) {
            /* the message names the parameter and the value */
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].name));
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is invalid"));
        }
    }
    CU_ASSERT_EQUAL(set(cfg, "cert", "", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(err.message, "cert = \"\" is invalid: empty value");
    /* hostile text in a message is escaped */
    CU_ASSERT_EQUAL(set(cfg, "cert", "a\nb\x1b[31m", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
    CU_ASSERT_PTR_NULL(strchr(err.message, '\x1b'));
    dstack_config_free(cfg);
}

static void test_unknown_names(void)
{
    dstack_config *cfg = dstack_config_new();
    dstack_error err;

    CU_ASSERT_EQUAL(set(cfg, "kms_root_pubkey", ROOT_02, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(err.message,
                           "unknown parameter kms_root_pubkey (did you mean kms-root-pubkey?)");
    CU_ASSERT_EQUAL(set(cfg, "kms-root-pub-key", ROOT_02, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "did you mean kms-root-pubkey?"));
    CU_ASSERT_EQUAL(set(cfg, "timeout", "100", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "did you mean timeout-ms?"));
    CU_ASSERT_EQUAL(set(cfg, "appid", "00", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "did you mean app-id?"));
    CU_ASSERT_EQUAL(set(cfg, "colour", "blue", &err), DSTACK_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(err.message, "unknown parameter colour");
    CU_ASSERT_FALSE(dstack_config_is_set(cfg, "kms-root-pubkey"));
    CU_ASSERT_PTR_NULL(dstack_config_param_closest("completely-different-thing"));
    dstack_config_free(cfg);
}

static void test_reset_dup_engine_names(void)
{
    dstack_config *cfg = dstack_config_new(), *copy;
    char name[64];
    dstack_error err;

    CU_ASSERT_EQUAL(set(cfg, "app-id", "00112233", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(set(cfg, "endpoint", "/x/dstack.sock", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(set(cfg, "cache", "no", &err), DSTACK_OK);
    copy = dstack_config_dup(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    CU_ASSERT_EQUAL(dstack_config_reset(cfg, "app-id", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_config_reset(cfg, "endpoint", &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_config_reset(cfg, "cache", &err), DSTACK_OK);
    CU_ASSERT_FALSE(dstack_config_is_set(cfg, "app-id"));
    CU_ASSERT_STRING_EQUAL(get(cfg, "app-id"), "");
    CU_ASSERT_STRING_EQUAL(get(cfg, "endpoint"), "");
    CU_ASSERT_STRING_EQUAL(get(cfg, "cache"), "yes");
    /* the copy is independent */
    CU_ASSERT_TRUE(dstack_config_is_set(copy, "app-id"));
    CU_ASSERT_STRING_EQUAL(get(copy, "endpoint"), "/x/dstack.sock");
    CU_ASSERT_EQUAL(dstack_config_reset(cfg, "nope", &err), DSTACK_ERR_USAGE);
    dstack_config_engine_name("kms-root-pubkey", name, sizeof(name));
    CU_ASSERT_STRING_EQUAL(name, "KMS_ROOT_PUBKEY");
    dstack_config_engine_name("timeout-ms", name, sizeof(name));
    CU_ASSERT_STRING_EQUAL(name, "TIMEOUT_MS");
    dstack_config_free(copy);
    dstack_config_free(cfg);
}

/* A KMS root vouches for every app on that KMS: alone it is refused, by the check and by the
 * resolver. */
static void test_kms_root_needs_app_id(void)
{
    dstack_config *cfg = dstack_config_new();
    dstack_resolver *r = NULL;
    dstack_error err;

    CU_ASSERT_EQUAL(set(cfg, "kms-root-pubkey", ROOT_02, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_config_check(cfg, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "set app-id"));
    dstack_error_clear(&err);
    CU_ASSERT_EQUAL(dstack_resolver_new(cfg, &r, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(set(cfg, "app-id", "5bb4ff9a3837357f19dc176407a5709c62eb6c56", &err),
                    DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_config_check(cfg, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_resolver_new(cfg, &r, &err), DSTACK_OK);
    dstack_resolver_free(r);
    dstack_config_free(cfg);
}

/* provider-dstack(7)'s CONFIGURATION table has exactly the table's rows, in order, and each
 * row's default is the table's default (the man page may add backquotes). */
static void test_man_page_matches_table(void)
{
    char path[4096], line[2048], name[128], dflt[1024];
    size_t row = 0;
    bool in_section = false;
    FILE *f;

    snprintf(path, sizeof(path), "%s/docs/provider-dstack.7.md", test_env("DSTACK_SOURCE_DIR"));
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "## ", 3) == 0)
            in_section = strcmp(line, "## CONFIGURATION\n") == 0;
        if (!in_section || strncmp(line, "| `", 3) != 0)
            continue;
        /* | `name` | default | meaning | */
        char *p = line + 3, *end = strchr(p, '`'), *cell, *cell_end;
        size_t o = 0;
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
        cell = strstr(end, "| ");
        CU_ASSERT_PTR_NOT_NULL_FATAL(cell);
        cell += 2;
        cell_end = strstr(cell, " |");
        CU_ASSERT_PTR_NOT_NULL_FATAL(cell_end);
        for (char *c = cell; c < cell_end && o + 1 < sizeof(dflt); c++)
            if (*c != '`')
                dflt[o++] = *c;
        dflt[o] = '\0';
        const dstack_config_param *want = dstack_config_param_at(row);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want);
        if (strcmp(want->name, name) != 0 || strcmp(want->default_value, dflt) != 0)
            fprintf(stderr, "\n  man page row %zu: %s | %s\n  table:          %s | %s\n", row, name,
                    dflt, want->name, want->default_value);
        CU_ASSERT_STRING_EQUAL(name, want->name);
        CU_ASSERT_STRING_EQUAL(dflt, want->default_value);
        row++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(row, dstack_config_param_count());
}

int main(void)
{
    static const test_case cases[] = {
        {"defaults", test_defaults},
        {"one rule per parameter (the drift bugs)", test_one_rule_per_parameter},
        {"accepted and refused values", test_values},
        {"unknown names: did you mean", test_unknown_names},
        {"reset, dup, engine spellings", test_reset_dup_engine_names},
        {"kms-root-pubkey needs app-id", test_kms_root_needs_app_id},
        {"provider-dstack(7) matches the table", test_man_page_matches_table},
        {NULL, NULL},
    };
    return test_run_suite("config", cases);
}
