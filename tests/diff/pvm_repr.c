/*
 * pvm_repr.c - print what the pickle VM makes of each input, for the
 * differential check against CPython (tests/diff/pvm_diff.py).
 *
 * stdin: one pickle per line, in hex.  stdout: one line per pickle, either
 * "OK <repr>" or "ERR <message>".  <repr> is a canonical text form of the
 * value STOP returned that pvm_diff.py also computes from CPython's result:
 *   N T F                      None, True, False
 *   i<decimal>                 int that fits int64
 *   L<hex>                     bigger int: shortest two's complement bytes,
 *                              little-endian, as LONG1 writes them
 *   f<hex of the 64 bits>      float
 *   s<hex> b<hex>              str (UTF-8, lone surrogates as 3 bytes), bytes
 *   (a,b) [a,b] {k:v,...}      tuple, list, dict (insertion order)
 *   S{...} Z{...}              set, frozenset: items sorted, duplicates merged,
 *                              bools and integral floats as ints (Python
 *                              keeps one of 1, True, 1.0)
 *   g<module>:<name>           a global
 *   c<callable>(args)[list]{dict}   an opaque call result with the items
 *                              APPEND(S)/ADDITEMS and SETITEM(S) gave it
 *   p<pid>                     a persistent id
 *   @                          a reference back into the current path
 * Nesting deeper than 40 or longer output prints "..." (both sides agree
 * on small inputs only; the generator keeps them small).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle/pvm.h"

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        if (b->s == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_hex(buf *b, const char *p, size_t n)
{
    char h[3];
    for (size_t i = 0; i < n; i++) {
        snprintf(h, sizeof h, "%02x", (unsigned char)p[i]);
        put(b, h, 2);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void repr(buf *b, const pvm_value *v, unsigned char *onpath, int depth);

static void repr_seq(buf *b, pvm_value *const *items, size_t n, unsigned char *onpath, int depth,
                     const char *open, const char *close, int sorted)
{
    puts_(b, open);
    if (!sorted) {
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(b, ",");
            repr(b, items[i], onpath, depth + 1);
        }
    } else {
        char **parts = calloc(n ? n : 1, sizeof *parts);
        for (size_t i = 0; i < n; i++) {
            buf one = {0};
            const pvm_value *it = items[i];
            char num[32];
            if (it->kind == PVM_BOOL) { /* a set keeps one of 1, True, 1.0 */
                snprintf(num, sizeof num, "i%d", it->u.b != 0);
                puts_(&one, num);
            } else if (it->kind == PVM_FLOAT && it->u.f >= -9223372036854775808.0 &&
                       it->u.f < 9223372036854775808.0 && it->u.f == (double)(long long)it->u.f) {
                snprintf(num, sizeof num, "i%lld", (long long)it->u.f);
                puts_(&one, num);
            } else {
                repr(&one, it, onpath, depth + 1);
            }
            parts[i] = one.s ? one.s : strdup("");
        }
        qsort(parts, n, sizeof *parts, cmp_str);
        size_t shown = 0;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcmp(parts[i], parts[i - 1]) == 0)
                continue;
            if (shown++)
                puts_(b, ",");
            puts_(b, parts[i]);
        }
        for (size_t i = 0; i < n; i++)
            free(parts[i]);
        free(parts);
    }
    puts_(b, close);
}

static void repr_dict(buf *b, const pvm_value *d, unsigned char *onpath, int depth)
{
    puts_(b, "{");
    for (size_t i = 0; i < d->u.dict.len; i++) {
        if (i)
            puts_(b, ",");
        repr(b, d->u.dict.pairs[i].key, onpath, depth + 1);
        puts_(b, ":");
        repr(b, d->u.dict.pairs[i].val, onpath, depth + 1);
    }
    puts_(b, "}");
}

static void repr(buf *b, const pvm_value *v, unsigned char *onpath, int depth)
{
    char tmp[64];
    if (depth > 40 || b->len > 100000) {
        puts_(b, "...");
        return;
    }
    if (onpath[v->id]) {
        puts_(b, "@");
        return;
    }
    onpath[v->id] = 1;
    switch (v->kind) {
    case PVM_NONE:
        puts_(b, "N");
        break;
    case PVM_BOOL:
        puts_(b, v->u.b ? "T" : "F");
        break;
    case PVM_INT:
        snprintf(tmp, sizeof tmp, "i%lld", (long long)v->u.i);
        puts_(b, tmp);
        break;
    case PVM_BIGINT:
        puts_(b, "L");
        put_hex(b, v->u.str.data, v->u.str.len);
        break;
    case PVM_FLOAT: {
        unsigned long long bits;
        memcpy(&bits, &v->u.f, sizeof bits);
        snprintf(tmp, sizeof tmp, "f%016llx", bits);
        puts_(b, tmp);
        break;
    }
    case PVM_STR:
        puts_(b, "s");
        put_hex(b, v->u.str.data, v->u.str.len);
        break;
    case PVM_BYTES:
        puts_(b, "b");
        put_hex(b, v->u.str.data, v->u.str.len);
        break;
    case PVM_TUPLE:
        repr_seq(b, v->u.seq.items, v->u.seq.len, onpath, depth, "(", ")", 0);
        break;
    case PVM_LIST:
        repr_seq(b, v->u.seq.items, v->u.seq.len, onpath, depth, "[", "]", 0);
        break;
    case PVM_SET:
        repr_seq(b, v->u.seq.items, v->u.seq.len, onpath, depth, "S{", "}", 1);
        break;
    case PVM_FROZENSET:
        repr_seq(b, v->u.seq.items, v->u.seq.len, onpath, depth, "Z{", "}", 1);
        break;
    case PVM_DICT:
        repr_dict(b, v, onpath, depth);
        break;
    case PVM_GLOBAL:
        puts_(b, "g");
        puts_(b, v->u.global.module);
        puts_(b, ":");
        puts_(b, v->u.global.name);
        break;
    case PVM_CALL:
        puts_(b, "c");
        repr(b, v->u.call.callable, onpath, depth + 1);
        repr(b, v->u.call.args, onpath, depth + 1);
        if (pvm_call_listitems(v))
            repr(b, pvm_call_listitems(v), onpath, depth + 1);
        if (pvm_call_dictitems(v))
            repr(b, pvm_call_dictitems(v), onpath, depth + 1);
        break;
    case PVM_PERSID:
        puts_(b, "p");
        repr(b, v->u.persid.pid, onpath, depth + 1);
        break;
    }
    onpath[v->id] = 0;
}

static size_t unhex(char *line, unsigned char *out)
{
    size_t n = 0;
    for (char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
        unsigned x;
        sscanf(p, "%2x", &x);
        out[n++] = (unsigned char)x;
    }
    return n;
}

int main(void)
{
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    unsigned char *data = malloc(cap);
    while (fgets(line, (int)cap, stdin) != NULL) {
        size_t n = unhex(line, data);
        pvm_limits limits = {.max_objects = 100000, .max_string = 1 << 20};
        pvm *vm = pvm_new(&limits);
        c2s_error err;
        c2s_error_clear(&err);
        pvm_value *top = NULL;
        if (pvm_run(vm, data, n, &top, NULL, &err) != C2S_OK) {
            printf("ERR %s\n", err.msg);
        } else {
            unsigned char *onpath = calloc(pvm_object_count(vm) + 1, 1);
            buf b = {0};
            repr(&b, top, onpath, 0);
            printf("OK %s\n", b.s);
            free(b.s);
            free(onpath);
        }
        pvm_free(vm);
    }
    free(line);
    free(data);
    return 0;
}
