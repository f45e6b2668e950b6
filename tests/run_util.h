/*
 * run_util.h - running the ckpt2safetensors binary from a test.
 *
 * The program (C2S_BIN, else ./ckpt2safetensors: the sanitizer run sets
 * C2S_BIN) is spawned with standard input from /dev/null and standard
 * output and error going to .stdout and .stderr in the test's directory;
 * tr_finish() waits for it and reads both back as NUL-terminated strings.
 * Starting and finishing are apart so that a test can signal the process
 * in between.
 */
#ifndef RUN_UTIL_H
#define RUN_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "test_util.h"

extern char **environ;

#define TR_MAX_ARGS 46

typedef struct tr_result {
    int code;      /* exit status; -1 when killed by a signal */
    int signo;     /* the signal, or 0 */
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

/* Stop pid as soon as present() sees its temporary file (polling for up
 * to 2 s); 0 when it never did.  The caller then sends its signal and
 * SIGCONT. */
static inline int tr_stop_mid_write(pid_t pid, int (*present)(void))
{
    for (int i = 0; i < 20000; i++) {
        if (present()) {
            kill(pid, SIGSTOP);
            return 1;
        }
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    return 0;
}

static inline void tr_free(tr_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

#endif /* RUN_UTIL_H */
