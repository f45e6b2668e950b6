/*
 * tool_json.c - JSON strings escaped as Python escapes them, and names
 * that are not UTF-8 (see tool_json.h).
 *
 * How it works.  utf8_length() says how long the valid UTF-8 sequence at a
 * position is (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), 0 when the byte there starts none; everything else follows
 * from that one test.
 */
#include "tool_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tool_text_put(tool_text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (p == NULL) {
            t->oom = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

void tool_text_puts(tool_text *t, const char *s)
{
    tool_text_put(t, s, strlen(s));
}

void tool_text_free(tool_text *t)
{
    free(t->s);
    memset(t, 0, sizeof *t);
}

static int cont(unsigned char c)
{
    return c >= 0x80 && c <= 0xbf;
}

/* Length of the valid UTF-8 sequence at s (NUL-terminated), 0 if none;
 * *cp its code point. */
static size_t utf8_length(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf && cont(s[1])) {
        *cp = (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        if (s[1] < lo || s[1] > hi || !cont(s[2]))
            return 0;
        *cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (s[1] < lo || s[1] > hi || !cont(s[2]) || !cont(s[3]))
            return 0;
        *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
              (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
        return 4;
    }
    return 0;
}

/* \uXXXX for a UTF-16 code unit (at most 0xffff). */
static void put_u(tool_text *t, uint32_t unit)
{
    char buf[16];
    snprintf(buf, sizeof buf, "\\u%04x", (unsigned)(unit & 0xffff));
    tool_text_put(t, buf, 6);
}

/* One code point the way Python's ensure_ascii writes it. */
static void put_code_point(tool_text *t, uint32_t cp)
{
    static const char SHORT[][3] = {['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
                                    ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t"};
    if (cp < sizeof SHORT / sizeof SHORT[0] && SHORT[cp][0] != '\0') {
        tool_text_put(t, SHORT[cp], 2);
    } else if (cp >= ' ' && cp <= '~') {
        char c = (char)cp;
        tool_text_put(t, &c, 1);
    } else if (cp > 0xffff) {
        put_u(t, 0xd800 + ((cp - 0x10000) >> 10));
        put_u(t, 0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else {
        put_u(t, cp);
    }
}

void tool_json_string(tool_text *t, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    tool_text_put(t, "\"", 1);
    while (*p) {
        uint32_t cp;
        size_t n = utf8_length(p, &cp);
        if (n == 0) {
            put_u(t, 0xfffd);
            p++;
        } else {
            put_code_point(t, cp);
            p += n;
        }
    }
    tool_text_put(t, "\"", 1);
}

char *tool_json_fix_utf8(const char *json)
{
    tool_text t = {0};
    const unsigned char *p = (const unsigned char *)json, *run = p;
    tool_text_put(&t, "", 0);
    while (*p) {
        uint32_t cp;
        size_t n = utf8_length(p, &cp);
        if (n > 0) {
            p += n;
            continue;
        }
        tool_text_put(&t, (const char *)run, (size_t)(p - run));
        tool_text_puts(&t, "\xef\xbf\xbd"); /* U+FFFD */
        run = ++p;
    }
    tool_text_put(&t, (const char *)run, (size_t)(p - run));
    if (t.oom) {
        tool_text_free(&t);
        return NULL;
    }
    return t.s;
}

int tool_json_is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    size_t n;
    while (*p && (n = utf8_length(p, &cp)) > 0)
        p += n;
    return *p == '\0';
}

char *tool_json_hex(const char *s)
{
    size_t n = strlen(s);
    char *hex = malloc(2 * n + 1);
    for (size_t i = 0; hex != NULL && i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    if (hex != NULL)
        hex[2 * n] = '\0';
    return hex;
}
