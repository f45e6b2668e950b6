/*
 * test_coalesce.c - the batched write path for many small tensors
 * (convert.c copy_batch, ring.h batches, crcpipe.h batch jobs): tensors of
 * many tiny records, written in an order that is not the records' order in
 * the file, must come out exactly as the per-tensor path wrote them.
 *
 *   - exact bytes: more tensors than one batch holds, shared and sliced
 *     storages, empty tensors, views and F16 tensors (the usual path) in
 *     between, with the default buffer and with slots of a few tensors;
 *   - records followed by data descriptors (as torch's writer makes them):
 *     the gaps of one preadv then hold a descriptor too;
 *   - DEFLATE records among STORED ones: a batch ends at each;
 *   - conversion to F16: batches read into the read slots, then converted;
 *   - a CRC mismatch in a record in the middle of a batch names that record
 *     with the message every other path gives;
 *   - cancellation between batches: "interrupted", nothing left behind.
 *
 * The archives are written here: with libzip (zip_builder.h), or, for data
 * descriptors, by write_zip_dd() below.
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "c2s.h"
#include "engine/dtconv.h"
#include "pickle_builder.h"
#include "test_util.h"
#include "zip_builder.h"

TU_SUITE_WITH_DIR(coalesce);

#define NREC 1400 /* records: more than one batch (512 parts) */
#define MAXF 8    /* floats per record at most */

/* Record k (key "k") holds k % MAXF + 1 floats, k * 16 + j.  Tensor t
 * ("w%04d", written in this order) reads record perm(t), so that the
 * output order is not the file's; some tensors read part of a record,
 * some the same record as another, one is empty, one transposed, one F16. */
static size_t rec_floats(size_t k)
{
    return k % MAXF + 1;
}

static size_t perm(size_t t)
{
    return (t * 389 + 7) % NREC; /* 389 is prime to NREC */
}

static float rec_data[NREC][MAXF];
static char keys[NREC][8];

static void fill_records(void)
{
    for (size_t k = 0; k < NREC; k++) {
        snprintf(keys[k], sizeof keys[k], "%zu", k);
        for (size_t j = 0; j < MAXF; j++)
            rec_data[k][j] = (float)(k * 16 + j);
    }
}

/* What tensor t is: its record, first float and float count; kind 'c'
 * contiguous, 't' a 2x2 transposed view (record with 4+ floats), 'h' an
 * F16 tensor over 2 bytes of its record (read as half). */
typedef struct tspec {
    size_t rec, first, n;
    char kind;
} tspec;

static tspec spec(size_t t)
{
    size_t k = perm(t), nf = rec_floats(k);
    if (t == 700 && nf >= 4)
        return (tspec){k, 0, 4, 't'};
    if (t == 900)
        return (tspec){k, 0, 2, 'h'}; /* 2 halves = the first float's bytes */
    if (t == 333)
        return (tspec){k, 0, 0, 'c'}; /* empty */
    if (t % 11 == 5 && nf > 1)
        return (tspec){k, 1, nf - 1, 'c'}; /* a slice: offset 1 */
    return (tspec){k, 0, nf, 'c'};
}

#define NTENS (NREC + 20) /* the last 20 read records 0..19 again (shared) */

static tspec spec_any(size_t t)
{
    if (t >= NREC)
        return (tspec){t - NREC, 0, rec_floats(t - NREC), 'c'};
    return spec(t);
}

static void build_pickle(pb *p)
{
    pb_proto(p, 2);
    pb_empty_dict(p);
    pb_mark(p);
    for (size_t t = 0; t < NTENS; t++) {
        tspec s = spec_any(t);
        char name[16];
        snprintf(name, sizeof name, "w%04zu", t);
        pb_str(p, name);
        int64_t nf = (int64_t)rec_floats(s.rec);
        if (s.kind == 't') {
            pb_tensor_v2(p, "FloatStorage", keys[s.rec], nf, 0, 2, (int64_t[]){2, 2},
                         (int64_t[]){1, 2});
        } else if (s.kind == 'h') {
            pb_tensor_v2(p, "HalfStorage", keys[s.rec], 2 * nf, 0, 1, (int64_t[]){2},
                         (int64_t[]){1});
        } else {
            pb_tensor_v2(p, "FloatStorage", keys[s.rec], nf, (int64_t)s.first, 1,
                         (int64_t[]){(int64_t)s.n}, (int64_t[]){1});
        }
    }
    pb_setitems(p);
    pb_stop(p);
}

/* The data section the file must have: tensors in name order, the F32
 * ones before the F16 one (stw.h: larger elements first). */
static unsigned char *expected_data(size_t *len)
{
    unsigned char *out = malloc(NTENS * MAXF * 4), *o = out;
    for (size_t i = 0; i < NTENS; i++) {
        size_t t = i < 900 ? i : i + 1 < NTENS ? i + 1 : 900;
        tspec s = spec_any(t);
        const float *r = rec_data[s.rec];
        if (s.kind == 't') {
            float v[4] = {r[0], r[2], r[1], r[3]};
            memcpy(o, v, sizeof v);
            o += sizeof v;
        } else if (s.kind == 'h') {
            memcpy(o, r, 4);
            o += 4;
        } else {
            memcpy(o, r + s.first, s.n * 4);
            o += s.n * 4;
        }
    }
    *len = (size_t)(o - out);
    return out;
}

/* Entries of the archive: data.pkl first, then the records in key order
 * (record deflate_every-th DEFLATE, 0: none). */
static zb_entry *entries(const pb *p, char (*names)[32], size_t deflate_every)
{
    zb_entry *e = calloc(NREC + 1, sizeof *e);
    e[0] = (zb_entry){"archive/data.pkl", p->buf, p->len, 0};
    for (size_t k = 0; k < NREC; k++) {
        snprintf(names[k], 32, "archive/data/%s", keys[k]);
        int deflate = deflate_every && k % deflate_every == 3;
        e[k + 1] = (zb_entry){names[k], rec_data[k], rec_floats(k) * 4, deflate};
    }
    return e;
}

/* ---- a zip with data descriptors ----------------------------------------------- */

static void put16(FILE *f, unsigned v)
{
    fputc((int)(v & 0xff), f);
    fputc((int)(v >> 8 & 0xff), f);
}

static void put32(FILE *f, uint32_t v)
{
    put16(f, v & 0xffff);
    put16(f, v >> 16);
}

/* STORED entries with bit 3 set: zeros in the local headers, the CRC and
 * sizes in a data descriptor (with its signature) after the data, as
 * torch's writer does; the central directory holds the real values. */
static void write_zip_dd(const char *path, const zb_entry *e, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint32_t *offs = calloc(n, sizeof *offs), *crcs = calloc(n, sizeof *crcs);
    for (size_t i = 0; i < n; i++) {
        offs[i] = (uint32_t)ftell(f);
        crcs[i] = (uint32_t)crc32(0L, e[i].data, (uInt)e[i].len);
        size_t nl = strlen(e[i].name);
        put32(f, 0x04034b50);
        put16(f, 20), put16(f, 0x08), put16(f, 0), put16(f, 0), put16(f, 0x21);
        put32(f, 0), put32(f, 0), put32(f, 0);
        put16(f, (unsigned)nl), put16(f, 0);
        fwrite(e[i].name, 1, nl, f);
        fwrite(e[i].data, 1, e[i].len, f);
        put32(f, 0x08074b50), put32(f, crcs[i]);
        put32(f, (uint32_t)e[i].len), put32(f, (uint32_t)e[i].len);
    }
    uint32_t cd = (uint32_t)ftell(f);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        put32(f, 0x02014b50);
        put16(f, 0x031e), put16(f, 20), put16(f, 0x08), put16(f, 0), put16(f, 0), put16(f, 0x21);
        put32(f, crcs[i]), put32(f, (uint32_t)e[i].len), put32(f, (uint32_t)e[i].len);
        put16(f, (unsigned)nl), put16(f, 0), put16(f, 0), put16(f, 0), put16(f, 0);
        put32(f, 0), put32(f, offs[i]);
        fwrite(e[i].name, 1, nl, f);
    }
    uint32_t cd_len = (uint32_t)ftell(f) - cd;
    put32(f, 0x06054b50);
    put16(f, 0), put16(f, 0), put16(f, (unsigned)n), put16(f, (unsigned)n);
    put32(f, cd_len), put32(f, cd), put16(f, 0);
    cr_assert_eq(fclose(f), 0);
    free(offs);
    free(crcs);
}

/* ---- converting --------------------------------------------------------------------- */

/* Convert in with buffer_size (to F16 when f16); the output bytes, or
 * NULL with err. */
static unsigned char *convert_to(const char *in, size_t buffer_size, int f16, size_t *len,
                                 c2s_error *err)
{
    char *out = tu_path(dir, "out.safetensors");
    unsigned char *bytes = NULL;
    c2s_checkpoint *ck = NULL;
    if (c2s_open(in, NULL, &ck, err) == C2S_OK) {
        c2s_write_options wo = {.buffer_size = buffer_size,
                                .force = 1,
                                .convert_dtype = f16,
                                .dtype = C2S_F16};
        if (c2s_write(ck, out, &wo, NULL, err) == C2S_OK)
            bytes = tu_read(out, len);
        c2s_close(ck);
    }
    free(out);
    return bytes;
}

static unsigned char *convert(const char *in, size_t buffer_size, size_t *len, c2s_error *err)
{
    return convert_to(in, buffer_size, 0, len, err);
}

static const unsigned char *data_section(const unsigned char *file, size_t len, size_t *n)
{
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | file[i];
    cr_assert_leq(8 + h, len);
    *n = len - 8 - (size_t)h;
    return file + 8 + h;
}

/* The data section of the conversion to F16: every tensor F16, so all in
 * name order; the F32 values converted one by one by the scalar path
 * (tested against torch in test_dtconv.c). */
static unsigned char *expected_f16(size_t *len)
{
    unsigned char *out = malloc(NTENS * MAXF * 2), *o = out;
    for (size_t t = 0; t < NTENS; t++) {
        tspec s = spec_any(t);
        const float *r = rec_data[s.rec];
        float v[MAXF];
        size_t n = s.n;
        if (s.kind == 'h') {
            memcpy(o, r, 4);
            o += 4;
            continue;
        }
        if (s.kind == 't') {
            float tv[4] = {r[0], r[2], r[1], r[3]};
            memcpy(v, tv, sizeof tv);
        } else {
            memcpy(v, r + s.first, n * 4);
        }
        cr_assert_eq(dtconv_run_path(DTCONV_SCALAR, C2S_F32, C2S_F16, v, o, n), 0);
        o += n * 2;
    }
    *len = (size_t)(o - out);
    return out;
}

/* The file at in converts, with each buffer size, to exactly the
 * expected data section (to F16 when f16). */
static void expect_exact_as(const char *in, int f16)
{
    size_t want_len;
    unsigned char *want = f16 ? expected_f16(&want_len) : expected_data(&want_len);
    size_t sizes[] = {0, 8 * 64, 8 * 1000}; /* default; slots of 64 and 1000 bytes */
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        c2s_error err;
        size_t len, n;
        unsigned char *f = convert_to(in, sizes[i], f16, &len, &err);
        cr_assert_not_null(f, "buffer %zu: %s", sizes[i], err.msg);
        const unsigned char *d = data_section(f, len, &n);
        cr_assert_eq(n, want_len, "buffer %zu", sizes[i]);
        size_t first = 0;
        while (first < want_len && d[first] == want[first])
            first++;
        cr_assert_eq(first, want_len, "buffer %zu: first difference at byte %zu", sizes[i], first);
        free(f);
    }
    free(want);
}

/* The archive of NREC records and their pickle, written to dir/in.pt:
 * every deflate_every-th record DEFLATE (0: none), with data descriptors
 * when dd.  Its path (free it). */
static char *write_archive(size_t deflate_every, int dd)
{
    fill_records();
    pb p = {0};
    build_pickle(&p);
    char(*names)[32] = calloc(NREC, 32);
    cr_assert_not_null(names);
    zb_entry *e = entries(&p, names, deflate_every);
    char *in = tu_path(dir, "in.pt");
    if (dd)
        write_zip_dd(in, e, NREC + 1);
    else
        cr_assert_eq(zb_write(in, e, NREC + 1), 0);
    free(e);
    free(names);
    pb_free(&p);
    return in;
}

static void expect_exact(const char *in)
{
    expect_exact_as(in, 0);
}

Test(coalesce, many_small_records_exact_bytes)
{
    char *in = write_archive(0, 0);
    expect_exact(in);
    free(in);
}

/* Converted tensors are batched into the read slots, then converted. */
Test(coalesce, many_small_records_to_f16_exact_bytes)
{
    char *in = write_archive(7, 0); /* DEFLATE ones among them */
    expect_exact_as(in, 1);
    free(in);
}

Test(coalesce, data_descriptors_exact_bytes)
{
    char *in = write_archive(0, 1);
    expect_exact(in);
    free(in);
}

Test(coalesce, deflate_records_mixed_in_exact_bytes)
{
    char *in = write_archive(7, 0);
    expect_exact(in);
    free(in);
}

/* Find the only occurrence of n bytes in buf. */
static size_t find_once(const unsigned char *buf, size_t len, const void *what, size_t n)
{
    size_t at = len;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, what, n) == 0) {
            cr_assert_eq(at, len, "found twice");
            at = i;
        }
    cr_assert_neq(at, len, "not found");
    return at;
}

Test(coalesce, crc_mismatch_mid_batch_names_the_record)
{
    char *in = write_archive(0, 1);
    /* record 1001 (2 floats, 1001 * 16 + j): one byte of its data changed */
    size_t k = 1001, len;
    unsigned char *file = tu_read(in, &len);
    size_t at = find_once(file, len, rec_data[k], rec_floats(k) * 4);
    uint32_t want = (uint32_t)crc32(0L, (const Bytef *)rec_data[k], (uInt)(rec_floats(k) * 4));
    file[at + 5] ^= 0x40;
    uint32_t got = (uint32_t)crc32(0L, file + at, (uInt)(rec_floats(k) * 4));
    cr_assert_eq(tu_write(in, file, len), 0);
    char msg[256];
    snprintf(msg, sizeof msg,
             "archive/data/1001: CRC-32 mismatch (archive says %08x, data gives %08x): the file "
             "was altered or damaged",
             want, got);
    size_t sizes[] = {0, 8 * 64};
    for (size_t i = 0; i < 2; i++) {
        c2s_error err;
        size_t olen;
        unsigned char *f = convert(in, sizes[i], &olen, &err);
        cr_assert_null(f);
        cr_assert_str_eq(err.msg, msg, "buffer %zu", sizes[i]);
        cr_assert_eq(tu_count_entries(dir), 1, "output left behind");
    }
    free(file);
    free(in);
}

static void cancel_after_first_block(void *ctx, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    *(volatile sig_atomic_t *)ctx = 1;
}

Test(coalesce, cancel_between_batches)
{
    char *in = write_archive(0, 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
    volatile sig_atomic_t flag = 0;
    c2s_write_options wo = {.cancel = &flag,
                            .progress = cancel_after_first_block,
                            .progress_ctx = (void *)&flag,
                            .buffer_size = 8 * 1000}; /* slots of ~30 tensors: many batches */
    char *out = tu_path(dir, "out.safetensors");
    cr_assert_eq(c2s_write(ck, out, &wo, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "interrupted");
    cr_assert_eq(tu_count_entries(dir), 1, "temporary file left behind");
    c2s_close(ck);
    free(out);
    free(in);
}
