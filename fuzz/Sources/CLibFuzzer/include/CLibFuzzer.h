#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver entry (compiler-rt, linked by `-sanitize=fuzzer`). SwiftPM gives every executable its own
// `main` (it aliases `main` to the module's entry point), so libFuzzer's `main` is never linked; the Swift `@main`
// of each fuzz target calls this instead, with the process arguments (libFuzzer flags, corpus folders).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
