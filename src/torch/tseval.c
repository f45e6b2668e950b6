/*
 * tseval.c - the expressions torch.jit.load evaluates while compiling
 * code/ must be literals (see tseval.h).
 *
 * Lines are taken one at a time.  A def header is gathered, from "def " to
 * the ':' that ends it outside brackets and strings, into one buffer, then
 * its parameter list (inside the first '(' and its matching ')') is split
 * at top-level commas.  Column 0 says where the lines below it belong: a
 * "class" opens a class body (its statements at two spaces), a "def" a
 * function body (not evaluated, whatever its indent).  The literal reader
 * is a small recursive descent, depth-bounded, that accepts only the
 * shapes listed in the header.
 */
#include "torch/tseval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST 32

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

static size_t skip_spaces(const char *s, size_t n, size_t i)
{
    while (i < n && is_space(s[i]))
        i++;
    return i;
}

/* s[i] is a quote: the index after the closing one, or n + 1 when the
 * string does not end (a backslash escapes the next byte). */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    char q = s[i++];
    while (i < n && s[i] != q) {
        if (s[i] == '\n')
            return n + 1;
        i += s[i] == '\\' ? 2 : 1;
    }
    return i < n ? i + 1 : n + 1;
}

/* An int or float at s[i]: [+-] digits [. digits] [e [+-] digits], with a
 * digit on one side of the point.  The index after it, or 0. */
static size_t number_end(const char *s, size_t n, size_t i)
{
    size_t digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1, exp = 0;
        if (j < n && (s[j] == '-' || s[j] == '+'))
            j++;
        for (; j < n && s[j] >= '0' && s[j] <= '9'; j++)
            exp++;
        if (exp == 0)
            return 0;
        i = j;
    }
    return i;
}

/* s[i..] starts with text: the index after it, or 0. */
static size_t after(const char *s, size_t n, size_t i, const char *text)
{
    size_t k = strlen(text);
    return i + k <= n && memcmp(s + i, text, k) == 0 ? i + k : 0;
}

/* One literal at s[i] (spaces before it skipped): the index after it, or 0. */
static size_t literal_end(const char *s, size_t n, size_t i, int depth)
{
    i = skip_spaces(s, n, i);
    if (i >= n || depth > MAX_NEST)
        return 0;
    if (s[i] == '"' || s[i] == '\'') {
        size_t j = skip_string(s, n, i);
        return j <= n ? j : 0;
    }
    if (s[i] == '(' || s[i] == '[') {
        char close = s[i] == '(' ? ')' : ']';
        i = skip_spaces(s, n, i + 1);
        while (i < n && s[i] != close) {
            if ((i = literal_end(s, n, i, depth + 1)) == 0)
                return 0;
            i = skip_spaces(s, n, i);
            if (i < n && s[i] == ',')
                i = skip_spaces(s, n, i + 1);
            else if (i >= n || s[i] != close)
                return 0;
        }
        return i < n ? i + 1 : 0;
    }
    static const char *const WORDS[] =
        {"None", "True", "False", "float(\"inf\")", "float(\"-inf\")", "float(\"nan\")"};
    for (size_t w = 0; w < sizeof WORDS / sizeof *WORDS; w++) {
        size_t j = after(s, n, i, WORDS[w]);
        if (j != 0 && (j >= n || !is_word_char(s[j])))
            return j;
    }
    size_t j = after(s, n, i, "torch.device(");
    if (j != 0) {
        j = skip_spaces(s, n, j);
        if (j >= n || (s[j] != '"' && s[j] != '\''))
            return 0;
        j = skip_spaces(s, n, skip_string(s, n, j));
        return j < n && s[j] == ')' ? j + 1 : 0;
    }
    j = number_end(s, n, i);
    return j != 0 && (j >= n || !is_word_char(s[j])) ? j : 0;
}

int tseval_is_literal(const char *s, size_t n)
{
    size_t i = literal_end(s, n, 0, 0);
    return i != 0 && skip_spaces(s, n, i) == n;
}

/* The index of the first top-level c in s[from..n) (outside brackets and
 * strings), or n.  For '=', a '=' of ==, <=, >= or != is not one. */
static size_t top_level(const char *s, size_t n, size_t from, char c)
{
    int depth = 0;
    for (size_t i = from; i < n; i++) {
        char x = s[i];
        if (x == '"' || x == '\'') {
            i = skip_string(s, n, i) - 1;
            continue;
        }
        if (x == c && depth == 0) {
            if (c == '=' &&
                ((i + 1 < n && s[i + 1] == '=') || (i > from && strchr("<>!=", s[i - 1]) != NULL)))
                continue;
            return i;
        }
        if (x == '(' || x == '[' || x == '{')
            depth++;
        else if ((x == ')' || x == ']' || x == '}') && depth > 0)
            depth--;
    }
    return n;
}

/* The index just past the ')' matching the '(' at s[open], or 0. */
static size_t close_paren(const char *s, size_t n, size_t open)
{
    int depth = 0;
    for (size_t i = open; i < n; i++) {
        if (s[i] == '"' || s[i] == '\'') {
            size_t j = skip_string(s, n, i);
            if (j > n)
                return 0;
            i = j - 1;
        } else if (s[i] == '(' || s[i] == '[' || s[i] == '{') {
            depth++;
        } else if (s[i] == ')' || s[i] == ']' || s[i] == '}') {
            if (--depth == 0)
                return s[i] == ')' ? i + 1 : 0;
        }
    }
    return 0;
}

/* Each parameter of the header h (one def, all its lines) with a default:
 * the default must be a literal. */
static int check_header(const char *h, size_t n, size_t line_no, char *msg, size_t cap)
{
    size_t open = top_level(h, n, 0, '(');
    size_t end = open < n ? close_paren(h, n, open) : 0;
    if (end == 0) {
        snprintf(msg, cap, "line %zu: cannot read a def's parameter list", line_no);
        return 0;
    }
    for (size_t at = open + 1; at < end - 1;) {
        size_t comma = top_level(h, end - 1, at, ',');
        size_t eq = top_level(h, comma, at, '=');
        if (eq < comma && !tseval_is_literal(h + eq + 1, comma - eq - 1)) {
            size_t name = skip_spaces(h, n, at), k = name;
            while (k < n && is_word_char(h[k]))
                k++;
            snprintf(msg, cap,
                     "line %zu: the default of parameter '%.*s' is not a literal, and "
                     "torch.jit.load evaluates it while compiling",
                     line_no, (int)(k - name < 64 ? k - name : 64), h + name);
            return 0;
        }
        at = comma + 1;
    }
    return 1;
}

/* A class-level statement s[0..n) (indent removed): an assignment must
 * give a literal, but for __annotations__["name"] = TYPE. */
static int check_class_line(const char *s, size_t n, size_t line_no, char *msg, size_t cap)
{
    size_t eq = top_level(s, n, 0, '=');
    if (eq == n || after(s, n, 0, "__annotations__[") != 0)
        return 1;
    if (tseval_is_literal(s + eq + 1, n - eq - 1))
        return 1;
    snprintf(msg, cap,
             "line %zu: a class-level value is not a literal, and torch.jit.load evaluates it "
             "while compiling",
             line_no);
    return 0;
}

/* A statement at column 0: what torch.jit.save writes there. */
static int check_module_line(const char *s, size_t n, size_t line_no, char *msg, size_t cap)
{
    static const char *const STARTS[] = {"class ", "def ", "import ", "from ", "#"};
    for (size_t i = 0; i < sizeof STARTS / sizeof *STARTS; i++)
        if (after(s, n, 0, STARTS[i]) != 0)
            return 1;
    size_t v = after(s, n, 0, "op_version_set = ");
    if (v != 0 && number_end(s, n, v) == n)
        return 1;
    snprintf(msg, cap, "line %zu: a module-level statement torch.jit.save does not write", line_no);
    return 0;
}

typedef struct scan {
    const char *text;
    size_t len, pos, line_no;
    char *header; /* the def header being gathered */
    size_t header_len, header_cap, header_line;
    int in_class; /* the last column-0 statement opened a class */
} scan;

static int header_add(scan *sc, const char *p, size_t n)
{
    if (sc->header_len + n + 1 > sc->header_cap) {
        size_t cap = (sc->header_len + n + 1) * 2;
        char *h = realloc(sc->header, cap);
        if (h == NULL)
            return 0;
        sc->header = h;
        sc->header_cap = cap;
    }
    memcpy(sc->header + sc->header_len, p, n);
    sc->header_len += n;
    sc->header[sc->header_len++] = ' ';
    return 1;
}

/* 1 when the gathered header ends: its last ':' outside brackets. */
static int header_done(const scan *sc)
{
    size_t open = top_level(sc->header, sc->header_len, 0, '(');
    size_t end = open < sc->header_len ? close_paren(sc->header, sc->header_len, open) : 0;
    return end != 0 && top_level(sc->header, sc->header_len, end, ':') < sc->header_len;
}

/* Add a header line; check the header once it is whole. */
static int header_line(scan *sc, const char *p, size_t n, char *msg, size_t cap)
{
    if (!header_add(sc, p, n)) {
        snprintf(msg, cap, "out of memory");
        return 0;
    }
    if (!header_done(sc))
        return 1;
    int ok = check_header(sc->header, sc->header_len, sc->header_line, msg, cap);
    sc->header_len = 0;
    return ok;
}

/* One line (without its newline): 1 when fine, 0 with msg set. */
static int check_line(scan *sc, const char *p, size_t n, char *msg, size_t cap)
{
    size_t indent = skip_spaces(p, n, 0);
    const char *s = p + indent;
    size_t k = n - indent;
    if (sc->header_len > 0) { /* a def header continues, up to the next def or class */
        if (after(s, k, 0, "def ") != 0 || after(s, k, 0, "class ") != 0) {
            snprintf(msg, cap, "line %zu: a def header does not end", sc->header_line);
            return 0;
        }
        return header_line(sc, p, n, msg, cap);
    }
    if (indent == n)
        return 1; /* blank */
    if (after(s, k, 0, "def ") != 0) {
        if (indent == 0)
            sc->in_class = 0;
        sc->header_line = sc->line_no;
        return header_line(sc, s, k, msg, cap);
    }
    if (indent == 0) {
        sc->in_class = after(s, k, 0, "class ") != 0;
        return check_module_line(s, k, sc->line_no, msg, cap);
    }
    if (indent == 2 && sc->in_class)
        return check_class_line(s, k, sc->line_no, msg, cap);
    return 1; /* a body: compiled, run only when called */
}

int tseval_check(const uint8_t *text, size_t len, char *msg, size_t cap)
{
    scan sc = {(const char *)text, len, 0, 0, NULL, 0, 0, 0, 0};
    int ok = 1;
    while (ok && sc.pos < len) {
        const char *p = sc.text + sc.pos;
        const char *nl = memchr(p, '\n', len - sc.pos);
        size_t n = nl ? (size_t)(nl - p) : len - sc.pos;
        sc.line_no++;
        ok = check_line(&sc, p, n, msg, cap);
        sc.pos += n + 1;
    }
    if (ok && sc.header_len > 0) {
        snprintf(msg, cap, "line %zu: a def header does not end", sc.header_line);
        ok = 0;
    }
    free(sc.header);
    return ok;
}
