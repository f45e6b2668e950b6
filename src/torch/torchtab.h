/*
 * torchtab.h - the one table of PyTorch globals the converter knows.
 *
 * Every (module, name) pair a checkpoint may name and that the converter
 * gives a meaning to is one row here, saying what it is:
 *
 *   TORCH_REBUILD  a tensor rebuild function (torch._utils._rebuild_tensor_v2,
 *                  ...); .rebuild says how the tensor map reads its call,
 *                  .why names the kind of tensor it cannot convert
 *   TORCH_STORAGE  a storage class (torch.FloatStorage, torch.UntypedStorage);
 *                  .dtype is the element type it names
 *   TORCH_DTYPE    a dtype object (torch.float32, torch.float8_e4m3fn, the
 *                  aliases torch.float, torch.half, ...); .dtype
 *   TORCH_LAYOUT   a layout object (torch.strided, torch.sparse_coo, ...)
 *   TORCH_QSCHEME  a quantization scheme object (torch.per_tensor_affine, ...)
 *   TORCH_SIZE     torch.Size, a tuple subclass: torch.Size(seq) is read as
 *                  the tuple seq (the pickle VM leaves it a call)
 *   TORCH_INERT    other names that build inert data here: torch.Tensor,
 *                  torch.device, torch.nn.parameter.Parameter, ...
 *   TORCH_MODULE   a torch.nn.Module class of torch.nn.modules.* (Linear,
 *                  Sequential, ...): torch.save(model) writes NEWOBJ of it
 *                  and BUILD with its __dict__; the tensor map names its
 *                  tensors as state_dict() does
 *
 * For STORAGE and DTYPE rows, .dtype is a c2s_dtype (torch/dtype.h), or -1
 * for a real PyTorch type safetensors cannot hold, which .why then names
 * ("complex128", "quantized qint8").  Rows of other roles have .dtype -1.
 *
 * .allowed says whether the safety policy accepts the name (pickle/policy.h
 * takes torchtab_allowed() as the caller's classifier).  A few rows are
 * recognised but not allowed: rebuild functions of device and wrapper
 * tensors, dtype aliases and sub-byte dtypes that torch.save never writes.
 * A file naming them is refused unless the user allows it, and the tensor
 * map still says exactly why such a tensor cannot be converted.
 *
 * The rows are sorted by (module, name) in strcmp order, so a lookup is a
 * binary search; tests/test_torchtab.c checks the order.  The tensor map
 * (tmap.c), the dtype lookups (dtype.c) and the policy classifier all read
 * this one table: adding a rebuild function or a storage class is one row.
 */
#ifndef TORCHTAB_H
#define TORCHTAB_H

#include <stddef.h>

typedef enum torch_role {
    TORCH_REBUILD,
    TORCH_STORAGE,
    TORCH_DTYPE,
    TORCH_LAYOUT,
    TORCH_QSCHEME,
    TORCH_SIZE,
    TORCH_INERT,
    TORCH_MODULE
} torch_role;

/* How the tensor map reads a call of a TORCH_REBUILD row. */
typedef enum torch_rebuild {
    TORCH_RB_NONE,       /* not a rebuild function */
    TORCH_RB_V1,         /* _rebuild_tensor(storage, offset, size, stride) */
    TORCH_RB_V2,         /* _rebuild_tensor_v2(storage, offset, size, stride, ...) */
    TORCH_RB_V3,         /* _rebuild_tensor_v3(..., dtype) over an untyped storage */
    TORCH_RB_PARAM,      /* _rebuild_parameter(tensor, ...): unwrap argument 0 */
    TORCH_RB_FROM_TYPE,  /* _rebuild_from_type(func, type, args, ...): unwrap func(args) */
    TORCH_RB_QTENSOR,    /* _rebuild_qtensor(storage, offset, size, stride, qparams, ...) */
    TORCH_RB_UNSUPPORTED /* a tensor the converter cannot hold; .why says which */
} torch_rebuild;

typedef struct torch_global {
    const char *module, *name;
    torch_role role;
    int allowed;           /* 1: the safety policy accepts it */
    torch_rebuild rebuild; /* TORCH_REBUILD rows; TORCH_RB_NONE otherwise */
    int dtype;             /* STORAGE and DTYPE rows: a c2s_dtype, or -1 */
    const char *why;       /* what cannot be converted, or NULL */
} torch_global;

/* The row for module.name, or NULL. */
const torch_global *torchtab_find(const char *module, const char *name);

/* 1 when module.name is a row the safety policy accepts; the classifier
 * policy_classify() takes. */
int torchtab_allowed(const char *module, const char *name);

/* The rows, in table order (for tests and listings). */
size_t torchtab_count(void);
const torch_global *torchtab_row(size_t i);

/* "rebuild", "storage", "dtype", "layout", "qscheme", "size", "inert", "module". */
const char *torchtab_role_name(torch_role role);

#endif /* TORCHTAB_H */
