#define _GNU_SOURCE 1
#include "CSystemShims.h"
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <link.h>
#include <sys/mman.h>

_Static_assert(EPOLLIN == 0x001 && EPOLLOUT == 0x004 && EPOLLERR == 0x008 && EPOLLHUP == 0x010 && EPOLLRDHUP == 0x2000, "epoll flags");
_Static_assert(sizeof(uint64_t) == sizeof(((struct epoll_event *)0)->data.u64), "epoll data is 64 bits");

int csys_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = token;
    int cop = op == 0 ? EPOLL_CTL_ADD : (op == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL);
    return epoll_ctl(epfd, cop, fd, &ev);
}

int csys_epoll_wait(int epfd, csys_event *events, int max, int timeout_ms) {
    struct epoll_event raw[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, raw, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].token = raw[i].data.u64;
    }
    return n;
}

int csys_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void csys_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r;
    do { r = write(fd, &one, sizeof one); } while (r < 0 && errno == EINTR);
}

void csys_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t r;
    do { r = read(fd, &value, sizeof value); } while (r < 0 && errno == EINTR);
}

int csys_listen_tcp(const char *host, int port, int backlog, int reuse_port) {
    struct sockaddr_storage addr;
    socklen_t len;
    memset(&addr, 0, sizeof addr);
    int family;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        family = AF_INET; v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)port); len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        family = AF_INET6; v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)port); len = sizeof *v6;
    } else {
        return -EINVAL;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = errno; close(fd); return -e;
    }
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, len) < 0) { int e = errno; close(fd); return -e; }
    if (backlog > 0 && listen(fd, backlog) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

int csys_accept(int listen_fd, char *peer, int peer_len) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int fd = accept4(listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (peer && peer_len > 0) {
        char text[INET6_ADDRSTRLEN] = "?";
        if (addr.ss_family == AF_INET) {
            struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
            inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
            snprintf(peer, (size_t)peer_len, "%s:%u", text, ntohs(v4->sin_port));
        } else if (addr.ss_family == AF_INET6) {
            struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
            inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
            snprintf(peer, (size_t)peer_len, "[%s]:%u", text, ntohs(v6->sin6_port));
        } else {
            snprintf(peer, (size_t)peer_len, "unknown");
        }
    }
    return fd;
}

int csys_local_port(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return -1;
    if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -1;
}

long csys_read(int fd, void *buffer, unsigned long count) {
    ssize_t r;
    do { r = read(fd, buffer, count); } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (long)r;
}

long csys_write(int fd, const void *buffer, unsigned long count) {
    ssize_t r;
    do { r = send(fd, buffer, count, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (long)r;
}

uint64_t csys_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int csys_signalfd_for_shutdown(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int csys_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t r;
    do { r = read(fd, &info, sizeof info); } while (r < 0 && errno == EINTR);
    if (r < 0) return errno == EAGAIN ? 0 : -1;
    if (r != sizeof info) return -1;
    return (int)info.ssi_signo;
}

void csys_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int csys_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE);
}

int csys_drop_cached(int fd, int64_t offset, int64_t length) {
    return posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED);
}

/// dl_iterate_phdr state for csys_release_read_only_segments.
typedef struct {
    int64_t advised;
    int first_error;
    uintptr_t page;
} csys_release_state;

static int csys_release_object(struct dl_phdr_info *info, size_t size, void *context) {
    (void)size;
    csys_release_state *state = context;
    // The vDSO is a kernel mapping, not a file: leave it.
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "linux-vdso") != NULL) return 0;
    // An object with text relocations had its code pages written by the loader: those private copies are the
    // only correct ones, so such an object is left alone.
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
        for (const ElfW(Dyn) *entry = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
             entry->d_tag != DT_NULL; entry++) {
            if (entry->d_tag == DT_TEXTREL) return 0;
            if (entry->d_tag == DT_FLAGS && (entry->d_un.d_val & DF_TEXTREL)) return 0;
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        // Writable segments hold relocated data and the RELRO part (made read-only after relocation, but
        // private copies): unmapping them would lose that content. Only never-written segments are released.
        if (segment->p_type != PT_LOAD || (segment->p_flags & PF_W) || segment->p_memsz == 0) continue;
        uintptr_t start = (info->dlpi_addr + segment->p_vaddr) & ~(state->page - 1);
        uintptr_t end = (info->dlpi_addr + segment->p_vaddr + segment->p_memsz + state->page - 1) & ~(state->page - 1);
        if (madvise((void *)start, end - start, MADV_DONTNEED) == 0) {
            state->advised += (int64_t)(end - start);
        } else if (state->first_error == 0) {
            state->first_error = errno;
        }
    }
    return 0;
}

int64_t csys_release_read_only_segments(void) {
    csys_release_state state = {0, 0, (uintptr_t)sysconf(_SC_PAGESIZE)};
    dl_iterate_phdr(csys_release_object, &state);
    return state.first_error != 0 ? -(int64_t)state.first_error : state.advised;
}
