/*
 * zipsrc.c - read access to a torch.save zip archive (see src/zip/zipsrc.h).
 *
 * How it works: before libzip sees the file, its first bytes are sniffed so
 * that the common wrong inputs (empty file, legacy torch pickle, a bare
 * pickle, a safetensors file) get a precise message rather than "not a zip".
 * The archive is then opened with ZIP_CHECKCONS, every entry is looked at
 * once (data.pkl prefix, TorchScript markers, encryption), and storages are
 * read on demand through zipsrc_stream, which computes the CRC-32 itself
 * (crc32.c: zlib's value, PCLMULQDQ when available) while the bytes pass through.
 */
#include "zip/zipsrc.h"
#include "zip/ziplayout.h"
#include "zip/crc32.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h> /* crc32 */

#define DEFAULT_MAX_PICKLE (1ull << 30)
#define SNIFF_LEN 16

struct zipsrc {
    zip_t *za;
    int fd;               /* for pread of STORED entries */
    ziplayout layout;
    const zl_entry **by_name; /* layout entries sorted by name */
    char prefix[256];
    int big_endian;
    uint64_t max_pickle;
};

/* ---- sniffing the first bytes --------------------------------------- */

/* torch's legacy magic number 0x1950a86a20f9469cfc6c, pickled as LONG1. */
static const unsigned char LEGACY_MAGIC[] = {
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int looks_like_safetensors(const unsigned char *b, size_t n)
{
    if (n < 9)
        return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = (len << 8) | b[i];
    return b[8] == '{' && len >= 2 && len <= 100000000u;
}

static c2s_status sniff(const char *path, c2s_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return c2s_fail(err, C2S_ERR_INPUT, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return c2s_fail(err, C2S_ERR_INPUT, "is a directory");
    }
    unsigned char b[SNIFF_LEN];
    ssize_t n = read(fd, b, sizeof b);
    int e = errno;
    close(fd);
    if (n < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(e));
    if (n == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "file is empty");
    size_t got = (size_t)n;
    if (got >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return C2S_OK;
    if (got >= sizeof LEGACY_MAGIC && memcmp(b, LEGACY_MAGIC, sizeof LEGACY_MAGIC) == 0)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "PyTorch legacy format (before 1.6) is not supported yet");
    if (b[0] == 0x80)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "a bare pickle, not a PyTorch zip checkpoint");
    if (looks_like_safetensors(b, got))
        return c2s_fail(err, C2S_ERR_INPUT, "already a safetensors file");
    return c2s_fail(err, C2S_ERR_INPUT,
                    "not a PyTorch checkpoint: not a zip archive");
}

/* ---- opening ---------------------------------------------------------- */

static c2s_status zip_open_failed(int code, c2s_error *err)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    c2s_status st;
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
        st = c2s_fail(err, C2S_ERR_INPUT,
                      "corrupt or truncated zip archive (%s)", zip_error_strerror(&ze));
    else
        st = c2s_fail(err, C2S_ERR_INPUT, "cannot open zip archive: %s",
                      zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return st;
}

/* "<prefix>/data.pkl" with a non-empty prefix free of '/'. */
static int pickle_entry_prefix(const char *name, char *prefix, size_t cap)
{
    const char *slash = strchr(name, '/');
    if (slash == NULL || slash == name || strcmp(slash, "/data.pkl") != 0)
        return 0;
    size_t len = (size_t)(slash - name);
    if (len >= cap)
        return 0;
    memcpy(prefix, name, len);
    prefix[len] = '\0';
    return 1;
}

static int is_torchscript_entry(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '/')
        return 0;
    const char *rest = name + pl + 1;
    return strcmp(rest, "constants.pkl") == 0 || strncmp(rest, "code/", 5) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Choose the data.pkl (the first in the central directory); any other
 * pickle record is a finding: torch reads one, we must judge what it reads. */
static c2s_status find_pickle(zipsrc *z, findings *f, c2s_error *err)
{
    int found = 0;
    for (size_t i = 0; i < z->layout.n; i++) {
        char prefix[sizeof z->prefix];
        if (!pickle_entry_prefix(z->layout.entries[i].name, prefix, sizeof prefix))
            continue;
        if (found && strcmp(prefix, z->prefix) != 0)
            findings_add(f, "several data.pkl records ('%s/' and '%s/')", z->prefix, prefix);
        if (!found)
            memcpy(z->prefix, prefix, sizeof prefix);
        found = 1;
    }
    if (!found)
        return c2s_fail(err, C2S_ERR_INPUT, "no data.pkl record: not a PyTorch checkpoint");
    for (size_t i = 0; i < z->layout.n; i++)
        if (is_torchscript_entry(z->layout.entries[i].name, z->prefix))
            return c2s_fail(err, C2S_ERR_INPUT, "TorchScript archives are not supported yet");
    char data_pkl[sizeof z->prefix + 16];
    snprintf(data_pkl, sizeof data_pkl, "%s/data.pkl", z->prefix);
    for (size_t i = 0; i < z->layout.n; i++) {
        const char *name = z->layout.entries[i].name;
        if (ends_with(name, ".pkl") && strcmp(name, data_pkl) != 0 &&
            !pickle_entry_prefix(name, (char[sizeof z->prefix]){0}, sizeof z->prefix))
            findings_add(f, "extra pickle record '%s'", name);
    }
    return C2S_OK;
}

static c2s_status stream_open_name(zipsrc *z, const char *name,
                                   zipsrc_stream *s, c2s_error *err);

/* The byteorder record (torch >= 2.1) says how storages are laid out. */
static c2s_status read_byteorder(zipsrc *z, c2s_error *err)
{
    char name[sizeof z->prefix + 16];
    snprintf(name, sizeof name, "%s/byteorder", z->prefix);
    if (zip_name_locate(z->za, name, ZIP_FL_ENC_RAW) < 0)
        return C2S_OK; /* older archives: little-endian */
    zipsrc_stream s;
    c2s_status st = stream_open_name(z, name, &s, err);
    if (st != C2S_OK)
        return st;
    char buf[16] = {0};
    if (s.size >= sizeof buf) {
        zipsrc_stream_close(&s);
        return c2s_fail(err, C2S_ERR_INPUT, "byteorder record is %llu bytes long",
                        (unsigned long long)s.size);
    }
    st = zipsrc_stream_read(&s, 0, buf, (size_t)s.size, err);
    if (st == C2S_OK)
        st = zipsrc_stream_verify(&s, NULL, 0, err);
    zipsrc_stream_close(&s);
    if (st != C2S_OK)
        return st;
    buf[strcspn(buf, " \r\n\t")] = '\0';
    if (strcmp(buf, "little") == 0)
        z->big_endian = 0;
    else if (strcmp(buf, "big") == 0)
        z->big_endian = 1;
    else
        return c2s_fail(err, C2S_ERR_INPUT,
                        "byteorder record says '%s', not 'little' or 'big'", buf);
    return C2S_OK;
}

int zipsrc_is_zip(const char *path)
{
    unsigned char b[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    return n == 4 && memcmp(b, "PK\x03\x04", 4) == 0;
}

static int entry_name_order(const void *a, const void *b)
{
    const zl_entry *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Our own reading of the structure, before libzip's; the descriptor stays
 * open for reading STORED entries directly. */
static c2s_status read_layout(zipsrc *z, const char *path, findings *f, c2s_error *err)
{
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (z->fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot open: %s", strerror(errno));
    struct stat st;
    c2s_status s = fstat(z->fd, &st) == 0
                       ? ziplayout_read(z->fd, (uint64_t)st.st_size, &z->layout, f, err)
                       : c2s_fail(err, C2S_ERR_INPUT, "cannot stat: %s", strerror(errno));
    if (s != C2S_OK)
        return s;
    z->by_name = malloc((z->layout.n ? z->layout.n : 1) * sizeof *z->by_name);
    if (z->by_name == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    for (size_t i = 0; i < z->layout.n; i++)
        z->by_name[i] = &z->layout.entries[i];
    qsort(z->by_name, z->layout.n, sizeof *z->by_name, entry_name_order);
    posix_fadvise(z->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return C2S_OK;
}

static const zl_entry *find_entry(const zipsrc *z, const char *name)
{
    zl_entry key = {.name = (char *)name};
    const zl_entry *pkey = &key;
    const zl_entry **hit = bsearch(&pkey, z->by_name, z->layout.n, sizeof *z->by_name,
                                   entry_name_order);
    return hit ? *hit : NULL;
}

c2s_status zipsrc_open(const char *path, uint64_t max_pickle, zipsrc **out, findings *f,
                       c2s_error *err)
{
    *out = NULL;
    c2s_status st = sniff(path, err);
    if (st != C2S_OK)
        return st;
    zipsrc *z = calloc(1, sizeof *z);
    if (z == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    z->fd = -1;
    z->max_pickle = max_pickle ? max_pickle : DEFAULT_MAX_PICKLE;
    st = read_layout(z, path, f, err);
    if (st == C2S_OK) {
        int code = 0;
        z->za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
        if (z->za == NULL)
            st = zip_open_failed(code, err);
    }
    if (st == C2S_OK)
        st = find_pickle(z, f, err);
    if (st == C2S_OK)
        st = read_byteorder(z, err);
    if (st != C2S_OK) {
        zipsrc_close(z);
        return st;
    }
    *out = z;
    return C2S_OK;
}

c2s_status zipsrc_verify_all(zipsrc *z, void *scratch, size_t len, findings *f,
                             c2s_error *err)
{
    for (size_t i = 0; i < z->layout.n; i++) {
        const char *name = z->layout.entries[i].name;
        if (ends_with(name, "/"))
            continue; /* directory entries have no data */
        zipsrc_stream s;
        c2s_status st = stream_open_name(z, name, &s, err);
        if (st == C2S_OK)
            st = zipsrc_stream_verify(&s, scratch, len, err);
        zipsrc_stream_close(&s);
        if (st == C2S_ERR_REFUSED)
            findings_add(f, "%s", err->msg);
        else if (st != C2S_OK)
            return st;
    }
    c2s_error_clear(err);
    return C2S_OK;
}

void zipsrc_close(zipsrc *z)
{
    if (z == NULL)
        return;
    if (z->za != NULL)
        zip_discard(z->za); /* read-only: nothing to write back */
    ziplayout_free(&z->layout);
    free(z->by_name);
    if (z->fd >= 0)
        close(z->fd);
    free(z);
}

const char *zipsrc_prefix(const zipsrc *z) { return z->prefix; }
int zipsrc_big_endian(const zipsrc *z) { return z->big_endian; }

/* ---- streams ------------------------------------------------------------ */

static c2s_status zip_file_failed(zipsrc_stream *s, const char *what, c2s_error *err)
{
    zip_error_t *ze = zip_file_get_error((zip_file_t *)s->zf);
    return c2s_fail(err, C2S_ERR_INPUT, "%s: %s failed: %s", s->name, what,
                    ze ? zip_error_strerror(ze) : "unknown error");
}

static c2s_status stream_reopen(zipsrc_stream *s, c2s_error *err)
{
    s->pos = 0;
    if (s->raw)
        return C2S_OK; /* read with pread: nothing to open */
    if (s->zf != NULL)
        zip_fclose((zip_file_t *)s->zf);
    s->zf = zip_fopen_index(s->z->za, s->index, 0);
    if (s->zf == NULL) {
        zip_error_t *ze = zip_get_error(s->z->za);
        return c2s_fail(err, C2S_ERR_INPUT, "%s: cannot open: %s", s->name,
                        zip_error_strerror(ze));
    }
    return C2S_OK;
}

/* STORED entries are read from the file directly, at the data offset our
 * own layout reading found (and checked against the local header); others
 * go through libzip's inflater. */
static c2s_status stream_open_name(zipsrc *z, const char *name,
                                   zipsrc_stream *s, c2s_error *err)
{
    memset(s, 0, sizeof *s);
    s->z = z;
    snprintf(s->name, sizeof s->name, "%s", name);
    const zl_entry *e = find_entry(z, name);
    if (e == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "record %s is missing", name);
    s->size = e->size;
    s->raw = e->method == 0;
    s->data_offset = e->data_offset;
    if (s->raw && e->comp_size != e->size)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: stored entry with inconsistent sizes", name);
    s->crc_expected = e->crc;
    s->crc_recorded = !(e->crc == 0 && e->size != 0);
    s->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (!s->raw) {
        zip_int64_t idx = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
        if (idx < 0)
            return c2s_fail(err, C2S_ERR_INPUT, "record %s is missing", name);
        s->index = (uint64_t)idx;
    }
    return stream_reopen(s, err);
}

c2s_status zipsrc_stream_open(zipsrc *z, const char *key, zipsrc_stream *s,
                              c2s_error *err)
{
    char name[sizeof z->prefix + 64];
    if (strlen(key) > 48 || strchr(key, '/') != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "invalid storage key '%.48s'", key);
    snprintf(name, sizeof name, "%s/data/%s", z->prefix, key);
    return stream_open_name(z, name, s, err);
}

c2s_status zipsrc_storage_size(zipsrc *z, const char *key, uint64_t *size,
                               c2s_error *err)
{
    char name[sizeof z->prefix + 64];
    if (strlen(key) > 48 || strchr(key, '/') != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "invalid storage key '%.48s'", key);
    snprintf(name, sizeof name, "%s/data/%s", z->prefix, key);
    const zl_entry *e = find_entry(z, name);
    if (e == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "storage record %s is missing", name);
    *size = e->size;
    return C2S_OK;
}

int zipsrc_stream_file_range(const zipsrc_stream *s, int *fd, uint64_t *offset)
{
    if (!s->raw)
        return 0;
    *fd = s->z->fd;
    *offset = s->data_offset;
    return 1;
}

static c2s_status read_raw(zipsrc_stream *s, unsigned char *buf, size_t n, c2s_error *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(s->z->fd, buf + done, n - done,
                            (off_t)(s->data_offset + s->pos + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: read failed: %s", s->name, strerror(errno));
        if (got == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated record", s->name);
        done += (size_t)got;
    }
    return C2S_OK;
}

static c2s_status read_inflated(zipsrc_stream *s, unsigned char *buf, size_t n, c2s_error *err)
{
    size_t done = 0;
    while (done < n) {
        zip_int64_t got = zip_fread((zip_file_t *)s->zf, buf + done, n - done);
        if (got < 0)
            return zip_file_failed(s, "read", err);
        if (got == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated record", s->name);
        done += (size_t)got;
    }
    return C2S_OK;
}

/* Read exactly n bytes at the current position into buf. */
static c2s_status stream_fill(zipsrc_stream *s, unsigned char *buf, size_t n,
                              c2s_error *err)
{
    c2s_status st = s->raw ? read_raw(s, buf, n, err) : read_inflated(s, buf, n, err);
    if (st != C2S_OK)
        return st;
    if (s->pos == s->crc_pos) {
        s->crc = c2s_crc32(s->crc, buf, n);
        s->crc_pos += n;
    }
    s->pos += n;
    return C2S_OK;
}

/* Move to off, by seeking (raw entries) or by reading forward. */
static c2s_status stream_seek(zipsrc_stream *s, uint64_t off, unsigned char *buf,
                              size_t cap, c2s_error *err)
{
    if (off == s->pos)
        return C2S_OK;
    /* Reading forward from the CRC frontier keeps the CRC going. */
    if (s->raw && !(s->pos == s->crc_pos && off > s->pos && off - s->pos <= cap)) {
        s->pos = off; /* pread needs no seek */
        return C2S_OK;
    }
    if (off < s->pos) {
        c2s_status st = stream_reopen(s, err);
        if (st != C2S_OK)
            return st;
    }
    while (s->pos < off) {
        uint64_t left = off - s->pos;
        size_t step = left < cap ? (size_t)left : cap;
        c2s_status st = stream_fill(s, buf, step, err);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

c2s_status zipsrc_stream_read(zipsrc_stream *s, uint64_t off, void *buf,
                              size_t n, c2s_error *err)
{
    if (off > s->size || n > s->size - off)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: read of %zu bytes at %llu is past its end (%llu bytes)",
                        s->name, n, (unsigned long long)off, (unsigned long long)s->size);
    if (n == 0)
        return C2S_OK;
    c2s_status st = stream_seek(s, off, buf, n, err);
    if (st != C2S_OK)
        return st;
    return stream_fill(s, buf, n, err);
}

int zipsrc_stream_crc_done(const zipsrc_stream *s)
{
    return s->crc_pos == s->size;
}

c2s_status zipsrc_stream_verify(zipsrc_stream *s, void *scratch, size_t len,
                                c2s_error *err)
{
    if (s->crc_pos != s->size) {
        if (scratch == NULL || len == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: internal error: no scratch buffer", s->name);
        if (s->crc_pos != s->pos) {
            /* restart from 0: the in-order prefix is lost */
            c2s_status st = stream_reopen(s, err);
            if (st != C2S_OK)
                return st;
            s->crc = (uint32_t)crc32(0L, Z_NULL, 0);
            s->crc_pos = 0;
        }
        while (s->pos < s->size) {
            uint64_t left = s->size - s->pos;
            c2s_status st = stream_fill(s, scratch, left < len ? (size_t)left : len, err);
            if (st != C2S_OK)
                return st;
        }
    }
    if (s->crc_recorded && s->crc != s->crc_expected)
        return c2s_fail(err, C2S_ERR_REFUSED,
                        "%s: CRC-32 mismatch (archive says %08x, data gives %08x): "
                        "the file was altered or damaged",
                        s->name, s->crc_expected, s->crc);
    return C2S_OK;
}

void zipsrc_stream_close(zipsrc_stream *s)
{
    if (s->zf != NULL)
        zip_fclose((zip_file_t *)s->zf);
    s->zf = NULL;
}

/* ---- the pickle ----------------------------------------------------------- */

c2s_status zipsrc_read_pickle(zipsrc *z, uint8_t **data, size_t *len, c2s_error *err)
{
    *data = NULL;
    *len = 0;
    char name[sizeof z->prefix + 16];
    snprintf(name, sizeof name, "%s/data.pkl", z->prefix);
    zipsrc_stream s;
    c2s_status st = stream_open_name(z, name, &s, err);
    if (st != C2S_OK)
        return st;
    if (s.size == 0 || s.size > z->max_pickle) {
        zipsrc_stream_close(&s);
        if (s.size == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s is empty", name);
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_MAX_PICKLE,
                             "%s is %llu bytes, more than the limit of %llu",
                        name, (unsigned long long)s.size, (unsigned long long)z->max_pickle);
    }
    uint8_t *buf = malloc((size_t)s.size);
    if (buf == NULL) {
        zipsrc_stream_close(&s);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory reading %s", name);
    }
    st = zipsrc_stream_read(&s, 0, buf, (size_t)s.size, err);
    if (st == C2S_OK)
        st = zipsrc_stream_verify(&s, NULL, 0, err);
    zipsrc_stream_close(&s);
    if (st != C2S_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *len = (size_t)s.size;
    return C2S_OK;
}
