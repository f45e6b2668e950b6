/*
 * outfile.c - atomic creation of the output file (see include/outfile.h).
 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

c2s_status outfile_open(outfile *of, const char *path, int force, c2s_error *err)
{
    memset(of, 0, sizeof *of);
    of->fd = -1;
    of->force = force;
    struct stat st;
    if (!force && lstat(path, &st) == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "output exists: %s (use -f to overwrite)", path);
    if (force && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return c2s_fail(err, C2S_ERR_INPUT, "output is a directory: %s", path);
    of->final_path = strdup(path);
    if (of->final_path == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
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
            outfile_abort(of);
            return c2s_fail(err, C2S_ERR_INPUT, "cannot create output in the directory of %s: %s",
                            path, strerror(e));
        }
    }
    outfile_abort(of);
    return c2s_fail(err, C2S_ERR_INPUT, "cannot create a temporary file for %s", path);
}

void outfile_open_fd(outfile *of, int fd)
{
    memset(of, 0, sizeof *of);
    of->fd = fd;
    of->stream = 1;
}

c2s_status outfile_write(outfile *of, const void *buf, size_t n, c2s_error *err)
{
    const unsigned char *p = buf;
    if (of->tap != NULL)
        of->tap(of->tap_ctx, buf, n);
    while (n > 0) {
        ssize_t w = write(of->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return c2s_fail(err, C2S_ERR_INPUT, "cannot write %s: %s",
                            of->stream ? "the output" : of->final_path,
                            w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
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
        return c2s_fail(err, C2S_ERR_INPUT, "output exists: %s (use -f to overwrite)",
                        of->final_path);
    /* File systems without hard links: check, then rename (small race). */
    struct stat st;
    if (lstat(of->final_path, &st) == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "output exists: %s (use -f to overwrite)",
                        of->final_path);
    if (rename(of->tmp_path, of->final_path) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot create %s: %s", of->final_path,
                        strerror(errno));
    return C2S_OK;
}

c2s_status outfile_commit(outfile *of, c2s_error *err)
{
    if (of->stream)
        return C2S_OK;
    if (close(of->fd) != 0) {
        of->fd = -1;
        return c2s_fail(err, C2S_ERR_INPUT, "cannot write %s: %s", of->final_path,
                        strerror(errno));
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
}
