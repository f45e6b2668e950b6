/*
 * tfproto.h - the two protobuf messages of a tensor bundle's index, decoded
 * by hand.
 *
 * tensorflow/core/protobuf/tensor_bundle.proto:
 *   BundleHeaderProto { int32 num_shards = 1; Endianness endianness = 2;
 *                       VersionDef version = 3; }
 *   BundleEntryProto  { DataType dtype = 1; TensorShapeProto shape = 2;
 *                       int32 shard_id = 3; int64 offset = 4; int64 size = 5;
 *                       fixed32 crc32c = 6; repeated TensorSliceProto slices = 7; }
 * with VersionDef { int32 producer = 1; int32 min_consumer = 2;
 * repeated int32 bad_consumers = 3; }, TensorShapeProto { repeated Dim dim = 2
 * { int64 size = 1; string name = 2; }; bool unknown_rank = 3; } and
 * TensorSliceProto { repeated Extent extent = 1 { int64 start = 1;
 * int64 length = 2; } }.  Fields equal to zero are absent (proto3).
 *
 * The decoder is strict: each known field must have its declared wire type,
 * lengths stay inside the enclosing message, varints are at most 10 bytes,
 * int32 fields hold int32 values, groups (wire types 3, 4) and field number
 * 0 are errors; unknown fields of the four valid wire types are skipped.
 * Repeated fields and embedded messages given twice merge, as in protobuf.
 */
#ifndef C2S_TFPROTO_H
#define C2S_TFPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"

/* Most dimensions a tensor may have here (TensorFlow allows 254). */
#define TFP_MAX_NDIM 64

typedef struct tfp_header {
    int32_t num_shards;
    int32_t endianness; /* 0 little, 1 big */
    int32_t producer, min_consumer;
    size_t nbad_consumers;
    int32_t bad_consumers[8]; /* the first few */
} tfp_header;

typedef struct tfp_entry {
    int32_t dtype;
    int unknown_rank;
    size_t ndim;
    int64_t dims[TFP_MAX_NDIM];
    int32_t shard_id;
    int64_t offset, size;
    uint32_t crc32c;
    size_t nslices;
} tfp_entry;

/* Decode p[0..n) into *h / *e (zeroed first).  Messages say which field is
 * wrong ("dtype: ..."); the caller names the entry. */
c2s_status tfp_header_decode(const uint8_t *p, size_t n, tfp_header *h, c2s_error *err);
c2s_status tfp_entry_decode(const uint8_t *p, size_t n, tfp_entry *e, c2s_error *err);

/* TensorFlow 2's object graph (trackable_object_graph.proto), the value of
 * the string tensor _CHECKPOINTABLE_OBJECT_GRAPH: TrackableObjectGraph {
 * repeated TrackableObject nodes = 1 { repeated SerializedTensor
 * attributes = 2 { string name = 1; string full_name = 2;
 * string checkpoint_key = 3; } } }.  fn is called for every attribute, in
 * order, with its checkpoint_key (an index key) and full_name (the
 * variable's name in the program that saved it; may be empty). */
typedef c2s_status (*tfp_attr_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *full,
                                  size_t flen, c2s_error *err);
c2s_status tfp_object_graph_walk(const uint8_t *p, size_t n, tfp_attr_fn fn, void *ctx,
                                 c2s_error *err);

/* Whether p[0..n) starts like a V1 checkpoint's header (SavedTensorSlices:
 * field 1 is a message where a bundle header has an int32). */
int tfp_looks_like_v1(const uint8_t *p, size_t n);

#endif /* C2S_TFPROTO_H */
