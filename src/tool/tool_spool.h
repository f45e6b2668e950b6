/*
 * tool_spool.h - inputs that are pipes: standard input ('-'), a FIFO, a
 * /dev/fd/N of a process substitution.
 *
 * The library reads a checkpoint with positioned reads (a zip's directory
 * is at its end), so such an input is first copied whole ("spooled") into
 * a file no one else can see: an unnamed O_TMPFILE file in $TMPDIR
 * (default /tmp) or, where the file system has none, a file made with
 * mkstemp(3) there and unlinked at once.  The library then opens that
 * descriptor (c2s_open_fd, c2s_scan_fd) and never needs a path.  The spool
 * has no name while it is written, so nothing is left behind on any exit:
 * an error, a refusal, Ctrl-C (the signal interrupts the read and the
 * cancel flag stops the copy) or kill -9.  It takes the input's size in
 * $TMPDIR; running out of room (ENOSPC, EFBIG under ulimit -f) fails with
 * a message that names $TMPDIR.  Messages name the input as given: "-"
 * for standard input.
 */
#ifndef TOOL_SPOOL_H
#define TOOL_SPOOL_H

#include <signal.h>

#include "c2s.h"

/* 1 when input must be spooled: "-", or a path that is neither a regular
 * file nor a directory (a FIFO, a character device, a socket). */
int tool_needs_spool(const char *input);

/* Copy input ("-": descriptor 0) into a new spool; *fd is it, positioned
 * at 0, for the caller to close.  C2S_ERR_INPUT with the reason (cannot
 * open, cannot read, no room in $TMPDIR, "interrupted" when *cancel). */
c2s_status tool_spool(const char *input, const volatile sig_atomic_t *cancel, int *fd,
                      c2s_error *err);

/* c2s_open / c2s_scan of input, through a spool when it needs one. */
c2s_status tool_open_input(const char *input, const c2s_open_options *o,
                           const volatile sig_atomic_t *cancel, c2s_checkpoint **ck,
                           c2s_error *err);
c2s_status tool_scan_input(const char *input, const c2s_open_options *o,
                           const volatile sig_atomic_t *cancel, c2s_report *rep);

#endif /* TOOL_SPOOL_H */
