/*
 * fuzz.h - what every fuzz harness shares.
 *
 * Each harness (fuzz_*.c) defines LLVMFuzzerTestOneInput and is linked
 * either with libFuzzer (clang -fsanitize=fuzzer) or with replay.c, the
 * plain main() that runs it on the committed corpus in `make test`.
 * A harness checks its property with FUZZ_CHECK: a violated property is a
 * crash (abort), which both drivers report.  Limits are small so that one
 * input runs in milliseconds and memory stays far below -rss_limit_mb.
 */
#ifndef C2S_FUZZ_H
#define C2S_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "c2s.h"
#include "pickle/pvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                             \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define FUZZ_MAX_DEPTH 200

/* Limits for fuzzing: every limit reachable within a few KiB. */
static inline c2s_limits fuzz_limits(void)
{
    return (c2s_limits){
        .max_pickle = 1u << 20,
        .max_depth = FUZZ_MAX_DEPTH,
        .max_objects = 100000,
        .max_memo = 10000,
        .max_stack = 10000,
        .max_string = 1u << 20,
        .max_container = 100000,
    };
}

/* The same, for the pickle VM alone. */
static inline pvm_limits fuzz_pvm_limits(void)
{
    c2s_limits l = fuzz_limits();
    return (pvm_limits){
        .max_objects = l.max_objects,
        .max_memo = l.max_memo,
        .max_stack = l.max_stack,
        .max_string = l.max_string,
        .max_container = l.max_container,
    };
}

#endif /* C2S_FUZZ_H */
