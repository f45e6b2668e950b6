/*
 * ziplayout.c - parsing the zip structure ourselves (see src/zip/ziplayout.h).
 *
 * Order of work: find the end-of-central-directory record in the last 64 KiB
 * (and the ZIP64 end record through its locator when a field is saturated),
 * read the whole central directory into memory (bounded), decode every
 * record with its ZIP64 extra field, then read each local header with
 * pread.  The layout check sorts entries by offset and walks the file from
 * byte 0 to the central directory, expecting each entry to start exactly
 * where the previous one ended.
 *
 * Local headers and data descriptor signatures are read through one window
 * of WINDOW bytes: when the next header lies within a window of the one
 * being read (archives of many small entries: a torch.save of 200,000 tiny
 * tensors), one pread fills the window and the following headers are
 * served from it, instead of two or three preads per entry.  A header far
 * from the next one is read on its own, so a few huge entries cost no more
 * than before.
 *
 * The end records are found as miniz (PyTorch's zip reader) finds them: the
 * last end-of-central-directory signature in the tail, whatever its comment
 * length says; a ZIP64 locator whose record lacks its signature makes miniz
 * fall back on the plain end record, so we do the same and report it.
 */
#include "zip/ziplayout.h"
#include "util/huge.h"
#include "util/io.h"
#include "util/le.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define SIG_DESCRIPTOR 0x08074b50u
#define DOS_DIRECTORY 0x10u
#define FLAG_PATCH 0x20u /* general-purpose flags miniz does not read */
#define FLAG_STRONG_ENCRYPTION 0x40u
#define FLAG_MASKED_DIRECTORY 0x2000u
#define EOCD_LEN 22
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define MAX_COMMENT 65535
#define MAX_CD_SIZE (256u << 20)
#define MAX_ENTRIES 2000000u
#define WINDOW (64u << 10)

static c2s_status corrupt(c2s_error *err, const char *what)
{
    return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT, "corrupt zip archive: %s", what);
}

static c2s_status read_at(int fd, void *buf, size_t n, uint64_t off, c2s_error *err)
{
    ssize_t got = pread_full(fd, buf, n, off);
    if (got < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno));
    if ((size_t)got < n)
        return corrupt(err, "a record reaches past the end of the file");
    return C2S_OK;
}

/* ---- the read window of local headers ---------------------------------- */

typedef struct window {
    int fd;
    uint64_t file_size;
    uint64_t start;     /* file offset of buf[0] */
    size_t len;         /* bytes of buf that hold the file from start */
    unsigned char *buf; /* WINDOW bytes, or NULL (then every read is a pread) */
} window;

/* Read n bytes at off as read_at does, from the window when it holds them.
 * ahead: the caller will read again within WINDOW bytes after off, so
 * filling the whole window now saves the next preads. */
static c2s_status win_read(window *w, void *dst, size_t n, uint64_t off, int ahead, c2s_error *err)
{
    if (w->buf != NULL && off >= w->start && off - w->start <= w->len &&
        n <= w->len - (size_t)(off - w->start)) {
        memcpy(dst, w->buf + (off - w->start), n);
        return C2S_OK;
    }
    if (w->buf == NULL || !ahead || n > WINDOW || off >= w->file_size)
        return read_at(w->fd, dst, n, off, err);
    uint64_t left = w->file_size - off;
    size_t want = left < WINDOW ? (size_t)left : WINDOW;
    ssize_t got = pread_full(w->fd, w->buf, want, off);
    w->start = off;
    w->len = got < 0 ? 0 : (size_t)got;
    if (got < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno));
    if ((size_t)got < n)
        return corrupt(err, "a record reaches past the end of the file");
    memcpy(dst, w->buf, n);
    return C2S_OK;
}

/* The 4 bytes at off when the window holds them: 1, else 0 (no read). */
static int win_peek4(const window *w, uint64_t off, unsigned char out[4])
{
    if (w->buf == NULL || off < w->start || off - w->start > w->len ||
        w->len - (size_t)(off - w->start) < 4)
        return 0;
    memcpy(out, w->buf + (off - w->start), 4);
    return 1;
}

/* Is b within a window's reach after a? */
static int near_after(uint64_t a, uint64_t b)
{
    return b >= a && b - a < WINDOW;
}

/* ---- end records ------------------------------------------------------- */

typedef struct end_info {
    uint64_t entries, cd_size, cd_offset;
    uint64_t cd_end;    /* where the central directory must end */
    uint32_t this_disk; /* 0 or 1: the number miniz accepts entries' disks against */
} end_info;

/* miniz's rule for the disk fields of the end record (plain or ZIP64): the
 * entry counts agree and the disks are (0, 0) or (1, 1). */
static int one_disk(uint64_t this_disk, uint64_t cd_disk, uint64_t on_disk, uint64_t total)
{
    return on_disk == total &&
           ((this_disk == 0 && cd_disk == 0) || (this_disk == 1 && cd_disk == 1));
}

static c2s_status read_eocd64(int fd, uint64_t file_size, uint64_t eocd, end_info *e, findings *f,
                              c2s_error *err)
{
    unsigned char loc[20], rec[56];
    if (eocd < sizeof loc)
        return corrupt(err, "ZIP64 end record locator missing");
    c2s_status st = read_at(fd, loc, sizeof loc, eocd - sizeof loc, err);
    if (st != C2S_OK)
        return st;
    if (le32(loc) != SIG_LOCATOR64)
        return corrupt(err, "ZIP64 end record locator missing");
    uint64_t off = le64(loc + 8);
    uint64_t locator = eocd - sizeof loc;
    if (off > file_size - sizeof rec || locator < sizeof rec || off > locator - sizeof rec)
        return corrupt(err, "ZIP64 end record out of place");
    if ((st = read_at(fd, rec, sizeof rec, off, err)) != C2S_OK)
        return st;
    if (le32(rec) != SIG_EOCD64) {
        /* miniz then uses the plain end record: keep *e as it is */
        findings_add(f,
                     "the ZIP64 end record at offset %llu has a bad signature (PyTorch "
                     "ignores it and reads the plain end record)",
                     (unsigned long long)off);
        return C2S_OK;
    }
    /* miniz: the locator counts one disk in all, and the record's fields */
    if (le32(loc + 16) != 1 ||
        !one_disk(le32(rec + 16), le32(rec + 20), le64(rec + 24), le64(rec + 32)))
        return c2s_fail(err, C2S_ERR_INPUT, "multi-disk zip archives are not supported");
    e->this_disk = le32(rec + 16);
    e->entries = le64(rec + 32);
    e->cd_size = le64(rec + 40);
    e->cd_offset = le64(rec + 48);
    e->cd_end = off;
    /* The record's own size field says where it ends: the locator must follow
     * (readers that look just before the locator would see another record). */
    uint64_t len = le64(rec + 4);
    if (len > locator - off - 12 || off + 12 + len != locator)
        findings_add(f, "%llu bytes between the ZIP64 end record and its locator",
                     (unsigned long long)(len > locator - off - 12 ? 0 : locator - off - 12 - len));
    return C2S_OK;
}

static c2s_status read_end(int fd, uint64_t file_size, end_info *e, findings *f, c2s_error *err)
{
    if (file_size < EOCD_LEN)
        return corrupt(err, "too short for a zip archive");
    size_t tail = file_size < EOCD_LEN + MAX_COMMENT ? (size_t)file_size : EOCD_LEN + MAX_COMMENT;
    unsigned char *buf = malloc(tail);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = read_at(fd, buf, tail, file_size - tail, err);
    size_t at = tail - EOCD_LEN + 1;
    while (st == C2S_OK && at-- > 0)
        if (le32(buf + at) == SIG_EOCD)
            break;
    if (st == C2S_OK && at == (size_t)-1)
        st = corrupt(err, "no end of central directory record (truncated?)");
    if (st != C2S_OK) {
        free(buf);
        return st;
    }
    const unsigned char *r = buf + at;
    uint64_t eocd = file_size - tail + at;
    uint64_t end = eocd + EOCD_LEN + le16(r + 20);
    if (end < file_size)
        findings_add(f, "%llu bytes after the end of the zip archive",
                     (unsigned long long)(file_size - end));
    int disks = !one_disk(le16(r + 4), le16(r + 6), le16(r + 8), le16(r + 10));
    e->this_disk = le16(r + 4);
    e->entries = le16(r + 10);
    e->cd_size = le32(r + 12);
    e->cd_offset = le32(r + 16);
    e->cd_end = eocd;
    int zip64 = e->entries == 0xffff || e->cd_size == 0xffffffffu || e->cd_offset == 0xffffffffu;
    free(buf);
    /* end > file_size (a comment length running past the end): miniz and
     * Python's zipfile read such archives, so do we. */
    if (disks)
        return c2s_fail(err, C2S_ERR_INPUT, "multi-disk zip archives are not supported");
    /* Writers such as torch's add the ZIP64 records even when nothing is
     * saturated; when the locator is there, the ZIP64 record rules. */
    unsigned char loc[4];
    int has_locator = eocd >= 20 && pread(fd, loc, 4, (off_t)(eocd - 20)) == 4 &&
                      le32(loc) == SIG_LOCATOR64;
    if (!zip64 && !has_locator)
        return C2S_OK;
    end_info plain = *e;
    c2s_status st64 = read_eocd64(fd, file_size, eocd, e, f, err);
    if (st64 == C2S_OK && !zip64 &&
        (plain.entries != e->entries || plain.cd_size != e->cd_size ||
         plain.cd_offset != e->cd_offset))
        findings_add(f, "the zip end record and the ZIP64 end record disagree");
    return st64;
}

/* ---- central directory ---------------------------------------------------- */

/* Apply the ZIP64 extra field (id 1) to the saturated 32-bit fields. */
static int apply_zip64(const unsigned char *extra, size_t len, uint64_t *size, uint64_t *csize,
                       uint64_t *offset)
{
    /* Like miniz, parse the extra field only when it is needed: an extra
     * field that does not parse is not an error otherwise. */
    if (*size != 0xffffffffu && *csize != 0xffffffffu && (offset == NULL || *offset != 0xffffffffu))
        return 1;
    while (len >= 4) {
        uint16_t id = le16(extra), n = le16(extra + 2);
        if ((size_t)n + 4 > len)
            return 0;
        if (id == 1) {
            const unsigned char *p = extra + 4, *e = p + n;
            uint64_t *fields[3] = {size, csize, offset};
            for (int i = 0; i < 3; i++) {
                if (fields[i] == NULL || *fields[i] != 0xffffffffu)
                    continue;
                if (e - p < 8)
                    return 0;
                *fields[i] = le64(p);
                p += 8;
            }
            return 1;
        }
        extra += 4 + n;
        len -= 4 + (size_t)n;
    }
    return 1;
}

/* Cut the names' block to the used bytes (zl->names was sized for the
 * worst case).  realloc shrinks in place, a mapping with mremap: no copy,
 * no page touched.  It may still move the block: the names are pointed at
 * again where read_records put them, one after another in entry order. */
static void fit_names(ziplayout *zl, size_t used)
{
    char *fit = realloc(zl->names, used ? used : 1);
    if (fit == NULL)
        return;
    zl->names = fit;
    for (size_t i = 0; i < zl->n; i++) {
        zl->entries[i].name = fit;
        fit += zl->entries[i].name_len + 1;
    }
}

/* What is wrong with the central directory record at r (avail bytes of the
 * directory from r on), or NULL: then e holds its fields but the name
 * (e->name_len is set; the name is at r + CENTRAL_LEN) and *len its length. */
static const char *decode_central(const unsigned char *r, size_t avail, zl_entry *e, size_t *len)
{
    if (avail < CENTRAL_LEN || le32(r) != SIG_CENTRAL)
        return "bad central directory record";
    size_t nlen = le16(r + 28), xlen = le16(r + 30), clen = le16(r + 32);
    if (avail - CENTRAL_LEN < nlen + xlen + clen)
        return "central directory record past its end";
    e->flags = le16(r + 8);
    e->method = le16(r + 10);
    e->crc = le32(r + 16);
    e->comp_size = le32(r + 20);
    e->size = le32(r + 24);
    e->local_offset = le32(r + 42);
    if (!apply_zip64(r + CENTRAL_LEN + nlen, xlen, &e->size, &e->comp_size, &e->local_offset))
        return "bad ZIP64 extra field";
    e->name_len = (uint32_t)nlen;
    *len = CENTRAL_LEN + nlen + xlen + clen;
    return NULL;
}

/* What miniz refuses when it reads the central directory: sizes that
 * contradict the method (0: none).  An encrypted entry's header (2) is not
 * damage, but unreadable. */
static int sizes_refused(const zl_entry *e)
{
    if ((e->method == 0 && e->size != e->comp_size) || (e->size != 0 && e->comp_size == 0))
        return (e->flags & 1) ? 2 : 1;
    return 0;
}

/* ---- reading the central directory a window at a time -------------------- */

/* The directory of 200,000 entries is 16 MB: it is read through a window
 * of CD_WINDOW bytes (a whole directory no larger than that in one pread,
 * as before), so that it is not held, and faulted in, whole.  The window
 * always holds the next record whole: no record is longer than RECORD_MAX. */
#define RECORD_MAX (CENTRAL_LEN + 3 * 65535)
#define CD_WINDOW (1u << 20)

typedef struct cd_walk {
    int fd;
    uint64_t cd_offset;
    size_t cd_size;
    size_t at;          /* directory position of the next record */
    size_t start, len;  /* buf holds the directory's bytes [start, start + len) */
    unsigned char *buf; /* cap bytes */
    size_t cap;
    uint32_t this_disk; /* the end record's */
} cd_walk;

/* 1 when the n bytes at r hold a whole record: its fixed part and its
 * name, extra field and comment (as decode_central measures it). */
static int record_whole(const unsigned char *r, size_t n)
{
    return n >= CENTRAL_LEN &&
           n - CENTRAL_LEN >= (size_t)le16(r + 28) + le16(r + 30) + le16(r + 32);
}

/* The next record: *r, and *avail bytes from it that decode_central may
 * read.  The window is refilled from the record when it does not hold the
 * record whole and the directory goes on past it; a refill reads up to
 * cap >= RECORD_MAX bytes, so it then holds the record or the rest of the
 * directory.  Either way decode_central decides as it would with the rest
 * of the directory, and each byte is read once, bar a record cut by the
 * window's end. */
static c2s_status cd_next(cd_walk *w, const unsigned char **r, size_t *avail, c2s_error *err)
{
    size_t held = w->start + w->len - w->at; /* w->at never passes the window */
    if (!record_whole(w->buf + (w->at - w->start), held) && w->start + w->len < w->cd_size) {
        size_t left = w->cd_size - w->at;
        size_t n = left < w->cap ? left : w->cap;
        c2s_status st = read_at(w->fd, w->buf, n, w->cd_offset + w->at, err);
        if (st != C2S_OK)
            return st;
        w->start = w->at;
        w->len = n;
        held = n;
    }
    *r = w->buf + (w->at - w->start);
    *avail = held;
    return C2S_OK;
}

/* The count records of the directory decoded into zl's entries and names
 * (*used bytes of names so far). */
static c2s_status read_records(cd_walk *w, uint64_t count, ziplayout *zl, size_t *used_out,
                               findings *f, c2s_error *err)
{
    size_t used = *used_out;
    for (uint64_t i = 0; i < count; i++) {
        zl_entry *e = &zl->entries[zl->n];
        const unsigned char *r = NULL;
        size_t len = 0, avail = 0;
        c2s_status st = cd_next(w, &r, &avail, err);
        if (st != C2S_OK)
            return st;
        const char *bad = decode_central(r, avail, e, &len);
        if (bad != NULL)
            return corrupt(err, bad);
        size_t nlen = e->name_len;
        e->name = zl->names + used;
        memcpy(e->name, r + CENTRAL_LEN, nlen);
        e->name[nlen] = '\0';
        used += nlen + 1;
        zl->n++;
        /* miniz compares names with their lengths; a reader that stops at
         * the NUL would see another name. */
        if (memchr(e->name, '\0', nlen) != NULL)
            findings_add(f, "zip entry name '%s...' holds a NUL byte", e->name);
        int refused = sizes_refused(e);
        if (refused == 2)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "zip entry '%s' is encrypted: PyTorch cannot "
                            "read it",
                            e->name);
        if (refused)
            return corrupt(err, "an entry's sizes contradict its method");
        if (e->flags & FLAG_MASKED_DIRECTORY) /* miniz refuses the archive */
            return c2s_fail(err, C2S_ERR_INPUT,
                            "zip entry '%s' says the central directory is encrypted: PyTorch "
                            "cannot read the archive",
                            e->name);
        if (e->flags & (FLAG_PATCH | FLAG_STRONG_ENCRYPTION)) /* miniz refuses the entry */
            findings_add(f,
                         "zip entry '%s' is patch data or strongly encrypted (general-purpose "
                         "flags 0x%04x): PyTorch cannot read it",
                         e->name, (unsigned)e->flags);
        uint16_t disk = le16(r + 34); /* miniz: the end record's disk, or 1 */
        if (disk == 0xffff || (disk != w->this_disk && disk != 1))
            return c2s_fail(err, C2S_ERR_INPUT, "multi-disk zip archives are not supported");
        /* miniz takes an entry whose DOS attributes (low byte of the external
         * attributes) say directory for one, and "extracts" it without
         * reading a byte: torch gets an uninitialised buffer of its size. */
        if ((le32(r + 38) & DOS_DIRECTORY) != 0 && e->size != 0)
            findings_add(f,
                         "zip entry '%s' is marked as a directory yet holds %llu bytes "
                         "(PyTorch reads none of them)",
                         e->name, (unsigned long long)e->size);
        w->at += len;
    }
    *used_out = used;
    return C2S_OK;
}

static c2s_status parse_central(cd_walk *w, uint64_t count, ziplayout *zl, findings *f,
                                c2s_error *err)
{
    zl->entries = calloc(count ? count : 1, sizeof *zl->entries);
    /* Each record takes CENTRAL_LEN bytes more than its name and NUL, so
     * cd_size bytes hold them all; the block is cut to size below. */
    zl->names = malloc(w->cd_size ? w->cd_size : 1);
    if (zl->entries == NULL || zl->names == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    /* both filled in order (util/huge.h); the names' block is cut to size
     * at the end */
    huge_advise(zl->entries, (count ? count : 1) * sizeof *zl->entries);
    huge_advise(zl->names, w->cd_size);
    size_t used = 0;
    c2s_status st = read_records(w, count, zl, &used, f, err);
    huge_unadvise(zl->entries, (count ? count : 1) * sizeof *zl->entries);
    huge_unadvise(zl->names, w->cd_size);
    if (st != C2S_OK)
        return st;
    /* Readers that walk the directory by its size (Python's zipfile) would
     * see records that readers trusting the count (miniz, libzip) do not. */
    if (w->at < w->cd_size)
        findings_add(f,
                     "%zu bytes of the central directory after the %llu records its end "
                     "record counts",
                     w->cd_size - w->at, (unsigned long long)count);
    fit_names(zl, used);
    return C2S_OK;
}

/* ---- local headers -------------------------------------------------------- */

/* A local header that cannot be read makes the entry unreadable, which only
 * matters when someone reads the entry (miniz reads a local header only then):
 * a finding here, an error when the entry is read. */
static void local_unreadable(zl_entry *e, findings *f, const char *why)
{
    e->local_ok = 0;
    e->data_offset = e->local_offset;
    findings_add(f, "zip entry '%s' has no valid local header (%s)", e->name, why);
}

static c2s_status check_local(window *w, zl_entry *e, int ahead, findings *f, c2s_error *err)
{
    uint64_t file_size = w->file_size;
    unsigned char h[LOCAL_LEN];
    /* miniz refuses the archive when an entry cannot fit in the file */
    if (e->local_offset > file_size || file_size - e->local_offset < LOCAL_LEN)
        return corrupt(err, "local header past the end of the file");
    if (file_size - e->local_offset - LOCAL_LEN < e->comp_size)
        return corrupt(err, "entry data past the end of the file");
    c2s_status st = win_read(w, h, sizeof h, e->local_offset, ahead, err);
    if (st != C2S_OK)
        return st;
    if (le32(h) != SIG_LOCAL) {
        local_unreadable(e, f, "bad signature");
        return C2S_OK;
    }
    size_t nlen = le16(h + 26), xlen = le16(h + 28);
    e->data_offset = e->local_offset + LOCAL_LEN + nlen + xlen;
    if (e->data_offset > file_size || file_size - e->data_offset < e->comp_size) {
        local_unreadable(e, f, "its data would reach past the end of the file");
        return C2S_OK;
    }
    /* the name and extra field: on the stack unless unusually long (once
     * per entry, 200,000 times for a checkpoint of tiny tensors) */
    unsigned char small[512];
    unsigned char *var = nlen + xlen <= sizeof small ? small : malloc(nlen + xlen);
    if (var == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if ((st = win_read(w, var, nlen + xlen, e->local_offset + LOCAL_LEN, ahead, err)) != C2S_OK) {
        if (var != small)
            free(var);
        return st;
    }
    e->local_ok = 1;
    uint16_t flags = le16(h + 6);
    uint64_t size = le32(h + 22), csize = le32(h + 18);
    int sizes_ok = apply_zip64(var + nlen, xlen, &size, &csize, NULL);
    if (nlen != e->name_len || memcmp(var, e->name, nlen) != 0)
        findings_add(f, "zip entry '%s': its local header names it '%.*s'", e->name,
                     (int)(nlen > 200 ? 200 : nlen), (const char *)var);
    else if (le16(h + 8) != e->method)
        findings_add(f,
                     "zip entry '%s': its local header disagrees with the central "
                     "directory on the method",
                     e->name);
    else if (!(flags & 8) &&
             (le32(h + 14) != e->crc || !sizes_ok || size != e->size || csize != e->comp_size))
        findings_add(f,
                     "zip entry '%s': its local header disagrees with the central "
                     "directory on CRC or sizes",
                     e->name);
    if ((flags | e->flags) & 1)
        findings_add(f, "zip entry '%s' is encrypted", e->name);
    if (var != small)
        free(var);
    return C2S_OK;
}

/* ---- layout ------------------------------------------------------------------ */

static int by_offset(const void *a, const void *b)
{
    const zl_entry *const *x = a, *const *y = b;
    return (*x)->local_offset < (*y)->local_offset ? -1 : (*x)->local_offset > (*y)->local_offset;
}

int ziplayout_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen, i = 0;
    /* names share long prefixes ("archive/data/"): skip equal words first */
    for (uint64_t x, y; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
    }
    for (; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x == y)
            continue;
        x = x >= 'A' && x <= 'Z' ? (unsigned char)(x - 'A' + 'a') : x;
        y = y >= 'A' && y <= 'Z' ? (unsigned char)(y - 'A' + 'a') : y;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen;
}

/* Each byte of x in A-Z mapped to a-z, the others unchanged (eight at a
 * time: for each byte whose top bit is clear, bit 7 of low + 0x3f is set
 * when it is >= 'A', bit 7 of low + 0x25 when it is > 'Z'; no sum carries
 * into the next byte). */
static uint64_t fold_word(uint64_t x)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
    uint64_t low = x & ~high;
    uint64_t ge_a = low + ones * (0x80 - 'A'), gt_z = low + ones * (0x7f - 'Z');
    uint64_t upper = ge_a & ~gt_z & ~x & high;
    return x | upper >> 2;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= UINT64_C(0xd6e8feb86659fd93);
    h ^= h >> 32;
    return h;
}

/* Eight bytes at a time (the last word padded with zeros) after folding,
 * the length mixed in, so names equal by ziplayout_name_cmp hash equal. */
uint64_t ziplayout_name_hash(const char *name, size_t len)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
    size_t i = 0;
    for (uint64_t w; i + 8 <= len; i += 8) {
        memcpy(&w, name + i, 8);
        h = (h ^ fold_word(w)) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 29;
    }
    if (i < len) {
        uint64_t w = 0;
        for (size_t k = 0; i + k < len; k++)
            w |= (uint64_t)(unsigned char)name[i + k] << (8 * k);
        h = (h ^ fold_word(w)) * UINT64_C(0xbf58476d1ce4e5b9);
    }
    return mix(h);
}

static int same_folded(const zl_entry *e, const char *name, size_t len)
{
    return e->name_len == len && ziplayout_name_cmp(e->name, len, name, len) == 0;
}

/* A slot of by_hash: the high half of the name's hash beside index + 1, so
 * that names of other hashes are passed over without reading their entry. */
static uint64_t slot_of(uint64_t hash, size_t i)
{
    return (hash & ~(uint64_t)UINT32_MAX) | ((uint64_t)i + 1);
}

static int slot_may_hold(uint64_t slot, uint64_t hash)
{
    return (slot >> 32) == (hash >> 32);
}

static const zl_entry *slot_entry(const ziplayout *zl, uint64_t slot)
{
    return &zl->entries[(uint32_t)slot - 1];
}

const zl_entry *ziplayout_find_hashed(const ziplayout *zl, const char *name, size_t len)
{
    size_t mask = zl->hash_cap - 1;
    uint64_t h = ziplayout_name_hash(name, len);
    for (size_t at = (size_t)h & mask; zl->by_hash[at] != 0; at = (at + 1) & mask)
        if (slot_may_hold(zl->by_hash[at], h) &&
            same_folded(slot_entry(zl, zl->by_hash[at]), name, len))
            return slot_entry(zl, zl->by_hash[at]);
    return NULL;
}

/* Names hashed this many entries ahead of their insertion, their slots
 * prefetched: the table is megabytes, each first probe a cache miss. */
#define HASH_AHEAD 8

/* Index every name by its folded hash while no two names are equal without
 * regard to case: 1 when they are all distinct (zl->by_hash then holds
 * them), 0 when two are equal, -1 without memory (by_hash NULL for both).
 * Names equal that way meet in one run of slots, so the probe finds them. */
static int index_names(ziplayout *zl)
{
    size_t cap = 16, n = zl->n;
    while (cap < 2 * n)
        cap *= 2;
    /* a slot in every page, or nearly: huge pages from 2 MiB on */
    uint64_t *slots = big_calloc_whole(cap * sizeof *slots), ahead[HASH_AHEAD];
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < n && i < HASH_AHEAD; i++) {
        ahead[i] = ziplayout_name_hash(zl->entries[i].name, zl->entries[i].name_len);
        __builtin_prefetch(&slots[ahead[i] & (cap - 1)], 1);
    }
    for (size_t i = 0; i < n; i++) {
        const zl_entry *e = &zl->entries[i];
        uint64_t h = ahead[i % HASH_AHEAD];
        if (i + HASH_AHEAD < n) {
            const zl_entry *later = &zl->entries[i + HASH_AHEAD];
            ahead[i % HASH_AHEAD] = ziplayout_name_hash(later->name, later->name_len);
            __builtin_prefetch(&slots[ahead[i % HASH_AHEAD] & (cap - 1)], 1);
        }
        size_t at = (size_t)h & (cap - 1);
        for (; slots[at] != 0; at = (at + 1) & (cap - 1))
            if (slot_may_hold(slots[at], h) &&
                same_folded(slot_entry(zl, slots[at]), e->name, e->name_len)) {
                big_free_whole(slots, cap * sizeof *slots);
                return 0;
            }
        slots[at] = slot_of(h, i);
    }
    zl->by_hash = slots;
    zl->hash_cap = cap;
    return 1;
}

/* Case-insensitive order, exact bytes breaking ties: names equal without
 * regard to case end up next to each other, exact duplicates too. */
static int by_name(const void *a, const void *b)
{
    const zl_entry *x = *(const zl_entry *const *)a, *y = *(const zl_entry *const *)b;
    int c = ziplayout_name_cmp(x->name, x->name_len, y->name, y->name_len);
    if (c != 0 || x->name_len != y->name_len)
        return c;
    return memcmp(x->name, y->name, x->name_len);
}

/* Returns whether all names are distinct without regard to case. */
static int report_same_names(const zl_entry **order, size_t n, findings *f)
{
    int distinct = 1;
    for (size_t i = 1; i < n; i++) {
        const zl_entry *a = order[i - 1], *b = order[i];
        if (ziplayout_name_cmp(a->name, a->name_len, b->name, b->name_len) != 0)
            continue;
        distinct = 0;
        if (a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0)
            findings_add(f, "two zip entries are named '%s'", b->name);
        else
            findings_add(f,
                         "zip entries '%s' and '%s' have the same name without regard to "
                         "case (PyTorch finds records that way)",
                         a->name, b->name);
    }
    return distinct;
}

/* Where an entry ends, data descriptor included when bit 3 says there is one
 * (its signature read with the local header, when it was in the window). */
static int entry_ends_at(window *w, const zl_entry *e, uint64_t next)
{
    uint64_t end = e->data_offset + (e->local_ok ? e->comp_size : 0);
    if (!(e->flags & 8))
        return next == end;
    unsigned char sig[4];
    c2s_error ignored;
    int has_sig = e->descriptor_sig != ZL_SIG_UNREAD
                      ? e->descriptor_sig == ZL_SIG_PRESENT
                      : win_read(w, sig, 4, end, near_after(end, next), &ignored) == C2S_OK &&
                            le32(sig) == SIG_DESCRIPTOR;
    uint64_t base = end + (has_sig ? 4 : 0);
    return next == base + 12 || next == base + 20;
}

/* Sort the entries by name (into zl->by_name) and report names equal
 * without regard to case, in that order.  order: room for zl->n. */
static c2s_status sort_names(ziplayout *zl, const zl_entry **order, findings *f, c2s_error *err)
{
    for (size_t i = 0; i < zl->n; i++)
        order[i] = &zl->entries[i];
    qsort(order, zl->n, sizeof *order, by_name);
    zl->names_distinct = report_same_names(order, zl->n, f);
    zl->by_name = malloc((zl->n ? zl->n : 1) * sizeof *zl->by_name);
    if (zl->by_name == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    for (size_t i = 0; i < zl->n; i++)
        zl->by_name[i] = (uint32_t)(order[i] - zl->entries);
    return C2S_OK;
}

/* The entries in the order of their local headers.  torch.save writes them
 * in that order already: then any sort gives this one, no sort is needed. */
static void sort_offsets(const ziplayout *zl, const zl_entry **order)
{
    int increasing = 1;
    for (size_t i = 1; i < zl->n && increasing; i++)
        increasing = zl->entries[i - 1].local_offset < zl->entries[i].local_offset;
    for (size_t i = 0; i < zl->n; i++)
        order[i] = &zl->entries[i];
    if (!increasing)
        qsort(order, zl->n, sizeof *order, by_offset);
}

static c2s_status check_layout(window *w, ziplayout *zl, findings *f, c2s_error *err)
{
    const zl_entry **order = malloc((zl->n ? zl->n : 1) * sizeof *order);
    if (order == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    /* distinct names (the rule): no finding to make, no sort to do */
    zl->names_distinct = index_names(zl) == 1;
    c2s_status st = zl->names_distinct ? C2S_OK : sort_names(zl, order, f, err);
    if (st != C2S_OK) {
        free(order);
        return st;
    }
    sort_offsets(zl, order);
    uint64_t expect = 0;
    for (size_t i = 0; i <= zl->n; i++) {
        uint64_t at = i < zl->n ? order[i]->local_offset : zl->cd_offset;
        const char *what = i < zl->n ? order[i]->name : "the central directory";
        int tiles = i == 0 ? at == 0 : entry_ends_at(w, order[i - 1], at);
        if (!tiles && i == 0 && zl->n > 0)
            findings_add(f, "%llu bytes in front of the first zip entry '%s'",
                         (unsigned long long)at, what);
        else if (!tiles && at > expect)
            findings_add(f, "%llu bytes that belong to no zip entry before %s%s%s",
                         (unsigned long long)(at - expect), i < zl->n ? "entry '" : "", what,
                         i < zl->n ? "'" : "");
        else if (!tiles)
            findings_add(f, "zip entry '%s' overlaps %s%s%s", order[i - 1]->name,
                         i < zl->n ? "entry '" : "", what, i < zl->n ? "'" : "");
        /* an entry may lie inside another: measure gaps from the furthest end */
        uint64_t end = 0;
        if (i < zl->n)
            end = order[i]->data_offset + (order[i]->local_ok ? order[i]->comp_size : 0);
        if (end > expect)
            expect = end;
    }
    free(order);
    return C2S_OK;
}

/* The end record(s) checked, and w ready to walk the central directory
 * (w->buf malloc'd; *count records). */
static c2s_status load_central(int fd, uint64_t file_size, end_info *e, cd_walk *w, findings *f,
                               c2s_error *err)
{
    memset(w, 0, sizeof *w);
    c2s_status st = read_end(fd, file_size, e, f, err);
    if (st != C2S_OK)
        return st;
    if (e->cd_size > MAX_CD_SIZE || e->entries > MAX_ENTRIES ||
        e->entries > e->cd_size / CENTRAL_LEN || e->cd_offset > e->cd_end ||
        e->cd_size > e->cd_end - e->cd_offset)
        return corrupt(err, "central directory out of bounds");
    if (e->cd_offset + e->cd_size != e->cd_end)
        findings_add(f, "%llu bytes between the central directory and its end record",
                     (unsigned long long)(e->cd_end - e->cd_offset - e->cd_size));
    w->fd = fd;
    w->this_disk = e->this_disk;
    w->cd_offset = e->cd_offset;
    w->cd_size = (size_t)e->cd_size;
    w->cap = w->cd_size < CD_WINDOW ? w->cd_size : CD_WINDOW;
    w->buf = malloc(w->cap ? w->cap : 1);
    if (w->buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

/* The end record(s) and the central directory, parsed into zl. */
c2s_status ziplayout_read_central(int fd, uint64_t file_size, ziplayout *zl, findings *f,
                                  c2s_error *err)
{
    memset(zl, 0, sizeof *zl);
    end_info e = {0};
    cd_walk w;
    c2s_status st = load_central(fd, file_size, &e, &w, f, err);
    zl->cd_offset = e.cd_offset;
    zl->cd_size = e.cd_size;
    if (st == C2S_OK)
        st = parse_central(&w, e.entries, zl, f, err);
    free(w.buf);
    if (st != C2S_OK)
        ziplayout_free(zl);
    return st;
}

c2s_status ziplayout_read_local(int fd, uint64_t file_size, ziplayout *zl, findings *f,
                                c2s_error *err)
{
    c2s_status st = C2S_OK;
    /* no window (NULL buf) if it cannot be allocated: every read a pread */
    window w = {fd, file_size, 0, 0, zl->n > 1 ? malloc(WINDOW) : NULL};
    for (size_t i = 0; st == C2S_OK && i < zl->n; i++) {
        zl_entry *z = &zl->entries[i];
        int ahead = i + 1 < zl->n && near_after(z->local_offset, zl->entries[i + 1].local_offset);
        st = check_local(&w, z, ahead, f, err);
        unsigned char sig[4]; /* check_layout's read of it, done while the window holds it */
        if (st == C2S_OK && z->local_ok && (z->flags & 8) &&
            win_peek4(&w, z->data_offset + z->comp_size, sig))
            z->descriptor_sig = le32(sig) == SIG_DESCRIPTOR ? ZL_SIG_PRESENT : ZL_SIG_ABSENT;
    }
    if (st == C2S_OK)
        st = check_layout(&w, zl, f, err);
    free(w.buf);
    if (st != C2S_OK)
        ziplayout_free(zl);
    return st;
}

c2s_status ziplayout_read(int fd, uint64_t file_size, ziplayout *zl, findings *f, c2s_error *err)
{
    c2s_status st = ziplayout_read_central(fd, file_size, zl, f, err);
    return st == C2S_OK ? ziplayout_read_local(fd, file_size, zl, f, err) : st;
}

void ziplayout_free(ziplayout *zl)
{
    if (zl == NULL)
        return;
    free(zl->names);
    free(zl->entries);
    free(zl->by_name);
    big_free_whole(zl->by_hash, zl->hash_cap * sizeof *zl->by_hash);
    memset(zl, 0, sizeof *zl);
}
