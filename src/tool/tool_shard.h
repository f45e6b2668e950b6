/*
 * tool_shard.h - --max-shard-size: one output split into Hugging Face
 * shards plus their index.
 *
 * Sizes (tool_parse_shard_size) are read as transformers reads
 * save_pretrained's max_shard_size: a number of bytes, or an integer with
 * a unit, in any case: KB MB GB (powers of 1000) or KiB MiB GiB (powers
 * of 1024).  "5GB" is 5,000,000,000 bytes, "5GiB" 5,368,709,120.
 * transformers reads a lower-case final b ("5Gb", "500mb") as bits, an
 * eighth of that; that spelling is refused here rather than guessed.
 *
 * The tensors are dealt out by c2s_plan_shards (Hugging Face's rule, in
 * include/c2s.h).  When they all fit in one shard, the usual single file
 * is written, with no index, as save_pretrained does.  Otherwise, for an
 * output STEM.safetensors (STEM: the whole name when it does not end in
 * .safetensors) the shards are STEM-00001-of-0000N.safetensors ... (five
 * digits at least, numbered from 1), each a complete safetensors file with
 * the same __metadata__, and the index is STEM.safetensors.index.json:
 *
 *   {
 *     "metadata": {
 *       "total_size": 3728
 *     },
 *     "weight_map": {
 *       "classifier.bias": "model-00003-of-00003.safetensors",
 *       ...
 *     }
 *   }
 *
 * exactly as transformers writes it (json.dumps(index, indent=2,
 * sort_keys=True) and a newline); total_size is the sum of the tensors'
 * data bytes, headers not counted.
 *
 * The set appears as a whole as far as files allow: each shard is written
 * by c2s_write (complete or absent), the index last, so a loader never
 * sees an index naming a missing shard of this run; if anything fails,
 * the shards already put in place are removed.  Without -f, the run is
 * refused before anything is written if any shard, the index, or the
 * single-file output exists (a loader would take STEM.safetensors before
 * the index); with -f they are replaced, and a single-file output left by
 * an earlier run is removed once the index is in place.
 */
#ifndef TOOL_SHARD_H
#define TOOL_SHARD_H

#include <stdint.h>

#include "c2s.h"
#include "tool_cfg.h"
#include "tool_msgs.h"

/* 1 and *out on success; 0 when s is no size (the rule above). */
int tool_parse_shard_size(const char *s, uint64_t *out);

/* STEM.safetensors.index.json for output; malloc'd, NULL on out of memory. */
char *tool_shard_index_name(const char *output);

/* STEM-0000K-of-0000N.safetensors, k counted from 1; malloc'd. */
char *tool_shard_name(const char *output, size_t k, size_t n);

/* What a sharded write did. */
typedef struct tool_shard_result {
    c2s_write_result w; /* summed over the shards; file_bytes includes the
                           index; sha256 (when asked): of the index */
    size_t nshards;     /* 1: the single file was written */
} tool_shard_result;

/* Write ck (opened from input) for output with the options wo, split at
 * cfg->max_shard_size.  Messages (-v) go to mb. */
c2s_status tool_write_sharded(const tool_config *cfg, c2s_checkpoint *ck, const char *input,
                              const char *output, const c2s_write_options *wo,
                              tool_shard_result *res, tool_msgbuf *mb, c2s_error *err);

#endif /* TOOL_SHARD_H */
