/*
 * stw.h - safetensors header planning.
 *
 * stw_plan() puts tensors in the reference writer's order (element
 * alignment largest first, then name bytewise), gives each its byte range
 * in the data buffer, and renders the header: 8-byte little-endian length,
 * compact JSON with "__metadata__" first, spaces up to a multiple of 8.
 * Tensor bytes are not its business: the caller streams them afterwards in
 * the planned order, each exactly stw_entry.nbytes long.
 */
#ifndef STW_H
#define STW_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/limits.h"
#include "torch/dtype.h"

#define STW_MAX_HEADER C2S_ST_MAX_HEADER

typedef struct stw_entry {
    const char *name;
    c2s_dtype dtype;
    size_t ndim;
    const int64_t *shape;
    uint64_t nbytes; /* product(shape) * element size */
    uint64_t begin;  /* set by stw_plan */
    size_t src;      /* caller's index, carried through the sort */
} stw_entry;

typedef struct stw_kv {
    const char *key, *value;
} stw_kv;

/*
 * Sort entries into write order, set their begin offsets, and render the
 * header.  meta holds extra __metadata__ pairs after "format":"pt" (may be
 * NULL when nmeta is 0).  On success *header (malloc'd, caller frees) holds
 * *header_len bytes to write before the data, and *data_len is the size of
 * the data buffer.  Fails on a header above STW_MAX_HEADER or out of memory.
 */
c2s_status stw_plan(stw_entry *entries, size_t n, const stw_kv *meta, size_t nmeta,
                    unsigned char **header, size_t *header_len, uint64_t *data_len, c2s_error *err);

#endif /* STW_H */
