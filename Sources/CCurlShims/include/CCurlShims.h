#ifndef CCURL_SHIMS_H
#define CCURL_SHIMS_H

#include <stddef.h>
#include <curl/curl.h>

// Swift cannot call C variadic functions, and `curl_easy_setopt` / `curl_easy_getinfo` are variadic.
// This shim configures and runs one request on an easy handle with fixed-type arguments instead.

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

/// Resets `handle`, applies `request` and performs it (blocking). Returns curl's result code; on success
/// `*status` holds the HTTP status. `error` (CURL_ERROR_SIZE bytes) receives curl's message on failure.
CURLcode CCurlShims_perform(CURL *handle, const CCurlShims_request *request, long *status, char *error);

/// `curl_global_init(CURL_GLOBAL_DEFAULT)`, once per process (thread-safe).
CURLcode CCurlShims_global_init(void);

#endif
