/*
 * replay.c - run a fuzz harness on saved inputs, without libFuzzer.
 *
 *   build/asan/fuzz_pvm_replay tests/fuzz/corpus/pvm [more dirs or files]
 *
 * Linked with one harness (fuzz_*.c) and built with the ordinary compiler
 * plus AddressSanitizer and UBSan, this is how `make test` replays every
 * corpus input, so every crash found once stays a regression test.  Each
 * argument is a file or a directory (its regular files, in name order, not
 * recursive).  Each input is read into a buffer of exactly its size, so an
 * over-read is caught as it would be under libFuzzer.
 *
 * A crash, a sanitizer report, a violated property (abort) or an input that
 * runs longer than REPLAY_TIMEOUT seconds (default 10) ends the run with the
 * name of the input on stderr.  With LeakSanitizer, leaks are checked after
 * every input so that the input that leaks is named.  The last line is
 * "replay: N passed, M failed"; the exit status is 0 only when M is 0.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1
#endif
#endif

#ifdef REPLAY_ASAN
#include <sanitizer/common_interface_defs.h> /* __sanitizer_set_death_callback */
#include <sanitizer/lsan_interface.h>        /* __lsan_do_recoverable_leak_check */
#endif

/* The input being run, for the messages of the signal and death handlers. */
static const char *current;

static void say_current(const char *what)
{
    static const char pre[] = "replay: ";
    if (current == NULL)
        return;
    /* write(2) only: this runs in signal handlers */
    ssize_t r = write(STDERR_FILENO, pre, sizeof pre - 1);
    r = write(STDERR_FILENO, what, strlen(what));
    r = write(STDERR_FILENO, current, strlen(current));
    r = write(STDERR_FILENO, "\n", 1);
    (void)r;
}

static void on_death(void)
{
    say_current("crashed on ");
}

static void on_signal(int sig)
{
    say_current(sig == SIGALRM ? "timed out on " : "crashed on ");
    current = NULL; /* said once */
    if (sig == SIGALRM)
        sig = SIGABRT; /* die as a crash does */
    signal(sig, SIG_DFL);
    raise(sig);
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
        }
    }
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    /* exactly len bytes (at least one allocated byte, none readable when empty) */
    *data = malloc(len ? len : 1);
    if (*data == NULL) {
        free(buf);
        return -1;
    }
    memcpy(*data, buf, len);
    free(buf);
    *size = len;
    return 0;
}

typedef struct tally {
    unsigned long passed, failed;
    int leak_checks; /* off after the first leak: later checks would repeat it */
} tally;

static void run_one(const char *path, tally *t)
{
    uint8_t *data;
    size_t size;
    if (read_file(path, &data, &size) != 0) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        t->failed++;
        return;
    }
    const char *limit = getenv("REPLAY_TIMEOUT");
    current = path;
    alarm(limit && atoi(limit) > 0 ? (unsigned)atoi(limit) : 10);
    LLVMFuzzerTestOneInput(data, size);
    alarm(0);
    free(data);
#ifdef REPLAY_ASAN
    if (t->leak_checks && __lsan_do_recoverable_leak_check() != 0) {
        fprintf(stderr, "replay: %s leaks memory\n", path);
        t->leak_checks = 0;
        t->failed++;
        current = NULL;
        return;
    }
#endif
    current = NULL;
    t->passed++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void out_of_memory(void)
{
    fprintf(stderr, "replay: out of memory\n");
    exit(1);
}

/* The regular files of dir, in name order. */
static void run_dir(const char *dir, tally *t)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
        t->failed++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **bigger = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            if (bigger == NULL)
                out_of_memory();
            names = bigger;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (p == NULL)
            out_of_memory();
        snprintf(p, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            names[n++] = p;
        else
            free(p);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        run_one(names[i], t);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
#ifdef REPLAY_ASAN
    __sanitizer_set_death_callback(on_death); /* ASan owns SIGSEGV and friends */
#else
    (void)on_death;
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
#endif
    signal(SIGABRT, on_signal);
    signal(SIGALRM, on_signal);
    tally t = {0, 0, 1};
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            run_dir(argv[i], &t);
        else
            run_one(argv[i], &t);
    }
    printf("replay: %lu passed, %lu failed\n", t.passed, t.failed);
    fflush(stdout); /* LeakSanitizer's report at exit ends the process without flushing */
    return t.failed == 0 ? 0 : 1;
}
