/*
 * verify.c - --verify: the written file against the source (see verify.h).
 *
 * Deliberately not the copy code: expected bytes come from an element-by-
 * element walk (an odometer over every dimension, the storage index moved
 * by the strides), not from the run-based gathers of gather.c, so a bug in
 * one is caught by the other.  Contiguous tensors are read in blocks; a
 * block is compared with memcmp, and only a block that differs is searched
 * for the first differing byte.  Conversions use dtconv's fastest path.
 * Both sides of a block are read with pread into buffers of the block's
 * size, which stay in the CPU's caches for the memcmp.  (Mapping the two
 * files' blocks instead, so that the page cache's bytes are compared where
 * they lie, was what this file did before; measured on the bench's 512 MiB
 * case, same machine and page cache state, --verify took 1.76x the plain
 * conversion with mappings and 1.34x with preads: the mappings' page-table
 * work and munmaps cost more than the copies.)  Reads of up to WINDOWED bytes (a
 * checkpoint of many small tensors) go through a window of each file
 * instead: WINDOW bytes read at once, later reads served from it while
 * they fall inside, so 200,000 tiny tensors cost tens of preads, not
 * 400,000 (the records and the written tensors lie one after another).
 * The part of the file written around the page cache (direct I/O) is read
 * back the same way, big reads with O_DIRECT (verify.h says why).
 *
 * Where a strided view's elements come from.  In a STORED record, through
 * a line cache of fixed size (CACHE_BYTES), which knows nothing of views:
 * an element's line (a power-of-two block of the record) is looked up in
 * slot (line number mod a prime, computed with multiplications: Lemire's
 * fastmod), read with one pread on a miss.  The line
 * size is chosen so that the lines one sweep of the last dimension touches
 * take at most half the cache (a transposed matrix then reads its storage
 * about once), and the prime slot count keeps lines a power-of-two apart
 * from colliding.  A DEFLATE record (torch.save does not write them) is
 * inflated whole into memory instead when its span is at most twice the
 * tensor plus SPAN_SLACK, else read element by element.
 */
#include "engine/verify.h"
#include "util/copy.h"
#include "util/io.h"
#include "util/huge.h"

#include "engine/cancel.h"
#include "engine/checkpoint.h"
#include "engine/dtconv.h"
#include "engine/qconv.h"
#include "st/stread.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_ELEMS (1u << 18)
#define SPAN_SLACK (64ull << 20)
#define CACHE_BYTES (8u << 20)
#define MIN_LINE 64u
#define MAX_LINE (64u << 10)
#define WINDOW (1u << 20)
#define WINDOWED (64u << 10) /* reads of up to this many bytes use a window */

/* Lines of one STORED record (see the top of this file). */
typedef struct line_cache {
    unsigned char *data; /* CACHE_BYTES */
    uint64_t *tag;       /* per slot: line number + 1, 0 when empty */
    size_t line, nslots; /* bytes per line; slots, a prime */
    unsigned shift;      /* line == 1 << shift */
    uint64_t magic;      /* UINT64_MAX / nslots + 1: for slot_of */
    int fd;
    uint64_t base, size; /* the record: at base in fd, size bytes */
} line_cache;

/* WINDOW bytes of a file from off (len of them there: fewer at its end). */
typedef struct window {
    int fd;
    unsigned char *buf; /* WINDOW bytes */
    uint64_t off;
    size_t len;
} window;

/* The buffers of one thread comparing blocks: BLOCK_ELEMS elements each
 * (8 bytes max). */
typedef struct lane {
    unsigned char *src, *cvt, *file;
} lane;

/* A block the helper thread compares: elems elements of t from element
 * first, its source at `at` in fd (a STORED record, contiguous, nothing
 * to dequantize), the written bytes at out_off. */
typedef struct job {
    const tmap_tensor *t;
    c2s_dtype out;
    int fd;
    uint64_t at, first, out_off;
    size_t elems;
    char name[300]; /* the record's, for messages */
} job;

#define NJOBS 4

/* The helper thread and its queue (see "a second lane" below). */
typedef struct helper {
    int running;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more;
    job q[NJOBS];
    size_t head, count;
    int stop, failed; /* failed: err holds the first failure, at fail_off */
    uint64_t fail_off, done;
    lane l;
    c2s_error err;
} helper;

typedef struct check {
    c2s_checkpoint *ck;
    int fd;
    int dfd;              /* the written file opened with O_DIRECT, or -1 */
    uint64_t direct_from; /* where it was written around the cache (verify_read) */
    size_t align;         /* and the alignment of those writes */
    uint64_t data_start;
    const volatile sig_atomic_t *cancel;
    lane main; /* this thread's */
    helper h;
    uint64_t at_off; /* output offset of the block (or tensor) this thread is on */
    line_cache lc;
    window in, out;   /* of the input (STORED records) and of the written file */
    qconv *deq;       /* the tensor's dequantizer, or NULL */
    dtconv_path path; /* dtconv_best_path(), asked once */
    c2s_error *err;
    c2s_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    uint64_t done, total; /* output bytes compared, of all */
} check;

static uint64_t helper_done(check *c);

/* len more output bytes compared on this thread: tell the caller how many
 * are, the helper's included. */
static void advance(check *c, uint64_t len)
{
    c->done += len;
    if (c->progress)
        c->progress(c->progress_ctx, c->done + helper_done(c), c->total);
}

/* ---- the header --------------------------------------------------------------- */

static c2s_status check_header(const st_file *f, const stw_entry *e, size_t n, size_t header_len,
                               c2s_error *err)
{
    if (f->data_start != header_len || f->ntensors != n)
        return c2s_fail(err, C2S_ERR_INPUT, "verify: the written header is not the planned one");
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = &f->tensors[i];
        int same = strcmp(t->name, e[i].name) == 0 &&
                   strcmp(t->dtype, c2s_dtype_name(e[i].dtype)) == 0 && t->ndim == e[i].ndim &&
                   t->begin == e[i].begin && t->end == e[i].begin + e[i].nbytes;
        for (size_t d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == (uint64_t)e[i].shape[d];
        if (!same)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "verify: tensor '%s' is not as planned in the header", e[i].name);
    }
    return C2S_OK;
}

/* ---- the bytes -------------------------------------------------------------------- */

/* len bytes at off of fd into buf; 0 on success. */
static int read_at(int fd, unsigned char *buf, size_t len, uint64_t off)
{
    ssize_t got = pread_full(fd, buf, len, off);
    return got >= 0 && (size_t)got == len ? 0 : -1;
}

/* Bytes [off, off + len) of w's file (len <= WINDOWED): where they lie in
 * the window, which is read again from off when it does not hold them;
 * NULL when the file ends before them or cannot be read. */
static const unsigned char *window_at(window *w, uint64_t off, size_t len)
{
    if (off >= w->off && off - w->off <= w->len && len <= w->len - (size_t)(off - w->off))
        return w->buf + (off - w->off);
    ssize_t got = pread_full(w->fd, w->buf, WINDOW, off);
    w->off = off;
    w->len = got > 0 ? (size_t)got : 0;
    return w->len >= len ? w->buf : NULL;
}

/* A lane's buffer for the written file's bytes: a block, and room for the
 * two partial blocks of an O_DIRECT read around it, on c->align. */
static unsigned char *alloc_file_buffer(const check *c)
{
    size_t a = c->align ? c->align : 4096, size = BLOCK_ELEMS * 8 + 2 * a;
    return aligned_alloc(a, (size + a - 1) / a * a);
}

/* len bytes of the written file at off read with O_DIRECT: the aligned
 * blocks around them into l->file (which has room for two blocks more and
 * is aligned), where they then lie; NULL when that fails (an alignment the
 * file system refuses, ...): the caller reads them through the cache. */
static const unsigned char *read_direct(check *c, lane *l, uint64_t off, size_t len)
{
    uint64_t a0 = off & ~(uint64_t)(c->align - 1);
    uint64_t a1 = (off + len + c->align - 1) & ~(uint64_t)(c->align - 1);
    ssize_t got = pread_full(c->dfd, l->file, (size_t)(a1 - a0), a0);
    if (got < 0 || (uint64_t)got < off + len - a0)
        return NULL;
    return l->file + (off - a0);
}

/* len bytes of the written file at off: from the window when small and
 * on this thread's lane (the window is not the helper's), else read into
 * l->file. */
static const unsigned char *read_written(check *c, lane *l, uint64_t off, size_t len)
{
    if (len <= WINDOWED && l == &c->main)
        return window_at(&c->out, off, len);
    if (c->dfd >= 0 && off + len > c->direct_from) {
        const unsigned char *p = read_direct(c, l, off, len);
        if (p != NULL)
            return p;
    }
    return read_at(c->fd, l->file, len, off) == 0 ? l->file : NULL;
}

/* Compare `elems` source elements at src (l->src when they are to be
 * swapped), the tensor's elements from first on, with the file at out_off,
 * on lane l; a difference or a failed read into err. */
static c2s_status compare_block(check *c, lane *l, const tmap_tensor *t, c2s_dtype out,
                                const unsigned char *src, size_t elems, uint64_t first,
                                uint64_t out_off, c2s_error *err)
{
    size_t in_es = c2s_dtype_size(t->dtype), out_es = c2s_dtype_size(out);
    if (rd_big_endian(&c->ck->rd))
        c2s_byteswap(l->src, elems * in_es, c2s_dtype_swap_unit(t->dtype));
    const unsigned char *want = src;
    if (l == &c->main && c->deq != NULL) { /* (the helper never reads deq) */
        qconv_run(c->deq, src, l->cvt, elems, first);
        if (out != C2S_F32)
            dtconv_run_on(c->path, C2S_F32, out, l->cvt, l->cvt, elems);
        want = l->cvt;
    } else if (out != t->dtype) {
        dtconv_run_on(c->path, t->dtype, out, src, l->cvt, elems);
        want = l->cvt;
    }
    size_t len = elems * out_es;
    const unsigned char *file = read_written(c, l, c->data_start + out_off, len);
    if (file == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "verify: cannot read the written file back");
    if (memcmp(want, file, len) != 0) {
        size_t i = 0;
        while (want[i] == file[i])
            i++;
        return c2s_fail(err, C2S_ERR_INPUT,
                        "verify: tensor '%s': written byte %llu differs from the source", t->name,
                        (unsigned long long)(out_off + i));
    }
    return C2S_OK;
}

/* ---- a second lane ---------------------------------------------------------------------- */

/* The blocks of big contiguous tensors read from STORED records are what
 * most of a big checkpoint is, and comparing one is two preads and a
 * memcmp on buffers of this lane's own: nothing shared is written.  So this
 * thread hands such blocks to a helper thread through a queue of NJOBS
 * (doing a block itself when the queue is full), and both read and compare
 * at once (--verify of the bench's 512 MiB checkpoint: median 162 -> 142
 * ms, the conversion alone 107 ms).  Blocks are queued in file order and
 * taken in that order, and a failure's output offset is kept, so the
 * failure reported is the one a single thread would have met first
 * (helper_finish).  The helper starts
 * with the first block it is offered, only on a machine with two or more
 * processors; it does not call the progress callback (advance adds what it
 * has done) and does not read the cancel flag (this thread does, and the
 * queue is short). */

static uint64_t helper_done(check *c)
{
    if (!c->h.running)
        return 0;
    pthread_mutex_lock(&c->h.mu);
    uint64_t done = c->h.done;
    pthread_mutex_unlock(&c->h.mu);
    return done;
}

static c2s_status run_job(check *c, job *j)
{
    lane *l = &c->h.l;
    size_t len = j->elems * c2s_dtype_size(j->t->dtype);
    if (read_at(j->fd, l->src, len, j->at) != 0)
        return c2s_fail(&c->h.err, C2S_ERR_INPUT, "verify: %s: read failed", j->name);
    return compare_block(c, l, j->t, j->out, l->src, j->elems, j->first, j->out_off, &c->h.err);
}

static void *helper_main(void *arg)
{
    check *c = arg;
    helper *h = &c->h;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->count == 0 && !h->stop)
            pthread_cond_wait(&h->more, &h->mu);
        if (h->count == 0)
            break;
        job *j = &h->q[h->head];
        int skip = h->failed; /* queued after a failure: not needed */
        pthread_mutex_unlock(&h->mu);
        c2s_status st = skip ? C2S_OK : run_job(c, j);
        pthread_mutex_lock(&h->mu);
        if (st != C2S_OK) {
            h->failed = 1;
            h->fail_off = j->out_off;
        } else if (!skip) {
            h->done += j->elems * c2s_dtype_size(j->out);
        }
        h->head = (h->head + 1) % NJOBS;
        h->count--;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Start the helper: 0 when there is no second processor or no memory. */
static int helper_start(check *c)
{
    helper *h = &c->h;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return 0;
    h->l = (lane){malloc(BLOCK_ELEMS * 8), malloc(BLOCK_ELEMS * 8), alloc_file_buffer(c)};
    if (h->l.src == NULL || h->l.cvt == NULL || h->l.file == NULL)
        return 0;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->more, NULL);
    if (pthread_create(&h->thread, NULL, helper_main, c) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->more);
        return 0;
    }
    h->running = 1;
    return 1;
}

/* Queue j for the helper: 1 when queued, 0 when this thread is to compare
 * the block itself (no helper, or the queue is full).  *failed: the helper
 * has met a failure (every block from here on comes after it: stop). */
static int helper_offer(check *c, const job *j, int *failed)
{
    helper *h = &c->h;
    *failed = 0;
    if (!h->running && (h->stop || !helper_start(c))) {
        h->stop = 1; /* do not try again */
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int queued = !h->failed && h->count < NJOBS;
    if (queued) {
        h->q[(h->head + h->count) % NJOBS] = *j;
        h->count++;
        pthread_cond_signal(&h->more);
    }
    *failed = h->failed;
    pthread_mutex_unlock(&h->mu);
    return queued;
}

/* Stop the helper once its queue is done; the failure to report is the
 * one at the smaller output offset, this thread's (st, at c->at_off) or the
 * helper's.  Returns the status to report, its message in err. */
static c2s_status helper_finish(check *c, c2s_status st, c2s_error *err)
{
    helper *h = &c->h;
    if (h->running) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->more);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->more);
        h->running = 0;
        if (h->failed && (st == C2S_OK || h->fail_off < c->at_off)) {
            *err = h->err;
            st = C2S_ERR_INPUT;
        }
        if (st == C2S_OK && c->progress) /* the helper's last blocks */
            c->progress(c->progress_ctx, c->done + h->done, c->total);
    }
    free(h->l.src);
    free(h->l.cvt);
    free(h->l.file);
    return st;
}

/* The walk over a strided view's elements in C order: the index of each
 * dimension and the storage element they give. */
typedef struct walk {
    uint64_t idx[TMAP_MAX_NDIM];
    uint64_t at;
} walk;

/* To the next index of dimensions [0, nd) (nd <= t->ndim), the last of
 * them fastest. */
static inline void walk_next(walk *w, const tmap_tensor *t, size_t nd)
{
    for (size_t d = nd; d-- > 0;) {
        w->at += (uint64_t)t->stride[d];
        if (++w->idx[d] < (uint64_t)t->shape[d])
            return;
        w->at -= (uint64_t)t->shape[d] * (uint64_t)t->stride[d];
        w->idx[d] = 0;
    }
}

/* ---- strided views of a STORED record: the line cache -------------------------------- */

/* The largest prime <= n (n >= 2). */
static size_t prime_at_most(size_t n)
{
    for (;; n--) {
        int prime = 1;
        for (size_t d = 2; prime && d * d <= n; d++)
            prime = n % d != 0;
        if (prime)
            return n;
    }
}

/* Empty the cache for t's record (size bytes at base in fd), its lines
 * sized so that the shape[last] lines one sweep of the last dimension may
 * touch fill at most half of it. */
static void cache_start(line_cache *lc, const tmap_tensor *t, int fd, uint64_t base, uint64_t size)
{
    uint64_t sweep = t->ndim > 0 ? (uint64_t)t->shape[t->ndim - 1] : 1;
    size_t line = MAX_LINE;
    unsigned shift = 16; /* MAX_LINE */
    while (line > MIN_LINE && (uint64_t)line * sweep > CACHE_BYTES / 2) {
        line /= 2;
        shift--;
    }
    lc->line = line;
    lc->shift = shift;
    lc->nslots = prime_at_most(CACHE_BYTES / line);
    lc->magic = UINT64_MAX / lc->nslots + 1;
    memset(lc->tag, 0, lc->nslots * sizeof *lc->tag);
    lc->fd = fd;
    lc->base = base;
    lc->size = size;
}

/* Line number no mod nslots: Lemire's fastmod when no fits 32 bits (all
 * records under 256 GiB), else a division. */
static inline size_t slot_of(const line_cache *lc, uint64_t no)
{
    if (no >> 32)
        return (size_t)(no % lc->nslots);
    uint64_t low = lc->magic * no;
    return (size_t)(((unsigned __int128)low * lc->nslots) >> 64);
}

/* Read line no into its slot. */
static c2s_status cache_fill(line_cache *lc, uint64_t no, size_t slot, const char *name,
                             c2s_error *err)
{
    uint64_t start = no << lc->shift;
    size_t len = lc->size - start < lc->line ? (size_t)(lc->size - start) : lc->line;
    lc->tag[slot] = 0;
    if (read_at(lc->fd, lc->data + slot * lc->line, len, lc->base + start) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "verify: %s: read failed", name);
    lc->tag[slot] = no + 1;
    return C2S_OK;
}

/* The es bytes at byte off of the record, into dst. */
static inline c2s_status cache_get(line_cache *lc, uint64_t off, unsigned char *dst, size_t es,
                                   const char *name, c2s_error *err)
{
    if (off > lc->size || es > lc->size - off)
        return c2s_fail(err, C2S_ERR_INPUT, "verify: %s: element at %llu is past its end", name,
                        (unsigned long long)off);
    uint64_t no = off >> lc->shift;
    size_t slot = slot_of(lc, no);
    if (lc->tag[slot] != no + 1) {
        c2s_status st = cache_fill(lc, no, slot, name, err);
        if (st != C2S_OK)
            return st;
    }
    /* within the line: off and lines are es-aligned */
    copy_small(dst, lc->data + slot * lc->line + (off & (lc->line - 1)), es);
    return C2S_OK;
}

/* Storage element `at` of t into dst: from the line cache, from the
 * inflated span (mem), or read alone. */
static inline __attribute__((always_inline)) c2s_status
get_element(check *c, const tmap_tensor *t, size_t es, rd_stream *s, int cached,
            const unsigned char *mem, uint64_t at, unsigned char *dst)
{
    if (cached)
        return cache_get(&c->lc, at * es, dst, es, s->name, c->err);
    if (mem != NULL) {
        copy_small(dst, mem + (at - t->offset) * es, es);
        return C2S_OK;
    }
    return rd_stream_read(s, at * es, dst, es, c->err);
}

/* The next elems elements of a strided view (from w, a walk over all its
 * dimensions) into c->main.src, one after the other. */
static c2s_status gather_elements(check *c, const tmap_tensor *t, rd_stream *s, int cached,
                                  const unsigned char *mem, walk *w, size_t elems)
{
    size_t es = c2s_dtype_size(t->dtype);
    c2s_status st = C2S_OK;
    for (size_t k = 0; st == C2S_OK && k < elems; k++, walk_next(w, t, t->ndim))
        st = get_element(c, t, es, s, cached, mem, w->at, c->main.src + k * es);
    return st;
}

/* The line cache's memory, on huge-page boundaries and marked for huge
 * pages: a transposed matrix's sweep touches a line per element, each in
 * another 4 KiB page. */
static unsigned char *alloc_cache(void)
{
    unsigned char *p = aligned_alloc(HUGE_PAGE, CACHE_BYTES);
    if (p != NULL)
        madvise(p, CACHE_BYTES, MADV_HUGEPAGE); /* a hint: all works the same without */
    return p;
}

/* len bytes at off of a contiguous tensor's record, at *src: a STORED
 * record (fd >= 0, its bytes at base) with pread, or from the input's
 * window when small, since the stream's own reads would compute the
 * record's CRC again (the write checked it); else through the stream into
 * c->main.src.  Bytes to be swapped are always copied there (compare_block
 * swaps them there). */
static c2s_status read_source(check *c, rd_stream *s, int fd, uint64_t base, uint64_t off,
                              size_t len, const unsigned char **src)
{
    *src = c->main.src;
    if (fd < 0)
        return rd_stream_read(s, off, c->main.src, len, c->err);
    if (off > s->size || len > s->size - off)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "verify: %s: read of %zu bytes at %llu is past its end", s->name, len,
                        (unsigned long long)off);
    const unsigned char *at = NULL;
    if (len <= WINDOWED) {
        if (c->in.fd != fd) { /* another file (a TensorFlow bundle's shards) */
            c->in.fd = fd;
            c->in.len = 0;
        }
        at = window_at(&c->in, base + off, len);
    } else if (read_at(fd, c->main.src, len, base + off) == 0) {
        at = c->main.src;
    }
    if (at == NULL)
        return c2s_fail(c->err, C2S_ERR_INPUT, "verify: %s: read failed", s->name);
    if (at != c->main.src && rd_big_endian(&c->ck->rd))
        memcpy(c->main.src, at, len);
    else
        *src = at;
    return C2S_OK;
}

/* ---- one tensor ------------------------------------------------------------------------ */

static c2s_status check_tensor(check *c, const tmap_tensor *t, const stw_entry *e)
{
    rd_stream s;
    c2s_status st = rd_stream_open(&c->ck->rd, c->ck->map.storages[t->storage].key, &s, c->err);
    size_t es = c2s_dtype_size(t->dtype);
    uint64_t span = 0;
    for (size_t d = 0; d < t->ndim; d++)
        span += (uint64_t)(t->shape[d] - 1) * (uint64_t)t->stride[d];
    span = (span + 1) * es; /* bounded by the storage: checked when mapping */
    unsigned char *mem = NULL;
    int fd = -1;
    uint64_t base = 0;
    int raw = st == C2S_OK && rd_stream_file_range(&s, &fd, &base);
    int cached = raw && !t->contiguous;
    if (cached)
        cache_start(&c->lc, t, fd, base, s.size);
    else if (st == C2S_OK && !t->contiguous && span <= 2 * t->nbytes + SPAN_SLACK) {
        mem = malloc((size_t)span);
        st = mem ? rd_stream_read(&s, t->offset * es, mem, (size_t)span, c->err)
                 : c2s_fail(c->err, C2S_ERR_INPUT, "out of memory verifying '%s'", t->name);
    }
    walk w = {.at = t->offset};
    for (uint64_t i = 0; st == C2S_OK && i < t->numel;) {
        if (cancel_requested(c->cancel))
            st = c2s_fail(c->err, C2S_ERR_INPUT, "interrupted");
        size_t elems = t->numel - i < BLOCK_ELEMS ? (size_t)(t->numel - i) : BLOCK_ELEMS;
        uint64_t out_off = e->begin + i * c2s_dtype_size(e->dtype), in_off = (t->offset + i) * es;
        c->at_off = out_off;
        if (st == C2S_OK && raw && t->contiguous && c->deq == NULL && elems * es > WINDOWED &&
            in_off <= s.size && elems * es <= s.size - in_off) {
            job j = {t, e->dtype, fd, base + in_off, i, out_off, elems, {0}};
            snprintf(j.name, sizeof j.name, "%s", s.name);
            int failed = 0, queued = helper_offer(c, &j, &failed);
            if (failed) /* the helper met a failure before this block */
                st = C2S_ERR_INPUT;
            if (queued || failed) {
                i += elems;
                continue;
            }
        }
        const unsigned char *src = c->main.src;
        if (st == C2S_OK && t->contiguous)
            st = read_source(c, &s, raw ? fd : -1, base, in_off, elems * es, &src);
        else if (st == C2S_OK)
            st = gather_elements(c, t, &s, cached, mem, &w, elems);
        if (st == C2S_OK)
            st = compare_block(c, &c->main, t, e->dtype, src, elems, i, out_off, c->err);
        if (st == C2S_OK)
            advance(c, elems * c2s_dtype_size(e->dtype));
        i += elems;
    }
    free(mem);
    rd_stream_close(&s);
    return st;
}

/* A value that is no storage's: its bytes. */
static c2s_status check_inline(check *c, const tmap_tensor *t, const stw_entry *e)
{
    const unsigned char *file = read_written(c, &c->main, c->data_start + e->begin,
                                             (size_t)t->nbytes);
    if (file == NULL)
        return c2s_fail(c->err, C2S_ERR_INPUT, "verify: cannot read the written file back");
    if (memcmp(file, t->inline_bytes, (size_t)t->nbytes) != 0)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "verify: tensor '%s': written bytes differ from the source", t->name);
    advance(c, t->nbytes);
    return C2S_OK;
}

static c2s_status check_entry(check *c, const tmap_tensor *t, const stw_entry *e)
{
    if (t->storage == TMAP_NO_STORAGE)
        return check_inline(c, t, e);
    if (t->q.scheme == TMAP_Q_NONE || !t->q.dequantize)
        return check_tensor(c, t, e);
    qconv qc;
    c2s_status st = qconv_load(c->ck, t, &qc, c->err);
    c->deq = &qc;
    if (st == C2S_OK)
        st = check_tensor(c, t, e);
    c->deq = NULL;
    qconv_free(&qc);
    return st;
}

c2s_status verify_output(c2s_checkpoint *ck, const char *path, const stw_entry *entries, size_t n,
                         size_t header_len, const c2s_write_options *o, const verify_read *how,
                         c2s_error *err)
{
    check c = {.ck = ck, .path = dtconv_best_path(), .err = err, .dfd = -1};
    c.direct_from = how ? how->direct_from : UINT64_MAX;
    c.align = how ? how->align : 0;
    if (o != NULL) {
        c.cancel = o->cancel;
        c.progress = o->verify_progress;
        c.progress_ctx = o->progress_ctx;
    }
    for (size_t i = 0; i < n; i++)
        c.total += entries[i].nbytes;
    c.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c.fd < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "verify: cannot reopen the written file: %s",
                        strerror(errno));
    st_file f;
    c2s_status st = st_read_fd(c.fd, &f, err);
    if (st != C2S_OK) {
        c2s_error_prefix(err, "verify");
        close(c.fd);
        return st;
    }
    c.data_start = f.data_start;
    st = check_header(&f, entries, n, header_len, err);
    if (c.direct_from != UINT64_MAX && c.align >= 512 && c.align <= (1u << 20) &&
        (c.align & (c.align - 1)) == 0) /* else read all through the cache */
        c.dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    c.main = (lane){malloc(BLOCK_ELEMS * 8), malloc(BLOCK_ELEMS * 8), alloc_file_buffer(&c)};
    c.in = (window){.fd = -1, .buf = malloc(WINDOW)};
    c.out = (window){.fd = c.fd, .buf = malloc(WINDOW)};
    c.lc.data = alloc_cache();
    c.lc.tag = malloc(CACHE_BYTES / MIN_LINE * sizeof *c.lc.tag);
    if (st == C2S_OK &&
        (c.main.src == NULL || c.main.cvt == NULL || c.main.file == NULL || c.in.buf == NULL ||
         c.out.buf == NULL || c.lc.data == NULL || c.lc.tag == NULL))
        st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (st == C2S_OK && c.progress) /* the phase begins: 0 of total */
        c.progress(c.progress_ctx, 0, c.total);
    for (size_t i = 0; st == C2S_OK && i < n; i++) {
        c.at_off = entries[i].begin;
        st = check_entry(&c, &ck->map.tensors[entries[i].src], &entries[i]);
    }
    st = helper_finish(&c, st, err);
    free(c.main.src);
    free(c.main.cvt);
    free(c.main.file);
    free(c.in.buf);
    free(c.out.buf);
    free(c.lc.data);
    free(c.lc.tag);
    st_file_free(&f);
    if (c.dfd >= 0)
        close(c.dfd);
    close(c.fd);
    return st;
}
