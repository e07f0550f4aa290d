#include "CCurlShims.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// libcurl's entry points, resolved by `load` (see the header for why libcurl is loaded, not linked).
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    void (*easy_reset)(CURL *handle);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *handle);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
    void (*slist_free_all)(struct curl_slist *list);
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *load_failure = NULL;
static char load_message[512];

#define RESOLVE(field, symbol)                                                                        \
    do {                                                                                              \
        *(void **)(&api.field) = dlsym(library, symbol);                                              \
        if (!api.field) {                                                                             \
            snprintf(load_message, sizeof load_message, "libcurl.so.4 lacks %s (libcurl 7.85 or newer " \
                     "is needed)", symbol);                                                           \
            load_failure = load_message;                                                              \
            return;                                                                                   \
        }                                                                                             \
    } while (0)

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *reason = dlerror();
        snprintf(load_message, sizeof load_message,
                 "cannot load libcurl (install the apt package libcurl4): %s", reason ? reason : "unknown error");
        load_failure = load_message;
        return;
    }
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_reset, "curl_easy_reset");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(load_message, sizeof load_message, "curl_global_init failed: %s", api.easy_strerror(rc));
        load_failure = load_message;
    }
}

const char *CCurlShims_load(void) {
    pthread_once(&load_once, load);
    return load_failure;
}

static int ready(void) { return CCurlShims_load() == NULL; }

CURL *CCurlShims_easy_init(void) { return ready() ? api.easy_init() : NULL; }

void CCurlShims_easy_cleanup(CURL *handle) {
    if (handle && ready()) api.easy_cleanup(handle);
}

struct curl_slist *CCurlShims_slist_append(struct curl_slist *list, const char *text) {
    return ready() ? api.slist_append(list, text) : NULL;
}

void CCurlShims_slist_free_all(struct curl_slist *list) {
    if (list && ready()) api.slist_free_all(list);
}

const char *CCurlShims_easy_strerror(CURLcode code) {
    return ready() ? api.easy_strerror(code) : "libcurl is not loaded";
}

// Every setopt result is checked: an option the loaded libcurl does not support must fail the request,
// not be silently ignored.
#define SET(option, value)                                        \
    do {                                                          \
        CURLcode rc_ = api.easy_setopt(handle, option, value);    \
        if (rc_ != CURLE_OK) return rc_;                          \
    } while (0)

CURLcode CCurlShims_perform(CURL *handle, const CCurlShims_request *request, long *status, char *error) {
    *status = 0;
    error[0] = 0;
    if (!handle || !ready()) return CURLE_FAILED_INIT;
    api.easy_reset(handle);
    SET(CURLOPT_ERRORBUFFER, error);
    SET(CURLOPT_URL, request->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_CONNECTTIMEOUT_MS, request->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, request->timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, request->write);
    SET(CURLOPT_WRITEDATA, request->write_context);
    if (request->headers) SET(CURLOPT_HTTPHEADER, request->headers);
    if (request->ca_file) SET(CURLOPT_CAINFO, request->ca_file);
    if (strcmp(request->method, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, request->method);
    }
    if (request->body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_length);
        SET(CURLOPT_POSTFIELDS, request->body);
    }
    CURLcode rc = api.easy_perform(handle);
    api.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
    return rc;
}
