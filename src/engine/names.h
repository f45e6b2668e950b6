/*
 * names.h - the names c2s_write gives tensors: renames, globs, and the
 * checks on the result (the public side is in include/c2s.h:
 * c2s_output_name, c2s_selected, c2s_check_names, ...).
 */
#ifndef NAMES_H
#define NAMES_H

#include <stddef.h>

#include "c2s.h"
#include "torch/tmap.h"

/* The output name of every tensor of m under o, in map order: a malloc'd
 * string for each tensor written (supported and selected), NULL for the
 * others; *n_written counts the written ones.  Fails like c2s_check_names
 * (the renames' rule, then the filters'); on failure *names is NULL. */
c2s_status names_plan(const tmap *m, const c2s_write_options *o, char ***names, size_t *n_written,
                      size_t *n_filtered, c2s_error *err);

void names_free(char **names, size_t n);

/* The output name of name under o, malloc'd; NULL when out of memory. */
char *names_output(const c2s_write_options *o, const char *name);

#endif /* NAMES_H */
