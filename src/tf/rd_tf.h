/*
 * rd_tf.h - TensorFlow checkpoints (tensor bundles) behind the reader
 * interface (reader.h), read with src/tf/tfbundle.h.
 *
 * Recognised by content: the input's last 8 bytes are the table magic
 * 0xdb4775248b80fb57 (read with pread from the input's descriptor).  The
 * input is the bundle's index, PREFIX.index (or the prefix alone, which
 * rd_input_open resolves); the shards PREFIX.data-0000K-of-0000N are
 * opened once each by tfb_open.  A bundle holds no pickle: the judgement
 * is its structure (checked at open: an index that does not parse, a
 * shard that is missing or short, make it unreadable) and, in the scan's
 * integrity pass, every tensor's CRC-32C (a mismatch is a finding, so the
 * verdict is unsafe).
 *
 * The tensor map is the reader's own (rd_ops.map): every entry of a dtype
 * safetensors holds is one contiguous tensor over a storage of its own
 * (keyed by the entry's index key), named by that key as it is; with
 * c2s_open_options.tf_names, by the TF2 object graph's variable names
 * (tfb_load_full_names; see c2s.h).  Strings, variants, complex128,
 * quantized and other unsupported dtypes, partitioned variables and the
 * object graph entry are left out, one note each ("left out: NAME (WHY)").
 * A key path (c2s_open_options.key) means nothing here and is refused.
 *
 * Storage streams read the shard with pread and keep a running CRC-32C
 * while the bytes are read in order; rd_stream_verify reads the rest and
 * compares the masked value with the index's (a mismatch is
 * C2S_ERR_REFUSED, like a zip entry's CRC-32).  No stream offers a file
 * range: the engine's copy fast path checks CRC-32, not CRC-32C.
 */
#ifndef RD_TF_H
#define RD_TF_H

#include "reader/reader.h"

#define RD_TF_FORMAT "TensorFlow bundle"

extern const rd_ops rd_tf_ops;

#endif /* RD_TF_H */
