/*
 * tool_spool.c - copying a piped input into an unnamed file in $TMPDIR
 * (see tool_spool.h).
 */
#include "tool_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_msgs.h"
#include "tool_run.h"

#define SPOOL_BLOCK (1u << 20)

int tool_needs_spool(const char *input)
{
    struct stat st;
    if (strcmp(input, "-") == 0)
        return 1;
    return stat(input, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

static const char *spool_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir != NULL && *dir != '\0' ? dir : "/tmp";
}

/* A new file in dir that has no name: O_TMPFILE, else mkstemp + unlink. */
static int unnamed_file(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    size_t cap = strlen(dir) + sizeof "/.c2s-spool-XXXXXX";
    char *tmpl = malloc(cap);
    if (tmpl == NULL) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(tmpl, cap, "%s/.c2s-spool-XXXXXX", dir);
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0)
        unlink(tmpl); /* signals only set a flag: nothing runs between these */
    int saved = errno;
    free(tmpl);
    errno = saved;
    return fd;
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Every byte of src into dst. */
static c2s_status copy_all(int src, int dst, const volatile sig_atomic_t *cancel, char *buf,
                           c2s_error *err)
{
    for (;;) {
        if (tool_cancelled(cancel))
            return tool_fail(err, C2S_ERR_INPUT, "interrupted");
        ssize_t n = read(src, buf, SPOOL_BLOCK);
        if (n < 0 && errno == EINTR)
            continue; /* the loop head sees a Ctrl-C */
        if (n < 0)
            return tool_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno));
        if (n == 0)
            return C2S_OK;
        if (write_all(dst, buf, (size_t)n) != 0)
            return tool_fail(err, C2S_ERR_INPUT,
                             "cannot keep the input in $TMPDIR (%s) while it is read: %s",
                             spool_dir(), strerror(errno));
    }
}

c2s_status tool_spool(const char *input, const volatile sig_atomic_t *cancel, int *fd,
                      c2s_error *err)
{
    *fd = -1;
    int src = strcmp(input, "-") == 0 ? STDIN_FILENO : open(input, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return tool_fail(err, C2S_ERR_INPUT, "cannot open: %s", strerror(errno));
    int dst = unnamed_file(spool_dir());
    char *buf = dst >= 0 ? malloc(SPOOL_BLOCK) : NULL;
    c2s_status st;
    if (dst < 0)
        st = tool_fail(err, C2S_ERR_INPUT, "cannot create a file in $TMPDIR (%s) to keep it in: %s",
                       spool_dir(), strerror(errno));
    else if (buf == NULL)
        st = tool_fail(err, C2S_ERR_INPUT, "out of memory");
    else
        st = copy_all(src, dst, cancel, buf, err);
    free(buf);
    if (src != STDIN_FILENO)
        close(src);
    if (st != C2S_OK) {
        if (dst >= 0)
            close(dst);
        return st;
    }
    *fd = dst;
    return C2S_OK;
}

c2s_status tool_open_input(const char *input, const c2s_open_options *o,
                           const volatile sig_atomic_t *cancel, c2s_checkpoint **ck, c2s_error *err)
{
    *ck = NULL;
    if (!tool_needs_spool(input))
        return c2s_open(input, o, ck, err);
    int fd;
    c2s_status st = tool_spool(input, cancel, &fd, err);
    if (st != C2S_OK)
        return st;
    st = c2s_open_fd(fd, input, o, ck, err);
    close(fd); /* the library keeps its own duplicate */
    return st;
}

c2s_status tool_scan_input(const char *input, const c2s_open_options *o,
                           const volatile sig_atomic_t *cancel, c2s_report *rep)
{
    if (!tool_needs_spool(input))
        return c2s_scan(input, o, rep);
    int fd;
    c2s_error err;
    c2s_error_clear(&err);
    if (tool_spool(input, cancel, &fd, &err) != C2S_OK) {
        memset(rep, 0, sizeof *rep);
        rep->verdict = C2S_VERDICT_UNREADABLE;
        rep->format = NULL; /* never read */
        rep->error = err;
        return err.status;
    }
    c2s_status st = c2s_scan_fd(fd, input, o, rep);
    close(fd);
    return st;
}
