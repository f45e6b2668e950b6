/*
 * tool_report.c - --json lines, the tally and the summary line (see
 * tool_report.h).
 */
#include "tool_report.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "tool_json.h"

static const char *const STATUS_NAMES[TOOL_NSTATUS] = {
    "converted", "skipped", "refused", "failed", "copied",
};

static void add_string_or_null(cJSON *o, const char *key, const char *value)
{
    if (value != NULL && *value != '\0')
        cJSON_AddStringToObject(o, key, value);
    else
        cJSON_AddNullToObject(o, key);
}

/* A file name, and when it is not UTF-8 its bytes as KEY_hex (tool_json.h). */
static void add_name(cJSON *o, const char *key, const char *name)
{
    add_string_or_null(o, key, name);
    if (name == NULL || tool_json_is_utf8(name))
        return;
    char hex_key[32], *hex = tool_json_hex(name);
    snprintf(hex_key, sizeof hex_key, "%s_hex", key);
    add_string_or_null(o, hex_key, hex);
    free(hex);
}

int tool_report_json(tool_console *con, const char *input, const char *output,
                     const tool_outcome *o)
{
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return -1;
    int converted = o->status == TOOL_CONVERTED;
    add_name(j, "input", input);
    add_name(j, "output", output);
    const char *status = STATUS_NAMES[o->status];
    if (o->dry_run && o->status == TOOL_CONVERTED)
        status = "would-convert";
    else if (o->dry_run && o->status == TOOL_SKIPPED)
        status = "would-skip";
    else if (o->dry_run && o->status == TOOL_COPIED)
        status = "would-copy";
    cJSON_AddStringToObject(j, "status", status);
    add_string_or_null(j, "verdict", o->verdict);
    if (converted) {
        cJSON_AddNumberToObject(j, "tensors", (double)o->tensors);
        if (o->dry_run)
            cJSON_AddNullToObject(j, "bytes");
        else
            cJSON_AddNumberToObject(j, "bytes", (double)o->bytes);
    } else {
        cJSON_AddNullToObject(j, "tensors");
        if (o->status == TOOL_COPIED && !o->dry_run)
            cJSON_AddNumberToObject(j, "bytes", (double)o->bytes);
        else
            cJSON_AddNullToObject(j, "bytes");
    }
    /* milliseconds are enough, and keep the line short */
    cJSON_AddNumberToObject(j, "seconds", (double)(long long)(o->seconds * 1000 + 0.5) / 1000);
    add_string_or_null(j, "sha256", converted ? o->sha256 : NULL);
    add_string_or_null(j, "error", o->error);
    cJSON_AddBoolToObject(j, "verified", converted && o->verified);
    cJSON_AddBoolToObject(j, "removed", o->removed);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *fixed = text ? tool_json_fix_utf8(text) : NULL; /* names that are not UTF-8 */
    int rc = fixed != NULL ? tool_console_stdout(con, fixed) : -1;
    free(fixed);
    cJSON_free(text);
    return rc;
}

void tool_tally_add(tool_tally *t, const tool_outcome *o)
{
    t->count[o->status]++;
    if (o->status == TOOL_CONVERTED)
        t->bytes += o->bytes;
}

int tool_tally_exit_code(const tool_tally *t)
{
    if (t->count[TOOL_REFUSED])
        return C2S_ERR_REFUSED;
    if (t->count[TOOL_FAILED])
        return C2S_ERR_INPUT;
    return C2S_OK;
}

double tool_seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

void tool_report_summary(const tool_config *cfg, const tool_tally *t, double seconds)
{
    char size[32];
    char copied[48] = "";
    if (t->count[TOOL_COPIED])
        snprintf(copied, sizeof copied, ", copied %zu", t->count[TOOL_COPIED]);
    if (cfg->dry_run) {
        if (t->count[TOOL_COPIED])
            snprintf(copied, sizeof copied, ", would copy %zu", t->count[TOOL_COPIED]);
        tool_info(NULL, cfg,
                  "would convert %zu, would skip %zu, refused %zu, failed %zu%s (dry run)",
                  t->count[TOOL_CONVERTED], t->count[TOOL_SKIPPED], t->count[TOOL_REFUSED],
                  t->count[TOOL_FAILED], copied);
        return;
    }
    tool_info(NULL, cfg, "converted %zu, skipped %zu, refused %zu, failed %zu%s; %s in %.2f s",
              t->count[TOOL_CONVERTED], t->count[TOOL_SKIPPED], t->count[TOOL_REFUSED],
              t->count[TOOL_FAILED], copied, tool_human_size(t->bytes, size, sizeof size), seconds);
}
