/*
 * checkpoint.h - the checkpoint handle shared by checkpoint.c (opening),
 * scan.c (judging), convert.c and verify.c (writing).  Private to the
 * library; users see c2s.h.
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include "c2s.h"
#include "reader/reader.h"
#include "st/stw.h"

struct c2s_checkpoint {
    c2s_report report;    /* the verdict's material */
    rd_input in;          /* the input, opened once */
    rd rd;                /* its format reader */
    const pvm_value *top; /* the unpickled object; NULL once c2s_open is done */
    tmap map;
    /* The scalar leaves of top's dicts (ckpt_metadata's training keys),
     * kept when c2s_open frees the object graph. */
    stw_kv *scalars;
    size_t nscalars;
};

/* The reading stages shared by c2s_open and c2s_scan: open the input once
 * and judge it with its reader.  Fills ck->report with what it sees; an
 * unsafe global or finding does not stop it, only a file it cannot read. */
c2s_status ckpt_inspect(c2s_checkpoint *ck, const char *path, const c2s_open_options *o,
                        c2s_error *err);
/* The same for a descriptor (rd_input_open_fd: duplicated, name for messages). */
c2s_status ckpt_inspect_fd(c2s_checkpoint *ck, int fd, const char *name, const c2s_open_options *o,
                           c2s_error *err);

/* Map the tensors of a safe file and check their storage records. */
c2s_status ckpt_map(c2s_checkpoint *ck, const c2s_open_options *o, c2s_error *err);

/* The __metadata__ pairs after "format": the user's; for each quantized
 * tensor written raw that sel keeps (c2s_selected), NAME.qscheme
 * ("per_tensor_affine", "per_channel_affine"), NAME.qdtype ("qint8", ...)
 * and per channel NAME.axis; then with training the scalar leaves of the
 * checkpoint's dicts (dotted paths, at most 3 levels deep, at most 256).
 * Keys the user gave win.  *out and its strings are allocated: free with
 * ckpt_metadata_free. */
c2s_status ckpt_metadata(c2s_checkpoint *ck, const c2s_kv *user, size_t nuser, int training,
                         const c2s_write_options *sel, stw_kv **out, size_t *n, c2s_error *err);
void ckpt_metadata_free(stw_kv *kv, size_t n);

#endif /* CHECKPOINT_H */
