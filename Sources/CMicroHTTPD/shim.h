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
