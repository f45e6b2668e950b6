/*
 * verify.h - --verify: check the written file against the source.
 *
 * verify_output() re-reads the file just written (before it is put in
 * place): its header must pass the safetensors rules (stread.h) and list
 * exactly the planned tensors, and every tensor's bytes must equal what the
 * source gives when re-derived independently of the copy code: element by
 * element in C order from the storage record, byte-swapped and converted as
 * planned.  Contiguous tensors are compared block by block; the elements
 * of other views come through a fixed line cache (STORED records), or
 * from their span inflated into memory when it is not much larger than
 * the tensor (DEFLATE), else element by element.
 */
#ifndef VERIFY_H
#define VERIFY_H

#include <signal.h>
#include <stddef.h>

#include "c2s.h"
#include "st/stw.h"

/* How the file was written: from direct_from on (UINT64_MAX: nowhere)
 * around the page cache, with O_DIRECT at align.  Big reads of that part
 * are made the same way: it is on the disk, not in the cache, and reading
 * it through the cache costs more than the disk (5 GiB here: 14 s buffered
 * against 4.8 s direct, dd with 1 MiB blocks). */
typedef struct verify_read {
    uint64_t direct_from;
    size_t align;
} verify_read;

/* entries: the plan, in write order (their dtype is the output dtype).
 * From o (may be NULL): cancel, checked between blocks, and
 * verify_progress, called with progress_ctx: 0 of the total tensor bytes
 * once the header passed, then after each block compared.  how may be NULL
 * (all read through the page cache).
 * C2S_ERR_INPUT with "verify: ..." on any difference. */
c2s_status verify_output(c2s_checkpoint *ck, const char *path, const stw_entry *entries, size_t n,
                         size_t header_len, const c2s_write_options *o, const verify_read *how,
                         c2s_error *err);

#endif /* VERIFY_H */
