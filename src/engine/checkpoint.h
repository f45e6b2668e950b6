/*
 * checkpoint.h - the checkpoint handle shared by checkpoint.c (opening) and
 * convert.c (writing).  Private to the library; users see c2s.h.
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include <sys/types.h>

#include "c2s.h"
#include "pickle/policy.h"
#include "pickle/pvm.h"
#include "st/stw.h"
#include "torch/tmap.h"
#include "util/findings.h"
#include "zip/zipsrc.h"

struct c2s_checkpoint {
    c2s_report report;   /* the verdict's material */
    zipsrc *zip;
    uint8_t *pickle;
    size_t pickle_len;
    size_t pickle_end;   /* offset just past STOP */
    pvm *vm;
    const pvm_value *top; /* the unpickled object */
    tmap map;
    dev_t in_dev;        /* identity of the input, to refuse writing over it */
    ino_t in_ino;
};

/* The options of o (NULL: the defaults) as the pickle VM and the policy
 * take them (api.c). */
pvm_limits ckpt_pvm_limits(const c2s_open_options *o);
policy_options ckpt_policy(const c2s_open_options *o);

/* The reading stages shared by c2s_open and c2s_scan (scan.c): archive,
 * pickle, globals.  Fills ck->report with what it sees; an unsafe global or
 * finding does not stop it, only a file it cannot read.  On success ck->zip
 * and ck->vm are open and *top is the unpickled object. */
c2s_status ckpt_inspect(c2s_checkpoint *ck, const char *path, const c2s_open_options *o,
                        pvm_value **top, c2s_error *err);

/* Map the tensors of a safe file and check their storage records. */
c2s_status ckpt_map(c2s_checkpoint *ck, const pvm_value *top, const c2s_open_options *o,
                    c2s_error *err);

/* The __metadata__ pairs after "format": the user's, then with training
 * the scalar leaves of the checkpoint's dicts (dotted paths, at most 3
 * levels deep, at most 256, keys the user gave winning).  *out and its
 * strings are allocated: free with ckpt_metadata_free. */
c2s_status ckpt_metadata(c2s_checkpoint *ck, const c2s_kv *user, size_t nuser, int training,
                         stw_kv **out, size_t *n, c2s_error *err);
void ckpt_metadata_free(stw_kv *kv, size_t n);

/* Fill verdict and, when unsafe, a one-line refusal message in err. */
c2s_status ckpt_verdict(c2s_checkpoint *ck, c2s_status read_status, c2s_error *err);

#endif /* CHECKPOINT_H */
