/*
 * tool_list.h - the --list report: the tensors of a checkpoint (its tensor
 * map) or a .safetensors file (its header) as a conversion with the same
 * options would write them, one line per tensor on stdout, or one JSON
 * object per file with --json.
 */
#ifndef TOOL_LIST_H
#define TOOL_LIST_H

#include <stdio.h>

#include "c2s.h"
#include "tool_cfg.h"

/* The report of one checkpoint under cfg's --include, --exclude, --rename
 * and --dtype.  file names it in the JSON object.  0, or -1 when the JSON
 * cannot be built (out of memory). */
int tool_print_list(FILE *out, const tool_config *cfg, const char *file, const c2s_checkpoint *ck);

/* The same for a safetensors header, then its __metadata__ entries
 * ("metadata: KEY=VALUE"; a "metadata" object in JSON). */
int tool_print_list_st(FILE *out, const tool_config *cfg, const char *file,
                       const c2s_safetensors *st);

/* --list --json for a file that could not be listed:
 * {"input": FILE, "error": MESSAGE}.  0, or -1. */
int tool_print_list_error(FILE *out, const char *file, const char *message);

#endif /* TOOL_LIST_H */
