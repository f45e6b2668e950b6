/*
 * outfile.h - atomic creation of the output file.
 *
 * Bytes go to a temporary file created (O_EXCL, mode 0666 minus umask) in
 * the target's directory under a hidden name ".<name>.<random>.c2s-tmp".
 * outfile_commit() moves it into place: without force through link(2), which
 * fails if the target appeared meanwhile, so nothing is ever overwritten by
 * accident; with force through rename(2).  outfile_abort() removes the
 * temporary file; it is safe to call at any point, also after commit.
 *
 * Writes are unbuffered write(2) calls: callers pass large blocks.
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
    int stream;       /* writing to a descriptor we do not own (stdout) */
    char *final_path;
    char *tmp_path;   /* NULL once committed or removed */
    void (*tap)(void *ctx, const void *buf, size_t n); /* sees every byte written */
    void *tap_ctx;
    uint64_t pos;           /* bytes written so far */
    uint64_t direct_from;   /* aligned writes from here on bypass the cache */
    size_t align;           /* direct I/O alignment; 0: this file gets none */
    int direct_set;         /* O_DIRECT is set on fd now */
    uint64_t direct_bytes;  /* bytes written with O_DIRECT */
} outfile;

/* Create the temporary file for path.  Without force, fails early when path
 * exists ("output exists: ... (use -f to overwrite)"). */
c2s_status outfile_open(outfile *of, const char *path, int force, c2s_error *err);

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
