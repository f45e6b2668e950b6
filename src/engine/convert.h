/*
 * convert.h - what convert.c (c2s_write) shares with the rest of the
 * library: the choice of the tensors to write, so that shards.c
 * (c2s_plan_shards) splits exactly the tensors c2s_write would write.
 */
#ifndef CONVERT_H
#define CONVERT_H

#include "c2s.h"
#include "st/stw.h"
#include "torch/tmap.h"

/* Entries for the tensors c2s_write writes with o (o->only, unsupported
 * tensors skipped, renames, include/exclude), in the order of the map,
 * each with its output name (*names, one per tensor of m, NULL for those
 * not written; free with names_free, also on failure), dtype and size, src
 * its index in m.  The names are checked over every tensor o would write
 * without o->only, so shards of one output never share a name.  An unsupported tensor
 * fails as in c2s_write unless o->skip_unsupported.  Counts the skipped,
 * filtered and converted tensors in res (which must start zeroed).
 * *entries is malloc'd (also on failure: free it); no tensor left is an
 * error. */
c2s_status convert_entries(const tmap *m, const c2s_write_options *o, stw_entry **entries,
                           size_t *n, char ***names, c2s_write_result *res, c2s_error *err);

#endif /* CONVERT_H */
