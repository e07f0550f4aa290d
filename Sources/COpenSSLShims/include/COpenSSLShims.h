// Functions for OpenSSL macros that Swift cannot call (SSL_CTX_set_min_proto_version, sk_X509_num, ...).
// Each is prefixed `COpenSSLShims_` and does nothing but call the macro.
#pragma once
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/err.h>

int COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
int COpenSSLShims_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
long COpenSSLShims_SSL_CTX_set_options(SSL_CTX *ctx, unsigned long long options);
void COpenSSLShims_SSL_CTX_set_app_data(SSL_CTX *ctx, void *data);
void *COpenSSLShims_SSL_CTX_get_app_data(const SSL_CTX *ctx);
long COpenSSLShims_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
long COpenSSLShims_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode);

/// The options Sluice always sets: no renegotiation, no compression, server cipher preference.
unsigned long long COpenSSLShims_default_options(void);
/// TLS1_2_VERSION / TLS1_3_VERSION.
int COpenSSLShims_TLS1_2_VERSION(void);
int COpenSSLShims_TLS1_3_VERSION(void);
/// ALPN selection: picks "h2" from the client's list; SSL_TLSEXT_ERR_ALERT_FATAL when absent (the handshake
/// then fails with no_application_protocol, so a client without h2 never reaches HTTP/2).
int COpenSSLShims_select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                            unsigned int inlen, void *arg);
/// Installs `COpenSSLShims_select_h2` on a context.
void COpenSSLShims_require_alpn_h2(SSL_CTX *ctx);
/// The most recent error on the thread's queue as text ("" when none); clears the queue.
void COpenSSLShims_last_error(char *buffer, size_t length);
/// The peer certificate's subject one-line text when one was presented and verified; 0 when none.
int COpenSSLShims_peer_subject(SSL *ssl, char *buffer, size_t length);
/// SSL_set_tlsext_host_name: the server name (SNI) a client sends.
int COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
