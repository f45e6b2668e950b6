/*
 * tscode.c - the strict line reader of TorchScript code/ records (see
 * tscode.h).
 *
 * The text is walked line by line.  A line at column 0 starting "class "
 * opens a class (and ends the previous one); any other line at column 0
 * ends it.  Inside a class, only lines indented by exactly two spaces are
 * looked at, and only three shapes matter: the two list assignments and
 * "def __setstate__(".  Lists are read item by item ("name", then ", ");
 * anything else on such a line is an error rather than a guess.
 */
#include "torch/tscode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 1024

typedef struct line {
    const char *p;
    size_t len;
    size_t no; /* 1-based line number, for messages */
} line;

static int starts(const line *l, const char *prefix)
{
    size_t k = strlen(prefix);
    return l->len >= k && memcmp(l->p, prefix, k) == 0;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static c2s_status oom(c2s_error *err)
{
    return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
}

static int push_name(char ***list, size_t *n, const char *s, size_t len)
{
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (grown == NULL)
        return 0;
    *list = grown;
    if ((grown[*n] = malloc(len + 1)) == NULL)
        return 0;
    memcpy(grown[*n], s, len);
    grown[*n][len] = '\0';
    (*n)++;
    return 1;
}

/* "[" ( '"' name '"' ", " )* "]" and nothing after it. */
static c2s_status read_list(const line *l, size_t at, char ***list, size_t *n, const char *what,
                            const char *where, c2s_error *err)
{
    const char *p = l->p + at, *end = l->p + l->len;
    if (*list != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "%s line %zu: a second %s list", where, l->no, what);
    if (p >= end || *p++ != '[')
        goto bad;
    while (p < end && *p == '"') {
        const char *name = ++p;
        while (p < end && *p != '"' && *p != '\\')
            p++;
        if (p >= end || *p != '"' || (size_t)(p - name) > NAME_MAX_LEN)
            goto bad;
        if (!push_name(list, n, name, (size_t)(p - name)))
            return oom(err);
        p++;
        if (end - p < 2 || p[0] != ',' || p[1] != ' ')
            goto bad;
        p += 2;
    }
    if (p >= end || *p != ']' || p + 1 != end)
        goto bad;
    if (*list == NULL && (*list = malloc(1)) == NULL) /* mark the list as seen */
        return oom(err);
    return C2S_OK;
bad:
    return c2s_fail(err, C2S_ERR_INPUT, "%s line %zu: cannot read the %s list", where, l->no, what);
}

static void class_free(ts_class *k)
{
    free(k->qualname);
    for (size_t i = 0; i < k->nparams; i++)
        free(k->params[i]);
    free(k->params);
    for (size_t i = 0; i < k->nbuffers; i++)
        free(k->buffers[i]);
    free(k->buffers);
    for (size_t i = 0; i < k->nattrs; i++) {
        free(k->attrs[i]);
        free(k->types[i]);
    }
    free(k->attrs);
    free(k->types);
}

/* A declared attribute of the class body line (indent removed: s, n):
 * "NAME : TYPE[ = VALUE]" or '__annotations__["NAME"] = TYPE'.  Other
 * lines declare nothing. */
static c2s_status read_attribute(const char *s, size_t n, ts_class *k, c2s_error *err)
{
    static const char ANN[] = "__annotations__[\"";
    const char *name = s, *type, *end = s + n;
    size_t nlen, tlen;
    if (n > sizeof ANN - 1 && memcmp(s, ANN, sizeof ANN - 1) == 0) {
        name = s + sizeof ANN - 1;
        const char *q = memchr(name, '"', (size_t)(end - name));
        if (q == NULL || end - q < 5 || memcmp(q, "\"] = ", 5) != 0)
            return C2S_OK;
        nlen = (size_t)(q - name);
        type = q + 5;
        tlen = (size_t)(end - type);
    } else {
        nlen = 0;
        while (nlen < n && is_ident_char(s[nlen]))
            nlen++;
        if (nlen == 0 || n - nlen < 4 || memcmp(s + nlen, " : ", 3) != 0)
            return C2S_OK;
        type = s + nlen + 3;
        tlen = (size_t)(end - type);
        for (const char *p = type; p + 3 <= end; p++)
            if (memcmp(p, " = ", 3) == 0) { /* a Final constant's value */
                tlen = (size_t)(p - type);
                break;
            }
    }
    if (nlen == 0 || nlen > NAME_MAX_LEN || tlen == 0 || tlen > NAME_MAX_LEN)
        return C2S_OK;
    size_t ntypes = k->nattrs;
    if (!push_name(&k->attrs, &k->nattrs, name, nlen))
        return oom(err);
    if (!push_name(&k->types, &ntypes, type, tlen)) {
        free(k->attrs[--k->nattrs]);
        return oom(err);
    }
    return C2S_OK;
}

/* "class NAME(BASES):" or "class NAME:"; a new entry of out. */
static c2s_status open_class(const line *l, const char *qualifier, const char *where,
                             ts_classes *out, ts_class **cls, c2s_error *err)
{
    const char *p = l->p + 6, *end = l->p + l->len, *name = p;
    while (p < end && is_ident_char(*p))
        p++;
    size_t nlen = (size_t)(p - name);
    int module = 0;
    if (nlen == 0 || nlen > NAME_MAX_LEN || p >= end)
        goto bad;
    if (*p == '(') {
        const char *bases = ++p;
        while (p < end && *p != ')')
            p++;
        if (p >= end)
            goto bad;
        module = (size_t)(p - bases) == 6 && memcmp(bases, "Module", 6) == 0;
        p++;
    }
    if (p + 1 != end || *p != ':')
        goto bad;
    char qual[2 * NAME_MAX_LEN + 2];
    snprintf(qual, sizeof qual, "%s.%.*s", qualifier, (int)nlen, name);
    if (tscode_find(out, qual) != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "%s declares class %s twice", where, qual);
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        ts_class *grown = realloc(out->items, cap * sizeof *grown);
        if (grown == NULL)
            return oom(err);
        out->items = grown;
        out->cap = cap;
    }
    ts_class *k = &out->items[out->n];
    memset(k, 0, sizeof *k);
    if ((k->qualname = strdup(qual)) == NULL)
        return oom(err);
    k->is_module = module;
    out->n++;
    *cls = k;
    return C2S_OK;
bad:
    return c2s_fail(err, C2S_ERR_INPUT, "%s line %zu: cannot read the class header", where, l->no);
}

/* One line of a class body.  Statements of the class itself sit at an
 * indent of exactly two spaces (torch writes no other, and a body indented
 * otherwise would hide its lists from this reader): a tab, or a statement
 * line at one space, fails. */
static c2s_status body_line(const line *l, ts_class *k, int *started, const char *where,
                            c2s_error *err)
{
    static const char PARAMS[] = "  __parameters__", BUFFERS[] = "  __buffers__";
    size_t indent = 0;
    while (indent < l->len && (l->p[indent] == ' ' || l->p[indent] == '\t')) {
        if (l->p[indent] == '\t')
            return c2s_fail(err, C2S_ERR_INPUT, "%s line %zu: a tab in the indentation", where,
                            l->no);
        indent++;
    }
    if (indent == l->len || l->p[indent] == '#')
        return C2S_OK; /* blank, or a comment */
    /* the first statement sets the body's indent for Python */
    if (indent < 2 || (!*started && indent != 2))
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s line %zu: class body not indented by two "
                        "spaces",
                        where, l->no);
    *started = 1;
    if (indent != 2)
        return C2S_OK; /* inside a method */
    if (starts(l, PARAMS))
        return starts(l, "  __parameters__ = ")
                   ? read_list(l, sizeof PARAMS + 2, &k->params, &k->nparams, "__parameters__",
                               where, err)
                   : c2s_fail(err, C2S_ERR_INPUT,
                              "%s line %zu: cannot read the "
                              "__parameters__ list",
                              where, l->no);
    if (starts(l, BUFFERS))
        return starts(l, "  __buffers__ = ") ? read_list(l, sizeof BUFFERS + 2, &k->buffers,
                                                         &k->nbuffers, "__buffers__", where, err)
                                             : c2s_fail(err, C2S_ERR_INPUT,
                                                        "%s line %zu: cannot read the __buffers__ "
                                                        "list",
                                                        where, l->no);
    return read_attribute(l->p + 2, l->len - 2, k, err);
}

c2s_status tscode_parse(const char *qualifier, const char *where, const uint8_t *text, size_t len,
                        ts_classes *out, c2s_error *err)
{
    if (strlen(qualifier) > NAME_MAX_LEN)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: qualifier too long", where);
    const char *s = (const char *)text, *end = s + len;
    ts_class *cls = NULL;
    int started = 0; /* a statement of the class body was seen */
    size_t first = out->n;
    line l = {s, 0, 0};
    while (l.p < end) {
        const char *nl = memchr(l.p, '\n', (size_t)(end - l.p));
        l.len = (size_t)((nl ? nl : end) - l.p);
        l.no++;
        c2s_status st = C2S_OK;
        if (l.len > 0 && l.p[0] != ' ' && l.p[0] != '\t' && l.p[0] != '#')
            cls = NULL; /* a statement at column 0 ends the class */
        if (starts(&l, "class ")) {
            st = open_class(&l, qualifier, where, out, &cls, err);
            started = 0;
        } else if (cls != NULL) {
            st = body_line(&l, cls, &started, where, err);
        }
        if (st != C2S_OK) {
            while (out->n > first) /* a file that cannot be read declares nothing */
                class_free(&out->items[--out->n]);
            return st;
        }
        l.p = nl ? nl + 1 : end;
    }
    /* Python's syntax (strings over several lines, brackets, comments) is
     * not followed here, so a __setstate__ anywhere in the file counts for
     * every class of the file: a class is never thought inert wrongly. */
    if (memmem(text, len, "__setstate__", 12) != NULL)
        for (size_t i = first; i < out->n; i++)
            out->items[i].has_setstate = 1;
    return C2S_OK;
}

const ts_class *tscode_find(const ts_classes *c, const char *qualname)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].qualname, qualname) == 0)
            return &c->items[i];
    return NULL;
}

const char *tscode_attr_type(const ts_class *k, const char *name)
{
    for (size_t i = 0; i < k->nattrs; i++)
        if (strcmp(k->attrs[i], name) == 0)
            return k->types[i];
    return NULL;
}

int tscode_has(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

void tscode_free(ts_classes *c)
{
    for (size_t i = 0; i < c->n; i++)
        class_free(&c->items[i]);
    free(c->items);
    memset(c, 0, sizeof *c);
}
