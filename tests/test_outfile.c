/*
 * test_outfile.c - the output file: no name until it is complete, and
 * direct I/O decided write by write.
 *
 * Both ways of creating it are run: the unnamed O_TMPFILE file
 * (outfile_open, where the file system has it) and the hidden named file
 * (outfile_open_named, what other file systems get).  Either way nothing
 * takes the target's name before commit, a target that appears meanwhile
 * is kept ("output exists"), force replaces it, and an abort leaves the
 * directory as it was.  Whatever mix of aligned and unaligned writes
 * comes, the file holds the same bytes; exactly the writes that are
 * aligned in memory, length and file position, at or after the
 * direct_from offset, go around the page cache (outfile.direct_bytes),
 * where the file system has direct I/O.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>

#include "engine/outfile.h"
#include "run_util.h"
#include "test_util.h"

TU_SUITE_WITH_DIR(outfile);

#define BLK 4096

/* Patterned bytes in aligned memory. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = aligned_alloc(BLK, (n + BLK - 1) / BLK * BLK);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7u + seed + (i >> 12));
    return p;
}

typedef struct step {
    size_t len;  /* bytes written */
    size_t skew; /* taken this far into the aligned buffer */
} step;

/* Write the steps (direct I/O from `from`), commit, check the bytes; return
 * the bytes written directly. */
static uint64_t write_steps(const step *s, size_t n, uint64_t from, int named)
{
    char *path = tu_path(dir, "out.bin");
    unlink(path);
    outfile of;
    c2s_error err;
    c2s_status st = named ? outfile_open_named(&of, path, 0, &err)
                          : outfile_open(&of, path, 0, &err);
    cr_assert_eq(st, C2S_OK, "%s", err.msg);
    outfile_direct_from(&of, from);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s[i].len;
    unsigned char *want = malloc(total + 1), *at = want;
    for (size_t i = 0; i < n; i++) {
        unsigned char *buf = pattern(s[i].len + s[i].skew, (unsigned)i);
        cr_assert_eq(outfile_write(&of, buf + s[i].skew, s[i].len, &err), C2S_OK, "%s", err.msg);
        memcpy(at, buf + s[i].skew, s[i].len);
        at += s[i].len;
        free(buf);
    }
    uint64_t direct = of.direct_bytes;
    cr_assert_eq(outfile_commit(&of, &err), C2S_OK, "%s", err.msg);
    outfile_abort(&of);
    size_t len;
    unsigned char *got = tu_read(path, &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, total);
    cr_assert(memcmp(got, want, total) == 0, "the file's bytes differ");
    free(got);
    free(want);
    free(path);
    return direct;
}

Test(outfile, only_aligned_writes_go_around_the_cache)
{
    int works = tu_direct_io_works(dir);
    step s[] = {
        {2 * BLK, 0},   /* aligned: direct */
        {100, 0},       /* unaligned length: cached; the position is now off */
        {BLK, 0},       /* aligned block at an unaligned position: cached */
        {BLK - 100, 0}, /* back on a block boundary */
        {3 * BLK, 16},  /* unaligned memory: cached */
        {BLK, 0},       /* direct */
        {17, 0},        /* the tail: cached */
    };
    for (int named = 0; named < 2; named++)
        cr_assert_eq(write_steps(s, 7, 0, named), works ? 3 * BLK : 0, "named %d", named);
}

Test(outfile, nothing_direct_before_the_offset_or_by_default)
{
    int works = tu_direct_io_works(dir);
    step s[] = {{BLK, 0}, {BLK, 0}, {2 * BLK, 0}, {BLK, 0}};
    cr_assert_eq(write_steps(s, 4, 2 * BLK, 0), works ? 3 * BLK : 0);
    cr_assert_eq(write_steps(s, 4, UINT64_MAX, 0), 0);
    cr_assert_eq(write_steps(s, 4, 5 * BLK, 0), 0); /* the last block starts at 4 blocks */
}

Test(outfile, streams_never_use_direct_io)
{
    char *path = tu_path(dir, "stream.bin");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    outfile of;
    outfile_open_fd(&of, fd);
    outfile_direct_from(&of, 0);
    cr_assert_eq(of.align, 0);
    unsigned char *buf = pattern(BLK, 1);
    c2s_error err;
    cr_assert_eq(outfile_write(&of, buf, BLK, &err), C2S_OK);
    cr_assert_eq(of.direct_bytes, 0);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_DIRECT, 0);
    outfile_abort(&of);
    close(fd);
    free(buf);
    free(path);
}

/* The kernel's background writeback room: unknown, or a number of bytes
 * below the machine's memory (a unit slip would overshoot it). */
Test(outfile, writeback_room_is_below_the_memory)
{
    uint64_t room = outfile_writeback_room();
    uint64_t mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (room != UINT64_MAX)
        cr_assert_lt(room, mem, "room %llu, memory %llu", (unsigned long long)room,
                     (unsigned long long)mem);
}

/* ---- no name until complete -------------------------------------------------------- */

/* Open path for writing, unnamed (where the file system allows) or named. */
static void open_as(outfile *of, const char *path, int force, int named)
{
    c2s_error err;
    c2s_status st = named ? outfile_open_named(of, path, force, &err)
                          : outfile_open(of, path, force, &err);
    cr_assert_eq(st, C2S_OK, "%s", err.msg);
    cr_assert_eq(of->unnamed, !named && tr_tmpfile_works(dir), "named %d", named);
}

static void put_text(const char *path, const char *text)
{
    cr_assert_eq(tu_write(path, text, strlen(text)), 0);
}

static void expect_text(const char *path, const char *want)
{
    size_t len;
    unsigned char *got = tu_read(path, &len);
    cr_assert_not_null(got, "%s unreadable", path);
    cr_assert(len == strlen(want) && memcmp(got, want, len) == 0, "%s: '%.*s', not '%s'", path,
              (int)len, (const char *)got, want);
    free(got);
}

/* The name of the one hidden temporary file in dir, or NULL. */
static char *hidden_temp(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    char *name = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 8 && strcmp(e->d_name + n - 8, ".c2s-tmp") == 0)
            name = tu_path(dir, e->d_name);
    }
    closedir(d);
    return name;
}

/* Nothing has the target's name while the file is written (the unnamed
 * file has no name at all, the named one a hidden one); the bytes can be
 * re-read before commit; commit gives the name and mode 0666 minus the
 * umask, and leaves nothing else. */
Test(outfile, named_only_at_commit)
{
    char *path = tu_path(dir, "out.bin");
    mode_t old = umask(027);
    for (int named = 0; named < 2; named++) {
        outfile of;
        c2s_error err;
        open_as(&of, path, 0, named);
        cr_assert_eq(outfile_write(&of, "hello", 5, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(tu_count_entries(dir), of.unnamed ? 0 : 1, "named %d", named);
        char *tmp = hidden_temp();
        cr_assert_eq(tmp != NULL, !of.unnamed, "named %d", named);
        free(tmp);
        const char *again = outfile_read_path(&of);
        cr_assert_not_null(again);
        expect_text(again, "hello");
        cr_assert_eq(outfile_commit(&of, &err), C2S_OK, "%s", err.msg);
        cr_assert_null(outfile_read_path(&of));
        outfile_abort(&of);
        expect_text(path, "hello");
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0640, "named %d: mode %o", named, st.st_mode & 07777);
        cr_assert_eq(tu_count_entries(dir), 1, "named %d", named);
        unlink(path);
    }
    umask(old);
    free(path);
}

/* Without force, a target that appears between open and commit is kept:
 * "output exists", and the new bytes go. */
Test(outfile, target_appearing_meanwhile_is_kept)
{
    char *path = tu_path(dir, "out.bin");
    char want[700];
    snprintf(want, sizeof want, "output exists: %s", path);
    for (int named = 0; named < 2; named++) {
        outfile of;
        c2s_error err;
        open_as(&of, path, 0, named);
        cr_assert_eq(outfile_write(&of, "new", 3, &err), C2S_OK, "%s", err.msg);
        put_text(path, "old");
        cr_assert_eq(outfile_commit(&of, &err), C2S_ERR_INPUT, "named %d", named);
        cr_assert_str_eq(err.msg, want);
        cr_assert_eq(err.rule, C2S_RULE_EXISTS);
        outfile_abort(&of);
        expect_text(path, "old");
        cr_assert_eq(tu_count_entries(dir), 1, "named %d: a temporary file is left", named);
        unlink(path);
    }
    free(path);
}

/* With force the target is replaced, also one that appeared meanwhile,
 * and no temporary name stays. */
Test(outfile, force_replaces_the_target)
{
    char *path = tu_path(dir, "out.bin");
    for (int named = 0; named < 2; named++) {
        for (int early = 0; early < 2; early++) {
            outfile of;
            c2s_error err;
            if (early)
                put_text(path, "old");
            open_as(&of, path, 1, named);
            cr_assert_eq(outfile_write(&of, "new", 3, &err), C2S_OK, "%s", err.msg);
            if (!early)
                put_text(path, "old");
            cr_assert_eq(outfile_commit(&of, &err), C2S_OK, "%s", err.msg);
            outfile_abort(&of);
            expect_text(path, "new");
            cr_assert_eq(tu_count_entries(dir), 1, "named %d early %d", named, early);
            unlink(path);
        }
    }
    free(path);
}

/* A forced commit that cannot replace the target (it became a directory)
 * fails, and takes back the temporary name it made. */
Test(outfile, failed_replacement_leaves_the_target_alone)
{
    char *path = tu_path(dir, "out.bin");
    char want[700];
    snprintf(want, sizeof want, "cannot create %s: %s", path, strerror(EISDIR));
    for (int named = 0; named < 2; named++) {
        outfile of;
        c2s_error err;
        open_as(&of, path, 1, named);
        cr_assert_eq(outfile_write(&of, "new", 3, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(mkdir(path, 0700), 0);
        cr_assert_eq(outfile_commit(&of, &err), C2S_ERR_INPUT, "named %d", named);
        cr_assert_str_eq(err.msg, want);
        outfile_abort(&of);
        cr_assert_eq(tu_count_entries(dir), 1, "named %d: a temporary file is left", named);
        cr_assert_eq(rmdir(path), 0);
    }
    free(path);
}

/* An abort before commit leaves the directory as it was. */
Test(outfile, abort_leaves_nothing)
{
    char *path = tu_path(dir, "out.bin");
    for (int named = 0; named < 2; named++) {
        outfile of;
        c2s_error err;
        open_as(&of, path, 0, named);
        cr_assert_eq(outfile_write(&of, "partial", 7, &err), C2S_OK, "%s", err.msg);
        outfile_abort(&of);
        outfile_abort(&of); /* twice is harmless */
        cr_assert_eq(tu_count_entries(dir), 0, "named %d", named);
    }
    free(path);
}

/* A write past the file size limit (SIGXFSZ ignored) says what the limit
 * is; the limit is put back afterwards. */
Test(outfile, file_size_limit_is_named)
{
    char *path = tu_path(dir, "out.bin");
    char want[700];
    snprintf(want, sizeof want,
             "cannot write %s: File too large (the file size limit, ulimit -f, is 8192 bytes)",
             path);
    unsigned char *buf = pattern(3 * BLK, 0);
    struct rlimit saved, small;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 2 * BLK;
    signal(SIGXFSZ, SIG_IGN);
    for (int named = 0; named < 2; named++) {
        outfile of;
        c2s_error err;
        open_as(&of, path, 0, named);
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
        c2s_status st = outfile_write(&of, buf, 3 * BLK, &err);
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
        cr_assert_eq(st, C2S_ERR_INPUT, "named %d", named);
        cr_assert_str_eq(err.msg, want);
        outfile_abort(&of);
        cr_assert_eq(tu_count_entries(dir), 0, "named %d", named);
    }
    signal(SIGXFSZ, SIG_DFL);
    free(buf);
    free(path);
}

/* Where O_TMPFILE is refused (EOPNOTSUPP, as on a file system without it)
 * outfile_open falls back to the named file; where the descriptor cannot
 * be linked itself (ENOENT: no CAP_DAC_READ_SEARCH) the unnamed file is
 * linked through /proc/self/fd.  Each in a child under a seccomp filter;
 * the exit code says which step failed. */
static int child_writes(const char *path, int no_tmpfile, int no_flink)
{
    if (tr_refuse_calls(no_tmpfile, no_flink) != 0)
        return 10;
    outfile of;
    c2s_error err;
    if (outfile_open(&of, path, 0, &err) != C2S_OK)
        return 11;
    if (of.unnamed != !no_tmpfile)
        return 12;
    char probe[700];
    snprintf(probe, sizeof probe, "%s.probe", path);
    if (no_flink && (linkat(of.fd, "", AT_FDCWD, probe, AT_EMPTY_PATH) == 0 || errno != ENOENT))
        return 13;
    if (outfile_write(&of, "bytes", 5, &err) != C2S_OK || outfile_commit(&of, &err) != C2S_OK)
        return 14;
    outfile_abort(&of);
    if (outfile_open(&of, path, 1, &err) != C2S_OK ||
        outfile_write(&of, "again", 5, &err) != C2S_OK || outfile_commit(&of, &err) != C2S_OK)
        return 15;
    outfile_abort(&of);
    return 0;
}

Test(outfile, fallbacks_where_the_system_refuses)
{
    if (!tr_tmpfile_works(dir) || !tr_refusing_works())
        cr_skip_test("needs O_TMPFILE and seccomp");
    char *path = tu_path(dir, "out.bin");
    for (int no_flink = 0; no_flink < 2; no_flink++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            _exit(child_writes(path, !no_flink, no_flink));
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "no_flink %d: status %#x",
                  no_flink, status);
        expect_text(path, "again");
        cr_assert_eq(tu_count_entries(dir), 1, "no_flink %d", no_flink);
        unlink(path);
    }
    free(path);
}
