/*
 * tool_summary.h - the end of a multi-file run: what became of the files,
 * and which ones did not make it, and why.
 *
 * Each file's outcome is added as it is recorded (from any worker; the
 * caller holds its lock).  The counts go to a tool_tally (the exit code,
 * the summary line); each refused or failed file is kept with its one-line
 * reason.  At the end, on stderr (unless -q), the summary line and under
 * it one row per such file, sorted by path:
 *
 *   ckpt2safetensors: converted 2, skipped 0, refused 1, failed 1; 784 B in 0.05 s
 *     refused  t/hostile/evil.pt: refused by the safety policy: dangerous global ...
 *     failed   t/bad/broken.pt: corrupt zip archive: no end of central directory ...
 *
 * (control characters in paths and reasons shown as '?'; the status word
 * in red when stderr has colour).  With --json, one last line on stdout:
 *
 *   {"summary":{"files":4,"converted":2,"skipped":0,"refused":1,"failed":1,
 *    "bytes":784,"seconds":0.05,"failures":[{"input":"t/bad/broken.pt",
 *    "status":"failed","error":"corrupt zip archive: ..."},...]}}
 *
 * failures in the same order as the rows; bytes: of the converted outputs.
 */
#ifndef TOOL_SUMMARY_H
#define TOOL_SUMMARY_H

#include <stddef.h>

#include "tool_cfg.h"
#include "tool_color.h"
#include "tool_msgs.h"
#include "tool_report.h"

typedef struct tool_failure {
    char *input;
    tool_status status; /* TOOL_REFUSED or TOOL_FAILED */
    char *error;
} tool_failure;

typedef struct tool_summary {
    tool_tally tally;
    tool_failure *failures;
    size_t nfailures, cap;
    size_t lost; /* failures not kept for want of memory (still counted) */
} tool_summary;

/* Count o; keep input and its reason when refused or failed. */
void tool_summary_add(tool_summary *s, const char *input, const tool_outcome *o);

/* One row under a summary line, on stderr: "  WORD" (in hue when color)
 * padded to width columns, then "PATH: WHY" with control characters as
 * '?'.  (--scan's rows are printed with it too.) */
void tool_summary_row(int color, tool_hue hue, const char *word, int width, const char *path,
                      const char *why);

/* The summary line and the failure rows on stderr, unless -q (sorts the
 * failures). */
void tool_summary_print(const tool_config *cfg, tool_summary *s, double seconds);

/* The --json summary line on stdout (sorts the failures), with
 * "dry_run":true under --dry-run (the counts are then what a run would
 * do); -1 when stdout cannot be written. */
int tool_summary_json(tool_console *con, tool_summary *s, int dry_run, double seconds);

void tool_summary_free(tool_summary *s);

#endif /* TOOL_SUMMARY_H */
