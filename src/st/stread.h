/*
 * stread.h - read and validate the header of a safetensors file.
 *
 * st_read_fd() reads the 8-byte length N and the N header bytes, and checks
 * them with the rules of the reference reader (huggingface/safetensors,
 * SafeTensors::read_metadata and Metadata::validate):
 *
 *   - the file holds at least 8 bytes; N <= ST_MAX_HEADER; 8 + N <= file size;
 *   - the header is valid UTF-8 and one JSON object, followed only by JSON
 *     whitespace (space, tab, LF, CR: the writer pads with spaces);
 *   - JSON syntax as strict as serde_json's: no raw control characters in
 *     strings, no leading zeros, at most ST_MAX_DEPTH nested containers;
 *   - "__metadata__" (optional; null counts as absent) is an object of string
 *     values;
 *   - every other member is a tensor: an object with dtype (one of the
 *     safetensors dtype names), shape (array of integers in [0, 2^64-1]) and
 *     data_offsets (array of two such integers, begin <= end); other members
 *     of a tensor object are ignored, as the reference does;
 *   - product(shape) * bits is a whole number of bytes equal to end - begin
 *     (computed in 64 bits, overflow is an error);
 *   - sorted by offsets, the tensors tile the data buffer exactly: the first
 *     begins at 0, each begins where the previous ends, the last ends at the
 *     end of the file;
 *   - names (tensors, metadata keys, tensor members) are unique.
 *
 * Integers are read from their JSON text, not from cJSON's double, so values
 * above 2^53 are exact; fractions, exponents and signs ("2.0", "1e3", "-0")
 * are rejected as serde_json rejects them for usize.
 *
 * Stricter than the reference, on purpose or because of cJSON: duplicate
 * tensor names and duplicate __metadata__ keys are rejected (serde keeps the
 * last one); a tensor written as an array (serde's sequence form of a struct)
 * is rejected; the escape \u0000 (a NUL cannot live in a C string) and
 * numbers longer than 63 characters (cJSON truncates them) are rejected.
 * Memory: cJSON takes about 64 bytes per JSON value, so a header of N bytes
 * may need up to ~32 N bytes while it is checked.
 *
 * Every failure is C2S_ERR_INPUT with a one-line message beginning
 * "safetensors: ".  Tensor data is never read.
 */
#ifndef STREAD_H
#define STREAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/limits.h"

#define ST_MAX_HEADER C2S_ST_MAX_HEADER
#define ST_MAX_DEPTH 127 /* serde_json's recursion limit (128, exclusive) */

typedef struct st_tensor {
    char *name;
    const char *dtype; /* "F32", ...: a static string, never freed */
    unsigned bits;     /* element size in bits: 4 (F4), 6 (F6_*), 8, 16, 32, 64 */
    size_t ndim;
    uint64_t *shape;     /* ndim entries (NULL when ndim is 0) */
    uint64_t begin, end; /* data_offsets, relative to the data buffer */
} st_tensor;

typedef struct st_file {
    st_tensor *tensors; /* in header order */
    size_t ntensors;
    char **meta_keys; /* __metadata__, in header order */
    char **meta_values;
    size_t nmeta;
    uint64_t header_len; /* N */
    uint64_t data_start; /* 8 + N */
    uint64_t data_len;   /* file size - data_start */
} st_file;

/* Validate the safetensors file open on fd (a regular file).  Reads the
 * header with pread (the file position is left alone) and fstat()s for the
 * size.  On success *out owns its memory (free with st_file_free); on failure
 * *out is left empty and err says why. */
c2s_status st_read_fd(int fd, st_file *out, c2s_error *err);

/* Same for a path (opened read-only, closed before returning). */
c2s_status st_read_path(const char *path, st_file *out, c2s_error *err);

/* Release what st_read_* allocated and zero *f.  f may be NULL; freeing an
 * emptied or zeroed st_file is harmless. */
void st_file_free(st_file *f);

#endif /* STREAD_H */
