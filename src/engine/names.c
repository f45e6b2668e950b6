/*
 * names.c - the names tensors are written under (names.h, and the public
 * c2s_output_name, c2s_rename_index, c2s_glob_match, c2s_output_tensor,
 * c2s_check_names and c2s_safetensors_check_names of include/c2s.h).
 *
 * A tensor's output name is its name in the map (after the key) with the
 * first matching rename applied: the renames are tried in order and the
 * first whose `from` is a prefix of the name replaces that prefix by its
 * `to`.  The include/exclude globs then judge the output name.  The checks
 * on the result sort the written tensors' output names (with their map
 * index, so that the message names the two in file order) and compare
 * neighbours: O(n log n) in the number of tensors, memory n pointers.
 */
#include "engine/names.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "engine/checkpoint.h"
#include "engine/dtconv.h"

size_t c2s_rename_index(const c2s_write_options *o, const char *name)
{
    if (o == NULL)
        return 0;
    for (size_t i = 0; i < o->nrename; i++)
        if (strncmp(name, o->rename[i].from, strlen(o->rename[i].from)) == 0)
            return i;
    return o->nrename;
}

size_t c2s_output_name(const c2s_write_options *o, const char *name, char *buf, size_t cap)
{
    size_t r = c2s_rename_index(o, name);
    const char *to = "", *rest = name;
    if (o != NULL && r < o->nrename) {
        to = o->rename[r].to;
        rest = name + strlen(o->rename[r].from);
    }
    size_t a = strlen(to), b = strlen(rest);
    if (cap > 0) {
        size_t na = a < cap - 1 ? a : cap - 1;
        memcpy(buf, to, na);
        size_t nb = b < cap - 1 - na ? b : cap - 1 - na;
        memcpy(buf + na, rest, nb);
        buf[na + nb] = '\0';
    }
    return a + b;
}

char *names_output(const c2s_write_options *o, const char *name)
{
    size_t len = c2s_output_name(o, name, NULL, 0);
    char *out = malloc(len + 1);
    if (out != NULL)
        c2s_output_name(o, name, out, len + 1);
    return out;
}

int c2s_glob_match(const char *glob, const char *name)
{
    return fnmatch(glob, name, 0) == 0;
}

int c2s_output_tensor(const c2s_write_options *o, const c2s_tensor_info *t, char *buf, size_t cap,
                      c2s_tensor_info *out)
{
    *out = *t;
    c2s_output_name(o, t->name, buf, cap);
    out->name = buf;
    if (!t->supported)
        return 0;
    if (o != NULL && o->convert_dtype && dtconv_supported(t->dtype, o->dtype)) {
        uint64_t numel = 1;
        for (size_t i = 0; i < t->ndim; i++)
            numel *= t->shape[i]; /* the tensor's size fits: it was checked when read */
        out->dtype = o->dtype;
        out->nbytes = numel * c2s_dtype_size(o->dtype);
    }
    return c2s_selected(o, buf);
}

void names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

typedef struct named {
    const char *name;
    size_t index;
} named;

static int by_name_then_index(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* Where the original names come from: tensor i's name, or NULL for a
 * tensor that is not written whatever the options (unsupported). */
typedef const char *name_source(const void *from, size_t i);

/* A renamed tensor's own faults: an empty or reserved output name. */
static c2s_status check_one(const char *orig, const char *out, c2s_error *err)
{
    if (*out == '\0')
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_RENAME,
                             "renaming leaves tensor '%s' with an empty name", orig);
    if (strcmp(out, "__metadata__") == 0)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_RENAME,
                             "renaming makes tensor '%s' '__metadata__', a name safetensors "
                             "reserves",
                             orig);
    return C2S_OK;
}

/* Two written tensors with one output name. */
static c2s_status check_unique(name_source *src, const void *from, size_t n, char **names,
                               size_t n_written, c2s_error *err)
{
    if (n_written < 2)
        return C2S_OK;
    named *v = malloc(n_written * sizeof *v);
    if (v == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL)
            v[k++] = (named){names[i], i};
    qsort(v, k, sizeof *v, by_name_then_index);
    c2s_status st = C2S_OK;
    for (size_t i = 1; i < k && st == C2S_OK; i++)
        if (strcmp(v[i - 1].name, v[i].name) == 0)
            st = c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_RENAME,
                               "tensors '%s' and '%s' would both be written as '%s'",
                               src(from, v[i - 1].index), src(from, v[i].index), v[i].name);
    free(v);
    return st;
}

/* names_plan over any n tensors named by src. */
static c2s_status plan(name_source *src, const void *from, size_t n, const c2s_write_options *o,
                       char ***names, size_t *n_written, size_t *n_filtered, c2s_error *err)
{
    *names = calloc(n ? n : 1, sizeof **names);
    *n_written = *n_filtered = 0;
    if (*names == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = C2S_OK;
    for (size_t i = 0; i < n && st == C2S_OK; i++) {
        const char *orig = src(from, i);
        if (orig == NULL)
            continue;
        char *out = names_output(o, orig);
        if (out == NULL) {
            st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        } else if (!c2s_selected(o, out)) {
            free(out);
            ++*n_filtered;
        } else {
            (*names)[i] = out;
            ++*n_written;
            st = check_one(orig, out, err);
        }
    }
    if (st == C2S_OK)
        st = check_unique(src, from, n, *names, *n_written, err);
    if (st == C2S_OK && *n_written == 0 && *n_filtered > 0)
        st = c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_ALL_FILTERED,
                           "no tensor left to write after the include/exclude filters");
    if (st != C2S_OK) {
        names_free(*names, n);
        *names = NULL;
    }
    return st;
}

static const char *map_name(const void *from, size_t i)
{
    const tmap_tensor *t = &((const tmap *)from)->tensors[i];
    return t->supported ? t->name : NULL;
}

c2s_status names_plan(const tmap *m, const c2s_write_options *o, char ***names, size_t *n_written,
                      size_t *n_filtered, c2s_error *err)
{
    return plan(map_name, m, m->ntensors, o, names, n_written, n_filtered, err);
}

/* Every tensor of a safetensors file is listed under its output name,
 * whatever its dtype. */
static const char *file_name(const void *from, size_t i)
{
    return c2s_safetensors_tensor_at(from, i).name;
}

c2s_status c2s_safetensors_check_names(const c2s_safetensors *st, const c2s_write_options *o,
                                       c2s_error *err)
{
    char **names;
    size_t n = c2s_safetensors_count(st), written, filtered;
    c2s_status s = plan(file_name, st, n, o, &names, &written, &filtered, err);
    names_free(names, n);
    return s;
}

c2s_status c2s_check_names(const c2s_checkpoint *ck, const c2s_write_options *o, c2s_error *err)
{
    char **names;
    size_t written, filtered;
    c2s_status st = names_plan(&ck->map, o, &names, &written, &filtered, err);
    names_free(names, ck->map.ntensors);
    return st;
}
