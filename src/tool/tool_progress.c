/*
 * tool_progress.c - the progress bar (see tool_progress.h).
 */
#include "tool_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_INTERVAL 0.1 /* seconds */
#define BAR_WIDTH 20

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int tool_progress_init(tool_progress *p, tool_console *con, int enabled, size_t nslots,
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
    p->nslots = nslots;
    p->nfiles = nfiles;
    p->total_in = total_in;
    p->start = now();
    p->last_draw = -1;
    return 0;
}

void tool_progress_destroy(tool_progress *p)
{
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    p->slots = NULL;
}

static double fraction(uint64_t done, uint64_t total)
{
    return total ? (double)done / (double)total : 0;
}

/* Share of the whole run that is done, 0 to 1. */
static double overall(const tool_progress *p)
{
    if (p->total_in == 0)
        return fraction(p->finished, p->nfiles);
    double done = (double)p->finished_in;
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].name != NULL)
            done += (double)p->slots[i].in_size * fraction(p->slots[i].done, p->slots[i].total);
    double f = done / (double)p->total_in;
    return f > 1 ? 1 : f;
}

static void format_duration(double secs, char *buf, size_t cap)
{
    unsigned long s = secs > 0 && secs < 1e7 ? (unsigned long)(secs + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", s / 60, s % 60);
}

static size_t terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
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

/* Called with the lock held. */
static void draw(tool_progress *p, int force)
{
    double t = now();
    if (!p->enabled || (!force && p->last_draw >= 0 && t - p->last_draw < REDRAW_INTERVAL))
        return;
    p->last_draw = t;
    double f = overall(p), elapsed = t - p->start;
    char bar[BAR_WIDTH + 1], size[32], rate[32], eta[32] = "-:--", line[512];
    int fill = (int)(f * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[BAR_WIDTH] = '\0';
    tool_human_size(p->written, size, sizeof size);
    tool_human_size(elapsed > 0 ? (unsigned long long)((double)p->written / elapsed) : 0, rate,
                    sizeof rate);
    if (f > 0 && f < 1)
        format_duration(elapsed * (1 - f) / f, eta, sizeof eta);
    int n = snprintf(line, sizeof line, "%3d%% [%s] %s  %s/s  ETA %s  %zu/%zu", (int)(f * 100), bar,
                     size, rate, eta, p->finished, p->nfiles);
    size_t others;
    const tool_progress_slot *s = oldest(p, &others);
    if (s != NULL && n > 0 && (size_t)n < sizeof line) {
        const char *slash = strrchr(s->name, '/');
        n += snprintf(line + n, sizeof line - (size_t)n, "  %s %d%%", slash ? slash + 1 : s->name,
                      (int)(fraction(s->done, s->total) * 100));
        if (others && n > 0 && (size_t)n < sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, " (+%zu)", others);
    }
    size_t width = terminal_width() - 1; /* the last column would wrap on some terminals */
    if (width < sizeof line)
        line[width] = '\0';
    tool_console_status(p->con, line);
}

void tool_progress_start(tool_progress_slot *s, const char *name, uint64_t in_size)
{
    tool_progress *p = s->p;
    pthread_mutex_lock(&p->lock);
    s->name = name;
    s->in_size = in_size;
    s->done = s->total = 0;
    s->seq = p->seq++;
    draw(p, 0);
    pthread_mutex_unlock(&p->lock);
}

void tool_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    tool_progress_slot *s = ctx;
    tool_progress *p = s->p;
    pthread_mutex_lock(&p->lock);
    if (done > s->done)
        p->written += done - s->done;
    s->done = done;
    s->total = total;
    draw(p, 0);
    pthread_mutex_unlock(&p->lock);
}

void tool_progress_finish(tool_progress_slot *s)
{
    tool_progress *p = s->p;
    pthread_mutex_lock(&p->lock);
    p->finished++;
    p->finished_in += s->in_size;
    s->name = NULL;
    draw(p, 0);
    pthread_mutex_unlock(&p->lock);
}

void tool_progress_end(tool_progress *p)
{
    if (!p->enabled)
        return;
    pthread_mutex_lock(&p->lock);
    tool_console_status(p->con, NULL);
    pthread_mutex_unlock(&p->lock);
}
