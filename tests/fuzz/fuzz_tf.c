/*
 * fuzz_tf.c - the TensorFlow bundle index reader on arbitrary bytes.
 *
 * Each input is parsed twice: as it is, and without block checksums
 * (SST_NO_BLOCK_CRC), so that mutations inside blocks reach the block and
 * protobuf decoders instead of stopping at the CRC.
 *
 * Property: for any input, tfb_index_parse() never crashes, leaks or hangs,
 * and returns C2S_OK or C2S_ERR_INPUT with a non-empty message.  When it
 * accepts, every promise the converter relies on holds: the header has
 * 1..TFB_MAX_SHARDS little-endian shards; every entry has a NUL-free name,
 * a shard below num_shards, offset + size without overflow, at most
 * TFP_MAX_NDIM sizes >= 0 whose product is numel, and, for a supported
 * dtype outside slices, size == numel * element size; names are unique and
 * in strictly increasing byte order; slice records lie in valid shards.
 * The same bytes also go through the TF2 object-graph decoder
 * (tfp_object_graph_walk), which must hand out only slices of its input.
 */
#include <string.h>

#include "fuzz.h"
#include "tf/sstable.h"
#include "tf/tfbundle.h"

static void check_entry(const tfb_index *ix, const tfb_entry *e)
{
    FUZZ_CHECK(e->name != NULL && e->name[0] != '\0', "entry without a name");
    FUZZ_CHECK(e->shard < (uint32_t)ix->header.num_shards, "'%s': shard %u", e->name, e->shard);
    FUZZ_CHECK(e->offset <= INT64_MAX && e->size <= INT64_MAX - e->offset, "'%s': extent", e->name);
    FUZZ_CHECK(e->ndim <= TFP_MAX_NDIM, "'%s': ndim %zu", e->name, e->ndim);
    unsigned __int128 numel = 1;
    for (size_t d = 0; d < e->ndim; d++) {
        FUZZ_CHECK(e->shape[d] >= 0, "'%s': negative size", e->name);
        numel *= (uint64_t)e->shape[d];
    }
    FUZZ_CHECK(numel == e->numel, "'%s': numel %llu", e->name, (unsigned long long)e->numel);
    if (e->supported) {
        FUZZ_CHECK(e->nslices == 0, "'%s': sliced but supported", e->name);
        FUZZ_CHECK(numel * c2s_dtype_size(e->dtype) == e->size, "'%s': size %llu", e->name,
                   (unsigned long long)e->size);
    } else {
        FUZZ_CHECK(e->why != NULL && e->why[0] != '\0', "'%s': unsupported, no reason", e->name);
    }
}

typedef struct span {
    const uint8_t *data;
    size_t size;
} span;

static c2s_status check_attr(void *ctx, const uint8_t *key, size_t klen, const uint8_t *full,
                             size_t flen, c2s_error *err)
{
    const span *in = ctx;
    (void)err;
    FUZZ_CHECK(key >= in->data && klen <= in->size - (size_t)(key - in->data), "key outside");
    if (flen > 0)
        FUZZ_CHECK(full >= in->data && flen <= in->size - (size_t)(full - in->data),
                   "full name outside");
    return C2S_OK;
}

static void fuzz_graph(const uint8_t *data, size_t size)
{
    span in = {data, size};
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = tfp_object_graph_walk(data, size, check_attr, &in, &err);
    FUZZ_CHECK(st == C2S_OK || (st == C2S_ERR_INPUT && err.msg[0] != '\0'),
               "object graph: status %d", (int)st);
}

static void fuzz_index(const uint8_t *data, size_t size, unsigned flags)
{
    tfb_index ix;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = tfb_index_parse(data, size, flags, &ix, &err);
    if (st != C2S_OK) {
        FUZZ_CHECK(st == C2S_ERR_INPUT, "tfb_index_parse returned status %d", (int)st);
        FUZZ_CHECK(err.msg[0] != '\0', "tfb_index_parse failed with an empty message");
        tfb_index_free(&ix);
        return;
    }
    FUZZ_CHECK(ix.header.num_shards >= 1 && ix.header.num_shards <= TFB_MAX_SHARDS, "num_shards %d",
               ix.header.num_shards);
    FUZZ_CHECK(ix.header.endianness == 0, "endianness %d", ix.header.endianness);
    for (size_t i = 0; i < ix.nentries; i++) {
        check_entry(&ix, &ix.entries[i]);
        if (i > 0)
            FUZZ_CHECK(strcmp(ix.entries[i - 1].name, ix.entries[i].name) < 0,
                       "entries %zu and %zu out of order", i - 1, i);
    }
    for (size_t i = 0; i < ix.nparts; i++)
        FUZZ_CHECK(ix.parts[i].shard < (uint32_t)ix.header.num_shards, "slice record %zu", i);
    tfb_index_free(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_graph(data, size);
    fuzz_index(data, size, 0);
    fuzz_index(data, size, SST_NO_BLOCK_CRC);
    return 0;
}
