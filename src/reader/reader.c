/*
 * reader.c - opening the input once, choosing its format reader, and
 * passing the engine's calls on to it (see reader.h).
 *
 * READERS lists the formats in the order they are tried: TorchScript
 * archives (a zip with code/), torch.save zips, TensorFlow bundles (the
 * table magic at the end of the index), and last, accepting anything, the
 * legacy load path: what torch.load does with a file that is not a zip is
 * what we judge such a file by.  A file another reader claims (safetensors,
 * .npy, a TensorFlow index) is judged by that reading too (torchload.h):
 * torch.load does not know those formats.
 */
#include "reader/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf/rd_tf.h"
#include "reader/rd_npy.h"
#include "reader/torchload.h"
#include "st/rd_st.h"
#include "torch/rd_legacy.h"
#include "torch/rd_script.h"
#include "torch/rd_zip.h"
#include "util/io.h"

static const rd_ops *const READERS[] = {&rd_script_ops, &rd_zip_ops, &rd_tf_ops,
                                        &rd_st_ops,     &rd_npy_ops, &rd_legacy_ops};

/* ---- the input ------------------------------------------------------------------ */

static c2s_status input_check(rd_input *in, c2s_error *err)
{
    struct stat st;
    if (fstat(in->fd, &st) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot stat: %s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return c2s_fail(err, C2S_ERR_INPUT, "is a directory");
    if (!S_ISREG(st.st_mode))
        return c2s_fail(err, C2S_ERR_INPUT, "not a regular file");
    if (st.st_size == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "file is empty");
    in->size = (uint64_t)st.st_size;
    in->dev = st.st_dev;
    in->ino = st.st_ino;
    size_t want = in->size < RD_HEAD_LEN ? (size_t)in->size : RD_HEAD_LEN;
    if (pread_full(in->fd, in->head, want, 0) != (ssize_t)want)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno ? errno : EIO));
    in->nhead = want;
    return C2S_OK;
}

/* path does not exist: open path + ".index" instead, if there is one (a
 * TensorFlow checkpoint named by its prefix).  -1 with errno ENOENT when
 * there is none, or with that file's own errno. */
static int open_index_of(rd_input *in, const char *path)
{
    size_t n = strlen(path);
    char *index = malloc(n + sizeof ".index");
    if (index == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(index, path, n);
    memcpy(index + n, ".index", sizeof ".index");
    int fd = open(index, O_RDONLY | O_CLOEXEC);
    int saved = errno;
    free(index);
    errno = saved;
    in->index_added = fd >= 0;
    return fd;
}

c2s_status rd_input_open(rd_input *in, const char *path, c2s_error *err)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0 && errno == ENOENT && *path != '\0') {
        in->fd = open_index_of(in, path);
        if (in->fd < 0 && errno != ENOENT)
            return c2s_fail(err, C2S_ERR_INPUT, "cannot open %s.index: %s", path, strerror(errno));
        if (in->fd < 0)
            errno = ENOENT;
    }
    if (in->fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot open: %s", strerror(errno));
    c2s_status st = input_check(in, err);
    if (st != C2S_OK)
        rd_input_close(in);
    return st;
}

c2s_status rd_input_open_fd(rd_input *in, int fd, const char *name, c2s_error *err)
{
    memset(in, 0, sizeof *in);
    in->path = name != NULL ? name : RD_FD_NAME;
    in->from_fd = 1;
    in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (in->fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot use descriptor %d: %s", fd, strerror(errno));
    c2s_status st = input_check(in, err);
    if (st != C2S_OK)
        rd_input_close(in);
    return st;
}

void rd_input_close(rd_input *in)
{
    rd_input_drop_early_run(in);
    zipsrc_close(in->zip);
    in->zip = NULL;
    findings_free(&in->zip_findings);
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
}

/* zipsrc_beside's work: the VM run on data.pkl's bytes read ahead, kept in
 * in->early.  Only what pvm_run makes is kept; judging it (globals, the
 * sweep, the report) is the zip reader's, once the bytes are its pickle. */
static void run_early(void *ctx, const uint8_t *data, size_t len)
{
    rd_early_run *e = &((rd_input *)ctx)->early;
    c2s_error_clear(&e->err);
    if ((e->vm = pvm_new(&e->limits)) == NULL)
        return; /* no early run: the reader makes its own */
    e->data = data;
    e->len = len;
    e->top = NULL;
    e->end = 0;
    e->st = pvm_run(e->vm, data, len, &e->top, &e->end, &e->err);
}

/* A zip archive opened once for the readers of zips (rd_input.zip), with
 * data.pkl run on the machine while its local headers are read.  An
 * opening that fails leaves nothing: the reader that takes the file opens
 * it again and reports why. */
static void open_zip_once(rd_input *in, const c2s_open_options *o)
{
    if (in->nhead < 4 || memcmp(in->head, "PK\x03\x04", 4) != 0)
        return;
    c2s_error err;
    c2s_error_clear(&err);
    in->early.limits = rd_pvm_limits(o);
    zipsrc_beside beside = {run_early, in};
    if (zipsrc_open_fd_beside(in->fd, in->size, o ? o->limits.max_pickle : 0, &beside, &in->zip,
                              &in->zip_findings, &err) != C2S_OK) {
        findings_free(&in->zip_findings);
        rd_input_drop_early_run(in);
    }
}

int rd_input_take_early_run(rd_input *in, int prefetched, const uint8_t *data, size_t len,
                            rd_early_run *run)
{
    int same = prefetched && in->early.vm != NULL && data != NULL && data == in->early.data &&
               len == in->early.len;
    if (!same) {
        rd_input_drop_early_run(in);
        return 0;
    }
    *run = in->early;
    in->early.vm = NULL;
    in->early.taken = 1;
    return 1;
}

void rd_input_drop_early_run(rd_input *in)
{
    pvm_free(in->early.vm);
    in->early.vm = NULL;
}

c2s_status rd_input_take_zip(rd_input *in, uint64_t max_pickle, zipsrc **out, findings *f,
                             c2s_error *err)
{
    if (in->zip == NULL)
        return zipsrc_open_fd(in->fd, in->size, max_pickle, out, f, err);
    if (!findings_move(f, &in->zip_findings))
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *out = in->zip;
    in->zip = NULL;
    return C2S_OK;
}

/* ---- options ------------------------------------------------------------------------ */

pvm_limits rd_pvm_limits(const c2s_open_options *o)
{
    pvm_limits l = {0};
    if (o != NULL) {
        l.max_objects = o->limits.max_objects;
        l.max_memo = o->limits.max_memo;
        l.max_stack = o->limits.max_stack;
        l.max_string = o->limits.max_string;
        l.max_container = o->limits.max_container;
    }
    return l;
}

policy_options rd_policy(const c2s_open_options *o)
{
    policy_options p = {0};
    if (o != NULL) {
        p.allow = o->allow;
        p.nallow = o->nallow;
        p.permissive = o->permissive;
    }
    return p;
}

/* ---- the reader ------------------------------------------------------------------ */

c2s_status rd_open(rd *r, rd_input *in, const c2s_open_options *o, c2s_report *rep,
                   const pvm_value **top, c2s_error *err)
{
    size_t n = sizeof READERS / sizeof READERS[0], i = 0;
    open_zip_once(in, o);
    while (i + 1 < n && !READERS[i]->sniff(in))
        i++;
    r->ops = READERS[i];
    if (r->ops != &rd_zip_ops) /* the early run is the zip reader's alone */
        rd_input_drop_early_run(in);
    r->impl = NULL;
    rep->format = r->ops->format;
    *top = NULL;
    c2s_status st = r->ops->open(in, o, &r->impl, rep, top, err);
    /* torch.load reads every file that is not a zip down its legacy path */
    if (r->ops != &rd_script_ops && r->ops != &rd_zip_ops && r->ops != &rd_legacy_ops) {
        c2s_error e;
        c2s_error_clear(&e);
        if (torchload_judge(in, o, rep, &e) != C2S_OK) {
            *top = NULL;
            *err = e;
            return C2S_ERR_INPUT;
        }
    }
    return st;
}

const char *rd_default_format(void)
{
    return rd_legacy_ops.format;
}

void rd_close(rd *r)
{
    if (r->ops != NULL && r->impl != NULL)
        r->ops->close(r->impl);
    r->impl = NULL;
}

slab_supply *rd_faulter(rd *r)
{
    if (r->ops == NULL || r->impl == NULL || r->ops->faulter == NULL)
        return NULL;
    return r->ops->faulter(r->impl);
}

void rd_release(rd *r)
{
    if (r->ops != NULL && r->impl != NULL && r->ops->release != NULL)
        r->ops->release(r->impl);
}

c2s_status rd_verify_all(rd *r, findings *f, c2s_error *err)
{
    return r->ops->verify_all(r->impl, f, err);
}

int rd_has_map(const rd *r)
{
    return r->ops->map != NULL;
}

c2s_status rd_map(rd *r, const c2s_open_options *o, tmap *m, c2s_error *err)
{
    return r->ops->map(r->impl, o, m, err);
}

c2s_status rd_check_storages(rd *r, const tmap *m, c2s_error *err)
{
    return r->ops->check_storages(r->impl, m, err);
}

int rd_big_endian(const rd *r)
{
    return r->ops->big_endian(r->impl);
}

uint64_t rd_object_count(const rd *r)
{
    return r->ops->object_count(r->impl);
}

const char *const *rd_notes(const rd *r, size_t *n)
{
    *n = 0;
    return r->ops->notes != NULL ? r->ops->notes(r->impl, n) : NULL;
}

/* ---- storage streams ---------------------------------------------------------------- */

c2s_status rd_stream_open(rd *r, const char *key, rd_stream *s, c2s_error *err)
{
    memset(s, 0, sizeof *s);
    return r->ops->stream_open(r->impl, key, s, err);
}

c2s_status rd_stream_read(rd_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    return s->ops->read(s, off, buf, n, err);
}

int rd_stream_file_range(const rd_stream *s, int *fd, uint64_t *offset)
{
    return s->ops->file_range(s, fd, offset);
}

int rd_stream_crc_done(const rd_stream *s)
{
    return s->ops->crc_done(s);
}

c2s_status rd_stream_verify(rd_stream *s, void *scratch, size_t len, c2s_error *err)
{
    return s->ops->verify(s, scratch, len, err);
}

/* ---- a plain byte range of the input ------------------------------------------------ */

static c2s_status range_read(rd_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    if (off > s->size || n > s->size - off)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: read past its end", s->name);
    ssize_t got = pread_full(s->u.range.fd, buf, n, s->u.range.base + off);
    if (got < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: read failed: %s", s->name, strerror(errno));
    if ((size_t)got < n)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated", s->name);
    return C2S_OK;
}

static int range_file_range(const rd_stream *s, int *fd, uint64_t *offset)
{
    *fd = s->u.range.fd;
    *offset = s->u.range.base;
    return 1;
}

static int range_crc_done(const rd_stream *s)
{
    (void)s;
    return 1; /* nothing to check */
}

static c2s_status range_verify(rd_stream *s, void *scratch, size_t len, c2s_error *err)
{
    (void)s, (void)scratch, (void)len, (void)err;
    return C2S_OK;
}

static void range_close(rd_stream *s)
{
    (void)s;
}

static const rd_stream_ops RANGE_STREAM = {range_read, range_file_range, range_crc_done,
                                           range_verify, range_close};

void rd_range_stream_open(rd_stream *s, int fd, uint64_t base, uint64_t size, const char *name)
{
    s->ops = &RANGE_STREAM;
    s->size = size;
    s->crc_recorded = 0;
    s->u.range.fd = fd;
    s->u.range.base = base;
    snprintf(s->name, sizeof s->name, "%s", name);
}

void rd_stream_close(rd_stream *s)
{
    if (s->ops != NULL)
        s->ops->close(s);
    s->ops = NULL;
}
