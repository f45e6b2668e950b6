/*
 * tool_scan.h - the --scan report, as text or as JSON lines.
 */
#ifndef TOOL_SCAN_H
#define TOOL_SCAN_H

#include <stdio.h>

#include "c2s.h"
#include "tool_cfg.h"

/* Print one file's report. */
void tool_print_scan(FILE *out, const tool_config *cfg, const char *file, const c2s_report *rep);

/* The files of a scan of several that were not safe, kept (copies of the
 * path and the reason) to be listed once more after the tally, as the
 * failures of a batch conversion are: "  unsafe     FILE: 1 dangerous
 * global", sorted by path. */
typedef struct tool_scan_row {
    char *file, *why;
    c2s_verdict verdict;
} tool_scan_row;

typedef struct tool_scan_rows {
    tool_scan_row *rows;
    size_t n, cap;
    size_t lost; /* rows not kept: out of memory */
} tool_scan_rows;

void tool_scan_rows_add(tool_scan_rows *s, const char *file, const c2s_report *rep);

/* Sort the rows by path. */
void tool_scan_rows_sort(tool_scan_rows *s);

/* The rows on standard error (nothing with -q). */
void tool_scan_rows_print(const tool_config *cfg, const tool_scan_rows *s);

/* --json: the last line of a scan of several files, on out:
 *   {"summary":{"files":4,"safe":1,"unsafe":2,"corrupt":1,"unreadable":0,
 *    "not_safe":[{"file":"t/evil.pt","verdict":"unsafe","reason":"1 dangerous global"},...]}}
 * with not_safe sorted by path, as the rows. */
void tool_scan_summary_json(FILE *out, const tool_scan_rows *s, const size_t count[4]);

void tool_scan_rows_free(tool_scan_rows *s);

#endif /* TOOL_SCAN_H */
