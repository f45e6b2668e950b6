/*
 * outfile.c - atomic creation of the output file (see src/engine/outfile.h).
 *
 * Direct I/O is decided write by write (use_direct): the file position is
 * tracked, and O_DIRECT is set on the descriptor for a block that is
 * aligned in memory, in length and in the file, and cleared again for one
 * that is not (the header's end, the last partial block).  The alignment
 * comes from statx(STATX_DIOALIGN) where the kernel reports it (Linux 6.1),
 * else 4096, which covers the logical block size of common devices; a
 * refusal (EINVAL from fcntl or write) turns direct I/O off for the file
 * and the write is made through the cache.  The unnamed O_TMPFILE file
 * is an ordinary inode without a directory entry: direct I/O, statx and
 * fcntl work on it as on a named one.
 */
#include "engine/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dir_len;
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* pid and address bits still make a clash unlikely; O_EXCL catches it */
        unsigned long v = (unsigned long)getpid() ^ (unsigned long)(size_t)path;
        for (size_t i = 0; i < sizeof rnd; i++)
            rnd[i] = (unsigned char)(v >> (8 * i));
    }
    size_t cap = dir_len + strlen(base) + 32;
    char *name = malloc(cap);
    if (name == NULL)
        return NULL;
    snprintf(name, cap, "%.*s.%s.%02x%02x%02x%02x%02x%02x.c2s-tmp", (int)dir_len, path, base,
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    return name;
}

/* The directory part of path ("." when it has none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir != NULL) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* An unnamed (O_TMPFILE) file in path's directory that /proc/self/fd
 * reaches: how an ordinary user links it and how it is re-read.  0 when
 * the file system or the system refuses either; the caller then falls
 * back to a named file, which meets any real error (a missing directory,
 * no permission) again and reports it. */
static int open_unnamed(outfile *of, const char *path)
{
    char *dir = dir_of(path);
    if (dir == NULL)
        return 0;
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    free(dir);
    if (fd < 0)
        return 0;
    struct stat a, b;
    snprintf(of->fd_path, sizeof of->fd_path, "/proc/self/fd/%d", fd);
    if (fstat(fd, &a) != 0 || stat(of->fd_path, &b) != 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino) {
        close(fd);
        of->fd_path[0] = '\0';
        return 0;
    }
    of->fd = fd;
    of->unnamed = 1;
    return 1;
}

/* The hidden named file beside path (O_EXCL, a fresh random name each try). */
static c2s_status open_named(outfile *of, const char *path, c2s_error *err)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        free(of->tmp_path);
        of->tmp_path = tmp_name(path);
        if (of->tmp_path == NULL)
            break;
        of->fd = open(of->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (of->fd >= 0)
            return C2S_OK;
        if (errno != EEXIST) {
            int e = errno;
            free(of->tmp_path);
            of->tmp_path = NULL;
            return c2s_fail(err, C2S_ERR_INPUT, "cannot create output in the directory of %s: %s",
                            path, strerror(e));
        }
    }
    return c2s_fail(err, C2S_ERR_INPUT, "cannot create a temporary file for %s", path);
}

static c2s_status open_file(outfile *of, const char *path, int force, int may_be_unnamed,
                            c2s_error *err)
{
    memset(of, 0, sizeof *of);
    of->fd = -1;
    of->force = force;
    of->direct_from = UINT64_MAX;
    struct stat st;
    if (!force && lstat(path, &st) == 0)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_EXISTS, "output exists: %s", path);
    if (force && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return c2s_fail(err, C2S_ERR_INPUT, "output is a directory: %s", path);
    of->final_path = strdup(path);
    if (of->final_path == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (may_be_unnamed && open_unnamed(of, path))
        return C2S_OK;
    c2s_status s = open_named(of, path, err);
    if (s != C2S_OK)
        outfile_abort(of);
    return s;
}

c2s_status outfile_open(outfile *of, const char *path, int force, c2s_error *err)
{
    return open_file(of, path, force, 1, err);
}

c2s_status outfile_open_named(outfile *of, const char *path, int force, c2s_error *err)
{
    return open_file(of, path, force, 0, err);
}

const char *outfile_read_path(const outfile *of)
{
    if (of->stream)
        return NULL;
    if (of->unnamed)
        return of->fd >= 0 ? of->fd_path : NULL;
    return of->tmp_path;
}

void outfile_open_fd(outfile *of, int fd)
{
    memset(of, 0, sizeof *of);
    of->fd = fd;
    of->stream = 1;
    of->direct_from = UINT64_MAX;
}

/* ---- direct I/O ------------------------------------------------------------------ */

/* The file's direct I/O alignment, 0 when it has none. */
static size_t dio_align(int fd)
{
#if defined(STATX_DIOALIGN)
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
        if (sx.stx_dio_offset_align == 0 || sx.stx_dio_mem_align == 0)
            return 0; /* the file system says: no direct I/O */
        size_t a = sx.stx_dio_offset_align > sx.stx_dio_mem_align ? sx.stx_dio_offset_align
                                                                  : sx.stx_dio_mem_align;
        return a < OUTFILE_DIO_ALIGN ? OUTFILE_DIO_ALIGN : a;
    }
#endif
    (void)fd;
    return OUTFILE_DIO_ALIGN;
}

void outfile_direct_from(outfile *of, uint64_t offset)
{
    of->direct_from = offset;
    of->align = of->stream || offset == UINT64_MAX ? 0 : dio_align(of->fd);
}

/* Set or clear O_DIRECT on the descriptor; 0 when the kernel refuses. */
static int set_direct(outfile *of, int on)
{
    if (of->direct_set == on)
        return 1;
    int fl = fcntl(of->fd, F_GETFL);
    if (fl < 0 || fcntl(of->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) != 0)
        return 0;
    of->direct_set = on;
    return 1;
}

/* No more direct I/O for this file (the kernel refused it). */
static void give_up_direct(outfile *of)
{
    of->align = 0;
    set_direct(of, 0);
}

/* Whether n bytes at p, written now, go around the cache (setting
 * O_DIRECT accordingly).  A refusal turns direct I/O off for good. */
static int use_direct(outfile *of, const unsigned char *p, size_t n)
{
    size_t a = of->align;
    int want = a != 0 && of->pos >= of->direct_from && of->pos % a == 0 && n % a == 0 &&
               (uintptr_t)p % a == 0;
    if (set_direct(of, want))
        return want;
    give_up_direct(of);
    return 0;
}

/* A "Key:   123 kB" line of /proc/meminfo. */
static int meminfo_kib(const char *text, const char *key, uint64_t *kib)
{
    const char *p = strstr(text, key);
    unsigned long long v;
    if (p == NULL || sscanf(p + strlen(key), " %llu", &v) != 1)
        return 0;
    *kib = v;
    return 1;
}

static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

/* The kernel's own sum (mm/page-writeback.c): dirtyable memory is free
 * pages plus file pages; the background threshold a share of it. */
uint64_t outfile_writeback_room(void)
{
    char text[8192], num[64];
    uint64_t free_kib, active, inactive, dirty, writeback, threshold;
    unsigned long long bytes = 0, ratio = 0;
    if (!read_small("/proc/meminfo", text, sizeof text) ||
        !meminfo_kib(text, "MemFree:", &free_kib) || !meminfo_kib(text, "Active(file):", &active) ||
        !meminfo_kib(text, "Inactive(file):", &inactive) || !meminfo_kib(text, "Dirty:", &dirty) ||
        !meminfo_kib(text, "Writeback:", &writeback))
        return UINT64_MAX;
    if (read_small("/proc/sys/vm/dirty_background_bytes", num, sizeof num))
        bytes = strtoull(num, NULL, 10);
    if (bytes == 0 && read_small("/proc/sys/vm/dirty_background_ratio", num, sizeof num))
        ratio = strtoull(num, NULL, 10);
    if (bytes > 0)
        threshold = bytes;
    else if (ratio > 0)
        threshold = (free_kib + active + inactive) / 100 * ratio * 1024;
    else
        return UINT64_MAX;
    uint64_t used = (dirty + writeback) * 1024;
    return used >= threshold ? 0 : threshold - used;
}

/* The error of a failed write (e: its errno, 0 for no progress).  EFBIG
 * names the file size limit when there is one: the usual cause, and one
 * that a shell's ulimit set without the user remembering it. */
static c2s_status write_failed(const outfile *of, int e, c2s_error *err)
{
    const char *what = of->stream ? "the output" : of->final_path;
    struct rlimit rl;
    if (e == EFBIG && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "cannot write %s: %s (the file size limit, ulimit -f, is %llu bytes)", what,
                        strerror(e), (unsigned long long)rl.rlim_cur);
    return c2s_fail(err, C2S_ERR_INPUT, "cannot write %s: %s", what,
                    e != 0 ? strerror(e) : "no progress");
}

c2s_status outfile_write(outfile *of, const void *buf, size_t n, c2s_error *err)
{
    const unsigned char *p = buf;
    if (of->tap != NULL)
        of->tap(of->tap_ctx, buf, n);
    while (n > 0) {
        int direct = use_direct(of, p, n);
        ssize_t w = write(of->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && direct && errno == EINVAL) { /* not for this file after all */
            give_up_direct(of);
            continue;
        }
        if (w <= 0)
            return write_failed(of, w < 0 ? errno : 0, err);
        p += w;
        n -= (size_t)w;
        of->pos += (uint64_t)w;
        if (direct)
            of->direct_bytes += (uint64_t)w;
    }
    return C2S_OK;
}

/* Move the temporary file to the final name without replacing anything. */
static c2s_status place_no_clobber(outfile *of, c2s_error *err)
{
    if (link(of->tmp_path, of->final_path) == 0) {
        unlink(of->tmp_path);
        return C2S_OK;
    }
    if (errno == EEXIST)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_EXISTS, "output exists: %s",
                             of->final_path);
    /* File systems without hard links: check, then rename (small race). */
    struct stat st;
    if (lstat(of->final_path, &st) == 0)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_EXISTS, "output exists: %s",
                             of->final_path);
    if (rename(of->tmp_path, of->final_path) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot create %s: %s", of->final_path,
                        strerror(errno));
    return C2S_OK;
}

/* Give the unnamed file the name target: 0, or the errno (EEXIST when
 * target exists).  Linking the descriptor itself needs CAP_DAC_READ_SEARCH
 * on older kernels (else ENOENT); its /proc/self/fd link works for anyone. */
static int link_unnamed(const outfile *of, const char *target)
{
    if (linkat(of->fd, "", AT_FDCWD, target, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno == EEXIST)
        return EEXIST;
    if (linkat(AT_FDCWD, of->fd_path, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    return errno;
}

/* With force: the unnamed file gets a hidden name, renamed over the target
 * (a link cannot replace a name).  The hidden name goes if that fails. */
static c2s_status replace_with_unnamed(outfile *of, c2s_error *err)
{
    int e = EEXIST;
    for (int attempt = 0; attempt < 16 && e == EEXIST; attempt++) {
        free(of->tmp_path);
        of->tmp_path = tmp_name(of->final_path);
        e = of->tmp_path == NULL ? ENOMEM : link_unnamed(of, of->tmp_path);
    }
    if (e == 0 && rename(of->tmp_path, of->final_path) != 0) {
        e = errno;
        unlink(of->tmp_path);
    }
    free(of->tmp_path);
    of->tmp_path = NULL;
    if (e != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot create %s: %s", of->final_path, strerror(e));
    return C2S_OK;
}

/* Close errors first: close(2) of a duplicate runs the file system's
 * flush, where NFS and FUSE report a failed delayed write, as the last
 * close would, while the descriptor stays open to be linked.  After the
 * link the descriptor's own close can tell nothing new and the file is in
 * place. */
static c2s_status commit_unnamed(outfile *of, c2s_error *err)
{
    int d = dup(of->fd);
    if (d < 0 || close(d) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot write %s: %s", of->final_path, strerror(errno));
    c2s_status st = C2S_OK;
    if (of->force) {
        st = replace_with_unnamed(of, err);
    } else {
        int e = link_unnamed(of, of->final_path);
        if (e == EEXIST)
            st = c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_EXISTS, "output exists: %s",
                               of->final_path);
        else if (e != 0)
            st = c2s_fail(err, C2S_ERR_INPUT, "cannot create %s: %s", of->final_path, strerror(e));
    }
    if (st != C2S_OK)
        return st;
    close(of->fd);
    of->fd = -1;
    return C2S_OK;
}

c2s_status outfile_commit(outfile *of, c2s_error *err)
{
    if (of->stream)
        return C2S_OK;
    if (of->unnamed)
        return commit_unnamed(of, err);
    if (close(of->fd) != 0) {
        of->fd = -1;
        return c2s_fail(err, C2S_ERR_INPUT, "cannot write %s: %s", of->final_path, strerror(errno));
    }
    of->fd = -1;
    c2s_status st = C2S_OK;
    if (of->force) {
        if (rename(of->tmp_path, of->final_path) != 0)
            st = c2s_fail(err, C2S_ERR_INPUT, "cannot create %s: %s", of->final_path,
                          strerror(errno));
    } else {
        st = place_no_clobber(of, err);
    }
    if (st != C2S_OK)
        return st;
    free(of->tmp_path);
    of->tmp_path = NULL;
    return C2S_OK;
}

void outfile_abort(outfile *of)
{
    if (of->stream) {
        of->fd = -1;
        return;
    }
    if (of->fd >= 0)
        close(of->fd);
    of->fd = -1;
    if (of->tmp_path != NULL)
        unlink(of->tmp_path);
    free(of->tmp_path);
    free(of->final_path);
    of->tmp_path = NULL;
    of->final_path = NULL;
    of->unnamed = 0; /* the kernel frees an unnamed file with its descriptor */
}
