/*
 * tool_select.c - --include, --exclude, --rename and --dtype as the library
 * sees them, and the warning for those that matched nothing (see
 * tool_select.h).
 *
 * The rules themselves (first matching rename wins, globs on the renamed
 * name) live in the library (c2s_output_name, c2s_selected); this file only
 * asks it.  Unmatched patterns are reported per file: a batch of files of
 * different layouts says which file a pattern did not apply to, which is
 * exactly the trap (an --exclude that matched nothing keeps those tensors
 * silently).
 */
#include "tool_select.h"

#include <stdlib.h>
#include <string.h>

size_t tool_tensors_count(const tool_tensors *t)
{
    return t->ck != NULL ? c2s_tensor_count(t->ck) : c2s_safetensors_count(t->st);
}

c2s_tensor_info tool_tensors_at(const tool_tensors *t, size_t i)
{
    return t->ck != NULL ? c2s_tensor_at(t->ck, i) : c2s_safetensors_tensor_at(t->st, i);
}

c2s_status tool_add_rename(const char *arg, tool_config *cfg, c2s_error *err)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--rename takes FROM=TO (a name prefix and its replacement; FROM may be "
                         "empty), not '%s'",
                         arg);
    char *from = strndup(arg, (size_t)(eq - arg));
    if (from == NULL)
        return tool_fail(err, C2S_ERR_USAGE, "out of memory");
    cfg->renames[cfg->nrenames++] = (c2s_rename){from, eq + 1};
    return C2S_OK;
}

c2s_write_options tool_select_options(const tool_config *cfg)
{
    return (c2s_write_options){
        .include = cfg->include,
        .ninclude = cfg->ninclude,
        .exclude = cfg->exclude,
        .nexclude = cfg->nexclude,
        .rename = cfg->renames,
        .nrename = cfg->nrenames,
        .convert_dtype = cfg->convert_dtype,
        .dtype = cfg->dtype,
        .out_fd = -1,
    };
}

char *tool_renamed(const c2s_write_options *o, const char *name)
{
    size_t len = c2s_output_name(o, name, NULL, 0);
    char *out = malloc(len + 1);
    if (out != NULL)
        c2s_output_name(o, name, out, len + 1);
    return out;
}

/* Whether glob matches the output name of some tensor. */
static int glob_matches_some(const c2s_write_options *o, const char *glob, const tool_tensors *t)
{
    int hit = 0;
    for (size_t i = 0; i < tool_tensors_count(t) && !hit; i++) {
        char *name = tool_renamed(o, tool_tensors_at(t, i).name);
        hit = name == NULL || c2s_glob_match(glob, name); /* out of memory: no warning */
        free(name);
    }
    return hit;
}

static int rename_matches_some(const c2s_write_options *o, size_t r, const tool_tensors *t)
{
    for (size_t i = 0; i < tool_tensors_count(t); i++)
        if (c2s_rename_index(o, tool_tensors_at(t, i).name) == r)
            return 1;
    return 0;
}

void tool_warn_unmatched(const tool_config *cfg, const char *input, const tool_tensors *t,
                         tool_msgbuf *mb)
{
    if (cfg->quiet)
        return;
    c2s_write_options o = tool_select_options(cfg);
    for (size_t i = 0; i < cfg->ninclude; i++)
        if (!glob_matches_some(&o, cfg->include[i], t))
            tool_warn(mb, cfg, input, "--include '%s' matched no tensor", cfg->include[i]);
    for (size_t i = 0; i < cfg->nexclude; i++)
        if (!glob_matches_some(&o, cfg->exclude[i], t))
            tool_warn(mb, cfg, input, "--exclude '%s' matched no tensor", cfg->exclude[i]);
    for (size_t r = 0; r < cfg->nrenames; r++)
        if (!rename_matches_some(&o, r, t))
            tool_warn(mb, cfg, input, "--rename '%s=%s' matched no tensor", cfg->renames[r].from,
                      cfg->renames[r].to);
}
