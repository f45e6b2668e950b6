/*
 * tool_progress.h - the progress bar on stderr.
 *
 * One line, redrawn in place at most 10 times a second:
 *
 *    45% [#########           ] 1.2 GiB  350.2 MiB/s  ETA 0:05  3/10  model.bin 67%
 *
 * overall percentage and bar, output bytes written so far, rate, time
 * left, files finished of all, and the file being written (the oldest one
 * running, "(+N)" for the others) with its own percentage.  The overall
 * share of a file is its input size; a skipped or failed file counts as
 * done.  Drawn only when enabled (stderr is a terminal and not -q); the
 * line goes through the console (tool_msgs.h), which wipes it around
 * messages.  Thread-safe.
 */
#ifndef TOOL_PROGRESS_H
#define TOOL_PROGRESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tool_msgs.h"

typedef struct tool_progress tool_progress;

/* One worker's file: the engine's progress callback gets a slot as ctx. */
typedef struct tool_progress_slot {
    tool_progress *p;
    const char *name; /* NULL: idle */
    uint64_t in_size;
    uint64_t done, total; /* output bytes, from the engine */
    uint64_t seq;         /* start order, to show the oldest running file */
} tool_progress_slot;

struct tool_progress {
    pthread_mutex_t lock;
    tool_console *con;
    int enabled;
    tool_progress_slot *slots;
    size_t nslots;
    size_t nfiles, finished;
    uint64_t total_in, finished_in; /* input bytes: of all files, of finished ones */
    uint64_t written;               /* output bytes, all files */
    uint64_t seq;
    double start, last_draw; /* seconds, monotonic */
};

/* nslots workers, nfiles files of total_in input bytes.  -1 on out of memory. */
int tool_progress_init(tool_progress *p, tool_console *con, int enabled, size_t nslots,
                       size_t nfiles, uint64_t total_in);
void tool_progress_destroy(tool_progress *p);

/* A worker begins a file (name is kept, not copied). */
void tool_progress_start(tool_progress_slot *s, const char *name, uint64_t in_size);

/* The engine's callback (c2s_progress_fn): ctx is a tool_progress_slot. */
void tool_progress_update(void *ctx, uint64_t done, uint64_t total);

/* The worker is done with its file, whatever the outcome. */
void tool_progress_finish(tool_progress_slot *s);

/* Wipe the line for good (end of the run, or a signal). */
void tool_progress_end(tool_progress *p);

#endif /* TOOL_PROGRESS_H */
