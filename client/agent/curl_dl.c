/* libcurl for https:// endpoints, loaded on first use (see curl_dl.h and agent/http.h for
 * why it is not linked). The library is opened by its SONAME, the one Debian's libcurl4
 * package installs, and never closed: libcurl keeps process-wide state once initialised. */
#include "agent/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define LIBCURL_SONAME "libcurl.so.4"

const dstack_curl_api *dstack_curl_api_loaded;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static dstack_curl_api api;
static char load_error[256];

#define SYM(field, name)                                                                           \
    do {                                                                                           \
        if (ok && (*(void **)&api.field = dlsym(h, name)) == NULL) {                               \
            snprintf(load_error, sizeof(load_error), "%s has no %s", LIBCURL_SONAME, name);        \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)

static void load(void)
{
    void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    bool ok = h != NULL;
    CURLcode rc;

    if (h == NULL) {
        const char *why = dlerror();
        snprintf(load_error, sizeof(load_error), "cannot load %s: %s", LIBCURL_SONAME,
                 why != NULL ? why : "unknown error");
        return;
    }
    SYM(global_init, "curl_global_init");
    SYM(easy_init, "curl_easy_init");
    SYM(easy_setopt, "curl_easy_setopt");
    SYM(easy_perform, "curl_easy_perform");
    SYM(easy_getinfo, "curl_easy_getinfo");
    SYM(easy_cleanup, "curl_easy_cleanup");
    SYM(easy_reset, "curl_easy_reset");
    SYM(easy_strerror, "curl_easy_strerror");
    SYM(slist_append, "curl_slist_append");
    SYM(slist_free_all, "curl_slist_free_all");
    SYM(multi_init, "curl_multi_init");
    SYM(multi_setopt, "curl_multi_setopt");
    SYM(multi_add_handle, "curl_multi_add_handle");
    SYM(multi_remove_handle, "curl_multi_remove_handle");
    SYM(multi_perform, "curl_multi_perform");
    SYM(multi_info_read, "curl_multi_info_read");
    SYM(multi_poll, "curl_multi_poll");
    SYM(multi_cleanup, "curl_multi_cleanup");
    SYM(multi_strerror, "curl_multi_strerror");
    if (!ok)
        return;
    rc = api.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(load_error, sizeof(load_error), "libcurl initialisation failed: %s",
                 api.easy_strerror(rc));
        return;
    }
    dstack_curl_api_loaded = &api;
}

dstack_status dstack_transport_global_init(dstack_error *err)
{
    if (pthread_once(&load_once, load) != 0 || dstack_curl_api_loaded == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "https:// endpoints need libcurl: %s",
                                load_error[0] != '\0' ? load_error : "initialisation failed");
    return DSTACK_OK;
}
