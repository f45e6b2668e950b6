/*
 * tool_rm.h - --rm: remove each input after its successful conversion.
 *
 * The input goes only when its output was written to a file and verified
 * (--rm turns --verify on), in a real run (not --dry-run), and only when
 * it is still the file that was converted: same device, inode, size and
 * modification time as before it was opened; otherwise it is kept and the
 * file fails.  A skipped, refused or failed file keeps its input.  A
 * symbolic link given as INPUT is removed, not the file it points to.
 *
 * A TensorFlow bundle (NAME.index and its NAME.data-* shards) is refused
 * with --rm before anything is written: it is several files, and the
 * data shards are not ours to find and delete.  Hugging Face shard
 * indexes: see tool_hf.h.
 */
#ifndef TOOL_RM_H
#define TOOL_RM_H

#include <sys/stat.h>

#include "tool_batch.h"
#include "tool_cfg.h"
#include "tool_msgs.h"
#include "tool_report.h"

/* With --rm, 1 (o and mb filled: the file failed) when input cannot be
 * removed by --rm; else 0 and *before holds lstat(input) (zeroed when
 * that failed: the input is then never removed). */
int tool_rm_check(const tool_config *cfg, const char *input, struct stat *before, tool_msgbuf *mb,
                  tool_outcome *o);

/* After a successful conversion to a file: remove the input (--rm). */
void tool_rm_input(const tool_config *cfg, const tool_job *job, const struct stat *before,
                   tool_msgbuf *mb, tool_outcome *o);

#endif /* TOOL_RM_H */
