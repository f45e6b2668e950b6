/*
 * sstable.h - reading a TensorFlow (LevelDB-style) sorted string table.
 *
 * A TensorFlow bundle's .index file is a table as tsl/lib/io writes it:
 *
 *   data block 0 | ... | data block N-1 | metaindex block | index block | footer
 *
 * Every block is followed by a 5-byte trailer: a compression byte (0 none,
 * 1 Snappy) and the masked CRC-32C of the stored block plus that byte.  A
 * block holds prefix-compressed entries (varint32 shared, non_shared,
 * value_len, then the key bytes after the shared prefix, then the value),
 * then an array of uint32 restart offsets (entries stored with shared = 0)
 * and their count.  The index block maps, for each data block in order, a
 * key >= every key of that block and < every key of the next one to the
 * block's handle (varint64 offset, varint64 size).  The 48-byte footer holds
 * the metaindex and index handles (padded to 40 bytes) and the magic
 * 0xdb4775248b80fb57, little-endian.
 *
 * sst_walk checks all of it strictly (bounds, checksums, restart arrays,
 * ordering, blocks in file order without overlap) and hands each entry, in
 * key order, to a visitor.  Memory: the file (given in memory) plus one
 * decompressed block, at most SST_MAX_EXPANSION times its stored size.
 * Messages name offsets and say what is wrong, not which file: the caller
 * prefixes the file name.
 */
#ifndef C2S_SSTABLE_H
#define C2S_SSTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"

#define SST_FOOTER_SIZE 48
#define SST_TRAILER_SIZE 5
#define SST_MAGIC 0xdb4775248b80fb57ull
/* A Snappy stream cannot expand more than 22 times (a 3-byte copy makes 64
 * bytes); a block claiming more is corrupt. */
#define SST_MAX_EXPANSION 32

/* Called for each entry in key order; key and value point into buffers that
 * live only for the call.  A non-OK status stops the walk and is returned. */
typedef c2s_status (*sst_visit_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                                   size_t vlen, c2s_error *err);

/* sst_walk flag: do not compare block checksums.  Only for fuzzing, where
 * a mutated block would otherwise never get past its CRC. */
#define SST_NO_BLOCK_CRC 1u

/* Walk the table file[0..size).  Fails (C2S_ERR_INPUT) on the first problem.
 * flags: 0, or SST_NO_BLOCK_CRC. */
c2s_status sst_walk(const uint8_t *file, size_t size, unsigned flags, sst_visit_fn visit, void *ctx,
                    c2s_error *err);

/* Whether file[0..size) ends with the table magic (a quick sniff). */
int sst_has_magic(const uint8_t *file, size_t size);

/* Varint decoding shared with the protobuf reader: *v from p[*pos..n),
 * at most 10 bytes and no bits past 64.  Returns 0 and advances *pos, or
 * -1 (truncated) or -2 (too long or overflowing). */
int sst_varint64(const uint8_t *p, size_t n, size_t *pos, uint64_t *v);

#endif /* C2S_SSTABLE_H */
