/*
 * api.c - the public view of an open checkpoint (c2s.h), and the public
 * options as the library's layers take them.
 *
 * The tensor map (tmap.h) is private; c2s_tensor_at() copies one entry into
 * a c2s_tensor_info whose pointers point into the map, so they live as long
 * as the checkpoint.  The map keeps sizes as int64_t (as the pickle has
 * them) but never negative ones (tmap.c rejects them), and C lets a
 * uint64_t lvalue read an int64_t object, so the shape is handed out as it
 * is, without a copy.
 */
#include "engine/checkpoint.h"

#include <stddef.h>

size_t c2s_tensor_count(const c2s_checkpoint *ck)
{
    return ck->map.ntensors;
}

c2s_tensor_info c2s_tensor_at(const c2s_checkpoint *ck, size_t i)
{
    c2s_tensor_info info = {0};
    if (i >= ck->map.ntensors)
        return info;
    const tmap_tensor *t = &ck->map.tensors[i];
    info.name = t->name;
    info.dtype = tmap_value_dtype(t);
    info.ndim = t->ndim;
    info.shape = (const uint64_t *)t->shape;
    info.nbytes = t->numel * c2s_dtype_size(info.dtype);
    info.supported = t->supported;
    info.why = t->why;
    return info;
}

const char *c2s_root(const c2s_checkpoint *ck)
{
    return ck->map.root ? ck->map.root : "";
}

size_t c2s_storage_count(const c2s_checkpoint *ck)
{
    return ck->map.nstorages;
}

size_t c2s_note_count(const c2s_checkpoint *ck)
{
    return ck->map.nnotes;
}

const char *c2s_note_at(const c2s_checkpoint *ck, size_t i)
{
    return i < ck->map.nnotes ? ck->map.notes[i] : NULL;
}
