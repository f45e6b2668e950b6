/*
 * rd_npy.c - NumPy .npy files as a reader (see rd_npy.h).
 *
 * sniff: "\x93NUMPY".  open: the header length (2 bytes little-endian for
 * version 1, 4 bytes for versions 2 and 3) is checked against the file;
 * the header text is searched for its descr value.  Any 'O' there (object
 * dtype, or a structured dtype with an object field: numpy pickles both)
 * makes the rest of the file a pickle, interpreted by the machine with its
 * globals judged (where "file", offsets from the start of the file) and,
 * when the machine stops early, swept.  A header that runs past the end of
 * the file is damage.  Nothing is mapped or streamed.
 */
#include "reader/rd_npy.h"

#include <stdlib.h>
#include <string.h>

#include "reader/judge.h"
#include "util/io.h"
#include "util/limits.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20)

typedef struct npy_reader {
    uint8_t *pickle;
    pvm *vm;
} npy_reader;

static int npy_sniff(const rd_input *in)
{
    return in->nhead >= 6 && memcmp(in->head, NPY_MAGIC, 6) == 0;
}

/* 1 when the descr value of the header names an object dtype. */
static int holds_objects(const char *header)
{
    const char *d = strstr(header, "'descr'");
    if (d == NULL)
        return 1; /* no descr: numpy would refuse; judge the rest as a pickle anyway */
    d += 7;
    const char *end = strstr(d, "'fortran_order'");
    if (end == NULL || end < d)
        end = d + strlen(d);
    return memchr(d, 'O', (size_t)(end - d)) != NULL;
}

/* The header's length and where the data start; 0 when the file is too short. */
static int header_span(const rd_input *in, uint64_t *start, uint64_t *len)
{
    if (in->nhead < 10)
        return 0;
    if (in->head[6] == 1) {
        *len = (uint64_t)in->head[8] | (uint64_t)in->head[9] << 8;
        *start = 10;
    } else {
        if (in->nhead < 12)
            return 0;
        *len = (uint64_t)in->head[8] | (uint64_t)in->head[9] << 8 | (uint64_t)in->head[10] << 16 |
               (uint64_t)in->head[11] << 24;
        *start = 12;
    }
    return *start + *len <= in->size;
}

int npy_pickle_offset(const uint8_t *data, size_t len, size_t *pickle)
{
    rd_input in = {.fd = -1, .size = len};
    in.nhead = len < RD_HEAD_LEN ? len : RD_HEAD_LEN;
    memcpy(in.head, data, in.nhead);
    uint64_t start, hlen;
    if (!npy_sniff(&in) || !header_span(&in, &start, &hlen) || hlen > NPY_MAX_HEADER)
        return -1;
    char *header = strndup((const char *)data + start, (size_t)hlen);
    if (header == NULL)
        return -1;
    int objects = holds_objects(header);
    free(header);
    *pickle = (size_t)(start + hlen);
    return objects;
}

static c2s_status judge_objects(npy_reader *n, const rd_input *in, uint64_t at,
                                const c2s_open_options *o, c2s_report *r, c2s_error *err)
{
    uint64_t max = o && o->limits.max_pickle ? o->limits.max_pickle : C2S_DEFAULT_MAX_PICKLE;
    uint64_t len = in->size - at;
    if (len == 0)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "an object array with no pickle after its header");
    if (len > max)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_MAX_PICKLE,
                             "the array's pickle is %llu bytes, more than the limit of %llu",
                             (unsigned long long)len, (unsigned long long)max);
    pvm_limits limits = rd_pvm_limits(o);
    policy_options policy = rd_policy(o);
    if ((n->pickle = malloc((size_t)len)) == NULL || (n->vm = pvm_new(&limits)) == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    ssize_t got = pread_full(in->fd, n->pickle, (size_t)len, at);
    if (got < 0 || (uint64_t)got != len)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
    pvm_value *v = NULL;
    size_t end = 0;
    c2s_status st = pvm_run(n->vm, n->pickle, (size_t)len, &v, &end, err);
    if (!judge_add_globals(r, n->vm, "file", at, &policy))
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_error swept;
    if (st != C2S_OK) {
        c2s_error_prefix(err, "the array's pickle");
        if (judge_sweep(r, n->pickle, (size_t)len, 0, 1, "file", at, &policy, &swept) != C2S_OK)
            *err = swept;
        return st;
    }
    if (end < len) {
        findings_add(&r->findings, "%llu bytes after the STOP opcode of the array's pickle",
                     (unsigned long long)(len - end));
        return judge_sweep(r, n->pickle, (size_t)len, end, 1, "file", at, &policy, err);
    }
    return C2S_OK;
}

static c2s_status npy_open(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                           const pvm_value **top, c2s_error *err)
{
    *top = NULL;
    npy_reader *n = calloc(1, sizeof *n);
    if (n == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *impl = n;
    uint64_t start = 0, len = 0;
    if (!header_span(in, &start, &len))
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "NumPy file: its header runs past the end of the file");
    if (len > NPY_MAX_HEADER)
        return c2s_fail(err, C2S_ERR_INPUT, "NumPy file: a header of %llu bytes",
                        (unsigned long long)len);
    char *header = malloc((size_t)len + 1);
    if (header == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    ssize_t got = pread_full(in->fd, header, (size_t)len, start);
    header[got > 0 ? (size_t)got : 0] = '\0';
    int objects = holds_objects(header);
    free(header);
    if (got < 0 || (uint64_t)got != len)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
    return objects ? judge_objects(n, in, start + len, o, r, err) : C2S_OK;
}

static c2s_status npy_verify_all(void *impl, findings *f, c2s_error *err)
{
    (void)impl, (void)f, (void)err;
    return C2S_OK; /* no checksums in the format */
}

static c2s_status npy_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    (void)impl, (void)m;
    return c2s_fail(err, C2S_ERR_INPUT, "a NumPy array file, not a PyTorch checkpoint");
}

static c2s_status npy_stream_open(void *impl, const char *key, rd_stream *s, c2s_error *err)
{
    (void)impl, (void)key, (void)s;
    return c2s_fail(err, C2S_ERR_INPUT, "a NumPy array file, not a PyTorch checkpoint");
}

static int npy_big_endian(const void *impl)
{
    (void)impl;
    return 0;
}

static uint64_t npy_object_count(const void *impl)
{
    const npy_reader *n = impl;
    return n->vm ? pvm_value_count(n->vm) : 0;
}

static void npy_close(void *impl)
{
    npy_reader *n = impl;
    if (n == NULL)
        return;
    pvm_free(n->vm);
    free(n->pickle);
    free(n);
}

const rd_ops rd_npy_ops = {
    .format = "npy",
    .sniff = npy_sniff,
    .open = npy_open,
    .verify_all = npy_verify_all,
    .check_storages = npy_check_storages,
    .stream_open = npy_stream_open,
    .big_endian = npy_big_endian,
    .object_count = npy_object_count,
    .close = npy_close,
};
