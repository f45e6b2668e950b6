/*
 * dtype.h - element types: PyTorch names in, safetensors names out.
 *
 * A checkpoint names a tensor's element type either through its legacy
 * storage class (torch.FloatStorage, v2 tensors) or through a torch dtype
 * global (torch.float8_e4m3fn, v3 tensors).  Both map, through the table of
 * PyTorch globals (torchtab.h), to one c2s_dtype, which
 * knows its safetensors name, its size and its rank in the reference
 * writer's ordering.  Types safetensors cannot hold (complex128, quantized,
 * sub-byte ...) are recognised too, so that the error can name them.
 * The enum, its names and sizes are public (c2s.h); the rest is private.
 */
#ifndef C2S_DTYPE_H
#define C2S_DTYPE_H

#include <stddef.h>

#include "c2s.h"
#include "torch/torchtab.h"

/* Result of looking a PyTorch name up. */
typedef enum c2s_dtype_lookup {
    C2S_DTYPE_FOUND,       /* *out is set */
    C2S_DTYPE_UNSUPPORTED, /* a real PyTorch type safetensors cannot hold; *why names it */
    C2S_DTYPE_UNKNOWN      /* not a name we know */
} c2s_dtype_lookup;

/* Bytes of the unit that byte order applies to (C64: 4, two floats). */
size_t c2s_dtype_swap_unit(c2s_dtype dt);
/* Position in the reference writer's order: larger ranks are written first. */
int c2s_dtype_rank(c2s_dtype dt);

/* Reverse the bytes of each unit-sized element of p[0..n) (n a multiple of
 * unit): big-endian storages to little-endian. */
void c2s_byteswap(void *p, size_t n, size_t unit);

/* Storage class name without module ("FloatStorage"). "UntypedStorage" and
 * "ByteStorage" both give U8 (untyped storages count bytes). */
c2s_dtype_lookup c2s_dtype_from_storage_class(const char *name, c2s_dtype *out, const char **why);

/* The same answer from a torchtab row already found (g may be NULL): the
 * row's dtype when it has the given role, a storage class or a dtype. */
c2s_dtype_lookup c2s_dtype_from_row(const torch_global *g, torch_role role, c2s_dtype *out,
                                    const char **why);
/* The integer type a quantized storage class holds: QInt8Storage I8,
 * QUInt8Storage U8, QInt32Storage I32 (what torch.save writes a quantized
 * tensor's storage as).  1 when found, 0 for any other name (the sub-byte
 * QUInt4x2Storage and QUInt2x4Storage included). */
int c2s_dtype_from_quantized_storage(const char *name, c2s_dtype *out);

/* torch dtype attribute name ("float8_e4m3fn"). */
c2s_dtype_lookup c2s_dtype_from_torch_name(const char *name, c2s_dtype *out, const char **why);

#endif /* C2S_DTYPE_H */
