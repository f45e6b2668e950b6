/*
 * stread.c - reading and validating a safetensors header (see src/st/stread.h).
 *
 * The header goes through three passes before its content is checked:
 *
 *   1. check_utf8: the bytes are UTF-8 (the reference reader takes a &str:
 *      no overlong forms, no surrogates, nothing above U+10FFFF);
 *   2. scan_json: a non-recursive syntax check as strict as serde_json
 *      (cJSON is laxer: control characters as whitespace, a BOM, leading
 *      zeros, raw control characters in strings).  It finds where the JSON
 *      value ends, enforces the nesting limit, and records the text of every
 *      number in document order;
 *   3. cJSON builds the tree.  number_texts() walks it in document order and
 *      stores in each number item's valueint the index of its text, so that
 *      shapes and offsets are parsed exactly from their digits rather than
 *      from cJSON's double.
 *
 * Then the members are checked one by one, names are checked for
 * duplicates (cJSON keeps every member of an object, duplicates included),
 * and the offsets are sorted and must tile the data buffer.
 */
#include "st/stread.h"
#include "util/grow.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dtypes ------------------------------------------------------------ */

typedef struct st_dtype {
    const char *name;
    unsigned bits;
} st_dtype;

/* The reference's Dtype enum, in its order. */
static const st_dtype DTYPES[] = {
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
};

static const st_dtype *find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0)
            return &DTYPES[i];
    return NULL;
}

/* ---- messages ---------------------------------------------------------- */

/* A name from the file, fit for a one-line message: control bytes become
 * \xNN, and long names are cut (at a character boundary) with "...". */
#define SHOWN_MAX 96
typedef struct shown {
    char s[SHOWN_MAX + 8];
} shown;

static const char *show(shown *out, const char *name)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p;) {
        size_t clen = *p < 0xC0 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        for (size_t k = 1; k < clen; k++)
            if ((p[k] & 0xC0) != 0x80)
                clen = 1; /* not a whole sequence: shown byte by byte */
        bool esc = clen == 1 && (*p < 0x20 || *p >= 0x7F);
        size_t olen = esc ? 4 : clen;
        if (o + olen > SHOWN_MAX) {
            memcpy(out->s + o, "...", 3);
            o += 3;
            break;
        }
        if (esc)
            snprintf(out->s + o, 5, "\\x%02X", *p);
        else
            memcpy(out->s + o, p, clen);
        o += olen;
        p += clen;
    }
    out->s[o] = '\0';
    return out->s;
}

static const char *kind(const cJSON *item)
{
    if (cJSON_IsObject(item))
        return "an object";
    if (cJSON_IsArray(item))
        return "an array";
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsNumber(item))
        return "a number";
    if (cJSON_IsBool(item))
        return "a boolean";
    return "null";
}

/* "[2,3]" into buf; cut with "...]" when it does not fit. */
static const char *fmt_dims(char *buf, size_t size, const uint64_t *v, size_t n)
{
    size_t o = 0;
    buf[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        char num[24];
        int k = snprintf(num, sizeof num, "%s%" PRIu64, i ? "," : "", v[i]);
        if (o + (size_t)k + 5 > size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, num, (size_t)k);
        o += (size_t)k;
    }
    buf[o++] = ']';
    buf[o] = '\0';
    return buf;
}

/* "safetensors: tensor '<name>': <message>" */
static c2s_status tfail(c2s_error *err, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static c2s_status tfail(c2s_error *err, const char *name, const char *fmt, ...)
{
    char msg[C2S_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shown sn;
    return c2s_fail(err, C2S_ERR_INPUT, "safetensors: tensor '%s': %s", show(&sn, name), msg);
}

static c2s_status oom(c2s_error *err)
{
    return c2s_fail(err, C2S_ERR_INPUT, "safetensors: out of memory reading the header");
}

/* ---- pass 1: UTF-8 ----------------------------------------------------- */

/* ---- pass 2: JSON syntax ----------------------------------------------- */

typedef struct numtext {
    size_t off, len;
} numtext;

typedef struct scanner {
    const char *s;
    size_t len;
    numtext *nums;
    size_t nnums, cap;
    c2s_error *err;
} scanner;

/* cJSON copies at most 63 characters of a number (longer ones fail to parse). */
#define NUM_TEXT_MAX 63

static c2s_status syntax(scanner *sc, size_t pos, const char *what)
{
    return c2s_fail(sc->err, C2S_ERR_INPUT,
                    "safetensors: header is not valid JSON: %s at offset %zu", what, 8 + pos);
}

static size_t skip_ws(const scanner *sc, size_t i)
{
    while (i < sc->len &&
           (sc->s[i] == ' ' || sc->s[i] == '\t' || sc->s[i] == '\n' || sc->s[i] == '\r'))
        i++;
    return i;
}

/* The 4 hex digits after "\u" at i (i indexes the backslash); -1 if invalid. */
static long hex4(const scanner *sc, size_t i)
{
    if (sc->len - i < 6 || sc->s[i] != '\\' || sc->s[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hex_digit((unsigned char)sc->s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* String starting at the quote at *pos; on success *pos is past the closing quote. */
static c2s_status scan_string(scanner *sc, size_t *pos)
{
    size_t i = *pos + 1;
    for (;;) {
        if (i >= sc->len)
            return syntax(sc, i, "unterminated string");
        unsigned char c = (unsigned char)sc->s[i];
        if (c == '"') {
            *pos = i + 1;
            return C2S_OK;
        }
        if (c < 0x20)
            return syntax(sc, i, "control character in a string");
        if (c != '\\') {
            i++;
            continue;
        }
        char e = i + 1 < sc->len ? sc->s[i + 1] : '\0';
        switch (e) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            i += 2;
            continue;
        case 'u':
            break;
        default:
            return syntax(sc, i, "invalid escape in a string");
        }
        long cp = hex4(sc, i);
        if (cp < 0)
            return syntax(sc, i, "invalid \\u escape");
        if (cp == 0)
            return c2s_fail(sc->err, C2S_ERR_INPUT,
                            "safetensors: header has a \\u0000 escape at offset %zu, "
                            "which this reader does not support",
                            8 + i);
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return syntax(sc, i, "lone surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = hex4(sc, i + 6);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return syntax(sc, i, "lone surrogate in a \\u escape");
            i += 6;
        }
        i += 6;
    }
}

static bool is_digit(const scanner *sc, size_t i)
{
    return i < sc->len && sc->s[i] >= '0' && sc->s[i] <= '9';
}

/* Number per RFC 8259 at *pos; its text is recorded. */
static c2s_status scan_number(scanner *sc, size_t *pos)
{
    size_t start = *pos, i = start;
    if (sc->s[i] == '-')
        i++;
    if (!is_digit(sc, i))
        return syntax(sc, start, "invalid number");
    if (sc->s[i++] != '0')
        while (is_digit(sc, i))
            i++;
    if (i < sc->len && sc->s[i] == '.') {
        if (!is_digit(sc, ++i))
            return syntax(sc, start, "invalid number");
        while (is_digit(sc, i))
            i++;
    }
    if (i < sc->len && (sc->s[i] == 'e' || sc->s[i] == 'E')) {
        i++;
        if (i < sc->len && (sc->s[i] == '+' || sc->s[i] == '-'))
            i++;
        if (!is_digit(sc, i))
            return syntax(sc, start, "invalid number");
        while (is_digit(sc, i))
            i++;
    }
    if (i - start > NUM_TEXT_MAX)
        return c2s_fail(sc->err, C2S_ERR_INPUT,
                        "safetensors: header has a number longer than %d characters at offset "
                        "%zu, which this reader does not support",
                        NUM_TEXT_MAX, 8 + start);
    if (!grow_in_place((void **)&sc->nums, &sc->cap, sc->nnums + 1, sizeof *sc->nums))
        return oom(sc->err);
    sc->nums[sc->nnums++] = (numtext){start, i - start};
    *pos = i;
    return C2S_OK;
}

static bool literal(const scanner *sc, size_t i, const char *word)
{
    size_t n = strlen(word);
    return sc->len - i >= n && memcmp(sc->s + i, word, n) == 0;
}

/* Check that the header holds one JSON value, followed only by whitespace.
 * On success *end is the offset just past the value. */
static c2s_status scan_json(scanner *sc, size_t *end)
{
    char stack[ST_MAX_DEPTH]; /* '{' or '[' per open container */
    size_t depth = 0;
    enum { VALUE, KEY, AFTER } state = VALUE;
    size_t i = skip_ws(sc, 0);
    c2s_status st;

    for (;;) {
        switch (state) {
        case VALUE:
            if (i >= sc->len)
                return syntax(sc, i, "unexpected end");
            switch (sc->s[i]) {
            case '{':
            case '[':
                if (depth == ST_MAX_DEPTH)
                    return c2s_fail(sc->err, C2S_ERR_INPUT,
                                    "safetensors: header nests more than %d arrays and objects "
                                    "at offset %zu",
                                    ST_MAX_DEPTH, 8 + i);
                stack[depth++] = sc->s[i];
                i = skip_ws(sc, i + 1);
                if (i < sc->len && sc->s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
                    depth--;
                    i++;
                    state = AFTER;
                } else {
                    state = stack[depth - 1] == '{' ? KEY : VALUE;
                }
                continue;
            case '"':
                st = scan_string(sc, &i);
                break;
            case 't':
            case 'f':
            case 'n': {
                const char *w = sc->s[i] == 't' ? "true" : sc->s[i] == 'f' ? "false" : "null";
                if (!literal(sc, i, w))
                    return syntax(sc, i, "unexpected character");
                i += strlen(w);
                st = C2S_OK;
                break;
            }
            default:
                if (sc->s[i] != '-' && !is_digit(sc, i))
                    return syntax(sc, i, "unexpected character");
                st = scan_number(sc, &i);
                break;
            }
            if (st != C2S_OK)
                return st;
            state = AFTER;
            continue;
        case KEY:
            if (i >= sc->len || sc->s[i] != '"')
                return syntax(sc, i, "expected a string key");
            if ((st = scan_string(sc, &i)) != C2S_OK)
                return st;
            i = skip_ws(sc, i);
            if (i >= sc->len || sc->s[i] != ':')
                return syntax(sc, i, "expected ':'");
            i = skip_ws(sc, i + 1);
            state = VALUE;
            continue;
        case AFTER:
            if (depth == 0) {
                *end = i;
                size_t rest = skip_ws(sc, i);
                if (rest != sc->len)
                    return c2s_fail(sc->err, C2S_ERR_INPUT,
                                    "safetensors: header has data after the JSON at offset %zu",
                                    8 + rest);
                return C2S_OK;
            }
            i = skip_ws(sc, i);
            if (i < sc->len && sc->s[i] == ',') {
                i = skip_ws(sc, i + 1);
                state = stack[depth - 1] == '{' ? KEY : VALUE;
            } else if (i < sc->len && sc->s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
                depth--;
                i++;
            } else {
                return syntax(sc, i,
                              stack[depth - 1] == '{' ? "expected ',' or '}'"
                                                      : "expected ',' or ']'");
            }
            continue;
        }
    }
}

/* ---- pass 3: pair number items with their text ------------------------- */

/* Walk the tree in document order (iteratively; depth is bounded by
 * scan_json) and set each number item's valueint to the index of its text. */
static c2s_status number_texts(cJSON *root, size_t nnums, c2s_error *err)
{
    cJSON **stack = NULL;
    size_t depth = 0, cap = 0, k = 0;
    cJSON *cur = root;
    while (cur != NULL || depth > 0) {
        if (cur == NULL) {
            cur = stack[--depth];
            continue;
        }
        if (cJSON_IsNumber(cur)) {
            if (k == nnums)
                break;
            cur->valueint = (int)k++;
        }
        if (cur->child != NULL) {
            if (depth == cap) {
                cap = cap ? cap * 2 : 16;
                cJSON **s = realloc(stack, cap * sizeof *s);
                if (s == NULL) {
                    free(stack);
                    return oom(err);
                }
                stack = s;
            }
            stack[depth++] = cur->next;
            cur = cur->child;
        } else {
            cur = cur->next;
        }
    }
    free(stack);
    if (k != nnums || cur != NULL)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "safetensors: internal error: JSON numbers out of step");
    return C2S_OK;
}

/* ---- content ----------------------------------------------------------- */

typedef struct reader {
    const char *json;
    const numtext *nums;
    uint64_t data_len;
    st_file *out;
    c2s_error *err;
} reader;

/* The value of a JSON number item that must be an integer in [0, 2^64-1]. */
static c2s_status read_u64(const reader *r, const char *tname, const cJSON *item, const char *field,
                           size_t idx, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return tfail(r->err, tname, "%s[%zu] is %s, not a non-negative integer", field, idx,
                     kind(item));
    const numtext *t = &r->nums[item->valueint];
    const char *p = r->json + t->off;
    uint64_t v = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return tfail(r->err, tname, "%s[%zu] is %.*s, not a non-negative integer", field, idx,
                         (int)t->len, p);
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p[i] - '0', &v))
            return tfail(r->err, tname, "%s[%zu] is %.*s, above 2^64-1", field, idx, (int)t->len,
                         p);
    }
    *out = v;
    return C2S_OK;
}

static c2s_status read_tensor(const reader *r, const cJSON *obj, st_tensor *t)
{
    const char *name = obj->string;
    if (!cJSON_IsObject(obj)) {
        shown sn;
        return c2s_fail(r->err, C2S_ERR_INPUT, "safetensors: tensor '%s' is %s, not an object",
                        show(&sn, name), kind(obj));
    }

    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        const cJSON **slot = strcmp(m->string, "dtype") == 0          ? &dtype
                             : strcmp(m->string, "shape") == 0        ? &shape
                             : strcmp(m->string, "data_offsets") == 0 ? &offsets
                                                                      : NULL;
        if (slot == NULL)
            continue; /* the reference ignores unknown members */
        if (*slot != NULL)
            return tfail(r->err, name, "%s given twice", m->string);
        *slot = m;
    }
    if (dtype == NULL)
        return tfail(r->err, name, "no dtype");
    if (shape == NULL)
        return tfail(r->err, name, "no shape");
    if (offsets == NULL)
        return tfail(r->err, name, "no data_offsets");

    if (!cJSON_IsString(dtype))
        return tfail(r->err, name, "dtype is %s, not a string", kind(dtype));
    const st_dtype *dt = find_dtype(dtype->valuestring);
    if (dt == NULL) {
        shown sd;
        return tfail(r->err, name, "unknown dtype '%s'", show(&sd, dtype->valuestring));
    }
    t->dtype = dt->name;
    t->bits = dt->bits;

    if (!cJSON_IsArray(shape))
        return tfail(r->err, name, "shape is %s, not an array", kind(shape));
    size_t ndim = (size_t)cJSON_GetArraySize(shape);
    if (ndim > 0) {
        t->shape = malloc(ndim * sizeof *t->shape);
        if (t->shape == NULL)
            return oom(r->err);
    }
    t->ndim = 0;
    for (const cJSON *d = shape->child; d != NULL; d = d->next) {
        c2s_status st = read_u64(r, name, d, "shape", t->ndim, &t->shape[t->ndim]);
        if (st != C2S_OK)
            return st;
        t->ndim++;
    }

    if (!cJSON_IsArray(offsets))
        return tfail(r->err, name, "data_offsets is %s, not an array", kind(offsets));
    int noff = cJSON_GetArraySize(offsets);
    if (noff != 2)
        return tfail(r->err, name, "data_offsets has %d entr%s, not 2", noff,
                     noff == 1 ? "y" : "ies");
    c2s_status st = read_u64(r, name, offsets->child, "data_offsets", 0, &t->begin);
    if (st == C2S_OK)
        st = read_u64(r, name, offsets->child->next, "data_offsets", 1, &t->end);
    if (st != C2S_OK)
        return st;
    if (t->begin > t->end)
        return tfail(r->err, name, "data_offsets [%" PRIu64 ",%" PRIu64 "] end before they begin",
                     t->begin, t->end);

    /* Same arithmetic as the reference: elements, then bits, each checked. */
    char dims[192];
    uint64_t nel = 1, nbits;
    for (size_t i = 0; i < t->ndim; i++)
        if (__builtin_mul_overflow(nel, t->shape[i], &nel))
            return tfail(r->err, name, "dtype %s and shape %s: size overflows 64 bits", t->dtype,
                         fmt_dims(dims, sizeof dims, t->shape, t->ndim));
    if (__builtin_mul_overflow(nel, (uint64_t)t->bits, &nbits))
        return tfail(r->err, name, "dtype %s and shape %s: size overflows 64 bits", t->dtype,
                     fmt_dims(dims, sizeof dims, t->shape, t->ndim));
    if (nbits % 8 != 0)
        return tfail(r->err, name,
                     "dtype %s and shape %s make %" PRIu64 " bits, not a whole number of bytes",
                     t->dtype, fmt_dims(dims, sizeof dims, t->shape, t->ndim), nbits);
    if (t->end - t->begin != nbits / 8)
        return tfail(r->err, name,
                     "data_offsets [%" PRIu64 ",%" PRIu64 "] hold %" PRIu64
                     " bytes, dtype %s and shape %s need %" PRIu64,
                     t->begin, t->end, t->end - t->begin, t->dtype,
                     fmt_dims(dims, sizeof dims, t->shape, t->ndim), nbits / 8);

    t->name = strdup(name);
    if (t->name == NULL)
        return oom(r->err);
    return C2S_OK;
}

static c2s_status read_metadata(const reader *r, const cJSON *md)
{
    st_file *f = r->out;
    if (cJSON_IsNull(md))
        return C2S_OK; /* serde reads null as an absent Option */
    if (!cJSON_IsObject(md))
        return c2s_fail(r->err, C2S_ERR_INPUT, "safetensors: __metadata__ is %s, not an object",
                        kind(md));
    size_t n = (size_t)cJSON_GetArraySize(md);
    if (n == 0)
        return C2S_OK;
    f->meta_keys = calloc(n, sizeof *f->meta_keys);
    f->meta_values = calloc(n, sizeof *f->meta_values);
    if (f->meta_keys == NULL || f->meta_values == NULL)
        return oom(r->err);
    for (const cJSON *m = md->child; m != NULL; m = m->next) {
        if (!cJSON_IsString(m)) {
            shown sk;
            return c2s_fail(r->err, C2S_ERR_INPUT,
                            "safetensors: __metadata__ value of '%s' is %s, not a string",
                            show(&sk, m->string), kind(m));
        }
        f->meta_keys[f->nmeta] = strdup(m->string);
        f->meta_values[f->nmeta] = strdup(m->valuestring);
        f->nmeta++; /* counted even if a strdup failed, so that both are freed */
        if (f->meta_keys[f->nmeta - 1] == NULL || f->meta_values[f->nmeta - 1] == NULL)
            return oom(r->err);
    }
    return C2S_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A string that occurs twice among v[0..n) (v is sorted in place), or NULL. */
static const char *find_duplicate(const char **v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            return v[i];
    return NULL;
}

/* Names must be unique among the metadata keys and among the tensors. */
static c2s_status check_unique(const reader *r)
{
    const st_file *f = r->out;
    size_t n = f->nmeta > f->ntensors ? f->nmeta : f->ntensors;
    if (n < 2)
        return C2S_OK;
    const char **v = malloc(n * sizeof *v);
    if (v == NULL)
        return oom(r->err);
    for (size_t i = 0; i < f->nmeta; i++)
        v[i] = f->meta_keys[i];
    const char *dup = find_duplicate(v, f->nmeta);
    const char *what = "__metadata__ key";
    if (dup == NULL) {
        for (size_t i = 0; i < f->ntensors; i++)
            v[i] = f->tensors[i].name;
        dup = find_duplicate(v, f->ntensors);
        what = "tensor";
    }
    c2s_status st = C2S_OK;
    if (dup != NULL) {
        shown sd;
        st = c2s_fail(r->err, C2S_ERR_INPUT, "safetensors: %s '%s' given twice", what,
                      show(&sd, dup));
    }
    free(v);
    return st;
}

/* By data_offsets, then header order (the array order), so the sort is total. */
static int cmp_offsets(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y;
}

static c2s_status check_tiling(const reader *r)
{
    const st_file *f = r->out;
    const st_tensor **v = NULL;
    if (f->ntensors > 0) {
        v = malloc(f->ntensors * sizeof *v);
        if (v == NULL)
            return oom(r->err);
    }
    for (size_t i = 0; i < f->ntensors; i++)
        v[i] = &f->tensors[i];
    if (v != NULL)
        qsort(v, f->ntensors, sizeof *v, cmp_offsets);

    c2s_status st = C2S_OK;
    uint64_t pos = 0;
    shown s1, s2;
    for (size_t i = 0; i < f->ntensors && st == C2S_OK; i++) {
        const st_tensor *t = v[i];
        if (t->begin == pos) {
            pos = t->end;
        } else if (i == 0) {
            st = c2s_fail(r->err, C2S_ERR_INPUT,
                          "safetensors: tensor '%s' begins at %" PRIu64
                          ", leaving a gap at the start of the data buffer",
                          show(&s1, t->name), t->begin);
        } else {
            st = c2s_fail(r->err, C2S_ERR_INPUT,
                          "safetensors: tensor '%s' begins at %" PRIu64 ", %s tensor '%s' "
                          "which ends at %" PRIu64,
                          show(&s1, t->name), t->begin,
                          t->begin > pos ? "leaving a gap after" : "overlapping",
                          show(&s2, v[i - 1]->name), pos);
        }
    }
    free(v);
    if (st == C2S_OK && pos != r->data_len)
        st = c2s_fail(r->err, C2S_ERR_INPUT,
                      "safetensors: the tensors end at %" PRIu64
                      " but the data buffer holds %" PRIu64 " bytes",
                      pos, r->data_len);
    return st;
}

static c2s_status read_root(const reader *r, const cJSON *root)
{
    st_file *f = r->out;
    if (!cJSON_IsObject(root))
        return c2s_fail(r->err, C2S_ERR_INPUT, "safetensors: header is %s, not a JSON object",
                        kind(root));
    size_t n = (size_t)cJSON_GetArraySize(root);
    if (n > 0) {
        f->tensors = calloc(n, sizeof *f->tensors);
        if (f->tensors == NULL)
            return oom(r->err);
    }
    bool seen_meta = false;
    for (const cJSON *m = root->child; m != NULL; m = m->next) {
        c2s_status st;
        if (strcmp(m->string, "__metadata__") == 0) {
            if (seen_meta)
                return c2s_fail(r->err, C2S_ERR_INPUT, "safetensors: __metadata__ given twice");
            seen_meta = true;
            st = read_metadata(r, m);
        } else {
            /* counted first so that st_file_free releases a partial tensor */
            st = read_tensor(r, m, &f->tensors[f->ntensors++]);
        }
        if (st != C2S_OK)
            return st;
    }

    c2s_status st = check_unique(r);
    if (st != C2S_OK)
        return st;
    return check_tiling(r);
}

/* Validate header bytes json[0..n) (json[n] is writable) into out. */
static c2s_status parse_header(char *json, size_t n, uint64_t data_len, st_file *out,
                               c2s_error *err)
{
    size_t bad = utf8_valid_prefix((const unsigned char *)json, n);
    if (bad != n)
        return c2s_fail(err, C2S_ERR_INPUT, "safetensors: header is not valid UTF-8 at offset %zu",
                        8 + bad);

    scanner sc = {json, n, NULL, 0, 0, err};
    size_t end = 0;
    c2s_status st = scan_json(&sc, &end);
    if (st != C2S_OK) {
        free(sc.nums);
        return st;
    }
    json[n] = '\0';
    cJSON *root = cJSON_ParseWithLengthOpts(json, end, NULL, 0);
    if (root == NULL) {
        /* scan_json accepted it, and cJSON accepts all of what it accepts */
        free(sc.nums);
        return oom(err);
    }
    st = number_texts(root, sc.nnums, err);
    if (st == C2S_OK) {
        reader r = {json, sc.nums, data_len, out, err};
        st = read_root(&r, root);
    }
    cJSON_Delete(root);
    free(sc.nums);
    return st;
}

/* ---- files ------------------------------------------------------------- */

/* 0 when all len bytes at off were read; else -1 with errno (0 for EOF). */
/* 0 when all len bytes were read; -1 with errno (0 at the end of the file). */
static int read_all(int fd, void *buf, size_t len, uint64_t off)
{
    ssize_t got = pread_full(fd, buf, len, off);
    if (got >= 0 && (size_t)got < len)
        errno = 0;
    return got >= 0 && (size_t)got == len ? 0 : -1;
}

static c2s_status read_fail(c2s_error *err, const char *what)
{
    int e = errno;
    return c2s_fail(err, C2S_ERR_INPUT, "safetensors: cannot read the %s: %s", what,
                    e ? strerror(e) : "unexpected end of file");
}

c2s_status st_read_fd(int fd, st_file *out, c2s_error *err)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "safetensors: cannot stat the file: %s",
                        strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return c2s_fail(err, C2S_ERR_INPUT, "safetensors: not a regular file");
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "safetensors: file is %" PRIu64
                        " bytes, too short for the 8-byte header length",
                        size);
    unsigned char le[8];
    if (read_all(fd, le, 8, 0) != 0)
        return read_fail(err, "header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | le[i];
    if (n > ST_MAX_HEADER)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "safetensors: header length %" PRIu64 " is above the limit of %u", n,
                        ST_MAX_HEADER);
    if (n > size - 8)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "safetensors: header length %" PRIu64 " is larger than the %" PRIu64
                        " bytes after it",
                        n, size - 8);
    char *json = malloc((size_t)n + 1);
    if (json == NULL)
        return oom(err);
    if (read_all(fd, json, (size_t)n, 8) != 0) {
        free(json);
        return read_fail(err, "header");
    }
    c2s_status st = parse_header(json, (size_t)n, size - 8 - n, out, err);
    free(json);
    if (st != C2S_OK) {
        st_file_free(out);
        return st;
    }
    out->header_len = n;
    out->data_start = 8 + n;
    out->data_len = size - 8 - n;
    return C2S_OK;
}

c2s_status st_read_path(const char *path, st_file *out, c2s_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: %s", path, strerror(errno));
    c2s_status st = st_read_fd(fd, out, err);
    close(fd);
    if (st != C2S_OK)
        c2s_error_prefix(err, "%s", path);
    return st;
}

void st_file_free(st_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->ntensors; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].shape);
    }
    free(f->tensors);
    for (size_t i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    memset(f, 0, sizeof *f);
}
