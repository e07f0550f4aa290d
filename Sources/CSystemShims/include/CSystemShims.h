// Linux system calls that Swift's Glibc module does not expose (epoll, eventfd, accept4, ...).
// Each wrapper is prefixed `csys_` and takes only plain integers so Swift needs no C struct layout.
#pragma once
// Only <stdint.h> here: system headers compiled with _GNU_SOURCE would clash with Swift's Glibc module,
// so they are included by shims.c alone.
#include <stdint.h>

/// One readiness event: the epoll flags and the 64-bit token registered with the descriptor.
typedef struct {
    uint32_t events;
    uint64_t token;
} csys_event;

/// Event flags, re-exported as plain constants (the enum in epoll.h imports awkwardly).
static const uint32_t CSYS_EPOLLIN = 0x001;
static const uint32_t CSYS_EPOLLOUT = 0x004;
static const uint32_t CSYS_EPOLLERR = 0x008;
static const uint32_t CSYS_EPOLLHUP = 0x010;
static const uint32_t CSYS_EPOLLRDHUP = 0x2000;

int csys_epoll_create(void);
/// op: 0 add, 1 modify, 2 delete.
int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Waits for at most `max` events; returns the count or -1 (errno set; EINTR is returned as 0).
int csys_epoll_wait(int epfd, csys_event *events, int max, int timeout_ms);

int csys_eventfd(void);
/// Adds 1 to the eventfd counter (wakes the loop); safe from any thread.
void csys_eventfd_signal(int fd);
/// Resets the eventfd counter.
void csys_eventfd_drain(int fd);

/// Creates a non-blocking TCP listener bound to host:port with SO_REUSEADDR (and SO_REUSEPORT when
/// `reuse_port`). Returns the fd, or -errno. `host` is a numeric IPv4 or IPv6 address. With backlog 0 the
/// socket is only bound (used to probe whether another process holds the port).
int csys_listen_tcp(const char *host, int port, int backlog, int reuse_port);
/// Accepts one connection as non-blocking + close-on-exec with TCP_NODELAY; -1 with errno on failure.
/// Writes the peer as text ("1.2.3.4:5" or "[::1]:5") into `peer` (at least 64 bytes).
int csys_accept(int listen_fd, char *peer, int peer_len);
/// The port a socket is bound to, or -1.
int csys_local_port(int fd);

/// read/write that return -errno instead of setting errno (EINTR retried).
long csys_read(int fd, void *buffer, unsigned long count);
long csys_write(int fd, const void *buffer, unsigned long count);

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t csys_monotonic_ns(void);

/// Blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE in the calling thread (and threads it creates later) and
/// returns a signalfd for the first three; -1 on failure.
int csys_signalfd_for_shutdown(void);
/// Reads one signal from a signalfd; returns its number, 0 when none is pending, -1 on error.
int csys_signalfd_read(int fd);
/// Ignores SIGPIPE process-wide.
void csys_ignore_sigpipe(void);

/// Starts writeback of a file range without waiting for it (sync_file_range with SYNC_FILE_RANGE_WRITE);
/// 0 or -1 with errno.
int csys_start_writeback(int fd, int64_t offset, int64_t length);
/// Drops a file range from the page cache (POSIX_FADV_DONTNEED: pages still dirty or under writeback stay).
int csys_drop_cached(int fd, int64_t offset, int64_t length);

/// Unmaps the resident pages of every read-only, file-backed segment of the program and its shared libraries
/// (code, read-only data; never a writable or RELRO segment), so that only the pages used from now on come back,
/// on first touch, from the page cache. The kernel maps file pages 64 KiB at a time around each fault, so start-up
/// code (argument parsing, TLS set-up, model parsing) otherwise stays mapped and counted in RSS for the life of the
/// process. The files' page cache is untouched. Returns the number of bytes of address space advised, or -errno of
/// the first failure (every segment is still tried).
int64_t csys_release_read_only_segments(void);
