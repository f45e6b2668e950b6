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
 * A key path selects any other sub-tree: "model.encoder" (nested dicts), or
 * "model.diffusion_model" where the keys are flat dotted strings (the
 * entries beginning with "model.diffusion_model.", named without it); a
 * path whose first component is not at the top level is looked up in the
 * top level's "state_dict" dict (c2s.h, c2s_open_options.key, has the
 * exact rule).  The
 * top-level entries the default root leaves out, and objects whose tensors
 * cannot be named, are reported as notes.
 *
 * A root that is one tensor is named opts->tensor_name ("tensor").
 *
 * Whole modules (torch.save(model)): an object whose BUILD state is a
 * torch.nn.Module's __dict__ (a dict holding _parameters, _buffers and
 * _modules dicts) is named as module.state_dict() names it: its parameters,
 * then its buffers except those in _non_persistent_buffers_set, then each
 * sub-module in _modules under its key, in registration order.  Tensors in
 * its other attributes (anchor grids, caches) are left out with a note, as
 * state_dict() leaves them out.
 *
 * Quantized tensors (_rebuild_qtensor, affine schemes): with quantized
 * DEQUANTIZE the tensor's values are F32 (t->q says how); with RAW the
 * integers are the tensor and NAME.scale, NAME.zero_point follow it (per
 * tensor: inline scalars F64 and I64; per channel: the 1-d tensors the
 * pickle holds); with REFUSE it is listed as unsupported.
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

#include "util/arena.h"
#include "util/c2s_error.h"
#include "torch/dtype.h"
#include "pickle/pvm.h"
#include "util/slabs.h"

#define TMAP_MAX_NDIM 64

typedef struct tmap_storage {
    char *key;         /* record name under <prefix>/data/ */
    c2s_dtype dtype;   /* element type of the storage (U8 for untyped) */
    uint32_t key_hash; /* tmap_build: 32 bits of strhash(key), for its index of keys */
    uint64_t nbytes;   /* size declared by the pickle, in bytes */
} tmap_storage;

/* A quantized tensor (torch._utils._rebuild_qtensor): how its integers
 * become values.  Per tensor: value = (q - zero_point) * scale; per channel
 * the scale and zero point of element i are those of channel
 * (i / inner) % channels, read from two 1-d tensors of the pickle at write
 * time (tmap.qparams[scales], tmap.qparams[zero_points]).  qconv.h says how
 * torch rounds. */
typedef enum tmap_qscheme { TMAP_Q_NONE, TMAP_Q_PER_TENSOR, TMAP_Q_PER_CHANNEL } tmap_qscheme;

/* The parameters of a quantized tensor most code does not read, kept in
 * tmap.quants (one entry a quantized tensor) so that a map of many plain
 * tensors does not carry them: tmap_quant_of() finds a tensor's. */
typedef struct tmap_quant {
    const char *qdtype; /* "qint8", "quint8", "qint32" */
    double scale;       /* per tensor */
    int64_t zero_point;
    size_t axis;              /* per channel */
    uint64_t inner, channels; /* elements after the axis; shape[axis] */
} tmap_quant;

/* What every tensor carries about quantization (16 bytes). */
typedef struct tmap_qref {
    uint32_t scales, zero_points; /* per channel, dequantized: indices into tmap.qparams
                                     (fewer than the pickle's nodes: 32 bits) */
    uint32_t info;                /* index into tmap.quants (scheme not TMAP_Q_NONE) */
    unsigned char scheme;         /* a tmap_qscheme */
    unsigned char dequantize;     /* 1: written as F32 values; 0: the integers as stored */
} tmap_qref;

/* (The small fields are together at the end: a map of many tensors is an
 * array of these, 200,000 of them for a checkpoint of tiny tensors, and
 * padding between them cost 16 bytes a tensor: 104 bytes, not 120.) */
typedef struct tmap_tensor {
    char *name;
    const char *why; /* "complex128", "sparse tensor", ... */
    size_t ndim;
    int64_t *shape;  /* ndim sizes; one malloc'd block */
    int64_t *stride; /* with these ndim strides, in elements */
    uint64_t offset; /* in elements of dtype */
    size_t storage;  /* index into tmap.storages */
    uint64_t numel;
    uint64_t nbytes; /* numel * element size */
    tmap_qref q;     /* q.scheme TMAP_Q_NONE: not quantized */
    /* A value that is no storage's (the scale and zero point of a tensor
     * quantized per tensor, written raw): storage is TMAP_NO_STORAGE and
     * the element's little-endian bytes are here. */
    unsigned char inline_bytes[8];
    c2s_dtype dtype;
    unsigned char supported;  /* 0: see why */
    unsigned char contiguous; /* C order, no gaps */
} tmap_tensor;
_Static_assert(sizeof(tmap_qref) == 16, "the quantization reference packs in 16 bytes");

#define TMAP_NO_STORAGE SIZE_MAX

/* The dtype a tensor's values are written with before any conversion the
 * writer is asked for: F32 for a dequantized tensor, else its own. */
static inline c2s_dtype tmap_value_dtype(const tmap_tensor *t)
{
    return t->q.scheme != TMAP_Q_NONE && t->q.dequantize ? C2S_F32 : t->dtype;
}

typedef struct tmap {
    tmap_tensor *tensors;
    size_t ntensors;
    tmap_storage *storages;
    size_t nstorages;
    tmap_tensor *qparams; /* per-channel scales and zero points of dequantized
                               tensors (not written themselves) */
    size_t nqparams;
    tmap_quant *quants; /* tmap_qref.info of each quantized tensor indexes this */
    size_t nquants;
    char **notes; /* "left out: optimizer_states (24 tensors)" */
    size_t nnotes;
    char *root; /* the key path used as root ("" for the top) */
    /* 1 (tmap_build): the tensors' names and shapes (qparams' too) and the
     * storages' keys are pieces of text, freed with it, not malloc'd one by
     * one (a map of 200,000 tiny tensors saves ~10 MB of malloc headers and
     * rounding); 0 (maps other readers build): each is malloc'd. */
    int in_arena;
    arena text;
    /* tmap_build: the bytes of the tensors array, a big table (util/huge.h:
     * past 4 MiB a mapping of its own); 0: the array is malloc'd. */
    size_t tensors_bytes;
    size_t storages_bytes; /* the same for the storages array */
} tmap;

/* The quantization parameters of quantized tensor t of m (t->q.scheme is
 * not TMAP_Q_NONE). */
static inline const tmap_quant *tmap_quant_of(const tmap *m, const tmap_tensor *t)
{
    return &m->quants[t->q.info];
}

typedef struct tmap_options {
    const char *key;     /* NULL: the default root */
    size_t max_depth;    /* 0: default 1000 */
    uint64_t max_visits; /* 0: default 100,000 + 4 per pickle object */
    /* The legacy (pre-1.6) stream's persistent ids: ('storage', class, key,
     * location, numel, view) where view is None or (view_key, offset,
     * numel), a slice of the storage in elements.  0: the zip format's
     * five-element ids only, as torch's zip loader unpacks them. */
    int legacy_ids;
    const char *tensor_name; /* name of a root that is one tensor; NULL: "tensor" */
    c2s_quantized quantized; /* quantized tensors (c2s.h) */
    /* A thread to fault in the tensors and storages arrays a page ahead of
     * their filling (the pickle VM's, pvm_slab_supply); NULL: none. */
    slab_supply *faulter;
} tmap_options;

/* Build the map of the tensors under the root.  Fails (C2S_ERR_INPUT) on a
 * malformed tensor (bad storage id, view out of its storage's bounds, ...),
 * on two tensors with one name, on a tensor named __metadata__, on a key
 * path that does not exist, and when no tensor is found.  On failure *map
 * is emptied. */
c2s_status tmap_build(const pvm_value *top, size_t nobjects, const tmap_options *opts, tmap *map,
                      c2s_error *err);

void tmap_free(tmap *map);

#endif /* TMAP_H */
