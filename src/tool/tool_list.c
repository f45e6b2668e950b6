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

/* Room for a shape of 64 dimensions (the most a checkpoint tensor has) of
 * up to 20 digits each; longer ones are cut short. */
#define SHAPE_MAX (64 * 22 + 4)

/* "[2, 3]" */
static void format_shape(size_t ndim, const uint64_t *shape, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRIu64, i ? ", " : "", shape[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

static void print_header(FILE *out, size_t width)
{
    fprintf(out, "%-*s  %-11s  %-20s  %s\n", (int)width, "NAME", "DTYPE", "SHAPE", "BYTES");
}

static void print_row(FILE *out, size_t width, const c2s_tensor_info *t)
{
    char shape[SHAPE_MAX];
    format_shape(t->ndim, t->shape, shape, sizeof shape);
    /* a safetensors dtype with no c2s_dtype (F4, ...) is named by why */
    const char *dtype = t->supported ? c2s_dtype_name(t->dtype) : t->why;
    fprintf(out, "%-*s  %-11s  %-20s  %" PRIu64 "\n", (int)width, t->name, dtype, shape, t->nbytes);
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

/* The NAME column as wide as the longest name, at least as "NAME". */
static size_t widen(size_t width, const char *name)
{
    size_t len = strlen(name);
    return len > width ? len : width;
}

void tool_print_list(FILE *out, const c2s_checkpoint *ck)
{
    size_t n = c2s_tensor_count(ck), width = 4;
    for (size_t i = 0; i < n; i++)
        width = widen(width, c2s_tensor_at(ck, i).name);
    print_header(out, width);
    uint64_t total = 0;
    size_t unsupported = 0;
    for (size_t i = 0; i < n; i++) {
        c2s_tensor_info t = c2s_tensor_at(ck, i);
        if (!t.supported) {
            fprintf(out, "%-*s  %s (unsupported)\n", (int)width, t.name, t.why);
            unsupported++;
            continue;
        }
        print_row(out, width, &t);
        total += t.nbytes;
    }
    print_total(out, n - unsupported, total);
    const char *root = c2s_root(ck);
    fprintf(out, ", root: %s", *root ? root : "(top level)");
    if (unsupported)
        fprintf(out, ", %zu unsupported", unsupported);
    fputc('\n', out);
    for (size_t i = 0; i < c2s_note_count(ck); i++)
        fprintf(out, "%s\n", c2s_note_at(ck, i));
}

void tool_print_list_st(FILE *out, const c2s_safetensors *st)
{
    size_t n = c2s_safetensors_count(st), width = 4;
    for (size_t i = 0; i < n; i++)
        width = widen(width, c2s_safetensors_tensor_at(st, i).name);
    print_header(out, width);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        c2s_tensor_info t = c2s_safetensors_tensor_at(st, i);
        print_row(out, width, &t);
        total += t.nbytes;
    }
    print_total(out, n, total);
    fputc('\n', out);
    for (size_t i = 0; i < c2s_safetensors_metadata_count(st); i++) {
        const char *key, *value;
        c2s_safetensors_metadata_at(st, i, &key, &value);
        fprintf(out, "metadata: %s=%s\n", key, value);
    }
}
