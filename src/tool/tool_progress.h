/*
 * tool_progress.h - the progress line on stderr.
 *
 * One line, redrawn in place with '\r' (never with cursor movement, so
 * nothing flickers and any terminal shows it), at most 10 times a second
 * and only when its text changed.  Two layouts:
 *
 * One file (a run with one file on one worker): the phase the file is in
 * and that phase's own progress, so --verify's second pass is seen as
 * such instead of a bar stuck near its end:
 *
 *    writing    45% [#########           ]    1.2 GiB/2.6 GiB   350.2 MiB/s  0:03  ETA 0:04
 *    verifying  10% [##                  ]  266.0 MiB/2.6 GiB     1.1 GiB/s  0:08  ETA 0:02
 *
 * bytes done of the phase's total (output bytes written, then tensor bytes
 * compared), the phase's rate, time since the start, and the phase's time
 * left (rate and time left "--" and "-:--" for the first half second).
 * Bytes done and the rate are right-aligned in a fixed width, so the line
 * keeps its length and the bar its width.  Before the first byte is
 * written (the checkpoint is being opened and judged) only
 * "opening    0:01"; once the file is done, no line (its message says
 * what became of it).
 *
 * Several files: the whole run, then the file being worked on (the oldest
 * one running, "(+N)" for the others) with its phase and that phase's
 * percentage:
 *
 *     45% [#########           ]    1.2 GiB/2.6 GiB   350.2 MiB/s  0:03  ETA 0:04  3/10
 *     m.bin verifying 67% (+1)
 *
 * (one line, wrapped here). *
 * Here bytes are input bytes: a file's share of the run is its input size,
 * split evenly between writing and verifying under --verify; a finished
 * file (converted, skipped or failed) counts whole.  The rate is those
 * bytes over the time since the start, the time left is extrapolated from
 * the share done.  With no input size known (total 0) shares are by
 * files and the sizes are left out.
 *
 * Drawn only when enabled (stderr is a terminal and not -q); the line goes
 * through the console (tool_msgs.h), which wipes it around messages.  The
 * clock is a field so that tests can set the time.  Thread-safe.
 */
#ifndef TOOL_PROGRESS_H
#define TOOL_PROGRESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tool_msgs.h"

typedef struct tool_progress tool_progress;

typedef enum tool_phase { TOOL_PHASE_WRITING, TOOL_PHASE_VERIFYING } tool_phase;

/* One worker's file: the engine's progress callbacks get a slot as ctx. */
typedef struct tool_progress_slot {
    tool_progress *p;
    const char *name; /* NULL: idle */
    uint64_t in_size;
    tool_phase phase;
    uint64_t done, total; /* of the phase, from the engine; total 0: not begun */
    double phase_start;   /* when the phase began (clock seconds) */
    uint64_t seq;         /* start order, to show the oldest running file */
} tool_progress_slot;

#define TOOL_PROGRESS_LINE_MAX 512

struct tool_progress {
    pthread_mutex_t lock;
    tool_console *con;
    int enabled;
    int verify; /* files have a verifying phase (half of each file's share) */
    tool_progress_slot *slots;
    size_t nslots;
    size_t nfiles, finished;
    uint64_t total_in, finished_in; /* input bytes: of all files, of finished ones */
    uint64_t seq;
    double start, last_draw; /* clock seconds */
    double (*clock)(void *ctx);
    void *clock_ctx;
    char shown[TOOL_PROGRESS_LINE_MAX]; /* the line last drawn */
};

/* nslots workers, nfiles files of total_in input bytes; verify: --verify.
 * The clock is CLOCK_MONOTONIC (set p->clock after init, then call
 * tool_progress_restart, to use another).  -1 on out of memory. */
int tool_progress_init(tool_progress *p, tool_console *con, int enabled, int verify, size_t nslots,
                       size_t nfiles, uint64_t total_in);
void tool_progress_destroy(tool_progress *p);

/* The run starts now (by p->clock). */
void tool_progress_restart(tool_progress *p);

/* A worker begins a file (name is kept, not copied). */
void tool_progress_start(tool_progress_slot *s, const char *name, uint64_t in_size);

/* The engine's callbacks (c2s_progress_fn): ctx is a tool_progress_slot.
 * update: c2s_write_options.progress; verify: .verify_progress. */
void tool_progress_update(void *ctx, uint64_t done, uint64_t total);
void tool_progress_verify(void *ctx, uint64_t done, uint64_t total);

/* The worker is done with its file, whatever the outcome. */
void tool_progress_finish(tool_progress_slot *s);

/* Wipe the line for good (end of the run, or a signal). */
void tool_progress_end(tool_progress *p);

/* The line as it would be drawn at time t (p->clock seconds), at most
 * width - 1 columns (the last column wraps on some terminals), into
 * buf[cap].  On a narrow terminal the bar narrows, then goes (chosen from
 * the run's part and a fixed room for the file's, so that it keeps its
 * width while files change); then the file's name loses its beginning
 * ("...0002.bin", 8 columns at least); then the line is cut.  Call with
 * the lock held, or when no worker runs. */
void tool_progress_format(const tool_progress *p, double t, size_t width, char *buf, size_t cap);

#endif /* TOOL_PROGRESS_H */
