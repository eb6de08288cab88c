/* The strict JSON field decoder of libdstack (client/agent/json_codec.h, protocol.md §1.4): proto3
 * defaults for missing fields, DSTACK_ERR_PROTOCOL naming the field for wrong types. */
#include "test_client_util.h"

#include <stdint.h>

#include <openssl/crypto.h>

#include "agent/json_codec.h"

static json_object *parse_ok(const char *text)
{
    json_object *obj = NULL;
    CU_ASSERT_EQUAL(dstack_json_parse_text(text, strlen(text), &obj, NULL), DSTACK_OK);
    return obj;
}

static void test_parse_text(void)
{
    json_object *obj = NULL;
    const char *why = NULL;
    static const char *const bad[] = {"{",      "{} x",     "[1,]",           "{\"a\" 1}",
                                      "nul",    "{\"a\":}", "\"unterminated", "{\"a\":1}}",
                                      "\x01{}", NULL};

    CU_ASSERT_PTR_NULL(parse_ok(""));
    CU_ASSERT_PTR_NULL(parse_ok(" \r\n\t"));
    CU_ASSERT_PTR_NULL(parse_ok("null"));
    CU_ASSERT_PTR_NULL(parse_ok(" null \n"));
    obj = parse_ok("42");
    CU_ASSERT(json_object_is_type(obj, json_type_int));
    json_object_put(obj);
    obj = parse_ok("{\"a\": [1, 2]}\n");
    CU_ASSERT(json_object_is_type(obj, json_type_object));
    json_object_put(obj);
    for (int i = 0; bad[i] != NULL; i++) {
        obj = NULL;
        CU_ASSERT_EQUAL(dstack_json_parse_text(bad[i], strlen(bad[i]), &obj, &why),
                        DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NULL(obj);
        CU_ASSERT_PTR_NOT_NULL(why);
    }
    /* An embedded NUL is rejected, not silently cut. */
    CU_ASSERT_EQUAL(dstack_json_parse_text("{}\0{}", 5, &obj, &why), DSTACK_ERR_PROTOCOL);
}

static json_object *sample;
static dstack_error err;
static dstack_json_ctx ctx = {.method = "GetKey", .endpoint = "/s.sock", .scope = ""};

static void setup_sample(void)
{
    json_object_put(sample);
    sample = parse_ok("{\"s\":\"x\",\"n\":5,\"b\":true,\"h\":\"0x0xABcd\",\"bad\":\"zz\","
                      "\"odd\":\"abc\",\"arr\":[\"00\",\"ff\"],\"sarr\":[\"a\",\"b\"],"
                      "\"iarr\":[1],\"neg\":-1,\"big\":18446744073709551615,\"nul\":null}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sample);
    ctx.err = &err;
    dstack_error_clear(&err);
}

static void expect_field_error(const char *field, const char *detail)
{
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "field \"%s\"", field);
    CU_ASSERT_EQUAL(err.status, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "GetKey on /s.sock: response "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, quoted));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, detail));
    if (strstr(err.message, detail) == NULL)
        fprintf(stderr, "message: %s\n", err.message);
}

static void test_strings_bools_numbers(void)
{
    const char *s = NULL;
    char *dup = NULL;
    bool b = true;
    uint64_t u = 7;

    setup_sample();
    CU_ASSERT_EQUAL(dstack_json_get_string(sample, "s", &s, &ctx), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(s, "x");
    CU_ASSERT_EQUAL(dstack_json_get_string(sample, "missing", &s, &ctx), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(s, "");
    CU_ASSERT_EQUAL(dstack_json_dup_string(sample, "missing", &dup, &ctx), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(dup, "");
    OPENSSL_free(dup);
    CU_ASSERT_EQUAL(dstack_json_get_string(sample, "n", &s, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("n", "is int, expected a string");
    CU_ASSERT_EQUAL(dstack_json_get_string(sample, "nul", &s, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("nul", "is null");

    CU_ASSERT_EQUAL(dstack_json_get_bool(sample, "b", &b, &ctx), DSTACK_OK);
    CU_ASSERT_TRUE(b);
    CU_ASSERT_EQUAL(dstack_json_get_bool(sample, "missing", &b, &ctx), DSTACK_OK);
    CU_ASSERT_FALSE(b);
    CU_ASSERT_EQUAL(dstack_json_get_bool(sample, "s", &b, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("s", "expected a boolean");

    CU_ASSERT_EQUAL(dstack_json_get_uint64(sample, "n", &u, &ctx), DSTACK_OK);
    CU_ASSERT_EQUAL(u, 5);
    CU_ASSERT_EQUAL(dstack_json_get_uint64(sample, "big", &u, &ctx), DSTACK_OK);
    CU_ASSERT(u == UINT64_MAX);
    CU_ASSERT_EQUAL(dstack_json_get_uint64(sample, "missing", &u, &ctx), DSTACK_OK);
    CU_ASSERT_EQUAL(u, 0);
    CU_ASSERT_EQUAL(dstack_json_get_uint64(sample, "neg", &u, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("neg", "negative");
    CU_ASSERT_EQUAL(dstack_json_get_uint64(sample, "s", &u, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("s", "expected an unsigned integer");

    /* Nested scopes show up in the field name. */
    ctx.scope = "tcb_info.";
    CU_ASSERT_EQUAL(dstack_json_get_string(sample, "b", &s, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("tcb_info.b", "is boolean");
    ctx.scope = "";
}

static void test_hex_fields(void)
{
    dstack_bytes b = {0};
    dstack_bytes *arr = NULL;
    char **sarr = NULL;
    size_t n = 9;

    setup_sample();
    /* Repeated 0x prefixes are stripped and either case accepted (protocol.md §1.4). */
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "h", false, 0, &b, &ctx), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(b.data, b.len, "abcd");
    dstack_bytes_free(&b);
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "h", true, 2, &b, &ctx), DSTACK_OK);
    dstack_bytes_free(&b);
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "missing", false, 0, &b, &ctx), DSTACK_OK);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "bad", false, 0, &b, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("bad", "not valid hex");
    CU_ASSERT_PTR_NULL(strstr(err.message, "zz")); /* values are never echoed */
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "odd", false, 0, &b, &ctx), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "h", true, 32, &b, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("h", "holds 2 bytes, expected 32");
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "missing", true, 32, &b, &ctx),
                    DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_json_get_hex(sample, "n", false, 0, &b, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("n", "expected a hex string");

    CU_ASSERT_EQUAL(dstack_json_get_hex_array(sample, "arr", &arr, &n, &ctx), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_HEX_EQUAL(arr[0].data, arr[0].len, "00");
    CU_ASSERT_HEX_EQUAL(arr[1].data, arr[1].len, "ff");
    dstack_bytes_array_free(arr, n);
    CU_ASSERT_EQUAL(dstack_json_get_hex_array(sample, "missing", &arr, &n, &ctx), DSTACK_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(arr);
    CU_ASSERT_EQUAL(dstack_json_get_hex_array(sample, "sarr", &arr, &n, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("sarr[0]", "is not valid hex");
    CU_ASSERT_EQUAL(dstack_json_get_hex_array(sample, "s", &arr, &n, &ctx), DSTACK_ERR_PROTOCOL);
    expect_field_error("s", "expected an array");

    CU_ASSERT_EQUAL(dstack_json_get_string_array(sample, "sarr", &sarr, &n, &ctx), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(sarr[1], "b");
    dstack_string_array_free(sarr, n);
    CU_ASSERT_EQUAL(dstack_json_get_string_array(sample, "iarr", &sarr, &n, &ctx),
                    DSTACK_ERR_PROTOCOL);
    expect_field_error("iarr[0]", "is int, expected a string");
}

static void test_build_and_scrub(void)
{
    json_object *req = json_object_new_object(), *v;
    const uint8_t data[] = {0x00, 0x9f, 0xff};

    CU_ASSERT_EQUAL(dstack_json_add_hex(req, "d", data, sizeof(data), &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_json_add_hex(req, "e", NULL, 0, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_json_add_string(req, "s", NULL, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_json_add_bool(req, "b", true, &err), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
                           "{\"d\":\"009fff\",\"e\":\"\",\"s\":\"\",\"b\":true}");
    dstack_json_scrub_string(req, "d");
    CU_ASSERT_FATAL(json_object_object_get_ex(req, "d", &v));
    CU_ASSERT_EQUAL(json_object_get_string_len(v), 6);
    CU_ASSERT(memcmp(json_object_get_string(v), "\0\0\0\0\0\0", 6) == 0);
    json_object_put(req);
    json_object_put(sample);
    sample = NULL;
}

int main(void)
{
    static const test_case cases[] = {
        {"parse: one strict JSON value, null/empty → NULL", test_parse_text},
        {"strings, booleans, uint64: defaults and type errors", test_strings_bools_numbers},
        {"hex bytes and arrays", test_hex_fields},
        {"request building and key scrubbing", test_build_and_scrub},
        {NULL, NULL},
    };
    return test_run_suite("client_json", cases);
}
