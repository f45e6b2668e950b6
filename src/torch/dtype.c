/*
 * dtype.c - the element type tables (see src/torch/dtype.h).
 *
 * One row per c2s_dtype, plus tables of PyTorch names that map to a row or to
 * an "unsupported" reason.  Ranks follow the order of the Dtype enum in the
 * reference safetensors implementation, where the writer sorts by that enum
 * descending, so that every tensor starts at a multiple of its element size.
 */
#include "torch/dtype.h"

#include <string.h>

typedef struct dtype_info {
    const char *st_name;
    unsigned char size;
    unsigned char swap_unit;
    unsigned char rank;
} dtype_info;

/* Indexed by c2s_dtype.  Rank: BOOL 0 < U8 < I8 < F8_E5M2 < F8_E4M3 < F8_E8M0
 * < F8_E4M3FNUZ < F8_E5M2FNUZ < I16 < U16 < F16 < BF16 < I32 < U32 < F32 <
 * C64 < F64 < I64 < U64. */
static const dtype_info DTYPES[C2S_DTYPE_COUNT] = {
    [C2S_F64] = {"F64", 8, 8, 16},
    [C2S_F32] = {"F32", 4, 4, 14},
    [C2S_F16] = {"F16", 2, 2, 10},
    [C2S_BF16] = {"BF16", 2, 2, 11},
    [C2S_I64] = {"I64", 8, 8, 17},
    [C2S_I32] = {"I32", 4, 4, 12},
    [C2S_I16] = {"I16", 2, 2, 8},
    [C2S_I8] = {"I8", 1, 1, 2},
    [C2S_U64] = {"U64", 8, 8, 18},
    [C2S_U32] = {"U32", 4, 4, 13},
    [C2S_U16] = {"U16", 2, 2, 9},
    [C2S_U8] = {"U8", 1, 1, 1},
    [C2S_BOOL] = {"BOOL", 1, 1, 0},
    [C2S_C64] = {"C64", 8, 4, 15},
    [C2S_F8_E4M3] = {"F8_E4M3", 1, 1, 4},
    [C2S_F8_E5M2] = {"F8_E5M2", 1, 1, 3},
    [C2S_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 1, 1, 6},
    [C2S_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 1, 1, 7},
    [C2S_F8_E8M0] = {"F8_E8M0", 1, 1, 5},
};

typedef struct name_row {
    const char *name;
    int dtype;          /* c2s_dtype, or -1 when unsupported */
    const char *why;    /* for unsupported rows */
} name_row;

static const name_row STORAGE_CLASSES[] = {
    {"DoubleStorage", C2S_F64, NULL},
    {"FloatStorage", C2S_F32, NULL},
    {"HalfStorage", C2S_F16, NULL},
    {"BFloat16Storage", C2S_BF16, NULL},
    {"LongStorage", C2S_I64, NULL},
    {"IntStorage", C2S_I32, NULL},
    {"ShortStorage", C2S_I16, NULL},
    {"CharStorage", C2S_I8, NULL},
    {"ByteStorage", C2S_U8, NULL},
    {"UntypedStorage", C2S_U8, NULL},
    {"BoolStorage", C2S_BOOL, NULL},
    {"ComplexFloatStorage", C2S_C64, NULL},
    {"ComplexDoubleStorage", -1, "complex128"},
    {"QInt8Storage", -1, "quantized qint8"},
    {"QUInt8Storage", -1, "quantized quint8"},
    {"QInt32Storage", -1, "quantized qint32"},
    {"QUInt4x2Storage", -1, "quantized quint4x2"},
    {"QUInt2x4Storage", -1, "quantized quint2x4"},
};

static const name_row TORCH_DTYPES[] = {
    {"float64", C2S_F64, NULL}, {"double", C2S_F64, NULL},
    {"float32", C2S_F32, NULL}, {"float", C2S_F32, NULL},
    {"float16", C2S_F16, NULL}, {"half", C2S_F16, NULL},
    {"bfloat16", C2S_BF16, NULL},
    {"int64", C2S_I64, NULL}, {"long", C2S_I64, NULL},
    {"int32", C2S_I32, NULL}, {"int", C2S_I32, NULL},
    {"int16", C2S_I16, NULL}, {"short", C2S_I16, NULL},
    {"int8", C2S_I8, NULL},
    {"uint64", C2S_U64, NULL}, {"uint32", C2S_U32, NULL},
    {"uint16", C2S_U16, NULL}, {"uint8", C2S_U8, NULL},
    {"bool", C2S_BOOL, NULL},
    {"complex64", C2S_C64, NULL}, {"cfloat", C2S_C64, NULL},
    {"float8_e4m3fn", C2S_F8_E4M3, NULL},
    {"float8_e5m2", C2S_F8_E5M2, NULL},
    {"float8_e4m3fnuz", C2S_F8_E4M3FNUZ, NULL},
    {"float8_e5m2fnuz", C2S_F8_E5M2FNUZ, NULL},
    {"float8_e8m0fnu", C2S_F8_E8M0, NULL},
    {"complex128", -1, "complex128"}, {"cdouble", -1, "complex128"},
    {"complex32", -1, "complex32"}, {"chalf", -1, "complex32"},
    {"qint8", -1, "quantized qint8"}, {"quint8", -1, "quantized quint8"},
    {"qint32", -1, "quantized qint32"}, {"quint4x2", -1, "quantized quint4x2"},
    {"quint2x4", -1, "quantized quint2x4"},
    {"float4_e2m1fn_x2", -1, "float4_e2m1fn_x2 (packed sub-byte)"},
    {"bits1x8", -1, "bits1x8"}, {"bits2x4", -1, "bits2x4"},
    {"bits4x2", -1, "bits4x2"}, {"bits8", -1, "bits8"}, {"bits16", -1, "bits16"},
    {"uint1", -1, "uint1"}, {"uint2", -1, "uint2"}, {"uint3", -1, "uint3"},
    {"uint4", -1, "uint4"}, {"uint5", -1, "uint5"}, {"uint6", -1, "uint6"},
    {"uint7", -1, "uint7"}, {"int1", -1, "int1"}, {"int2", -1, "int2"},
    {"int3", -1, "int3"}, {"int4", -1, "int4"}, {"int5", -1, "int5"},
    {"int6", -1, "int6"}, {"int7", -1, "int7"},
};

static int known(c2s_dtype dt) { return (unsigned)dt < C2S_DTYPE_COUNT; }

const char *c2s_dtype_name(c2s_dtype dt) { return known(dt) ? DTYPES[dt].st_name : "?"; }
size_t c2s_dtype_size(c2s_dtype dt) { return known(dt) ? DTYPES[dt].size : 0; }
size_t c2s_dtype_swap_unit(c2s_dtype dt) { return DTYPES[dt].swap_unit; }
int c2s_dtype_rank(c2s_dtype dt) { return DTYPES[dt].rank; }

static c2s_dtype_lookup lookup(const name_row *rows, size_t n, const char *name,
                               c2s_dtype *out, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].name, name) != 0)
            continue;
        if (rows[i].dtype < 0) {
            if (why)
                *why = rows[i].why;
            return C2S_DTYPE_UNSUPPORTED;
        }
        *out = (c2s_dtype)rows[i].dtype;
        return C2S_DTYPE_FOUND;
    }
    return C2S_DTYPE_UNKNOWN;
}

c2s_dtype_lookup c2s_dtype_from_storage_class(const char *name, c2s_dtype *out,
                                              const char **why)
{
    return lookup(STORAGE_CLASSES, sizeof STORAGE_CLASSES / sizeof STORAGE_CLASSES[0],
                  name, out, why);
}

c2s_dtype_lookup c2s_dtype_from_torch_name(const char *name, c2s_dtype *out,
                                           const char **why)
{
    return lookup(TORCH_DTYPES, sizeof TORCH_DTYPES / sizeof TORCH_DTYPES[0],
                  name, out, why);
}

void c2s_byteswap(void *p, size_t n, size_t unit)
{
    unsigned char *b = p;
    for (size_t i = 0; i + unit <= n; i += unit)
        for (size_t lo = i, hi = i + unit - 1; lo < hi; lo++, hi--) {
            unsigned char t = b[lo];
            b[lo] = b[hi];
            b[hi] = t;
        }
}
