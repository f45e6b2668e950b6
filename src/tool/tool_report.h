/*
 * tool_report.h - what became of each file, and of the whole run.
 *
 * Every file a run handles ends in one tool_outcome.  tool_report_json()
 * makes its --json line (one object, one line, keys in this order):
 *
 *   {"input":"a/m.ckpt","output":"out/m.safetensors","status":"converted",
 *    "verdict":"safe","tensors":4,"bytes":512,"seconds":0.01,
 *    "sha256":"9f86...","error":null,"verified":false}
 *
 * status: converted, skipped (up to date), refused (by the safety policy) or
 * failed; verdict: safe, unsafe, unreadable, or null when the file was not
 * judged (skipped, or failed before it was read); output: null for
 * standard output; tensors, bytes (of the output file) and sha256: null
 * unless converted; error: the message printed on stderr, or null;
 * verified: true when the output was re-read and compared (--verify),
 * else false.
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
    char error[C2S_ERROR_MSG_MAX]; /* "" when none */
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

/* "converted 3, skipped 1, refused 1, failed 2; 1.5 GiB in 12.30 s" (unless -q). */
void tool_report_summary(const tool_config *cfg, const tool_tally *t, double seconds);

#endif /* TOOL_REPORT_H */
