/*
 * tool_preview.c - the checks of a --dry-run (see tool_preview.h).
 *
 * The messages and rules are those of c2s_write, so that tool_error_text
 * adds the same hints (--skip-unsupported, --quantized, ...) and a dry run
 * prints what the real run would print.
 */
#include "tool_preview.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tool_msgs.h"

static c2s_status fail_rule(c2s_error *err, c2s_rule rule, const char *msg)
{
    tool_fail(err, C2S_ERR_INPUT, "%s", msg);
    err->rule = rule;
    return C2S_ERR_INPUT;
}

static c2s_status check_unsupported(const c2s_checkpoint *ck, c2s_error *err)
{
    for (size_t i = 0; i < c2s_tensor_count(ck); i++) {
        c2s_tensor_info t = c2s_tensor_at(ck, i);
        if (t.supported)
            continue;
        char msg[C2S_ERROR_MSG_MAX];
        int quantized = strcmp(t.why, "quantized tensor") == 0;
        if (quantized)
            snprintf(msg, sizeof msg,
                     "tensor '%s' is a quantized tensor, which safetensors cannot store as such: "
                     "it can be dequantized to F32 values, or written raw (its integers, scale "
                     "and zero point)",
                     t.name);
        else
            snprintf(msg, sizeof msg, "tensor '%s' is a %s, which safetensors cannot store", t.name,
                     t.why);
        return fail_rule(err, quantized ? C2S_RULE_QUANTIZED : C2S_RULE_UNSUPPORTED, msg);
    }
    return C2S_OK;
}

c2s_status tool_preview_check(const tool_config *cfg, const c2s_checkpoint *ck,
                              const c2s_write_options *wo, const tool_job *job, size_t *ntensors,
                              c2s_error *err)
{
    struct stat si, so;
    if (job->output != NULL && stat(job->output, &so) == 0 &&
        tool_stat_input(job->input, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return tool_fail(err, C2S_ERR_INPUT, "refusing to write the output over the input file");
    if (!cfg->skip_unsupported && check_unsupported(ck, err) != C2S_OK)
        return C2S_ERR_INPUT;
    size_t kept = 0, filtered = 0;
    for (size_t i = 0; i < c2s_tensor_count(ck); i++) {
        c2s_tensor_info t = c2s_tensor_at(ck, i);
        if (!t.supported)
            continue;
        if (c2s_selected(wo, t.name))
            kept++;
        else
            filtered++;
    }
    *ntensors = kept;
    if (kept == 0 && filtered > 0)
        return fail_rule(err, C2S_RULE_ALL_FILTERED,
                         "no tensor left to write after the include/exclude filters");
    if (kept == 0)
        return tool_fail(err, C2S_ERR_INPUT,
                         "no tensor left to write after skipping unsupported ones");
    return C2S_OK;
}
