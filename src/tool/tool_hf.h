/*
 * tool_hf.h - Hugging Face shard indexes: NAME.bin.index.json rewritten as
 * NAME'.safetensors.index.json (pytorch_model.bin.index.json becomes
 * model.safetensors.index.json), after the shards are converted.
 *
 * Every NAME.bin.index.json in a directory the run converted files from is
 * considered when its weight_map names one of those files.  It is
 * rewritten, into the directory the shards were written to, when every
 * shard it names has an up-to-date output: converted or skipped in this
 * run, or (for shards outside the run, e.g. another --shard slice) an
 * existing output at least as new as the shard.  Otherwise a note says
 * which shard is missing and nothing is written; the last --shard slice to
 * finish writes the index.
 *
 * The new index is the old JSON with each weight_map value renamed as its
 * shard's output (tool_output_name), the weight_map entries that
 * --include/--exclude drop removed, and metadata.total_size (when present)
 * set to the sum of the shard outputs' data sizes; the rest is kept.  It is
 * written atomically (temporary file, rename), and skipped or refused like
 * any output that exists (-f replaces it).  Not done with --key, which
 * renames tensors, nor with --dry-run.
 *
 * With --rm, a shard outside the run whose input is gone but whose output
 * exists counts as converted (an earlier --rm run removed it), and the old
 * NAME.bin.index.json is removed after the new index is written when none
 * of the shards it names is left.
 */
#ifndef TOOL_HF_H
#define TOOL_HF_H

#include "tool_batch.h"
#include "tool_cfg.h"
#include "tool_msgs.h"
#include "tool_report.h"

/* Receives each index's outcome (o NULL: only messages, in mb). */
typedef void (*tool_hf_report_fn)(void *ctx, const char *input, const char *output,
                                  const tool_outcome *o, tool_msgbuf *mb);

/* results[i] is the outcome of b->jobs[i]. */
void tool_hf_rewrite_indexes(const tool_config *cfg, const tool_batch *b,
                             const tool_outcome *results, tool_hf_report_fn report, void *ctx);

/* 1 when a weight_map value s names a file beside the index: not empty,
 * no '/', not "." or "..". */
int tool_hf_plain_name(const char *s);

/* The whole of a Hugging Face index file at path (at most 64 MiB, more is
 * no index): malloc'd, *len bytes (not NUL-terminated); NULL with *why
 * on failure. */
char *tool_hf_read_index(const char *path, size_t *len, const char **why);

#endif /* TOOL_HF_H */
