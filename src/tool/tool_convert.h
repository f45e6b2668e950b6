/*
 * tool_convert.h - one file of a run, from its job to its outcome.
 *
 * In order: a job that failed while planning fails; with --rm, a
 * TensorFlow bundle fails (tool_rm.h); an existing output is kept, or is an
 * error, by the re-run rule of tool_rerun.h (unless -f); missing
 * directories under -o DIR are created (not with --dry-run); the checkpoint
 * is opened and judged (c2s_open) and written (c2s_write) with the options
 * of the command line and their record, or with --dry-run only checked
 * (tool_preview.h); with --rm the input is then removed.  The
 * file's messages go to mb, to be printed together.
 */
#ifndef TOOL_CONVERT_H
#define TOOL_CONVERT_H

#include <signal.h>

#include "c2s.h"
#include "tool_batch.h"
#include "tool_cfg.h"
#include "tool_msgs.h"
#include "tool_progress.h"
#include "tool_report.h"

/* The c2s_open options the command line asks for. */
c2s_open_options tool_open_options(const tool_config *cfg);

/* Convert job.  slot may be NULL (no progress bar).  cancel: the signal
 * flag, passed to the engine.  sharing: how many conversions run at once
 * (they share the page cache's room, see c2s_write_options.jobs). */
void tool_convert_one(const tool_config *cfg, const tool_job *job,
                      const volatile sig_atomic_t *cancel, tool_progress_slot *slot,
                      unsigned sharing, tool_msgbuf *mb, tool_outcome *out);

/* Without -f, an existing output decides by its time alone (the rewritten
 * Hugging Face indexes use this; a converted file uses tool_rerun_check):
 * at least as new as in, the file is skipped ("IN -> OUT: skipped (up to
 * date)"); older, it fails.  Then 1 with o and mb filled; 0 to go on.  out
 * NULL (standard output): 0. */
int tool_check_existing(const tool_config *cfg, const char *in, const char *out, tool_msgbuf *mb,
                        tool_outcome *o);

/* 1 when the regular file out exists and is at least as new as in (a
 * TensorFlow prefix: as its index, tool_stat_input); 0 when
 * it does not exist (or is no regular file, or is in itself: the engine
 * then says why); -1 when it is older. */
int tool_up_to_date(const char *in, const char *out);

#endif /* TOOL_CONVERT_H */
