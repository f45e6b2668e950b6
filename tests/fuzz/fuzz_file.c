/*
 * fuzz_file.c - the whole conversion, from file to file, on arbitrary bytes.
 *
 * Property: for any input file, c2s_open() (with small limits) never
 * crashes, leaks or hangs and returns a documented status (C2S_OK,
 * C2S_ERR_INPUT, or C2S_ERR_REFUSED from the safety policy) with a
 * non-empty message on failure; when it opens, c2s_write() with force does
 * the same, and either leaves exactly the output it reports (file_bytes)
 * or leaves nothing at all: no output and no "*.c2s-tmp" temporary file.
 * One input in five is cancelled after the first block (through the cancel
 * flag, as on SIGINT), which must also leave nothing behind; inputs of odd
 * size are written with skip_unsupported.
 *
 * The input is written to one file in a private temporary directory made
 * once per process; the output goes next to it and is removed after each
 * input.  The directory is removed at exit.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "c2s.h"
#include "fuzz.h"

/* Outputs larger than this are not written: a tiny archive can describe a
 * huge expanded (stride 0) view, and writing it would only measure the disk. */
#define MAX_OUTPUT (4u << 20)

static struct {
    char dir[64];
    char in[96];
    char out[96];
} paths;

static volatile sig_atomic_t cancel_flag;

static void cleanup(void)
{
    unlink(paths.in);
    unlink(paths.out);
    rmdir(paths.dir);
}

static void setup_once(void)
{
    if (paths.dir[0] != '\0')
        return;
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 32)
        tmp = "/tmp";
    snprintf(paths.dir, sizeof paths.dir, "%s/c2s-fuzz.XXXXXX", tmp);
    FUZZ_CHECK(mkdtemp(paths.dir) != NULL, "mkdtemp %s: %s", paths.dir, strerror(errno));
    snprintf(paths.in, sizeof paths.in, "%s/input.pt", paths.dir);
    snprintf(paths.out, sizeof paths.out, "%s/output.safetensors", paths.dir);
    atexit(cleanup);
}

static void write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(paths.in, "wb");
    FUZZ_CHECK(f != NULL, "cannot create %s: %s", paths.in, strerror(errno));
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size, "short write to %s", paths.in);
    FUZZ_CHECK(fclose(f) == 0, "cannot write %s: %s", paths.in, strerror(errno));
}

static int is_temporary(const char *name)
{
    size_t n = strlen(name), k = strlen(".c2s-tmp");
    return n >= k && strcmp(name + n - k, ".c2s-tmp") == 0;
}

/* Abort if a temporary file is left in the directory. */
static void check_no_temporary(void)
{
    DIR *d = opendir(paths.dir);
    FUZZ_CHECK(d != NULL, "opendir %s: %s", paths.dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        FUZZ_CHECK(!is_temporary(e->d_name), "temporary file %s/%s left behind", paths.dir,
                   e->d_name);
    closedir(d);
}

static void check_status(c2s_status st, const c2s_error *err, const char *what)
{
    FUZZ_CHECK(st == C2S_OK || st == C2S_ERR_INPUT || st == C2S_ERR_REFUSED,
               "%s returned status %d", what, (int)st);
    if (st != C2S_OK)
        FUZZ_CHECK(err->msg[0] != '\0', "%s failed with an empty message", what);
}

static void cancel_after_first_block(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)done;
    (void)total;
    cancel_flag = 1;
}

static uint64_t output_bytes(const c2s_checkpoint *ck)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < c2s_tensor_count(ck); i++) {
        c2s_tensor_info t = c2s_tensor_at(ck, i);
        if (t.supported)
            sum += t.nbytes < MAX_OUTPUT ? t.nbytes : MAX_OUTPUT;
    }
    return sum;
}

static void convert(c2s_checkpoint *ck, size_t size)
{
    cancel_flag = 0;
    int cancel = size % 5 == 0;
    c2s_write_options wo = {
        .force = 1,
        .skip_unsupported = (size & 1) != 0,
        .cancel = &cancel_flag,
        .progress = cancel ? cancel_after_first_block : NULL,
        .buffer_size = 4096,
    };
    c2s_write_result res;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = c2s_write(ck, paths.out, &wo, &res, &err);
    check_status(st, &err, "c2s_write");
    struct stat sb;
    if (st == C2S_OK) {
        FUZZ_CHECK(stat(paths.out, &sb) == 0, "c2s_write succeeded, no output: %s",
                   strerror(errno));
        FUZZ_CHECK((uint64_t)sb.st_size == res.file_bytes, "output has %lld bytes, reported %llu",
                   (long long)sb.st_size, (unsigned long long)res.file_bytes);
        FUZZ_CHECK(res.tensors > 0 && res.tensors + res.skipped == c2s_tensor_count(ck),
                   "%zu written + %zu skipped of %zu tensors", res.tensors, res.skipped,
                   c2s_tensor_count(ck));
        FUZZ_CHECK(unlink(paths.out) == 0, "unlink %s: %s", paths.out, strerror(errno));
    } else {
        FUZZ_CHECK(stat(paths.out, &sb) != 0, "c2s_write failed (%s) but left %s", err.msg,
                   paths.out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    write_input(data, size);

    c2s_open_options oo = {.limits = fuzz_limits()};
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = c2s_open(paths.in, &oo, &ck, &err);
    check_status(st, &err, "c2s_open");
    FUZZ_CHECK((st == C2S_OK) == (ck != NULL), "c2s_open status %d with checkpoint %p", (int)st,
               (void *)ck);
    if (ck != NULL) {
        (void)c2s_big_endian(ck);
        if (output_bytes(ck) < MAX_OUTPUT)
            convert(ck, size);
        c2s_close(ck);
    }
    check_no_temporary();
    return 0;
}
