// libmicrohttpd (GNU, LGPL-2.1+), Debian 12 package libmicrohttpd-dev 0.9.75.
// Swift cannot call C variadic functions, so the ones the HTTPServer target needs get fixed-argument wrappers
// here (static inline: nothing to link beyond the library itself). Only HTTPServer imports this module.
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>

/// Starts a daemon with the access handler and an option array (terminated by MHD_OPTION_END).
static inline struct MHD_Daemon *CMHD_start_daemon(unsigned int flags, MHD_AccessHandlerCallback handler,
                                                   void *handler_cls, const struct MHD_OptionItem *options) {
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls, MHD_OPTION_ARRAY, options,
                            MHD_OPTION_END);
}

/// The daemon's internal epoll descriptor (MHD_USE_EPOLL without an internal thread), or -1.
static inline int CMHD_daemon_epoll_fd(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info == NULL ? -1 : info->epoll_fd;
}

/// How many connections the daemon holds now.
static inline unsigned int CMHD_daemon_connection_count(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info == NULL ? 0 : info->num_connections;
}

/// The milliseconds until MHD_run must be called again, or -1 for "no timer needed".
static inline long long CMHD_timeout_ms(struct MHD_Daemon *daemon) {
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    if (MHD_get_timeout(daemon, &timeout) != MHD_YES) return -1;
    return (long long)timeout;
}

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

/// The client's address as `ip:port` (`[ip]:port` for IPv6) into `out`; "" when unknown.
static inline void CMHD_peer_address(struct MHD_Connection *connection, char *out, size_t size) {
    if (size == 0) return;
    out[0] = 0;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) return;
    char host[INET6_ADDRSTRLEN] = {0};
    if (info->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)info->client_addr;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(out, size, "%s:%u", host, (unsigned)ntohs(v4->sin_port));
    } else if (info->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)info->client_addr;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(v6->sin6_port));
    }
}

#include <strings.h>

/// Header shapes a request-smuggling defence refuses (bits of CMHD_header_anomalies).
enum {
    /// A field name with a character outside RFC 9110's `token` (e.g. `Transfer-Encoding :`).
    CMHD_INVALID_NAME = 1,
    /// More than one Content-Length field.
    CMHD_REPEATED_LENGTH = 2,
    /// Content-Length together with Transfer-Encoding.
    CMHD_LENGTH_AND_ENCODING = 4,
    /// A Transfer-Encoding other than exactly `chunked` (or more than one Transfer-Encoding field).
    CMHD_UNSUPPORTED_ENCODING = 8,
};

struct CMHD_header_scan { int lengths; int encodings; int flags; };

static inline int CMHD_is_token_char(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~': return 1;
    default: return 0;
    }
}

static inline enum MHD_Result CMHD_scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                               const char *value) {
    (void)kind;
    struct CMHD_header_scan *scan = (struct CMHD_header_scan *)cls;
    if (key == NULL || key[0] == 0) {
        scan->flags |= CMHD_INVALID_NAME;
        return MHD_YES;
    }
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (!CMHD_is_token_char(*p)) { scan->flags |= CMHD_INVALID_NAME; break; }
    }
    if (strcasecmp(key, "Content-Length") == 0) scan->lengths++;
    if (strcasecmp(key, "Transfer-Encoding") == 0) {
        scan->encodings++;
        if (value == NULL || strcasecmp(value, "chunked") != 0) scan->flags |= CMHD_UNSUPPORTED_ENCODING;
    }
    return MHD_YES;
}

/// Scans a request's header fields once (when they are complete) for the shapes request smuggling relies on.
static inline int CMHD_header_anomalies(struct MHD_Connection *connection) {
    struct CMHD_header_scan scan = {0, 0, 0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, CMHD_scan_header, &scan);
    if (scan.lengths > 1) scan.flags |= CMHD_REPEATED_LENGTH;
    if (scan.lengths > 0 && scan.encodings > 0) scan.flags |= CMHD_LENGTH_AND_ENCODING;
    if (scan.encodings > 1) scan.flags |= CMHD_UNSUPPORTED_ENCODING;
    return scan.flags;
}

/// The socket of a connection, or -1.
static inline int CMHD_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : (int)info->connect_fd;
}
