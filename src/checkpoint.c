/*
 * checkpoint.c - opening a checkpoint: archive, pickle, tensor map.
 *
 * c2s_open() runs the reading and judging stages (scan.c), refuses an
 * unsafe file, maps the tensors (tmap.c) and then checks every storage the
 * tensors use against its record in the archive, so that a missing or
 * short record is reported before any output is created.
 */
#include "checkpoint.h"

#include <stdlib.h>
#include <string.h>

static c2s_status check_storages(c2s_checkpoint *ck, c2s_error *err)
{
    for (size_t i = 0; i < ck->map.nstorages; i++) {
        const tmap_storage *s = &ck->map.storages[i];
        uint64_t size;
        c2s_status st = zipsrc_storage_size(ck->zip, s->key, &size, err);
        if (st != C2S_OK)
            return st;
        if (size < s->nbytes)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "storage record %s/data/%s has %llu bytes, the pickle declares %llu",
                            zipsrc_prefix(ck->zip), s->key, (unsigned long long)size,
                            (unsigned long long)s->nbytes);
    }
    return C2S_OK;
}

c2s_status ckpt_map(c2s_checkpoint *ck, const pvm_value *top, const c2s_open_options *o,
                    c2s_error *err)
{
    c2s_status s;
    tmap_options to = {0};
    if (o != NULL) {
        to.key = o->key;
        to.max_depth = o->max_depth;
    }
    if ((s = tmap_build(top, pvm_object_count(ck->vm), &to, &ck->map, err)) != C2S_OK)
        return s;
    return check_storages(ck, err);
}

static c2s_status load(c2s_checkpoint *ck, const char *path, const c2s_open_options *o,
                       c2s_error *err)
{
    pvm_value *top = NULL;
    c2s_status s = ckpt_verdict(ck, ckpt_inspect(ck, path, o, &top, err), err);
    return s == C2S_OK ? ckpt_map(ck, top, o, err) : s;
}

c2s_status c2s_open(const char *path, const c2s_open_options *opts,
                    c2s_checkpoint **out, c2s_error *err)
{
    *out = NULL;
    c2s_checkpoint *ck = calloc(1, sizeof *ck);
    if (ck == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = load(ck, path, opts, err);
    if (st != C2S_OK) {
        c2s_close(ck);
        return st;
    }
    *out = ck;
    return C2S_OK;
}

const tmap *c2s_tensors(const c2s_checkpoint *ck) { return &ck->map; }

int c2s_big_endian(const c2s_checkpoint *ck) { return zipsrc_big_endian(ck->zip); }

void c2s_close(c2s_checkpoint *ck)
{
    if (ck == NULL)
        return;
    c2s_report_free(&ck->report);
    tmap_free(&ck->map);
    pvm_free(ck->vm);
    free(ck->pickle);
    zipsrc_close(ck->zip);
    free(ck);
}
