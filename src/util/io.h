/*
 * io.h - reading a file by position until done.
 *
 * pread(2) may return fewer bytes than asked (signals, pipes, network file
 * systems).  Every positioned read in the library goes through
 * pread_full(), which loops until the count is read, the file ends or an
 * error other than EINTR occurs.
 */
#ifndef UTIL_IO_H
#define UTIL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/c2s_error.h"

/* Read up to n bytes at off.  Returns the number read (less than n only at
 * the end of the file), or -1 with errno set. */
ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Read exactly n bytes at off, or fail (C2S_ERR_INPUT) with "<what>: read
 * failed: <reason>" or "<what>: truncated record". */
c2s_status pread_exact(int fd, void *buf, size_t n, uint64_t off, const char *what, c2s_error *err);

#endif /* UTIL_IO_H */
