// A per-thread bump arena for protobuf-c decoding, so that unpacking a request costs no malloc.
//
// protobuf-c calls its allocator once per message, string and repeated field; for a Predict request
// that is a dozen mallocs. The arena hands out memory from a thread-local block instead, and
// `sluice_proto_arena_reset` releases everything at once after the call. Only the thread that
// allocated may reset, which is how event-loop handlers use it (decode, handle, reset).
#pragma once
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/// The allocator to pass to `*__unpack` and `*__free_unpacked` (free is a no-op).
ProtobufCAllocator *sluice_proto_arena_allocator(void);

/// Opens a scope on this thread's arena. Scopes nest; memory is released when the outermost one ends.
void sluice_proto_arena_begin(void);

/// Closes a scope. Closing the outermost scope releases every allocation made since it began:
/// large one-off blocks go back to malloc, the first block is kept for reuse.
void sluice_proto_arena_end(void);

/// Allocates `size` bytes (16-byte aligned, zeroed) inside the current scope; NULL when out of memory.
void *sluice_proto_arena_alloc_zeroed(size_t size);

/// Bytes currently handed out on this thread (for tests).
size_t sluice_proto_arena_in_use(void);
