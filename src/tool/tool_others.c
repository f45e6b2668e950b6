/*
 * tool_others.c - copying the files of a model directory that are no
 * checkpoints (see tool_others.h).
 */
#include "tool_others.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool_convert.h"
#include "tool_run.h"

static void copy_failed(tool_msgbuf *mb, const char *src, tool_outcome *o, const char *msg)
{
    o->status = TOOL_FAILED;
    size_t n = strlen(msg);
    n = n < sizeof o->error ? n : sizeof o->error - 1; /* as snprintf would cut it */
    memcpy(o->error, msg, n);
    o->error[n] = '\0';
    tool_error(mb, src, "%s", msg);
}

/* Open the source (a regular file: the walk saw one, it may have changed
 * since), make the destination's directory and copy. */
static void copy_one(const tool_config *cfg, const tool_copy *c,
                     const volatile sig_atomic_t *cancel, tool_msgbuf *mb, tool_outcome *o)
{
    char msg[C2S_ERROR_MSG_MAX + 64];
    struct stat st;
    int fd = open(c->src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, sizeof msg, "cannot copy: %s",
                 fd < 0 ? strerror(errno) : "not a regular file");
        copy_failed(mb, c->src, o, msg);
        if (fd >= 0)
            close(fd);
        return;
    }
    char *dir = tool_dirname(c->dst);
    if (dir == NULL || tool_mkdirs(dir) != 0) {
        snprintf(msg, sizeof msg, "cannot create directory %s: %s", dir ? dir : c->dst,
                 dir ? strerror(errno) : "out of memory");
        copy_failed(mb, c->src, o, msg);
        free(dir);
        close(fd);
        return;
    }
    free(dir);
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    if (c2s_copy_file_atomic(fd, c->dst, (unsigned)st.st_mode, cfg->force, cancel, &err) !=
        C2S_OK) {
        copy_failed(mb, c->src, o, tool_error_text(&err, why, sizeof why));
    } else {
        o->status = TOOL_COPIED;
        o->bytes = (uint64_t)st.st_size;
        tool_info(mb, cfg, "%s -> %s: copied", c->src, c->dst);
    }
    close(fd);
}

/* --dry-run: what a run would do with the copy; nothing is written and no
 * directory made. */
static void preview_copy(const tool_config *cfg, const tool_copy *c, tool_msgbuf *mb,
                         tool_outcome *o)
{
    struct stat st;
    int e = stat(c->src, &st) != 0 ? errno : 0;
    if (e != 0 || !S_ISREG(st.st_mode)) {
        char msg[C2S_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "cannot copy: %s", e != 0 ? strerror(e) : "not a regular file");
        copy_failed(mb, c->src, o, msg);
        return;
    }
    o->status = TOOL_COPIED;
    tool_info(mb, cfg, "%s -> %s: would copy", c->src, c->dst);
}

void tool_copy_others(const tool_config *cfg, const tool_batch *b,
                      const volatile sig_atomic_t *cancel, tool_hf_report_fn report, void *ctx)
{
    tool_msgbuf mb = {0};
    for (size_t i = 0; i < b->ncopies && !tool_cancelled(cancel); i++) {
        const tool_copy *c = &b->copies[i];
        tool_outcome o;
        memset(&o, 0, sizeof o);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        o.dry_run = cfg->dry_run;
        if (c->problem != NULL)
            copy_failed(&mb, c->src, &o, c->problem);
        else if (tool_check_existing(cfg, c->src, c->dst, &mb, &o))
            ; /* up to date, or older: said */
        else if (cfg->dry_run)
            preview_copy(cfg, c, &mb, &o);
        else
            copy_one(cfg, c, cancel, &mb, &o);
        o.seconds = tool_seconds_since(&t0);
        if (tool_cancelled(cancel))
            break; /* "interrupted": say nothing, as the conversions do */
        report(ctx, c->src, c->dst, &o, &mb);
    }
    tool_msgbuf_free(&mb);
}
