/*
 * sweep.c - list the globals a pickle names, without running it (sweep.h).
 *
 * The walk: read an opcode, find how its argument is encoded (arg_kind,
 * the argument formats of Lib/pickletools.py), skip the argument, and note
 * what the opcode pushes.  Only two things about values are tracked:
 *   - the last two pushes and the last two str pushes (struct history),
 *     which give STACK_GLOBAL its operands;
 *   - a memo from index to "a str at (p, n)" or "something else", so that
 *     a str memoized once and fetched by BINGET still counts as a str.
 * Opcodes that pop without pushing (POP, APPEND, ...) make the last pushes
 * no longer the top of the stack: the history forgets them, and a later
 * STACK_GLOBAL falls back to the last two str pushes, not adjacent.
 *
 * An unknown byte ends genops; here resync() scans forward for the next
 * plausible GLOBAL / INST / STACK_GLOBAL and the walk resumes there, so a
 * payload after garbage (or after an opcode the VM refused) is still seen.
 */
#include "pickle/sweep.h"
#include "util/le.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_GLOBALS ((size_t)1000000)
#define MAX_PLAUSIBLE_NAME 256 /* resync only: longer lines are not names */

enum {
    OP_STRING = 'S',
    OP_BINSTRING = 'T',
    OP_SHORT_BINSTRING = 'U',
    OP_UNICODE = 'V',
    OP_BINUNICODE = 'X',
    OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d,
    OP_GLOBAL = 'c',
    OP_INST = 'i',
    OP_STACK_GLOBAL = 0x93,
    OP_STOP = '.',
    OP_PROTO = 0x80,
    OP_FRAME = 0x95,
    OP_MEMOIZE = 0x94,
    OP_PUT = 'p',
    OP_BINPUT = 'q',
    OP_LONG_BINPUT = 'r',
    OP_GET = 'g',
    OP_BINGET = 'h',
    OP_LONG_BINGET = 'j',
    OP_DUP = '2'
};

/* How an opcode's argument is laid out. */
typedef enum arg_kind {
    ARG_UNKNOWN, /* not an opcode */
    ARG_NONE,
    ARG_FIXED,         /* fixed bytes: arg_size */
    ARG_LINE,          /* up to and including '\n' */
    ARG_LINE2,         /* two lines (GLOBAL, INST) */
    ARG_COUNTED,       /* little-endian length of arg_size bytes, then the bytes */
    ARG_COUNTED_SIGNED /* the same with a signed 4-byte length */
} arg_kind;

/* What the opcode does to the top of the stack, for the history. */
typedef enum effect {
    PUSHES,     /* pushes one value (maybe after popping some) */
    PUSHES_STR, /* pushes a str given by its argument */
    KEEPS,      /* leaves the pushes as they were (PROTO, FRAME, PUT, ...) */
    POPS        /* pops without pushing */
} effect;

typedef struct opinfo {
    arg_kind arg;
    unsigned char size;
    effect fx;
} opinfo;

static opinfo op_info(uint8_t op)
{
    switch (op) {
    case '(':
    case '1':
    case '0':
    case 'a':
    case 'e':
    case 's':
    case 'u':
    case 0x90:
    case 'b':
        return (opinfo){ARG_NONE, 0, op == '(' ? KEEPS : POPS};
    case '.':
        return (opinfo){ARG_NONE, 0, POPS};
    case '2':
    case 'N':
    case 0x88:
    case 0x89:
    case 'R':
    case 'd':
    case '}':
    case 'l':
    case ']':
    case 't':
    case ')':
    case 0x85:
    case 0x86:
    case 0x87:
    case 'o':
    case 'Q':
    case 0x8f:
    case 0x91:
    case 0x81:
    case 0x92:
    case 0x93:
    case 0x97:
        return (opinfo){ARG_NONE, 0, PUSHES};
    case 0x94:
    case 0x98:
        return (opinfo){ARG_NONE, 0, KEEPS};
    case 'K':
    case 'h':
        return (opinfo){ARG_FIXED, 1, PUSHES};
    case 'q':
    case 0x80:
        return (opinfo){ARG_FIXED, 1, KEEPS};
    case 0x82:
        return (opinfo){ARG_FIXED, 1, PUSHES};
    case 'M':
    case 0x83:
        return (opinfo){ARG_FIXED, 2, PUSHES};
    case 'J':
    case 'j':
    case 0x84:
        return (opinfo){ARG_FIXED, 4, PUSHES};
    case 'r':
        return (opinfo){ARG_FIXED, 4, KEEPS};
    case 'G':
        return (opinfo){ARG_FIXED, 8, PUSHES};
    case 0x95:
        return (opinfo){ARG_FIXED, 8, KEEPS}; /* the frame's opcodes follow */
    case 'I':
    case 'L':
    case 'F':
    case 'g':
    case 'P':
        return (opinfo){ARG_LINE, 0, PUSHES};
    case 'S':
    case 'V':
        return (opinfo){ARG_LINE, 0, PUSHES_STR};
    case 'p':
        return (opinfo){ARG_LINE, 0, KEEPS};
    case 'c':
    case 'i':
        return (opinfo){ARG_LINE2, 0, PUSHES};
    case 0x8a:
    case 'C':
        return (opinfo){ARG_COUNTED, 1, PUSHES};
    case 'U':
    case 0x8c:
        return (opinfo){ARG_COUNTED, 1, PUSHES_STR};
    case 'B':
        return (opinfo){ARG_COUNTED, 4, PUSHES};
    case 'X':
        return (opinfo){ARG_COUNTED, 4, PUSHES_STR};
    case 0x8b:
        return (opinfo){ARG_COUNTED_SIGNED, 4, PUSHES};
    case 'T':
        return (opinfo){ARG_COUNTED_SIGNED, 4, PUSHES_STR};
    case 0x8e:
    case 0x96:
        return (opinfo){ARG_COUNTED, 8, PUSHES};
    case 0x8d:
        return (opinfo){ARG_COUNTED, 8, PUSHES_STR};
    default:
        return (opinfo){ARG_UNKNOWN, 0, KEEPS};
    }
}

/* A pushed value as far as the sweep knows it. */
typedef struct pushed {
    const uint8_t *p; /* the str's bytes, NULL when not a known str */
    size_t n;
} pushed;

typedef struct memo_entry {
    uint64_t key;
    pushed v;
    bool used;
} memo_entry;

typedef struct walk {
    const uint8_t *data;
    size_t len, pos;
    sweep_report *out;
    size_t max_globals;
    c2s_error *err;
    int proto;
    bool resynced;
    pushed hist[2]; /* hist[1] is the last push */
    size_t nhist;
    pushed strs[2]; /* strs[1] is the last str push */
    size_t nstrs;
    memo_entry *memo;
    size_t memo_cap, memo_count;
} walk;

static c2s_status oom(walk *w)
{
    return c2s_fail(w->err, C2S_ERR_INPUT, "sweep: out of memory");
}

/* ---- memo ---------------------------------------------------------------- */

static memo_entry *memo_slot(walk *w, uint64_t key)
{
    if (w->memo_cap == 0)
        return NULL;
    size_t mask = w->memo_cap - 1;
    size_t i = (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 17) & mask;
    while (w->memo[i].used && w->memo[i].key != key)
        i = (i + 1) & mask;
    return &w->memo[i];
}

static c2s_status memo_put(walk *w, uint64_t key, pushed v)
{
    if ((w->memo_count + 1) * 2 > w->memo_cap) {
        size_t cap = w->memo_cap ? w->memo_cap * 2 : 64;
        memo_entry *old = w->memo;
        size_t old_cap = w->memo_cap;
        if (cap > SIZE_MAX / sizeof *old || (w->memo = calloc(cap, sizeof *old)) == NULL) {
            w->memo = old;
            return oom(w);
        }
        w->memo_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].used)
                *memo_slot(w, old[i].key) = old[i];
        free(old);
    }
    memo_entry *e = memo_slot(w, key);
    if (!e->used)
        w->memo_count++;
    *e = (memo_entry){key, v, true};
    return C2S_OK;
}

static pushed memo_get(walk *w, uint64_t key)
{
    memo_entry *e = memo_slot(w, key);
    return e != NULL && e->used ? e->v : (pushed){NULL, 0};
}

/* ---- the pushes -------------------------------------------------------- */

static void push(walk *w, pushed v)
{
    w->hist[0] = w->hist[1];
    w->hist[1] = v;
    if (w->nhist < 2)
        w->nhist++;
    if (v.p != NULL) {
        w->strs[0] = w->strs[1];
        w->strs[1] = v;
        if (w->nstrs < 2)
            w->nstrs++;
    }
}

static pushed top(const walk *w)
{
    return w->nhist > 0 ? w->hist[1] : (pushed){NULL, 0};
}

/* The str a text opcode pushes, when its text is the str itself: ASCII
 * without backslashes, quoted for STRING. */
static pushed text_str(uint8_t op, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\\' || p[i] >= 0x80)
            return (pushed){NULL, 0};
    if (op == OP_UNICODE)
        return (pushed){p, n};
    if (n >= 2 && p[0] == p[n - 1] && (p[0] == '\'' || p[0] == '"'))
        return (pushed){p + 1, n - 2};
    return (pushed){NULL, 0};
}

/* Python 2 str (BINSTRING): ASCII is the same str whatever the decoding. */
static pushed ascii_str(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80)
            return (pushed){NULL, 0};
    return (pushed){p, n};
}

/* ---- reporting ----------------------------------------------------------- */

static c2s_status report(walk *w, sweep_op op, size_t offset, pushed mod, pushed name,
                         bool adjacent)
{
    sweep_report *r = w->out;
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        sweep_global *g = cap > SIZE_MAX / sizeof *g ? NULL : realloc(r->globals, cap * sizeof *g);
        if (g == NULL)
            return oom(w);
        r->globals = g;
        r->cap = cap;
    }
    r->globals[r->count++] = (sweep_global){
        .op = op,
        .offset = offset,
        .module = mod.p,
        .module_len = mod.n,
        .name = name.p,
        .name_len = name.n,
        .adjacent = adjacent,
        .proto = w->proto,
        .after_resync = w->resynced,
    };
    return C2S_OK;
}

static c2s_status stack_global(walk *w, size_t offset)
{
    pushed none = {NULL, 0};
    if (w->nhist == 2 && w->hist[0].p != NULL && w->hist[1].p != NULL)
        return report(w, SWEEP_STACK_GLOBAL, offset, w->hist[0], w->hist[1], true);
    if (w->nstrs == 2)
        return report(w, SWEEP_STACK_GLOBAL, offset, w->strs[0], w->strs[1], false);
    return report(w, SWEEP_STACK_GLOBAL, offset, none, w->nstrs ? w->strs[1] : none, false);
}

/* ---- resynchronisation --------------------------------------------------- */

static bool name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Length of a plausible name at p[0..n) ended by '\n' (not counted), or 0. */
static size_t name_line(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n == 0 || (p[0] >= '0' && p[0] <= '9') || p[0] == '.')
        return 0;
    while (i < n && i < MAX_PLAUSIBLE_NAME && name_char(p[i]))
        i++;
    return i > 0 && i < n && p[i] == '\n' ? i : 0;
}

static bool plausible_global(const uint8_t *p, size_t n)
{
    if (n < 5 || (p[0] != OP_GLOBAL && p[0] != OP_INST))
        return false;
    size_t m = name_line(p + 1, n - 1);
    return m > 0 && name_line(p + 2 + m, n - 2 - m) > 0;
}

/* A short str push of a plausible name at p; its total length, or 0. */
static size_t plausible_str_push(const uint8_t *p, size_t n)
{
    size_t head, len;
    if (n >= 2 && p[0] == OP_SHORT_BINUNICODE) {
        head = 2;
        len = p[1];
    } else if (n >= 5 && p[0] == OP_BINUNICODE) {
        head = 5;
        len = (size_t)le_n(p + 1, 4);
    } else {
        return 0;
    }
    if (len == 0 || len > MAX_PLAUSIBLE_NAME || n - head < len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char(p[head + i]))
            return 0;
    return head + len;
}

/* MEMOIZE, or BINPUT with its byte, after a str push. */
static size_t memo_op_len(const uint8_t *p, size_t n)
{
    if (n >= 1 && p[0] == OP_MEMOIZE)
        return 1;
    if (n >= 2 && p[0] == OP_BINPUT)
        return 2;
    return 0;
}

static bool plausible_stack_global(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        size_t m = plausible_str_push(p + i, n - i);
        if (m == 0)
            return false;
        i += m;
        i += memo_op_len(p + i, n - i);
    }
    return i < n && p[i] == OP_STACK_GLOBAL;
}

/* The offset of the next plausible global at or after from, or len. */
static size_t resync(const walk *w, size_t from)
{
    for (size_t q = from; q < w->len; q++) {
        const uint8_t *p = w->data + q;
        size_t n = w->len - q;
        if (plausible_global(p, n) || plausible_stack_global(p, n))
            return q;
    }
    return w->len;
}

/* ---- the walk ------------------------------------------------------------ */

/* Skip the argument of op (at w->pos); false when it runs past the end. */
static bool skip_arg(walk *w, opinfo info, const uint8_t **arg, size_t *n)
{
    size_t left = w->len - w->pos;
    const uint8_t *p = w->data + w->pos;
    *arg = p;
    switch (info.arg) {
    case ARG_NONE:
        *n = 0;
        return true;
    case ARG_FIXED:
        *n = info.size;
        break;
    case ARG_LINE:
    case ARG_LINE2: {
        const uint8_t *nl = memchr(p, '\n', left);
        if (nl == NULL)
            return false;
        *n = (size_t)(nl - p);
        if (info.arg == ARG_LINE2) {
            const uint8_t *nl2 = memchr(nl + 1, '\n', left - *n - 1);
            if (nl2 == NULL)
                return false;
            w->pos += (size_t)(nl2 - p) + 1;
            return true;
        }
        w->pos += *n + 1;
        return true;
    }
    default: { /* counted */
        if (left < info.size)
            return false;
        uint64_t count = le_n(p, info.size);
        if (info.arg == ARG_COUNTED_SIGNED && (count & 0x80000000u))
            return false;
        if (count > left - info.size)
            return false;
        *arg = p + info.size;
        *n = (size_t)count;
        w->pos += info.size + (size_t)count;
        return true;
    }
    }
    if (left < *n)
        return false;
    w->pos += *n;
    return true;
}

/* Memo opcodes: the index, or UINT64_MAX for a text index that is not one. */
static uint64_t memo_index(uint8_t op, const uint8_t *arg, size_t n, const walk *w)
{
    if (op == OP_MEMOIZE)
        return w->memo_count;
    if (op != OP_PUT && op != OP_GET)
        return le_n(arg, n);
    /* int(text, 10) loosely: spaces, a sign, digits and underscores */
    uint64_t v = 0;
    size_t digits = 0;
    bool negative = false;
    for (size_t i = 0; i < n && arg[i] != '\0'; i++) {
        uint8_t c = arg[i];
        if (c >= '0' && c <= '9') {
            if (v > (UINT64_MAX - 10) / 10)
                return UINT64_MAX;
            v = v * 10 + (uint64_t)(c - '0');
            digits++;
        } else if (c == '-') {
            negative = true;
        } else if (c != '+' && c != '_' && c != ' ' && !(c >= '\t' && c <= '\r')) {
            return UINT64_MAX; /* not an index CPython would read */
        }
    }
    return digits && !(negative && v != 0) ? v : UINT64_MAX;
}

static c2s_status step(walk *w, uint8_t op, size_t offset, opinfo info, const uint8_t *arg,
                       size_t n)
{
    switch (op) {
    case OP_GLOBAL:
    case OP_INST: {
        const uint8_t *nl = memchr(arg, '\n', w->data + w->pos - arg);
        pushed mod = {arg, (size_t)(nl - arg)};
        pushed name = {nl + 1, (size_t)(w->data + w->pos - 1 - (nl + 1))};
        c2s_status st = report(w, op == OP_GLOBAL ? SWEEP_GLOBAL : SWEEP_INST, offset, mod, name,
                               false);
        if (st != C2S_OK)
            return st;
        w->nhist = 0; /* INST pops to its MARK */
        push(w, (pushed){NULL, 0});
        return C2S_OK;
    }
    case OP_STACK_GLOBAL: {
        c2s_status st = stack_global(w, offset);
        if (st != C2S_OK)
            return st;
        w->nhist = 0;
        push(w, (pushed){NULL, 0});
        return C2S_OK;
    }
    case OP_PROTO:
        w->proto = arg[0];
        return C2S_OK;
    case OP_PUT:
    case OP_BINPUT:
    case OP_LONG_BINPUT:
    case OP_MEMOIZE: {
        uint64_t key = memo_index(op, arg, n, w);
        return key == UINT64_MAX ? C2S_OK : memo_put(w, key, top(w));
    }
    case OP_GET:
    case OP_BINGET:
    case OP_LONG_BINGET: {
        uint64_t key = memo_index(op, arg, n, w);
        push(w, key == UINT64_MAX ? (pushed){NULL, 0} : memo_get(w, key));
        return C2S_OK;
    }
    case OP_DUP:
        push(w, top(w));
        return C2S_OK;
    default:
        break;
    }
    switch (info.fx) {
    case PUSHES_STR:
        push(w, op == OP_STRING || op == OP_UNICODE              ? text_str(op, arg, n)
                : op == OP_SHORT_BINSTRING || op == OP_BINSTRING ? ascii_str(arg, n)
                                                                 : (pushed){arg, n});
        break;
    case PUSHES:
        push(w, (pushed){NULL, 0});
        break;
    case POPS:
        w->nhist = 0;
        break;
    case KEEPS:
        break;
    }
    return C2S_OK;
}

c2s_status sweep_pickle(const uint8_t *data, size_t len, size_t start, const sweep_options *opts,
                        sweep_report *out, c2s_error *err)
{
    memset(out, 0, sizeof *out);
    walk w = {.data = data, .len = data == NULL ? 0 : len, .out = out, .err = err};
    w.pos = start < w.len ? start : w.len;
    w.max_globals = opts && opts->max_globals ? opts->max_globals : DEFAULT_MAX_GLOBALS;
    bool past_stop = opts && opts->past_stop;
    c2s_status st = C2S_OK;
    while (w.pos < w.len) {
        if (out->count >= w.max_globals) {
            out->limited = 1;
            break;
        }
        size_t offset = w.pos;
        uint8_t op = data[w.pos];
        opinfo info = op_info(op);
        if (info.arg == ARG_UNKNOWN) {
            out->resyncs++;
            w.resynced = true;
            w.nhist = 0;
            w.pos = resync(&w, offset + 1);
            continue;
        }
        w.pos++;
        const uint8_t *arg;
        size_t n;
        if (!skip_arg(&w, info, &arg, &n)) {
            out->truncated = 1;
            w.pos = w.len;
            break;
        }
        st = step(&w, op, offset, info, arg, n);
        if (st != C2S_OK)
            break;
        if (op == OP_STOP && !past_stop)
            break;
    }
    out->end = w.pos;
    free(w.memo);
    if (st != C2S_OK)
        sweep_report_free(out);
    return st;
}

void sweep_report_free(sweep_report *r)
{
    if (r == NULL)
        return;
    free(r->globals);
    memset(r, 0, sizeof *r);
}
