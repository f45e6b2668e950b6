/*
 * tool_report.c - --json lines, the tally and the summary line (see
 * tool_report.h).
 */
#include "tool_report.h"

#include <cjson/cJSON.h>

static const char *const STATUS_NAMES[TOOL_NSTATUS] = {
    "converted",
    "skipped",
    "refused",
    "failed",
};

static void add_string_or_null(cJSON *o, const char *key, const char *value)
{
    if (value != NULL && *value != '\0')
        cJSON_AddStringToObject(o, key, value);
    else
        cJSON_AddNullToObject(o, key);
}

int tool_report_json(tool_console *con, const char *input, const char *output,
                     const tool_outcome *o)
{
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return -1;
    int converted = o->status == TOOL_CONVERTED;
    cJSON_AddStringToObject(j, "input", input);
    add_string_or_null(j, "output", output);
    cJSON_AddStringToObject(j, "status", STATUS_NAMES[o->status]);
    add_string_or_null(j, "verdict", o->verdict);
    if (converted) {
        cJSON_AddNumberToObject(j, "tensors", (double)o->tensors);
        cJSON_AddNumberToObject(j, "bytes", (double)o->bytes);
    } else {
        cJSON_AddNullToObject(j, "tensors");
        cJSON_AddNullToObject(j, "bytes");
    }
    /* milliseconds are enough, and keep the line short */
    cJSON_AddNumberToObject(j, "seconds", (double)(long long)(o->seconds * 1000 + 0.5) / 1000);
    add_string_or_null(j, "sha256", converted ? o->sha256 : NULL);
    add_string_or_null(j, "error", o->error);
    cJSON_AddBoolToObject(j, "verified", converted && o->verified);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    int rc = text != NULL ? tool_console_stdout(con, text) : -1;
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
    tool_info(NULL, cfg, "converted %zu, skipped %zu, refused %zu, failed %zu; %s in %.2f s",
              t->count[TOOL_CONVERTED], t->count[TOOL_SKIPPED], t->count[TOOL_REFUSED],
              t->count[TOOL_FAILED], tool_human_size(t->bytes, size, sizeof size), seconds);
}
