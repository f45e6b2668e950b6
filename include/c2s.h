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
 * c2s_open() reads and interprets data.pkl (never executing it), judges
 * the file with the safety policy (policy.h) and refuses it when unsafe,
 * and checks every tensor's view against its storage record; no tensor
 * bytes are read.  c2s_scan() makes the same judgement and reports it.
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

/* C++: every declaration below, also those of the headers included here,
 * has C linkage. */
#ifdef __cplusplus
extern "C" {
#endif

#include "util/c2s_error.h"
#include "util/findings.h"
#include "pickle/policy.h"
#include "pickle/pvm.h"
#include "torch/tmap.h"

#define C2S_VERSION "0.1.0"

typedef struct c2s_open_options {
    const char *key;        /* root key path, NULL for the default root */
    policy_options policy;  /* --allow-global, --permissive */
    pvm_limits limits;      /* pickle VM limits, 0 fields: defaults */
    uint64_t max_pickle;    /* bytes of data.pkl, 0: default 1 GiB */
    size_t max_depth;       /* tensor map nesting, 0: default 1000 */
} c2s_open_options;

/* ---- the verdict ---------------------------------------------------------- */

typedef enum c2s_verdict {
    C2S_VERDICT_SAFE,       /* nothing torch.load would run beyond the allowed */
    C2S_VERDICT_UNSAFE,     /* a dangerous or unknown global, or a finding */
    C2S_VERDICT_UNREADABLE  /* not a checkpoint we can read, and nothing unsafe seen */
} c2s_verdict;

/* One global a file names, as judged. */
typedef struct c2s_global_use {
    char *module, *name;
    policy_class cls;
    unsigned uses;          /* pvm_use bits */
    char *pickle;           /* "archive/data.pkl", or "pickle 1" for a non-zip file */
    uint64_t offset;        /* of the first opcode naming it, from the pickle's start */
} c2s_global_use;

typedef struct c2s_report {
    c2s_verdict verdict;
    const char *format;     /* "zip" or "not a zip (legacy load path)" */
    c2s_global_use *globals;
    size_t nglobals;
    struct findings findings; /* structural problems: each makes the file unsafe
                                 ("struct": C++ would not let the member's name
                                 change what `findings` means in the struct) */
    c2s_error error;        /* why the file could not be read; error.msg "" if it could */
} c2s_report;

/*
 * Judge path without converting it: every pickle torch.load would run is
 * interpreted (for a zip, data.pkl; for anything else, the pickles at the
 * start of the file, as torch's legacy path reads them), every global is
 * classified, the zip structure is checked and every entry's CRC-32 is
 * verified.  Returns C2S_OK, C2S_ERR_REFUSED or C2S_ERR_INPUT according to
 * the verdict; rep is filled in every case and must be freed.
 */
c2s_status c2s_scan(const char *path, const c2s_open_options *opts, c2s_report *rep);

void c2s_report_free(c2s_report *rep);

/* Names of the uses in bits, comma-separated ("REDUCE,BUILD"), or
 * "referenced" when the global was only named. */
const char *c2s_uses_text(unsigned uses, char *buf, size_t cap);

/* ---- converting ------------------------------------------------------------ */

typedef struct c2s_checkpoint c2s_checkpoint;

/* Open and judge path.  An unsafe file fails with C2S_ERR_REFUSED and a
 * message listing what makes it unsafe and how to allow unknown globals. */
c2s_status c2s_open(const char *path, const c2s_open_options *opts,
                    c2s_checkpoint **out, c2s_error *err);

/* The tensors found (valid until c2s_close). */
const tmap *c2s_tensors(const c2s_checkpoint *ck);

/* 1 when storages are big-endian in the archive (they are swapped on output). */
int c2s_big_endian(const c2s_checkpoint *ck);

typedef void (*c2s_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* An extra __metadata__ entry. */
typedef struct c2s_kv {
    const char *key, *value;
} c2s_kv;

/* Direct I/O for the output file (see outfile.h). */
typedef enum c2s_direct_io {
    C2S_DIRECT_AUTO,    /* through the page cache when the whole file fits what the kernel
                           keeps dirty without writing back (outfile_writeback_room, shared
                           by `jobs`), else around it */
    C2S_DIRECT_ALWAYS,  /* around the cache from the first aligned block */
    C2S_DIRECT_NEVER    /* always through the cache */
} c2s_direct_io;

typedef struct c2s_write_options {
    int force;              /* replace an existing output */
    int skip_unsupported;   /* drop tensors safetensors cannot hold */
    const volatile sig_atomic_t *cancel; /* checked between blocks; may be NULL */
    c2s_progress_fn progress;            /* may be NULL; done/total in output bytes */
    void *progress_ctx;
    size_t buffer_size;     /* memory unit, 0: default 8 MiB: 32 slots of
                               buffer_size / 8 (4 of them the output ring)
                               and an output buffer of buffer_size / 8
                               (see convert.c) */

    /* Which tensors: a name is kept when it matches some include glob (or
     * there are none) and no exclude glob (fnmatch(3), no flags: '*' also
     * matches '.').  Dropping every tensor is an error. */
    const char *const *include;
    size_t ninclude;
    const char *const *exclude;
    size_t nexclude;

    /* --dtype: floating tensors (F64 F32 F16 BF16) are converted to dtype,
     * bit-exact with PyTorch's .to() (dtconv.h); others are kept. */
    int convert_dtype;
    c2s_dtype dtype;

    /* Extra __metadata__ entries, after "format":"pt".  Keys must be
     * unique and not "format" (C2S_ERR_USAGE otherwise). */
    const c2s_kv *metadata;
    size_t nmetadata;
    /* Also copy the scalar leaves outside the root (epoch, global_step,
     * versions, hyper-parameters; dotted paths as keys, values as text). */
    int training_metadata;

    /* Re-read the written file before putting it in place: validate it as
     * safetensors and compare every tensor's bytes with the source, re-derived
     * element by element.  A mismatch fails the conversion. */
    int verify;

    /* With out_path NULL: stream the file to this descriptor (e.g. 1 for
     * stdout); no temporary file, so nothing can be taken back on failure. */
    int out_fd;

    /* Compute the SHA-256 of the output (result.sha256). */
    int sha256;

    /* Direct I/O (no effect on a stream), and how many conversions run at
     * once (0 counts as 1): AUTO shares the page cache's room among them. */
    c2s_direct_io direct_io;
    unsigned jobs;
} c2s_write_options;

typedef struct c2s_write_result {
    size_t tensors;         /* written */
    size_t skipped;         /* unsupported tensors dropped */
    size_t filtered;        /* dropped by include/exclude */
    size_t converted;       /* tensors whose dtype --dtype changed */
    uint64_t data_bytes;    /* tensor bytes written */
    uint64_t file_bytes;    /* size of the output file */
    uint64_t direct_bytes;  /* of them, written around the page cache */
    char sha256[65];        /* hex, when requested; "" otherwise */
} c2s_write_result;

/* Whether the include/exclude globs of o keep a tensor called name (the
 * rule above; o NULL keeps everything). */
int c2s_selected(const c2s_write_options *o, const char *name);

/*
 * Write the safetensors file to out_path (or, out_path NULL, to
 * opts->out_fd).  Refuses (C2S_ERR_INPUT) when out_path is the input file,
 * when it exists and force is 0, and when an unsupported tensor is present
 * and skip_unsupported is 0.  Storage bytes are checked against the
 * archive's CRC-32 before the file is put in place.  opts may be NULL.
 */
c2s_status c2s_write(c2s_checkpoint *ck, const char *out_path,
                     const c2s_write_options *opts, c2s_write_result *res,
                     c2s_error *err);

/* NULL is a no-op. */
void c2s_close(c2s_checkpoint *ck);

#ifdef __cplusplus
}
#endif

#endif /* C2S_H */
