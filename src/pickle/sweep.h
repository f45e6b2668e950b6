/*
 * sweep.h - list the globals a pickle names, without running it.
 *
 * When the pickle VM (pvm.h) stops early - a construct it refuses, a limit
 * - the bytes after that point may still name globals that Python would
 * import and call.  sweep_pickle() walks the bytes opcode by opcode as
 * pickletools.genops does, skipping each argument by its encoding, and
 * reports every global named on the way:
 *   GLOBAL / INST    module and name are the two text lines after the opcode;
 *   STACK_GLOBAL     module and name are the two most recent str pushes
 *                    (BINUNICODE family, BINSTRING family, plain UNICODE or
 *                    STRING text, or a memo GET / DUP of one); "adjacent"
 *                    says they were the last two values pushed, so they
 *                    are certainly its operands.
 * Nothing is executed: there is no stack beyond the last two pushes and a
 * memo of which indices hold a str.
 *
 * An unknown opcode byte cannot be skipped (its length is unknown), so the
 * walk resynchronises: it scans forward for the next plausible GLOBAL /
 * INST (c or i, then two lines of identifier characters) or STACK_GLOBAL
 * (two short str pushes, maybe memoized, then 0x93) and walks on from
 * there; globals found after that are flagged after_resync.
 *
 * Module and name point into the caller's data (not copied, not NUL-
 * terminated), so memory stays proportional to the number of globals,
 * which max_globals bounds.  Python 2 names are reported as written, with
 * the protocol in force (find_class maps them below protocol 3).
 */
#ifndef SWEEP_H
#define SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"

typedef enum sweep_op { SWEEP_GLOBAL, SWEEP_INST, SWEEP_STACK_GLOBAL } sweep_op;

typedef struct sweep_global {
    sweep_op op;
    size_t offset;         /* of the opcode */
    const uint8_t *module; /* into data; NULL when not determinable */
    size_t module_len;
    const uint8_t *name; /* into data; NULL when not determinable */
    size_t name_len;
    int adjacent;     /* STACK_GLOBAL: operands were the last two pushes */
    int proto;        /* the last PROTO before it, 0 when none */
    int after_resync; /* found after skipping unknown bytes */
} sweep_global;

typedef struct sweep_options {
    int past_stop;      /* walk on after STOP (default: stop there) */
    size_t max_globals; /* default 1,000,000 */
} sweep_options;

typedef struct sweep_report {
    sweep_global *globals;
    size_t count, cap;
    size_t resyncs; /* unknown opcode bytes skipped over */
    size_t end;     /* just past the STOP that ended the walk, or len */
    int truncated;  /* an argument ran past the end of the data */
    int limited;    /* max_globals reached: the walk stopped there */
} sweep_report;

/*
 * Walk data[start..len).  opts may be NULL.  *out is filled (zero it
 * first, or reuse one freed by sweep_report_free).  Fails only when out of
 * memory (C2S_ERR_INPUT); malformed bytes are never an error.
 */
c2s_status sweep_pickle(const uint8_t *data, size_t len, size_t start, const sweep_options *opts,
                        sweep_report *out, c2s_error *err);

void sweep_report_free(sweep_report *r);

#endif /* SWEEP_H */
