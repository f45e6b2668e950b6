/*
 * tool_rerun.c - the options record and the re-run decision (see
 * tool_rerun.h).
 *
 * The record is built by appending tokens to a growing string (tool_text); the
 * existing output's record is read from its header with
 * c2s_safetensors_open (no tensor data is read) and compared as text.
 */
#include "tool_rerun.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_convert.h"
#include "tool_hf.h"
#include "tool_json.h"

/* A value byte that is written %XX. */
static int escaped(unsigned char c)
{
    return c <= ' ' || c >= 0x7f || c == '%' || c == '"' || c == '\\';
}

static void append_value(tool_text *r, const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char hex[4];
        if (escaped(*p)) {
            snprintf(hex, sizeof hex, "%%%02X", *p);
            tool_text_put(r, hex, 3);
        } else {
            tool_text_put(r, (const char *)p, 1);
        }
    }
}

/* " --name", then "=value" and "=value2" for those that are not NULL
 * (--metadata=KEY=VALUE, --rename=FROM=TO). */
static void put_option(tool_text *r, const char *name, const char *value, const char *value2)
{
    if (r->len > 0)
        tool_text_puts(r, " ");
    tool_text_puts(r, "--");
    tool_text_puts(r, name);
    for (const char *const *v = (const char *const[]){value, value2, NULL}; *v != NULL; v++) {
        tool_text_puts(r, "=");
        append_value(r, *v);
    }
}

/* " --name=value" (value NULL: the option is not given). */
static void put(tool_text *r, const char *name, const char *value)
{
    if (value != NULL)
        put_option(r, name, value, NULL);
}

/* " --name" when on. */
static void put_flag(tool_text *r, const char *name, int on)
{
    if (on)
        put_option(r, name, NULL, NULL);
}

static void put_list(tool_text *r, const char *name, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(r, name, values[i]);
}

static const char *quantized_name(c2s_quantized q)
{
    return q == C2S_QUANTIZED_DEQUANTIZE ? "dequantize" : q == C2S_QUANTIZED_RAW ? "raw" : NULL;
}

char *tool_options_record(const tool_config *cfg)
{
    tool_text r = {0};
    tool_text_put(&r, "", 0); /* "" rather than NULL for the defaults */
    /* The options that shape what is written, one line each, in the order
     * the conversion applies them.  An option that changes the output's
     * content is added here and nowhere else. */
    put(&r, "key", cfg->key);
    put(&r, "name", cfg->tensor_name);
    put_flag(&r, "tf-names", cfg->tf_names);
    put(&r, "quantized", quantized_name(cfg->quantized));
    put_flag(&r, "skip-unsupported", cfg->skip_unsupported);
    put_list(&r, "include", cfg->include, cfg->ninclude);
    put_list(&r, "exclude", cfg->exclude, cfg->nexclude);
    for (size_t i = 0; i < cfg->nrenames; i++)
        put_option(&r, "rename", cfg->renames[i].from, cfg->renames[i].to);
    put(&r, "dtype", cfg->convert_dtype ? c2s_dtype_name(cfg->dtype) : NULL);
    for (size_t i = 0; i < cfg->nmetadata; i++)
        put_option(&r, "metadata", cfg->metadata[i].key, cfg->metadata[i].value);
    put_flag(&r, "training-metadata", cfg->training_metadata);
    if (cfg->max_shard_size) {
        char size[32];
        snprintf(size, sizeof size, "%llu", (unsigned long long)cfg->max_shard_size);
        put(&r, "max-shard-size", size);
    }
    if (r.oom)
        tool_text_free(&r);
    return r.s;
}

/* The record in the "metadata" of the Hugging Face index at path (a
 * sharded output, tool_shard.h): malloc'd, "" when none (*why says so);
 * NULL on out of memory. */
static char *index_record(const char *path, const char **why)
{
    size_t len;
    char *text = tool_hf_read_index(path, &len, why);
    *why = "not a readable index";
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(meta, TOOL_RECORD_KEY);
    if (j != NULL)
        *why = "no options record";
    if (cJSON_IsString(rec))
        *why = NULL;
    char *copy = strdup(cJSON_IsString(rec) ? rec->valuestring : "");
    cJSON_Delete(j);
    return copy;
}

/* The record in out's header (or, for an index, in its metadata):
 * malloc'd, "" when it has none or out is no readable safetensors file
 * (then *why says so); NULL on out of memory. */
static char *existing_record(const char *out, const char **why)
{
    if (tool_has_suffix(out, ".index.json"))
        return index_record(out, why);
    c2s_safetensors *st = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    *why = "no options record";
    if (c2s_safetensors_open(out, &st, &err) != C2S_OK) {
        *why = "not a readable safetensors file";
        return strdup("");
    }
    const char *found = "";
    for (size_t i = 0; i < c2s_safetensors_metadata_count(st); i++) {
        const char *k, *v;
        c2s_safetensors_metadata_at(st, i, &k, &v);
        if (strcmp(k, TOOL_RECORD_KEY) == 0) {
            found = v;
            *why = NULL;
        }
    }
    char *copy = strdup(found);
    c2s_safetensors_close(st);
    return copy;
}

__attribute__((format(printf, 4, 5))) static int failed(tool_msgbuf *mb, const char *in,
                                                        tool_outcome *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o->status = TOOL_FAILED;
    vsnprintf(o->error, sizeof o->error, fmt, ap);
    va_end(ap);
    tool_error(mb, in, "%s", o->error);
    return 1;
}

static const char *shown(const char *record)
{
    return *record ? record : "(the defaults)";
}

int tool_rerun_check(const tool_config *cfg, const char *in, const char *out, const char *record,
                     tool_msgbuf *mb, tool_outcome *o)
{
    if (out == NULL)
        return 0;
    int fresh = tool_up_to_date(in, out);
    if (cfg->force) {
        if (fresh != 0)
            tool_verbose(mb, cfg, "%s: %s: -f replaces the existing output", out,
                         cfg->dry_run ? "would be redone" : "redone");
        return 0;
    }
    if (fresh == 0)
        return 0;
    if (fresh < 0)
        return failed(mb, in, o,
                      "output exists and is older than the input: %s (use -f to overwrite)", out);
    const char *why;
    char *then = existing_record(out, &why);
    if (then == NULL)
        return failed(mb, in, o, "%s: out of memory", out);
    int same = strcmp(then, record) == 0;
    if (same) {
        o->status = TOOL_SKIPPED;
        tool_info(mb, cfg, "%s -> %s: %s (up to date)", in, out,
                  cfg->dry_run ? "would skip" : "skipped");
        if (why == NULL)
            tool_verbose(mb, cfg,
                         "%s: up to date: not older than %s, made with the same options (%s)", out,
                         in, shown(record));
        else
            tool_verbose(mb, cfg,
                         "%s: up to date: not older than %s; %s, so taken as made with the "
                         "default options, which this run uses",
                         out, in, why);
    } else {
        failed(mb, in, o, "output exists and was made with other options: %s (use -f to overwrite)",
               out);
        tool_verbose(mb, cfg, "%s: made with %s%s%s; this run: %s", out,
                     why ? "the default options (" : "", why ? why : shown(then), why ? ")" : "",
                     shown(record));
    }
    free(then);
    return 1;
}
