/*
 * dtype.c - the element type tables (see src/torch/dtype.h).
 *
 * One row per c2s_dtype.  Which PyTorch names (storage classes, dtype
 * objects) map to a row, or to an "unsupported" reason, is said by the table
 * of PyTorch globals (torch/torchtab.h); the lookups below read it.  Ranks
 * follow the order of the Dtype enum in the reference safetensors
 * implementation, where the writer sorts by that enum descending, so that
 * every tensor starts at a multiple of its element size.
 */
#include "torch/dtype.h"

#include <string.h>

#include "torch/torchtab.h"

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

static int known(c2s_dtype dt)
{
    return (unsigned)dt < C2S_DTYPE_COUNT;
}

const char *c2s_dtype_name(c2s_dtype dt)
{
    return known(dt) ? DTYPES[dt].st_name : "?";
}
size_t c2s_dtype_size(c2s_dtype dt)
{
    return known(dt) ? DTYPES[dt].size : 0;
}
size_t c2s_dtype_swap_unit(c2s_dtype dt)
{
    return DTYPES[dt].swap_unit;
}
int c2s_dtype_rank(c2s_dtype dt)
{
    return DTYPES[dt].rank;
}

/* The table row torch.<name> when it has the given role (storage class or
 * dtype object). */
static c2s_dtype_lookup lookup(torch_role role, const char *name, c2s_dtype *out, const char **why)
{
    return c2s_dtype_from_row(torchtab_find("torch", name), role, out, why);
}

c2s_dtype_lookup c2s_dtype_from_row(const torch_global *g, torch_role role, c2s_dtype *out,
                                    const char **why)
{
    if (g == NULL || g->role != role)
        return C2S_DTYPE_UNKNOWN;
    if (g->dtype < 0) {
        if (why)
            *why = g->why;
        return C2S_DTYPE_UNSUPPORTED;
    }
    *out = (c2s_dtype)g->dtype;
    return C2S_DTYPE_FOUND;
}

c2s_dtype_lookup c2s_dtype_from_storage_class(const char *name, c2s_dtype *out, const char **why)
{
    return lookup(TORCH_STORAGE, name, out, why);
}

int c2s_dtype_from_quantized_storage(const char *name, c2s_dtype *out)
{
    static const struct {
        const char *name;
        c2s_dtype dt;
    } Q[] = {
        {"QInt8Storage", C2S_I8},
        {"QUInt8Storage", C2S_U8},
        {"QInt32Storage", C2S_I32},
    };
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++)
        if (strcmp(name, Q[i].name) == 0) {
            *out = Q[i].dt;
            return 1;
        }
    return 0;
}

c2s_dtype_lookup c2s_dtype_from_torch_name(const char *name, c2s_dtype *out, const char **why)
{
    return lookup(TORCH_DTYPE, name, out, why);
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
