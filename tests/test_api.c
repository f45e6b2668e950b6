/*
 * test_api.c - Criterion tests of the public API alone (include/c2s.h):
 * what a program using the library sees, with no private header included.
 *
 * The tensor accessors are checked against the bundled sample checkpoint and
 * its expected safetensors file (the same tensors `--list` shows), the
 * options against limits and globals each of which must reach the layer it
 * is meant for, and the small-file helpers against known digests and the
 * atomic-replacement rules.  Every assertion is on exact values.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "c2s.h"
#include "test_util.h"

#define SAMPLE "fixtures/sample.ckpt"
#define SAMPLE_ST "fixtures/sample.expected.safetensors"

static void expect_tensor(c2s_tensor_info t, const char *name, c2s_dtype dt, size_t ndim,
                          const uint64_t *shape, uint64_t nbytes)
{
    cr_assert_str_eq(t.name, name);
    cr_assert_eq(t.dtype, dt, "%s: dtype %s", name, c2s_dtype_name(t.dtype));
    cr_assert_eq(t.ndim, ndim, "%s: ndim %zu", name, t.ndim);
    for (size_t i = 0; i < ndim; i++)
        cr_assert_eq(t.shape[i], shape[i], "%s: dim %zu is %llu", name, i,
                     (unsigned long long)t.shape[i]);
    cr_assert_eq(t.nbytes, nbytes, "%s: %llu bytes", name, (unsigned long long)t.nbytes);
    cr_assert_eq(t.supported, 1, "%s unsupported", name);
}

static c2s_checkpoint *open_ok(const char *path, const c2s_open_options *o)
{
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_open(path, o, &ck, &err), C2S_OK, "%s: %s", path, err.msg);
    cr_assert_not_null(ck);
    return ck;
}

/* ---- checkpoints ------------------------------------------------------------ */

Test(api, tensors_of_the_sample_in_file_order)
{
    c2s_checkpoint *ck = open_ok(SAMPLE, NULL);
    cr_assert_eq(c2s_tensor_count(ck), 11);
    expect_tensor(c2s_tensor_at(ck, 0), "features.0.weight", C2S_F32, 4,
                  (const uint64_t[]){8, 3, 3, 3}, 864);
    expect_tensor(c2s_tensor_at(ck, 6), "features.1.num_batches_tracked", C2S_I64, 0, NULL, 8);
    expect_tensor(c2s_tensor_at(ck, 7), "features.3.weight", C2S_F32, 4,
                  (const uint64_t[]){8, 8, 3, 3}, 2304);
    expect_tensor(c2s_tensor_at(ck, 10), "classifier.bias", C2S_F32, 1, (const uint64_t[]){10}, 40);
    cr_assert_null(c2s_tensor_at(ck, 11).name);
    cr_assert_null(c2s_tensor_at(ck, (size_t)-1).name);
    cr_assert_str_eq(c2s_root(ck), "state_dict");
    cr_assert_eq(c2s_storage_count(ck), 11);
    cr_assert_eq(c2s_big_endian(ck), 0);
    cr_assert_eq(c2s_note_count(ck), 1);
    cr_assert_str_eq(c2s_note_at(ck, 0), "left out: optimizer_states (24 tensors)");
    cr_assert_null(c2s_note_at(ck, 1));
    c2s_close(ck);
}

Test(api, unsupported_tensor_says_what_it_is)
{
    c2s_checkpoint *ck = open_ok("fixtures/good/complex128_skip.pt", NULL);
    cr_assert_eq(c2s_tensor_count(ck), 3);
    c2s_tensor_info z = c2s_tensor_at(ck, 1);
    cr_assert_str_eq(z.name, "z");
    cr_assert_eq(z.supported, 0);
    cr_assert_str_eq(z.why, "complex128");
    expect_tensor(c2s_tensor_at(ck, 2), "idx", C2S_I32, 1, (const uint64_t[]){2}, 8);
    cr_assert_str_eq(c2s_root(ck), "");
    cr_assert_eq(c2s_note_count(ck), 0);
    c2s_close(ck);
}

/* Each limit, set to 1 alone, stops the sample at the stage it belongs to. */
Test(api, every_limit_reaches_its_stage)
{
    static const struct {
        c2s_limits limits;
        c2s_rule rule;
        const char *msg;
    } CASES[] = {
        {{.max_pickle = 1},
         C2S_RULE_MAX_PICKLE,
         "archive/data.pkl is 3331 bytes, more than the limit of 1"},
        {{.max_objects = 1},
         C2S_RULE_MAX_OBJECTS,
         "archive/data.pkl: pickle: limit exceeded: more than 1 objects"},
        {{.max_memo = 1},
         C2S_RULE_MAX_MEMO,
         "archive/data.pkl: pickle: limit exceeded: more than 1 memo entries"},
        {{.max_stack = 1},
         C2S_RULE_MAX_STACK,
         "archive/data.pkl: pickle: limit exceeded: more than 1 stack entries"},
        {{.max_string = 1},
         C2S_RULE_MAX_STRING,
         "archive/data.pkl: pickle: limit exceeded: more than 1 bytes in one string"},
        {{.max_container = 1},
         C2S_RULE_MAX_CONTAINER,
         "archive/data.pkl: pickle: limit exceeded: more than 1 items in one container"},
        {{.max_depth = 1}, C2S_RULE_MAX_DEPTH, "nesting deeper than 1 levels at '(top level)'"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        c2s_open_options o = {.limits = CASES[i].limits};
        c2s_checkpoint *ck = NULL;
        c2s_error err;
        c2s_error_clear(&err);
        cr_assert_eq(c2s_open(SAMPLE, &o, &ck, &err), C2S_ERR_INPUT, "case %zu opened", i);
        cr_assert_null(ck);
        cr_assert_eq(err.rule, CASES[i].rule, "case %zu: rule %d", i, (int)err.rule);
        cr_assert_str_eq(err.msg, CASES[i].msg);
    }
}

Test(api, unknown_global_refused_unless_allowed_or_permissive)
{
    const char *path = "fixtures/good/subclass.pt";
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_open(path, NULL, &ck, &err), C2S_ERR_REFUSED);
    cr_assert_eq(err.rule, C2S_RULE_POLICY);
    cr_assert_str_eq(err.subject, "__main__.MyTensor");

    const char *near[] = {"__main__.MyTensorX"};
    c2s_open_options o = {.allow = near, .nallow = 1};
    cr_assert_eq(c2s_open(path, &o, &ck, &err), C2S_ERR_REFUSED, "a near name allowed it");

    const char *exact[] = {"__main__.MyTensorX", "__main__.MyTensor"};
    o = (c2s_open_options){.allow = exact, .nallow = 2};
    c2s_close(open_ok(path, &o));
    o = (c2s_open_options){.permissive = 1};
    c2s_close(open_ok(path, &o));
}

Test(api, scan_report_in_public_terms)
{
    c2s_report r;
    cr_assert_eq(c2s_scan("fixtures/hostile/build_unknown_state.pt", NULL, &r), C2S_ERR_REFUSED);
    cr_assert_eq(r.verdict, C2S_VERDICT_UNSAFE);
    cr_assert_str_eq(r.format, "zip");
    cr_assert_eq(r.nglobals, 4);
    cr_assert_eq(r.findings.n, 0);
    const c2s_global_use *g = &r.globals[3];
    cr_assert_str_eq(g->module, "__main__");
    cr_assert_str_eq(g->name, "Evil");
    cr_assert_eq(g->cls, C2S_GLOBAL_UNKNOWN);
    cr_assert_eq(g->uses, C2S_USE_REF | C2S_USE_NEWOBJ | C2S_USE_BUILD);
    cr_assert_str_eq(g->pickle, "archive/data.pkl");
    cr_assert_eq(g->offset, 154);
    cr_assert_eq(r.globals[0].cls, C2S_GLOBAL_ALLOWED);
    cr_assert_eq(r.globals[0].uses, C2S_USE_REF | C2S_USE_REDUCE);
    c2s_report_free(&r);

    cr_assert_eq(c2s_scan("fixtures/hostile/after_stop_payload.pt", NULL, &r), C2S_ERR_REFUSED);
    cr_assert_eq(r.findings.n, 1);
    cr_assert_str_eq(r.findings.items[0], "archive/data.pkl has 61 bytes after its STOP opcode");
    c2s_report_free(&r);
}

Test(api, names_of_classes_uses_and_dtypes)
{
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_ALLOWED), "allowed");
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_DATA), "data");
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_UNKNOWN), "unknown");
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_DANGEROUS), "dangerous");
    cr_assert_str_eq(c2s_global_class_name((c2s_global_class)4), "?");
    char buf[64];
    cr_assert_str_eq(c2s_uses_text(C2S_USE_REF, buf, sizeof buf), "referenced");
    cr_assert_str_eq(c2s_uses_text(C2S_USE_REF | C2S_USE_BUILD | C2S_USE_REDUCE, buf, sizeof buf),
                     "REDUCE,BUILD");
    cr_assert_str_eq(c2s_uses_text(C2S_USE_OBJ | C2S_USE_INST | C2S_USE_NEWOBJ, buf, sizeof buf),
                     "NEWOBJ,INST,OBJ");
    cr_assert_str_eq(c2s_dtype_name(C2S_BF16), "BF16");
    cr_assert_str_eq(c2s_dtype_name(C2S_F8_E8M0), "F8_E8M0");
    cr_assert_eq(c2s_dtype_size(C2S_C64), 8);
    cr_assert_eq(c2s_dtype_size(C2S_BOOL), 1);
    cr_assert_str_eq(c2s_dtype_name(C2S_DTYPE_COUNT), "?");
    cr_assert_eq(c2s_dtype_size(C2S_DTYPE_COUNT), 0);
    cr_assert_str_eq(c2s_dtype_name((c2s_dtype)-1), "?");
}

/* ---- safetensors files --------------------------------------------------------- */

static void expect_sample_st(const c2s_safetensors *st)
{
    cr_assert_eq(c2s_safetensors_count(st), 11);
    expect_tensor(c2s_safetensors_tensor_at(st, 0), "features.1.num_batches_tracked", C2S_I64, 0,
                  NULL, 8);
    expect_tensor(c2s_safetensors_tensor_at(st, 10), "features.3.weight", C2S_F32, 4,
                  (const uint64_t[]){8, 8, 3, 3}, 2304);
    cr_assert_null(c2s_safetensors_tensor_at(st, 11).name);
    cr_assert_eq(c2s_safetensors_data_bytes(st), 3728);
    cr_assert_eq(c2s_safetensors_metadata_count(st), 1);
    const char *key, *value;
    c2s_safetensors_metadata_at(st, 0, &key, &value);
    cr_assert_str_eq(key, "format");
    cr_assert_str_eq(value, "pt");
    c2s_safetensors_metadata_at(st, 1, &key, &value);
    cr_assert(key == NULL && value == NULL);
}

Test(api, safetensors_header_by_path_and_by_descriptor)
{
    c2s_safetensors *st = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_safetensors_open(SAMPLE_ST, &st, &err), C2S_OK, "%s", err.msg);
    expect_sample_st(st);
    c2s_safetensors_close(st);

    int fd = open(SAMPLE_ST, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(c2s_safetensors_open_fd(fd, &st, &err), C2S_OK, "%s", err.msg);
    close(fd);
    expect_sample_st(st);
    c2s_safetensors_close(st);
    c2s_safetensors_close(NULL);
}

Test(api, safetensors_failures)
{
    c2s_safetensors *st = (c2s_safetensors *)&st;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_safetensors_open("fixtures/no-such.safetensors", &st, &err), C2S_ERR_INPUT);
    cr_assert_null(st);
    cr_assert_str_eq(err.msg, "fixtures/no-such.safetensors: No such file or directory");
    cr_assert_eq(c2s_safetensors_open(SAMPLE, &st, &err), C2S_ERR_INPUT);
    cr_assert_null(st);
    /* "PK\3\4\0\0\10\10" read as a little-endian length */
    cr_assert_str_eq(err.msg, "fixtures/sample.ckpt: safetensors: header length "
                              "578712552184433488 is above the limit of 100000000");
}

/* A dtype safetensors has and c2s_dtype has not: unsupported, named by why. */
Test(api, safetensors_sub_byte_dtype)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    char *path = tu_path(dir, "f4.safetensors");
    static const char JSON[] = "{\"a\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]}}";
    unsigned char file[8 + sizeof JSON - 1 + 3] = {sizeof JSON - 1};
    memcpy(file + 8, JSON, sizeof JSON - 1);
    cr_assert_eq(tu_write(path, file, sizeof file), 0);
    c2s_safetensors *st = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_safetensors_open(path, &st, &err), C2S_OK, "%s", err.msg);
    c2s_tensor_info t = c2s_safetensors_tensor_at(st, 0);
    cr_assert_str_eq(t.name, "a");
    cr_assert_eq(t.supported, 0);
    cr_assert_str_eq(t.why, "F4");
    cr_assert_eq(t.ndim, 2);
    cr_assert(t.shape[0] == 2 && t.shape[1] == 3);
    cr_assert_eq(t.nbytes, 3);
    cr_assert_eq(c2s_safetensors_data_bytes(st), 3);
    c2s_safetensors_close(st);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* ---- small files ------------------------------------------------------------------ */

Test(api, sha256_hex_of_known_messages)
{
    char hex[65];
    c2s_sha256_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    c2s_sha256_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void expect_content(const char *path, const char *want)
{
    size_t len;
    unsigned char *got = tu_read(path, &len);
    cr_assert_not_null(got, "%s unreadable", path);
    cr_assert(len == strlen(want) && memcmp(got, want, len) == 0, "%s: %.*s", path, (int)len,
              (const char *)got);
    free(got);
}

Test(api, write_file_atomic_replaces_only_with_force)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    char *path = tu_path(dir, "index.json");
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_write_file_atomic(path, "one\n", 4, 0, &err), C2S_OK, "%s", err.msg);
    expect_content(path, "one\n");

    cr_assert_eq(c2s_write_file_atomic(path, "two\n", 4, 0, &err), C2S_ERR_INPUT);
    char want[700];
    snprintf(want, sizeof want, "output exists: %s", path);
    cr_assert_str_eq(err.msg, want);
    expect_content(path, "one\n");

    cr_assert_eq(c2s_write_file_atomic(path, "three\n", 6, 1, &err), C2S_OK, "%s", err.msg);
    expect_content(path, "three\n");
    cr_assert_eq(entries(dir), 1, "a temporary file was left behind");

    char *missing = tu_path(dir, "no/such/dir.json");
    cr_assert_eq(c2s_write_file_atomic(missing, "x", 1, 1, &err), C2S_ERR_INPUT);
    snprintf(want, sizeof want, "cannot create output in the directory of %s: %s", missing,
             strerror(ENOENT));
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(entries(dir), 1);

    unlink(path);
    rmdir(dir);
    free(missing);
    free(path);
    free(dir);
}

Test(api, copy_file_atomic_streams_with_mode_and_force)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    char *src = tu_path(dir, "src.json"), *dst = tu_path(dir, "dst.json");
    cr_assert_eq(tu_write(src, "{\"a\": 1}\n", 9), 0);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(lseek(fd, 1, SEEK_SET), 1); /* copied from the descriptor's position */
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_copy_file_atomic(fd, dst, 0640, 0, NULL, &err), C2S_OK, "%s", err.msg);
    expect_content(dst, "\"a\": 1}\n");
    struct stat st;
    cr_assert_eq(stat(dst, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", (unsigned)(st.st_mode & 07777));

    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    cr_assert_eq(c2s_copy_file_atomic(fd, dst, 0644, 0, NULL, &err), C2S_ERR_INPUT);
    char want[700];
    snprintf(want, sizeof want, "output exists: %s", dst);
    cr_assert_str_eq(err.msg, want);
    expect_content(dst, "\"a\": 1}\n");

    volatile sig_atomic_t stop = 1;
    cr_assert_eq(c2s_copy_file_atomic(fd, dst, 0644, 1, &stop, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "interrupted");
    expect_content(dst, "\"a\": 1}\n");
    cr_assert_eq(entries(dir), 2, "a temporary file was left behind");

    cr_assert_eq(c2s_copy_file_atomic(fd, dst, 0755, 1, NULL, &err), C2S_OK, "%s", err.msg);
    expect_content(dst, "{\"a\": 1}\n");
    cr_assert_eq(stat(dst, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0755);
    cr_assert_eq(entries(dir), 2);
    close(fd);
    unlink(src);
    unlink(dst);
    rmdir(dir);
    free(src);
    free(dst);
    free(dir);
}

/* ---- descriptors ------------------------------------------------------------------ */

Test(api, open_and_scan_a_descriptor_as_its_path)
{
    int fd = open(SAMPLE, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_open_fd(fd, "-", NULL, &ck, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(c2s_tensor_count(ck), 11);
    cr_assert_str_eq(c2s_tensor_at(ck, 10).name, "classifier.bias");
    c2s_close(ck);
    cr_assert_eq(fcntl(fd, F_GETFD), FD_CLOEXEC, "the caller's descriptor was closed");
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 0, "the position moved");

    c2s_report r;
    cr_assert_eq(c2s_scan_fd(fd, NULL, NULL, &r), C2S_OK, "%s", r.error.msg);
    cr_assert_eq(r.verdict, C2S_VERDICT_SAFE);
    cr_assert_str_eq(r.format, "zip");
    c2s_report_free(&r);
    close(fd);

    fd = open("fixtures/hostile/build_unknown_state.pt", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(c2s_scan_fd(fd, "-", NULL, &r), C2S_ERR_REFUSED);
    cr_assert_eq(r.verdict, C2S_VERDICT_UNSAFE);
    cr_assert_eq(r.nglobals, 4);
    c2s_report_free(&r);
    cr_assert_eq(c2s_open_fd(fd, "-", NULL, &ck, &err), C2S_ERR_REFUSED);
    cr_assert_null(ck);
    close(fd);
}

Test(api, descriptor_failures)
{
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(c2s_open_fd(-1, "-", NULL, &ck, &err), C2S_ERR_INPUT);
    char want[200];
    snprintf(want, sizeof want, "cannot use descriptor -1: %s", strerror(EBADF));
    cr_assert_str_eq(err.msg, want);

    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(c2s_open_fd(p[0], "-", NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "not a regular file");
    close(p[0]);
    close(p[1]);

    /* a TensorFlow index alone: its shards cannot be found from a descriptor */
    int fd = open("fixtures/tf/good/multi.index", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(c2s_open_fd(fd, "-", NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "a TensorFlow checkpoint index read from a descriptor (a pipe, "
                              "standard input): its data shards (PREFIX.data-00000-of-NNNNN) "
                              "are other files, which only its path can find");
    c2s_report r;
    cr_assert_eq(c2s_scan_fd(fd, "-", NULL, &r), C2S_ERR_INPUT);
    cr_assert_eq(r.verdict, C2S_VERDICT_UNREADABLE);
    cr_assert_str_eq(r.format, "TensorFlow bundle");
    c2s_report_free(&r);
    close(fd);
}
