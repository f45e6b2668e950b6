/*
 * cli_sandbox.h - the working directory of the tests that run the program.
 *
 * Each test of a suite that includes it gets a fresh temporary directory,
 * cs_dir, removed with everything in it after the test, and the program's
 * absolute path, cs_bin (C2S_BIN, else ./ckpt2safetensors, resolved before
 * the program is started elsewhere).  Files are put there from fixtures
 * (cs_put) or text (cs_put_text), with their parent directories; cs_at
 * gives a path under it.  cs_mask_times takes out the one part of the
 * program's messages that varies from run to run, the seconds.
 *
 *     TestSuite(name, .init = cs_setup, .fini = cs_teardown, .timeout = 60);
 *
 * A suite that needs more (an environment, another directory) calls
 * cs_setup and cs_teardown from its own.
 */
#ifndef CLI_SANDBOX_H
#define CLI_SANDBOX_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

__attribute__((unused)) static char *cs_dir;
__attribute__((unused)) static char cs_bin[PATH_MAX];

static inline void cs_setup(void)
{
    const char *b = getenv("C2S_BIN");
    cr_assert_not_null(realpath(b && *b ? b : "./ckpt2safetensors", cs_bin), "no binary");
    cs_dir = tu_tmpdir();
    cr_assert_not_null(cs_dir);
}

static inline int cs_remove_entry(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void cs_teardown(void)
{
    if (cs_dir != NULL)
        nftw(cs_dir, cs_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(cs_dir);
    cs_dir = NULL;
}

/* rel under the working directory; malloc'd. */
static inline char *cs_at(const char *rel)
{
    char *p = tu_path(cs_dir, rel);
    cr_assert_not_null(p);
    return p;
}

/* The directories above rel, under the working directory. */
static inline void cs_make_parents(const char *rel)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", cs_dir, rel);
    for (char *p = buf + strlen(cs_dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        cr_assert(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s", buf);
        *p = '/';
    }
}

/* A copy of fixture (a path from the repository's root) as rel. */
static inline void cs_put(const char *rel, const char *fixture)
{
    cs_make_parents(rel);
    size_t n;
    unsigned char *b = tu_read(fixture, &n);
    cr_assert_not_null(b, "run from the repository root (%s)", fixture);
    char *p = cs_at(rel);
    cr_assert_eq(tu_write(p, b, n), 0);
    free(b);
    free(p);
}

static inline void cs_put_text(const char *rel, const char *text)
{
    cs_make_parents(rel);
    char *p = cs_at(rel);
    cr_assert_eq(tu_write(p, text, strlen(text)), 0);
    free(p);
}

/* Whether rel exists (a dangling link counts). */
static inline int cs_exists(const char *rel)
{
    char *p = cs_at(rel);
    struct stat st;
    int e = lstat(p, &st) == 0;
    free(p);
    return e;
}

/* " in 0.01 s" -> " in T s", at the end of a line or before ", verified". */
static inline void cs_mask_times(char *s)
{
    char *p = s;
    while ((p = strstr(p, " in ")) != NULL) {
        char *q = p + 4;
        if (*q < '0' || *q > '9') {
            p = q;
            continue;
        }
        while ((*q >= '0' && *q <= '9') || *q == '.')
            q++;
        if (strncmp(q, " s", 2) != 0 || (q[2] != '\n' && q[2] != '\0' && q[2] != ',')) {
            p = q;
            continue;
        }
        p[4] = 'T';
        memmove(p + 5, q, strlen(q) + 1);
        p += 5;
    }
}

#endif /* CLI_SANDBOX_H */
