/*
 * tfbundle.h - reading TensorFlow checkpoints (tensor bundles) without
 * TensorFlow.
 *
 * A V2 checkpoint (tf.train.Saver since 2016, tf.train.Checkpoint, Keras
 * SavedModel variables/) with prefix P is P.index, a sorted string table
 * (src/tf/sstable.h), plus the shards P.data-00000-of-0000N.  The table's
 * entry under the empty key is a BundleHeaderProto (number of shards, byte
 * order, version); every other entry, keyed by the tensor's name, is a
 * BundleEntryProto (src/tf/tfproto.h): dtype, shape, and where the bytes
 * are: shard, offset, size and the masked CRC-32C of those bytes.  The
 * bytes of a tensor are its elements, row-major, in the bundle's byte
 * order (only little-endian bundles are read).
 *
 * tfb_open parses and checks the whole index (memory: the index file, one
 * decompressed block and the entries; names at most TFB_NAME_FACTOR times
 * the index size), opens every shard once, and checks that every entry's
 * bytes lie inside its shard.  Tensors are then read with pread (any
 * number of readers at once) and checked with a running CRC (tfb_crc_*).
 * Errors are one line naming the file and the problem; everything wrong
 * with the input is C2S_ERR_INPUT.
 *
 * Partitioned variables (entries with slices) and dtypes safetensors cannot
 * hold are listed, marked unsupported with a reason; the caller decides.
 */
#ifndef C2S_TFBUNDLE_H
#define C2S_TFBUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "tf/tfproto.h"
#include "torch/dtype.h"
#include "util/c2s_error.h"

#define TFB_MAX_INDEX (1ull << 30) /* larger .index files are refused */
#define TFB_MAX_SHARDS 10000       /* more shards are refused (one fd each) */
#define TFB_NAME_FACTOR 64         /* names total <= this * index size + 1 MiB */
#define TFB_TF2_SUFFIX "/.ATTRIBUTES/VARIABLE_VALUE"
#define TFB_GRAPH_KEY "_CHECKPOINTABLE_OBJECT_GRAPH"
#define TFB_MAX_GRAPH (64u << 20) /* larger object graphs are refused */
#define TFB_DT_STRING 7
#define TFB_DT_VARIANT 21

typedef struct tfb_entry {
    char *name;       /* the index key: a tensor name or TF2 object path */
    int32_t tf_dtype; /* TensorFlow DataType (types.proto) */
    int supported;    /* 1: dtype is set and the bytes are plain elements */
    c2s_dtype dtype;
    const char *why; /* when !supported: "string", "complex128", ... (static) */
    size_t ndim;
    int64_t *shape; /* ndim sizes, each >= 0 */
    uint64_t numel; /* product of shape (1 for a scalar) */
    uint32_t shard;
    uint64_t offset, size;
    uint32_t crc32c; /* masked CRC-32C of the bytes, as stored */
    size_t nslices;  /* > 0: a partitioned variable (unsupported), no bytes here */
    char *full_name; /* TF2: the variable's name from the object graph
                          (tfb_load_full_names), or NULL */
} tfb_entry;

/* The bytes of one slice of a partitioned variable (keys that start with a
 * NUL byte): not tensors, only checked to lie inside their shard. */
typedef struct tfb_part {
    uint32_t shard;
    uint64_t offset, size;
} tfb_part;

typedef struct tfb_index {
    tfp_header header;
    tfb_entry *entries; /* in key order */
    size_t nentries;
    tfb_part *parts;
    size_t nparts;
    size_t name_bytes, name_limit; /* internal: bound on the names' memory */
    size_t cap, part_cap;
} tfb_index;

typedef struct tfb_bundle {
    char *prefix;
    char *index_path; /* prefix + ".index", for messages */
    tfb_index ix;
    int *fds; /* ix.header.num_shards shard files */
    uint64_t *shard_sizes;
} tfb_bundle;

/* Parse and check an index held in memory (what tfb_open does before it
 * opens the shards).  Messages do not name the file.  *ix is zeroed first;
 * free it with tfb_index_free even on failure.  flags: 0, or
 * SST_NO_BLOCK_CRC (fuzzing only: block checksums are not compared). */
c2s_status tfb_index_parse(const uint8_t *data, size_t size, unsigned flags, tfb_index *ix,
                           c2s_error *err);
void tfb_index_free(tfb_index *ix);

/* Open the bundle whose index is already open as index_fd (not closed
 * here) and whose shards are prefix.data-%05d-of-%05d.  On failure *b is
 * left empty (tfb_close is still safe). */
c2s_status tfb_open(int index_fd, const char *prefix, tfb_bundle *b, c2s_error *err);
void tfb_close(tfb_bundle *b);

/* Path of shard i of n ("P.data-00000-of-00001"); caller frees. */
char *tfb_shard_path(const char *prefix, uint32_t i, uint32_t n);

/* Read len bytes of e's tensor from byte off of it (off + len <= e->size). */
c2s_status tfb_read(const tfb_bundle *b, const tfb_entry *e, uint64_t off, void *buf, size_t len,
                    c2s_error *err);

/* A running CRC over a tensor's bytes, fed in order. */
typedef struct tfb_crc {
    uint32_t crc;
    uint64_t nbytes;
} tfb_crc;

void tfb_crc_start(tfb_crc *c);
void tfb_crc_add(tfb_crc *c, const void *p, size_t n);
/* Whether all e->size bytes went through c and match e->crc32c. */
c2s_status tfb_crc_check(const tfb_bundle *b, const tfb_entry *e, const tfb_crc *c, c2s_error *err);
/* Read e's bytes in chunks and check them (tfb_read + tfb_crc_*).  String
 * tensors are checked the way TensorFlow sums them (lengths as integers,
 * then the lengths' own checksum, then the strings); variant tensors are
 * refused. */
c2s_status tfb_verify(const tfb_bundle *b, const tfb_entry *e, c2s_error *err);

/* What the user named: "P.index" or "P" (when P.index exists) or a shard
 * "P.data-00000-of-00001" (when P.index exists).  *prefix_out gets P (free
 * it).  A lone table file that is no .index (a V1 checkpoint) and a path
 * with no index are errors. */
c2s_status tfb_resolve(const char *arg, char **prefix_out, c2s_error *err);

/* Length of key without a trailing TF2 "/.ATTRIBUTES/VARIABLE_VALUE"
 * ("model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE" -> "model/dense/kernel"). */
size_t tfb_tf2_name_len(const char *key);

/* TF2 checkpoints: read the object graph (the scalar string tensor
 * TFB_GRAPH_KEY, checked with its CRC, at most TFB_MAX_GRAPH bytes) and set
 * each entry's full_name from its SerializedTensor (checkpoint_key ->
 * full_name).  Full names need not be unique (two Keras metrics may both
 * be "total"); keys the graph names but the index lacks are errors.  A
 * bundle without the graph (TF1 tf.train.Saver) is left as it is; *found
 * says whether there was one (may be NULL). */
c2s_status tfb_load_full_names(tfb_bundle *b, int *found, c2s_error *err);

/* The entry whose key is name (binary search), or NULL. */
tfb_entry *tfb_find(const tfb_bundle *b, const char *name);

/* TensorFlow's name of a DataType ("float", "string", "DT_31" beyond the
 * table) for messages. */
const char *tfb_dtype_name(int32_t tf_dtype);

#endif /* C2S_TFBUNDLE_H */
