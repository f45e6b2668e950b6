/*
 * tool_list.h - the --list report: one line per tensor on stdout.
 */
#ifndef TOOL_LIST_H
#define TOOL_LIST_H

#include <stdio.h>

#include "tmap.h"

void tool_print_list(FILE *out, const tmap *m);

#endif /* TOOL_LIST_H */
