/*
 * tool_list.h - the --list report: one line per tensor on stdout, for a
 * checkpoint (its tensor map) or a .safetensors file (its header).
 */
#ifndef TOOL_LIST_H
#define TOOL_LIST_H

#include <stdio.h>

#include "c2s.h"

void tool_print_list(FILE *out, const c2s_checkpoint *ck);

/* The same table for a safetensors header, then its __metadata__ entries
 * ("metadata: KEY=VALUE"). */
void tool_print_list_st(FILE *out, const c2s_safetensors *st);

#endif /* TOOL_LIST_H */
