/*
 * tmap.h - the tensor map: which tensors a checkpoint holds, and where.
 *
 * tmap_build() walks the object graph made by the pickle VM (pvm.h) from a
 * root and turns every tensor rebuild call it meets into a tmap_tensor: a
 * name, a dtype, a shape, and a view (offset and strides, in elements) into
 * a storage record of the archive.  It never touches tensor bytes.
 *
 * Naming (a contract users rely on): the path of keys from the root joined
 * with '.'; list and tuple items by index; integer dict keys in decimal.
 * Default root: when the top level is a dict whose "state_dict" entry is a
 * dict, that entry (Lightning, Stable Diffusion); otherwise the top level.
 * A key path ("model.diffusion_model") selects any other sub-tree.  The
 * top-level entries the default root leaves out, and objects whose tensors
 * cannot be named, are reported as notes.
 *
 * Understood rebuild calls: the TORCH_REBUILD rows of the table of PyTorch
 * globals (torchtab.h): torch._utils._rebuild_tensor, _rebuild_tensor_v2,
 * _rebuild_tensor_v3, _rebuild_parameter, _rebuild_parameter_with_state,
 * torch._tensor._rebuild_from_type(_v2).  Quantized, sparse, meta, nested and
 * device tensors, and element types safetensors cannot hold, are listed with
 * supported = 0 and a reason; the caller decides to fail or skip.  A call
 * torch.Size(seq), which the pickle VM leaves a call, is read as the tuple
 * seq everywhere: as a tensor's size or stride, as a container, as a key.
 *
 * The walk is iterative with an explicit stack, skips edges back to a node
 * on the current path (cycles), and is bounded in depth and in the number
 * of nodes visited (by default proportional to the number of objects the
 * pickle made), so shared sub-graphs cannot make it, or the memory it
 * uses, explode.
 */
#ifndef TMAP_H
#define TMAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "torch/dtype.h"
#include "pickle/pvm.h"

#define TMAP_MAX_NDIM 64

typedef struct tmap_storage {
    char *key;          /* record name under <prefix>/data/ */
    c2s_dtype dtype;    /* element type of the storage (U8 for untyped) */
    uint64_t nbytes;    /* size declared by the pickle, in bytes */
} tmap_storage;

typedef struct tmap_tensor {
    char *name;
    int supported;          /* 0: see why */
    const char *why;        /* "complex128", "sparse tensor", ... */
    c2s_dtype dtype;
    size_t ndim;
    int64_t *shape;                  /* ndim sizes; one malloc'd block */
    int64_t *stride;                 /* with these ndim strides, in elements */
    uint64_t offset;                 /* in elements of dtype */
    size_t storage;                  /* index into tmap.storages */
    uint64_t numel;
    uint64_t nbytes;                 /* numel * element size */
    int contiguous;                  /* C order, no gaps */
} tmap_tensor;

typedef struct tmap {
    tmap_tensor *tensors;
    size_t ntensors;
    tmap_storage *storages;
    size_t nstorages;
    char **notes;           /* "left out: optimizer_states (24 tensors)" */
    size_t nnotes;
    char *root;             /* the key path used as root ("" for the top) */
} tmap;

typedef struct tmap_options {
    const char *key;        /* NULL: the default root */
    size_t max_depth;       /* 0: default 1000 */
    uint64_t max_visits;    /* 0: default 100,000 + 4 per pickle object */
    /* The legacy (pre-1.6) stream's persistent ids: ('storage', class, key,
     * location, numel, view) where view is None or (view_key, offset,
     * numel), a slice of the storage in elements.  0: the zip format's
     * five-element ids only, as torch's zip loader unpacks them. */
    int legacy_ids;
} tmap_options;

/* Build the map of the tensors under the root.  Fails (C2S_ERR_INPUT) on a
 * malformed tensor (bad storage id, view out of its storage's bounds, ...),
 * on two tensors with one name, on a tensor named __metadata__, on a key
 * path that does not exist, and when no tensor is found.  On failure *map
 * is emptied. */
c2s_status tmap_build(const pvm_value *top, size_t nobjects,
                      const tmap_options *opts, tmap *map, c2s_error *err);

void tmap_free(tmap *map);

#endif /* TMAP_H */
