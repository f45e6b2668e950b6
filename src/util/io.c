/*
 * io.c - reading a file by position until done (see io.h).
 */
#include "util/io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

c2s_status pread_exact(int fd, void *buf, size_t n, uint64_t off, const char *what, c2s_error *err)
{
    ssize_t got = pread_full(fd, buf, n, off);
    if (got < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: read failed: %s", what, strerror(errno));
    if ((size_t)got < n)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated record", what);
    return C2S_OK;
}
