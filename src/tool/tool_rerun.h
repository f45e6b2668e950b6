/*
 * tool_rerun.h - whether an existing output can be kept on a re-run.
 *
 * An output is up to date only when it was made from this input with the
 * options that shape its content.  Those options are recorded in the
 * output's __metadata__ under TOOL_RECORD_KEY as one canonical line of
 * text (tool_options_record): the non-default content-shaping options in
 * a fixed order, each as --NAME=VALUE or --NAME, separated by one space,
 * a repeatable option once per value in the order given.  In a VALUE the
 * bytes '%', '"', '\\', space and anything outside printable ASCII are
 * written %XX (two upper-case hex digits).  Example:
 *
 *   "ckpt2safetensors.options":"--key=model --exclude=model_ema.* --dtype=F16"
 *
 * With every content-shaping option at its default there is no record, so
 * a default conversion writes exactly the bytes it always wrote (and what
 * safetensors' own save_file writes).  An output without the record (made
 * with the defaults, by an older version, or by another tool) therefore
 * counts as made with the default options.
 *
 * Without -f, an existing output:
 *   - older than its input: an error ("older than the input");
 *   - at least as new, same record as this run: skipped (up to date);
 *   - at least as new, another record: an error ("made with other options"),
 *     as for an older output: it is never replaced without -f.
 * -v says why a file was skipped or redone.
 */
#ifndef TOOL_RERUN_H
#define TOOL_RERUN_H

#include "tool_cfg.h"
#include "tool_msgs.h"
#include "tool_report.h"

#define TOOL_RECORD_KEY "ckpt2safetensors.options"

/* The record of cfg's content-shaping options, malloc'd ("" for the
 * defaults); NULL on out of memory. */
char *tool_options_record(const tool_config *cfg);

/* Decide for an output that may exist (see above).  1 when the file is
 * done (skipped, or failed) with o and mb filled; 0 to convert it.
 * out NULL (standard output): 0.  record: tool_options_record(). */
int tool_rerun_check(const tool_config *cfg, const char *in, const char *out, const char *record,
                     tool_msgbuf *mb, tool_outcome *o);

#endif /* TOOL_RERUN_H */
