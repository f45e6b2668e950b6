/*
 * c2s.h - the conversion engine of ckpt2safetensors: its public API, and the
 * only header a program using the library needs (it includes nothing but
 * system headers).
 *
 *   c2s_open_options opts = {0};           // default limits, no extra globals
 *   c2s_checkpoint *ck;
 *   c2s_error err;
 *   if (c2s_open("model.ckpt", &opts, &ck, &err) == C2S_OK) {
 *       for (size_t i = 0; i < c2s_tensor_count(ck); i++) {
 *           c2s_tensor_info t = c2s_tensor_at(ck, i);
 *           printf("%s %s %llu bytes\n", t.name,
 *                  t.supported ? c2s_dtype_name(t.dtype) : t.why,
 *                  (unsigned long long)t.nbytes);
 *       }
 *       if (c2s_write(ck, "model.safetensors", NULL, NULL, &err) != C2S_OK)
 *           fprintf(stderr, "%s\n", err.msg);
 *       c2s_close(ck);
 *   } else {
 *       fprintf(stderr, "%s\n", err.msg);
 *   }
 *
 * c2s_open() reads and interprets the pickle (never executing it), judges
 * every global it names with the safety policy and refuses the file when
 * unsafe, and checks every tensor's view against its storage record; no
 * tensor bytes are read.  c2s_scan() makes the same judgement and reports
 * it.  c2s_write() streams the tensor bytes through one fixed buffer into an
 * unnamed O_TMPFILE file in the output's directory (where the file system
 * has none, a hidden temporary file beside it) and links it into place at
 * the end; on any failure, or when *cancel becomes non-zero, nothing is
 * left behind, and with O_TMPFILE not even when the process is killed.  A
 * program that wants a write past its file size limit to fail (EFBIG,
 * reported with the limit) rather than die of SIGXFSZ ignores that signal.
 * c2s_safetensors_open() reads and validates the header of a safetensors
 * file.
 *
 * TensorFlow checkpoints (tensor bundles: PREFIX.index and its shards
 * PREFIX.data-0000K-of-0000N) open the same way, by the index's path or by
 * the prefix alone; they hold no pickle, so the judgement is about their
 * structure and checksums (CRC-32C) only.
 *
 * Nothing here prints or exits: errors come back in a c2s_error.
 */
#ifndef C2S_H
#define C2S_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* C++: every declaration below has C linkage. */
#ifdef __cplusplus
extern "C" {
#endif

#define C2S_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------------ */

/*
 * Every function that can fail takes a `c2s_error *` and returns a
 * c2s_status.  The record holds a one-line message (never naming a command
 * line option: it says what happened, not how to change it) and, for a
 * limit or rule a front end can lift, which one.  The numeric values of
 * c2s_status are the program's documented exit codes.
 */
typedef enum c2s_status {
    C2S_OK = 0,         /* success */
    C2S_ERR_INPUT = 1,  /* input could not be converted: corrupt, unsupported, I/O */
    C2S_ERR_USAGE = 2,  /* bad arguments */
    C2S_ERR_REFUSED = 3 /* refused by the safety policy */
} c2s_status;

#define C2S_ERROR_MSG_MAX 1024
#define C2S_ERROR_SUBJECT_MAX 256

/* Which limit or rule an error is about, so that a front end can say how to
 * get past it in its own words (the CLI names its flags). */
typedef enum c2s_rule {
    C2S_RULE_NONE = 0,
    C2S_RULE_MAX_PICKLE, /* a pickle record larger than limits.max_pickle */
    C2S_RULE_MAX_STRING, /* pickle VM limits, one each */
    C2S_RULE_MAX_CONTAINER,
    C2S_RULE_MAX_OBJECTS,
    C2S_RULE_MAX_STACK,
    C2S_RULE_MAX_MEMO,
    C2S_RULE_MAX_DEPTH,    /* tensor map nesting */
    C2S_RULE_KEY,          /* the root key path names no entry; msg starts with it */
    C2S_RULE_NO_TENSORS,   /* no tensors under the root: another root may have them */
    C2S_RULE_UNSUPPORTED,  /* a tensor safetensors cannot hold (skip_unsupported) */
    C2S_RULE_ALL_FILTERED, /* include/exclude dropped every tensor */
    C2S_RULE_EXISTS,       /* the output exists and replacing it was not asked for */
    C2S_RULE_POLICY,       /* refused by the safety policy; subject: the one unknown
                                 global ("module.name"), "*" for several, "" for none;
                                 more: offenders left out of the message */
    C2S_RULE_QUANTIZED,    /* a quantized tensor, and c2s_open_options.quantized
                                 did not say how to write it (or skip_unsupported) */
    C2S_RULE_CORRUPT,      /* the file is damaged: a CRC-32 mismatch, an archive or
                                 a stream that ends early, a safetensors header that
                                 breaks a rule (the verdict "corrupt") */
    C2S_RULE_RENAME        /* the renames give two written tensors one name, or a
                                 tensor an empty or reserved name */
} c2s_rule;

typedef struct c2s_error {
    c2s_status status;
    c2s_rule rule;
    size_t more;
    char subject[C2S_ERROR_SUBJECT_MAX];
    char msg[C2S_ERROR_MSG_MAX];
} c2s_error;

/* Reset to C2S_OK with an empty message.  err may be NULL. */
void c2s_error_clear(c2s_error *err);

/* ---- element types ----------------------------------------------------------- */

typedef enum c2s_dtype {
    C2S_F64,
    C2S_F32,
    C2S_F16,
    C2S_BF16,
    C2S_I64,
    C2S_I32,
    C2S_I16,
    C2S_I8,
    C2S_U64,
    C2S_U32,
    C2S_U16,
    C2S_U8,
    C2S_BOOL,
    C2S_C64,
    C2S_F8_E4M3,
    C2S_F8_E5M2,
    C2S_F8_E4M3FNUZ,
    C2S_F8_E5M2FNUZ,
    C2S_F8_E8M0,
    C2S_DTYPE_COUNT /* how many there are; not a type */
} c2s_dtype;

/* Safetensors name ("F32"); "?" for a value that is no c2s_dtype. */
const char *c2s_dtype_name(c2s_dtype dt);
/* Bytes per element; 0 for a value that is no c2s_dtype. */
size_t c2s_dtype_size(c2s_dtype dt);

/* ---- opening options ---------------------------------------------------------- */

/* Resource limits; every field 0 means "use the default". */
typedef struct c2s_limits {
    uint64_t max_pickle;  /* bytes of one pickle record (data.pkl), default 1 GiB */
    size_t max_depth;     /* tensor map nesting, default 1000 */
    size_t max_objects;   /* pickle objects created, default 50,000,000 */
    size_t max_memo;      /* pickle memo entries, default 10,000,000 */
    size_t max_stack;     /* pickle stack entries plus marks, default 1,000,000 */
    size_t max_string;    /* bytes in one pickled str/bytes/bigint, default 256 MiB */
    size_t max_container; /* items in one pickled container, default 100,000,000 */
} c2s_limits;

/* What to do with quantized tensors (torch.quantize_per_tensor / _per_channel,
 * affine schemes; element types qint8, quint8, qint32). */
typedef enum c2s_quantized {
    C2S_QUANTIZED_REFUSE = 0, /* listed as unsupported (c2s_write fails on them unless
                                   skip_unsupported) */
    C2S_QUANTIZED_DEQUANTIZE, /* F32 values, bit-exact with torch's .dequantize() */
    C2S_QUANTIZED_RAW         /* the integers (I8, U8, I32) as stored, plus NAME.scale
                                   and NAME.zero_point tensors; per-channel: the axis and
                                   the scheme in __metadata__ (see README) */
} c2s_quantized;

/* The name of a root that is one tensor (torch.save(tensor)) when
 * c2s_open_options.tensor_name is NULL. */
#define C2S_DEFAULT_TENSOR_NAME "tensor"

typedef struct c2s_open_options {
    /* Root key path, NULL for the default root (the top level's "state_dict"
     * dict when it has one, else the top level).  A dotted path of dict keys
     * and list indices, looked up from the top level; when its first
     * component names nothing there and the top level has a "state_dict"
     * dict, it is looked up in that dict instead.  At each level the longest
     * key matching the start of the rest of the path wins (keys may hold
     * dots).  Where no key matches but keys begin with the rest of the path
     * followed by '.' (flat keys, as in Stable Diffusion:
     * "model.diffusion_model.out.2.weight"), the root is those entries only,
     * named without that part ("out.2.weight").  Otherwise: C2S_RULE_KEY. */
    const char *key;
    c2s_limits limits;
    /* "module.name" globals to accept although unknown; "module.*" accepts
     * every name of module and of its sub-modules (never a dangerous one) */
    const char *const *allow;
    size_t nallow;
    int permissive; /* accept every unknown global (never a dangerous one) */
    /* TensorFlow checkpoints: name tensors by the variable names of the
     * object graph TF2 saves (tf.train.Checkpoint, Keras), such as
     * "dense/kernel" for the key "model/layer-0/kernel/.ATTRIBUTES/
     * VARIABLE_VALUE"; an entry with no such name, or whose name another
     * entry also has, keeps its key without "/.ATTRIBUTES/VARIABLE_VALUE".
     * 0: every tensor keeps its key as the index has it.  No effect on
     * other formats. */
    int tf_names;
    const char *tensor_name; /* name of a root that is one tensor; NULL:
                                   C2S_DEFAULT_TENSOR_NAME */
    c2s_quantized quantized; /* quantized tensors; 0: C2S_QUANTIZED_REFUSE */
} c2s_open_options;

/* ---- the verdict ---------------------------------------------------------- */

typedef enum c2s_verdict {
    C2S_VERDICT_SAFE,       /* nothing torch.load would run beyond the allowed */
    C2S_VERDICT_UNSAFE,     /* a dangerous or unknown global, or a finding */
    C2S_VERDICT_UNREADABLE, /* not a checkpoint we can read, and nothing unsafe seen */
    C2S_VERDICT_CORRUPT     /* damaged (report.damage, or an error of rule
                               C2S_RULE_CORRUPT), and nothing unsafe seen */
} c2s_verdict;

/* "safe", "unsafe", "unreadable", "corrupt" ("?" for anything else). */
const char *c2s_verdict_name(c2s_verdict v);

/* How the safety policy judges a global (module.name) a file names:
 *   ALLOWED    exactly the globals the converter interprets (tensor rebuild
 *              functions, storage classes, dtypes, OrderedDict, ...);
 *   DATA       plain data real checkpoints carry (numpy scalars, argparse
 *              Namespace, ...), and unknown globals the options accept;
 *   UNKNOWN    anything else: refused unless accepted;
 *   DANGEROUS  runs code, touches files or loads other code: always refused. */
typedef enum c2s_global_class {
    C2S_GLOBAL_ALLOWED,
    C2S_GLOBAL_DATA,
    C2S_GLOBAL_UNKNOWN,
    C2S_GLOBAL_DANGEROUS
} c2s_global_class;

/* "allowed", "data", "unknown", "dangerous" ("?" for anything else). */
const char *c2s_global_class_name(c2s_global_class cls);

/* How the pickle used a global: bits of c2s_global_use.uses. */
#define C2S_USE_REF (1u << 0)    /* named at all (always set) */
#define C2S_USE_REDUCE (1u << 1) /* called by REDUCE */
#define C2S_USE_NEWOBJ (1u << 2) /* instantiated by NEWOBJ or NEWOBJ_EX */
#define C2S_USE_BUILD (1u << 3)  /* an object made from it received BUILD */
#define C2S_USE_INST (1u << 4)   /* instantiated by INST */
#define C2S_USE_OBJ (1u << 5)    /* instantiated by OBJ */
#define C2S_USE_SWEEP \
    (1u << 6) /* found by the sweep (bytes the pickle machine did not
                                     reach: after an error, after STOP, a pickle no loader
                                     runs); how it is used is unknown */

/* One global a file names, as judged. */
typedef struct c2s_global_use {
    char *module, *name; /* module after Python 2 names are mapped to Python 3 */
    c2s_global_class cls;
    unsigned uses;   /* C2S_USE_* bits */
    char *pickle;    /* "archive/data.pkl", or "file" for a non-zip file */
    uint64_t offset; /* of the first opcode naming it: from the start of the
                               pickle, or of the file for a non-zip file */
} c2s_global_use;

/* Structural problems ("data.pkl has 12 bytes after its STOP opcode"): one
 * line each; any of them makes the file unsafe. */
typedef struct c2s_findings {
    char **items;
    size_t n;
    size_t cap; /* the library's: slots allocated */
} c2s_findings;

typedef struct c2s_report {
    c2s_verdict verdict;
    const char *format; /* "zip", "TensorFlow bundle" or "not a zip (legacy
                               load path)" */
    c2s_global_use *globals;
    size_t nglobals;
    c2s_findings findings; /* structural tricks: any makes the file unsafe */
    c2s_findings damage;   /* damage (CRC-32 mismatches, ...): corrupt unless unsafe */
    c2s_error error;       /* why the file could not be read; error.msg "" if it could */
} c2s_report;

/*
 * Judge path without converting it: every pickle torch.load would run is
 * interpreted (for a zip, data.pkl; for anything else, the pickles at the
 * start of the file, as torch's legacy path reads them), every global is
 * classified, the zip structure is checked and every entry's CRC-32 is
 * verified (a TensorFlow bundle: its index is checked, and every tensor's
 * CRC-32C; a mismatch is a finding).  Returns C2S_OK, C2S_ERR_REFUSED or C2S_ERR_INPUT according to
 * the verdict; rep is filled in every case and must be freed.  opts may be
 * NULL.
 */
c2s_status c2s_scan(const char *path, const c2s_open_options *opts, c2s_report *rep);

/* The same for a regular file the caller has open on fd (a spooled pipe,
 * a file opened with its own flags): fd is duplicated, so it stays open
 * and the caller's; it is read with pread only (its position is left
 * alone).  name is used in messages only (NULL: "<descriptor>"); no other
 * file is opened, so a TensorFlow bundle, whose data shards are other
 * files, is unreadable this way. */
c2s_status c2s_scan_fd(int fd, const char *name, const c2s_open_options *opts, c2s_report *rep);

void c2s_report_free(c2s_report *rep);

/* Names of the uses in bits, comma-separated ("REDUCE,BUILD"), or
 * "referenced" when the global was only named. */
const char *c2s_uses_text(unsigned uses, char *buf, size_t cap);

/* ---- tensors ------------------------------------------------------------------ */

/* One tensor of a checkpoint or of a safetensors file.  The pointers stay
 * valid until the checkpoint or file is closed.  For a checkpoint, nbytes
 * is the size in its own dtype (what c2s_write writes unless asked to
 * convert it), and an unsupported tensor has only its name and why (ndim
 * 0, shape NULL, nbytes 0).  A dequantized tensor (C2S_QUANTIZED_DEQUANTIZE)
 * is F32 here; written raw, its integers' type (I8, U8, I32) is. */
typedef struct c2s_tensor_info {
    const char *name; /* as written to safetensors */
    c2s_dtype dtype;
    size_t ndim;
    const uint64_t *shape; /* ndim entries */
    uint64_t nbytes;       /* bytes in the output */
    int supported;         /* 0: safetensors cannot hold it */
    const char *why;       /* when unsupported: what it is ("complex128") */
} c2s_tensor_info;

/* ---- converting ------------------------------------------------------------ */

typedef struct c2s_checkpoint c2s_checkpoint;

/* Open and judge path.  An unsafe file fails with C2S_ERR_REFUSED and a
 * message listing what makes it unsafe.  opts may be NULL. */
c2s_status c2s_open(const char *path, const c2s_open_options *opts, c2s_checkpoint **out,
                    c2s_error *err);

/* The same for a regular file open on fd, as c2s_scan_fd takes it (fd is
 * duplicated, read with pread only, and stays the caller's; name only for
 * messages; no TensorFlow bundle). */
c2s_status c2s_open_fd(int fd, const char *name, const c2s_open_options *opts, c2s_checkpoint **out,
                       c2s_error *err);

/* The tensors found, in the order of the file.  An i out of range gives an
 * info whose name is NULL. */
size_t c2s_tensor_count(const c2s_checkpoint *ck);
c2s_tensor_info c2s_tensor_at(const c2s_checkpoint *ck, size_t i);

/* The key path used as root ("" for the top level). */
const char *c2s_root(const c2s_checkpoint *ck);

/* Storage records the tensors use. */
size_t c2s_storage_count(const c2s_checkpoint *ck);

/* What the tensor map left out ("left out: optimizer_states (24 tensors)"),
 * one line each; NULL for i out of range. */
size_t c2s_note_count(const c2s_checkpoint *ck);
const char *c2s_note_at(const c2s_checkpoint *ck, size_t i);

/* 1 when storages are big-endian in the archive (they are swapped on output). */
int c2s_big_endian(const c2s_checkpoint *ck);

/* Progress of one phase of c2s_write: done of total bytes, called from
 * the thread that called c2s_write after each block (often: the callee
 * decides how often to draw). */
typedef void (*c2s_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* An extra __metadata__ entry. */
typedef struct c2s_kv {
    const char *key, *value;
} c2s_kv;

/* A prefix rewrite of tensor names (c2s_write_options.rename). */
typedef struct c2s_rename {
    const char *from, *to;
} c2s_rename;

/* Direct I/O for the output file (the sources' src/engine/outfile.h explains). */
typedef enum c2s_direct_io {
    C2S_DIRECT_AUTO,   /* through the page cache when the whole file fits what the kernel
                           keeps dirty without writing back (outfile_writeback_room, shared
                           by `jobs`), else around it */
    C2S_DIRECT_ALWAYS, /* around the cache from the first aligned block */
    C2S_DIRECT_NEVER   /* always through the cache */
} c2s_direct_io;

typedef struct c2s_write_options {
    int force;                           /* replace an existing output */
    int skip_unsupported;                /* drop tensors safetensors cannot hold */
    const volatile sig_atomic_t *cancel; /* checked between blocks, on the thread that
                                            calls c2s_write; may be NULL */
    c2s_progress_fn progress;            /* may be NULL; done/total in output bytes */
    void *progress_ctx;                  /* passed to progress and to verify_progress */
    size_t buffer_size;                  /* memory unit, 0: default 8 MiB: 32 slots of
                               buffer_size / 8 (4 of them the output ring)
                               and an output buffer of buffer_size / 8
                               (see src/engine/ring.h) */

    /* Which tensors: a name is kept when it matches some include glob (or
     * there are none) and no exclude glob (fnmatch(3), no flags: '*' also
     * matches '.').  The globs match the name written, after the renames
     * below.  Dropping every tensor is an error (C2S_RULE_ALL_FILTERED). */
    const char *const *include;
    size_t ninclude;
    const char *const *exclude;
    size_t nexclude;

    /* Renames: the first rename, in order, whose from is a prefix of a
     * tensor's name (plain text, no glob; "" is a prefix of every name)
     * replaces that prefix with its to; the others are not tried, so renames
     * never chain.  A tensor's name is the one the checkpoint gives it (after
     * the open options' key).  Two written tensors renamed to one name, or a
     * tensor renamed to "" or "__metadata__", fail with C2S_RULE_RENAME
     * naming them. */
    const c2s_rename *rename;
    size_t nrename;

    /* convert_dtype: floating tensors (F64 F32 F16 BF16) are converted to
     * dtype, bit-exact with PyTorch's .to() (dtconv.h); others are kept. */
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
    /* The verify pass's progress, a phase of its own after progress has
     * reached total: done/total in bytes of tensor data compared (total:
     * the output's tensor data).  May be NULL; called with progress_ctx. */
    c2s_progress_fn verify_progress;

    /* With out_path NULL: stream the file to this descriptor (e.g. 1 for
     * stdout); no temporary file, so nothing can be taken back on failure.
     * Negative: no descriptor (see c2s_write). */
    int out_fd;

    /* Compute the SHA-256 of the output (result.sha256). */
    int sha256;

    /* Direct I/O (no effect on a stream), and how many conversions run at
     * once (0 counts as 1): AUTO shares the page cache's room among them. */
    c2s_direct_io direct_io;
    unsigned jobs;

    /* Write only some tensors: NULL writes every one; otherwise an array of
     * c2s_tensor_count(ck) bytes, and tensor i (as c2s_tensor_at counts)
     * is written only when only[i] is non-zero, and only if the rules above
     * keep it too.  A tensor left out here is in no count of
     * c2s_write_result, and an unsupported one does not fail the write.
     * Leaving every tensor out fails with C2S_ERR_USAGE ("no tensor chosen
     * to write").  For writing one shard of a c2s_shard_plan. */
    const unsigned char *only;
} c2s_write_options;

typedef struct c2s_write_result {
    size_t tensors;        /* written */
    size_t skipped;        /* unsupported tensors dropped */
    size_t filtered;       /* dropped by include/exclude */
    size_t converted;      /* tensors whose dtype --dtype changed */
    uint64_t data_bytes;   /* tensor bytes written */
    uint64_t file_bytes;   /* size of the output file */
    uint64_t direct_bytes; /* of them, written around the page cache */
    char sha256[65];       /* hex, when requested; "" otherwise */
} c2s_write_result;

/* Whether the include/exclude globs of o keep a tensor written as name
 * (the rule above; o NULL keeps everything). */
int c2s_selected(const c2s_write_options *o, const char *name);

/* Whether glob matches name, as include/exclude globs match (fnmatch(3), no
 * flags). */
int c2s_glob_match(const char *glob, const char *name);

/* The name a tensor called name is written under with o's renames (o NULL:
 * name), NUL-terminated into buf; returns its length.  As snprintf: a
 * length >= cap means buf was too small (it then holds as much as fits). */
size_t c2s_output_name(const c2s_write_options *o, const char *name, char *buf, size_t cap);

/* The index of the rename of o that applies to name; o->nrename when none
 * does (o NULL: 0). */
size_t c2s_rename_index(const c2s_write_options *o, const char *name);

/* What c2s_write with options o writes for the tensor t (of a checkpoint or
 * a safetensors file): *out is t with its output name (into buf, as
 * c2s_output_name) and, for a floating tensor o converts, the output dtype
 * and byte size.  Returns 1 when the tensor is written (supported and kept
 * by the globs), 0 when it is not. */
int c2s_output_tensor(const c2s_write_options *o, const c2s_tensor_info *t, char *buf, size_t cap,
                      c2s_tensor_info *out);

/* The checks c2s_write makes on the names of what it would write, without
 * writing: fails with C2S_RULE_ALL_FILTERED when o keeps no tensor, and
 * with C2S_RULE_RENAME when the renames give two written tensors one name
 * ("tensors 'a.x' and 'b.x' would both be written as 'x'") or a tensor an
 * empty or reserved name.  o may be NULL. */
c2s_status c2s_check_names(const c2s_checkpoint *ck, const c2s_write_options *o, c2s_error *err);

/*
 * Write the safetensors file to out_path (or, out_path NULL, to
 * opts->out_fd).  Refuses (C2S_ERR_INPUT) when out_path is the input file,
 * when it exists and force is 0, and when an unsupported tensor is present
 * and skip_unsupported is 0.  Storage bytes are checked against the
 * archive's CRC-32 before the file is put in place.  opts may be NULL;
 * then, as with a negative opts->out_fd, out_path must not be NULL: with
 * neither a path nor a descriptor c2s_write fails with C2S_ERR_USAGE and
 * "no output: neither a path nor a descriptor", before anything is read
 * or created.
 */
c2s_status c2s_write(c2s_checkpoint *ck, const char *out_path, const c2s_write_options *opts,
                     c2s_write_result *res, c2s_error *err);

/* NULL is a no-op. */
void c2s_close(c2s_checkpoint *ck);

/* ---- shards -------------------------------------------------------------------- */

/* c2s_shard_plan.shard_of for a tensor that is not written. */
#define C2S_NO_SHARD SIZE_MAX

/*
 * Which tensors go to which file when an output is split into files of at
 * most max_bytes of tensor data, by the rule of Hugging Face's
 * split_torch_state_dict_into_shards (huggingface_hub; what transformers'
 * save_pretrained(max_shard_size=...) uses): the tensors c2s_write would
 * write with opts are taken in the order of the file (c2s_tensor_at), each
 * counted with its size in the output (after dtype conversion); a tensor
 * larger than max_bytes gets a shard of its own, appended to the list of
 * shards at once; any other tensor joins the open shard, which is first
 * appended to the list and replaced by an empty one when the tensor would
 * take it above max_bytes; the open shard is appended last.  Shards are
 * numbered in the order they were appended, so a large tensor's shard can
 * come before the shard of a tensor written before it.  A tensor is never
 * split, and every tensor counts its own bytes (each is a separate copy in
 * safetensors, even when the checkpoint shares one storage).
 *
 * The same errors as c2s_write for unsupported tensors and for filters
 * that keep nothing; C2S_ERR_USAGE when max_bytes is 0.  opts->only is
 * ignored.  plan is filled on success and must then be freed.
 */
typedef struct c2s_shard_plan {
    size_t nshards;        /* at least 1 */
    size_t *shard_of;      /* per tensor (c2s_tensor_count): its shard, 0-based,
                              or C2S_NO_SHARD when it is not written */
    uint64_t *shard_bytes; /* per shard: tensor data bytes (no header) */
    uint64_t total_bytes;  /* the sum of shard_bytes: Hugging Face's
                              metadata.total_size */
    size_t tensors;        /* written, in all shards */
    size_t filtered;       /* dropped by include/exclude */
    size_t skipped;        /* unsupported tensors dropped */
} c2s_shard_plan;

c2s_status c2s_plan_shards(const c2s_checkpoint *ck, const c2s_write_options *opts,
                           uint64_t max_bytes, c2s_shard_plan *plan, c2s_error *err);

/* NULL, or a plan never filled (zeroed), is a no-op. */
void c2s_shard_plan_free(c2s_shard_plan *plan);

/* ---- safetensors files --------------------------------------------------------- */

/*
 * A safetensors file's header, read and validated with the rules of the
 * reference reader (huggingface/safetensors): JSON syntax, dtypes, shapes,
 * data offsets that tile the data exactly, unique names.  Tensor data is
 * never read.  Every failure is C2S_ERR_INPUT with a message beginning
 * "safetensors: ".
 */
typedef struct c2s_safetensors c2s_safetensors;

/* Read the header of the regular file open on fd (with pread: the file
 * position is left alone; fd stays open and is not needed afterwards). */
c2s_status c2s_safetensors_open_fd(int fd, c2s_safetensors **out, c2s_error *err);
/* The same for a path. */
c2s_status c2s_safetensors_open(const char *path, c2s_safetensors **out, c2s_error *err);

/* The tensors in header order.  nbytes is the tensor's data in the file.
 * A dtype with no c2s_dtype (the sub-byte F4, F6_E2M3, F6_E3M2) gives
 * supported 0 and its name in why.  i out of range: name NULL. */
size_t c2s_safetensors_count(const c2s_safetensors *st);
c2s_tensor_info c2s_safetensors_tensor_at(const c2s_safetensors *st, size_t i);

/* The __metadata__ entries in header order; *key and *value are NULL for i
 * out of range. */
size_t c2s_safetensors_metadata_count(const c2s_safetensors *st);
void c2s_safetensors_metadata_at(const c2s_safetensors *st, size_t i, const char **key,
                                 const char **value);

/* Bytes of tensor data (the file's size less the header). */
uint64_t c2s_safetensors_data_bytes(const c2s_safetensors *st);

/* NULL is a no-op. */
void c2s_safetensors_close(c2s_safetensors *st);

/* c2s_check_names for the tensors of a safetensors file listed under o's
 * renames and globs (every tensor counts, whatever its dtype): the same
 * rules, the same messages. */
c2s_status c2s_safetensors_check_names(const c2s_safetensors *st, const c2s_write_options *o,
                                       c2s_error *err);

/* ---- small files ------------------------------------------------------------------ */

/* Lower-case hex SHA-256 of data[0..len), NUL-terminated. */
void c2s_sha256_hex(const void *data, size_t len, char out[65]);

/* Write data[0..len) to path the way c2s_write writes its output: into an
 * unnamed (else a hidden temporary) file beside it, put in place at the
 * end, gone on any failure.  Without force an existing path is an error
 * and is never replaced, even if it appears meanwhile. */
c2s_status c2s_write_file_atomic(const char *path, const void *data, size_t len, int force,
                                 c2s_error *err);

/* Copy every byte of src_fd, read(2) from its position to its end, to
 * path the same way, with the permission bits mode & 0777 (not minus the
 * umask).  *cancel (may be NULL) is checked between blocks of 1 MiB: set,
 * the copy fails ("interrupted") and nothing is left. */
c2s_status c2s_copy_file_atomic(int src_fd, const char *path, unsigned mode, int force,
                                const volatile sig_atomic_t *cancel, c2s_error *err);

#ifdef __cplusplus
}
#endif

#endif /* C2S_H */
