/*
 * fuzz_scan.c - the safety verdict (c2s_scan) on arbitrary bytes.
 *
 * Property: for any input file, c2s_scan() never crashes, leaks or hangs;
 * its status agrees with its verdict (safe: C2S_OK, unsafe: C2S_ERR_REFUSED,
 * corrupt and unreadable: C2S_ERR_INPUT); an unreadable report says why, a
 * corrupt one lists its damage (rule C2S_RULE_CORRUPT); an unsafe one
 * names at least one dangerous or unknown global or one finding; and every
 * global it reports carries a class that policy_refuses() agrees with the
 * verdict about.  The zip and the non-zip (legacy load path) branches are
 * both reached, since the input's first bytes decide.
 *
 * The input is written to one file in a private temporary directory made
 * once per process and removed at exit.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "c2s.h"
#include "fuzz.h"
#include "pickle/policy.h"

static struct {
    char dir[64];
    char in[96];
} paths;

static void cleanup(void)
{
    unlink(paths.in);
    rmdir(paths.dir);
}

static void setup_once(void)
{
    if (paths.dir[0] != '\0')
        return;
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 32)
        tmp = "/tmp";
    snprintf(paths.dir, sizeof paths.dir, "%s/c2s-fuzz-scan.XXXXXX", tmp);
    FUZZ_CHECK(mkdtemp(paths.dir) != NULL, "mkdtemp %s: %s", paths.dir, strerror(errno));
    snprintf(paths.in, sizeof paths.in, "%s/input.pt", paths.dir);
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    FILE *f = fopen(paths.in, "wb");
    FUZZ_CHECK(f != NULL, "cannot write %s", paths.in);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "short write");

    c2s_open_options o = {.limits = fuzz_limits()};
    c2s_report r;
    c2s_status st = c2s_scan(paths.in, &o, &r);
    size_t refused = 0;
    for (size_t i = 0; i < r.nglobals; i++) {
        FUZZ_CHECK(r.globals[i].module && r.globals[i].name && r.globals[i].pickle,
                   "global %zu without names", i);
        refused += policy_refuses(r.globals[i].cls);
    }
    switch (r.verdict) {
    case C2S_VERDICT_SAFE:
        FUZZ_CHECK(st == C2S_OK, "safe with status %d", st);
        FUZZ_CHECK(refused == 0 && r.findings.n == 0 && r.damage.n == 0,
                   "safe with %zu refused globals", refused);
        break;
    case C2S_VERDICT_UNSAFE:
        FUZZ_CHECK(st == C2S_ERR_REFUSED, "unsafe with status %d", st);
        FUZZ_CHECK(refused > 0 || r.findings.n > 0, "unsafe without a reason");
        break;
    case C2S_VERDICT_UNREADABLE:
        FUZZ_CHECK(st == C2S_ERR_INPUT, "unreadable with status %d", st);
        FUZZ_CHECK(r.error.msg[0] != '\0', "unreadable without a message");
        FUZZ_CHECK(refused == 0 && r.findings.n == 0, "unreadable but unsafe");
        FUZZ_CHECK(r.damage.n == 0, "unreadable with damage");
        break;
    case C2S_VERDICT_CORRUPT:
        FUZZ_CHECK(st == C2S_ERR_INPUT, "corrupt with status %d", st);
        FUZZ_CHECK(r.damage.n > 0 && r.error.rule == C2S_RULE_CORRUPT, "corrupt without damage");
        FUZZ_CHECK(refused == 0 && r.findings.n == 0, "corrupt but unsafe");
        break;
    default:
        FUZZ_CHECK(0, "verdict %d", (int)r.verdict);
    }
    c2s_report_free(&r);
    return 0;
}
