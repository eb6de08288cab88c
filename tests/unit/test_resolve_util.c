#include "test_resolve_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/objects.h>

#include "test_util.h"

void tr_set(dstack_config *cfg, const char *name, const char *value)
{
    dstack_error err;

    dstack_error_clear(&err);
    if (dstack_config_set(cfg, name, value, &err) != DSTACK_OK) {
        fprintf(stderr, "  config: %s\n", err.message);
        CU_FAIL_FATAL("dstack_config_set failed");
    }
}

dstack_resolver *tr_resolver(bool cache, void (*tweak)(dstack_config *cfg))
{
    dstack_config *cfg = dstack_config_new();
    dstack_resolver *r = NULL;
    dstack_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    tr_set(cfg, "cache", cache ? "yes" : "no");
    if (tweak != NULL)
        tweak(cfg);
    dstack_error_clear(&err);
    if (dstack_resolver_new(cfg, &r, &err) != DSTACK_OK) {
        fprintf(stderr, "  resolver: %s\n", err.message);
        dstack_config_free(cfg);
        CU_FAIL_FATAL("dstack_resolver_new failed");
    }
    dstack_config_free(cfg);
    return r;
}

dstack_resolved *tr_resolve_ok(dstack_resolver *r, const char *uri, unsigned want)
{
    dstack_resolved *res = NULL;
    dstack_error err;
    dstack_error_clear(&err);
    if (dstack_resolve(r, uri, want, &res, &err) != DSTACK_OK) {
        fprintf(stderr, "  %s: [%s] %s\n", uri, dstack_status_name(err.status), err.message);
        CU_FAIL("dstack_resolve failed");
        return NULL;
    }
    return res;
}

void tr_resolve_fails(dstack_resolver *r, const char *uri, unsigned want, dstack_status status,
                      const char *const needles[])
{
    dstack_resolved *res = NULL;
    dstack_error err;
    dstack_error_clear(&err);
    dstack_status rc = dstack_resolve(r, uri, want, &res, &err);
    CU_ASSERT_PTR_NULL(res);
    dstack_resolved_free(res);
    if (rc != status) {
        fprintf(stderr, "  %s: status %s, expected %s (%s)\n", uri, dstack_status_name(rc),
                dstack_status_name(status), err.message);
        CU_FAIL("wrong status");
    }
    CU_ASSERT_EQUAL(err.status, status);
    for (size_t i = 0; needles != NULL && needles[i] != NULL; i++)
        if (strstr(err.message, needles[i]) == NULL) {
            fprintf(stderr, "  %s: message [%s] lacks [%s]\n", uri, err.message, needles[i]);
            CU_FAIL("message lacks expected text");
        }
}

X509 *tr_cert(const dstack_resolved *res, size_t i)
{
    if (res == NULL || i >= res->cert_count)
        return NULL;
    const unsigned char *p = res->cert_der[i];
    return d2i_X509(NULL, &p, (long)res->cert_der_len[i]);
}

bool tr_has_ext(X509 *cert, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    int idx = obj != NULL ? X509_get_ext_by_OBJ(cert, obj, -1) : -1;
    ASN1_OBJECT_free(obj);
    return idx >= 0;
}

long tr_sim_stat(const char *group, const char *service)
{
    char path[600], buf[8192];
    struct sockaddr_un sa;
    long value = -1;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/sim-control.sock", test_env("DSTACK_SIM_DIR"));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    static const char req[] = "GET /stats HTTP/1.0\r\nHost: sim\r\nConnection: close\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
        ssize_t got;
        while (n < sizeof(buf) - 1 && (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
            n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    const char *body = strstr(buf, "\r\n\r\n");
    json_object *root = body != NULL ? json_tokener_parse(body + 4) : NULL, *g, *v;
    if (root != NULL && json_object_object_get_ex(root, group, &g) &&
        json_object_object_get_ex(g, service, &v))
        value = (long)json_object_get_int64(v);
    json_object_put(root);
    return value;
}
