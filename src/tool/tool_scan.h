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

/* The rows on standard error, sorted (nothing with -q). */
void tool_scan_rows_print(const tool_config *cfg, tool_scan_rows *s);

void tool_scan_rows_free(tool_scan_rows *s);

#endif /* TOOL_SCAN_H */
