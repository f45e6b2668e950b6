/*
 * tool_convert.c - convert one file (see tool_convert.h).
 */
#include "tool_convert.h"
#include "tool_shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool_select.h"
#include "tool_spool.h"
#include "tool_preview.h"
#include "tool_rerun.h"
#include "tool_rm.h"

c2s_open_options tool_open_options(const tool_config *cfg)
{
    return (c2s_open_options){.key = cfg->key,
                              .limits = cfg->limits,
                              .allow = cfg->allow,
                              .nallow = cfg->nallow,
                              .permissive = cfg->permissive,
                              .tf_names = cfg->tf_names,
                              .tensor_name = cfg->tensor_name,
                              .quantized = cfg->quantized};
}

int tool_up_to_date(const char *in, const char *out)
{
    struct stat si, so;
    if (lstat(out, &so) != 0 || !S_ISREG(so.st_mode) || tool_stat_input(in, &si) != 0)
        return 0;
    if (si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return 0;
    if (so.st_mtim.tv_sec != si.st_mtim.tv_sec)
        return so.st_mtim.tv_sec > si.st_mtim.tv_sec ? 1 : -1;
    return so.st_mtim.tv_nsec >= si.st_mtim.tv_nsec ? 1 : -1;
}

static void fail(tool_msgbuf *mb, const tool_job *job, tool_outcome *out, tool_status status,
                 const char *msg)
{
    out->status = status;
    snprintf(out->error, sizeof out->error, "%s", msg);
    tool_error(mb, job->input, "%s", msg);
}

int tool_check_existing(const tool_config *cfg, const char *in, const char *out, tool_msgbuf *mb,
                        tool_outcome *o)
{
    if (cfg->force || out == NULL)
        return 0;
    struct stat st;
    if (tool_needs_spool(in) && lstat(out, &st) == 0) { /* a pipe has no time: never up to date */
        o->status = TOOL_FAILED;
        snprintf(o->error, sizeof o->error, "output exists: %s (use -f to overwrite)", out);
        tool_error(mb, in, "%s", o->error);
        return 1;
    }
    int fresh = tool_up_to_date(in, out);
    if (fresh > 0) {
        o->status = TOOL_SKIPPED;
        tool_info(mb, cfg, "%s -> %s: %s (up to date)", in, out,
                  cfg->dry_run ? "would skip" : "skipped");
        return 1;
    }
    if (fresh < 0) {
        o->status = TOOL_FAILED;
        snprintf(o->error, sizeof o->error,
                 "output exists and is older than the input: %s (use -f to overwrite)", out);
        tool_error(mb, in, "%s", o->error);
        return 1;
    }
    return 0;
}

static int make_parent(const tool_job *job, tool_msgbuf *mb, tool_outcome *out)
{
    if (!job->make_dirs || job->output == NULL)
        return 0;
    char *dir = tool_dirname(job->output);
    int rc = dir ? tool_mkdirs(dir) : -1;
    if (rc != 0) {
        char msg[C2S_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg, "cannot create directory %s: %s", dir ? dir : job->output,
                 dir ? strerror(errno) : "out of memory");
        fail(mb, job, out, TOOL_FAILED, msg);
    }
    free(dir);
    return rc;
}

/* The notes of the tensor map, as the single-file tool always printed them. */
static void report_open(const tool_config *cfg, const char *input, const c2s_checkpoint *ck,
                        tool_msgbuf *mb)
{
    for (size_t i = 0; i < c2s_note_count(ck); i++)
        tool_info(mb, cfg, "%s: %s", input, c2s_note_at(ck, i));
    size_t ntensors = c2s_tensor_count(ck), nstorages = c2s_storage_count(ck);
    const char *root = c2s_root(ck);
    tool_verbose(mb, cfg, "%s: root %s, %zu tensor%s in %zu storage%s%s", input,
                 *root ? root : "(top level)", ntensors, tool_plural(ntensors), nstorages,
                 tool_plural(nstorages), c2s_big_endian(ck) ? ", big-endian storages" : "");
    for (size_t i = 0; i < ntensors && cfg->skip_unsupported; i++) {
        c2s_tensor_info t = c2s_tensor_at(ck, i);
        if (!t.supported)
            tool_warn(mb, cfg, input, "skipping tensor '%s' (%s)", t.name, t.why);
    }
}

static c2s_write_options write_options(const tool_config *cfg, const volatile sig_atomic_t *cancel,
                                       tool_progress_slot *slot, unsigned sharing)
{
    c2s_write_options o = tool_select_options(cfg); /* which tensors, their names and dtype */
    o.force = cfg->force;
    o.skip_unsupported = cfg->skip_unsupported;
    o.cancel = cancel;
    o.progress = slot ? tool_progress_update : NULL;
    o.progress_ctx = slot;
    o.metadata = cfg->metadata;
    o.nmetadata = cfg->nmetadata;
    o.training_metadata = cfg->training_metadata;
    o.verify = cfg->verify || cfg->rm; /* --rm removes only a checked input */
    o.verify_progress = slot ? tool_progress_verify : NULL;
    o.out_fd = STDOUT_FILENO; /* used only when the output is NULL */
    o.sha256 = cfg->json;
    o.direct_io = cfg->direct_io;
    o.jobs = sharing;
    return o;
}

static void report_written(const tool_config *cfg, const tool_job *job, const c2s_write_result *res,
                           size_t nshards, int verified, double secs, tool_msgbuf *mb)
{
    char size[32], shards[48] = "";
    char *index = nshards > 1 ? tool_shard_index_name(job->output) : NULL;
    if (index != NULL)
        snprintf(shards, sizeof shards, " in %zu shards", nshards);
    tool_info(mb, cfg, "%s -> %s: %zu tensor%s%s, %s in %.2f s%s", job->input,
              index                 ? index
              : job->output != NULL ? job->output
                                    : "(standard output)",
              res->tensors, tool_plural(res->tensors), shards,
              tool_human_size(res->file_bytes, size, sizeof size), secs,
              verified ? ", verified" : "");
    free(index);
    if (res->filtered)
        tool_verbose(mb, cfg, "%s: %zu tensor%s left out by --include/--exclude", job->input,
                     res->filtered, tool_plural(res->filtered));
    if (cfg->convert_dtype)
        tool_verbose(mb, cfg, "%s: %zu tensor%s converted to %s", job->input, res->converted,
                     tool_plural(res->converted), c2s_dtype_name(cfg->dtype));
    if (verified)
        tool_verbose(mb, cfg, "%s: verified against the checkpoint", job->input);
    if (res->direct_bytes)
        tool_verbose(mb, cfg, "%s: %s of it written around the page cache (--direct-io)",
                     job->input, tool_human_size(res->direct_bytes, size, sizeof size));
}

/* The command line's metadata, then the options record (when not ""):
 * malloc'd, NULL on out of memory. */
static c2s_kv *metadata_with_record(const tool_config *cfg, const char *record, size_t *n)
{
    c2s_kv *kv = malloc((cfg->nmetadata + 1) * sizeof *kv);
    if (kv == NULL)
        return NULL;
    if (cfg->nmetadata > 0)
        memcpy(kv, cfg->metadata, cfg->nmetadata * sizeof *kv);
    *n = cfg->nmetadata;
    if (*record)
        kv[(*n)++] = (c2s_kv){TOOL_RECORD_KEY, record};
    return kv;
}

/* --dry-run: the checks c2s_write would make, nothing written. */
static void preview(const tool_config *cfg, const tool_job *job, const c2s_checkpoint *ck,
                    const c2s_write_options *wo, tool_msgbuf *mb, tool_outcome *out)
{
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    size_t n = 0;
    if (tool_preview_check(cfg, ck, wo, job, &n, &err) != C2S_OK) {
        fail(mb, job, out, TOOL_FAILED, tool_error_text(&err, why, sizeof why));
        return;
    }
    /* split by --max-shard-size: named as the real run names it (report_written) */
    size_t nshards = 1;
    c2s_shard_plan plan;
    memset(&plan, 0, sizeof plan);
    if (cfg->max_shard_size && job->output != NULL) {
        if (c2s_plan_shards(ck, wo, cfg->max_shard_size, &plan, &err) != C2S_OK) {
            fail(mb, job, out, TOOL_FAILED, tool_error_text(&err, why, sizeof why));
            return;
        }
        nshards = plan.nshards;
        c2s_shard_plan_free(&plan);
    }
    char *index = nshards > 1 ? tool_shard_index_name(job->output) : NULL;
    char shards[48] = "";
    if (index != NULL)
        snprintf(shards, sizeof shards, " in %zu shards", nshards);
    out->status = TOOL_CONVERTED;
    out->tensors = n;
    out->sharded = index != NULL; /* --json names the index too */
    tool_info(mb, cfg, "%s -> %s: would convert %zu tensor%s%s%s", job->input,
              index                 ? index
              : job->output != NULL ? job->output
                                    : "(standard output)",
              n, tool_plural(n), shards, cfg->rm ? ", then remove the input" : "");
    free(index);
}

static void convert(const tool_config *cfg, const tool_job *job, const char *record,
                    const struct stat *before, const volatile sig_atomic_t *cancel,
                    tool_progress_slot *slot, unsigned sharing, tool_msgbuf *mb, tool_outcome *out)
{
    c2s_open_options oo = tool_open_options(cfg);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    c2s_status st = tool_open_input(job->input, &oo, cancel, &ck, &err);
    if (st != C2S_OK) {
        out->verdict = st == C2S_ERR_REFUSED          ? "unsafe"
                       : err.rule == C2S_RULE_CORRUPT ? "corrupt"
                                                      : "unreadable";
        fail(mb, job, out, st == C2S_ERR_REFUSED ? TOOL_REFUSED : TOOL_FAILED,
             tool_error_text(&err, why, sizeof why));
        return;
    }
    out->verdict = "safe";
    report_open(cfg, job->input, ck, mb);
    tool_warn_unmatched(cfg, job->input, &(tool_tensors){ck, NULL}, mb);
    c2s_write_options wo = write_options(cfg, cancel, slot, sharing);
    tool_shard_result sres;
    memset(&sres, 0, sizeof sres);
    c2s_kv *meta = metadata_with_record(cfg, record, &wo.nmetadata);
    wo.metadata = meta;
    if (meta == NULL) {
        c2s_close(ck);
        fail(mb, job, out, TOOL_FAILED, "out of memory");
        return;
    }
    if (cfg->dry_run) {
        preview(cfg, job, ck, &wo, mb, out);
        c2s_close(ck);
        free(meta);
        return;
    }
    c2s_write_result res;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cfg->max_shard_size && job->output != NULL)
        st = tool_write_sharded(cfg, ck, job->input, job->output, &wo, &sres, mb, &err);
    else
        st = c2s_write(ck, job->output, &wo, &sres.w, &err);
    res = sres.w;
    c2s_close(ck);
    free(meta);
    if (st != C2S_OK && err.rule == C2S_RULE_CORRUPT) /* storage bytes that fail their CRC */
        out->verdict = "corrupt";
    if (st != C2S_OK) {
        fail(mb, job, out, st == C2S_ERR_REFUSED ? TOOL_REFUSED : TOOL_FAILED,
             tool_error_text(&err, why, sizeof why));
        return;
    }
    out->status = TOOL_CONVERTED;
    out->sharded = sres.nshards > 1;
    out->tensors = res.tensors;
    out->bytes = res.file_bytes;
    out->verified = wo.verify;
    memcpy(out->sha256, res.sha256, sizeof out->sha256);
    report_written(cfg, job, &res, sres.nshards, out->verified, tool_seconds_since(&t0), mb);
    tool_rm_input(cfg, job, before, mb, out);
}

/* The file that stands for the existing output: the output itself, or
 * with --max-shard-size, when it does not exist, the index of the shards
 * an earlier run wrote (if there is one).  malloc'd, or NULL with errno. */
static char *existing_output(const tool_config *cfg, const char *output)
{
    struct stat st;
    if (cfg->max_shard_size && lstat(output, &st) != 0) {
        char *index = tool_shard_index_name(output);
        if (index == NULL || lstat(index, &st) == 0)
            return index;
        free(index);
    }
    return strdup(output);
}

/* The existing output, --rm's conditions, the output's directory, then
 * the conversion. */
static void check_and_convert(const tool_config *cfg, const tool_job *job,
                              const volatile sig_atomic_t *cancel, tool_progress_slot *slot,
                              unsigned sharing, tool_msgbuf *mb, tool_outcome *out)
{
    char *record = tool_options_record(cfg);
    char *existing = job->output ? existing_output(cfg, job->output) : NULL;
    struct stat before;
    if (record == NULL || (job->output != NULL && existing == NULL))
        fail(mb, job, out, TOOL_FAILED, "out of memory");
    else if (!tool_rm_check(cfg, job->input, &before, mb, out) &&
             !tool_rerun_check(cfg, job->input, existing, record, mb, out) &&
             (cfg->dry_run || make_parent(job, mb, out) == 0))
        convert(cfg, job, record, &before, cancel, slot, sharing, mb, out);
    free(existing);
    free(record);
}

void tool_convert_one(const tool_config *cfg, const tool_job *job,
                      const volatile sig_atomic_t *cancel, tool_progress_slot *slot,
                      unsigned sharing, tool_msgbuf *mb, tool_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->dry_run = cfg->dry_run;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (job->problem != NULL)
        fail(mb, job, out, TOOL_FAILED, job->problem);
    else if (job->output == NULL && isatty(STDOUT_FILENO))
        fail(mb, job, out, TOOL_FAILED,
             "standard output is a terminal: redirect it, or use -o FILE");
    else
        check_and_convert(cfg, job, cancel, slot, sharing, mb, out);
    out->seconds = tool_seconds_since(&t0);
}
