/*
 * outfile.h - atomic creation of the output file.
 *
 * Nothing half-written is ever left under any name, even when the process
 * is killed outright (SIGKILL, the OOM killer, a power cut before the
 * directory entry reaches the disk aside):
 *
 *  - Where the file system has O_TMPFILE (ext4, XFS, btrfs, tmpfs, ...),
 *    the bytes go to an unnamed file in the target's directory (mode 0666
 *    minus umask, as open(2) gives).  It has no name until
 *    outfile_commit() links it in: linkat(2) of the descriptor itself
 *    (AT_EMPTY_PATH, where the kernel allows it) or of its
 *    /proc/self/fd/N link (any user).  Killed before that, the kernel frees
 *    it with the last descriptor: there is nothing to remove.
 *  - Elsewhere (O_TMPFILE refused, or /proc missing so that the file could
 *    not be linked by an ordinary user), the bytes go to a hidden file
 *    ".<name>.<random>.c2s-tmp" created with O_EXCL beside the target,
 *    which outfile_abort() removes; only a SIGKILL can leave it behind.
 *
 * Without force, the file is put in place by a link that fails if the
 * target appeared meanwhile, so nothing is ever overwritten by accident
 * ("output exists").  With force it replaces the target with rename(2):
 * the named file directly; the unnamed one is first linked to a hidden
 * temporary name, which is renamed over the target (and unlinked if that
 * fails).  outfile_abort() is safe to call at any point, also after commit.
 *
 * Close errors (where NFS or FUSE report a failed delayed write) fail the
 * commit before anything is placed.  Nothing is fsync'ed.
 *
 * Writes are unbuffered write(2) calls: callers pass large blocks.  A
 * write past the file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so
 * that write(2) returns EFBIG instead of the process dying) fails with a
 * message that names the limit.
 *
 * Direct I/O.  Past the offset given to outfile_direct_from(), a write
 * whose buffer address, length and file position are all multiples of the
 * file system's direct I/O alignment goes around the page cache (O_DIRECT,
 * switched on and off with fcntl between writes); any other write goes
 * through the cache as usual, so the bytes are the same either way.  Why:
 * a file much larger than what the kernel lets stay dirty in memory is
 * otherwise written at whatever pace writeback throttling allows, which on
 * the machine measured (bench/, BENCH_MODES) was slower and far less even
 * than the device.  File systems without direct I/O (the fcntl or a write fails with
 * EINVAL) simply keep the page cache.  outfile_writeback_room() says how
 * much can be written through the cache before the kernel starts writing
 * back in the background.
 */
#ifndef OUTFILE_H
#define OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"

/* The least alignment of a block written directly (address, length and
 * file position); a file system may ask for more (statx). */
#define OUTFILE_DIO_ALIGN 4096u

typedef struct outfile {
    int fd;
    int force;
    int stream;  /* writing to a descriptor we do not own (stdout) */
    int unnamed; /* an O_TMPFILE file: no name until committed */
    char *final_path;
    char *tmp_path;   /* the named file, or the unnamed one's link for a
                       * forced commit; NULL once committed or removed */
    char fd_path[32]; /* unnamed: "/proc/self/fd/N" */
    void (*tap)(void *ctx, const void *buf, size_t n); /* sees every byte written */
    void *tap_ctx;
    uint64_t pos;          /* bytes written so far */
    uint64_t direct_from;  /* aligned writes from here on bypass the cache */
    size_t align;          /* direct I/O alignment; 0: this file gets none */
    int direct_set;        /* O_DIRECT is set on fd now */
    uint64_t direct_bytes; /* bytes written with O_DIRECT */
} outfile;

/* Create the file that becomes path: unnamed where the file system allows,
 * else the hidden named one.  Without force, fails early when path exists
 * ("output exists: ..."). */
c2s_status outfile_open(outfile *of, const char *path, int force, c2s_error *err);

/* The same, always through the hidden named file: the fallback's path,
 * for the tests to reach where O_TMPFILE works. */
c2s_status outfile_open_named(outfile *of, const char *path, int force, c2s_error *err);

/* A path that opens the bytes written so far, before commit (to re-read
 * them): the hidden name, or "/proc/self/fd/N" of the unnamed file.  NULL
 * for a stream or once committed. */
const char *outfile_read_path(const outfile *of);

/* Write to an already open descriptor (stdout): no temporary file, no
 * rename, nothing removed on failure; commit and abort leave fd open. */
void outfile_open_fd(outfile *of, int fd);

c2s_status outfile_write(outfile *of, const void *buf, size_t n, c2s_error *err);

/* Write aligned blocks at or after offset with direct I/O (UINT64_MAX:
 * never, the default).  No effect on streams or where the file system has
 * no direct I/O. */
void outfile_direct_from(outfile *of, uint64_t offset);

/* Bytes that can still be dirtied in the page cache before the kernel
 * starts background writeback: its threshold (vm.dirty_background_bytes,
 * or vm.dirty_background_ratio percent of free and file-cache memory, as
 * the kernel counts it) less what is dirty or under writeback now.
 * UINT64_MAX when /proc does not tell. */
uint64_t outfile_writeback_room(void);

/* Close and move into place. */
c2s_status outfile_commit(outfile *of, c2s_error *err);

/* Close and remove the temporary file (no-op after commit); frees paths. */
void outfile_abort(outfile *of);

#endif /* OUTFILE_H */
