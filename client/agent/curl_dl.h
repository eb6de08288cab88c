/* libdstack internal — libcurl, loaded with dlopen() the first time an https:// endpoint is
 * used (curl_dl.c). Only transport_curl.c, batch_curl.c and verify/pccs_http.c include this
 * header: the macros below turn their ordinary curl_* calls into calls through the loaded
 * function table, so that code reads as plain libcurl code while libdstack has no link-time
 * dependency on it. */
#ifndef DSTACK_CURL_DL_H
#define DSTACK_CURL_DL_H

#include "agent/transport_internal.h"

typedef struct dstack_curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    const char *(*multi_strerror)(CURLMcode);
} dstack_curl_api;

/* Set once dstack_transport_global_init() has succeeded; never unloaded. */
extern const dstack_curl_api *dstack_curl_api_loaded;

/* curl.h defines these three as macros of themselves when type checking is off. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_easy_init (dstack_curl_api_loaded->easy_init)
#define curl_easy_setopt (dstack_curl_api_loaded->easy_setopt)
#define curl_easy_perform (dstack_curl_api_loaded->easy_perform)
#define curl_easy_getinfo (dstack_curl_api_loaded->easy_getinfo)
#define curl_easy_cleanup (dstack_curl_api_loaded->easy_cleanup)
#define curl_easy_reset (dstack_curl_api_loaded->easy_reset)
#define curl_easy_strerror (dstack_curl_api_loaded->easy_strerror)
#define curl_slist_append (dstack_curl_api_loaded->slist_append)
#define curl_slist_free_all (dstack_curl_api_loaded->slist_free_all)
#define curl_multi_init (dstack_curl_api_loaded->multi_init)
#define curl_multi_setopt (dstack_curl_api_loaded->multi_setopt)
#define curl_multi_add_handle (dstack_curl_api_loaded->multi_add_handle)
#define curl_multi_remove_handle (dstack_curl_api_loaded->multi_remove_handle)
#define curl_multi_perform (dstack_curl_api_loaded->multi_perform)
#define curl_multi_info_read (dstack_curl_api_loaded->multi_info_read)
#define curl_multi_poll (dstack_curl_api_loaded->multi_poll)
#define curl_multi_cleanup (dstack_curl_api_loaded->multi_cleanup)
#define curl_multi_strerror (dstack_curl_api_loaded->multi_strerror)

#endif
