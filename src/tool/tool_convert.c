/*
 * tool_convert.c - convert one file (see tool_convert.h).
 */
#include "tool_convert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    int fresh = tool_up_to_date(in, out);
    if (fresh > 0) {
        o->status = TOOL_SKIPPED;
        tool_info(mb, cfg, "%s -> %s: skipped (up to date)", in, out);
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
    return (c2s_write_options){
        .force = cfg->force,
        .skip_unsupported = cfg->skip_unsupported,
        .cancel = cancel,
        .progress = slot ? tool_progress_update : NULL,
        .progress_ctx = slot,
        .include = cfg->include,
        .ninclude = cfg->ninclude,
        .exclude = cfg->exclude,
        .nexclude = cfg->nexclude,
        .convert_dtype = cfg->convert_dtype,
        .dtype = cfg->dtype,
        .metadata = cfg->metadata,
        .nmetadata = cfg->nmetadata,
        .training_metadata = cfg->training_metadata,
        .verify = cfg->verify,
        .verify_progress = slot ? tool_progress_verify : NULL,
        .out_fd = STDOUT_FILENO, /* used only when the output is NULL */
        .sha256 = cfg->json,
        .direct_io = cfg->direct_io,
        .jobs = sharing,
    };
}

static void report_written(const tool_config *cfg, const tool_job *job, const c2s_write_result *res,
                           double secs, tool_msgbuf *mb)
{
    char size[32];
    tool_info(mb, cfg, "%s -> %s: %zu tensor%s, %s in %.2f s%s", job->input,
              job->output ? job->output : "(standard output)", res->tensors,
              tool_plural(res->tensors), tool_human_size(res->file_bytes, size, sizeof size), secs,
              cfg->verify ? ", verified" : "");
    if (res->filtered)
        tool_verbose(mb, cfg, "%s: %zu tensor%s left out by --include/--exclude", job->input,
                     res->filtered, tool_plural(res->filtered));
    if (cfg->convert_dtype)
        tool_verbose(mb, cfg, "%s: %zu tensor%s converted to %s", job->input, res->converted,
                     tool_plural(res->converted), c2s_dtype_name(cfg->dtype));
    if (cfg->verify)
        tool_verbose(mb, cfg, "%s: verified against the checkpoint", job->input);
    if (res->direct_bytes)
        tool_verbose(mb, cfg, "%s: %s of it written around the page cache (--direct-io)",
                     job->input, tool_human_size(res->direct_bytes, size, sizeof size));
}

static void convert(const tool_config *cfg, const tool_job *job,
                    const volatile sig_atomic_t *cancel, tool_progress_slot *slot, unsigned sharing,
                    tool_msgbuf *mb, tool_outcome *out)
{
    c2s_open_options oo = tool_open_options(cfg);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    c2s_status st = c2s_open(job->input, &oo, &ck, &err);
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
    c2s_write_options wo = write_options(cfg, cancel, slot, sharing);
    c2s_write_result res;
    memset(&res, 0, sizeof res);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = c2s_write(ck, job->output, &wo, &res, &err);
    c2s_close(ck);
    if (st != C2S_OK && err.rule == C2S_RULE_CORRUPT) /* storage bytes that fail their CRC */
        out->verdict = "corrupt";
    if (st != C2S_OK) {
        fail(mb, job, out, st == C2S_ERR_REFUSED ? TOOL_REFUSED : TOOL_FAILED,
             tool_error_text(&err, why, sizeof why));
        return;
    }
    out->status = TOOL_CONVERTED;
    out->tensors = res.tensors;
    out->bytes = res.file_bytes;
    out->verified = cfg->verify;
    memcpy(out->sha256, res.sha256, sizeof out->sha256);
    report_written(cfg, job, &res, tool_seconds_since(&t0), mb);
}

void tool_convert_one(const tool_config *cfg, const tool_job *job,
                      const volatile sig_atomic_t *cancel, tool_progress_slot *slot,
                      unsigned sharing, tool_msgbuf *mb, tool_outcome *out)
{
    memset(out, 0, sizeof *out);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (job->problem != NULL)
        fail(mb, job, out, TOOL_FAILED, job->problem);
    else if (job->output == NULL && isatty(STDOUT_FILENO))
        fail(mb, job, out, TOOL_FAILED,
             "standard output is a terminal: redirect it, or use -o FILE");
    else if (!tool_check_existing(cfg, job->input, job->output, mb, out) &&
             make_parent(job, mb, out) == 0)
        convert(cfg, job, cancel, slot, sharing, mb, out);
    out->seconds = tool_seconds_since(&t0);
}
