// Functions for OpenSSL macros that Swift cannot call (SSL_CTX_set_min_proto_version, sk_X509_num, ...).
#pragma once
#include <openssl/ssl.h>
#include <openssl/x509.h>
