/*
 * tool_run.h - a conversion run: plan the jobs (tool_batch.h), convert
 * them on -j worker threads (tool_convert.h), rewrite shard indexes
 * (tool_hf.h), report (tool_report.h).
 *
 * Each file's messages are printed together when it is done, and its
 * --json line after them; the order is that of completion (with -j 1,
 * that of the sorted list).  A failure does not stop the other files.
 * When *cancel becomes non-zero (a signal), no new file is started, the
 * running ones are cancelled (the engine removes their temporary files),
 * and tool_run returns at once: the caller then dies of the signal.
 */
#ifndef TOOL_RUN_H
#define TOOL_RUN_H

#include <signal.h>

#include "tool_cfg.h"

/* The exit code: the worst outcome (3 > 1 > 0), or 2 for a usage error
 * found while planning. */
int tool_run(const tool_config *cfg, const volatile sig_atomic_t *cancel);

/* 1 when the signal flag is set: an atomic load, as worker threads read
 * what the handler stores (the engine's cancel.h does the same). */
static inline int tool_cancelled(const volatile sig_atomic_t *flag)
{
    return __atomic_load_n(flag, __ATOMIC_RELAXED) != 0;
}

#endif /* TOOL_RUN_H */
