/*
 * test_util.h - small file-system helpers shared by the test suites.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); caller frees and removes. */
static inline char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/c2s-test-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

/* Whether files in dir take direct I/O: one aligned 4 KiB write with
 * O_DIRECT (what outfile.c does), checked independently of it. */
static inline int tu_direct_io_works(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/.dio-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    if (fd < 0)
        return 0;
    void *block = aligned_alloc(4096, 4096);
    int ok = block != NULL;
    if (ok) {
        memset(block, 0, 4096);
        ok = pwrite(fd, block, 4096, 0) == 4096;
    }
    free(block);
    close(fd);
    unlink(path);
    return ok;
}

static inline char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static inline int tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

/* Whole file into a malloc'd buffer; NULL when unreadable. */
static inline unsigned char *tu_read(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/*
 * The options record ckpt2safetensors writes into __metadata__ when
 * content-shaping options are given ("ckpt2safetensors.options", see
 * src/tool/tool_rerun.h) taken out of a safetensors file in buf: the entry
 * is removed from the header, which is padded with spaces to a multiple
 * of 8 again, as the writer pads it.  What is left is the file the same
 * conversion wrote before the record existed, i.e. what the reference
 * writers (safetensors' save_file) write.  buf is left alone when it holds
 * no record.  The record itself is tested in tests/test_rerun.c.
 */
static inline void tu_strip_options_record(unsigned char *buf, size_t *len)
{
    static const char KEY[] = ",\"ckpt2safetensors.options\":\"";
    if (*len < 8)
        return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen > *len - 8)
        return;
    char *h = (char *)buf + 8;
    char *at = memmem(h, (size_t)hlen, KEY, sizeof KEY - 1);
    char *end = at ? memchr(at + sizeof KEY - 1, '"', (size_t)(h + hlen - (at + sizeof KEY - 1)))
                   : NULL;
    if (end == NULL)
        return;
    size_t cut = (size_t)(end + 1 - at), text = (size_t)hlen;
    while (text > 0 && h[text - 1] == ' ')
        text--;
    if (h + text <= end)
        return;
    text -= cut;
    size_t padded = (text + 7) / 8 * 8;
    if (padded > hlen)
        return;
    memmove(at, end + 1, (size_t)(h + hlen - (end + 1)));
    memset(h + text, ' ', padded - text);
    memmove(h + padded, h + hlen, *len - 8 - (size_t)hlen);
    *len = *len - (size_t)hlen + padded;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(padded >> (8 * i));
}

/* tu_read, then tu_strip_options_record. */
static inline unsigned char *tu_read_output(const char *path, size_t *len)
{
    unsigned char *buf = tu_read(path, len);
    if (buf != NULL)
        tu_strip_options_record(buf, len);
    return buf;
}

static inline int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Number of entries in dir (without . and ..). */
static inline int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Remove dir and the plain files in it. */
static inline void tu_rmdir(char *dir)
{
    if (dir == NULL)
        return;
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = tu_path(dir, e->d_name);
            if (p)
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

/* The folder of real third-party files (shared/realdata, see its README)
 * that holds sub ("torch", "tf"): $C2S_REALDATA, else ../shared/realdata
 * (CI: shared/ beside the checkout), else ../../shared/realdata (a
 * worktree one level deeper); NULL when none has it. */
static inline const char *tu_realdata(const char *sub)
{
    const char *candidates[] = {getenv("C2S_REALDATA"), "../shared/realdata",
                                "../../shared/realdata"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char p[1024];
        struct stat st;
        if (candidates[i] == NULL || candidates[i][0] == '\0')
            continue;
        snprintf(p, sizeof p, "%s/%s", candidates[i], sub);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            return candidates[i];
    }
    return NULL;
}

/* The fixture most suites use: each test gets a fresh temporary directory
 * in `dir`, removed with its plain files after the test.  Expands to the
 * suite's declaration (the file includes criterion/criterion.h). */
#define TU_SUITE_WITH_DIR(name)  \
    static char *dir;            \
    static void setup(void)      \
    {                            \
        dir = tu_tmpdir();       \
        cr_assert_not_null(dir); \
    }                            \
    static void teardown(void)   \
    {                            \
        tu_rmdir(dir);           \
        dir = NULL;              \
    }                            \
    TestSuite(name, .init = setup, .fini = teardown)

#endif /* TEST_UTIL_H */
