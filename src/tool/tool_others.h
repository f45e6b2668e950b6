/*
 * tool_others.h - --copy-other: after the conversions of a -r DIR -o OUTDIR
 * run, the files that are no checkpoints (config.json, tokenizer files,
 * README.md; tool_batch.h says which) are copied to their mirrored places
 * under OUTDIR, so that OUTDIR loads as a model.
 *
 * Each copy is an output like a conversion's: an existing one at least as
 * new as its source is skipped, an older one fails unless -f
 * (tool_check_existing); missing directories are created; the bytes go
 * through c2s_copy_file_atomic (an unnamed file linked in at the end, gone
 * on failure or Ctrl-C) with the source's permission bits.  Each file's
 * outcome (status "copied") goes to report, as the conversions' do.  With
 * --dry-run nothing is written and no directory made: each copy is checked
 * as a run would check it and reported as "would copy".
 */
#ifndef TOOL_OTHERS_H
#define TOOL_OTHERS_H

#include <signal.h>

#include "tool_batch.h"
#include "tool_cfg.h"
#include "tool_hf.h"

/* Copy b's copies in order; stops early when *cancel is set. */
void tool_copy_others(const tool_config *cfg, const tool_batch *b,
                      const volatile sig_atomic_t *cancel, tool_hf_report_fn report, void *ctx);

#endif /* TOOL_OTHERS_H */
