#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver entry (compiler-rt, linked by `-sanitize=fuzzer`). SwiftPM gives every executable its own
// `main` (it aliases `main` to the module's entry point), so libFuzzer's `main` is never linked; the Swift `@main`
// of each fuzz target calls this instead, with the process arguments (libFuzzer flags, corpus folders).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

// LeakSanitizer (sanitizer/lsan_interface.h): objects allocated between disable and enable are never reported.
// Used around a target's one-time setup only: long-lived state reached through Swift enum payloads (whose
// pointers carry tag bits that LeakSanitizer does not recognize) would otherwise be reported as leaked at exit.
void __lsan_disable(void);
void __lsan_enable(void);

#endif
