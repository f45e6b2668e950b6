/*
 * legacy_tar.c - deciding "tar or not" as Python's tarfile does, and
 * judging the members of a tar (see legacy_tar.h).
 *
 * legacy_tar_number() is tarfile.nti(); legacy_tar_first_block() is the
 * test tarfile.TarInfo.frombuf() makes of the checksum, and the rule that
 * a block of zeros ends the archive.  legacy_tar_judge() walks the headers
 * the way tarfile.TarFile.next() and TarInfo._proc_builtin() do: a header
 * that fails the checksum ends the archive; regular files, contiguous files
 * and types tarfile does not know are followed by their data, in 512-byte
 * blocks; links, directories and devices by none, whatever their size says;
 * a GNU long name's data is the name, and the next header follows it.  PAX
 * extended headers (which can change the next member's size) and GNU sparse
 * members (whose data tarfile reassembles in another order) are not
 * followed: the walk stops there with a finding, so such a file is unsafe.
 */
#include "torch/legacy_tar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/judge.h"
#include "util/io.h"
#include "util/limits.h"

#define CHKSUM_AT 148
#define CHKSUM_LEN 8
#define TYPE_AT 156

/* str.isspace() on an ASCII character. */
static int py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* tarfile's base-256 form: the bytes after the first, big-endian; negative
 * (two's complement over the field) when the first byte is 0xff. */
static int base256(const unsigned char *f, size_t n, int64_t *v)
{
    uint64_t u = 0;
    int over = 0;
    for (size_t i = 1; i < n; i++) {
        over |= (u >> 56) != 0;
        u = u << 8 | f[i];
    }
    if (f[0] == 0x80) {
        if (over || u > (uint64_t)INT64_MAX) {
            *v = INT64_MAX;
            return 1;
        }
        *v = (int64_t)u;
        return 0;
    }
    if (n - 1 > 7) { /* a negative number wider than we need: never a size */
        *v = INT64_MIN;
        return 1;
    }
    *v = (int64_t)u - ((int64_t)1 << (8 * (n - 1)));
    return 0;
}

/* int(text, 8) on text[a, b) (stripped): a sign, a 0o prefix (one '_' may
 * follow it), octal digits with single underscores between them. */
static int octal_text(const unsigned char *t, size_t a, size_t b, int64_t *v)
{
    int neg = 0, over = 0;
    if (a < b && (t[a] == '+' || t[a] == '-'))
        neg = t[a++] == '-';
    if (b - a >= 2 && t[a] == '0' && (t[a + 1] == 'o' || t[a + 1] == 'O')) {
        a += 2;
        if (a < b && t[a] == '_')
            a++;
    }
    if (a == b || t[a] < '0' || t[a] > '7')
        return -1;
    uint64_t u = 0;
    for (size_t i = a; i < b; i++) {
        if (t[i] == '_' && i + 1 < b && t[i + 1] != '_' && t[i - 1] != '_')
            continue;
        if (t[i] < '0' || t[i] > '7')
            return -1;
        over |= (u >> 60) != 0;
        u = u * 8 + (uint64_t)(t[i] - '0');
    }
    if (over || u > (uint64_t)INT64_MAX) {
        *v = neg ? INT64_MIN : INT64_MAX;
        return 1;
    }
    *v = neg ? -(int64_t)u : (int64_t)u;
    return 0;
}

int legacy_tar_number(const unsigned char *f, size_t n, int64_t *v)
{
    if (n == 0)
        return -1;
    if (f[0] == 0x80 || f[0] == 0xff)
        return base256(f, n, v);
    size_t len = 0; /* nts(): up to the first NUL, ASCII or ValueError */
    while (len < n && f[len] != '\0')
        if (f[len++] >= 0x80)
            return -1;
    size_t a = 0, b = len;
    while (a < b && py_space(f[a]))
        a++;
    while (b > a && py_space(f[b - 1]))
        b--;
    if (a == b) { /* int("" or "0", 8) */
        *v = 0;
        return 0;
    }
    return octal_text(f, a, b, v);
}

/* frombuf(): the checksum field, read by nti(), equals 256 plus the sum of
 * the other bytes, unsigned or signed. */
static int checksum_holds(const unsigned char *h)
{
    int64_t want, uns = 256, sig = 256;
    if (legacy_tar_number(h + CHKSUM_AT, CHKSUM_LEN, &want) != 0)
        return 0;
    for (size_t i = 0; i < LEGACY_TAR_BLOCK; i++)
        if (i < CHKSUM_AT || i >= CHKSUM_AT + CHKSUM_LEN) {
            uns += h[i];
            sig += h[i] >= 0x80 ? (int64_t)h[i] - 256 : (int64_t)h[i];
        }
    return want == uns || want == sig;
}

static int all_zero(const unsigned char *h)
{
    for (size_t i = 0; i < LEGACY_TAR_BLOCK; i++)
        if (h[i] != 0)
            return 0;
    return 1;
}

int legacy_tar_first_block(const unsigned char block[LEGACY_TAR_BLOCK])
{
    return all_zero(block) || checksum_holds(block);
}

int legacy_tar_takes(const rd_input *in)
{
    unsigned char h[LEGACY_TAR_BLOCK];
    return in->size >= LEGACY_TAR_BLOCK && pread_full(in->fd, h, sizeof h, 0) == LEGACY_TAR_BLOCK &&
           legacy_tar_first_block(h);
}

/* ---- the members ---------------------------------------------------------------- */

/* The number fields frombuf() parses besides the checksum (offset, length):
 * one that nti() refuses ends the archive. */
static const struct {
    unsigned short at, len;
} FIELDS[] = {{100, 8}, {108, 8}, {116, 8}, {124, 12}, {136, 12}, {329, 8}, {337, 8}};

static int fields_parse(const unsigned char *h)
{
    int64_t v;
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
        if (legacy_tar_number(h + FIELDS[i].at, FIELDS[i].len, &v) < 0)
            return 0;
    return 1;
}

/* A member whose data tarfile skips over (and extracts): regular files, a
 * contiguous file, any type it does not know.  Not a directory: type '\0'
 * with a name ending in '/' is one (frombuf). */
static int has_data(const unsigned char *h)
{
    unsigned char t = h[TYPE_AT];
    if (t == '\0') {
        size_t n = strnlen((const char *)h, 100);
        return n == 0 || h[n - 1] != '/';
    }
    return memchr("123456xgXS", t, 10) == NULL; /* '0', '7', 'L', 'K' and unknown types */
}

/* Sweep len bytes at pos (the data of the member whose header is h). */
static c2s_status sweep_member(const rd_input *in, const unsigned char *h, uint64_t pos,
                               uint64_t len, const c2s_open_options *o, c2s_report *r,
                               c2s_error *err)
{
    uint64_t max = o && o->limits.max_pickle ? o->limits.max_pickle : C2S_DEFAULT_MAX_PICKLE;
    if (len > max) {
        findings_add(&r->findings,
                     "tar member at offset %llu has %llu bytes, more than the pickle size "
                     "limit: it is not judged",
                     (unsigned long long)(pos - LEGACY_TAR_BLOCK), (unsigned long long)len);
        return C2S_OK;
    }
    if (len == 0)
        return C2S_OK;
    unsigned char *buf = malloc((size_t)len);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = C2S_OK;
    char where[128];
    snprintf(where, sizeof where, "tar member %.100s", (const char *)h);
    policy_options policy = rd_policy(o);
    if (pread_full(in->fd, buf, (size_t)len, pos) != (ssize_t)len)
        st = c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
    else
        st = judge_sweep(r, buf, (size_t)len, 0, 1, where, pos, &policy, err);
    free(buf);
    return st;
}

c2s_status legacy_tar_judge(const rd_input *in, const c2s_open_options *o, c2s_report *r,
                            c2s_error *err)
{
    c2s_status st = C2S_OK;
    for (uint64_t pos = 0; st == C2S_OK && in->size - pos >= LEGACY_TAR_BLOCK;) {
        unsigned char h[LEGACY_TAR_BLOCK];
        if (pread_full(in->fd, h, sizeof h, pos) != LEGACY_TAR_BLOCK)
            return c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
        if (all_zero(h) || !checksum_holds(h) || !fields_parse(h))
            break; /* the end of the archive, to tarfile */
        int64_t size;
        unsigned char t = h[TYPE_AT];
        int special = memchr("xgXS", t, 4) != NULL;
        if (special || legacy_tar_number(h + 124, 12, &size) != 0 || size < 0) {
            findings_add(&r->findings,
                         "tar header at offset %llu: %s, which this reader does not follow",
                         (unsigned long long)pos, special ? "a PAX or sparse member" : "a size");
            break;
        }
        pos += LEGACY_TAR_BLOCK;
        if (!has_data(h))
            continue;
        uint64_t left = in->size - pos, len = (uint64_t)size < left ? (uint64_t)size : left;
        st = sweep_member(in, h, pos, len, o, r, err);
        if ((uint64_t)size >= left)
            break;
        uint64_t blocks = ((uint64_t)size + LEGACY_TAR_BLOCK - 1) / LEGACY_TAR_BLOCK;
        if (blocks * LEGACY_TAR_BLOCK >= left)
            break;
        pos += blocks * LEGACY_TAR_BLOCK;
    }
    return st;
}
