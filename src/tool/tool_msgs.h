/*
 * tool_msgs.h - every message the program prints on stderr goes through
 * here, so the format ("ckpt2safetensors: error: FILE: problem") and the
 * effect of -q / -v are decided in one place.
 *
 * A message goes either straight to stderr (to == NULL: option errors,
 * the final summary) or into a tool_msgbuf that collects one file's
 * messages; tool_console_flush() prints such a buffer in one piece, so
 * that files converted in parallel never interleave their lines.  The
 * console also owns the progress line (tool_progress.c draws it): it is
 * wiped before messages are printed and drawn again after them.
 */
#ifndef TOOL_MSGS_H
#define TOOL_MSGS_H

#include <pthread.h>
#include <stddef.h>

#include "tool_cfg.h"

#define TOOL_NAME "ckpt2safetensors"

/* One file's messages, in order.  Zero-initialise (then set color, to
 * colour the "error" and "warning" of its lines: tool_config.color_stderr);
 * tool_console_flush empties it, tool_msgbuf_free releases it. */
typedef struct tool_msgbuf {
    char *text;
    size_t len, cap;
    int color;
} tool_msgbuf;

void tool_msgbuf_free(tool_msgbuf *mb);

/* stderr and stdout, shared by the worker threads. */
typedef struct tool_console {
    pthread_mutex_t lock;
    char status[512];    /* the progress line on screen; "" when none */
    size_t status_width; /* columns it covers */
} tool_console;

void tool_console_init(tool_console *c);
void tool_console_destroy(tool_console *c);

/* Print mb's messages together (wiping and redrawing the progress line
 * around them), then empty mb. */
void tool_console_flush(tool_console *c, tool_msgbuf *mb);

/* Show line as the progress line (it is drawn with '\r', no newline);
 * NULL or "" wipes it. */
void tool_console_status(tool_console *c, const char *line);

/* One line (line has no '\n') on stdout, flushed; -1 on a write error. */
int tool_console_stdout(tool_console *c, const char *line);

/* Always printed. file may be NULL.  "error" is coloured when to->color
 * (never when to is NULL: such errors come before the options are known). */
void tool_error(tool_msgbuf *to, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Printed unless -q; "warning" coloured when cfg->color_stderr. */
void tool_warn(tool_msgbuf *to, const tool_config *cfg, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Informational lines: unless -q. */
void tool_info(tool_msgbuf *to, const tool_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Only with -v. */
void tool_verbose(tool_msgbuf *to, const tool_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The library's message in e, with the CLI's way past the rule it names
 * ("(raise with --max-stack)", "--key 'a.b': ...") added; returns buf. */
#define TOOL_ERROR_TEXT_MAX (C2S_ERROR_MSG_MAX + 256)
const char *tool_error_text(const c2s_error *e, char *buf, size_t cap);

/* Fill err with status and a printf-style message (truncated with "..."),
 * as the library fills its errors; returns status. */
c2s_status tool_fail(c2s_error *err, c2s_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "s" unless n is 1: "%zu tensor%s", n, tool_plural(n). */
static inline const char *tool_plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* "1.5 MiB" style size into buf. */
const char *tool_human_size(unsigned long long bytes, char *buf, unsigned long cap);

#endif /* TOOL_MSGS_H */
