/*
 * tool_rm.c - removing converted inputs (see tool_rm.h).
 */
#include "tool_rm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void fail(tool_msgbuf *mb, const char *input, tool_outcome *o, const char *msg,
                 const char *detail)
{
    o->status = TOOL_FAILED;
    snprintf(o->error, sizeof o->error, "%s%s", msg, detail);
    tool_error(mb, input, "%s", o->error);
}

int tool_rm_check(const tool_config *cfg, const char *input, struct stat *before, tool_msgbuf *mb,
                  tool_outcome *o)
{
    memset(before, 0, sizeof *before);
    if (!cfg->rm)
        return 0;
    if (tool_is_tf_input(input)) {
        fail(mb, input, o,
             "--rm does not remove a TensorFlow bundle (NAME.index and its data files): "
             "convert it without --rm",
             "");
        return 1;
    }
    if (lstat(input, before) != 0)
        memset(before, 0, sizeof *before);
    return 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

void tool_rm_input(const tool_config *cfg, const tool_job *job, const struct stat *before,
                   tool_msgbuf *mb, tool_outcome *o)
{
    if (!cfg->rm || cfg->dry_run || job->output == NULL || o->status != TOOL_CONVERTED)
        return;
    struct stat now;
    if (before->st_ino == 0 || lstat(job->input, &now) != 0 || !same_file(before, &now)) {
        fail(mb, job->input, o, "converted, but not removed (--rm): the input changed meanwhile",
             "");
        return;
    }
    if (unlink(job->input) != 0) {
        fail(mb, job->input, o, "converted, but cannot remove the input (--rm): ", strerror(errno));
        return;
    }
    o->removed = 1;
    tool_verbose(mb, cfg, "%s: removed (--rm)", job->input);
}
