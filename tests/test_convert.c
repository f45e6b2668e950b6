/*
 * test_convert.c - the engine end to end (c2s_open + c2s_write) on archives
 * built in the test: exact output bytes for every kind of view, byte order,
 * CRC failures, and the promise that nothing is left behind on failure.
 */
#include <criterion/criterion.h>
#include <fcntl.h>

#include "c2s.h"
#include "pickle_builder.h"
#include "test_util.h"
#include "zip_builder.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); cr_assert_not_null(dir); }
static void teardown(void) { tu_rmdir(dir); dir = NULL; }

TestSuite(convert, .init = setup, .fini = teardown);

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
static unsigned char *convert(pb *p, size_t n, const char *const *keys,
                              const void *const *data, const size_t *lens,
                              const char *extra_entry, size_t *out_len, c2s_error *err)
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
    pb_str(&p, "full");   /* 3x4 contiguous */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 0, 2, (int64_t[]){3, 4}, (int64_t[]){4, 1});
    pb_str(&p, "t");      /* its transpose: 4x3 */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 0, 2, (int64_t[]){4, 3}, (int64_t[]){1, 4});
    pb_str(&p, "slice");  /* elements 5..7 */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 5, 1, (int64_t[]){3}, (int64_t[]){1});
    pb_str(&p, "exp");    /* row 1 expanded to 2x4 (stride 0) */
    pb_tensor_v2(&p, "FloatStorage", "0", 12, 4, 2, (int64_t[]){2, 4}, (int64_t[]){0, 1});
    pb_str(&p, "step");   /* columns 0 and 2 of each row: 3x2 */
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
    cr_assert_str_eq(header_of(f, hdr, sizeof hdr),
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"exp\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
        "\"full\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[32,80]},"
        "\"slice\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[80,92]},"
        "\"step\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[92,116]},"
        "\"t\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[116,164]}}       ");
    size_t n;
    const float *d = (const float *)(const void *)data_of(f, len, &n);
    cr_assert_eq(n, 164);
    const float want[] = {4, 5, 6, 7, 4, 5, 6, 7,                   /* exp */
                          0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,     /* full */
                          5, 6, 7,                                  /* slice */
                          0, 2, 4, 6, 8, 10,                        /* step */
                          0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};    /* t */
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
    static const unsigned char want[] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
                                         0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0,
                                         0x02, 0x01, 7, 9};
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
    cr_assert_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_ERR_REFUSED);
    cr_assert(strstr(err.msg, "refused by the safety policy: archive/data/0: CRC-32 mismatch") ==
                  err.msg, "%s", err.msg);
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
    c2s_write_options wo = {.cancel = &flag, .progress = cancel_after_first_block,
                            .progress_ctx = (void *)&flag, .buffer_size = 1024};
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
    snprintf(want, sizeof want, "output exists: %s (use -f to overwrite)", out);
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
    cr_assert_str_eq(err.msg, "tensor 'z' is a complex128, which safetensors cannot store "
                              "(--skip-unsupported drops such tensors)");
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

#include "sha256.h"
#include "stread.h"

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
    cr_assert_str_eq(err.msg, "no tensor left to write after --include/--exclude");
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
    cr_assert_str_eq(err.msg, "--dtype converts to f16, bf16 or f32 only");
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
    const char *want[][2] = {{"format", "pt"}, {"source", "unit test"}, {"epoch", "user wins"},
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
    cr_assert_str_eq(err.msg, "--verify needs an output file, not a stream");
    c2s_close(ck);
    free(bytes);
    free(out);
    free(in);
}
