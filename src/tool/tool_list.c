/*
 * tool_list.c - the --list report (see tool_list.h).
 *
 * Format: a header line, then one line per tensor in file order with
 * columns NAME, DTYPE, SHAPE and BYTES separated by two or more spaces (the
 * name column is as wide as the longest name), then a summary line and the
 * "left out" notes (a checkpoint) or the metadata (a safetensors file).
 * Unsupported tensors show their type in the DTYPE column followed by
 * "(unsupported)".
 */
#include "tool_list.h"

#include <inttypes.h>
#include <string.h>

#include "tool_msgs.h"

#define SHAPE_MAX (TMAP_MAX_NDIM * 22 + 4)

/* "[2, 3]"; shape holds int64 (checkpoint) or uint64 (safetensors) sizes. */
static void format_shape(size_t ndim, const int64_t *s64, const uint64_t *u64, char *buf,
                         size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < ndim && at < cap; i++) {
        if (s64 != NULL)
            at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? ", " : "", s64[i]);
        else
            at += (size_t)snprintf(buf + at, cap - at, "%s%" PRIu64, i ? ", " : "", u64[i]);
    }
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

static void print_header(FILE *out, size_t width)
{
    fprintf(out, "%-*s  %-11s  %-20s  %s\n", (int)width, "NAME", "DTYPE", "SHAPE", "BYTES");
}

static void print_row(FILE *out, size_t width, const char *name, const char *dtype,
                      const char *shape, uint64_t bytes)
{
    fprintf(out, "%-*s  %-11s  %-20s  %" PRIu64 "\n", (int)width, name, dtype, shape, bytes);
}

/* "4 tensors, 212 bytes (212 B)" without the newline. */
static void print_total(FILE *out, size_t n, uint64_t total)
{
    fprintf(out, "%zu tensor%s, %" PRIu64 " bytes", n, tool_plural(n), total);
    if (total >= 1024) {
        char size[32];
        fprintf(out, " (%s)", tool_human_size(total, size, sizeof size));
    }
}

void tool_print_list(FILE *out, const tmap *m)
{
    size_t width = 4;
    for (size_t i = 0; i < m->ntensors; i++) {
        size_t len = strlen(m->tensors[i].name);
        if (len > width)
            width = len;
    }
    print_header(out, width);
    uint64_t total = 0;
    size_t unsupported = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const tmap_tensor *t = &m->tensors[i];
        char shape[SHAPE_MAX];
        if (!t->supported) {
            fprintf(out, "%-*s  %s (unsupported)\n", (int)width, t->name, t->why);
            unsupported++;
            continue;
        }
        format_shape(t->ndim, t->shape, NULL, shape, sizeof shape);
        print_row(out, width, t->name, c2s_dtype_name(t->dtype), shape, t->nbytes);
        total += t->nbytes;
    }
    print_total(out, m->ntensors - unsupported, total);
    fprintf(out, ", root: %s", *m->root ? m->root : "(top level)");
    if (unsupported)
        fprintf(out, ", %zu unsupported", unsupported);
    fputc('\n', out);
    for (size_t i = 0; i < m->nnotes; i++)
        fprintf(out, "%s\n", m->notes[i]);
}

void tool_print_list_st(FILE *out, const st_file *f)
{
    size_t width = 4;
    for (size_t i = 0; i < f->ntensors; i++) {
        size_t len = strlen(f->tensors[i].name);
        if (len > width)
            width = len;
    }
    print_header(out, width);
    uint64_t total = 0;
    for (size_t i = 0; i < f->ntensors; i++) {
        const st_tensor *t = &f->tensors[i];
        char shape[SHAPE_MAX];
        format_shape(t->ndim, NULL, t->shape, shape, sizeof shape);
        print_row(out, width, t->name, t->dtype, shape, t->end - t->begin);
        total += t->end - t->begin;
    }
    print_total(out, f->ntensors, total);
    fputc('\n', out);
    for (size_t i = 0; i < f->nmeta; i++)
        fprintf(out, "metadata: %s=%s\n", f->meta_keys[i], f->meta_values[i]);
}
