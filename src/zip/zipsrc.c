/*
 * zipsrc.c - read access to a torch.save zip archive (see src/zip/zipsrc.h).
 *
 * How it works: the first bytes are sniffed so that the common wrong inputs
 * (empty file, legacy torch pickle, a bare pickle, a safetensors file) get a
 * precise message rather than "not a zip".  The structure is then read by
 * our own ziplayout.c from the descriptor (pread only; no path is looked up
 * again), and records are found the way PyTorch's reader (caffe2
 * PyTorchStreamReader over miniz) finds them:
 *
 *   - the archive name is the text before the first '/' of the FIRST
 *     central directory entry (possibly empty, for "/data.pkl");
 *   - every entry must start with "<archive name>/", compared exactly
 *     (torch.load lists all records and refuses the file otherwise);
 *   - "<archive name>/data.pkl", ".../byteorder" and ".../data/<key>" are
 *     looked up as miniz's mz_zip_reader_locate_file does without
 *     MZ_ZIP_FLAG_CASE_SENSITIVE: a binary search over the entries heap-sorted
 *     by their names with A-Z mapped to a-z.  Of two names equal without
 *     regard to case, the one this search meets first is the one torch reads
 *     (ziplayout.c reports such pairs as findings).
 *
 * STORED entries are read with pread(2) at the data offset found by the
 * layout reading; DEFLATE entries through zlib's raw inflater fed by pread.
 * Streams compute the CRC-32 themselves (crc32.c: zlib's value, PCLMULQDQ
 * when available) while the bytes pass through.
 *
 * data.pkl is read on a thread of its own while the local headers are
 * checked (pickle_prefetch): torch.save writes it first, so when the first
 * entry of the central directory is a large STORED ".../data.pkl", its
 * local header is peeked at and its bytes read, with their CRC, beside the
 * layout pass.  The bytes are used only when the layout pass then finds
 * that entry to be the one torch reads, at the same data offset, with its
 * CRC matching; in every other case they are dropped and the entry is read
 * as before, so that errors and their messages do not change.
 * zipsrc_open_fd_beside goes one step further: the local header pass then
 * runs on a thread too, and the caller's thread, once the bytes are in,
 * hands them to the caller's work (the pickle VM, in the reader) while the
 * pass goes on; the pass alone writes the layout and the findings
 * meanwhile, and whether those bytes are the pickle is decided as above.
 */
#include "zip/zipsrc.h"
#include "zip/ziplayout.h"
#include "zip/crc32.h"
#include "util/huge.h"
#include "util/io.h"
#include "util/le.h"
#include "util/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define INFLATE_CHUNK (64u << 10)
#define KEY_MAX 1024 /* longest record name we look up */

/* data.pkl read beside the layout pass (see the top of the file).  The
 * thread touches this struct and the buffer only: everything it needs is
 * copied in before it starts. */
typedef struct pickle_prefetch {
    pthread_t thread;
    int running; /* started and not yet joined */
    int fd;
    uint64_t local_offset, data_offset, size;
    uint8_t *buf; /* size bytes once read; NULL: none (or handed over) */
    int read_all; /* all size bytes were read */
    uint32_t crc; /* of them */
} pickle_prefetch;

/* Smaller pickles are read in less time than a thread takes to pay off. */
#define PREFETCH_MIN (1u << 20)

struct zipsrc {
    int fd; /* our dup of the caller's descriptor */
    pickle_prefetch pre;
    ziplayout layout;
    uint32_t *sorted;       /* entry indices in miniz's sorted order (NULL: hashed) */
    char prefix[256];       /* the archive name (may be empty) */
    size_t prefix_len;      /* its length; it may hold a NUL, as torch allows */
    int prefix_nul;         /* it does */
    const zl_entry *pickle; /* the entry torch reads as data.pkl */
    int pickle_crc_ok;      /* zipsrc_read_pickle read it whole and its CRC matched */
    int pickle_prefetched;  /* ... and its bytes were the prefetched ones */
    int big_endian;
    uint64_t max_pickle;
};

/* The inflater of a DEFLATE stream (zipsrc_stream.zf). */
typedef struct inflater {
    z_stream zs;
    uint64_t in_off; /* compressed bytes handed to zlib so far */
    unsigned char in[INFLATE_CHUNK];
} inflater;

/* ---- sniffing the first bytes --------------------------------------- */

static c2s_status sniff(int fd, c2s_error *err)
{
    unsigned char b[4];
    ssize_t n = pread_full(fd, b, sizeof b, 0);
    if (n < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno));
    if (n == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "file is empty");
    if (n == 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return C2S_OK;
    /* What else the file may be is the readers' business (reader.c). */
    return c2s_fail(err, C2S_ERR_INPUT, "not a PyTorch checkpoint: not a zip archive");
}

/* ---- finding records as miniz does ------------------------------------ */

static int entry_less(const zipsrc *z, uint32_t a, uint32_t b)
{
    const zl_entry *x = &z->layout.entries[a], *y = &z->layout.entries[b];
    return ziplayout_name_cmp(x->name, x->name_len, y->name, y->name_len) < 0;
}

static void sift_down(zipsrc *z, size_t root, size_t end)
{
    uint32_t *v = z->sorted;
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= end)
            return;
        if (child + 1 < end && entry_less(z, v[child], v[child + 1]))
            child++;
        if (!entry_less(z, v[root], v[child]))
            return;
        uint32_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

/* The order miniz's reader puts the central directory in (a heap sort, so
 * not stable: which of two equal names comes first depends on this exact
 * sequence of swaps, and that decides which one torch reads).  Without two
 * equal names every sort gives the same order: the layout's, sorted once. */
static c2s_status sort_like_miniz(zipsrc *z, c2s_error *err)
{
    size_t n = z->layout.n;
    /* When no two names are equal without regard to case, a lookup has one
     * answer whichever way it is found: ziplayout's hash index finds it in
     * one probe or so, where the binary search compared names 18 times for
     * 200,000 entries.  With such names miniz's search decides which one
     * torch reads, so there is no index and locate() searches as miniz does. */
    if (z->layout.by_hash != NULL)
        return C2S_OK;
    if (z->layout.names_distinct && z->layout.by_name != NULL) {
        z->sorted = z->layout.by_name;
        z->layout.by_name = NULL; /* ours now */
        return C2S_OK;
    }
    z->sorted = malloc((n ? n : 1) * sizeof *z->sorted);
    if (z->sorted == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    for (size_t i = 0; i < n; i++)
        z->sorted[i] = (uint32_t)i;
    if (n <= 1)
        return C2S_OK;
    for (size_t start = (n - 2) / 2 + 1; start-- > 0;)
        sift_down(z, start, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = z->sorted[end];
        z->sorted[end] = z->sorted[0];
        z->sorted[0] = t;
        sift_down(z, 0, end);
    }
    return C2S_OK;
}

/* miniz's binary search: the first probe whose name compares equal wins. */
static const zl_entry *locate(const zipsrc *z, const char *name, size_t len)
{
    if (z->layout.by_hash != NULL)
        return ziplayout_find_hashed(&z->layout, name, len);
    size_t lo = 0, hi = z->layout.n;
    while (lo < hi) {
        size_t mid = lo + (hi - 1 - lo) / 2;
        const zl_entry *e = &z->layout.entries[z->sorted[mid]];
        int c = ziplayout_name_cmp(e->name, e->name_len, name, len);
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* torch looks up std::string(archive name + "/" + record).c_str(): a NUL in
 * the archive name cuts the key there.  Fills key, returns its length. */
static size_t record_key(const zipsrc *z, const char *record, char *key, size_t cap)
{
    int n = snprintf(key, cap, "%.*s/%s", (int)z->prefix_len, z->prefix, record);
    if (z->prefix_len > 0 && memchr(z->prefix, '\0', z->prefix_len) != NULL)
        return strlen(z->prefix);
    /* %.*s stops at a NUL too, so without one the whole prefix was copied */
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static const zl_entry *find_record(const zipsrc *z, const char *record)
{
    char key[KEY_MAX];
    size_t len = record_key(z, record, key, sizeof key);
    return locate(z, key, len);
}

/* ---- the archive name and what lies under it ---------------------------- */

/* The text before the first '/' of the first entry, as torch chooses it. */
static c2s_status choose_prefix(zipsrc *z, c2s_error *err)
{
    if (z->layout.n == 0)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "the zip archive has no entries: "
                        "not a PyTorch checkpoint");
    const zl_entry *first = &z->layout.entries[0];
    const char *slash = memchr(first->name, '/', first->name_len);
    if (slash == NULL)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "the first zip entry '%s' is not in a directory: "
                        "not a PyTorch checkpoint (PyTorch refuses it)",
                        first->name);
    size_t len = (size_t)(slash - first->name);
    if (len >= sizeof z->prefix)
        return c2s_fail(err, C2S_ERR_INPUT, "archive directory name of %zu bytes is too long", len);
    memcpy(z->prefix, first->name, len);
    z->prefix[len] = '\0';
    z->prefix_len = len;
    z->prefix_nul = memchr(z->prefix, '\0', len) != NULL;
    return C2S_OK;
}

/* Does the entry start with "<prefix>/" as torch's strncmp sees it (the
 * entry name and the prefix both end at their first NUL)? */
static int under_prefix(const zipsrc *z, const zl_entry *e)
{
    /* without a NUL in the prefix, strncmp compares all its bytes and '/' */
    if (!z->prefix_nul)
        return e->name_len > z->prefix_len && e->name[z->prefix_len] == '/' &&
               memcmp(e->name, z->prefix, z->prefix_len) == 0;
    size_t n = z->prefix_len + 1;
    for (size_t i = 0; i < n; i++) {
        char a = i < e->name_len ? e->name[i] : '\0';
        char b = i < z->prefix_len ? z->prefix[i] : '/';
        if (a != b)
            return 0;
        if (a == '\0')
            return 1;
    }
    return 1;
}

static int ends_with_nocase(const zl_entry *e, const char *suffix)
{
    size_t k = strlen(suffix);
    return e->name_len >= k && ziplayout_name_cmp(e->name + e->name_len - k, k, suffix, k) == 0;
}

/* Equal names without regard to case: reported by ziplayout.c already. */
static int same_name(const zl_entry *a, const zl_entry *b)
{
    return b != NULL && ziplayout_name_cmp(a->name, a->name_len, b->name, b->name_len) == 0;
}

/* "<dir>/data.pkl" with dir free of '/': another archive's pickle. */
static int is_other_data_pkl(const zl_entry *e)
{
    const char *slash = memchr(e->name, '/', e->name_len);
    return slash != NULL && (size_t)(slash - e->name) + 9 == e->name_len &&
           memcmp(slash, "/data.pkl", 9) == 0;
}

static int is_torchscript_entry(const zipsrc *z, const zl_entry *e)
{
    if (!under_prefix(z, e) || e->name_len <= z->prefix_len + 1)
        return 0;
    const char *rest = e->name + z->prefix_len + 1;
    /* without data.pkl (a model.json archive), torch reads attributes.pkl */
    return strcmp(rest, "constants.pkl") == 0 || strncmp(rest, "code/", 5) == 0 ||
           (z->pickle == NULL && strcmp(rest, "attributes.pkl") == 0);
}

/* torch.load lists every record (to look for TorchScript) and refuses an
 * archive holding an entry outside the archive directory.  Pickles there
 * are findings first, so that a lenient reader's choice is reported. */
static c2s_status check_entries(zipsrc *z, const zl_entry *pickle, findings *f, c2s_error *err)
{
    const zl_entry *outside = NULL;
    for (size_t i = 0; i < z->layout.n; i++) {
        const zl_entry *e = &z->layout.entries[i];
        if (e == pickle)
            continue;
        if (!under_prefix(z, e) && outside == NULL)
            outside = e;
        if (is_other_data_pkl(e) && !under_prefix(z, e))
            findings_add(f, "several data.pkl records ('%s/' and '%.*s')", z->prefix,
                         (int)(e->name_len - 8), e->name);
        else if (ends_with_nocase(e, ".pkl") && !same_name(e, pickle) &&
                 !is_torchscript_entry(z, e))
            findings_add(f, "extra pickle record '%s'", e->name);
    }
    if (outside != NULL)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "zip entry '%s' is outside the archive directory "
                        "'%s/': PyTorch refuses such a file",
                        outside->name, z->prefix);
    return C2S_OK;
}

/* Choose data.pkl as torch does; any other pickle record is a finding:
 * torch reads one, we must judge what it reads. */
static c2s_status find_pickle(zipsrc *z, findings *f, c2s_error *err)
{
    c2s_status st = choose_prefix(z, err);
    if (st != C2S_OK)
        return st;
    if (memchr(z->prefix, '\0', z->prefix_len) != NULL)
        findings_add(f, "the archive directory name '%s...' holds a NUL byte", z->prefix);
    const zl_entry *pickle = find_record(z, "data.pkl");
    z->pickle = pickle;
    st = check_entries(z, pickle, f, err);
    /* torch.jit.load reads a TorchScript archive of torch 1.0-1.2 from its
     * model.json; it has no data.pkl (zipsrc_read_pickle then fails). */
    if (st == C2S_OK && pickle == NULL && find_record(z, "model.json") == NULL)
        st = c2s_fail(err, C2S_ERR_INPUT, "no data.pkl record: not a PyTorch checkpoint");
    return st;
}

static c2s_status stream_open_entry(zipsrc *z, const zl_entry *e, zipsrc_stream *s, c2s_error *err);

/* The byteorder record (torch >= 2.1) says how storages are laid out. */
static c2s_status read_byteorder(zipsrc *z, c2s_error *err)
{
    const zl_entry *e = find_record(z, "byteorder");
    if (e == NULL)
        return C2S_OK; /* older archives: little-endian */
    zipsrc_stream s;
    c2s_status st = stream_open_entry(z, e, &s, err);
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
        return c2s_fail(err, C2S_ERR_INPUT, "byteorder record says '%s', not 'little' or 'big'",
                        buf);
    return C2S_OK;
}

/* ---- data.pkl beside the layout pass ---------------------------------- */

static void *prefetch_run(void *arg)
{
    pickle_prefetch *p = arg;
    p->buf = malloc((size_t)p->size);
    if (p->buf == NULL)
        return NULL;
    huge_advise(p->buf, (size_t)p->size); /* filled whole */
    ssize_t got = pread_full(p->fd, p->buf, (size_t)p->size, p->data_offset);
    huge_unadvise(p->buf, (size_t)p->size);
    p->read_all = got == (ssize_t)p->size;
    if (p->read_all)
        p->crc = c2s_crc32((uint32_t)crc32(0L, Z_NULL, 0), p->buf, (size_t)p->size);
    return NULL;
}

/* Start reading the first entry of the central directory when it is a
 * large STORED ".../data.pkl" whose local header says where its bytes are
 * (the layout pass checks that header again, and prefetch_take compares). */
static void prefetch_start(zipsrc *z, uint64_t file_size)
{
    static const char suffix[] = "data.pkl";
    const size_t k = sizeof suffix - 1;
    if (z->layout.n == 0)
        return;
    const zl_entry *e = &z->layout.entries[0];
    if (e->method != 0 || e->size != e->comp_size || e->size < PREFETCH_MIN ||
        e->size > z->max_pickle || e->size > SIZE_MAX || e->name_len < k ||
        memcmp(e->name + e->name_len - k, suffix, k) != 0)
        return;
    unsigned char h[30];
    if (e->local_offset > file_size || file_size - e->local_offset < sizeof h ||
        pread_full(z->fd, h, sizeof h, e->local_offset) != (ssize_t)sizeof h ||
        memcmp(h, "PK\x03\x04", 4) != 0)
        return;
    uint64_t data_offset = e->local_offset + sizeof h + le16(h + 26) + le16(h + 28);
    if (data_offset > file_size || file_size - data_offset < e->size)
        return;
    pickle_prefetch *p = &z->pre;
    p->fd = z->fd;
    p->local_offset = e->local_offset;
    p->data_offset = data_offset;
    p->size = e->size;
    p->running = pthread_create(&p->thread, NULL, prefetch_run, p) == 0;
}

static void prefetch_join(pickle_prefetch *p)
{
    if (p->running)
        pthread_join(p->thread, NULL);
    p->running = 0;
}

/* The prefetched bytes of e, when e is the entry read (same local header,
 * same data offset and size, STORED, within the pickle limit) and their CRC
 * is the one recorded: then *data owns them.  0 otherwise (the bytes are
 * dropped; the caller reads e itself). */
static int prefetch_take(zipsrc *z, const zl_entry *e, uint8_t **data, size_t *len)
{
    pickle_prefetch *p = &z->pre;
    prefetch_join(p);
    int usable = p->buf != NULL && p->read_all && e->local_ok &&
                 e->local_offset == p->local_offset && e->data_offset == p->data_offset &&
                 e->method == 0 && e->size == p->size && e->comp_size == p->size &&
                 e->size <= z->max_pickle && p->crc == e->crc;
    if (usable) {
        *data = p->buf;
        *len = (size_t)p->size;
    } else {
        free(p->buf);
    }
    p->buf = NULL;
    return usable;
}

/* ---- opening ---------------------------------------------------------- */

/* The local header pass on a thread of its own (beside the caller's work
 * in read_local_beside): it alone touches the layout and f meanwhile. */
typedef struct local_job {
    zipsrc *z;
    uint64_t size;
    findings *f;
    c2s_error err;
    c2s_status st;
} local_job;

static void *local_main(void *arg)
{
    local_job *j = arg;
    j->st = ziplayout_read_local(j->z->fd, j->size, &j->z->layout, j->f, &j->err);
    return NULL;
}

/* ziplayout_read_local, with beside's work on this thread meanwhile when
 * data.pkl is being read ahead: the read is waited for, its bytes given
 * to beside, then the pass joined.  The pass alone writes the layout and
 * f, beside only reads the prefetched bytes, so the outcome is the one of
 * the pass run alone. */
static c2s_status read_local_beside(zipsrc *z, uint64_t size, const zipsrc_beside *beside,
                                    findings *f, c2s_error *err)
{
    pickle_prefetch *p = &z->pre;
    local_job job = {z, size, f, {0}, C2S_OK};
    c2s_error_clear(&job.err);
    pthread_t t;
    if (beside == NULL || !p->running || pthread_create(&t, NULL, local_main, &job) != 0)
        return ziplayout_read_local(z->fd, size, &z->layout, f, err);
    prefetch_join(p);
    if (p->buf != NULL && p->read_all)
        beside->run(beside->ctx, p->buf, (size_t)p->size);
    pthread_join(t, NULL);
    if (job.st != C2S_OK)
        *err = job.err;
    return job.st;
}

/* A zipsrc over its own duplicate of fd, with the layout read (its
 * structural findings into f) and the entries sorted as miniz sorts them;
 * beside (NULL: none) as zipsrc_open_fd_beside says. */
static c2s_status open_layout(int fd, uint64_t size, uint64_t max_pickle,
                              const zipsrc_beside *beside, findings *f, zipsrc **out,
                              c2s_error *err)
{
    zipsrc *z = calloc(1, sizeof *z);
    if (z == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    z->max_pickle = max_pickle ? max_pickle : C2S_DEFAULT_MAX_PICKLE;
    z->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (z->fd < 0) {
        free(z);
        return c2s_fail(err, C2S_ERR_INPUT, "cannot duplicate the descriptor: %s", strerror(errno));
    }
    c2s_status st = ziplayout_read_central(z->fd, size, &z->layout, f, err);
    if (st == C2S_OK) {
        prefetch_start(z, size);
        st = read_local_beside(z, size, beside, f, err);
    }
    if (st == C2S_OK)
        st = sort_like_miniz(z, err);
    if (st != C2S_OK) {
        zipsrc_close(z);
        return st;
    }
    *out = z;
    return C2S_OK;
}

c2s_status zipsrc_open_fd_beside(int fd, uint64_t size, uint64_t max_pickle,
                                 const zipsrc_beside *beside, zipsrc **out, findings *f,
                                 c2s_error *err)
{
    *out = NULL;
    zipsrc *z = NULL;
    c2s_status st = sniff(fd, err);
    if (st == C2S_OK)
        st = open_layout(fd, size, max_pickle, beside, f, &z, err);
    if (st != C2S_OK)
        return st;
    st = find_pickle(z, f, err);
    if (st == C2S_OK)
        st = read_byteorder(z, err);
    if (st != C2S_OK) {
        zipsrc_close(z);
        return st;
    }
    posix_fadvise(z->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = z;
    return C2S_OK;
}

c2s_status zipsrc_open_fd(int fd, uint64_t size, uint64_t max_pickle, zipsrc **out, findings *f,
                          c2s_error *err)
{
    return zipsrc_open_fd_beside(fd, size, max_pickle, NULL, out, f, err);
}

c2s_status zipsrc_open_records(int fd, uint64_t size, uint64_t max_pickle, zipsrc **out,
                               c2s_error *err)
{
    *out = NULL;
    findings ignored = {0}; /* zipsrc_open_fd reported them already */
    c2s_status st = open_layout(fd, size, max_pickle, NULL, &ignored, out, err);
    findings_free(&ignored);
    return st;
}

c2s_status zipsrc_open(const char *path, uint64_t max_pickle, zipsrc **out, findings *f,
                       c2s_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot open: %s", strerror(errno));
    struct stat st;
    c2s_status s;
    if (fstat(fd, &st) != 0)
        s = c2s_fail(err, C2S_ERR_INPUT, "cannot stat: %s", strerror(errno));
    else if (S_ISDIR(st.st_mode))
        s = c2s_fail(err, C2S_ERR_INPUT, "is a directory");
    else
        s = zipsrc_open_fd(fd, (uint64_t)st.st_size, max_pickle, out, f, err);
    close(fd);
    return s;
}

/* Small STORED entries are checked from a window of the file in the
 * scratch buffer: one pread for the many entries of a checkpoint of tiny
 * tensors (200,000 of them: 200,000 preads before).  An entry outside the
 * window refills it from the entry's data, the whole window when the next
 * entry starts within it, else this entry only. */
#define VERIFY_SMALL (64u << 10)

typedef struct verify_window {
    unsigned char *buf;
    size_t cap, len;
    uint64_t start;
} verify_window;

/* 1 when e's CRC was computed from the window and matches (or the archive
 * records none); 0 when the stream path must check it (large, DEFLATE, a
 * short read, a mismatch: the stream path gives the exact message). */
static int verified_in_window(zipsrc *z, const zl_entry *e, const zl_entry *next, verify_window *w)
{
    if (e->method != 0 || e->size != e->comp_size || e->size > VERIFY_SMALL ||
        w->cap < 2 * (size_t)VERIFY_SMALL)
        return 0;
    uint64_t off = e->data_offset, n = e->size;
    if (off < w->start || off - w->start > w->len || n > w->len - (off - w->start)) {
        size_t want = (size_t)n;
        if (next != NULL && next->data_offset >= off && next->data_offset - off < w->cap)
            want = w->cap;
        ssize_t got = pread_full(z->fd, w->buf, want, off);
        w->start = off;
        w->len = got < 0 ? 0 : (size_t)got;
        if (w->len < n)
            return 0;
    }
    uint32_t crc = c2s_crc32((uint32_t)crc32(0L, Z_NULL, 0), w->buf + (off - w->start), (size_t)n);
    int recorded = !(e->crc == 0 && e->size != 0);
    return !recorded || crc == e->crc;
}

c2s_status zipsrc_verify_all(zipsrc *z, void *scratch, size_t len, findings *f, c2s_error *err)
{
    verify_window w = {scratch, scratch != NULL ? len : 0, 0, 0};
    for (size_t i = 0; i < z->layout.n; i++) {
        const zl_entry *e = &z->layout.entries[i];
        if ((e->name_len > 0 && e->name[e->name_len - 1] == '/') || !e->local_ok)
            continue; /* directory entries have no data; bad headers are findings */
        if (e == z->pickle && z->pickle_crc_ok)
            continue; /* read whole and checked already: the same bytes would pass */
        const zl_entry *next = i + 1 < z->layout.n ? &z->layout.entries[i + 1] : NULL;
        if (verified_in_window(z, e, next, &w))
            continue;
        w.len = 0; /* the stream path below uses the scratch buffer */
        zipsrc_stream s;
        c2s_status st = stream_open_entry(z, e, &s, err);
        if (st == C2S_OK)
            st = zipsrc_stream_verify(&s, scratch, len, err);
        zipsrc_stream_close(&s);
        if (st != C2S_OK && err->rule == C2S_RULE_CORRUPT)
            findings_add(f, "%s", err->msg); /* damage: the caller's list of it */
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
    prefetch_join(&z->pre);
    free(z->pre.buf);
    ziplayout_free(&z->layout);
    free(z->sorted);
    if (z->fd >= 0)
        close(z->fd);
    free(z);
}

const char *zipsrc_prefix(const zipsrc *z)
{
    return z->prefix;
}
const char *zipsrc_pickle_name(const zipsrc *z)
{
    return z->pickle ? z->pickle->name : NULL;
}
int zipsrc_big_endian(const zipsrc *z)
{
    return z->big_endian;
}

/* ---- streams ------------------------------------------------------------ */

static c2s_status stream_reopen(zipsrc_stream *s, c2s_error *err)
{
    s->pos = 0;
    if (s->raw)
        return C2S_OK; /* read with pread: nothing to open */
    inflater *inf = s->zf;
    if (inf == NULL) {
        if ((inf = calloc(1, sizeof *inf)) == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        if (inflateInit2(&inf->zs, -MAX_WBITS) != Z_OK) {
            free(inf);
            return c2s_fail(err, C2S_ERR_INPUT, "%s: cannot start the inflater", s->name);
        }
        s->zf = inf;
    } else if (inflateReset(&inf->zs) != Z_OK) {
        return c2s_fail(err, C2S_ERR_INPUT, "%s: cannot restart the inflater", s->name);
    }
    inf->in_off = 0;
    inf->zs.next_in = inf->in;
    inf->zs.avail_in = 0;
    return C2S_OK;
}

/* STORED entries are read from the file directly, at the data offset our
 * own layout reading found (and checked against the local header); DEFLATE
 * ones through zlib.  An entry without a valid local header cannot be read,
 * as in miniz ("invalid header or archive is corrupted"). */
static c2s_status stream_open_entry(zipsrc *z, const zl_entry *e, zipsrc_stream *s, c2s_error *err)
{
    memset(s, 0, sizeof *s);
    s->z = z;
    snprintf(s->name, sizeof s->name, "%s", e->name);
    if (!e->local_ok)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: no valid local header: the archive is corrupt",
                        s->name);
    if (e->method != 0 && e->method != 8)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: compression method %u is not supported", s->name,
                        (unsigned)e->method);
    s->index = (uint64_t)(e - z->layout.entries);
    s->size = e->size;
    s->comp_size = e->comp_size;
    s->raw = e->method == 0;
    s->data_offset = e->data_offset;
    s->crc_expected = e->crc;
    s->crc_recorded = !(e->crc == 0 && e->size != 0);
    s->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    return stream_reopen(s, err);
}

/* The record "<prefix>/data/<key>" (key: klen bytes, no NUL), found as
 * find_record finds it.  Without a NUL in the archive name the lookup key is
 * those bytes exactly, put together here without snprintf (a checkpoint of
 * 200,000 tensors looks up 200,000 of them).  *hint, when not NULL: the
 * index of the first of HINT_SCAN entries to try first; set past the entry
 * found.  With all names distinct without regard to case, the entry whose
 * name equals the key is the one any search finds, so an entry found among
 * them is what the search would find.  Storages are looked up in the order
 * of their keys, 0, 1, 2, ..., and torch.save writes the records sorted by
 * key as text, so the next key is often a few entries on: "100010" two after
 * "100009" ("10001" between), "20001" eleven after "20000" ("200000" to
 * "200009" between, in an archive of 200,010 storages).  The hash index
 * (cache misses) is searched only when the entry lies further: for 1% of
 * a checkpoint of 50,000 storages (19% with only the next entry tried). */
#define HINT_SCAN 16

static const zl_entry *find_storage(const zipsrc *z, const char *key, size_t klen, size_t *hint)
{
    if (z->prefix_nul) {
        char record[64];
        snprintf(record, sizeof record, "data/%s", key);
        return find_record(z, record);
    }
    char name[sizeof z->prefix + sizeof "/data/" + C2S_STORAGE_KEY_MAX];
    size_t len = z->prefix_len;
    memcpy(name, z->prefix, len);
    memcpy(name + len, "/data/", 6);
    memcpy(name + len + 6, key, klen);
    len += 6 + klen;
    const zl_entry *e = NULL;
    if (hint != NULL && z->layout.by_hash != NULL && *hint < z->layout.n) {
        size_t end = z->layout.n - *hint > HINT_SCAN ? *hint + HINT_SCAN : z->layout.n;
        for (size_t i = *hint; i < end && e == NULL; i++) {
            const zl_entry *guess = &z->layout.entries[i];
            if (guess->name_len == len && ziplayout_name_cmp(guess->name, len, name, len) == 0)
                e = guess;
        }
    }
    if (e == NULL)
        e = locate(z, name, len);
    if (e != NULL && hint != NULL)
        *hint = (size_t)(e - z->layout.entries) + 1;
    return e;
}

/* The storage record for key, found as torch finds "data/<key>". */
static c2s_status storage_entry(zipsrc *z, const char *key, size_t *hint, const zl_entry **e,
                                c2s_error *err)
{
    size_t klen = strnlen(key, C2S_STORAGE_KEY_MAX + 1);
    if (klen > C2S_STORAGE_KEY_MAX || memchr(key, '/', klen) != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "invalid storage key '%.48s'", key);
    if ((*e = find_storage(z, key, klen, hint)) == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "storage record %s/data/%s is missing", z->prefix, key);
    return C2S_OK;
}

c2s_status zipsrc_stream_open(zipsrc *z, const char *key, zipsrc_stream *s, c2s_error *err)
{
    const zl_entry *e = NULL;
    memset(s, 0, sizeof *s);
    c2s_status st = storage_entry(z, key, NULL, &e, err);
    return st != C2S_OK ? st : stream_open_entry(z, e, s, err);
}

c2s_status zipsrc_storage_size(zipsrc *z, const char *key, uint64_t *size, c2s_error *err)
{
    return zipsrc_storage_size_near(z, key, NULL, size, err);
}

c2s_status zipsrc_storage_size_near(zipsrc *z, const char *key, size_t *hint, uint64_t *size,
                                    c2s_error *err)
{
    const zl_entry *e = NULL;
    c2s_status st = storage_entry(z, key, hint, &e, err);
    if (st == C2S_OK)
        *size = e->size;
    return st;
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
    return pread_exact(s->z->fd, buf, n, s->data_offset + s->pos, s->name, err);
}

/* Hand zlib the next chunk of compressed bytes (pread at the entry's data). */
static c2s_status feed_inflater(zipsrc_stream *s, inflater *inf, c2s_error *err)
{
    uint64_t left = s->comp_size - inf->in_off;
    size_t n = left < INFLATE_CHUNK ? (size_t)left : INFLATE_CHUNK;
    c2s_status st = pread_exact(s->z->fd, inf->in, n, s->data_offset + inf->in_off, s->name, err);
    if (st != C2S_OK)
        return st;
    inf->in_off += n;
    inf->zs.next_in = inf->in;
    inf->zs.avail_in = (uInt)n;
    return C2S_OK;
}

static c2s_status read_inflated(zipsrc_stream *s, unsigned char *buf, size_t n, c2s_error *err)
{
    inflater *inf = s->zf;
    size_t done = 0;
    while (done < n) {
        if (inf->zs.avail_in == 0 && inf->in_off < s->comp_size) {
            c2s_status st = feed_inflater(s, inf, err);
            if (st != C2S_OK)
                return st;
        }
        size_t want = n - done < UINT32_MAX ? n - done : UINT32_MAX;
        inf->zs.next_out = buf + done;
        inf->zs.avail_out = (uInt)want;
        int r = inflate(&inf->zs, Z_NO_FLUSH);
        done += want - inf->zs.avail_out;
        if (r == Z_STREAM_END && done < n)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated record", s->name);
        if (r == Z_BUF_ERROR && inf->zs.avail_in == 0 && inf->in_off == s->comp_size)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated record", s->name);
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: inflate failed: %s", s->name,
                            inf->zs.msg ? inf->zs.msg : "corrupt data");
    }
    return C2S_OK;
}

/* Read exactly n bytes at the current position into buf. */
static c2s_status stream_fill(zipsrc_stream *s, unsigned char *buf, size_t n, c2s_error *err)
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
static c2s_status stream_seek(zipsrc_stream *s, uint64_t off, unsigned char *buf, size_t cap,
                              c2s_error *err)
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

c2s_status zipsrc_stream_read(zipsrc_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    if (off > s->size || n > s->size - off)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s: read of %zu bytes at %llu is past its end (%llu bytes)", s->name, n,
                        (unsigned long long)off, (unsigned long long)s->size);
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

c2s_status zipsrc_stream_verify(zipsrc_stream *s, void *scratch, size_t len, c2s_error *err)
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
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "%s: CRC-32 mismatch (archive says %08x, data gives %08x): "
                             "the file was altered or damaged",
                             s->name, s->crc_expected, s->crc);
    return C2S_OK;
}

void zipsrc_stream_close(zipsrc_stream *s)
{
    inflater *inf = s->zf;
    if (inf != NULL) {
        inflateEnd(&inf->zs);
        free(inf);
    }
    s->zf = NULL;
}

/* ---- whole records: the pickle and TorchScript's records ---------------------- */

static c2s_status read_whole(zipsrc *z, const zl_entry *e, uint8_t **data, size_t *len,
                             c2s_error *err);

/* ---- the other pickle records ------------------------------------------- */

int zipsrc_entry_is_other_pickle(const zipsrc *z, size_t i)
{
    const zl_entry *e = &z->layout.entries[i];
    return e != z->pickle && e->local_ok &&
           (ends_with_nocase(e, ".pkl") || ends_with_nocase(e, ".npy"));
}

int zipsrc_entry_starts_like_pickle(zipsrc *z, size_t i)
{
    const zl_entry *e = &z->layout.entries[i];
    if (e == z->pickle || !e->local_ok)
        return 0;
    zipsrc_stream s;
    c2s_error err;
    unsigned char head[2] = {0};
    if (stream_open_entry(z, e, &s, &err) != C2S_OK)
        return 0;
    int ok = s.size >= 2 && zipsrc_stream_read(&s, 0, head, 2, &err) == C2S_OK;
    zipsrc_stream_close(&s);
    return ok && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5;
}

/* Read entry e whole (at most max_pickle bytes), CRC-checked.  A CRC
 * mismatch fails (rule C2S_RULE_CORRUPT) with the bytes still in *data. */
static c2s_status read_whole(zipsrc *z, const zl_entry *e, uint8_t **data, size_t *len,
                             c2s_error *err)
{
    *data = NULL;
    *len = 0;
    const char *name = e->name;
    zipsrc_stream s;
    c2s_status st = stream_open_entry(z, e, &s, err);
    if (st != C2S_OK)
        return st;
    if (s.size == 0 || s.size > z->max_pickle) {
        zipsrc_stream_close(&s);
        if (s.size == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s is empty", name);
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_MAX_PICKLE,
                             "%s is %llu bytes, more than the limit of %llu", name,
                             (unsigned long long)s.size, (unsigned long long)z->max_pickle);
    }
    uint8_t *buf = malloc((size_t)s.size);
    if (buf == NULL) {
        zipsrc_stream_close(&s);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory reading %s", name);
    }
    huge_advise(buf, (size_t)s.size); /* filled whole */
    st = zipsrc_stream_read(&s, 0, buf, (size_t)s.size, err);
    huge_unadvise(buf, (size_t)s.size);
    int read_all = st == C2S_OK;
    if (st == C2S_OK)
        st = zipsrc_stream_verify(&s, NULL, 0, err);
    zipsrc_stream_close(&s);
    if (st != C2S_OK && !(read_all && err->rule == C2S_RULE_CORRUPT)) {
        free(buf);
        return st;
    }
    *data = buf; /* on a CRC mismatch too: the bytes are judged all the same */
    *len = (size_t)s.size;
    return st;
}

c2s_status zipsrc_read_pickle(zipsrc *z, uint8_t **data, size_t *len, c2s_error *err)
{
    if (z->pickle == NULL) {
        *data = NULL;
        *len = 0;
        return c2s_fail(err, C2S_ERR_INPUT, "no data.pkl record: not a PyTorch checkpoint");
    }
    if (prefetch_take(z, z->pickle, data, len)) {
        z->pickle_crc_ok = z->pickle_prefetched = 1;
        return C2S_OK;
    }
    c2s_status st = read_whole(z, z->pickle, data, len, err);
    z->pickle_crc_ok = st == C2S_OK;
    return st;
}

int zipsrc_pickle_prefetched(const zipsrc *z)
{
    return z->pickle_prefetched;
}

int zipsrc_is_model_json(const zipsrc *z)
{
    return z->pickle == NULL;
}

static c2s_status named_entry(const zipsrc *z, const char *record, const zl_entry **e,
                              c2s_error *err)
{
    *e = strlen(record) < KEY_MAX - sizeof z->prefix ? find_record(z, record) : NULL;
    if (*e == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "record %s/%.300s is missing", z->prefix, record);
    return C2S_OK;
}

c2s_status zipsrc_record_size(zipsrc *z, const char *record, uint64_t *size, c2s_error *err)
{
    const zl_entry *e = NULL;
    c2s_status st = named_entry(z, record, &e, err);
    if (st == C2S_OK)
        *size = e->size;
    return st;
}

c2s_status zipsrc_record_stream_open(zipsrc *z, const char *record, zipsrc_stream *s,
                                     c2s_error *err)
{
    const zl_entry *e = NULL;
    memset(s, 0, sizeof *s);
    c2s_status st = named_entry(z, record, &e, err);
    return st != C2S_OK ? st : stream_open_entry(z, e, s, err);
}

const char *zipsrc_record_name(const zipsrc *z, const char *record)
{
    if (strlen(record) >= KEY_MAX - sizeof z->prefix)
        return NULL;
    const zl_entry *e = find_record(z, record);
    return e != NULL ? e->name : NULL;
}

c2s_status zipsrc_read_record(zipsrc *z, const char *record, uint8_t **data, size_t *len,
                              c2s_error *err)
{
    *data = NULL;
    *len = 0;
    if (strlen(record) >= KEY_MAX - sizeof z->prefix)
        return c2s_fail(err, C2S_ERR_INPUT, "record name '%.64s...' is too long", record);
    const zl_entry *e = find_record(z, record);
    if (e == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "record %s/%s is missing", z->prefix, record);
    return read_whole(z, e, data, len, err);
}

size_t zipsrc_entry_count(const zipsrc *z)
{
    return z->layout.n;
}

const char *zipsrc_entry_name(const zipsrc *z, size_t i)
{
    return i < z->layout.n ? z->layout.entries[i].name : NULL;
}

c2s_status zipsrc_read_entry(zipsrc *z, size_t i, uint8_t **data, size_t *len, c2s_error *err)
{
    if (i >= z->layout.n)
        return c2s_fail(err, C2S_ERR_INPUT, "no zip entry %zu", i);
    return read_whole(z, &z->layout.entries[i], data, len, err);
}

/* An entry "<prefix>/<rest>" with rest exactly name (torch.load lists the
 * records with the prefix cut off and compares whole strings). */
static int has_exact_record(const zipsrc *z, const char *name)
{
    size_t k = strlen(name);
    for (size_t i = 0; i < z->layout.n; i++) {
        const zl_entry *e = &z->layout.entries[i];
        if (under_prefix(z, e) && e->name_len == z->prefix_len + 1 + k &&
            memcmp(e->name + z->prefix_len + 1, name, k) == 0)
            return 1;
    }
    return 0;
}

int zipsrc_torch_load_sees_script(const zipsrc *z)
{
    return has_exact_record(z, "constants.pkl");
}

int zipsrc_is_torchscript(const zipsrc *z)
{
    if (find_record(z, "constants.pkl") != NULL)
        return 1;
    for (size_t i = 0; i < z->layout.n; i++)
        if (is_torchscript_entry(z, &z->layout.entries[i]))
            return 1;
    return 0;
}
