#ifndef CCURL_SHIMS_H
#define CCURL_SHIMS_H

#include <stddef.h>
#include <curl/curl.h>

// The one place Sluice touches libcurl. Two jobs:
//
// 1. libcurl is loaded on first use (`dlopen("libcurl.so.4")`), not linked: only a server that talks to MLflow
//    (or another HTTP model source) maps libcurl and the ~20 libraries it pulls in (LDAP, Kerberos, SSH, RTMP,
//    ...). Everything else never loads them, which keeps about 1.3 MB of resident memory and their start-up
//    relocations out of every other process. `<curl/curl.h>` is used for types and constants only.
// 2. Swift cannot call C variadic functions, and `curl_easy_setopt` / `curl_easy_getinfo` are variadic. This
//    shim configures and runs one request on an easy handle with fixed-type arguments instead.

/// Receives response body bytes; returns `size * count` to continue, anything else aborts the transfer.
typedef size_t (*CCurlShims_write_callback)(char *data, size_t size, size_t count, void *context);

/// One request's settings. Strings are NUL-terminated; `ca_file` may be NULL (system trust store).
typedef struct {
    const char *method;          // "GET", "POST", "DELETE", "PATCH"
    const char *url;
    struct curl_slist *headers;  // may be NULL
    const void *body;            // may be NULL
    size_t body_length;
    const char *ca_file;         // PEM CA bundle, or NULL
    long connect_timeout_ms;
    long timeout_ms;
    CCurlShims_write_callback write;
    void *write_context;
} CCurlShims_request;

/// Loads libcurl and runs `curl_global_init(CURL_GLOBAL_DEFAULT)`, once per process (thread-safe; later calls
/// return the first call's result). Returns NULL when libcurl is ready, else a message saying why it is not
/// (the library is missing, lacks a symbol, or failed to initialize); the message lives for the process.
const char *CCurlShims_load(void);

/// `curl_easy_init()`; NULL if libcurl is not loaded (call `CCurlShims_load` first) or out of memory.
CURL *CCurlShims_easy_init(void);

/// `curl_easy_cleanup(handle)`; does nothing for NULL.
void CCurlShims_easy_cleanup(CURL *handle);

/// `curl_slist_append(list, text)`; NULL on failure (the list is then unchanged and still owned by the caller).
struct curl_slist *CCurlShims_slist_append(struct curl_slist *list, const char *text);

/// `curl_slist_free_all(list)`; does nothing for NULL.
void CCurlShims_slist_free_all(struct curl_slist *list);

/// `curl_easy_strerror(code)`: curl's text for a result code.
const char *CCurlShims_easy_strerror(CURLcode code);

/// Resets `handle`, applies `request` and performs it (blocking). Returns curl's result code; on success
/// `*status` holds the HTTP status. `error` (CURL_ERROR_SIZE bytes) receives curl's message on failure.
CURLcode CCurlShims_perform(CURL *handle, const CCurlShims_request *request, long *status, char *error);

#endif
