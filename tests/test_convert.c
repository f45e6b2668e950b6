/*
 * test_convert.c - the engine end to end (c2s_open + c2s_write) on archives
 * built in the test: exact output bytes for every kind of view, byte order,
 * CRC failures, and the promise that nothing is left behind on failure.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>

#include "c2s.h"
#include "engine/checkpoint.h"
#include "engine/outfile.h"
#include "pickle_builder.h"
#include "st/stw.h"
#include "engine/verify.h"
#include "test_util.h"
#include "zip_builder.h"

TU_SUITE_WITH_DIR(convert);

/* Finish a pickle whose top-level dict body (MARK k v ...) was written. */
static void end_dict(pb *p)
{
    pb_setitems(p);
    pb_stop(p);
}

static void begin_dict(pb *p)
{
    pb_proto(p, 2);
    pb_empty_dict(p);
    pb_mark(p);
}

/* Write the archive, convert it, return the output bytes (NULL on failure). */
static unsigned char *convert(pb *p, size_t n, const char *const *keys, const void *const *data,
                              const size_t *lens, const char *extra_entry, size_t *out_len,
                              c2s_error *err)
{
    char *in = tu_path(dir, "in.pt");
    char *out = tu_path(dir, "out.safetensors");
    if (extra_entry == NULL) {
        cr_assert_eq(zb_checkpoint(in, p->buf, p->len, n, keys, data, lens), 0);
    } else {
        zb_entry e[8];
        char names[8][32];
        e[0] = (zb_entry){"archive/data.pkl", p->buf, p->len, 0};
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "archive/data/%s", keys[i]);
            e[i + 1] = (zb_entry){names[i], data[i], lens[i], 0};
        }
        e[n + 1] = (zb_entry){"archive/byteorder", extra_entry, strlen(extra_entry), 0};
        cr_assert_eq(zb_write(in, e, n + 2), 0);
    }
    c2s_checkpoint *ck = NULL;
    c2s_error_clear(err);
    unsigned char *bytes = NULL;
    if (c2s_open(in, NULL, &ck, err) == C2S_OK) {
        c2s_write_options wo = {.buffer_size = 64}; /* tiny: exercise block edges */
        if (c2s_write(ck, out, &wo, NULL, err) == C2S_OK)
            bytes = tu_read(out, out_len);
        c2s_close(ck);
    }
    free(in);
    free(out);
    return bytes;
}

/* The data section of a safetensors file: after the 8-byte length and header. */
static const unsigned char *data_of(const unsigned char *file, size_t len, size_t *n)
{
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | file[i];
    cr_assert_leq(8 + h, len);
    *n = len - 8 - (size_t)h;
    return file + 8 + h;
}

static const char *header_of(const unsigned char *file, char *buf, size_t cap)
{
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | file[i];
    cr_assert_lt(h, cap);
    memcpy(buf, file + 8, (size_t)h);
    buf[h] = '\0';
    return buf;
}

Test(convert, contiguous_and_views_exact_bytes)
{
    /* storage "0": 12 floats 0..11 used by several views */
    float s0[12];
    for (int i = 0; i < 12; i++)
        s0[i] = (float)i;
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "full"); /* 3x4 contiguous */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 0, 2, (int64_t[]){3, 4}, (int64_t[]){4, 1});
    pb_str(&p, "t"); /* its transpose: 4x3 */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 0, 2, (int64_t[]){4, 3}, (int64_t[]){1, 4});
    pb_str(&p, "slice"); /* elements 5..7 */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 5, 1, (int64_t[]){3}, (int64_t[]){1});
    pb_str(&p, "exp"); /* row 1 expanded to 2x4 (stride 0) */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 4, 2, (int64_t[]){2, 4}, (int64_t[]){0, 1});
    pb_str(&p, "step"); /* columns 0 and 2 of each row: 3x2 */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 0, 2, (int64_t[]){3, 2}, (int64_t[]){4, 2});
    end_dict(&p);
    const char *keys[] = {"0"};
    const void *data[] = {s0};
    size_t lens[] = {sizeof s0};
    size_t len;
    c2s_error err;
    unsigned char *f = convert(&p, 1, keys, data, lens, NULL, &len, &err);
    cr_assert_not_null(f, "%s", err.msg);
    char hdr[1024];
    cr_assert_str_eq(
        header_of(f, hdr, sizeof hdr),
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"exp\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
        "\"full\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[32,80]},"
        "\"slice\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[80,92]},"
        "\"step\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[92,116]},"
        "\"t\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[116,164]}}       ");
    size_t n;
    const float *d = (const float *)(const void *)data_of(f, len, &n);
    cr_assert_eq(n, 164);
    const float want[] = {4, 5, 6, 7, 4, 5,  6, 7,                 /* exp */
                          0, 1, 2, 3, 4, 5,  6, 7, 8,  9, 10, 11,  /* full */
                          5, 6, 7,                                 /* slice */
                          0, 2, 4, 6, 8, 10,                       /* step */
                          0, 4, 8, 1, 5, 9,  2, 6, 10, 3, 7,  11}; /* t */
    cr_assert_arr_eq(d, want, sizeof want);
    free(f);
    pb_free(&p);
}

Test(convert, big_endian_storages_are_swapped)
{
    /* F32 1.0 and -2.0 big-endian; I16 0x0102; C64 (1+2j) as two BE floats */
    static const unsigned char f32be[] = {0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0};
    static const unsigned char i16be[] = {0x01, 0x02};
    static const unsigned char c64be[] = {0x3f, 0x80, 0, 0, 0x40, 0, 0, 0};
    static const unsigned char u8[] = {7, 9};
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "f");
    pb_tensor_v2(&p, "FloatStorage", "0", 2, 0, 1, (int64_t[]){2}, (int64_t[]){1});
    pb_str(&p, "i");
    pb_tensor_v2(&p, "ShortStorage", "1", 1, 0, 0, NULL, NULL);
    pb_str(&p, "c");
    pb_tensor_v2(&p, "ComplexFloatStorage", "2", 1, 0, 1, (int64_t[]){1}, (int64_t[]){1});
    pb_str(&p, "u");
    pb_tensor_v2(&p, "ByteStorage", "3", 2, 0, 1, (int64_t[]){2}, (int64_t[]){1});
    end_dict(&p);
    const char *keys[] = {"0", "1", "2", "3"};
    const void *data[] = {f32be, i16be, c64be, u8};
    size_t lens[] = {8, 2, 8, 2};
    size_t len;
    c2s_error err;
    unsigned char *f = convert(&p, 4, keys, data, lens, "big", &len, &err);
    cr_assert_not_null(f, "%s", err.msg);
    size_t n;
    const unsigned char *d = data_of(f, len, &n);
    /* order: C64 "c", F32 "f", I16 "i", U8 "u" */
    static const unsigned char want[] = {0,    0,    0x80, 0x3f, 0, 0,    0,    0x40, 0, 0,
                                         0x80, 0x3f, 0,    0,    0, 0xc0, 0x02, 0x01, 7, 9};
    cr_assert_eq(n, sizeof want);
    cr_assert_arr_eq(d, want, sizeof want);
    free(f);
    pb_free(&p);
}

Test(convert, short_storage_record_is_refused_before_writing)
{
    float s0[2] = {1, 2};
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "w");
    pb_vec_f32(&p, "0", 4); /* declares 4 floats, the record holds 2 */
    end_dict(&p);
    const char *keys[] = {"0"};
    const void *data[] = {s0};
    size_t lens[] = {sizeof s0};
    size_t len;
    c2s_error err;
    cr_assert_null(convert(&p, 1, keys, data, lens, NULL, &len, &err));
    cr_assert_str_eq(err.msg, "storage record archive/data/0 has 8 bytes, the pickle declares 16");
    cr_assert_eq(tu_count_entries(dir), 1); /* only in.pt */
    pb_free(&p);
}

Test(convert, missing_storage_record)
{
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "w");
    pb_vec_f32(&p, "7", 4);
    end_dict(&p);
    size_t len;
    c2s_error err;
    cr_assert_null(convert(&p, 0, NULL, NULL, NULL, NULL, &len, &err));
    cr_assert_str_eq(err.msg, "storage record archive/data/7 is missing");
    pb_free(&p);
}

/* A view that reads only part of its storage: the CRC pass still catches a
 * corrupt byte elsewhere in the record, and no output is left. */
Test(convert, crc_checked_for_partial_views)
{
    static const char payload[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"; /* 32 bytes = 8 floats */
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "part");
    pb_tensor_v2(&p, "FloatStorage", "0", 8, 0, 1, (int64_t[]){2}, (int64_t[]){1});
    end_dict(&p);
    char *in = tu_path(dir, "in.pt");
    const char *keys[] = {"0"};
    const void *data[] = {payload};
    size_t lens[] = {32};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 1, keys, data, lens), 0);
    size_t flen;
    unsigned char *buf = tu_read(in, &flen);
    unsigned char *hit = memmem(buf, flen, payload, 32);
    cr_assert_not_null(hit);
    hit[30] ^= 1; /* outside the 8 bytes the view reads */
    cr_assert_eq(tu_write(in, buf, flen), 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
    char *out = tu_path(dir, "out.safetensors");
    cr_assert_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_ERR_INPUT);
    cr_assert_eq(err.rule, C2S_RULE_CORRUPT);
    cr_assert(strstr(err.msg, "archive/data/0: CRC-32 mismatch") == err.msg, "%s", err.msg);
    cr_assert_eq(tu_exists(out), 0);
    cr_assert_eq(tu_count_entries(dir), 1);
    c2s_close(ck);
    free(buf);
    free(in);
    free(out);
    pb_free(&p);
}

static void cancel_after_first_block(void *ctx, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    *(volatile sig_atomic_t *)ctx = 1;
}

/* Setting the cancel flag mid-way gives "interrupted" and removes the temp file. */
Test(convert, cancel_leaves_nothing)
{
    static float big[4096];
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "w");
    pb_vec_f32(&p, "0", 4096);
    end_dict(&p);
    char *in = tu_path(dir, "in.pt");
    const char *keys[] = {"0"};
    const void *data[] = {big};
    size_t lens[] = {sizeof big};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 1, keys, data, lens), 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK);
    volatile sig_atomic_t flag = 0;
    c2s_write_options wo = {.cancel = &flag,
                            .progress = cancel_after_first_block,
                            .progress_ctx = (void *)&flag,
                            .buffer_size = 1024};
    char *out = tu_path(dir, "out.safetensors");
    cr_assert_eq(c2s_write(ck, out, &wo, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "interrupted");
    cr_assert_eq(tu_count_entries(dir), 1, "temporary file left behind");
    c2s_close(ck);
    free(in);
    free(out);
    pb_free(&p);
}

Test(convert, existing_output_needs_force_and_input_is_never_overwritten)
{
    float v[2] = {1, 2};
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "w");
    pb_vec_f32(&p, "0", 2);
    end_dict(&p);
    char *in = tu_path(dir, "in.pt");
    char *out = tu_path(dir, "out.safetensors");
    const char *keys[] = {"0"};
    const void *data[] = {v};
    size_t lens[] = {sizeof v};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 1, keys, data, lens), 0);
    cr_assert_eq(tu_write(out, "old", 3), 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK);
    cr_assert_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "output exists: %s", out);
    cr_assert_str_eq(err.msg, want);
    size_t len;
    unsigned char *old = tu_read(out, &len);
    cr_assert_eq(len, 3);
    free(old);
    c2s_write_options force = {.force = 1};
    c2s_write_result res;
    cr_assert_eq(c2s_write(ck, out, &force, &res, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(res.tensors, 1);
    cr_assert_eq(res.data_bytes, 8);
    cr_assert_eq(c2s_write(ck, in, &force, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "refusing to write the output over the input file");
    cr_assert_eq(tu_count_entries(dir), 2);
    c2s_close(ck);
    free(in);
    free(out);
    pb_free(&p);
}

Test(convert, unsupported_fails_or_is_skipped)
{
    double c128[2] = {1, 2};
    float f[1] = {3};
    pb p = {0};
    begin_dict(&p);
    pb_str(&p, "z");
    pb_tensor_v2(&p, "ComplexDoubleStorage", "0", 1, 0, 0, NULL, NULL);
    pb_str(&p, "w");
    pb_vec_f32(&p, "1", 1);
    end_dict(&p);
    char *in = tu_path(dir, "in.pt");
    char *out = tu_path(dir, "out.safetensors");
    const char *keys[] = {"0", "1"};
    const void *data[] = {c128, f};
    size_t lens[] = {sizeof c128, sizeof f};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 2, keys, data, lens), 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "tensor 'z' is a complex128, which safetensors cannot store");
    cr_assert_eq(err.rule, C2S_RULE_UNSUPPORTED);
    cr_assert_eq(tu_exists(out), 0);
    c2s_write_options skip = {.skip_unsupported = 1};
    c2s_write_result res;
    cr_assert_eq(c2s_write(ck, out, &skip, &res, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(res.tensors, 1);
    cr_assert_eq(res.skipped, 1);
    c2s_close(ck);
    free(in);
    free(out);
    pb_free(&p);
}

/* ---- issue 4: filters, --dtype, metadata, verify, streams, sha256 ---------- */

#include "util/sha256.h"
#include "st/stread.h"

/* A checkpoint with F32 "a.w" (1.0, -2.5, 65520, 1e-8), a transposed F32
 * view "a.t" of it (2x2), I64 "b.n" and BF16 "c.h"; with a training
 * scalar "epoch" beside the state_dict. */
static char *mixed_checkpoint(void)
{
    static const float f[4] = {1.0f, -2.5f, 65520.0f, 1e-8f};
    static const int64_t i64[1] = {7};
    static const uint16_t bf[2] = {0x3f80, 0xc020}; /* 1.0, -2.5 */
    pb p = {0};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    pb_mark(&p);
    pb_str(&p, "epoch");
    pb_int(&p, 3);
    pb_str(&p, "note");
    pb_str(&p, "run 7");
    pb_str(&p, "state_dict");
    pb_empty_dict(&p);
    pb_mark(&p);
    pb_str(&p, "a.w");
    pb_vec_f32(&p, "0", 4);
    pb_str(&p, "a.t");
    pb_tensor_v2(&p, "FloatStorage", "0", 4, 0, 2, (int64_t[]){2, 2}, (int64_t[]){1, 2});
    pb_str(&p, "b.n");
    pb_tensor_v2(&p, "LongStorage", "1", 1, 0, 1, (int64_t[]){1}, (int64_t[]){1});
    pb_str(&p, "c.h");
    pb_tensor_v2(&p, "BFloat16Storage", "2", 2, 0, 1, (int64_t[]){2}, (int64_t[]){1});
    pb_setitems(&p);
    pb_setitems(&p);
    pb_stop(&p);
    char *in = tu_path(dir, "mixed.pt");
    const char *keys[] = {"0", "1", "2"};
    const void *data[] = {f, i64, bf};
    size_t lens[] = {sizeof f, sizeof i64, sizeof bf};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 3, keys, data, lens), 0);
    pb_free(&p);
    return in;
}

/* Convert in to dir/out.safetensors with o; the file is read back with stread. */
static c2s_status convert_with(const char *in, const c2s_write_options *o, st_file *f,
                               c2s_write_result *res, c2s_error *err)
{
    c2s_checkpoint *ck;
    cr_assert_eq(c2s_open(in, NULL, &ck, err), C2S_OK, "%s", err->msg);
    char *out = tu_path(dir, "out.safetensors");
    unlink(out);
    c2s_status st = c2s_write(ck, out, o, res, err);
    c2s_close(ck);
    if (st == C2S_OK) {
        c2s_error e;
        cr_assert_eq(st_read_path(out, f, &e), C2S_OK, "%s", e.msg);
    }
    free(out);
    return st;
}

static const st_tensor *find_tensor(const st_file *f, const char *name)
{
    for (size_t i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

static void read_tensor(const st_file *f, const char *name, void *buf, size_t len)
{
    const st_tensor *t = find_tensor(f, name);
    cr_assert_not_null(t, "no tensor %s", name);
    cr_assert_eq(t->end - t->begin, len, "%s: %llu bytes", name,
                 (unsigned long long)(t->end - t->begin));
    char *out = tu_path(dir, "out.safetensors");
    FILE *fp = fopen(out, "rb");
    cr_assert_not_null(fp);
    fseek(fp, (long)(f->data_start + t->begin), SEEK_SET);
    cr_assert_eq(fread(buf, 1, len, fp), len);
    fclose(fp);
    free(out);
}

Test(convert, include_and_exclude_globs)
{
    char *in = mixed_checkpoint();
    const char *inc[] = {"a.*", "b.*"}, *exc[] = {"*.t"};
    c2s_write_options o = {.include = inc, .ninclude = 2, .exclude = exc, .nexclude = 1};
    st_file f;
    c2s_write_result res;
    c2s_error err;
    cr_assert_eq(convert_with(in, &o, &f, &res, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(f.ntensors, 2);
    cr_assert_not_null(find_tensor(&f, "a.w"));
    cr_assert_not_null(find_tensor(&f, "b.n"));
    cr_assert_eq(res.filtered, 2);
    cr_assert_eq(res.tensors, 2);
    st_file_free(&f);
    const char *none[] = {"zzz*"};
    c2s_write_options o2 = {.include = none, .ninclude = 1};
    cr_assert_eq(convert_with(in, &o2, &f, &res, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "no tensor left to write after the include/exclude filters");
    cr_assert_eq(err.rule, C2S_RULE_ALL_FILTERED);
    free(in);
}

Test(convert, dtype_conversion_exact_bytes)
{
    char *in = mixed_checkpoint();
    c2s_write_options o = {.convert_dtype = 1, .dtype = C2S_F16, .verify = 1};
    st_file f;
    c2s_write_result res;
    c2s_error err;
    cr_assert_eq(convert_with(in, &o, &f, &res, &err), C2S_OK, "%s", err.msg);
    cr_assert_str_eq(find_tensor(&f, "a.w")->dtype, "F16");
    cr_assert_str_eq(find_tensor(&f, "b.n")->dtype, "I64"); /* integers untouched */
    cr_assert_str_eq(find_tensor(&f, "c.h")->dtype, "F16");
    cr_assert_eq(res.converted, 3);
    uint16_t w[4], t[4], h[2];
    read_tensor(&f, "a.w", w, sizeof w);
    read_tensor(&f, "a.t", t, sizeof t);
    read_tensor(&f, "c.h", h, sizeof h);
    /* 1.0, -2.5, 65520 rounds to inf, 1e-8 to the smallest subnormal 0 (2^-24 is 5.96e-8) */
    const uint16_t want_w[4] = {0x3c00, 0xc100, 0x7c00, 0x0000};
    const uint16_t want_t[4] = {0x3c00, 0x7c00, 0xc100, 0x0000}; /* transposed */
    const uint16_t want_h[2] = {0x3c00, 0xc100};
    cr_assert_arr_eq(w, want_w, sizeof w);
    cr_assert_arr_eq(t, want_t, sizeof t);
    cr_assert_arr_eq(h, want_h, sizeof h);
    st_file_free(&f);
    c2s_write_options bad = {.convert_dtype = 1, .dtype = C2S_I8};
    cr_assert_eq(convert_with(in, &bad, &f, &res, &err), C2S_ERR_USAGE);
    cr_assert_str_eq(err.msg, "dtype conversion is to F16, BF16 or F32 only");
    free(in);
}

Test(convert, metadata_user_and_training)
{
    char *in = mixed_checkpoint();
    c2s_kv kv[] = {{"source", "unit test"}, {"epoch", "user wins"}};
    c2s_write_options o = {.metadata = kv, .nmetadata = 2, .training_metadata = 1};
    st_file f;
    c2s_error err;
    cr_assert_eq(convert_with(in, &o, &f, NULL, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(f.nmeta, 4);
    const char *want[][2] = {{"format", "pt"},
                             {"source", "unit test"},
                             {"epoch", "user wins"},
                             {"note", "run 7"}};
    for (size_t i = 0; i < 4; i++) {
        cr_expect_str_eq(f.meta_keys[i], want[i][0]);
        cr_expect_str_eq(f.meta_values[i], want[i][1]);
    }
    st_file_free(&f);
    c2s_kv dup[] = {{"k", "1"}, {"k", "2"}}, fmt[] = {{"format", "np"}};
    c2s_write_options d = {.metadata = dup, .nmetadata = 2}, g = {.metadata = fmt, .nmetadata = 1};
    cr_assert_eq(convert_with(in, &d, &f, NULL, &err), C2S_ERR_USAGE);
    cr_assert_str_eq(err.msg, "metadata key 'k' given twice");
    cr_assert_eq(convert_with(in, &g, &f, NULL, &err), C2S_ERR_USAGE);
    cr_assert_str_eq(err.msg, "metadata key 'format' is reserved (it is \"pt\")");
    free(in);
}

Test(convert, verify_passes_on_views_and_big_endian)
{
    char *in = mixed_checkpoint();
    c2s_write_options o = {.verify = 1, .buffer_size = 16};
    st_file f;
    c2s_error err;
    cr_assert_eq(convert_with(in, &o, &f, NULL, &err), C2S_OK, "%s", err.msg);
    float t[4];
    read_tensor(&f, "a.t", t, sizeof t);
    const float want[4] = {1.0f, 65520.0f, -2.5f, 1e-8f};
    cr_assert_arr_eq(t, want, sizeof t);
    st_file_free(&f);
    free(in);
}

/* The two phases' callbacks, in the order they were called. */
typedef struct phases {
    uint64_t write_done, write_total, verify_done, verify_total;
    size_t write_calls, verify_calls, verify_starts, out_of_order;
} phases;

static void on_write(void *ctx, uint64_t done, uint64_t total)
{
    phases *p = ctx;
    p->out_of_order += p->verify_calls > 0 || done < p->write_done || done > total;
    p->write_done = done;
    p->write_total = total;
    p->write_calls++;
}

static void on_verify(void *ctx, uint64_t done, uint64_t total)
{
    phases *p = ctx;
    p->out_of_order += p->write_done != p->write_total || done < p->verify_done || done > total;
    p->verify_starts += done == 0;
    p->verify_done = done;
    p->verify_total = total;
    p->verify_calls++;
}

/* Writing reaches its total first; then verifying goes from 0 to the
 * tensor bytes, small blocks (buffer_size 16) giving many calls. */
Test(convert, verify_reports_its_own_progress_after_writing)
{
    char *in = mixed_checkpoint();
    phases p = {0};
    c2s_write_options o = {.verify = 1,
                           .buffer_size = 16,
                           .progress = on_write,
                           .verify_progress = on_verify,
                           .progress_ctx = &p};
    st_file f;
    c2s_write_result res;
    c2s_error err;
    cr_assert_eq(convert_with(in, &o, &f, &res, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(p.out_of_order, 0);
    cr_expect_eq(p.write_done, res.file_bytes);
    cr_expect_eq(p.write_total, res.file_bytes);
    cr_expect_eq(p.verify_starts, 1);
    cr_expect_eq(p.verify_done, res.data_bytes);
    cr_expect_eq(p.verify_total, res.data_bytes);
    cr_expect_gt(p.verify_calls, 2, "%zu calls", p.verify_calls);
    st_file_free(&f);

    /* without verify_progress, or without verify, nothing of the phase */
    phases q = {0};
    o.verify_progress = NULL;
    o.progress_ctx = &q;
    cr_assert_eq(convert_with(in, &o, &f, &res, &err), C2S_OK, "%s", err.msg);
    cr_expect(q.verify_calls == 0 && q.write_done == res.file_bytes);
    st_file_free(&f);
    free(in);
}

Test(convert, stream_to_a_descriptor_with_sha256)
{
    char *in = mixed_checkpoint();
    char *out = tu_path(dir, "streamed.safetensors");
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK);
    c2s_write_options o = {.out_fd = fd, .sha256 = 1};
    c2s_write_result res;
    cr_assert_eq(c2s_write(ck, NULL, &o, &res, &err), C2S_OK, "%s", err.msg);
    close(fd);
    size_t len;
    unsigned char *bytes = tu_read(out, &len);
    cr_assert_eq(len, res.file_bytes);
    sha256_ctx c;
    unsigned char digest[32];
    char hex[65];
    sha256_init(&c);
    sha256_update(&c, bytes, len);
    sha256_final(&c, digest);
    sha256_hex(digest, hex);
    cr_assert_str_eq(res.sha256, hex);
    c2s_write_options v = {.out_fd = 1, .verify = 1};
    cr_assert_eq(c2s_write(ck, NULL, &v, &res, &err), C2S_ERR_USAGE);
    cr_assert_str_eq(err.msg, "verifying needs an output file, not a stream");
    c2s_close(ck);
    free(bytes);
    free(out);
    free(in);
}

/* No path and no descriptor (opts NULL, or out_fd negative): a usage error
 * before anything is written, and the checkpoint still converts after. */
Test(convert, no_output_is_a_usage_error)
{
    char *in = mixed_checkpoint();
    char *out = tu_path(dir, "after.safetensors");
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK);
    c2s_write_result res = {.tensors = 99};
    cr_assert_eq(c2s_write(ck, NULL, NULL, &res, &err), C2S_ERR_USAGE);
    cr_assert_str_eq(err.msg, "no output: neither a path nor a descriptor");
    cr_assert_eq(res.tensors, 0);
    c2s_write_options o = {.out_fd = -1};
    c2s_error_clear(&err);
    cr_assert_eq(c2s_write(ck, NULL, &o, NULL, &err), C2S_ERR_USAGE);
    cr_assert_str_eq(err.msg, "no output: neither a path nor a descriptor");
    cr_assert_eq(c2s_write(ck, out, NULL, &res, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(res.tensors, 4);
    c2s_close(ck);
    free(out);
    free(in);
}

/* ---- shared storages and bounded gathers ------------------------------------------------ */

#include <zlib.h>

/* A storage of the checkpoints below: its class, element size and bytes. */
typedef struct vsto {
    const char *cls;
    size_t es;
    size_t numel;
    unsigned char *bytes;
} vsto;

/* A view: name, storage index, offset, shape and strides (elements). */
typedef struct vview {
    char name[16];
    int sto;
    int64_t offset;
    size_t ndim;
    int64_t shape[4], stride[4];
} vview;

static vsto make_storage(const char *cls, size_t es, size_t numel, unsigned seed)
{
    vsto s = {cls, es, numel, malloc(es * numel + 1)};
    cr_assert_not_null(s.bytes);
    for (size_t i = 0; i < es * numel; i++)
        s.bytes[i] = (unsigned char)((i * 131u + seed) ^ (i >> 9) ^ (i >> 17));
    return s;
}

/* The bytes of a view in C order, element by element. */
static unsigned char *view_bytes(const vsto *s, const vview *v, size_t *len)
{
    size_t numel = 1;
    for (size_t i = 0; i < v->ndim; i++)
        numel *= (size_t)v->shape[i];
    unsigned char *out = malloc(numel * s->es + 1);
    cr_assert_not_null(out);
    int64_t idx[4] = {0};
    for (size_t e = 0; e < numel; e++) {
        int64_t pos = v->offset;
        for (size_t i = 0; i < v->ndim; i++)
            pos += idx[i] * v->stride[i];
        memcpy(out + e * s->es, s->bytes + (size_t)pos * s->es, s->es);
        for (size_t i = v->ndim; i-- > 0;) {
            if (++idx[i] < v->shape[i])
                break;
            idx[i] = 0;
        }
    }
    *len = numel * s->es;
    return out;
}

/* Write dir/<file> with the storages (keys "0", "1", ...; DEFLATE when
 * deflate) and one tensor per view, plus an optional byteorder record. */
static char *views_checkpoint(const char *file, const vsto *sto, size_t nsto, const vview *vv,
                              size_t nv, int deflate, const char *byteorder)
{
    pb p = {0};
    begin_dict(&p);
    char keys[16][8];
    for (size_t i = 0; i < nsto; i++)
        snprintf(keys[i], sizeof keys[i], "%zu", i);
    for (size_t i = 0; i < nv; i++) {
        pb_str(&p, vv[i].name);
        pb_tensor_v2(&p, sto[vv[i].sto].cls, keys[vv[i].sto], (int64_t)sto[vv[i].sto].numel,
                     vv[i].offset, vv[i].ndim, vv[i].shape, vv[i].stride);
    }
    end_dict(&p);
    zb_entry e[18];
    char names[16][32];
    cr_assert_leq(nsto, 16);
    e[0] = (zb_entry){"archive/data.pkl", p.buf, p.len, 0};
    for (size_t i = 0; i < nsto; i++) {
        snprintf(names[i], sizeof names[i], "archive/data/%zu", i);
        e[i + 1] = (zb_entry){names[i], sto[i].bytes, sto[i].es * sto[i].numel, deflate};
    }
    size_t n = nsto + 1;
    if (byteorder != NULL)
        e[n++] = (zb_entry){"archive/byteorder", byteorder, strlen(byteorder), 0};
    char *in = tu_path(dir, file);
    cr_assert_eq(zb_write(in, e, n), 0);
    pb_free(&p);
    return in;
}

/* Convert with options o; every view's bytes must be exact. */
static void expect_views_with(const char *in, const vsto *sto, const vview *vv, size_t nv,
                              const c2s_write_options *o, c2s_write_result *res)
{
    size_t buffer = o->buffer_size;
    st_file f;
    c2s_error err;
    cr_assert_eq(convert_with(in, o, &f, res, &err), C2S_OK, "buffer %zu: %s", buffer, err.msg);
    for (size_t i = 0; i < nv; i++) {
        size_t len;
        unsigned char *want = view_bytes(&sto[vv[i].sto], &vv[i], &len);
        unsigned char *got = malloc(len + 1);
        read_tensor(&f, vv[i].name, got, len);
        cr_assert(memcmp(got, want, len) == 0, "buffer %zu: tensor %s differs", buffer, vv[i].name);
        free(got);
        free(want);
    }
    st_file_free(&f);
}

/* The same with the given buffer_size. */
static void expect_views(const char *in, const vsto *sto, const vview *vv, size_t nv, size_t buffer)
{
    c2s_write_options o = {.buffer_size = buffer};
    expect_views_with(in, sto, vv, nv, &o, NULL);
}

static void free_storages(vsto *sto, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(sto[i].bytes);
}

/* Transposed views whose span is many times the gather memory (buffer_size
 * 4096: 512-byte slots, 8 KiB per band) are exact, for every element size. */
Test(convert, transposed_views_larger_than_the_gather_memory)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 200 * 384, 1),
                  make_storage("HalfStorage", 2, 300 * 257, 2),
                  make_storage("ByteStorage", 1, 128 * 333, 3),
                  make_storage("DoubleStorage", 8, 90 * 70 + 5, 4),
                  make_storage("ComplexFloatStorage", 8, 33 * 65, 5)};
    vview vv[] = {
        {"f32", 0, 0, 2, {384, 200}, {1, 384}},
        {"f32b", 0, 0, 2, {200, 384}, {384, 1}}, /* the storage itself */
        {"f16", 1, 0, 2, {257, 300}, {1, 257}},
        {"f16half", 1, 3, 2, {100, 300}, {1, 257}}, /* columns 3..102, transposed */
        {"u8", 2, 0, 2, {333, 128}, {1, 333}},
        {"f64", 3, 5, 2, {70, 90}, {1, 70}},
        {"c64", 4, 0, 2, {65, 33}, {1, 65}},
        {"f32t3", 0, 0, 3, {384, 20, 10}, {1, 3840, 384}}, /* (20, 10, 384) permuted */
    };
    char *in = views_checkpoint("t.pt", sto, 5, vv, sizeof vv / sizeof *vv, 0, NULL);
    size_t buffers[] = {4096, 64, 1000, 0};
    for (size_t b = 0; b < 4; b++)
        expect_views(in, sto, vv, sizeof vv / sizeof *vv, buffers[b]);
    free(in);
    free_storages(sto, 5);
}

/* Expanded (stride 0), stepped, permuted, overlapping, offset views, runs
 * long enough to be copied one by one, and views with size-1 dimensions. */
Test(convert, expanded_stepped_and_permuted_views)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 3 * 40000, 6),
                  make_storage("ShortStorage", 2, 64 * 48 * 10, 7)};
    vview vv[] = {
        {"rows", 0, 0, 2, {1000, 300}, {0, 1}}, /* one row, repeated */
        {"cols", 0, 7, 2, {300, 1000}, {1, 0}}, /* one column, repeated */
        {"step", 0, 1, 2, {100, 50}, {400, 3}},
        {"unfold", 0, 0, 2, {500, 20}, {3, 1}},          /* overlapping windows */
        {"longruns", 0, 100, 2, {3, 20000}, {40000, 1}}, /* 80 KB runs */
        {"perm3", 1, 0, 3, {10, 64, 48}, {1, 480, 10}},  /* (64, 48, 10) -> (10, 64, 48) */
        {"perm4", 1, 5, 4, {2, 8, 3, 40}, {10, 1, 0, 48 * 10}},
        {"ones", 1, 9, 4, {1, 40, 1, 7}, {999, 1, 5, 40}},
        {"scalar", 1, 11, 0, {0}, {0}},
    };
    size_t nv = sizeof vv / sizeof *vv;
    char *in = views_checkpoint("e.pt", sto, 2, vv, nv, 0, NULL);
    size_t buffers[] = {4096, 64, 512, 0};
    for (size_t b = 0; b < 4; b++)
        expect_views(in, sto, vv, nv, buffers[b]);
    free(in);
    free_storages(sto, 2);
}

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A random view of up to 4 dimensions within numel elements. */
static vview random_view(uint32_t *rng, int sto, size_t numel, int i)
{
    vview v = {.sto = sto, .ndim = 1 + rng_next(rng) % 4};
    snprintf(v.name, sizeof v.name, "r%03d", i);
    for (;;) {
        int64_t span = 0, prod = 1;
        for (size_t d = v.ndim; d-- > 0;) {
            v.shape[d] = 1 + rng_next(rng) % (d == 0 ? 60 : 14);
            switch (rng_next(rng) % 5) {
            case 0:
                v.stride[d] = 0;
                break;
            case 1:
                v.stride[d] = 1;
                break;
            case 2:
                v.stride[d] = prod;
                break; /* contiguous with the rest */
            case 3:
                v.stride[d] = prod * (1 + rng_next(rng) % 3);
                break;
            default:
                v.stride[d] = 1 + rng_next(rng) % 50;
            }
            prod *= v.shape[d];
            span += (v.shape[d] - 1) * v.stride[d];
        }
        v.offset = rng_next(rng) % 30;
        if (v.offset + span < (int64_t)numel)
            return v;
    }
}

/* Many random views (shapes, zero, unit, contiguous and odd strides) over
 * shared storages, against element-by-element copies, at several memory
 * sizes. */
Test(convert, random_views_exact_bytes)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 30000, 8),
                  make_storage("HalfStorage", 2, 30000, 9),
                  make_storage("ByteStorage", 1, 30000, 10),
                  make_storage("LongStorage", 8, 30000, 11)};
    vview vv[64];
    uint32_t rng = 12345;
    for (int i = 0; i < 64; i++)
        vv[i] = random_view(&rng, i % 4, 30000, i);
    char *in = views_checkpoint("r.pt", sto, 4, vv, 64, 0, NULL);
    size_t buffers[] = {64, 256, 4096, 0};
    for (size_t b = 0; b < 4; b++)
        expect_views(in, sto, vv, 64, buffers[b]);
    free(in);
    free_storages(sto, 4);
}

/* DEFLATE records with the same kinds of views. */
Test(convert, deflate_records_with_views)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 120 * 90, 12),
                  make_storage("ShortStorage", 2, 5000, 20)};
    vview vv[] = {
        {"t", 0, 0, 2, {90, 120}, {1, 90}},      {"q", 0, 0, 2, {40, 90}, {90, 1}},
        {"k", 0, 40 * 90, 2, {40, 90}, {90, 1}}, {"s", 0, 2, 2, {60, 30}, {180, 3}},
        {"part", 1, 100, 1, {50}, {3}}, /* record 1 is read again for its CRC */
    };
    char *in = views_checkpoint("d.pt", sto, 2, vv, 5, 1, NULL);
    expect_views(in, sto, vv, 5, 4096);
    expect_views(in, sto, vv, 5, 0);
    free(in);
    free_storages(sto, 2);
}

/* Gathered elements are byte-swapped (big-endian archive) and converted
 * (--dtype) exactly like the same elements stored contiguously. */
Test(convert, gathers_swap_and_convert_like_contiguous_tensors)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 96 * 70, 13),
                  make_storage("FloatStorage", 4, 96 * 70, 0)};
    vview t = {"t", 0, 0, 2, {96, 70}, {1, 96}};
    size_t len;
    free(sto[1].bytes);
    sto[1].bytes = view_bytes(&sto[0], &t, &len); /* t's elements, contiguous */
    for (size_t i = 0; i < len / 4; i++) {        /* finite floats either way round */
        sto[0].bytes[i * 4] &= 0x3f;
        sto[0].bytes[i * 4 + 3] &= 0x3f;
    }
    free(sto[1].bytes);
    sto[1].bytes = view_bytes(&sto[0], &t, &len);
    vview vv[] = {t, {"u", 1, 0, 2, {96, 70}, {70, 1}}};
    const char *orders[] = {NULL, "big"};
    for (int o = 0; o < 2; o++) {
        char *in = views_checkpoint("s.pt", sto, 2, vv, 2, 0, orders[o]);
        c2s_write_options opts[] =
            {{.buffer_size = 256, .verify = 1},
             {.buffer_size = 256, .convert_dtype = 1, .dtype = C2S_F16, .verify = 1},
             {.buffer_size = 0, .convert_dtype = 1, .dtype = C2S_BF16, .verify = 1}};
        for (size_t k = 0; k < 3; k++) {
            st_file f;
            c2s_error err;
            cr_assert_eq(convert_with(in, &opts[k], &f, NULL, &err), C2S_OK,
                         "order %d, options %zu: %s", o, k, err.msg);
            size_t n = (size_t)(find_tensor(&f, "t")->end - find_tensor(&f, "t")->begin);
            unsigned char *a = malloc(n), *b = malloc(n);
            read_tensor(&f, "t", a, n);
            read_tensor(&f, "u", b, n);
            cr_assert(memcmp(a, b, n) == 0, "byte order %d, options %zu", o, k);
            free(a);
            free(b);
            st_file_free(&f);
        }
        free(in);
    }
    free_storages(sto, 2);
}

/* Offset of the local header (sig "PK\3\4", name at 30) or central entry
 * (sig "PK\1\2", name at 46) of name in a zip image; 0 when missing. */
static size_t find_header(const unsigned char *z, size_t n, const char *sig, size_t name_at,
                          const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + name_at + nl <= n; i++)
        if (memcmp(z + i, sig, 4) == 0 && memcmp(z + i + name_at, name, nl) == 0)
            return i;
    return 0;
}

/* Storage "0" shared by q/k/v slices, a transposed view of q, a tied
 * view of q..v and a stepped view of its tail; the tail's odd elements
 * are read by no tensor. */
static char *shared_checkpoint(vsto *sto, vview *vv, size_t *nv)
{
    *sto = make_storage("FloatStorage", 4, 3 * 64 * 64 + 200, 14);
    const vview views[] = {
        {"q", 0, 0, 2, {64, 64}, {64, 1}},           {"k", 0, 64 * 64, 2, {64, 64}, {64, 1}},
        {"v", 0, 2 * 64 * 64, 2, {64, 64}, {64, 1}}, {"qt", 0, 0, 2, {64, 64}, {1, 64}},
        {"tied", 0, 0, 1, {3 * 64 * 64}, {1}},       {"tail", 0, 3 * 64 * 64, 1, {100}, {2}},
    };
    *nv = sizeof views / sizeof *views;
    memcpy(vv, views, sizeof views);
    return views_checkpoint("shared.pt", sto, 1, vv, *nv, 0, NULL);
}

/* Every byte of a shared record is CRC-checked: one flipped in a slice, in
 * a part only a gather reads, or in a part no tensor reads is refused with
 * the exact message, at every memory size; the clean file converts. */
Test(convert, shared_storage_crc_checked_wherever_the_damage_is)
{
    vsto sto;
    vview vv[8];
    size_t nv;
    char *in = shared_checkpoint(&sto, vv, &nv);
    expect_views(in, &sto, vv, nv, 256);
    expect_views(in, &sto, vv, nv, 0);
    size_t flen;
    unsigned char *clean = tu_read(in, &flen);
    unsigned char *hit = memmem(clean, flen, sto.bytes, 64);
    cr_assert_not_null(hit);
    size_t at = (size_t)(hit - clean), rec = sto.es * sto.numel;
    uint32_t want = (uint32_t)crc32(0L, sto.bytes, (uInt)rec);
    size_t flips[] = {5 * 4 + 1,                  /* q, k, v, tied, qt read it */
                      (3 * 64 * 64 + 10) * 4,     /* only the stepped view reads it */
                      (3 * 64 * 64 + 11) * 4 + 2, /* no tensor reads it */
                      rec - 1};                   /* the last byte, unread */
    size_t buffers[] = {256, 0};
    for (size_t i = 0; i < 4; i++) {
        unsigned char *bad = malloc(flen);
        memcpy(bad, clean, flen);
        bad[at + flips[i]] ^= 0x40;
        uint32_t got = (uint32_t)crc32(0L, bad + at, (uInt)rec);
        cr_assert_eq(tu_write(in, bad, flen), 0);
        for (size_t b = 0; b < 2; b++) {
            c2s_checkpoint *ck;
            c2s_error err;
            cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
            char *out = tu_path(dir, "out.safetensors");
            unlink(out);
            c2s_write_options o = {.buffer_size = buffers[b]};
            cr_assert_eq(c2s_write(ck, out, &o, NULL, &err), C2S_ERR_INPUT, "flip %zu", i);
            cr_assert_eq(err.rule, C2S_RULE_CORRUPT, "flip %zu", i);
            char msg[256];
            snprintf(msg, sizeof msg,
                     "archive/data/0: CRC-32 mismatch (archive "
                     "says %08x, data gives %08x): the file was altered or damaged",
                     want, got);
            cr_assert_str_eq(err.msg, msg);
            cr_assert_eq(tu_exists(out), 0);
            c2s_close(ck);
            free(out);
        }
        free(bad);
    }
    free(clean);
    free(in);
    free(sto.bytes);
}

/* A record whose CRC is recorded as 0 (torch.save without CRCs) is not
 * checked: damaged bytes are copied as they are. */
Test(convert, unrecorded_crc_is_not_checked)
{
    vsto sto;
    vview vv[8];
    size_t nv;
    char *in = shared_checkpoint(&sto, vv, &nv);
    size_t flen;
    unsigned char *z = tu_read(in, &flen);
    size_t local = find_header(z, flen, "PK\x03\x04", 30, "archive/data/0");
    size_t central = find_header(z, flen, "PK\x01\x02", 46, "archive/data/0");
    cr_assert(local > 0 && central > local);
    memset(z + local + 14, 0, 4);
    memset(z + central + 16, 0, 4);
    unsigned char *hit = memmem(z, flen, sto.bytes, 64);
    cr_assert_not_null(hit);
    hit[7] ^= 1;
    sto.bytes[7] ^= 1;
    cr_assert_eq(tu_write(in, z, flen), 0);
    expect_views(in, &sto, vv, nv, 256);
    expect_views(in, &sto, vv, nv, 0);
    free(z);
    free(in);
    free(sto.bytes);
}

/* A record that becomes short while it is copied (the file was truncated
 * after opening): the read fails with the record's name, nothing is left. */
Test(convert, record_truncated_during_the_copy)
{
    vsto sto = make_storage("FloatStorage", 4, 300000, 15);
    vview vv[] = {{"w", 0, 0, 1, {300000}, {1}}, {"t", 0, 0, 2, {500, 600}, {1, 500}}};
    char *in = views_checkpoint("cut.pt", &sto, 1, vv, 2, 0, NULL);
    size_t flen;
    unsigned char *z = tu_read(in, &flen);
    unsigned char *hit = memmem(z, flen, sto.bytes, 64);
    cr_assert_not_null(hit);
    size_t keep = (size_t)(hit - z) + 1000;
    for (int t = 0; t < 2; t++) {
        cr_assert_eq(tu_write(in, z, flen), 0);
        c2s_checkpoint *ck;
        c2s_error err;
        cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(truncate(in, (off_t)keep), 0);
        c2s_write_options o = {.buffer_size = t ? 4096 : 0};
        const char *only[] = {t ? "t" : "w"};
        o.include = only;
        o.ninclude = 1;
        char *out = tu_path(dir, "out.safetensors");
        cr_assert_eq(c2s_write(ck, out, &o, NULL, &err), C2S_ERR_INPUT);
        cr_assert_str_eq(err.msg, "archive/data/0: truncated record");
        cr_assert_eq(tu_exists(out), 0);
        c2s_close(ck);
        free(out);
    }
    free(z);
    free(in);
    free(sto.bytes);
}

/* ---- CRC pieces (crcpipe.h) ---------------------------------------------------------------- */

#include "zip/crcpipe.h"

static c2s_status read_from_memory(void *ctx, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    (void)err;
    memcpy(buf, (const unsigned char *)ctx + off, n);
    return C2S_OK;
}

/* Ranges folded in any order, overlapping, far out of order (so that some
 * are not kept) and past the piece limit give the record's CRC, the gaps
 * read at check time; a damaged byte is reported with the exact message. */
Test(convert, crc_pieces_in_any_order)
{
    size_t size = 3 << 20;
    unsigned char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 11));
    uint32_t want = (uint32_t)crc32(0L, data, (uInt)size);
    uint32_t rng = 99;
    unsigned char scratch[4096];
    for (int round = 0; round < 5; round++) {
        crcpipe_record r = {0};
        crcpipe_record_init(&r, "archive/data/9", want, 1, size);
        size_t nranges = round >= 3 ? 200000 : 3000;
        for (size_t k = 0; k < nranges; k++) {
            uint64_t off, len;
            if (round == 0 || round == 4) { /* ascending, with holes; 4: past the piece limit */
                off = round == 4 ? (k % 100000) * 15 + (k >= 100000 ? 8 : 0) : k * 1000;
                len = round == 4 ? 8 - (k >= 100000) : 600; /* then the holes */
            } else if (round == 1) {                        /* backwards */
                off = size - (k + 1) * 1000;
                len = 700;
            } else { /* random, overlapping */
                off = rng_next(&rng) % size;
                len = 1 + rng_next(&rng) % (round == 3 ? 16 : 5000);
            }
            if (off >= size)
                continue;
            if (len > size - off)
                len = size - off;
            crcpipe_record_add(&r, off, data + off, (size_t)len);
        }
        c2s_error err;
        cr_assert_eq(crcpipe_record_check(&r, read_from_memory, data, scratch, sizeof scratch,
                                          &err),
                     C2S_OK, "round %d: %s", round, err.msg);
        cr_assert_leq(r.npieces, CRCPIPE_MAX_PIECES);
        crcpipe_record_free(&r);
    }
    /* a damaged byte inside a piece, and one in a gap */
    for (int gap = 0; gap < 2; gap++) {
        crcpipe_record r = {0};
        crcpipe_record_init(&r, "archive/data/9", want, 1, size);
        crcpipe_record_add(&r, 0, data, size / 2);
        unsigned char *bad = malloc(size);
        memcpy(bad, data, size);
        bad[gap ? size - 5 : 17] ^= 4;
        crcpipe_record_add(&r, size / 2 + 100, bad + size / 2 + 100, 1000);
        if (!gap) {
            crcpipe_record_free(&r);
            crcpipe_record_init(&r, "archive/data/9", want, 1, size);
            crcpipe_record_add(&r, 0, bad, size / 2);
        }
        c2s_error err;
        cr_assert_eq(crcpipe_record_check(&r, read_from_memory, bad, scratch, sizeof scratch, &err),
                     C2S_ERR_INPUT);
        char msg[200];
        snprintf(msg, sizeof msg,
                 "archive/data/9: CRC-32 mismatch (archive says %08x, data gives %08x): the file "
                 "was altered or damaged",
                 want, (uint32_t)crc32(0L, bad, (uInt)size));
        cr_assert_str_eq(err.msg, msg);
        crcpipe_record_free(&r);
        free(bad);
    }
    /* no CRC recorded: never checked */
    crcpipe_record r = {0};
    crcpipe_record_init(&r, "archive/data/9", 0, 0, size);
    c2s_error err;
    cr_assert_eq(crcpipe_record_check(&r, read_from_memory, data, scratch, sizeof scratch, &err),
                 C2S_OK);
    crcpipe_record_free(&r);
    free(data);
}

/* The pipe's thread reads ranges from a descriptor into the caller's
 * buffers and CRCs them; tickets say when a buffer is filled. */
Test(convert, crc_pipe_reads_on_its_thread)
{
    size_t size = 1 << 20;
    unsigned char *data = malloc(size), *copy = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 13 + (i >> 9));
    char *path = tu_path(dir, "raw.bin");
    cr_assert_eq(tu_write(path, data, size), 0);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    crcpipe p;
    crcpipe_start(&p);
    crcpipe_record r = {0};
    crcpipe_record_init(&r, "archive/data/5", (uint32_t)crc32(0L, data, (uInt)size), 1, size);
    crcpipe_range one[64];
    uint64_t last = 0;
    for (size_t k = 0; k < 64; k++) { /* 64 blocks, as single ranges and a vector */
        size_t len = size / 64;
        one[k] = (crcpipe_range){(63 - k) * len, copy + (63 - k) * len, len};
        if (k < 32)
            last = crcpipe_submit(&p, &r, fd, 0, &one[k], 1);
    }
    last = crcpipe_submit(&p, &r, fd, 0, &one[32], 32);
    cr_assert_eq(crcpipe_wait(&p, last), C2S_OK);
    cr_assert(memcmp(copy, data, size) == 0);
    crcpipe_finish(&p);
    unsigned char scratch[256];
    c2s_error err;
    cr_assert_eq(crcpipe_record_missing(&r), 0);
    cr_assert_eq(crcpipe_record_check(&r, read_from_memory, data, scratch, sizeof scratch, &err),
                 C2S_OK, "%s", err.msg);
    crcpipe_record_free(&r);
    /* a read past the end of the file fails the pipe with the record's name */
    crcpipe_start(&p);
    crcpipe_record_init(&r, "archive/data/5", 0, 0, 2 * size);
    crcpipe_range tail = {size - 10, copy, 20};
    crcpipe_range more = {0, copy, 10};
    crcpipe_submit(&p, &r, fd, 0, &tail, 1);
    uint64_t t = crcpipe_submit(&p, &r, fd, 0, &more, 1);
    cr_assert_eq(crcpipe_wait(&p, t), C2S_ERR_INPUT);
    cr_assert_str_eq(crcpipe_error(&p)->msg, "archive/data/5: truncated record");
    crcpipe_finish(&p);
    crcpipe_record_free(&r);
    close(fd);
    free(path);
    free(data);
    free(copy);
}

/* Transposes with the default memory: whole source rows as segments (read
 * together), and a 32 MiB tensor in bands of 2 KiB segments. */
Test(convert, big_transposes_with_the_default_memory)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 20 * 70000, 16),
                  make_storage("FloatStorage", 4, 8192 * 1024, 17),
                  make_storage("HalfStorage", 2, 300 * 2048, 18)};
    vview vv[] = {
        {"wide", 0, 0, 2, {70000, 20}, {1, 70000}},
        {"big", 1, 0, 2, {1024, 8192}, {1, 1024}},
        {"half", 2, 0, 2, {2048, 300}, {1, 2048}},
    };
    char *in = views_checkpoint("big.pt", sto, 3, vv, 3, 0, NULL);
    expect_views(in, sto, vv, 3, 0);
    free(in);
    free_storages(sto, 3);
}

/* Hundreds of small tensors packed into the copy slots, more jobs than the
 * pipe's ring holds at once. */
Test(convert, many_small_tensors)
{
    vsto sto = make_storage("FloatStorage", 4, 5000, 19);
    static vview vv[700];
    for (int i = 0; i < 700; i++) {
        vv[i] = (vview){.sto = 0,
                        .offset = (i * 7) % 4990,
                        .ndim = 1,
                        .shape = {1 + i % 9},
                        .stride = {1}};
        snprintf(vv[i].name, sizeof vv[i].name, "s%03d", i);
    }
    char *in = views_checkpoint("many.pt", &sto, 1, vv, 700, 0, NULL);
    expect_views(in, &sto, vv, 700, 0);
    expect_views(in, &sto, vv, 700, 64);
    free(in);
    free(sto.bytes);
}

/* Direct I/O: the same bytes whichever way the file is written, and with
 * ALWAYS every whole slot (1 MiB by default, 64 KiB with a 512 KiB
 * buffer) goes around the page cache: all of the file but its last partial
 * slot, which is written through it.  Where the file system has no direct
 * I/O (the probe says so), nothing goes around it and all still works.
 * The checkpoint mixes what reaches the ring by each path: the header,
 * contiguous tensors read straight into it, a gathered transpose, a
 * converted tensor. */
Test(convert, direct_io_same_bytes_whole_slots_around_the_cache)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 700 * 1024, 21),
                  make_storage("HalfStorage", 2, 1000 * 333, 22),
                  make_storage("ByteStorage", 1, 12345, 23)};
    vview vv[] = {
        {"a_big", 0, 0, 1, {700 * 1024}, {1}},
        {"b_transposed", 1, 0, 2, {333, 1000}, {1, 333}},
        {"c_odd", 2, 1, 1, {12340}, {1}},
        {"d_slice", 0, 4096, 2, {300, 1024}, {1024, 1}},
    };
    char *in = views_checkpoint("dio.pt", sto, 3, vv, 4, 0, NULL);
    int works = tu_direct_io_works(dir);
    size_t buffers[] = {0, 512 << 10}, slots[] = {1 << 20, 64 << 10};
    c2s_direct_io modes[] = {C2S_DIRECT_ALWAYS, C2S_DIRECT_NEVER, C2S_DIRECT_AUTO};
    for (size_t b = 0; b < 2; b++)
        for (size_t m = 0; m < 3; m++) {
            c2s_write_options o = {.buffer_size = buffers[b], .direct_io = modes[m]};
            c2s_write_result res;
            expect_views_with(in, sto, vv, 4, &o, &res);
            uint64_t whole = res.file_bytes / slots[b] * slots[b];
            cr_assert_gt(whole, 0);
            if (modes[m] == C2S_DIRECT_ALWAYS)
                cr_assert_eq(res.direct_bytes, works ? whole : 0,
                             "buffer %zu: %llu bytes direct of %llu (direct I/O here: %d)",
                             buffers[b], (unsigned long long)res.direct_bytes,
                             (unsigned long long)res.file_bytes, works);
            if (modes[m] == C2S_DIRECT_NEVER)
                cr_assert_eq(res.direct_bytes, 0);
        }
    /* AUTO: a file this small fits the kernel's room (when it is known and
     * not nearly used up), unless many jobs share it: each gets room / jobs */
    uint64_t room = outfile_writeback_room();
    for (unsigned jobs = 1; jobs != 0; jobs = jobs == 1 ? UINT_MAX : 0) {
        c2s_write_options o = {.direct_io = C2S_DIRECT_AUTO, .jobs = jobs};
        c2s_write_result res;
        expect_views_with(in, sto, vv, 4, &o, &res);
        uint64_t whole = res.file_bytes >> 20 << 20;
        if (room != UINT64_MAX && room > (1u << 30))
            cr_assert_eq(res.direct_bytes, jobs == 1 || !works ? 0 : whole, "jobs %u", jobs);
    }
    /* with --dtype the ring gets converted elements: still whole slots */
    c2s_write_options o = {.direct_io = C2S_DIRECT_ALWAYS, .convert_dtype = 1, .dtype = C2S_F16};
    c2s_write_result res;
    st_file f;
    c2s_error err;
    cr_assert_eq(convert_with(in, &o, &f, &res, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(res.direct_bytes, works ? res.file_bytes >> 20 << 20 : 0);
    const st_tensor *t = find_tensor(&f, "a_big");
    cr_assert_not_null(t);
    cr_assert_str_eq(t->dtype, "F16");
    st_file_free(&f);
    free(in);
    free_storages(sto, 3);
}

/* ---- --verify catches what it should ------------------------------------------ */

/* Flip the byte at file offset off of path. */
static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x5a;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* verify_output on a file converted without it: it passes, and fails
 * naming the tensor and the byte when one byte of a tensor is changed,
 * for a contiguous tensor, a transposed view larger than verify's line
 * cache (12 MiB against 8), an expanded one and a stepped 3-d one. */
Test(convert, verify_catches_a_changed_byte_in_any_view)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 2048 * 1536, 31),
                  make_storage("HalfStorage", 2, 4000, 32)};
    vview vv[] = {
        {"contig", 1, 0, 1, {4000}, {1}},
        {"expanded", 1, 7, 2, {300, 50}, {0, 1}},
        {"stepped3d", 1, 1, 3, {10, 6, 5}, {300, 40, 3}},
        {"transposed", 0, 0, 2, {1536, 2048}, {1, 1536}},
    };
    char *in = views_checkpoint("ver.pt", sto, 2, vv, 4, 0, NULL);
    char *out = tu_path(dir, "ver.safetensors");
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_OK, "%s", err.msg);
    /* the plan c2s_write made: the same inputs give the same one */
    const tmap *m = &ck->map;
    stw_entry e[4];
    for (size_t i = 0; i < m->ntensors; i++)
        e[i] = (stw_entry){m->tensors[i].name,
                           m->tensors[i].dtype,
                           m->tensors[i].ndim,
                           m->tensors[i].shape,
                           m->tensors[i].nbytes,
                           0,
                           i};
    unsigned char *header;
    size_t header_len;
    uint64_t data_len;
    cr_assert_eq(stw_plan(e, m->ntensors, NULL, 0, &header, &header_len, &data_len, &err), C2S_OK);
    free(header);
    cr_assert_eq(verify_output(ck, out, e, m->ntensors, header_len, NULL, NULL, &err), C2S_OK, "%s",
                 err.msg);
    for (size_t i = 0; i < m->ntensors; i++) {
        uint64_t at = e[i].nbytes * 5 / 7; /* somewhere inside, not at an edge */
        flip_byte(out, header_len + e[i].begin + at);
        cr_assert_eq(verify_output(ck, out, e, m->ntensors, header_len, NULL, NULL, &err),
                     C2S_ERR_INPUT, "%s: the change went unnoticed", e[i].name);
        char want[200];
        snprintf(want, sizeof want,
                 "verify: tensor '%s': written byte %llu differs from the source", e[i].name,
                 (unsigned long long)(e[i].begin + at));
        cr_assert_str_eq(err.msg, want);
        flip_byte(out, header_len + e[i].begin + at); /* back */
    }
    cr_assert_eq(verify_output(ck, out, e, m->ntensors, header_len, NULL, NULL, &err), C2S_OK, "%s",
                 err.msg);
    c2s_close(ck);
    free(out);
    free(in);
    free_storages(sto, 2);
}

/* Big contiguous tensors are compared in blocks of 2^18 elements, shared
 * between this thread and verify's helper thread: a byte changed in any
 * block is reported exactly, whichever thread compared it, and with two
 * changed the first in the file is, as one thread would report it; so with
 * a --dtype conversion (each block converted on its thread's lane), and so
 * when the file is read back with O_DIRECT. */
Test(convert, verify_in_two_lanes_reports_the_first_difference)
{
    vsto sto[] = {make_storage("FloatStorage", 4, 5 << 18, 41),
                  make_storage("FloatStorage", 4, 3 << 18, 42)};
    for (size_t i = 0; i < sto[0].numel; i++) /* finite: the F16 output is compared */
        sto[0].bytes[i * 4 + 3] &= 0x3f;
    for (size_t i = 0; i < sto[1].numel; i++)
        sto[1].bytes[i * 4 + 3] &= 0x3f;
    vview vv[] = {{"a", 0, 0, 1, {5 << 18}, {1}}, {"b", 1, 0, 1, {3 << 18}, {1}}};
    char *in = views_checkpoint("lanes.pt", sto, 2, vv, 2, 0, NULL);
    char *out = tu_path(dir, "lanes.safetensors");
    for (int run = 0; run < 4; run++) {
        int f16 = run & 1;
        /* runs 2 and 3 read the file back with O_DIRECT, as after a write
         * around the page cache (offsets not aligned: the blocks around) */
        const verify_read direct = {0, 4096}, *how = run >= 2 ? &direct : NULL;
        c2s_checkpoint *ck;
        c2s_error err;
        cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
        c2s_write_options o = {.force = 1, .convert_dtype = f16, .dtype = C2S_F16};
        cr_assert_eq(c2s_write(ck, out, &o, NULL, &err), C2S_OK, "%s", err.msg);
        const tmap *m = &ck->map;
        stw_entry e[2];
        for (size_t i = 0; i < 2; i++)
            e[i] = (stw_entry){m->tensors[i].name,
                               f16 ? C2S_F16 : C2S_F32,
                               m->tensors[i].ndim,
                               m->tensors[i].shape,
                               m->tensors[i].numel * (f16 ? 2 : 4),
                               0,
                               i};
        unsigned char *header;
        size_t header_len;
        uint64_t data_len;
        cr_assert_eq(stw_plan(e, 2, NULL, 0, &header, &header_len, &data_len, &err), C2S_OK);
        free(header);
        c2s_write_options vo = {.convert_dtype = f16, .dtype = C2S_F16};
        cr_assert_eq(verify_output(ck, out, e, 2, header_len, &vo, how, &err), C2S_OK, "%s",
                     err.msg);
        uint64_t block = (uint64_t)1 << 18 << (f16 ? 1 : 2);   /* output bytes of a block */
        for (uint64_t at = 1000; at < data_len; at += block) { /* one byte in each block */
            flip_byte(out, header_len + at);
            cr_assert_eq(verify_output(ck, out, e, 2, header_len, &vo, how, &err), C2S_ERR_INPUT,
                         "a change at %llu went unnoticed", (unsigned long long)at);
            const char *name = at < e[1].begin ? "a" : "b";
            char want[200];
            snprintf(want, sizeof want,
                     "verify: tensor '%s': written byte %llu differs from the source", name,
                     (unsigned long long)at);
            cr_assert_str_eq(err.msg, want);
            flip_byte(out, header_len + at);
        }
        /* two changes: the first in the file is reported, in every pair */
        for (uint64_t a = 7; a < data_len; a += 3 * block)
            for (uint64_t b = a + block; b < data_len; b += 2 * block) {
                flip_byte(out, header_len + a);
                flip_byte(out, header_len + b);
                cr_assert_eq(verify_output(ck, out, e, 2, header_len, &vo, how, &err),
                             C2S_ERR_INPUT);
                char want[200];
                snprintf(want, sizeof want,
                         "verify: tensor '%s': written byte %llu differs from the source",
                         a < e[1].begin ? "a" : "b", (unsigned long long)a);
                cr_assert_str_eq(err.msg, want);
                flip_byte(out, header_len + a);
                flip_byte(out, header_len + b);
            }
        cr_assert_eq(verify_output(ck, out, e, 2, header_len, &vo, how, &err), C2S_OK, "%s",
                     err.msg);
        c2s_close(ck);
    }
    free(out);
    free(in);
    free_storages(sto, 2);
}

/* The input is opened once: replacing the path after c2s_open changes
 * nothing, the bytes written are those of the file that was judged. */
Test(convert, replaced_input_still_writes_the_judged_file)
{
    size_t len, want_len, got_len;
    unsigned char *orig = tu_read("fixtures/sample.ckpt", &len);
    unsigned char *want = tu_read("fixtures/sample.expected.safetensors", &want_len);
    cr_assert(orig && want);
    char *in = tu_path(dir, "in.ckpt"), *other = tu_path(dir, "other");
    char *out = tu_path(dir, "out.safetensors");
    cr_assert_eq(tu_write(in, orig, len), 0);
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_OK, "%s", err.msg);
    /* same size, other bytes: a swapped file that would still parse as far
     * as its length goes, then renamed over the path */
    memset(orig, 'x', len);
    cr_assert_eq(tu_write(other, orig, len), 0);
    cr_assert_eq(rename(other, in), 0);
    cr_assert_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_OK, "%s", err.msg);
    c2s_close(ck);
    unsigned char *got = tu_read(out, &got_len);
    cr_assert_not_null(got);
    cr_assert_eq(got_len, want_len);
    cr_assert_eq(memcmp(got, want, want_len), 0);
    free(got);
    free(orig);
    free(want);
    free(in);
    free(other);
    free(out);
}

/* torch.load types a storage by the first persistent id naming its key,
 * even one outside the root: a root tensor that reads the same key as
 * another type would get other values from torch, so it is refused. */
Test(convert, storage_typed_by_its_first_persistent_id)
{
    pb p = {0};
    int64_t size[1] = {1}, stride[1] = {1};
    begin_dict(&p);
    pb_str(&p, "first");
    pb_tensor_v2(&p, "FloatStorage", "0", 1, 0, 1, size, stride);
    pb_str(&p, "state_dict");
    pb_empty_dict(&p);
    pb_mark(&p);
    pb_str(&p, "w");
    pb_tensor_v2(&p, "IntStorage", "0", 1, 0, 1, size, stride);
    pb_setitems(&p);
    end_dict(&p);
    char *in = tu_path(dir, "in.pt");
    const char *keys[] = {"0"};
    const void *data[] = {"\1\0\0\0"};
    size_t lens[] = {4};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 1, keys, data, lens), 0);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "storage '0' is first named as a F32 storage, which torch.load "
                              "keeps, but its tensors read it as I32");
    free(in);
    free(p.buf);
}

/* The same check over several ids: one for a key the map does not hold,
 * one that agrees, then the first id of storage "2", out of the map's order
 * (the map met "1", "0", "2"), naming another type: refused by its key. */
Test(convert, storage_first_ids_out_of_the_maps_order)
{
    pb p = {0};
    int64_t size[1] = {1}, stride[1] = {1};
    begin_dict(&p);
    pb_str(&p, "y");
    pb_tensor_v2(&p, "FloatStorage", "5", 1, 0, 1, size, stride);
    pb_str(&p, "z");
    pb_tensor_v2(&p, "IntStorage", "1", 1, 0, 1, size, stride);
    pb_str(&p, "x");
    pb_tensor_v2(&p, "FloatStorage", "2", 1, 0, 1, size, stride);
    pb_str(&p, "state_dict");
    pb_empty_dict(&p);
    pb_mark(&p);
    pb_str(&p, "a");
    pb_tensor_v2(&p, "IntStorage", "1", 1, 0, 1, size, stride);
    pb_str(&p, "b");
    pb_tensor_v2(&p, "FloatStorage", "0", 1, 0, 1, size, stride);
    pb_str(&p, "c");
    pb_tensor_v2(&p, "IntStorage", "2", 1, 0, 1, size, stride);
    pb_setitems(&p);
    end_dict(&p);
    char *in = tu_path(dir, "in.pt");
    const char *keys[] = {"0", "1", "2", "5"};
    const void *data[] = {"\1\0\0\0", "\2\0\0\0", "\3\0\0\0", "\4\0\0\0"};
    size_t lens[] = {4, 4, 4, 4};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 4, keys, data, lens), 0);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    cr_assert_eq(c2s_open(in, NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "storage '2' is first named as a F32 storage, which torch.load "
                              "keeps, but its tensors read it as I32");
    free(in);
    free(p.buf);
}
