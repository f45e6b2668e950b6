/*
 * tool_scan.c - the --scan report (see tool_scan.h).
 *
 * Text: a verdict line "FILE: safe|unsafe|corrupt|unreadable ...", then
 * (unless -q) one line per global: class, module.name, uses ("sweep" when
 * the sweep found it), and where it is first named; then one line per
 * finding, one per damage, and why reading stopped.  JSON (--json): one object per file on
 * one line, with the keys documented in the man page.  After the tally of
 * a scan of several files, a row for each file that was not safe.
 */
#include "tool_scan.h"
#include "tool_msgs.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tool_summary.h"
#include "tool_json.h"

/* "1 dangerous global, 2 unknown globals, 1 finding" */
static void summary(const c2s_report *r, char *buf, size_t cap)
{
    size_t n[4] = {0};
    for (size_t i = 0; i < r->nglobals; i++)
        n[r->globals[i].cls]++;
    size_t at = 0;
    const c2s_global_class shown[] = {C2S_GLOBAL_DANGEROUS, C2S_GLOBAL_UNKNOWN};
    for (size_t k = 0; k < 2; k++)
        if (n[shown[k]] && at < cap)
            at += (size_t)snprintf(buf + at, cap - at, "%s%zu %s global%s", at ? ", " : "",
                                   n[shown[k]], c2s_global_class_name(shown[k]),
                                   n[shown[k]] == 1 ? "" : "s");
    if (r->findings.n && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "%s%zu finding%s", at ? ", " : "", r->findings.n,
                               r->findings.n == 1 ? "" : "s");
    if (at == 0)
        snprintf(buf, cap, "%zu global%s, none refused", r->nglobals, r->nglobals == 1 ? "" : "s");
}

/* A verdict's colour: safe green, unsafe red, corrupt and unreadable yellow. */
static tool_hue verdict_hue(c2s_verdict v)
{
    return v == C2S_VERDICT_SAFE     ? TOOL_HUE_GOOD
           : v == C2S_VERDICT_UNSAFE ? TOOL_HUE_BAD
                                     : TOOL_HUE_WARN;
}

/* A global's class, padded to 9 columns: dangerous red, unknown yellow. */
static void print_class(FILE *out, int color, c2s_global_class cls)
{
    const char *name = c2s_global_class_name(cls);
    size_t len = strlen(name);
    int on = color && (cls == C2S_GLOBAL_DANGEROUS || cls == C2S_GLOBAL_UNKNOWN);
    fprintf(out, "%s%s%s%*s",
            tool_color(on, cls == C2S_GLOBAL_DANGEROUS ? TOOL_HUE_BAD : TOOL_HUE_WARN), name,
            tool_color_end(on), (int)(len < 9 ? 9 - len : 0), "");
}

static void print_text(FILE *out, const tool_config *cfg, const char *file, const c2s_report *r)
{
    char sum[256];
    summary(r, sum, sizeof sum);
    char why[TOOL_ERROR_TEXT_MAX];
    tool_error_text(&r->error, why, sizeof why);
    int color = cfg->color_stdout;
    const char *on = tool_color(color, verdict_hue(r->verdict)), *off = tool_color_end(color);
    if (r->verdict == C2S_VERDICT_UNREADABLE || r->verdict == C2S_VERDICT_CORRUPT)
        fprintf(out, "%s: %s%s%s: %s\n", file, on, c2s_verdict_name(r->verdict), off, why);
    else
        fprintf(out, "%s: %s%s%s (%s): %s\n", file, on, c2s_verdict_name(r->verdict), off,
                r->format, sum);
    if (cfg->quiet)
        return;
    size_t width = 0;
    for (size_t i = 0; i < r->nglobals; i++) {
        size_t w = strlen(r->globals[i].module) + 1 + strlen(r->globals[i].name);
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < r->nglobals; i++) {
        const c2s_global_use *g = &r->globals[i];
        char name[600], uses[64];
        snprintf(name, sizeof name, "%s.%s", g->module, g->name);
        fputs("  ", out);
        print_class(out, color, g->cls);
        fprintf(out, "  %-*s  %-12s  %s offset %llu\n", (int)width, name,
                c2s_uses_text(g->uses, uses, sizeof uses), g->pickle,
                (unsigned long long)g->offset);
    }
    for (size_t i = 0; i < r->findings.n; i++)
        fprintf(out, "  finding    %s\n", r->findings.items[i]);
    for (size_t i = 0; i < r->damage.n; i++)
        fprintf(out, "  damage     %s\n", r->damage.items[i]);
    if (r->verdict == C2S_VERDICT_UNSAFE && r->error.msg[0] != '\0')
        fprintf(out, "  unreadable %s\n", why);
    if (r->verdict == C2S_VERDICT_SAFE && r->error.msg[0] != '\0') /* holds no tensors */
        fprintf(out, "  no tensors %s\n", why);
}

static cJSON *global_json(const c2s_global_use *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "module", g->module);
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddStringToObject(o, "class", c2s_global_class_name(g->cls));
    cJSON *uses = cJSON_AddArrayToObject(o, "uses");
    static const struct {
        unsigned bit;
        const char *name;
    } NAMES[] = {
        {C2S_USE_REDUCE, "REDUCE"}, {C2S_USE_NEWOBJ, "NEWOBJ"}, {C2S_USE_INST, "INST"},
        {C2S_USE_OBJ, "OBJ"},       {C2S_USE_BUILD, "BUILD"},
    };
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (g->uses & NAMES[i].bit)
            cJSON_AddItemToArray(uses, cJSON_CreateString(NAMES[i].name));
    cJSON_AddBoolToObject(o, "swept", (g->uses & C2S_USE_SWEEP) != 0);
    cJSON_AddStringToObject(o, "pickle", g->pickle);
    cJSON_AddNumberToObject(o, "offset", (double)g->offset);
    return o;
}

static void print_json(FILE *out, const char *file, const c2s_report *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    if (!tool_json_is_utf8(file)) { /* its bytes, as tool_json.h says */
        char *hex = tool_json_hex(file);
        cJSON_AddStringToObject(o, "file_hex", hex ? hex : "");
        free(hex);
    }
    cJSON_AddStringToObject(o, "verdict", c2s_verdict_name(r->verdict));
    cJSON_AddStringToObject(o, "format", r->format ? r->format : "");
    char why[TOOL_ERROR_TEXT_MAX];
    if (r->error.msg[0] != '\0')
        cJSON_AddStringToObject(o, "error", tool_error_text(&r->error, why, sizeof why));
    else
        cJSON_AddNullToObject(o, "error");
    cJSON *globals = cJSON_AddArrayToObject(o, "globals");
    for (size_t i = 0; i < r->nglobals; i++)
        cJSON_AddItemToArray(globals, global_json(&r->globals[i]));
    cJSON *found = cJSON_AddArrayToObject(o, "findings");
    for (size_t i = 0; i < r->findings.n; i++)
        cJSON_AddItemToArray(found, cJSON_CreateString(r->findings.items[i]));
    cJSON *damage = cJSON_AddArrayToObject(o, "damage");
    for (size_t i = 0; i < r->damage.n; i++)
        cJSON_AddItemToArray(damage, cJSON_CreateString(r->damage.items[i]));
    char *text = cJSON_PrintUnformatted(o);
    char *fixed = text ? tool_json_fix_utf8(text) : NULL; /* names that are not UTF-8 */
    if (fixed != NULL)
        fprintf(out, "%s\n", fixed);
    else
        fprintf(out, "{\"file\":null,\"verdict\":\"unreadable\",\"error\":\"out of memory\"}\n");
    free(fixed);
    cJSON_free(text);
    cJSON_Delete(o);
}

void tool_print_scan(FILE *out, const tool_config *cfg, const char *file, const c2s_report *rep)
{
    if (cfg->json)
        print_json(out, file, rep);
    else
        print_text(out, cfg, file, rep);
}

/* ---- the rows after the tally ------------------------------------------------------ */

void tool_scan_rows_add(tool_scan_rows *s, const char *file, const c2s_report *rep)
{
    if (rep->verdict == C2S_VERDICT_SAFE)
        return;
    char why[TOOL_ERROR_TEXT_MAX];
    if (rep->verdict == C2S_VERDICT_UNSAFE)
        summary(rep, why, sizeof why);
    else
        tool_error_text(&rep->error, why, sizeof why);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        tool_scan_row *r = realloc(s->rows, cap * sizeof *r);
        if (r == NULL) {
            s->lost++;
            return;
        }
        s->rows = r;
        s->cap = cap;
    }
    tool_scan_row r = {strdup(file), strdup(why), rep->verdict};
    if (r.file == NULL || r.why == NULL) {
        free(r.file);
        free(r.why);
        s->lost++;
        return;
    }
    s->rows[s->n++] = r;
}

static int by_file(const void *a, const void *b)
{
    return strcmp(((const tool_scan_row *)a)->file, ((const tool_scan_row *)b)->file);
}

void tool_scan_rows_sort(tool_scan_rows *s)
{
    if (s->n > 1)
        qsort(s->rows, s->n, sizeof *s->rows, by_file);
}

void tool_scan_rows_print(const tool_config *cfg, const tool_scan_rows *s)
{
    if (cfg->quiet)
        return;
    for (size_t i = 0; i < s->n; i++)
        tool_summary_row(cfg->color_stderr, verdict_hue(s->rows[i].verdict),
                         c2s_verdict_name(s->rows[i].verdict), 11, s->rows[i].file, s->rows[i].why);
    if (s->lost)
        fprintf(stderr, "  (%zu more, not kept: out of memory)\n", s->lost);
}

void tool_scan_summary_json(FILE *out, const tool_scan_rows *s, const size_t count[4])
{
    static const c2s_verdict ORDER[] = {C2S_VERDICT_SAFE, C2S_VERDICT_UNSAFE, C2S_VERDICT_CORRUPT,
                                        C2S_VERDICT_UNREADABLE};
    cJSON *line = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(line, "summary");
    size_t files = 0;
    for (size_t k = 0; k < 4; k++)
        files += count[ORDER[k]];
    cJSON_AddNumberToObject(o, "files", (double)files);
    for (size_t k = 0; k < 4; k++)
        cJSON_AddNumberToObject(o, c2s_verdict_name(ORDER[k]), (double)count[ORDER[k]]);
    cJSON *list = cJSON_AddArrayToObject(o, "not_safe");
    for (size_t i = 0; list != NULL && i < s->n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "file", s->rows[i].file);
        if (!tool_json_is_utf8(s->rows[i].file)) { /* its bytes, as on the file's line */
            char *hex = tool_json_hex(s->rows[i].file);
            cJSON_AddStringToObject(r, "file_hex", hex ? hex : "");
            free(hex);
        }
        cJSON_AddStringToObject(r, "verdict", c2s_verdict_name(s->rows[i].verdict));
        cJSON_AddStringToObject(r, "reason", s->rows[i].why);
        cJSON_AddItemToArray(list, r);
    }
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    char *fixed = text ? tool_json_fix_utf8(text) : NULL; /* names that are not UTF-8 */
    cJSON_free(text);
    if (fixed != NULL)
        fprintf(out, "%s\n", fixed);
    free(fixed);
}

void tool_scan_rows_free(tool_scan_rows *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rows[i].file);
        free(s->rows[i].why);
    }
    free(s->rows);
    memset(s, 0, sizeof *s);
}
