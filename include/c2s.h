/*
 * c2s.h - the conversion engine of ckpt2safetensors: its public API.
 *
 * The pipeline is  zip reader (zipsrc) -> restricted pickle VM (pvm)
 * -> tensor map (tmap) -> safetensors writer (stw + outfile).
 *
 *   c2s_checkpoint *ck;
 *   if (c2s_open("model.ckpt", &opts, &ck, &err) == C2S_OK) {
 *       const tmap *m = c2s_tensors(ck);            // names, dtypes, shapes
 *       c2s_write(ck, "model.safetensors", &wopts, &res, &err);
 *       c2s_close(ck);
 *   }
 *
 * c2s_open() reads and interprets data.pkl (never executing it) and checks
 * every tensor's view against its storage record; no tensor bytes are read.
 * c2s_write() streams the tensor bytes through one fixed buffer into a
 * temporary file next to the output and renames it into place at the end;
 * on any failure, or when *cancel becomes non-zero, the temporary file is
 * removed and nothing is left behind.
 *
 * Nothing here prints or exits: errors come back in a c2s_error.
 */
#ifndef C2S_H
#define C2S_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "c2s_error.h"
#include "pvm.h"
#include "tmap.h"

#define C2S_VERSION "0.1.0"

typedef struct c2s_open_options {
    const char *key;        /* root key path, NULL for the default root */
    pvm_limits limits;      /* pickle VM limits, 0 fields: defaults */
    uint64_t max_pickle;    /* bytes of data.pkl, 0: default 1 GiB */
    size_t max_depth;       /* tensor map nesting, 0: default 1000 */
} c2s_open_options;

typedef struct c2s_checkpoint c2s_checkpoint;

c2s_status c2s_open(const char *path, const c2s_open_options *opts,
                    c2s_checkpoint **out, c2s_error *err);

/* The tensors found (valid until c2s_close). */
const tmap *c2s_tensors(const c2s_checkpoint *ck);

/* 1 when storages are big-endian in the archive (they are swapped on output). */
int c2s_big_endian(const c2s_checkpoint *ck);

typedef void (*c2s_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct c2s_write_options {
    int force;              /* replace an existing output */
    int skip_unsupported;   /* drop tensors safetensors cannot hold */
    const volatile sig_atomic_t *cancel; /* checked between blocks; may be NULL */
    c2s_progress_fn progress;            /* may be NULL */
    void *progress_ctx;
    size_t buffer_size;     /* copy buffer, 0: default 8 MiB */
} c2s_write_options;

typedef struct c2s_write_result {
    size_t tensors;         /* written */
    size_t skipped;         /* unsupported tensors dropped */
    uint64_t data_bytes;    /* tensor bytes written */
    uint64_t file_bytes;    /* size of the output file */
} c2s_write_result;

/*
 * Write the safetensors file.  Refuses (C2S_ERR_INPUT) when out_path is the
 * input file, when it exists and force is 0, and when an unsupported tensor
 * is present and skip_unsupported is 0.  Storage bytes are checked against
 * the archive's CRC-32 before the file is put in place.
 */
c2s_status c2s_write(c2s_checkpoint *ck, const char *out_path,
                     const c2s_write_options *opts, c2s_write_result *res,
                     c2s_error *err);

/* NULL is a no-op. */
void c2s_close(c2s_checkpoint *ck);

#endif /* C2S_H */
