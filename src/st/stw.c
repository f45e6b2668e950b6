/*
 * stw.c - safetensors header planning (see src/st/stw.h).
 *
 * The JSON is written here directly, in one pass into one growing buffer,
 * exactly as cJSON_PrintUnformatted printed the tree this file used to
 * build (tests/test_stw.c compares the two on every kind of name): no
 * spaces; strings escaped as cJSON escapes them (\" \\ \b \f \n \r \t, other
 * bytes below 0x20 as \u00xx in lower-case hex, every other byte as it is);
 * integers (shapes, offsets) printed exactly as unsigned decimals, where
 * cJSON's doubles would lose exactness above 2^53.  A tree of cJSON nodes
 * cost about 600 bytes and a dozen allocations per tensor: 120 MB for a
 * checkpoint of 200,000 tiny tensors.  The ordering matches the reference
 * implementation so that the same tensors give byte-identical files.
 */
#include "st/stw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_order(const void *a, const void *b)
{
    const stw_entry *x = a, *y = b;
    int rx = c2s_dtype_rank(x->dtype), ry = c2s_dtype_rank(y->dtype);
    if (rx != ry)
        return ry - rx;
    return strcmp(x->name, y->name); /* strcmp compares as unsigned char */
}

/* ---- the JSON text -------------------------------------------------------- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: the text is dropped */
} jbuf;

static char *room(jbuf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->failed = 1;
            return NULL;
        }
        b->p = grown;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void put(jbuf *b, const char *s, size_t n)
{
    char *at = room(b, n);
    if (at != NULL) {
        memcpy(at, s, n);
        b->len += n;
    }
}

/* a string literal, its length counted by the compiler */
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static void put_c(jbuf *b, char c)
{
    put(b, &c, 1);
}

/* Decimal digits without snprintf: six numbers per tensor, 200,000
 * tensors in some checkpoints. */
static void put_uint(jbuf *b, uint64_t v)
{
    char buf[24];
    size_t at = sizeof buf;
    do {
        buf[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(b, buf + at, sizeof buf - at);
}

/* A JSON string as cJSON's print_string_ptr writes it. */
static void put_string(jbuf *b, const char *s)
{
    put_c(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p > 31 && *p != '"' && *p != '\\')
            p++;
        put(b, (const char *)run, (size_t)(p - run));
        if (*p == 0)
            break;
        char esc[8];
        switch (*p) {
        case '"':
            PUT_LIT(b, "\\\"");
            break;
        case '\\':
            PUT_LIT(b, "\\\\");
            break;
        case '\b':
            PUT_LIT(b, "\\b");
            break;
        case '\f':
            PUT_LIT(b, "\\f");
            break;
        case '\n':
            PUT_LIT(b, "\\n");
            break;
        case '\r':
            PUT_LIT(b, "\\r");
            break;
        case '\t':
            PUT_LIT(b, "\\t");
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            put(b, esc, 6);
        }
        p++;
    }
    put_c(b, '"');
}

static void put_tensor(jbuf *b, const stw_entry *e)
{
    put_string(b, e->name);
    PUT_LIT(b, ":{\"dtype\":");
    put_string(b, c2s_dtype_name(e->dtype));
    PUT_LIT(b, ",\"shape\":[");
    for (size_t i = 0; i < e->ndim; i++) {
        if (i > 0)
            put_c(b, ',');
        put_uint(b, (uint64_t)e->shape[i]);
    }
    PUT_LIT(b, "],\"data_offsets\":[");
    put_uint(b, e->begin);
    put_c(b, ',');
    put_uint(b, e->begin + e->nbytes);
    PUT_LIT(b, "]}");
}

static void put_header(jbuf *b, const stw_entry *entries, size_t n, const stw_kv *meta,
                       size_t nmeta)
{
    PUT_LIT(b, "{\"__metadata__\":{\"format\":\"pt\"");
    for (size_t i = 0; i < nmeta; i++) {
        put_c(b, ',');
        put_string(b, meta[i].key);
        put_c(b, ':');
        put_string(b, meta[i].value);
    }
    put_c(b, '}');
    for (size_t i = 0; i < n; i++) {
        put_c(b, ',');
        put_tensor(b, &entries[i]);
    }
    put_c(b, '}');
}

c2s_status stw_plan(stw_entry *entries, size_t n, const stw_kv *meta, size_t nmeta,
                    unsigned char **header, size_t *header_len, uint64_t *data_len, c2s_error *err)
{
    *header = NULL;
    qsort(entries, n, sizeof *entries, write_order);
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        entries[i].begin = off;
        if (__builtin_add_overflow(off, entries[i].nbytes, &off))
            return c2s_fail(err, C2S_ERR_INPUT, "total tensor size overflows");
    }
    jbuf b = {0};
    put_header(&b, entries, n, meta, nmeta);
    size_t len = b.len;
    size_t padded = (len + 7) & ~(size_t)7;
    if (b.failed) {
        free(b.p);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory building the safetensors header");
    }
    if (padded > STW_MAX_HEADER) {
        free(b.p);
        return c2s_fail(err, C2S_ERR_INPUT,
                        "safetensors header would be %zu bytes, above the format's limit of %u",
                        padded, STW_MAX_HEADER);
    }
    unsigned char *buf = malloc(8 + padded);
    if (buf == NULL) {
        free(b.p);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory building the safetensors header");
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, b.p, len);
    memset(buf + 8 + len, ' ', padded - len);
    free(b.p);
    *header = buf;
    *header_len = 8 + padded;
    *data_len = off;
    return C2S_OK;
}
