/*
 * torchtab.c - the table of PyTorch globals (see src/torch/torchtab.h).
 *
 * One array of rows sorted by (module, name) in strcmp order; torchtab_find()
 * is a binary search over it, so the tensor map can ask about every call it
 * walks past without a linear scan.  The row macros below only fill in the
 * columns a role does not use.  Sources of the facts: torch/_utils.py and
 * torch/_tensor.py (rebuild functions), torch/storage.py and the legacy
 * storage classes of torch/__init__.py, torch's dtype, layout and qscheme
 * objects (their pickles name them as attributes of the module torch).
 */
#include "torch/torchtab.h"

#include <stdlib.h>
#include <string.h>

#include "torch/dtype.h"

#define ALLOW 1  /* the safety policy accepts the name */
#define KNOWN 0  /* recognised, but a file naming it is refused unless allowed */
#define NONE (-1) /* no c2s_dtype: safetensors cannot hold it (or not a type) */

#define REBUILD(m, n, allow, kind, why) {m, n, TORCH_REBUILD, allow, kind, NONE, why}
#define STORAGE(n, dt, why) {"torch", n, TORCH_STORAGE, ALLOW, TORCH_RB_NONE, dt, why}
#define DTYPE(n, allow, dt, why) {"torch", n, TORCH_DTYPE, allow, TORCH_RB_NONE, dt, why}
#define NAMED(m, n, role) {m, n, role, ALLOW, TORCH_RB_NONE, NONE, NULL}

/* Sorted by (module, name): capitals before lower case, "torch" before
 * "torch._tensor" before "torch._utils" before "torch.nn...". */
static const torch_global ROWS[] = {
    STORAGE("BFloat16Storage", C2S_BF16, NULL),
    STORAGE("BoolStorage", C2S_BOOL, NULL),
    STORAGE("ByteStorage", C2S_U8, NULL),
    STORAGE("CharStorage", C2S_I8, NULL),
    STORAGE("ComplexDoubleStorage", NONE, "complex128"),
    STORAGE("ComplexFloatStorage", C2S_C64, NULL),
    STORAGE("DoubleStorage", C2S_F64, NULL),
    STORAGE("FloatStorage", C2S_F32, NULL),
    STORAGE("HalfStorage", C2S_F16, NULL),
    STORAGE("IntStorage", C2S_I32, NULL),
    STORAGE("LongStorage", C2S_I64, NULL),
    STORAGE("QInt32Storage", NONE, "quantized qint32"),
    STORAGE("QInt8Storage", NONE, "quantized qint8"),
    STORAGE("QUInt2x4Storage", NONE, "quantized quint2x4"),
    STORAGE("QUInt4x2Storage", NONE, "quantized quint4x2"),
    STORAGE("QUInt8Storage", NONE, "quantized quint8"),
    STORAGE("ShortStorage", C2S_I16, NULL),
    NAMED("torch", "Size", TORCH_SIZE),
    NAMED("torch", "Tensor", TORCH_INERT),
    STORAGE("UntypedStorage", C2S_U8, NULL),
    DTYPE("bfloat16", ALLOW, C2S_BF16, NULL),
    DTYPE("bits16", KNOWN, NONE, "bits16"),
    DTYPE("bits1x8", KNOWN, NONE, "bits1x8"),
    DTYPE("bits2x4", KNOWN, NONE, "bits2x4"),
    DTYPE("bits4x2", KNOWN, NONE, "bits4x2"),
    DTYPE("bits8", KNOWN, NONE, "bits8"),
    DTYPE("bool", ALLOW, C2S_BOOL, NULL),
    DTYPE("cdouble", KNOWN, NONE, "complex128"),
    DTYPE("cfloat", KNOWN, C2S_C64, NULL),
    DTYPE("chalf", KNOWN, NONE, "complex32"),
    DTYPE("complex128", ALLOW, NONE, "complex128"),
    DTYPE("complex32", ALLOW, NONE, "complex32"),
    DTYPE("complex64", ALLOW, C2S_C64, NULL),
    NAMED("torch", "device", TORCH_INERT),
    DTYPE("double", KNOWN, C2S_F64, NULL),
    DTYPE("float", KNOWN, C2S_F32, NULL),
    DTYPE("float16", ALLOW, C2S_F16, NULL),
    DTYPE("float32", ALLOW, C2S_F32, NULL),
    DTYPE("float4_e2m1fn_x2", KNOWN, NONE, "float4_e2m1fn_x2 (packed sub-byte)"),
    DTYPE("float64", ALLOW, C2S_F64, NULL),
    DTYPE("float8_e4m3fn", ALLOW, C2S_F8_E4M3, NULL),
    DTYPE("float8_e4m3fnuz", ALLOW, C2S_F8_E4M3FNUZ, NULL),
    DTYPE("float8_e5m2", ALLOW, C2S_F8_E5M2, NULL),
    DTYPE("float8_e5m2fnuz", ALLOW, C2S_F8_E5M2FNUZ, NULL),
    DTYPE("float8_e8m0fnu", ALLOW, C2S_F8_E8M0, NULL),
    DTYPE("half", KNOWN, C2S_F16, NULL),
    DTYPE("int", KNOWN, C2S_I32, NULL),
    DTYPE("int1", KNOWN, NONE, "int1"),
    DTYPE("int16", ALLOW, C2S_I16, NULL),
    DTYPE("int2", KNOWN, NONE, "int2"),
    DTYPE("int3", KNOWN, NONE, "int3"),
    DTYPE("int32", ALLOW, C2S_I32, NULL),
    DTYPE("int4", KNOWN, NONE, "int4"),
    DTYPE("int5", KNOWN, NONE, "int5"),
    DTYPE("int6", KNOWN, NONE, "int6"),
    DTYPE("int64", ALLOW, C2S_I64, NULL),
    DTYPE("int7", KNOWN, NONE, "int7"),
    DTYPE("int8", ALLOW, C2S_I8, NULL),
    DTYPE("long", KNOWN, C2S_I64, NULL),
    NAMED("torch", "per_channel_affine", TORCH_QSCHEME),
    NAMED("torch", "per_channel_affine_float_qparams", TORCH_QSCHEME),
    NAMED("torch", "per_channel_symmetric", TORCH_QSCHEME),
    NAMED("torch", "per_tensor_affine", TORCH_QSCHEME),
    NAMED("torch", "per_tensor_symmetric", TORCH_QSCHEME),
    DTYPE("qint32", ALLOW, NONE, "quantized qint32"),
    DTYPE("qint8", ALLOW, NONE, "quantized qint8"),
    DTYPE("quint2x4", ALLOW, NONE, "quantized quint2x4"),
    DTYPE("quint4x2", ALLOW, NONE, "quantized quint4x2"),
    DTYPE("quint8", ALLOW, NONE, "quantized quint8"),
    DTYPE("short", KNOWN, C2S_I16, NULL),
    NAMED("torch", "sparse_bsc", TORCH_LAYOUT),
    NAMED("torch", "sparse_bsr", TORCH_LAYOUT),
    NAMED("torch", "sparse_coo", TORCH_LAYOUT),
    NAMED("torch", "sparse_csc", TORCH_LAYOUT),
    NAMED("torch", "sparse_csr", TORCH_LAYOUT),
    NAMED("torch", "strided", TORCH_LAYOUT),
    DTYPE("uint1", KNOWN, NONE, "uint1"),
    DTYPE("uint16", ALLOW, C2S_U16, NULL),
    DTYPE("uint2", KNOWN, NONE, "uint2"),
    DTYPE("uint3", KNOWN, NONE, "uint3"),
    DTYPE("uint32", ALLOW, C2S_U32, NULL),
    DTYPE("uint4", KNOWN, NONE, "uint4"),
    DTYPE("uint5", KNOWN, NONE, "uint5"),
    DTYPE("uint6", KNOWN, NONE, "uint6"),
    DTYPE("uint64", ALLOW, C2S_U64, NULL),
    DTYPE("uint7", KNOWN, NONE, "uint7"),
    DTYPE("uint8", ALLOW, C2S_U8, NULL),
    REBUILD("torch._tensor", "_rebuild_from_type", ALLOW, TORCH_RB_FROM_TYPE, NULL),
    REBUILD("torch._tensor", "_rebuild_from_type_v2", ALLOW, TORCH_RB_FROM_TYPE, NULL),
    REBUILD("torch._utils", "_rebuild_device_tensor_from_cpu_tensor",
            KNOWN, TORCH_RB_UNSUPPORTED, "device tensor"),
    REBUILD("torch._utils", "_rebuild_device_tensor_from_numpy",
            KNOWN, TORCH_RB_UNSUPPORTED, "device tensor"),
    REBUILD("torch._utils", "_rebuild_meta_tensor_no_storage",
            ALLOW, TORCH_RB_UNSUPPORTED, "meta tensor (no data)"),
    REBUILD("torch._utils", "_rebuild_mlc_tensor", KNOWN, TORCH_RB_UNSUPPORTED, "device tensor"),
    REBUILD("torch._utils", "_rebuild_nested_tensor", ALLOW, TORCH_RB_UNSUPPORTED, "nested tensor"),
    REBUILD("torch._utils", "_rebuild_parameter", ALLOW, TORCH_RB_PARAM, NULL),
    REBUILD("torch._utils", "_rebuild_parameter_with_state", ALLOW, TORCH_RB_PARAM, NULL),
    REBUILD("torch._utils", "_rebuild_qtensor", ALLOW, TORCH_RB_UNSUPPORTED, "quantized tensor"),
    REBUILD("torch._utils", "_rebuild_sparse_csr_tensor",
            ALLOW, TORCH_RB_UNSUPPORTED, "sparse tensor"),
    REBUILD("torch._utils", "_rebuild_sparse_tensor", ALLOW, TORCH_RB_UNSUPPORTED, "sparse tensor"),
    REBUILD("torch._utils", "_rebuild_tensor", ALLOW, TORCH_RB_V1, NULL),
    REBUILD("torch._utils", "_rebuild_tensor_v2", ALLOW, TORCH_RB_V2, NULL),
    REBUILD("torch._utils", "_rebuild_tensor_v3", ALLOW, TORCH_RB_V3, NULL),
    REBUILD("torch._utils", "_rebuild_wrapper_subclass",
            KNOWN, TORCH_RB_UNSUPPORTED, "wrapper tensor subclass"),
    REBUILD("torch._utils", "_rebuild_xla_tensor", KNOWN, TORCH_RB_UNSUPPORTED, "device tensor"),
    NAMED("torch.nn.parameter", "Parameter", TORCH_INERT),
    NAMED("torch.serialization", "_get_layout", TORCH_INERT),
};

#define NROWS (sizeof ROWS / sizeof ROWS[0])

typedef struct key {
    const char *module, *name;
} key;

static int compare_key(const void *k, const void *row)
{
    const key *a = k;
    const torch_global *b = row;
    int c = strcmp(a->module, b->module);
    return c != 0 ? c : strcmp(a->name, b->name);
}

const torch_global *torchtab_find(const char *module, const char *name)
{
    key k = {module, name};
    return bsearch(&k, ROWS, NROWS, sizeof ROWS[0], compare_key);
}

int torchtab_allowed(const char *module, const char *name)
{
    const torch_global *g = torchtab_find(module, name);
    return g != NULL && g->allowed;
}

size_t torchtab_count(void) { return NROWS; }

const torch_global *torchtab_row(size_t i) { return i < NROWS ? &ROWS[i] : NULL; }

const char *torchtab_role_name(torch_role role)
{
    switch (role) {
    case TORCH_REBUILD: return "rebuild";
    case TORCH_STORAGE: return "storage";
    case TORCH_DTYPE: return "dtype";
    case TORCH_LAYOUT: return "layout";
    case TORCH_QSCHEME: return "qscheme";
    case TORCH_SIZE: return "size";
    case TORCH_INERT: return "inert";
    }
    return "?";
}
