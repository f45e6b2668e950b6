/*
 * tool_list.c - the --list report (see tool_list.h).
 *
 * Format: a header line, then one line per tensor in checkpoint order with
 * columns NAME, DTYPE, SHAPE and BYTES separated by two or more spaces (the
 * name column is as wide as the longest name), then a summary line and the
 * "left out" notes.  Unsupported tensors show their type in the DTYPE
 * column followed by "(unsupported)".
 */
#include "tool_list.h"

#include <inttypes.h>
#include <string.h>

#include "tool_msgs.h"

static void format_shape(const tmap_tensor *t, char *buf, size_t cap)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < t->ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

void tool_print_list(FILE *out, const tmap *m)
{
    size_t width = 4;
    for (size_t i = 0; i < m->ntensors; i++) {
        size_t len = strlen(m->tensors[i].name);
        if (len > width)
            width = len;
    }
    fprintf(out, "%-*s  %-11s  %-20s  %s\n", (int)width, "NAME", "DTYPE", "SHAPE", "BYTES");
    uint64_t total = 0;
    size_t unsupported = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const tmap_tensor *t = &m->tensors[i];
        char shape[TMAP_MAX_NDIM * 22 + 4];
        if (!t->supported) {
            fprintf(out, "%-*s  %s (unsupported)\n", (int)width, t->name, t->why);
            unsupported++;
            continue;
        }
        format_shape(t, shape, sizeof shape);
        fprintf(out, "%-*s  %-11s  %-20s  %" PRIu64 "\n", (int)width, t->name,
                c2s_dtype_name(t->dtype), shape, t->nbytes);
        total += t->nbytes;
    }
    size_t kept = m->ntensors - unsupported;
    fprintf(out, "%zu tensor%s, %" PRIu64 " bytes", kept, kept == 1 ? "" : "s", total);
    if (total >= 1024) {
        char size[32];
        fprintf(out, " (%s)", tool_human_size(total, size, sizeof size));
    }
    fprintf(out, ", root: %s", *m->root ? m->root : "(top level)");
    if (unsupported)
        fprintf(out, ", %zu unsupported", unsupported);
    fputc('\n', out);
    for (size_t i = 0; i < m->nnotes; i++)
        fprintf(out, "%s\n", m->notes[i]);
}
