/*
 * run_util.h - running the ckpt2safetensors binary from a test.
 *
 * The program (C2S_BIN, else ./ckpt2safetensors: the sanitizer run sets
 * C2S_BIN) is spawned with standard input from /dev/null and standard
 * output and error going to .stdout and .stderr in the test's directory;
 * tr_finish() waits for it and reads both back as NUL-terminated strings.
 * Starting and finishing are apart so that a test can signal the process
 * in between.
 *
 * tr_start_limited() starts it in a forked child under limits that stand
 * for other systems: a file size limit (RLIMIT_FSIZE), a file system
 * without O_TMPFILE, a user without CAP_DAC_READ_SEARCH.  The last two
 * are seccomp filters (tr_refuse_calls) that make exactly those calls
 * fail with the errno the kernel gives there; they hold across execve.
 * tr_output_kind() tells from /proc/PID/fd which kind of unfinished
 * output the process holds open in a directory.  tr_run_pty() runs it
 * with its stderr on a pseudo-terminal, for what only a terminal gets
 * (the progress line, colour).
 */
#ifndef RUN_UTIL_H
#define RUN_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

extern char **environ;

#define TR_MAX_ARGS 46

typedef struct tr_result {
    int code;  /* exit status; -1 when killed by a signal */
    int signo; /* the signal, or 0 */
    char *out, *err;
} tr_result;

static inline const char *tr_bin(void)
{
    const char *b = getenv("C2S_BIN");
    return b && *b ? b : "./ckpt2safetensors";
}

/* A whole file as a NUL-terminated string. */
static inline char *tr_slurp(const char *path)
{
    size_t n;
    unsigned char *b = tu_read(path, &n);
    cr_assert_not_null(b, "cannot read %s", path);
    char *s = realloc(b, n + 1);
    cr_assert_not_null(s);
    s[n] = '\0';
    return s;
}

/* Start bin with args (NULL-terminated) in directory cwd (NULL: this
 * one), its output to files in dir. */
static inline pid_t tr_start(const char *bin, const char *dir, const char *cwd,
                             const char *const *args)
{
    const char *argv[TR_MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = bin;
    for (; *args; args++) {
        cr_assert_lt(n, TR_MAX_ARGS + 1, "too many arguments for tr_start");
        argv[n++] = *args;
    }
    argv[n] = NULL;
    char *o = tu_path(dir, ".stdout"), *e = tu_path(dir, ".stderr");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (cwd != NULL)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot run %s", bin);
    free(o);
    free(e);
    return pid;
}

/* Wait for pid and collect what it wrote to dir's .stdout and .stderr. */
static inline tr_result tr_finish(pid_t pid, const char *dir)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    tr_result r = {0};
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    char *o = tu_path(dir, ".stdout"), *e = tu_path(dir, ".stderr");
    r.out = tr_slurp(o);
    r.err = tr_slurp(e);
    unlink(o);
    unlink(e);
    free(o);
    free(e);
    return r;
}

/* Run bin with args (NULL-terminated) in directory cwd with stderr (and
 * stdout when both) on a pseudo-terminal TR_PTY_COLS columns wide, as a
 * session leader; env: "NAME=VALUE" to set, "NAME" to unset in the child
 * (NULL: none).  What the terminal received is returned in err; stdout,
 * when not on it, in out (through cwd's .stdout). */
#define TR_PTY_COLS 160
static inline tr_result tr_run_pty(const char *bin, const char *cwd, int both,
                                   const char *const *env, const char *const *args)
{
    const char *argv[TR_MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = bin;
    for (; *args; args++) {
        cr_assert_lt(n, TR_MAX_ARGS + 1, "too many arguments for tr_run_pty");
        argv[n++] = *args;
    }
    argv[n] = NULL;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "no pseudo-terminal");
    struct winsize ws = {.ws_row = 24, .ws_col = TR_PTY_COLS};
    ioctl(m, TIOCSWINSZ, &ws);
    char *slave = strdup(ptsname(m));
    char *o = tu_path(cwd, ".stdout");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setsid();
        int s = open(slave, O_RDWR);
        int f = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int z = open("/dev/null", O_RDONLY);
        if (s < 0 || f < 0 || z < 0 || chdir(cwd) != 0)
            _exit(127);
        for (; env != NULL && *env != NULL; env++)
            if (strchr(*env, '=') != NULL)
                putenv((char *)*env);
            else
                unsetenv(*env);
        dup2(z, 0);
        dup2(both ? s : f, 1);
        dup2(s, 2);
        close(m);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    free(slave);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t got = read(m, buf + len, 4096);
        if (got > 0)
            len += (size_t)got;
        else if (got < 0 && errno == EINTR)
            continue;
        else
            break; /* EIO: the child closed the terminal */
    }
    buf[len] = '\0';
    close(m);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    tr_result r = {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                   WIFSIGNALED(status) ? WTERMSIG(status) : 0, tr_slurp(o), buf};
    unlink(o);
    free(o);
    return r;
}

/* The unfinished output a process holds open in a directory (or below). */
enum { TR_NONE, TR_UNNAMED, TR_NAMED };

/* Whether the link target of an open descriptor is, under dir (a real
 * path, n bytes), an O_TMPFILE file ("DIR/#123 (deleted)") or a hidden
 * "*.c2s-tmp" file. */
static inline int tr_kind_of(const char *target, const char *dir, size_t n)
{
    static const char deleted[] = " (deleted)", named[] = ".c2s-tmp";
    size_t len = strlen(target), d = sizeof deleted - 1, k = sizeof named - 1;
    if (len <= n + 1 || strncmp(target, dir, n) != 0 || target[n] != '/')
        return TR_NONE;
    const char *base = strrchr(target, '/') + 1;
    if (*base == '#' && len > d && strcmp(target + len - d, deleted) == 0)
        return TR_UNNAMED;
    if (len > k && strcmp(target + len - k, named) == 0)
        return TR_NAMED;
    return TR_NONE;
}

/* What pid is writing in dir that has no final name yet (TR_*). */
static inline int tr_output_kind(pid_t pid, const char *dir)
{
    char real[PATH_MAX], fds[64], link[64 + sizeof((struct dirent *)0)->d_name];
    char target[PATH_MAX + 32];
    if (realpath(dir, real) == NULL)
        return TR_NONE;
    snprintf(fds, sizeof fds, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(fds);
    int kind = TR_NONE;
    struct dirent *e;
    while (d != NULL && kind == TR_NONE && (e = readdir(d)) != NULL) {
        snprintf(link, sizeof link, "%s/%s", fds, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        kind = tr_kind_of(target, real, strlen(real));
    }
    if (d != NULL)
        closedir(d);
    return kind;
}

/* Stop pid as soon as it holds an unfinished output open in dir (polling
 * for up to 2 s); return its kind (TR_*), TR_NONE when it never did.  The
 * caller then sends its signal and SIGCONT. */
static inline int tr_stop_mid_write(pid_t pid, const char *dir)
{
    for (int i = 0; i < 20000; i++) {
        int kind = tr_output_kind(pid, dir);
        if (kind != TR_NONE) {
            kill(pid, SIGSTOP);
            return kind;
        }
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    return TR_NONE;
}

/* Whether dir's file system gives unnamed files (O_TMPFILE). */
static inline int tr_tmpfile_works(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

#if defined(__x86_64__)
#define TR_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TR_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* From now on, in this process and what it executes: no_tmpfile, openat
 * with O_TMPFILE fails with EOPNOTSUPP (a file system without it);
 * no_flink, linkat with AT_EMPTY_PATH fails with ENOENT (no
 * CAP_DAC_READ_SEARCH).  Returns 0, or -1 (errno) where seccomp is not
 * there; the tests then skip. */
static inline int tr_refuse_calls(int no_tmpfile, int no_flink)
{
#ifdef TR_AUDIT_ARCH
    /* the kernel's bit alone: glibc's O_TMPFILE includes O_DIRECTORY */
    unsigned tmpfile_bit = no_tmpfile ? (unsigned)(O_TMPFILE & ~O_DIRECTORY) : 0;
    unsigned flink_bit = no_flink ? (unsigned)AT_EMPTY_PATH : 0;
    struct sock_filter f[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TR_AUDIT_ARCH, 1, 0),
        /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 3),
        /* 5: the flags' low word (little-endian) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, tmpfile_bit, 0, 5),
        /* 7 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_linkat, 0, 3),
        /* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, flink_bit, 0, 1),
        /* 11 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOENT),
        /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
    (void)no_tmpfile, (void)no_flink;
    errno = ENOSYS;
    return -1;
#endif
}

/* Whether tr_refuse_calls works here (tried in a child). */
static inline int tr_refusing_works(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(tr_refuse_calls(1, 1) == 0 ? 0 : 1);
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

typedef struct tr_limits {
    int no_tmpfile;  /* O_TMPFILE refused: the file system has none */
    int no_flink;    /* linkat(AT_EMPTY_PATH) refused: an ordinary user */
    long long fsize; /* RLIMIT_FSIZE in bytes; 0: as it is */
} tr_limits;

/* tr_start under lim.  The child exits 126 when a limit cannot be set. */
static inline pid_t tr_start_limited(const char *bin, const char *dir, const char *cwd,
                                     const char *const *args, const tr_limits *lim)
{
    const char *argv[TR_MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = bin;
    for (; *args; args++) {
        cr_assert_lt(n, TR_MAX_ARGS + 1, "too many arguments for tr_start_limited");
        argv[n++] = *args;
    }
    argv[n] = NULL;
    char *o = tu_path(dir, ".stdout"), *e = tu_path(dir, ".stderr");
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(err, 2) < 0 || (cwd != NULL && chdir(cwd) != 0))
            _exit(126);
        struct rlimit rl;
        if (lim->fsize > 0 &&
            (getrlimit(RLIMIT_FSIZE, &rl) != 0 ||
             (rl.rlim_cur = (rlim_t)lim->fsize, setrlimit(RLIMIT_FSIZE, &rl) != 0)))
            _exit(126);
        if ((lim->no_tmpfile || lim->no_flink) &&
            tr_refuse_calls(lim->no_tmpfile, lim->no_flink) != 0)
            _exit(126);
        execve(bin, (char *const *)argv, environ);
        _exit(126);
    }
    free(o);
    free(e);
    return pid;
}

static inline void tr_free(tr_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Every row of folder/MANIFEST ("name<TAB>exit<TAB>what torch does<TAB>
 * message"; '#' lines are comments): converting folder/name into dir must
 * exit with that code, print exactly "ckpt2safetensors: error: INPUT:
 * message" and leave dir empty.  Returns the number of rows. */
static inline int tr_expect_manifest_failures(const char *folder, const char *dir)
{
    char path[512], line[1024];
    snprintf(path, sizeof path, "%s/MANIFEST", folder);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    int rows = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *name = strtok(line, "\t"), *code = strtok(NULL, "\t");
        char *torch = strtok(NULL, "\t"), *msg = strtok(NULL, "");
        cr_assert(name && code && torch && msg, "bad MANIFEST row in %s", path);
        char input[512], want[1200];
        snprintf(input, sizeof input, "%s/%s", folder, name);
        snprintf(want, sizeof want, "ckpt2safetensors: error: %s: %s\n", input, msg);
        char *out = tu_path(dir, "out.safetensors");
        tr_result r = tr_finish(tr_start(tr_bin(), dir, NULL,
                                         (const char *const[]){"-o", out, input, NULL}),
                                dir);
        cr_expect_eq(r.code, atoi(code), "%s: exit %d", name, r.code);
        cr_expect_str_eq(r.err, want);
        cr_expect_eq(tu_count_entries(dir), 0, "%s left a file behind", name);
        free(out);
        tr_free(&r);
        rows++;
    }
    fclose(f);
    return rows;
}

#endif /* RUN_UTIL_H */
