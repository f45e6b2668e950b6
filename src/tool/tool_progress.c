/*
 * tool_progress.c - the progress line (see tool_progress.h).
 *
 * The state (per slot: phase, bytes done of the phase's total) changes
 * under the lock from the workers' engine callbacks; each change may redraw
 * the line, at most every REDRAW_INTERVAL and only when the formatted text
 * differs from what is on screen.  tool_progress_format() makes the text
 * from the state and a time, and nothing else, so tests can check it.
 */
#include "tool_progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_INTERVAL 0.1 /* seconds */
#define BAR_WIDTH 20
#define MIN_PACE 0.5 /* seconds of a phase before its rate and time left mean anything */
#define SIZE_COLS 10 /* "1023.9 MiB": the widest size tool_human_size gives */

static double monotonic(void *ctx)
{
    (void)ctx;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int tool_progress_init(tool_progress *p, tool_console *con, int enabled, int verify, size_t nslots,
                       size_t nfiles, uint64_t total_in)
{
    memset(p, 0, sizeof *p);
    p->slots = calloc(nslots ? nslots : 1, sizeof *p->slots);
    if (p->slots == NULL)
        return -1;
    for (size_t i = 0; i < nslots; i++)
        p->slots[i].p = p;
    pthread_mutex_init(&p->lock, NULL);
    p->con = con;
    p->enabled = enabled;
    p->verify = verify;
    p->nslots = nslots;
    p->nfiles = nfiles;
    p->total_in = total_in;
    p->clock = monotonic;
    tool_progress_restart(p);
    return 0;
}

void tool_progress_restart(tool_progress *p)
{
    p->start = p->clock(p->clock_ctx);
    p->last_draw = -1;
}

void tool_progress_destroy(tool_progress *p)
{
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    p->slots = NULL;
}

/* ---- the text ------------------------------------------------------------------ */

static double fraction(uint64_t done, uint64_t total)
{
    if (total == 0)
        return 0;
    return done >= total ? 1 : (double)done / (double)total;
}

/* How far a slot is in its phase, 0 to 1: writing with no total yet has
 * not begun; verifying with none has nothing to compare. */
static double phase_fraction(const tool_progress_slot *s)
{
    if (s->total == 0)
        return s->phase == TOOL_PHASE_VERIFYING ? 1 : 0;
    return fraction(s->done, s->total);
}

/* Whether the slot's file is still being opened (nothing written yet). */
static int opening(const tool_progress_slot *s)
{
    return s->phase == TOOL_PHASE_WRITING && s->total == 0;
}

/* Share of its file a slot has done, 0 to 1. */
static double slot_share(const tool_progress *p, const tool_progress_slot *s)
{
    double f = phase_fraction(s);
    if (!p->verify)
        return s->phase == TOOL_PHASE_WRITING ? f : 1;
    return s->phase == TOOL_PHASE_WRITING ? f / 2 : 0.5 + f / 2;
}

/* Share of the whole run that is done, 0 to 1, and (when the input sizes
 * are known) the input bytes it stands for. */
static double overall(const tool_progress *p, double *bytes)
{
    *bytes = 0;
    if (p->total_in == 0) {
        double done = (double)p->finished;
        for (size_t i = 0; i < p->nslots; i++)
            if (p->slots[i].name != NULL)
                done += slot_share(p, &p->slots[i]);
        return p->nfiles ? (done >= (double)p->nfiles ? 1 : done / (double)p->nfiles) : 0;
    }
    double done = (double)p->finished_in;
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].name != NULL)
            done += (double)p->slots[i].in_size * slot_share(p, &p->slots[i]);
    double f = done / (double)p->total_in;
    *bytes = f > 1 ? (double)p->total_in : done;
    return f > 1 ? 1 : f;
}

/* "1:05", "1:02:03"; whole seconds, rounded down so that a time counts up
 * through every second. */
static void format_duration(double secs, char *buf, size_t cap)
{
    unsigned long s = secs > 0 && secs < 1e7 ? (unsigned long)secs : 0;
    if (s >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", s / 60, s % 60);
}

/* Time left at the pace so far: "-:--" until something is done over
 * MIN_PACE seconds; rounded up, so that "0:00" means done. */
static void format_eta(double elapsed, double f, char *buf, size_t cap)
{
    if (f >= 1)
        snprintf(buf, cap, "0:00");
    else if (f <= 0 || elapsed < MIN_PACE)
        snprintf(buf, cap, "-:--");
    else
        format_duration(elapsed * (1 - f) / f + 0.999, buf, cap);
}

/* " 45% [#########           ]" with a bar of width columns, or only
 * " 45%" when width is 0. */
static int format_bar(double f, int width, char *buf, size_t cap)
{
    char bar[BAR_WIDTH + 1];
    int fill = (int)(f * width);
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[width] = '\0';
    if (width == 0)
        return snprintf(buf, cap, "%3d%%", (int)(f * 100));
    return snprintf(buf, cap, "%3d%% [%s]", (int)(f * 100), bar);
}

/* "   1.2 GiB/2.6 GiB   350.2 MiB/s  0:03  ETA 0:04": done of total bytes
 * over secs (the rate; "--" before MIN_PACE seconds), elapsed since the
 * start, f of the work done in secs.  Done and the rate are right-aligned
 * in the widest a size gets, so that the line keeps its length (and the
 * bar its width) while they change. */
static int format_numbers(double done, double total, double secs, double elapsed, double f,
                          char *buf, size_t cap)
{
    char d[32], t[32], rate[32] = "--", el[32], eta[32];
    tool_human_size((unsigned long long)done, d, sizeof d);
    tool_human_size((unsigned long long)total, t, sizeof t);
    if (secs >= MIN_PACE)
        tool_human_size((unsigned long long)(done / secs), rate, sizeof rate);
    format_duration(elapsed, el, sizeof el);
    format_eta(secs, f, eta, sizeof eta);
    return snprintf(buf, cap, "%*s/%s  %*s/s  %s  ETA %s", SIZE_COLS, d, t, SIZE_COLS, rate, el,
                    eta);
}

static const char *phase_name(const tool_progress_slot *s)
{
    return s->phase == TOOL_PHASE_VERIFYING ? "verifying" : "writing";
}

/* The oldest file running and how many others run beside it. */
static const tool_progress_slot *oldest(const tool_progress *p, size_t *others)
{
    const tool_progress_slot *o = NULL;
    *others = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        const tool_progress_slot *s = &p->slots[i];
        if (s->name == NULL)
            continue;
        if (o == NULL || s->seq < o->seq)
            o = s;
        (*others)++;
    }
    if (*others)
        (*others)--;
    return o;
}

/* Appends to buf[cap] at *at, as far as it fits. */
__attribute__((format(printf, 4, 5))) static void add(char *buf, size_t cap, size_t *at,
                                                      const char *fmt, ...)
{
    if (*at >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *at = *at + (size_t)n < cap ? *at + (size_t)n : cap - 1;
}

static void format_single(const tool_progress *p, const tool_progress_slot *s, double t, int bar,
                          char *buf, size_t cap)
{
    size_t at = 0;
    char el[32], part[256];
    if (s == NULL && p->finished > 0)
        return;                    /* done: no line, the file's message follows */
    if (s == NULL || opening(s)) { /* reading and judging the checkpoint */
        format_duration(t - p->start, el, sizeof el);
        add(buf, cap, &at, "opening    %s", el);
        return;
    }
    double f = phase_fraction(s);
    format_bar(f, bar, part, sizeof part);
    add(buf, cap, &at, "%-9s %s ", phase_name(s), part);
    format_numbers((double)s->done, (double)s->total, t - s->phase_start, t - p->start, f, part,
                   sizeof part);
    add(buf, cap, &at, "%s", part);
}

/* The run's part of the batch line: " 45% [###  ] 1.2 GiB/2.6 GiB ...  3/10". */
static void format_run(const tool_progress *p, double t, int bar, char *buf, size_t cap)
{
    size_t at = 0;
    char part[256];
    double bytes, f = overall(p, &bytes), elapsed = t - p->start;
    format_bar(f, bar, part, sizeof part);
    add(buf, cap, &at, "%s ", part);
    if (p->total_in > 0) {
        format_numbers(bytes, (double)p->total_in, elapsed, elapsed, f, part, sizeof part);
        add(buf, cap, &at, "%s", part);
    } else {
        char el[32], eta[32];
        format_duration(elapsed, el, sizeof el);
        format_eta(elapsed, f, eta, sizeof eta);
        add(buf, cap, &at, "%s  ETA %s", el, eta);
    }
    add(buf, cap, &at, "  %zu/%zu", p->finished, p->nfiles);
}

/* The file's part: "  m.bin verifying 67% (+1)", its name's end kept in
 * room columns when it is longer ("...0002.bin"); "" when none runs. */
static void format_file(const tool_progress *p, size_t room, char *buf, size_t cap)
{
    size_t at = 0, others;
    buf[0] = '\0';
    const tool_progress_slot *s = oldest(p, &others);
    if (s == NULL)
        return;
    const char *slash = strrchr(s->name, '/'), *name = slash ? slash + 1 : s->name;
    size_t len = strlen(name);
    if (len > room && room > 3)
        add(buf, cap, &at, "  ...%s ", name + len - (room - 3));
    else
        add(buf, cap, &at, "  %s ", name);
    if (opening(s))
        add(buf, cap, &at, "opening");
    else
        add(buf, cap, &at, "%s %d%%", phase_name(s), (int)(phase_fraction(s) * 100));
    if (others)
        add(buf, cap, &at, " (+%zu)", others);
}

/* Columns the file's part may count on when choosing the bar's width, so
 * that the bar does not change width as files and phases change. */
#define FILE_ROOM 36
#define MIN_BAR 5
#define MIN_NAME 8

/* The bar's width: BAR_WIDTH when a line of fixed columns fits width
 * (0: any), else narrower down to MIN_BAR, else none. */
static int bar_for(size_t fixed, size_t width)
{
    size_t with_bar = fixed + BAR_WIDTH + 3; /* " [" "]" */
    if (width == 0 || with_bar < width)
        return BAR_WIDTH;
    size_t excess = with_bar - (width - 1);
    return excess <= BAR_WIDTH - MIN_BAR ? BAR_WIDTH - (int)excess : 0;
}

static void format_batch(const tool_progress *p, double t, size_t width, char *buf, size_t cap)
{
    char run[TOOL_PROGRESS_LINE_MAX], file[TOOL_PROGRESS_LINE_MAX];
    format_run(p, t, 0, run, sizeof run);
    format_run(p, t, bar_for(strlen(run) + FILE_ROOM, width), run, sizeof run);
    size_t used = strlen(run);
    format_file(p, SIZE_MAX, file, sizeof file);
    size_t n = used + strlen(file);
    if (width > 0 && n >= width && file[0] != '\0') { /* shorten the name, keeping its end */
        const tool_progress_slot *s = oldest(p, &(size_t){0});
        size_t name = strlen(strrchr(s->name, '/') ? strrchr(s->name, '/') + 1 : s->name);
        size_t excess = n - (width - 1);
        format_file(p, name > excess + MIN_NAME ? name - excess : MIN_NAME, file, sizeof file);
    }
    snprintf(buf, cap, "%s%s", run, file);
}

static void format_single_fit(const tool_progress *p, double t, size_t width, char *buf, size_t cap)
{
    const tool_progress_slot *s = p->slots[0].name ? &p->slots[0] : NULL;
    format_single(p, s, t, 0, buf, cap);
    size_t fixed = strlen(buf);
    if (s != NULL && !opening(s))
        format_single(p, s, t, bar_for(fixed, width), buf, cap);
}

void tool_progress_format(const tool_progress *p, double t, size_t width, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (p->nfiles == 1 && p->nslots == 1)
        format_single_fit(p, t, width, buf, cap);
    else
        format_batch(p, t, width, buf, cap);
    if (width > 0 && width - 1 < cap)
        buf[width - 1] = '\0';
}

/* ---- drawing ------------------------------------------------------------------- */

static size_t terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* Called with the lock held: redraw when the interval has passed (or
 * force) and the text changed. */
static void draw(tool_progress *p, int force)
{
    if (!p->enabled)
        return;
    double t = p->clock(p->clock_ctx);
    if (!force && p->last_draw >= 0 && t - p->last_draw < REDRAW_INTERVAL)
        return;
    p->last_draw = t;
    char line[TOOL_PROGRESS_LINE_MAX];
    tool_progress_format(p, t, terminal_width(), line, sizeof line);
    if (strcmp(line, p->shown) == 0)
        return;
    memcpy(p->shown, line, sizeof line);
    tool_console_status(p->con, line); /* "" wipes it */
}

void tool_progress_start(tool_progress_slot *s, const char *name, uint64_t in_size)
{
    tool_progress *p = s->p;
    pthread_mutex_lock(&p->lock);
    s->name = name;
    s->in_size = in_size;
    s->phase = TOOL_PHASE_WRITING;
    s->done = s->total = 0;
    s->phase_start = p->clock(p->clock_ctx);
    s->seq = p->seq++;
    draw(p, 0);
    pthread_mutex_unlock(&p->lock);
}

/* The engine says done of total in phase; a new phase starts its clock
 * and is drawn at once. */
static void report(tool_progress_slot *s, tool_phase phase, uint64_t done, uint64_t total)
{
    tool_progress *p = s->p;
    pthread_mutex_lock(&p->lock);
    int begins = s->phase != phase || (phase == TOOL_PHASE_WRITING && s->total == 0);
    if (begins)
        s->phase_start = p->clock(p->clock_ctx);
    s->phase = phase;
    s->done = done;
    s->total = total;
    draw(p, begins);
    pthread_mutex_unlock(&p->lock);
}

void tool_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    report(ctx, TOOL_PHASE_WRITING, done, total);
}

void tool_progress_verify(void *ctx, uint64_t done, uint64_t total)
{
    report(ctx, TOOL_PHASE_VERIFYING, done, total);
}

void tool_progress_finish(tool_progress_slot *s)
{
    tool_progress *p = s->p;
    pthread_mutex_lock(&p->lock);
    p->finished++;
    p->finished_in += s->in_size;
    s->name = NULL;
    draw(p, 1); /* before the file's messages, which would draw the line again */
    pthread_mutex_unlock(&p->lock);
}

void tool_progress_end(tool_progress *p)
{
    if (!p->enabled)
        return;
    pthread_mutex_lock(&p->lock);
    tool_console_status(p->con, NULL);
    p->shown[0] = '\0';
    pthread_mutex_unlock(&p->lock);
}
