/*
 * tool_msgs.c - stderr messages of the command-line tool (see tool_msgs.h).
 */
#include "tool_msgs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append one formatted line to mb; on out of memory the line goes to
 * stderr at once rather than being lost. */
static void buffer_line(tool_msgbuf *mb, const char *line, size_t n)
{
    if (mb->len + n + 1 > mb->cap) {
        size_t cap = mb->cap ? mb->cap : 256;
        while (cap < mb->len + n + 1)
            cap *= 2;
        char *t = realloc(mb->text, cap);
        if (t == NULL) {
            fwrite(line, 1, n, stderr);
            return;
        }
        mb->text = t;
        mb->cap = cap;
    }
    memcpy(mb->text + mb->len, line, n);
    mb->len += n;
    mb->text[mb->len] = '\0';
}

/* hue: the kind's colour when color is on. */
__attribute__((format(printf, 6, 0))) static void emit(tool_msgbuf *to, int color, tool_hue hue,
                                                       const char *kind, const char *file,
                                                       const char *fmt, va_list ap)
{
    char line[4096];
    size_t at = (size_t)snprintf(line, sizeof line, "%s: %s%s%s%s%s%s", TOOL_NAME,
                                 kind ? tool_color(color, hue) : "", kind ? kind : "",
                                 kind ? tool_color_end(color) : "", kind ? ": " : "",
                                 file ? file : "", file ? ": " : "");
    if (at < sizeof line)
        at += (size_t)vsnprintf(line + at, sizeof line - at, fmt, ap);
    if (at >= sizeof line - 1)
        at = sizeof line - 2;
    line[at++] = '\n';
    line[at] = '\0';
    if (to != NULL)
        buffer_line(to, line, at);
    else
        fputs(line, stderr);
}

void tool_error(tool_msgbuf *to, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(to, to != NULL && to->color, TOOL_HUE_BAD, "error", file, fmt, ap);
    va_end(ap);
}

void tool_warn(tool_msgbuf *to, const tool_config *cfg, const char *file, const char *fmt, ...)
{
    if (cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(to, cfg->color_stderr, TOOL_HUE_WARN, "warning", file, fmt, ap);
    va_end(ap);
}

void tool_info(tool_msgbuf *to, const tool_config *cfg, const char *fmt, ...)
{
    if (cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(to, 0, TOOL_HUE_GOOD, NULL, NULL, fmt, ap);
    va_end(ap);
}

void tool_verbose(tool_msgbuf *to, const tool_config *cfg, const char *fmt, ...)
{
    if (!cfg->verbose || cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(to, 0, TOOL_HUE_GOOD, NULL, NULL, fmt, ap);
    va_end(ap);
}

void tool_msgbuf_free(tool_msgbuf *mb)
{
    free(mb->text);
    memset(mb, 0, sizeof *mb);
}

/* ---- the console ---------------------------------------------------------- */

void tool_console_init(tool_console *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
}

void tool_console_destroy(tool_console *c)
{
    pthread_mutex_destroy(&c->lock);
}

/* Overwrite the progress line with spaces and go back to column 0.  Plain
 * '\r' and spaces work on any terminal, escape sequences do not. */
static void wipe(tool_console *c)
{
    if (c->status_width == 0)
        return;
    fprintf(stderr, "\r%*s\r", (int)c->status_width, "");
    c->status_width = 0;
}

/* Drawn over the previous line; spaces cover what a longer one left. */
static void draw(tool_console *c)
{
    if (c->status[0] == '\0')
        return;
    size_t n = strlen(c->status);
    fprintf(stderr, "\r%-*s", (int)c->status_width, c->status);
    if (n > c->status_width)
        c->status_width = n;
    fflush(stderr);
}

void tool_console_flush(tool_console *c, tool_msgbuf *mb)
{
    if (mb->len == 0)
        return;
    pthread_mutex_lock(&c->lock);
    wipe(c);
    fputs(mb->text, stderr);
    draw(c);
    fflush(stderr);
    pthread_mutex_unlock(&c->lock);
    mb->len = 0;
}

void tool_console_status(tool_console *c, const char *line)
{
    pthread_mutex_lock(&c->lock);
    snprintf(c->status, sizeof c->status, "%s", line ? line : "");
    if (c->status[0] == '\0') {
        wipe(c);
        fflush(stderr);
    } else {
        draw(c);
    }
    pthread_mutex_unlock(&c->lock);
}

int tool_console_stdout(tool_console *c, const char *line)
{
    pthread_mutex_lock(&c->lock);
    int rc = (fputs(line, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) ? -1
                                                                                            : 0;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

const char *tool_human_size(unsigned long long bytes, char *buf, unsigned long cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", bytes);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

c2s_status tool_fail(c2s_error *err, c2s_status status, const char *fmt, ...)
{
    c2s_error_clear(err);
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof err->msg)
        memcpy(err->msg + sizeof err->msg - 4, "...", 4);
    return status;
}

/* The option that moves each limit. */
static const char *limit_flag(c2s_rule rule)
{
    switch (rule) {
    case C2S_RULE_MAX_PICKLE:
        return "--max-pickle-size";
    case C2S_RULE_MAX_STRING:
        return "--max-string";
    case C2S_RULE_MAX_CONTAINER:
        return "--max-container";
    case C2S_RULE_MAX_OBJECTS:
        return "--max-objects";
    case C2S_RULE_MAX_STACK:
        return "--max-stack";
    case C2S_RULE_MAX_MEMO:
        return "--max-memo";
    case C2S_RULE_MAX_DEPTH:
        return "--max-depth";
    default:
        return NULL;
    }
}

/* The refusal's advice: how to see every offender, how to accept unknowns. */
static void policy_advice(const c2s_error *e, char *buf, size_t cap)
{
    size_t at = strlen(buf);
    if (e->more > 0 && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, " (--scan lists all)");
    if (strcmp(e->subject, "*") == 0 && at < cap)
        snprintf(
            buf + at, cap - at,
            "; to accept unknown globals as data: --allow-global MODULE.NAME, or --permissive");
    else if (e->subject[0] != '\0' && at < cap)
        snprintf(buf + at, cap - at, "; to accept it as data: --allow-global %s", e->subject);
}

/* "no tensors found under X (note)" gains "; choose a root with --key"
 * inside its parentheses, or a parenthesis of its own. */
static void root_advice(const char *msg, char *buf, size_t cap)
{
    size_t n = strlen(msg);
    if (n > 0 && msg[n - 1] == ')')
        snprintf(buf, cap, "%.*s; choose a root with --key)", (int)(n - 1), msg);
    else
        snprintf(buf, cap, "%s", msg);
}

const char *tool_error_text(const c2s_error *e, char *buf, size_t cap)
{
    const char *flag = limit_flag(e->rule);
    if (flag != NULL)
        snprintf(buf, cap, "%s (raise with %s)", e->msg, flag);
    else if (e->rule == C2S_RULE_KEY)
        snprintf(buf, cap, "--key %s", e->msg);
    else if (e->rule == C2S_RULE_NO_TENSORS)
        root_advice(e->msg, buf, cap);
    else if (e->rule == C2S_RULE_UNSUPPORTED)
        snprintf(buf, cap, "%s (--skip-unsupported drops such tensors)", e->msg);
    else if (e->rule == C2S_RULE_QUANTIZED)
        snprintf(buf, cap,
                 "%s (--quantized dequantize or --quantized raw; "
                 "--skip-unsupported drops such tensors)",
                 e->msg);
    else if (e->rule == C2S_RULE_ALL_FILTERED)
        snprintf(buf, cap, "%s (--include/--exclude)", e->msg);
    else if (e->rule == C2S_RULE_RENAME)
        snprintf(buf, cap, "%s (--rename)", e->msg);
    else if (e->rule == C2S_RULE_EXISTS)
        snprintf(buf, cap, "%s (use -f to overwrite)", e->msg);
    else
        snprintf(buf, cap, "%s", e->msg);
    if (e->rule == C2S_RULE_POLICY)
        policy_advice(e, buf, cap);
    return buf;
}
