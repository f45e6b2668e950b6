/*
 * tool_preview.h - --dry-run: what a conversion would do, writing nothing.
 *
 * A file is planned and judged as in a real run: the existing output is
 * checked (skipped as up to date, or an error, exactly as a real run
 * decides), the input is opened and judged (c2s_open: refused when
 * unsafe), and the checks c2s_write makes before writing are made here
 * from the tensor list: an unsupported tensor without --skip-unsupported
 * or --quantized, nothing left after --include/--exclude, an output that
 * is the input.  Tensor data is not read, so storage CRCs and --verify are
 * not checked.  No file or directory is created and no input removed.
 */
#ifndef TOOL_PREVIEW_H
#define TOOL_PREVIEW_H

#include "c2s.h"
#include "tool_batch.h"
#include "tool_cfg.h"

/* The checks above for the opened ck; C2S_OK with *ntensors the tensors
 * the output would hold, else err filled as c2s_write would fill it. */
c2s_status tool_preview_check(const tool_config *cfg, const c2s_checkpoint *ck,
                              const c2s_write_options *wo, const tool_job *job, size_t *ntensors,
                              c2s_error *err);

#endif /* TOOL_PREVIEW_H */
