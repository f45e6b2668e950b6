/*
 * tool_report.h - what became of each file, and of the whole run.
 *
 * Every file a run handles ends in one tool_outcome.  tool_report_json()
 * makes its --json line (one object, one line, keys in this order):
 *
 *   {"input":"a/m.ckpt","output":"out/m.safetensors","status":"converted",
 *    "verdict":"safe","tensors":4,"bytes":512,"seconds":0.01,
 *    "sha256":"9f86...","error":null,"verified":false,"removed":false}
 *
 * status: converted, skipped (up to date), refused (by the safety policy),
 * failed, or copied (--copy-other: a file that is no checkpoint; its
 * bytes are set, tensors and sha256 null); with --dry-run would-convert
 * and would-skip instead of the first two (tensors: how many would be
 * written; bytes and sha256: null); verdict: safe, unsafe, unreadable, or null when the file was not
 * judged (skipped, or failed before it was read); output: null for
 * standard output; a name that is not UTF-8 has its bad bytes as U+FFFD
 * and is followed by input_hex / output_hex, its bytes in hex
 * (tool_json.h); a sharded output (--max-shard-size) is its index, bytes
 * count all its files and sha256 is the index's; tensors, bytes (of the
 * output file) and sha256: null
 * unless converted; error: the message printed on stderr, or null;
 * verified: true when the output was re-read and compared (--verify),
 * else false; removed: true when --rm removed the input (or, for a
 * rewritten index, the old index), else false.
 *
 * A tool_tally adds outcomes up for the summary line and the exit code.
 */
#ifndef TOOL_REPORT_H
#define TOOL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "c2s.h"
#include "tool_cfg.h"
#include "tool_msgs.h"

typedef enum tool_status {
    TOOL_CONVERTED,
    TOOL_SKIPPED,
    TOOL_REFUSED,
    TOOL_FAILED,
    TOOL_COPIED, /* --copy-other */
    TOOL_NSTATUS
} tool_status;

typedef struct tool_outcome {
    tool_status status;
    const char *verdict; /* "safe", "unsafe", "unreadable"; NULL: not judged */
    size_t tensors;
    uint64_t bytes; /* size of the output written */
    int verified;   /* --verify compared it with the source */
    double seconds;
    char sha256[65];               /* "" when not computed */
    int sharded;                   /* written as shards: the output is their index
                                      (tool_shard.h), bytes all the files */
    char error[C2S_ERROR_MSG_MAX]; /* "" when none */
    int dry_run;                   /* --dry-run: converted/skipped mean "would be" */
    int removed;                   /* --rm removed the input */
} tool_outcome;

/* Print the --json line for one file on stdout, through the console.
 * output NULL: standard output.  -1 when stdout cannot be written. */
int tool_report_json(tool_console *con, const char *input, const char *output,
                     const tool_outcome *o);

typedef struct tool_tally {
    size_t count[TOOL_NSTATUS];
    uint64_t bytes; /* output bytes of the converted files */
} tool_tally;

void tool_tally_add(tool_tally *t, const tool_outcome *o);

/* The exit code: 3 if anything was refused, else 1 if anything failed, else 0. */
int tool_tally_exit_code(const tool_tally *t);

/* Seconds from t0 (CLOCK_MONOTONIC) to now. */
double tool_seconds_since(const struct timespec *t0);

/* "converted 3, skipped 1, refused 1, failed 2; 1.5 GiB in 12.30 s" (unless -q);
 * after "failed N", ", copied N" when files were copied (--copy-other). */
void tool_report_summary(const tool_config *cfg, const tool_tally *t, double seconds);

#endif /* TOOL_REPORT_H */
