/*
 * tool_list.c - the --list report (see tool_list.h).
 *
 * What is listed is what a conversion with the same options writes: each
 * tensor under its output name (--key, then --rename), with its dtype and
 * byte size after --dtype, and only those --include/--exclude keep
 * (c2s_output_tensor decides, as c2s_write does).
 *
 * Text: a header line, then one line per tensor in file order with columns
 * NAME, DTYPE, SHAPE and BYTES separated by two or more spaces (the name
 * column is as wide as the longest name), then a summary line and the "left
 * out" notes (a checkpoint) or the metadata (a safetensors file).
 * Unsupported tensors show their type in the DTYPE column followed by
 * "(unsupported)".
 *
 * JSON: one object per file, on one line:
 *   {"input": FILE, "root": "state_dict" (a checkpoint; "" for the top
 *    level), "tensors": [{"name", "dtype", "shape": [...], "bytes"}, ...],
 *    "bytes": total, "filtered": tensors --include/--exclude drop,
 *    "unsupported": [{"name", "type"}, ...], "notes": ["left out: ..."]
 *    (a checkpoint) or "metadata": {KEY: VALUE} (a safetensors file)}
 */
#include "tool_list.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool_json.h"
#include "tool_msgs.h"
#include "tool_select.h"

/* Room for a shape of 64 dimensions (the most a checkpoint tensor has) of
 * up to 20 digits each; longer ones are cut short. */
#define SHAPE_MAX (64 * 22 + 4)

/* One tensor as it would be written: info (name in the owned `name`),
 * whether it is written, and whether it is a checkpoint's tensor that
 * safetensors cannot hold (listed by name and type only). */
typedef struct row {
    c2s_tensor_info info;
    char *name;
    int written;
    int unsupported;
} row;

typedef struct listing {
    row *rows;
    size_t n;
    uint64_t total;
    size_t written, unsupported, filtered;
} listing;

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->rows[i].name);
    free(l->rows);
}

/* Every tensor of t under the options; -1 when out of memory. */
static int make_listing(const tool_config *cfg, const tool_tensors *t, listing *l)
{
    memset(l, 0, sizeof *l);
    c2s_write_options o = tool_select_options(cfg);
    size_t n = tool_tensors_count(t);
    l->rows = calloc(n ? n : 1, sizeof *l->rows);
    if (l->rows == NULL)
        return -1;
    for (size_t i = 0; i < n; i++, l->n++) {
        c2s_tensor_info in = tool_tensors_at(t, i);
        row *r = &l->rows[i];
        if ((r->name = tool_renamed(&o, in.name)) == NULL)
            return -1;
        r->written = c2s_output_tensor(&o, &in, r->name, strlen(r->name) + 1, &r->info);
        if (t->st != NULL && !in.supported) /* F4, ...: in the file, with a size */
            r->written = c2s_selected(&o, r->name);
        r->unsupported = !in.supported && t->ck != NULL;
        if (r->unsupported)
            l->unsupported++;
        else if (!r->written)
            l->filtered++;
        else {
            l->written++;
            l->total += r->info.nbytes;
        }
    }
    return 0;
}

/* "[2, 3]" */
static void format_shape(size_t ndim, const uint64_t *shape, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRIu64, i ? ", " : "", shape[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

static void print_row(FILE *out, size_t width, const row *r)
{
    const c2s_tensor_info *t = &r->info;
    if (r->unsupported) {
        fprintf(out, "%-*s  %s (unsupported)\n", (int)width, t->name, t->why);
        return;
    }
    char shape[SHAPE_MAX];
    format_shape(t->ndim, t->shape, shape, sizeof shape);
    /* a safetensors dtype with no c2s_dtype (F4, ...) is named by why */
    const char *dtype = t->supported ? c2s_dtype_name(t->dtype) : t->why;
    fprintf(out, "%-*s  %-11s  %-20s  %" PRIu64 "\n", (int)width, t->name, dtype, shape, t->nbytes);
}

/* The table and "4 tensors, 212 bytes (212 B)" without the newline. */
static void print_table(FILE *out, const listing *l)
{
    size_t width = 4;
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(l->rows[i].name);
        if ((l->rows[i].written || l->rows[i].unsupported) && len > width)
            width = len;
    }
    fprintf(out, "%-*s  %-11s  %-20s  %s\n", (int)width, "NAME", "DTYPE", "SHAPE", "BYTES");
    for (size_t i = 0; i < l->n; i++)
        if (l->rows[i].written || l->rows[i].unsupported)
            print_row(out, width, &l->rows[i]);
    fprintf(out, "%zu tensor%s, %" PRIu64 " bytes", l->written, tool_plural(l->written), l->total);
    if (l->total >= 1024) {
        char size[32];
        fprintf(out, " (%s)", tool_human_size(l->total, size, sizeof size));
    }
}

static void print_counts(FILE *out, const listing *l)
{
    if (l->filtered)
        fprintf(out, ", %zu left out by --include/--exclude", l->filtered);
    if (l->unsupported)
        fprintf(out, ", %zu unsupported", l->unsupported);
    fputc('\n', out);
}

/* The common part of the JSON object: input, tensors, bytes, filtered,
 * unsupported. */
static cJSON *listing_json(const char *file, const listing *l)
{
    cJSON *j = cJSON_CreateObject(), *tensors = cJSON_CreateArray(), *bad = cJSON_CreateArray();
    if (j == NULL || tensors == NULL || bad == NULL) {
        cJSON_Delete(j);
        cJSON_Delete(tensors);
        cJSON_Delete(bad);
        return NULL;
    }
    cJSON_AddStringToObject(j, "input", file);
    if (!tool_json_is_utf8(file)) { /* as in the conversion lines (tool_report.h) */
        char *hex = tool_json_hex(file);
        if (hex != NULL)
            cJSON_AddStringToObject(j, "input_hex", hex);
        free(hex);
    }
    for (size_t i = 0; i < l->n; i++) {
        const c2s_tensor_info *t = &l->rows[i].info;
        cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "name", t->name);
        if (l->rows[i].unsupported) {
            cJSON_AddStringToObject(o, "type", t->why);
            cJSON_AddItemToArray(bad, o);
            cJSON_Delete(shape);
            continue;
        }
        if (!l->rows[i].written) {
            cJSON_Delete(o);
            cJSON_Delete(shape);
            continue;
        }
        cJSON_AddStringToObject(o, "dtype", t->supported ? c2s_dtype_name(t->dtype) : t->why);
        for (size_t d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
        cJSON_AddItemToArray(tensors, o);
    }
    cJSON_AddItemToObject(j, "tensors", tensors);
    cJSON_AddNumberToObject(j, "bytes", (double)l->total);
    cJSON_AddNumberToObject(j, "filtered", (double)l->filtered);
    cJSON_AddItemToObject(j, "unsupported", bad);
    return j;
}

/* Print j on one line (bytes that are not UTF-8 as U+FFFD, tool_json.h)
 * and free it; -1 when it could not be built. */
static int print_json(FILE *out, cJSON *j)
{
    char *text = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    char *fixed = text != NULL ? tool_json_fix_utf8(text) : NULL;
    cJSON_free(text);
    if (fixed == NULL)
        return -1;
    fprintf(out, "%s\n", fixed);
    free(fixed);
    return 0;
}

int tool_print_list(FILE *out, const tool_config *cfg, const char *file, const c2s_checkpoint *ck)
{
    listing l;
    if (make_listing(cfg, &(tool_tensors){ck, NULL}, &l) != 0) {
        listing_free(&l);
        return -1;
    }
    int rc = 0;
    if (cfg->json) {
        cJSON *j = listing_json(file, &l), *notes = cJSON_CreateArray();
        for (size_t i = 0; notes != NULL && i < c2s_note_count(ck); i++)
            cJSON_AddItemToArray(notes, cJSON_CreateString(c2s_note_at(ck, i)));
        if (j != NULL) {
            cJSON_AddStringToObject(j, "root", c2s_root(ck));
            cJSON_AddItemToObject(j, "notes", notes);
        } else {
            cJSON_Delete(notes);
        }
        rc = print_json(out, j);
    } else {
        print_table(out, &l);
        const char *root = c2s_root(ck);
        fprintf(out, ", root: %s", *root ? root : "(top level)");
        print_counts(out, &l);
        for (size_t i = 0; i < c2s_note_count(ck); i++)
            fprintf(out, "%s\n", c2s_note_at(ck, i));
    }
    listing_free(&l);
    return rc;
}

int tool_print_list_st(FILE *out, const tool_config *cfg, const char *file,
                       const c2s_safetensors *st)
{
    listing l;
    if (make_listing(cfg, &(tool_tensors){NULL, st}, &l) != 0) {
        listing_free(&l);
        return -1;
    }
    int rc = 0;
    size_t nmeta = c2s_safetensors_metadata_count(st);
    if (cfg->json) {
        cJSON *j = listing_json(file, &l), *meta = cJSON_CreateObject();
        for (size_t i = 0; meta != NULL && i < nmeta; i++) {
            const char *key, *value;
            c2s_safetensors_metadata_at(st, i, &key, &value);
            cJSON_AddStringToObject(meta, key, value);
        }
        if (j != NULL)
            cJSON_AddItemToObject(j, "metadata", meta);
        else
            cJSON_Delete(meta);
        rc = print_json(out, j);
    } else {
        print_table(out, &l);
        print_counts(out, &l);
        for (size_t i = 0; i < nmeta; i++) {
            const char *key, *value;
            c2s_safetensors_metadata_at(st, i, &key, &value);
            fprintf(out, "metadata: %s=%s\n", key, value);
        }
    }
    listing_free(&l);
    return rc;
}

int tool_print_list_error(FILE *out, const char *file, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    if (j != NULL) {
        cJSON_AddStringToObject(j, "input", file);
        cJSON_AddStringToObject(j, "error", message);
    }
    return print_json(out, j);
}
