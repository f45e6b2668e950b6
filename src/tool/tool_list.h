/*
 * tool_list.h - the --list report: one line per tensor on stdout, for a
 * checkpoint (its tensor map) or a .safetensors file (its header).
 */
#ifndef TOOL_LIST_H
#define TOOL_LIST_H

#include <stdio.h>

#include "st/stread.h"
#include "torch/tmap.h"

void tool_print_list(FILE *out, const tmap *m);

/* The same table for a safetensors header, then its __metadata__ entries
 * ("metadata: KEY=VALUE"). */
void tool_print_list_st(FILE *out, const st_file *f);

#endif /* TOOL_LIST_H */
