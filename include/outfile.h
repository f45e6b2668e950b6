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
 */
#ifndef OUTFILE_H
#define OUTFILE_H

#include <stddef.h>

#include "c2s_error.h"

typedef struct outfile {
    int fd;
    int force;
    int stream;       /* writing to a descriptor we do not own (stdout) */
    char *final_path;
    char *tmp_path;   /* NULL once committed or removed */
    void (*tap)(void *ctx, const void *buf, size_t n); /* sees every byte written */
    void *tap_ctx;
} outfile;

/* Create the temporary file for path.  Without force, fails early when path
 * exists ("output exists: ... (use -f to overwrite)"). */
c2s_status outfile_open(outfile *of, const char *path, int force, c2s_error *err);

/* Write to an already open descriptor (stdout): no temporary file, no
 * rename, nothing removed on failure; commit and abort leave fd open. */
void outfile_open_fd(outfile *of, int fd);

c2s_status outfile_write(outfile *of, const void *buf, size_t n, c2s_error *err);

/* Close and move into place. */
c2s_status outfile_commit(outfile *of, c2s_error *err);

/* Close and remove the temporary file (no-op after commit); frees paths. */
void outfile_abort(outfile *of);

#endif /* OUTFILE_H */
