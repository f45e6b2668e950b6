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

#endif /* TOOL_SCAN_H */
