/*
 * tool_select.h - which tensors a run writes, under which names: --include,
 * --exclude, --rename and --dtype as write options, the warning for a
 * pattern or rename that matched nothing, and the tensors of a checkpoint
 * or a .safetensors file seen through one interface (for --list).
 */
#ifndef TOOL_SELECT_H
#define TOOL_SELECT_H

#include "c2s.h"
#include "tool_cfg.h"
#include "tool_msgs.h"

/* The tensors of an open checkpoint (ck) or safetensors header (st). */
typedef struct tool_tensors {
    const c2s_checkpoint *ck; /* NULL: st */
    const c2s_safetensors *st;
} tool_tensors;

size_t tool_tensors_count(const tool_tensors *t);
c2s_tensor_info tool_tensors_at(const tool_tensors *t, size_t i);

/* --rename FROM=TO: appends to cfg->renames (FROM copied, TO in argv). */
c2s_status tool_add_rename(const char *arg, tool_config *cfg, c2s_error *err);

/* The write options that choose and name tensors (--include, --exclude,
 * --rename, --dtype); the others zero. */
c2s_write_options tool_select_options(const tool_config *cfg);

/* One warning (unless -q) for each --include or --exclude GLOB that matches
 * no tensor's output name in this file, and each --rename whose FROM
 * begins no tensor's name: "FILE: --exclude 'ema.*' matched no tensor". */
void tool_warn_unmatched(const tool_config *cfg, const char *input, const tool_tensors *t,
                         tool_msgbuf *mb);

/* The output name of name under o, malloc'd; NULL when out of memory. */
char *tool_renamed(const c2s_write_options *o, const char *name);

#endif /* TOOL_SELECT_H */
