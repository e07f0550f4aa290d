#include "CSluiceProtoSupport.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64 * 1024)

// Blocks beyond the first, freed at reset. Each starts with a link to the previous one.
typedef struct overflow_block { struct overflow_block *next; } overflow_block;

typedef struct {
    unsigned char *base;       // the reusable first block
    size_t used;               // bytes used in `base`
    overflow_block *overflow;  // extra blocks, newest first
    unsigned char *cursor;     // bump pointer inside the newest overflow block
    size_t remaining;          // bytes left there
    size_t in_use;
    int depth;
} arena_t;

static _Thread_local arena_t arena;

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static void *arena_alloc(void *unused, size_t size) {
    (void)unused;
    size = align16(size ? size : 1);
    if (arena.base == NULL) {
        arena.base = malloc(ARENA_BLOCK);
        if (arena.base == NULL) return NULL;
        arena.used = 0;
    }
    arena.in_use += size;
    if (arena.overflow == NULL && arena.used + size <= ARENA_BLOCK) {
        void *p = arena.base + arena.used;
        arena.used += size;
        return p;
    }
    if (arena.overflow != NULL && size <= arena.remaining) {
        void *p = arena.cursor;
        arena.cursor += size;
        arena.remaining -= size;
        return p;
    }
    size_t header = align16(sizeof(overflow_block));
    size_t block = size + header > ARENA_BLOCK ? size + header : ARENA_BLOCK;
    overflow_block *b = malloc(block);
    if (b == NULL) return NULL;
    b->next = arena.overflow;
    arena.overflow = b;
    arena.cursor = (unsigned char *)b + header + size;
    arena.remaining = block - header - size;
    return (unsigned char *)b + header;
}

static void arena_free(void *unused, void *pointer) {
    (void)unused;
    (void)pointer;
}

static ProtobufCAllocator allocator = {.alloc = arena_alloc, .free = arena_free, .allocator_data = NULL};

ProtobufCAllocator *sluice_proto_arena_allocator(void) { return &allocator; }

static void arena_reset(void) {
    while (arena.overflow != NULL) {
        overflow_block *next = arena.overflow->next;
        free(arena.overflow);
        arena.overflow = next;
    }
    arena.used = 0;
    arena.remaining = 0;
    arena.cursor = NULL;
    arena.in_use = 0;
}

size_t sluice_proto_arena_in_use(void) { return arena.in_use; }

void sluice_proto_arena_begin(void) { arena.depth += 1; }

void sluice_proto_arena_end(void) {
    if (arena.depth > 0) arena.depth -= 1;
    if (arena.depth == 0) arena_reset();
}

void *sluice_proto_arena_alloc_zeroed(size_t size) {
    void *p = arena_alloc(NULL, size);
    if (p != NULL) memset(p, 0, size);
    return p;
}
