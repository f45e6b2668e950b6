/*
 * rd_pickle.c - judging a file that is not a zip the way torch.load's
 * legacy path reads it (see rd_pickle.h).
 */
#include "torch/rd_pickle.h"

#include <stdlib.h>
#include <string.h>

#include "reader/judge.h"
#include "util/io.h"
#include "zip/ziplayout.h"

#define LEGACY_PICKLES 5
#define DEFAULT_MAX_PICKLE (1ull << 30)
#define ST_HEADER_MAX 100000000u

/* torch's legacy magic number 0x1950a86a20f9469cfc6c: its LONG1 bytes, and
 * the protocol-2 pickle of it that starts a pre-1.6 file. */
static const unsigned char MAGIC_LONG[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                           0x20, 0x6a, 0xa8, 0x50, 0x19};
static const unsigned char MAGIC_PICKLE[] = {0x80, 0x02, 0x8a, 0x0a};

static int is_legacy_magic(const pvm_value *v)
{
    return v->kind == PVM_BIGINT && v->u.str.len == sizeof MAGIC_LONG &&
           memcmp(v->u.str.data, MAGIC_LONG, sizeof MAGIC_LONG) == 0;
}

static int pickle_sniff(const rd_input *in)
{
    (void)in;
    return 1; /* the last reader: everything torch.load does not open as a zip */
}

/* The first max bytes of the file, or NULL. */
static unsigned char *read_head(const rd_input *in, uint64_t max, size_t *len)
{
    size_t want = in->size < max ? (size_t)in->size : (size_t)max;
    unsigned char *buf = malloc(want);
    ssize_t got = buf ? pread_full(in->fd, buf, want, 0) : -1;
    if (got <= 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)got;
    return buf;
}

/* Interpret the pickles torch's legacy path would, collecting their globals. */
static void judge_pickles(const rd_input *in, const c2s_open_options *o, c2s_report *r)
{
    size_t len = 0;
    unsigned char *buf = read_head(in, o && o->max_pickle ? o->max_pickle : DEFAULT_MAX_PICKLE,
                                   &len);
    size_t pos = 0;
    for (int k = 1; buf != NULL && k <= LEGACY_PICKLES && pos < len; k++) {
        pvm *vm = pvm_new(o ? &o->limits : NULL);
        pvm_value *v = NULL;
        size_t end = 0;
        c2s_error e;
        c2s_status st = vm ? pvm_run(vm, buf + pos, len - pos, &v, &end, &e) : C2S_ERR_INPUT;
        if (vm != NULL && !judge_add_globals(r, vm, "file", pos, o ? &o->policy : NULL))
            findings_add(&r->findings, "out of memory while judging the file");
        int next = st == C2S_OK && !(k == 1 && !is_legacy_magic(v)) &&
                   !(k == 2 && !(v->kind == PVM_INT && v->u.i == 1001));
        pvm_free(vm);
        if (!next)
            break;
        pos += end;
    }
    free(buf);
}

/* A zip behind leading bytes: torch takes the legacy path, other tools see
 * the archive.  Two readings of one file is the mark of a polyglot. */
static void find_hidden_zip(const rd_input *in, c2s_report *r)
{
    ziplayout zl;
    c2s_error e;
    findings ignored = {0};
    if (ziplayout_read(in->fd, in->size, &zl, &ignored, &e) == C2S_OK) {
        uint64_t first = zl.n ? zl.entries[0].local_offset : zl.cd_offset;
        for (size_t i = 0; i < zl.n; i++)
            if (zl.entries[i].local_offset < first)
                first = zl.entries[i].local_offset;
        findings_add(&r->findings, "%llu bytes in front of a zip archive: torch.load "
                     "reads the file as a legacy pickle, zip tools as the archive",
                     (unsigned long long)first);
        ziplayout_free(&zl);
    }
    findings_free(&ignored);
}

static int looks_like_safetensors(const unsigned char *b, size_t n)
{
    if (n < 9)
        return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = (len << 8) | b[i];
    return b[8] == '{' && len >= 2 && len <= ST_HEADER_MAX;
}

/* What the file is, as the reason it does not convert. */
static c2s_status what_it_is(const rd_input *in, c2s_error *err)
{
    const unsigned char *b = in->head;
    size_t n = in->nhead;
    if (n >= sizeof MAGIC_PICKLE + sizeof MAGIC_LONG &&
        memcmp(b, MAGIC_PICKLE, sizeof MAGIC_PICKLE) == 0 &&
        memcmp(b + sizeof MAGIC_PICKLE, MAGIC_LONG, sizeof MAGIC_LONG) == 0)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "PyTorch legacy format (before 1.6) is not supported yet");
    if (b[0] == 0x80)
        return c2s_fail(err, C2S_ERR_INPUT, "a bare pickle, not a PyTorch zip checkpoint");
    if (looks_like_safetensors(b, n))
        return c2s_fail(err, C2S_ERR_INPUT, "already a safetensors file");
    return c2s_fail(err, C2S_ERR_INPUT, "not a PyTorch checkpoint: not a zip archive");
}

static c2s_status pickle_open(const rd_input *in, const c2s_open_options *o, void **impl,
                              c2s_report *r, const pvm_value **top, c2s_error *err)
{
    *impl = NULL;
    *top = NULL;
    judge_pickles(in, o, r);
    find_hidden_zip(in, r);
    return what_it_is(in, err);
}

/* pickle_open always fails, so nothing below is reached with a reader open. */
static c2s_status not_open(c2s_error *err)
{
    return c2s_fail(err, C2S_ERR_INPUT, "not a checkpoint this tool converts");
}

static c2s_status pickle_verify_all(void *impl, findings *f, c2s_error *err)
{
    (void)impl, (void)f;
    return not_open(err);
}

static c2s_status pickle_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    (void)impl, (void)m;
    return not_open(err);
}

static c2s_status pickle_stream_open(void *impl, const char *key, rd_stream *s,
                                     c2s_error *err)
{
    (void)impl, (void)key, (void)s;
    return not_open(err);
}

static int pickle_big_endian(const void *impl)
{
    (void)impl;
    return 0;
}

static uint64_t pickle_object_count(const void *impl)
{
    (void)impl;
    return 0;
}

static void pickle_close(void *impl) { (void)impl; }

const rd_ops rd_pickle_ops = {
    .format = "not a zip (legacy load path)",
    .sniff = pickle_sniff,
    .open = pickle_open,
    .verify_all = pickle_verify_all,
    .check_storages = pickle_check_storages,
    .stream_open = pickle_stream_open,
    .big_endian = pickle_big_endian,
    .object_count = pickle_object_count,
    .close = pickle_close,
};
