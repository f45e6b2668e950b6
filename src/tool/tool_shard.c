/*
 * tool_shard.c - --max-shard-size: shards, their index, and the size
 * syntax (see tool_shard.h).
 *
 * How it works.  c2s_plan_shards says which shard each tensor goes to;
 * each shard is one c2s_write of the same checkpoint with
 * c2s_write_options.only set to that shard's tensors, under its own name.
 * The progress callback is wrapped so that the bar sees one growing
 * output: bytes of the shards done so far plus the current shard's.  The
 * index is rendered here (render_index, Python's json.dumps layout, names
 * escaped by tool_json_string) and written by c2s_write_file_atomic, the
 * way tool_hf.c writes the indexes it rewrites.
 */
#include "tool_shard.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_batch.h"
#include "tool_hf.h"
#include "tool_json.h"
#include "tool_rerun.h"
#include "tool_select.h"

#define SUFFIX ".safetensors"
#define INDEX_SUFFIX ".safetensors.index.json"

/* ---- sizes ------------------------------------------------------------------ */

int tool_parse_shard_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } UNITS[] = {
        {"KiB", 1ull << 10},
        {"MiB", 1ull << 20},
        {"GiB", 1ull << 30},
        {"KB", 1000ull},
        {"MB", 1000ull * 1000ull},
        {"GB", 1000ull * 1000ull * 1000ull},
        {"", 1},
    };
    const char *end = s;
    while (*end >= '0' && *end <= '9')
        end++;
    if (end == s)
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return 0;
    size_t ulen = strlen(end);
    /* a final lower-case b means bits to transformers: refused */
    if (ulen >= 2 && end[ulen - 1] == 'b' && (end[ulen - 2] != 'i' && end[ulen - 2] != 'I'))
        return 0;
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (strcasecmp(end, UNITS[i].unit) == 0) {
            if (v == 0 || v > UINT64_MAX / UNITS[i].mult)
                return 0;
            *out = v * UNITS[i].mult;
            return 1;
        }
    return 0;
}

/* ---- names ------------------------------------------------------------------- */

/* output without a final .safetensors; malloc'd. */
static char *stem(const char *output)
{
    size_t n = strlen(output);
    if (tool_has_suffix(output, SUFFIX))
        n -= strlen(SUFFIX);
    return strndup(output, n);
}

char *tool_shard_index_name(const char *output)
{
    char *st = stem(output), *name = NULL;
    if (st != NULL && asprintf(&name, "%s%s", st, INDEX_SUFFIX) < 0)
        name = NULL;
    free(st);
    return name;
}

char *tool_shard_name(const char *output, size_t k, size_t n)
{
    char *st = stem(output), *name = NULL;
    if (st != NULL && asprintf(&name, "%s-%05zu-of-%05zu%s", st, k, n, SUFFIX) < 0)
        name = NULL;
    free(st);
    return name;
}

/* The file name part of path. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Whether name is PREFIX-NNNNN-of-NNNNN.safetensors (five digits or more
 * each), the name of a shard of the output whose stem's file name is
 * prefix. */
static int is_shard_of(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] != '-')
        return 0;
    const char *p = name + n + 1;
    for (int part = 0; part < 2; part++) {
        size_t digits = strspn(p, "0123456789");
        if (digits < 5)
            return 0;
        p += digits;
        if (part == 0 && strncmp(p, "-of-", 4) != 0)
            return 0;
        p += part == 0 ? 4 : 0;
    }
    return strcmp(p, SUFFIX) == 0;
}

/* name in the directory of path; malloc'd, NULL on out of memory. */
static char *sibling(const char *path, const char *name)
{
    size_t dir = (size_t)(base_name(path) - path);
    char *out = malloc(dir + strlen(name) + 1);
    if (out != NULL) {
        memcpy(out, path, dir);
        strcpy(out + dir, name);
    }
    return out;
}

/* ---- the set of files ----------------------------------------------------------- */

typedef struct shard_set {
    const tool_config *cfg;
    c2s_checkpoint *ck;
    const c2s_write_options *wo; /* the names (--rename) and the metadata */
    const char *input, *output;
    c2s_shard_plan plan;
    char **names; /* plan.nshards shard paths */
    char *index;
    size_t placed; /* shards put in place so far (names[0..placed)) */
    /* progress: the caller's callback, and the bytes of the shards done */
    c2s_progress_fn progress;
    void *progress_ctx;
    uint64_t done_before, data_after; /* file bytes written; data bytes of later shards */
} shard_set;

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    shard_set *s = ctx;
    s->progress(s->progress_ctx, s->done_before + done, s->done_before + total + s->data_after);
}

static c2s_status name_files(shard_set *s, c2s_error *err)
{
    s->names = calloc(s->plan.nshards, sizeof *s->names);
    s->index = tool_shard_index_name(s->output);
    int oom = s->names == NULL || s->index == NULL;
    for (size_t k = 0; !oom && k < s->plan.nshards; k++)
        oom = (s->names[k] = tool_shard_name(s->output, k + 1, s->plan.nshards)) == NULL;
    return oom ? tool_fail(err, C2S_ERR_INPUT, "out of memory") : C2S_OK;
}

/* Without -f: refused before writing anything if a file of the set, or
 * the single-file output, exists. */
static c2s_status check_targets(const shard_set *s, c2s_error *err)
{
    struct stat st;
    if (s->cfg->force)
        return C2S_OK;
    for (size_t k = 0; k <= s->plan.nshards + 1; k++) {
        const char *path = k < s->plan.nshards    ? s->names[k]
                           : k == s->plan.nshards ? s->index
                                                  : s->output;
        if (lstat(path, &st) == 0)
            return tool_fail(err, C2S_ERR_INPUT, "output exists: %s (use -f to overwrite)", path);
    }
    return C2S_OK;
}

/* Shard k: the tensors plan.shard_of assigns to it. */
static c2s_status write_shard(shard_set *s, const c2s_write_options *wo, size_t k,
                              unsigned char *only, c2s_write_result *sum, c2s_error *err)
{
    size_t ntensors = c2s_tensor_count(s->ck);
    for (size_t i = 0; i < ntensors; i++)
        only[i] = s->plan.shard_of[i] == k;
    c2s_write_options o = *wo;
    o.only = only;
    o.sha256 = 0;
    if (wo->progress != NULL) {
        s->data_after -= s->plan.shard_bytes[k];
        o.progress = progress;
        o.progress_ctx = s;
    }
    c2s_write_result r;
    c2s_status st = c2s_write(s->ck, s->names[k], &o, &r, err);
    if (st != C2S_OK)
        return st;
    s->placed = k + 1;
    s->done_before += r.file_bytes;
    sum->tensors += r.tensors;
    sum->converted += r.converted;
    sum->data_bytes += r.data_bytes;
    sum->file_bytes += r.file_bytes;
    sum->direct_bytes += r.direct_bytes;
    return C2S_OK;
}

/* Order of the weight_map: by name, as sort_keys orders str keys (code
 * points; the same as bytes for UTF-8). */
typedef struct map_entry {
    const char *name;
    size_t shard;
} map_entry;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const map_entry *)a)->name, ((const map_entry *)b)->name);
}

/* The options record among the metadata of o (tool_rerun.h), or NULL. */
static const char *options_record(const c2s_write_options *o)
{
    for (size_t i = 0; i < o->nmetadata; i++)
        if (strcmp(o->metadata[i].key, TOOL_RECORD_KEY) == 0)
            return o->metadata[i].value;
    return NULL;
}

static void free_map(map_entry *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)m[i].name);
    free(m);
}

/* The written tensors with their output names (after --rename), sorted
 * by name; NULL on out of memory. */
static map_entry *weight_map(const shard_set *s, size_t *n)
{
    size_t ntensors = c2s_tensor_count(s->ck);
    map_entry *m = malloc((ntensors ? ntensors : 1) * sizeof *m);
    *n = 0;
    for (size_t i = 0; m != NULL && i < ntensors; i++) {
        if (s->plan.shard_of[i] == C2S_NO_SHARD)
            continue;
        char *out = tool_renamed(s->wo, c2s_tensor_at(s->ck, i).name);
        if (out == NULL) {
            free_map(m, *n);
            return NULL;
        }
        m[(*n)++] = (map_entry){out, s->plan.shard_of[i]};
    }
    if (m != NULL)
        qsort(m, *n, sizeof *m, by_name);
    return m;
}

/* The index, as json.dumps(index, indent=2, sort_keys=True) + "\n"; the
 * options record, when there is one, in its "metadata" beside total_size
 * (before it: the keys are sorted). */
static char *render_index(const shard_set *s)
{
    size_t n;
    map_entry *m = weight_map(s, &n);
    if (m == NULL)
        return NULL;
    tool_text t = {0};
    char total[64];
    snprintf(total, sizeof total, "%llu", (unsigned long long)s->plan.total_bytes);
    tool_text_puts(&t, "{\n  \"metadata\": {\n    ");
    const char *record = options_record(s->wo);
    if (record != NULL) {
        tool_json_string(&t, TOOL_RECORD_KEY);
        tool_text_puts(&t, ": ");
        tool_json_string(&t, record);
        tool_text_puts(&t, ",\n    ");
    }
    tool_text_puts(&t, "\"total_size\": ");
    tool_text_puts(&t, total);
    tool_text_puts(&t, "\n  },\n  \"weight_map\": {");
    for (size_t i = 0; i < n; i++) {
        tool_text_puts(&t, i ? ",\n    " : "\n    ");
        tool_json_string(&t, m[i].name);
        tool_text_puts(&t, ": ");
        tool_json_string(&t, base_name(s->names[m[i].shard]));
    }
    tool_text_puts(&t, "\n  }\n}\n");
    free_map(m, n);
    if (t.oom)
        tool_text_free(&t);
    return t.s;
}

static c2s_status write_index(shard_set *s, c2s_write_result *sum, c2s_error *err)
{
    char *text = render_index(s);
    if (text == NULL)
        return tool_fail(err, C2S_ERR_INPUT, "out of memory");
    size_t len = strlen(text);
    c2s_status st = c2s_write_file_atomic(s->index, text, len, s->cfg->force, err);
    if (st == C2S_OK) {
        sum->file_bytes += len;
        if (s->cfg->json)
            c2s_sha256_hex(text, len, sum->sha256);
    }
    free(text);
    return st;
}

/* 1 when a and b name the same file (a TensorFlow prefix: its index). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return tool_stat_input(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* With -f: the files the existing index names (its weight_map's values)
 * that look like shards of this output (STEM-NNNNN-of-NNNNN.safetensors),
 * as paths beside it, so that those the new set does not reuse can go
 * once the new index is in place.  NULL-terminated, malloc'd; NULL when
 * there is no such index (or no memory: then nothing is removed). */
static char **old_shards(const shard_set *s)
{
    size_t len;
    const char *why;
    char *text = s->cfg->force ? tool_hf_read_index(s->index, &len, &why) : NULL;
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map"), *v;
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(map) + 1;
    char **old = map ? calloc(cap, sizeof *old) : NULL;
    char *st = old ? stem(s->output) : NULL;
    const char *prefix = st ? base_name(st) : NULL;
    cJSON_ArrayForEach(v, map)
    {
        if (prefix == NULL || !cJSON_IsString(v) || !is_shard_of(v->valuestring, prefix))
            continue;
        char *path = sibling(s->index, v->valuestring);
        int seen = path == NULL;
        for (size_t i = 0; !seen && i < n; i++)
            seen = strcmp(old[i], path) == 0;
        if (seen)
            free(path);
        else
            old[n++] = path;
    }
    free(st);
    cJSON_Delete(j);
    return old;
}

static void free_paths(char **paths)
{
    for (size_t i = 0; paths != NULL && paths[i] != NULL; i++)
        free(paths[i]);
    free(paths);
}

/* After the new index is in place: the old index's shards the new set
 * does not hold. */
static void remove_old_shards(const shard_set *s, char **old, tool_msgbuf *mb)
{
    for (size_t i = 0; old != NULL && old[i] != NULL; i++) {
        int reused = 0;
        for (size_t k = 0; !reused && k < s->plan.nshards; k++)
            reused = strcmp(old[i], s->names[k]) == 0;
        if (!reused && unlink(old[i]) == 0)
            tool_verbose(mb, s->cfg, "%s: removed (a shard of the index %s replaced)", old[i],
                         s->index);
    }
    free_paths(old);
}

/* After a failure: the shards of this run that were put in place. */
static void remove_placed(shard_set *s)
{
    for (size_t k = 0; k < s->placed; k++)
        unlink(s->names[k]);
}

static c2s_status write_set(shard_set *s, const c2s_write_options *wo, c2s_write_result *sum,
                            tool_msgbuf *mb, c2s_error *err)
{
    c2s_status st = name_files(s, err);
    if (st == C2S_OK)
        st = check_targets(s, err);
    char **old = st == C2S_OK ? old_shards(s) : NULL;
    unsigned char *only = st == C2S_OK ? malloc(c2s_tensor_count(s->ck) + 1) : NULL;
    if (st == C2S_OK && only == NULL)
        st = tool_fail(err, C2S_ERR_INPUT, "out of memory");
    s->data_after = s->plan.total_bytes;
    for (size_t k = 0; st == C2S_OK && k < s->plan.nshards; k++) {
        st = write_shard(s, wo, k, only, sum, err);
        if (st == C2S_OK)
            tool_verbose(mb, s->cfg, "%s: shard %zu of %zu, %llu bytes of tensors", s->names[k],
                         k + 1, s->plan.nshards, (unsigned long long)s->plan.shard_bytes[k]);
    }
    free(only);
    if (st == C2S_OK)
        st = write_index(s, sum, err);
    if (st != C2S_OK) {
        remove_placed(s);
        free_paths(old);
        return st;
    }
    remove_old_shards(s, old, mb);
    /* a single file of an earlier run would be loaded instead of the index */
    if (s->cfg->force && !same_file(s->input, s->output) && unlink(s->output) == 0)
        tool_verbose(mb, s->cfg, "%s: removed (replaced by %s)", s->output, s->index);
    return C2S_OK;
}

c2s_status tool_write_sharded(const tool_config *cfg, c2s_checkpoint *ck, const char *input,
                              const char *output, const c2s_write_options *wo,
                              tool_shard_result *res, tool_msgbuf *mb, c2s_error *err)
{
    memset(res, 0, sizeof *res);
    shard_set s = {.cfg = cfg,
                   .ck = ck,
                   .wo = wo,
                   .input = input,
                   .output = output,
                   .progress = wo->progress,
                   .progress_ctx = wo->progress_ctx};
    c2s_status st = c2s_plan_shards(ck, wo, cfg->max_shard_size, &s.plan, err);
    if (st != C2S_OK)
        return st;
    res->nshards = s.plan.nshards;
    if (s.plan.nshards == 1) {
        st = c2s_write(ck, output, wo, &res->w, err);
    } else {
        st = write_set(&s, wo, &res->w, mb, err);
        res->w.filtered = s.plan.filtered;
        res->w.skipped = s.plan.skipped;
    }
    for (size_t k = 0; s.names != NULL && k < s.plan.nshards; k++)
        free(s.names[k]);
    free(s.names);
    free(s.index);
    c2s_shard_plan_free(&s.plan);
    return st;
}
