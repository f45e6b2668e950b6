/*
 * tool_summary.c - the end of a multi-file run (see tool_summary.h).
 *
 * Failures are kept as copies (input paths and reasons), at most one per
 * file of the run, so memory grows with the number of failures only.
 */
#include "tool_summary.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_json.h"

static const char *const STATUS_WORDS[TOOL_NSTATUS] = {"converted", "skipped", "refused", "failed",
                                                       "copied"};

void tool_summary_add(tool_summary *s, const char *input, const tool_outcome *o)
{
    tool_tally_add(&s->tally, o);
    if (o->status != TOOL_REFUSED && o->status != TOOL_FAILED)
        return;
    if (s->nfailures == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        tool_failure *f = realloc(s->failures, cap * sizeof *f);
        if (f == NULL) {
            s->lost++;
            return;
        }
        s->failures = f;
        s->cap = cap;
    }
    tool_failure f = {strdup(input), o->status, strdup(o->error)};
    if (f.input == NULL || f.error == NULL) {
        free(f.input);
        free(f.error);
        s->lost++;
        return;
    }
    s->failures[s->nfailures++] = f;
}

static int by_input(const void *a, const void *b)
{
    const tool_failure *x = a, *y = b;
    int c = strcmp(x->input, y->input);
    return c ? c : (int)x->status - (int)y->status;
}

static void sort_failures(tool_summary *s)
{
    if (s->nfailures > 1)
        qsort(s->failures, s->nfailures, sizeof *s->failures, by_input);
}

/* text with control characters (a newline in a file name) as '?', so that
 * a row stays one line and sends the terminal no commands. */
static void print_visible(FILE *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

void tool_summary_row(int color, tool_hue hue, const char *word, int width, const char *path,
                      const char *why)
{
    int pad = width - (int)strlen(word);
    fprintf(stderr, "  %s%s%s%*s", tool_color(color, hue), word, tool_color_end(color),
            pad > 0 ? pad : 1, "");
    print_visible(stderr, path);
    fputs(": ", stderr);
    print_visible(stderr, why);
    fputc('\n', stderr);
}

void tool_summary_print(const tool_config *cfg, tool_summary *s, double seconds)
{
    if (cfg->quiet)
        return;
    tool_report_summary(cfg, &s->tally, seconds);
    sort_failures(s);
    for (size_t i = 0; i < s->nfailures; i++) {
        const tool_failure *f = &s->failures[i];
        tool_summary_row(cfg->color_stderr, TOOL_HUE_BAD, STATUS_WORDS[f->status], 9, f->input,
                         f->error);
    }
    if (s->lost)
        fprintf(stderr, "  (%zu more, not kept: out of memory)\n", s->lost);
    fflush(stderr);
}

static cJSON *failure_json(const tool_failure *f)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "input", f->input);
    if (!tool_json_is_utf8(f->input)) { /* as in the file lines (tool_report.h) */
        char *hex = tool_json_hex(f->input);
        if (hex != NULL)
            cJSON_AddStringToObject(o, "input_hex", hex);
        free(hex);
    }
    cJSON_AddStringToObject(o, "status", STATUS_WORDS[f->status]);
    cJSON_AddStringToObject(o, "error", f->error);
    return o;
}

static cJSON *summary_json(const tool_summary *s, int dry_run, double seconds)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    size_t files = 0;
    for (int k = 0; k < TOOL_NSTATUS; k++)
        files += s->tally.count[k];
    cJSON_AddNumberToObject(o, "files", (double)files);
    for (int k = 0; k < TOOL_NSTATUS; k++)
        cJSON_AddNumberToObject(o, STATUS_WORDS[k], (double)s->tally.count[k]);
    cJSON_AddNumberToObject(o, "bytes", (double)s->tally.bytes);
    cJSON_AddNumberToObject(o, "seconds", (double)(long long)(seconds * 1000 + 0.5) / 1000);
    if (dry_run)
        cJSON_AddTrueToObject(o, "dry_run");
    cJSON *list = cJSON_AddArrayToObject(o, "failures");
    for (size_t i = 0; list != NULL && i < s->nfailures; i++)
        cJSON_AddItemToArray(list, failure_json(&s->failures[i]));
    return o;
}

int tool_summary_json(tool_console *con, tool_summary *s, int dry_run, double seconds)
{
    sort_failures(s);
    cJSON *line = cJSON_CreateObject();
    cJSON *body = summary_json(s, dry_run, seconds);
    if (line == NULL || body == NULL) {
        cJSON_Delete(line);
        cJSON_Delete(body);
        return -1;
    }
    cJSON_AddItemToObject(line, "summary", body);
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    char *fixed = text != NULL ? tool_json_fix_utf8(text) : NULL; /* names that are not UTF-8 */
    cJSON_free(text);
    int rc = fixed != NULL ? tool_console_stdout(con, fixed) : -1;
    free(fixed);
    return rc;
}

void tool_summary_free(tool_summary *s)
{
    for (size_t i = 0; i < s->nfailures; i++) {
        free(s->failures[i].input);
        free(s->failures[i].error);
    }
    free(s->failures);
    memset(s, 0, sizeof *s);
}
