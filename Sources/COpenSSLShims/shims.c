#include "COpenSSLShims.h"
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <string.h>

int COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
int COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
int COpenSSLShims_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}
long COpenSSLShims_SSL_CTX_set_options(SSL_CTX *ctx, unsigned long long options) {
    return (long)SSL_CTX_set_options(ctx, options);
}
void COpenSSLShims_SSL_CTX_set_app_data(SSL_CTX *ctx, void *data) { SSL_CTX_set_app_data(ctx, data); }
void *COpenSSLShims_SSL_CTX_get_app_data(const SSL_CTX *ctx) { return SSL_CTX_get_app_data(ctx); }
long COpenSSLShims_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
long COpenSSLShims_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

unsigned long long COpenSSLShims_default_options(void) {
    return SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
           SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
}
int COpenSSLShims_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
int COpenSSLShims_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }

int COpenSSLShims_select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                            unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    unsigned int i = 0;
    while (i < inlen) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == 2 && in[i + 1] == 'h' && in[i + 2] == '2') {
            *out = &in[i + 1];
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

void COpenSSLShims_require_alpn_h2(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, COpenSSLShims_select_h2, NULL); }

void COpenSSLShims_last_error(char *buffer, size_t length) {
    if (length == 0) return;
    buffer[0] = 0;
    unsigned long code = ERR_peek_last_error();
    if (code != 0) ERR_error_string_n(code, buffer, length);
    ERR_clear_error();
}

int COpenSSLShims_peer_subject(SSL *ssl, char *buffer, size_t length) {
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return 0;
    int ok = SSL_get_verify_result(ssl) == X509_V_OK && length > 0;
    if (ok) {
        // RFC 2253 form, most specific first: "CN=rollout-controller,O=Example" (what RBAC bindings name).
        BIO *bio = BIO_new(BIO_s_mem());
        ok = bio != NULL && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0;
        if (ok) {
            int n = BIO_read(bio, buffer, (int)length - 1);
            buffer[n > 0 ? n : 0] = 0;
            ok = n > 0;
        }
        BIO_free(bio);
    }
    X509_free(cert);
    return ok;
}

int COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
