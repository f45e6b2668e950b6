/*
 * tool_hf.c - rewriting Hugging Face shard indexes (see tool_hf.h).
 */
#include "tool_hf.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include "tool_convert.h"

#define INDEX_SUFFIX ".index.json"
#define MAX_INDEX_SIZE (64u << 20) /* real ones are a few MiB at most */

/* A job filed under its input and output directories. */
typedef struct member {
    char *src, *out;  /* directories of the input and of the output */
    const char *base; /* file name of the input */
    const tool_outcome *outcome;
} member;

typedef struct hf_run {
    const tool_config *cfg;
    tool_hf_report_fn report;
    void *ctx;
    const member *m; /* the jobs of one (src, out) pair, sorted by base */
    size_t n;
} hf_run;

/* One index being rewritten. */
typedef struct index_job {
    const char *in, *out;
    tool_msgbuf mb;
    tool_outcome o;
    struct timespec t0;
} index_job;

static int by_dirs_and_base(const void *a, const void *b)
{
    const member *x = a, *y = b;
    int c = strcmp(x->src, y->src);
    if (c == 0)
        c = strcmp(x->out, y->out);
    return c ? c : strcmp(x->base, y->base);
}

static int by_base(const void *key, const void *elem)
{
    return strcmp(key, ((const member *)elem)->base);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tool_hf_plain_name(const char *s)
{
    return *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Whether the conversion keeps tensor name (--include/--exclude): the
 * engine's own rule. */
static int kept(const tool_config *cfg, const char *name)
{
    c2s_write_options o = {.include = cfg->include,
                           .ninclude = cfg->ninclude,
                           .exclude = cfg->exclude,
                           .nexclude = cfg->nexclude};
    return c2s_selected(&o, name);
}

/* The output of shard (an index's weight_map value), malloc'd. */
static char *shard_output(const hf_run *r, const char *shard)
{
    char *name = tool_output_name(shard);
    char *path = name ? tool_join(r->m->out, name) : NULL;
    free(name);
    return path;
}

/* ---- finishing one index ---------------------------------------------------- */

static void done(const hf_run *r, index_job *j, int has_outcome)
{
    j->o.seconds = tool_seconds_since(&j->t0);
    r->report(r->ctx, j->in, j->out, has_outcome ? &j->o : NULL, &j->mb);
    tool_msgbuf_free(&j->mb);
}

__attribute__((format(printf, 3, 4))) static void failed(const hf_run *r, index_job *j,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->o.error, sizeof j->o.error, fmt, ap);
    va_end(ap);
    j->o.status = TOOL_FAILED;
    tool_error(&j->mb, j->in, "%s", j->o.error);
    done(r, j, 1);
}

/* A note, no outcome: the index waits for shards outside this run. */
static void not_rewritten(const hf_run *r, index_job *j, const char *shard, const char *why)
{
    tool_info(&j->mb, r->cfg, "%s: not rewritten: %s %s", j->in, shard, why);
    done(r, j, 0);
}

/* ---- checks ------------------------------------------------------------------ */

/* 1 when shard has an up-to-date output; else *why says what is missing. */
static int shard_ready(const hf_run *r, const char *shard, const char **why)
{
    const member *m = bsearch(shard, r->m, r->n, sizeof *r->m, by_base);
    if (m != NULL) {
        *why = "was not converted";
        return m->outcome->status == TOOL_CONVERTED || m->outcome->status == TOOL_SKIPPED;
    }
    *why = "has no up-to-date output";
    char *in = tool_join(r->m->src, shard), *out = shard_output(r, shard);
    struct stat st;
    int ok = in && out &&
             (tool_up_to_date(in, out) > 0 ||
              (r->cfg->rm && lstat(in, &st) != 0 && stat(out, &st) == 0)); /* removed by --rm */
    free(in);
    free(out);
    return ok;
}

/* The weight_map object, every value a plain file name; NULL if not. */
static cJSON *weight_map(const cJSON *root, const char **bad)
{
    cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    *bad = NULL;
    if (!cJSON_IsObject(wm))
        return NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) if (!cJSON_IsString(e) || !tool_hf_plain_name(e->valuestring))
    {
        *bad = e->string;
        return NULL;
    }
    return wm;
}

static int names_a_member(const hf_run *r, const cJSON *wm)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) if (bsearch(e->valuestring, r->m, r->n, sizeof *r->m, by_base) !=
                                  NULL) return 1;
    return 0;
}

/* ---- the rewrite -------------------------------------------------------------- */

/* Sum of the data sizes of the distinct shard outputs. */
static int total_size(const hf_run *r, const cJSON *wm, uint64_t *sum, char *msg, size_t cap)
{
    size_t n = (size_t)cJSON_GetArraySize(wm), k = 0;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (names == NULL) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) names[k++] = e->valuestring;
    qsort(names, k, sizeof *names, by_string);
    int rc = 0;
    *sum = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        char *path = shard_output(r, names[i]);
        c2s_safetensors *st = NULL;
        c2s_error err;
        char why[TOOL_ERROR_TEXT_MAX];
        c2s_error_clear(&err);
        if (path == NULL || c2s_safetensors_open(path, &st, &err) != C2S_OK) {
            snprintf(msg, cap, "%s",
                     path ? tool_error_text(&err, why, sizeof why) : "out of memory");
            rc = -1;
        } else {
            *sum += c2s_safetensors_data_bytes(st);
            c2s_safetensors_close(st);
        }
        free(path);
    }
    free(names);
    return rc;
}

/* Rename the shards, drop filtered tensors, update total_size. */
static int rewrite(const hf_run *r, cJSON *root, cJSON *wm, size_t *ntensors, char *msg, size_t cap)
{
    uint64_t sum = 0;
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "metadata"),
                                                 "total_size");
    if (cJSON_IsNumber(ts) && total_size(r, wm, &sum, msg, cap) != 0)
        return -1;
    cJSON *e = wm->child;
    *ntensors = 0;
    while (e != NULL) {
        cJSON *next = e->next;
        if (!kept(r->cfg, e->string)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(wm, e));
        } else {
            char *name = tool_output_name(e->valuestring);
            if (name == NULL || cJSON_SetValuestring(e, name) == NULL) {
                free(name);
                snprintf(msg, cap, "out of memory");
                return -1;
            }
            free(name);
            (*ntensors)++;
        }
        e = next;
    }
    if (cJSON_IsNumber(ts))
        cJSON_SetNumberValue(ts, (double)sum);
    return 0;
}

/* The index is text plus a newline, replaced atomically. */
static int write_index(const hf_run *r, index_job *j, const char *text, char *msg, size_t cap)
{
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    size_t len = strlen(text);
    char *file = malloc(len + 1);
    if (file == NULL) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    memcpy(file, text, len);
    file[len] = '\n';
    if (c2s_write_file_atomic(j->out, file, len + 1, r->cfg->force, &err) != C2S_OK) {
        free(file);
        snprintf(msg, cap, "%s", tool_error_text(&err, why, sizeof why));
        return -1;
    }
    j->o.bytes = len + 1;
    if (r->cfg->json)
        c2s_sha256_hex(file, len + 1, j->o.sha256);
    free(file);
    return 0;
}

char *tool_hf_read_index(const char *path, size_t *len, const char **why)
{
    FILE *f = fopen(path, "rb");
    *why = "cannot read the file";
    if (f == NULL)
        return NULL;
    char *buf = malloc(MAX_INDEX_SIZE + 1);
    size_t n = buf ? fread(buf, 1, MAX_INDEX_SIZE + 1, f) : 0;
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (!bad && n > MAX_INDEX_SIZE) {
        *why = "larger than 64 MiB: not a shard index";
        bad = 1;
    }
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* --rm: whether none of the shards the old index names is left (then the
 * old index goes once the new one is written). */
static int no_shard_left(const hf_run *r, const cJSON *wm)
{
    const cJSON *e;
    struct stat st;
    cJSON_ArrayForEach(e, wm)
    {
        char *in = tool_join(r->m->src, e->valuestring);
        int left = in == NULL || lstat(in, &st) == 0;
        free(in);
        if (left)
            return 0;
    }
    return 1;
}

/* 1 when removing the old index failed (reported). */
static int remove_old_index(const hf_run *r, index_job *j)
{
    if (unlink(j->in) != 0) {
        failed(r, j, "index rewritten, but cannot remove it (--rm): %s", strerror(errno));
        return 1;
    }
    j->o.removed = 1;
    tool_verbose(&j->mb, r->cfg, "%s: removed (--rm)", j->in);
    return 0;
}

/* The outcome of one index, reported whatever happens. */
static void convert_index(const hf_run *r, index_job *j, cJSON *root, cJSON *wm)
{
    const cJSON *e;
    const char *why;
    cJSON_ArrayForEach(e, wm) if (!shard_ready(r, e->valuestring, &why))
    {
        not_rewritten(r, j, e->valuestring, why);
        return;
    }
    if (r->cfg->key != NULL || r->cfg->nrenames > 0) {
        not_rewritten(r, j, r->cfg->key != NULL ? "--key" : "--rename", "renames the tensors");
        return;
    }
    if (r->cfg->max_shard_size) {
        not_rewritten(r, j, "--max-shard-size", "splits the files again");
        return;
    }
    if (tool_check_existing(r->cfg, j->in, j->out, &j->mb, &j->o)) {
        done(r, j, 1);
        return;
    }
    int remove_old = r->cfg->rm && no_shard_left(r, wm); /* before wm is renamed */
    char msg[C2S_ERROR_MSG_MAX] = "out of memory";
    size_t ntensors = 0;
    char *text = NULL;
    if (rewrite(r, root, wm, &ntensors, msg, sizeof msg) != 0 ||
        (text = cJSON_Print(root)) == NULL || write_index(r, j, text, msg, sizeof msg) != 0) {
        cJSON_free(text);
        failed(r, j, "%s", msg);
        return;
    }
    cJSON_free(text);
    j->o.status = TOOL_CONVERTED;
    j->o.tensors = ntensors;
    tool_info(&j->mb, r->cfg, "%s -> %s: index of %zu tensor%s", j->in, j->out, ntensors,
              tool_plural(ntensors));
    if (!remove_old || remove_old_index(r, j) == 0)
        done(r, j, 1);
}

static void process_index(const hf_run *r, const char *name)
{
    char *stem = strndup(name, strlen(name) - strlen(INDEX_SUFFIX)); /* NAME.bin */
    char *out_name = stem ? tool_output_name(stem) : NULL;
    char *renamed = out_name ? malloc(strlen(out_name) + sizeof INDEX_SUFFIX) : NULL;
    if (renamed != NULL)
        sprintf(renamed, "%s%s", out_name, INDEX_SUFFIX);
    char *in = tool_join(r->m->src, name);
    char *out = renamed ? tool_join(r->m->out, renamed) : NULL;
    index_job j = {.in = in, .out = out, .mb.color = r->cfg->color_stderr};
    clock_gettime(CLOCK_MONOTONIC, &j.t0);
    size_t len = 0;
    const char *why = "out of memory", *bad = NULL;
    char *text = in && out ? tool_hf_read_index(in, &len, &why) : NULL;
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    cJSON *wm = root ? weight_map(root, &bad) : NULL;
    if (in == NULL || out == NULL)
        ; /* out of memory: nothing sensible to report under */
    else if (text == NULL)
        failed(r, &j, "%s", why);
    else if (root == NULL)
        failed(r, &j, "%s", "not valid JSON");
    else if (wm == NULL && bad != NULL)
        failed(r, &j, "weight_map: the value of '%s' is not a file name beside the index", bad);
    else if (wm == NULL)
        failed(r, &j, "%s", "no weight_map object: not a shard index");
    else if (names_a_member(r, wm))
        convert_index(r, &j, root, wm);
    tool_msgbuf_free(&j.mb);
    cJSON_Delete(root);
    free(text);
    free(stem);
    free(out_name);
    free(renamed);
    free(in);
    free(out);
}

/* Every NAME.bin.index.json in the directory of a run of members. */
static void process_dir(const hf_run *r)
{
    DIR *d = opendir(*r->m->src ? r->m->src : ".");
    if (d == NULL)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        static const char SUFFIX[] = ".bin" INDEX_SUFFIX;
        if (len <= sizeof SUFFIX - 1 || strcmp(e->d_name + len - (sizeof SUFFIX - 1), SUFFIX) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            char **t = realloc(names, cap * sizeof *names);
            if (t == NULL)
                break;
            names = t;
        }
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, by_string);
    for (size_t i = 0; i < n; i++) {
        process_index(r, names[i]);
        free(names[i]);
    }
    free(names);
}

void tool_hf_rewrite_indexes(const tool_config *cfg, const tool_batch *b,
                             const tool_outcome *results, tool_hf_report_fn report, void *ctx)
{
    member *m = calloc(b->njobs ? b->njobs : 1, sizeof *m);
    size_t n = 0;
    int oom = m == NULL;
    for (size_t i = 0; !oom && i < b->njobs; i++) {
        const tool_job *job = &b->jobs[i];
        if (job->output == NULL || job->problem != NULL)
            continue;
        const char *slash = strrchr(job->input, '/');
        member *x = &m[n++];
        /* "" rather than ".": names then print as the inputs were given */
        x->src = slash ? tool_dirname(job->input) : strdup("");
        x->out = strchr(job->output, '/') ? tool_dirname(job->output) : strdup("");
        x->base = slash ? slash + 1 : job->input;
        x->outcome = &results[i];
        oom = x->src == NULL || x->out == NULL;
    }
    if (!oom) {
        qsort(m, n, sizeof *m, by_dirs_and_base);
        for (size_t i = 0, k; i < n; i = k) {
            for (k = i + 1;
                 k < n && strcmp(m[k].src, m[i].src) == 0 && strcmp(m[k].out, m[i].out) == 0; k++)
                ;
            hf_run r = {cfg, report, ctx, &m[i], k - i};
            process_dir(&r);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(m[i].src);
        free(m[i].out);
    }
    free(m);
}
