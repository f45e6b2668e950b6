/*
 * test_tf.c - the TensorFlow tensor-bundle reader (src/tf/): CRC-32C,
 * varints, the real checkpoints of shared/realdata/tf (every entry's name,
 * dtype, shape, place and CRC as fixtures/tf/make_tf.py's independent reader
 * recorded them in fixtures/tf/realdata_expected.tsv, and every tensor's
 * bytes checked), the generated bundles of fixtures/tf/good, and every
 * hostile index of fixtures/tf/hostile with its exact message
 * (fixtures/tf/hostile/EXPECTED.tsv).
 *
 * The real checkpoints are looked for in $C2S_REALDATA, then
 * ../shared/realdata (CI: shared/ beside the checkout), then
 * ../../shared/realdata (a worktree one level deeper); without them the
 * real-data tests fail and say so.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf/crc32c.h"
#include "tf/sstable.h"
#include "tf/tfbundle.h"
#include "util/c2s_error.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------ */

/* Open prefix.index and the bundle; returns the status, err filled. */
static c2s_status open_bundle(const char *prefix, tfb_bundle *b, c2s_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s.index", prefix);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "cannot open %s", path);
    c2s_error_clear(err);
    c2s_status st = tfb_open(fd, prefix, b, err);
    close(fd);
    return st;
}

static const tfb_entry *find_entry(const tfb_bundle *b, const char *name)
{
    for (size_t i = 0; i < b->ix.nentries; i++)
        if (strcmp(b->ix.entries[i].name, name) == 0)
            return &b->ix.entries[i];
    cr_assert_fail("no entry '%s'", name);
    return NULL;
}

static void shape_text(const tfb_entry *e, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t d = 0; d < e->ndim && len < n; d++)
        len += (size_t)snprintf(out + len, n - len, "%s%" PRId64, d ? "," : "", e->shape[d]);
}

static const char *realdata_dir(void)
{
    return tu_realdata("tf");
}

/* ---- CRC-32C and varints ------------------------------------------------------ */

/* Bit by bit, straight from the definition. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

Test(tf_crc32c, known_values)
{
    cr_assert_eq(c2s_crc32c(0, "123456789", 9), 0xe3069283u);
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    cr_assert_eq(c2s_crc32c(0, zeros, 32), 0x8a9136aau); /* RFC 3720 B.4 */
    cr_assert_eq(c2s_crc32c(0, ones, 32), 0x62a8ab43u);
    cr_assert_eq(c2s_crc32c(0, "", 0), 0u);
    cr_assert_eq(c2s_crc32c_mask(0), 0xa282ead8u);
    cr_assert_eq(c2s_crc32c_unmask(c2s_crc32c_mask(0xe3069283u)), 0xe3069283u);
}

Test(tf_crc32c, every_path_agrees_with_the_definition)
{
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t b = 0; b < 256; b++) {
        uint8_t one = (uint8_t)b;
        cr_assert_eq(c2s_crc32c_portable(0, &one, 1), crc32c_bitwise(&one, 1), "byte %zu", b);
    }
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 13) {
            uint32_t want = crc32c_bitwise(buf + off, n);
            cr_assert_eq(c2s_crc32c(0, buf + off, n), want, "off %zu n %zu", off, n);
            cr_assert_eq(c2s_crc32c_portable(0, buf + off, n), want);
            /* in two pieces */
            uint32_t c = c2s_crc32c(0, buf + off, n / 3);
            cr_assert_eq(c2s_crc32c(c, buf + off + n / 3, n - n / 3), want);
        }
}

Test(tf_varint, limits)
{
    uint64_t v;
    size_t pos = 0;
    const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    cr_assert_eq(sst_varint64(max, sizeof max, &pos, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(pos, 10);
    const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    pos = 0;
    cr_assert_eq(sst_varint64(over, sizeof over, &pos, &v), -2);
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    pos = 0;
    cr_assert_eq(sst_varint64(eleven, sizeof eleven, &pos, &v), -2);
    const uint8_t cut[] = {0x80, 0x80};
    pos = 0;
    cr_assert_eq(sst_varint64(cut, sizeof cut, &pos, &v), -1);
    cr_assert_eq(pos, 0);
}

/* ---- real checkpoints ---------------------------------------------------------- */

typedef struct expected_entry {
    char name[512];
    int dtype;
    char dims[256];
    unsigned shard;
    unsigned long long offset, size;
    unsigned crc;
    char full[512];
} expected_entry;

/* One line of realdata_expected.tsv: eight tab-separated fields, the dims
 * (a scalar) and the full name possibly empty. */
static void parse_expected(char *line, expected_entry *x)
{
    char *fields[8], *rest = line;
    line[strcspn(line, "\n")] = '\0';
    for (int i = 0; i < 8; i++) {
        fields[i] = strsep(&rest, "\t");
        cr_assert_not_null(fields[i], "short expected line");
    }
    cr_assert_null(rest, "long expected line");
    snprintf(x->name, sizeof x->name, "%s", fields[0]);
    x->dtype = atoi(fields[1]);
    snprintf(x->dims, sizeof x->dims, "%s", fields[2]);
    x->shard = (unsigned)strtoul(fields[3], NULL, 10);
    x->offset = strtoull(fields[4], NULL, 10);
    x->size = strtoull(fields[5], NULL, 10);
    x->crc = (unsigned)strtoul(fields[6], NULL, 16);
    snprintf(x->full, sizeof x->full, "%s", fields[7]);
}

/* Compare one real bundle with the lines that follow its "bundle" line. */
static void check_real_bundle(FILE *f, const char *dir, const char *rel, size_t n)
{
    char prefix[1024], index[1100];
    snprintf(prefix, sizeof prefix, "%s/tf/%s", dir, rel);
    snprintf(index, sizeof index, "%s.index", prefix);
    char *resolved = NULL;
    c2s_error err;
    cr_assert_eq(tfb_resolve(index, &resolved, &err), C2S_OK, "%s", err.msg);
    cr_assert_str_eq(resolved, prefix);
    free(resolved);
    tfb_bundle b;
    cr_assert_eq(open_bundle(prefix, &b, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(b.ix.nentries, n, "%s: %zu entries, expected %zu", rel, b.ix.nentries, n);
    cr_assert_eq(b.ix.header.endianness, 0);
    int graph = -1;
    cr_assert_eq(tfb_load_full_names(&b, &graph, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(graph, tfb_find(&b, TFB_GRAPH_KEY) != NULL);
    for (size_t i = 0; i < n; i++) {
        char line[2048];
        cr_assert_not_null(fgets(line, sizeof line, f));
        expected_entry x;
        parse_expected(line, &x);
        const tfb_entry *e = &b.ix.entries[i];
        char shape[256];
        shape_text(e, shape, sizeof shape);
        cr_assert_str_eq(e->name, x.name);
        cr_assert_eq(e->tf_dtype, x.dtype, "%s", x.name);
        cr_assert_str_eq(shape, x.dims, "%s", x.name);
        cr_assert_eq(e->shard, x.shard, "%s", x.name);
        cr_assert_eq(e->offset, x.offset, "%s", x.name);
        cr_assert_eq(e->size, x.size, "%s", x.name);
        cr_assert_eq(e->crc32c, x.crc, "%s", x.name);
        cr_assert_str_eq(e->full_name ? e->full_name : "", x.full, "%s", x.name);
        cr_assert_eq(tfb_find(&b, x.name), e);
        cr_assert_eq(tfb_verify(&b, e, &err), C2S_OK, "%s", err.msg);
        if (x.dtype == 1)
            cr_assert(e->supported && e->dtype == C2S_F32, "%s", x.name);
        if (x.dtype == 9)
            cr_assert(e->supported && e->dtype == C2S_I64, "%s", x.name);
        if (x.dtype == 7)
            cr_assert(!e->supported && strcmp(e->why, "string") == 0, "%s", x.name);
    }
    tfb_close(&b);
}

Test(tf_real, every_entry_as_the_independent_reader_found_it)
{
    const char *dir = realdata_dir();
    cr_assert_not_null(dir, "real checkpoints not found: set C2S_REALDATA or put shared/realdata "
                            "beside the checkout (../shared/realdata/tf)");
    FILE *f = fopen("fixtures/tf/realdata_expected.tsv", "r");
    cr_assert_not_null(f);
    char line[2048];
    size_t bundles = 0, total = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#')
            continue;
        char rel[512];
        size_t n;
        cr_assert_eq(sscanf(line, "bundle\t%511[^\t]\t%zu", rel, &n), 2, "line: %s", line);
        check_real_bundle(f, dir, rel, n);
        bundles++;
        total += n;
    }
    fclose(f);
    cr_assert_eq(bundles, 3);
    cr_assert_eq(total, 139 + 34 + 25);
}

Test(tf_real, tf2_names_and_the_snappy_index)
{
    const char *dir = realdata_dir();
    cr_assert_not_null(dir, "real checkpoints not found: set C2S_REALDATA or put shared/realdata "
                            "beside the checkout (../shared/realdata/tf)");
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/tf/tfr_bert_lite_tf2_snappy/bert_lite_tf2.ckpt", dir);
    char *resolved = NULL;
    c2s_error err;
    cr_assert_eq(tfb_resolve(prefix, &resolved, &err), C2S_OK, "%s", err.msg);
    cr_assert_str_eq(resolved, prefix);
    free(resolved);
    tfb_bundle b;
    cr_assert_eq(open_bundle(prefix, &b, &err), C2S_OK, "%s", err.msg);
    const tfb_entry *e =
        find_entry(&b, "model/layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE");
    cr_assert_eq(tfb_tf2_name_len(e->name), strlen("model/layer_with_weights-0/embeddings"));
    cr_assert(e->supported);
    cr_assert_eq(e->ndim, 2);
    cr_assert_eq(e->shape[0], 10);
    cr_assert_eq(e->shape[1], 2);
    tfb_close(&b);
}

/* ---- generated bundles ---------------------------------------------------------- */

typedef struct dtype_case {
    const char *name;
    int tf;
    c2s_dtype dt;
} dtype_case;

Test(tf_good, multi_every_dtype_shard_and_block)
{
    static const dtype_case cases[] = {
        {"dtypes/f32", 1, C2S_F32},
        {"dtypes/f64", 2, C2S_F64},
        {"dtypes/i32", 3, C2S_I32},
        {"dtypes/u8", 4, C2S_U8},
        {"dtypes/i16", 5, C2S_I16},
        {"dtypes/i8", 6, C2S_I8},
        {"dtypes/c64", 8, C2S_C64},
        {"dtypes/i64", 9, C2S_I64},
        {"dtypes/bool", 10, C2S_BOOL},
        {"dtypes/bf16", 14, C2S_BF16},
        {"dtypes/u16", 17, C2S_U16},
        {"dtypes/f16", 19, C2S_F16},
        {"dtypes/u32", 22, C2S_U32},
        {"dtypes/u64", 23, C2S_U64},
        {"dtypes/f8_e5m2", 24, C2S_F8_E5M2},
        {"dtypes/f8_e4m3fn", 25, C2S_F8_E4M3},
        {"dtypes/f8_e4m3fnuz", 26, C2S_F8_E4M3FNUZ},
        {"dtypes/f8_e5m2fnuz", 28, C2S_F8_E5M2FNUZ},
    };
    tfb_bundle b;
    c2s_error err;
    cr_assert_eq(open_bundle("fixtures/tf/good/multi", &b, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(b.ix.header.num_shards, 3);
    cr_assert_eq(b.ix.nentries, 25);
    cr_assert_eq(b.ix.nparts, 2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tfb_entry *e = find_entry(&b, cases[i].name);
        cr_assert_eq(e->tf_dtype, cases[i].tf, "%s", cases[i].name);
        cr_assert(e->supported, "%s", cases[i].name);
        cr_assert_eq(e->dtype, cases[i].dt, "%s", cases[i].name);
        cr_assert_eq(e->ndim, 2);
        cr_assert_eq(e->shape[0], 2);
        cr_assert_eq(e->shape[1], 3);
        cr_assert_eq(e->numel, 6);
        cr_assert_eq(e->shard, i % 3, "%s", cases[i].name);
        cr_assert_eq(tfb_verify(&b, e, &err), C2S_OK, "%s", err.msg);
    }
    const tfb_entry *e = find_entry(&b, "scalar");
    cr_assert_eq(e->ndim, 0);
    cr_assert_eq(e->numel, 1);
    float v;
    cr_assert_eq(tfb_read(&b, e, 0, &v, 4, &err), C2S_OK);
    cr_assert_eq(v, 1.5f);
    e = find_entry(&b, "empty");
    cr_assert_eq(e->numel, 0);
    cr_assert_eq(e->size, 0);
    cr_assert_eq(tfb_verify(&b, e, &err), C2S_OK, "%s", err.msg);
    e = find_entry(&b, "text");
    cr_assert(!e->supported);
    cr_assert_str_eq(e->why, "string");
    cr_assert_eq(tfb_verify(&b, e, &err), C2S_OK, "%s", err.msg);
    e = find_entry(&b, "c128");
    cr_assert(!e->supported);
    cr_assert_str_eq(e->why, "complex128");
    cr_assert_eq(tfb_verify(&b, e, &err), C2S_OK, "%s", err.msg);
    e = find_entry(&b, "part");
    cr_assert(!e->supported);
    cr_assert_eq(e->nslices, 2);
    cr_assert_str_eq(e->why, "partitioned variable (stored in slices)");
    cr_assert_eq(tfb_verify(&b, e, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "'part': a partitioned variable has no bytes of its own");
    e = find_entry(&b, "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE");
    cr_assert_eq(tfb_tf2_name_len(e->name), strlen("model/dense/kernel"));
    cr_assert_null(e->full_name);
    int graph = 0;
    cr_assert_eq(tfb_load_full_names(&b, &graph, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(graph, 1);
    cr_assert_str_eq(e->full_name, "dense/kernel");
    cr_assert_null(find_entry(&b, "scalar")->full_name); /* empty full name: none */
    float k[4];
    cr_assert_eq(tfb_read(&b, e, 0, k, sizeof k, &err), C2S_OK);
    cr_assert(k[0] == 1 && k[1] == 2 && k[2] == 3 && k[3] == 4);
    tfb_close(&b);
}

Test(tf_good, reads_in_pieces_and_running_crc)
{
    tfb_bundle b;
    c2s_error err;
    cr_assert_eq(open_bundle("fixtures/tf/good/multi", &b, &err), C2S_OK, "%s", err.msg);
    const tfb_entry *e = find_entry(&b, "dtypes/u64");
    uint8_t all[48], piece[48];
    cr_assert_eq(tfb_read(&b, e, 0, all, 48, &err), C2S_OK);
    for (size_t i = 0; i < 48; i++) /* make_tf.py pattern(48, 13) */
        cr_assert_eq(all[i], (uint8_t)((13 * 31 + i * 7) & 0xff), "byte %zu", i);
    tfb_crc c;
    tfb_crc_start(&c);
    for (size_t off = 0; off < 48; off += 7) {
        size_t n = 48 - off < 7 ? 48 - off : 7;
        cr_assert_eq(tfb_read(&b, e, off, piece, n, &err), C2S_OK);
        cr_assert_eq(memcmp(piece, all + off, n), 0);
        tfb_crc_add(&c, piece, n);
        if (off == 0) {
            cr_assert_eq(tfb_crc_check(&b, e, &c, &err), C2S_ERR_INPUT);
            cr_assert_str_eq(err.msg, "'dtypes/u64': checksum over 7 of its 48 bytes");
        }
    }
    cr_assert_eq(tfb_crc_check(&b, e, &c, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(tfb_read(&b, e, 40, piece, 9, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "'dtypes/u64': read of 9 bytes at 40 past its 48 bytes");
    tfb_close(&b);
}

Test(tf_good, wrong_crc_is_named)
{
    tfb_bundle b;
    c2s_error err;
    cr_assert_eq(open_bundle("fixtures/tf/good/badcrc", &b, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(tfb_verify(&b, find_entry(&b, "a"), &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(tfb_verify(&b, find_entry(&b, "b"), &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "fixtures/tf/good/badcrc.data-00000-of-00001: 'b': CRC-32C "
                              "mismatch (index 0x12345678, data 0x6b970a62)");
    tfb_close(&b);
}

Test(tf_good, object_graph_naming_a_missing_key)
{
    tfb_bundle b;
    c2s_error err;
    cr_assert_eq(open_bundle("fixtures/tf/good/badgraph", &b, &err), C2S_OK, "%s", err.msg);
    int graph = -1;
    cr_assert_eq(tfb_load_full_names(&b, &graph, &err), C2S_ERR_INPUT);
    cr_assert_eq(graph, 0);
    cr_assert_str_eq(err.msg, "fixtures/tf/good/badgraph.index: object graph: 'nope' names "
                              "no entry");
    tfb_close(&b);
    /* a TF1 bundle has no graph: nothing to do */
    cr_assert_eq(open_bundle("fixtures/tf/good/badcrc", &b, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(tfb_load_full_names(&b, &graph, &err), C2S_OK);
    cr_assert_eq(graph, 0);
    tfb_close(&b);
}

/* ---- hostile indexes ------------------------------------------------------------ */

Test(tf_hostile, each_with_its_exact_message)
{
    FILE *f = fopen("fixtures/tf/hostile/EXPECTED.tsv", "r");
    cr_assert_not_null(f);
    char line[2048];
    size_t n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char name[128], msg[1024];
        cr_assert_eq(sscanf(line, "%127[^\t]\t%1023[^\n]", name, msg), 2, "line: %s", line);
        char prefix[256];
        snprintf(prefix, sizeof prefix, "fixtures/tf/hostile/%s", name);
        tfb_bundle b;
        c2s_error err;
        cr_assert_eq(open_bundle(prefix, &b, &err), C2S_ERR_INPUT, "%s opened", name);
        cr_assert_str_eq(err.msg, msg, "%s", name);
        cr_assert_null(b.ix.entries, "%s: entries left after a failure", name);
        tfb_close(&b);
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 27);
}

/* The same files through the in-memory parser, cut at every length: never
 * OK unless whole, always a message. */
Test(tf_hostile, every_truncation_of_the_good_index_fails)
{
    FILE *f = fopen("fixtures/tf/good/multi.index", "rb");
    cr_assert_not_null(f);
    uint8_t buf[8192];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert(size > 100 && size < sizeof buf);
    for (size_t n = 0; n <= size; n++) {
        tfb_index ix;
        c2s_error err;
        c2s_error_clear(&err);
        c2s_status st = tfb_index_parse(buf, n, 0, &ix, &err);
        if (n == size)
            cr_assert_eq(st, C2S_OK, "%s", err.msg);
        else
            cr_assert(st == C2S_ERR_INPUT && err.msg[0] != '\0', "cut at %zu", n);
        tfb_index_free(&ix);
    }
}

/* ---- what the user names --------------------------------------------------------- */

static void assert_resolves(const char *arg, const char *want)
{
    char *prefix = NULL;
    c2s_error err;
    cr_assert_eq(tfb_resolve(arg, &prefix, &err), C2S_OK, "%s: %s", arg, err.msg);
    cr_assert_str_eq(prefix, want);
    free(prefix);
}

static void assert_resolve_fails(const char *arg, const char *msg)
{
    char *prefix = NULL;
    c2s_error err;
    cr_assert_eq(tfb_resolve(arg, &prefix, &err), C2S_ERR_INPUT, "%s", arg);
    cr_assert_null(prefix);
    cr_assert_str_eq(err.msg, msg);
}

Test(tf_resolve, index_prefix_or_shard)
{
    assert_resolves("fixtures/tf/good/multi.index", "fixtures/tf/good/multi");
    assert_resolves("fixtures/tf/good/multi", "fixtures/tf/good/multi");
    assert_resolves("fixtures/tf/good/multi.data-00001-of-00003", "fixtures/tf/good/multi");
    assert_resolve_fails("fixtures/tf/v1/model.ckpt-1",
                         "fixtures/tf/v1/model.ckpt-1: a TensorFlow table but no .index file: "
                         "a V1 checkpoint (pre-2016 format) is not supported");
    assert_resolve_fails("fixtures/tf/good/nothing",
                         "fixtures/tf/good/nothing: no such checkpoint (neither it nor "
                         "fixtures/tf/good/nothing.index exists)");
    assert_resolve_fails("fixtures/tf/good/x.data-00000-of-00001",
                         "fixtures/tf/good/x.data-00000-of-00001: a checkpoint shard without "
                         "its .index file");
}

Test(tf_names, tf2_suffix)
{
    cr_assert_eq(tfb_tf2_name_len("a/b/.ATTRIBUTES/VARIABLE_VALUE"), 3);
    cr_assert_eq(tfb_tf2_name_len("a/b"), 3);
    cr_assert_eq(tfb_tf2_name_len("/.ATTRIBUTES/VARIABLE_VALUE"), 27);
    cr_assert_eq(tfb_tf2_name_len(""), 0);
    cr_assert_str_eq(tfb_dtype_name(19), "half");
    cr_assert_str_eq(tfb_dtype_name(99), "unknown dtype");
}
