#include "CCurlShims.h"
#include <pthread.h>
#include <string.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_OK;

static void global_init(void) { global_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

CURLcode CCurlShims_global_init(void) {
    pthread_once(&global_once, global_init);
    return global_result;
}

// Every setopt result is checked: an option the linked libcurl does not support must fail the request,
// not be silently ignored.
#define SET(option, value)                                   \
    do {                                                     \
        CURLcode rc_ = curl_easy_setopt(handle, option, value); \
        if (rc_ != CURLE_OK) return rc_;                     \
    } while (0)

CURLcode CCurlShims_perform(CURL *handle, const CCurlShims_request *request, long *status, char *error) {
    curl_easy_reset(handle);
    error[0] = 0;
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
    CURLcode rc = curl_easy_perform(handle);
    *status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
    return rc;
}
