/*
 * findings.c - the list of structural problems (see src/util/findings.h).
 */
#include "util/findings.h"
#include "util/grow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int findings_add(findings *f, const char *fmt, ...)
{
    if (f == NULL)
        return 1;
    if (!grow_in_place((void **)&f->items, &f->cap, f->n + 1, sizeof *f->items))
        return 0;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t len = strlen(buf) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return 0;
    memcpy(s, buf, len);
    f->items[f->n++] = s;
    return 1;
}

int findings_move(findings *dst, findings *src)
{
    if (src->n > 0 &&
        !grow_in_place((void **)&dst->items, &dst->cap, dst->n + src->n, sizeof *dst->items))
        return 0;
    for (size_t i = 0; i < src->n; i++)
        dst->items[dst->n++] = src->items[i];
    free(src->items);
    src->items = NULL;
    src->n = src->cap = 0;
    return 1;
}

void findings_free(findings *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->items[i]);
    free(f->items);
    f->items = NULL;
    f->n = f->cap = 0;
}
