/*
 * test_terminal.c - what only a terminal gets: the progress line and
 * colour.
 *
 * The binary runs with stderr on a pseudo-terminal (tr_run_pty, 160
 * columns).  What the terminal received is cut at '\r' and '\n' into
 * segments: messages ("ckpt2safetensors: ..."), blank wipes, and progress
 * lines, which hold times and rates and so are matched with patterns
 * (tests/tool/test_progress.c checks their exact text on a set clock).
 * The colour tests compare exact bytes, escape codes included.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <regex.h>

#include "cli_sandbox.h"
#include "run_util.h"
#include "test_util.h"

TestSuite(terminal, .init = cs_setup, .fini = cs_teardown, .timeout = 60);

#define PTY(env, ...) tr_run_pty(cs_bin, cs_dir, 0, env, (const char *const[]){__VA_ARGS__, NULL})

/* ---- the progress line ------------------------------------------------------------ */

#define SIZE "[0-9.]+ (B|KiB|MiB|GiB)"
#define TIME "[0-9]+:[0-9]{2}"
/* done and the rate right-aligned in 10 columns; the rate "--" at first */
#define NUMBERS " {0,7}" SIZE "/" SIZE "  ( {0,7}" SIZE "| {8}--)/s  " TIME "  ETA (" TIME "|-:--)"
#define BAR " *[0-9]+% \\[[# ]{20}\\]"

static int matches(const char *pattern, const char *s)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0, "bad pattern %s", pattern);
    int yes = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return yes;
}

/* The progress lines the terminal got, in order, trailing blanks cut
 * (messages and wipes left out); returns how many. */
static size_t progress_lines(const char *tty, char lines[][TR_PTY_COLS + 1], size_t cap)
{
    size_t n = 0;
    for (const char *p = tty; *p;) {
        size_t len = strcspn(p, "\r\n");
        while (len > 0 && p[len - 1] == ' ')
            len--;
        int message = strncmp(p, "ckpt2safetensors: ", 18) == 0;
        if (len > 0 && !message) {
            cr_assert_lt(n, cap, "too many progress lines");
            cr_assert_leq(len, TR_PTY_COLS - 1, "a line wider than the terminal");
            memcpy(lines[n], p, len);
            lines[n++][len] = '\0';
        }
        p += strcspn(p, "\r\n");
        p += strspn(p, "\r\n");
    }
    return n;
}

Test(terminal, one_file_shows_writing_then_verifying)
{
    cs_put("m.ckpt", "fixtures/sample.ckpt");
    tr_result r = PTY(NULL, "--verify", "m.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    static char lines[256][TR_PTY_COLS + 1];
    size_t n = progress_lines(r.err, lines, 256);
    size_t writing = 0, verifying = 0;
    for (size_t i = 0; i < n; i++) {
        const char *l = lines[i];
        if (strncmp(l, "opening", 7) == 0) {
            cr_expect(matches("^opening    " TIME "$", l), "%s", l);
            cr_expect_eq(writing + verifying, 0, "opening after the write began: %s", l);
        } else if (strncmp(l, "writing", 7) == 0) {
            cr_expect(matches("^writing  " BAR " " NUMBERS "$", l), "%s", l);
            cr_expect_eq(verifying, 0, "writing after verifying began: %s", l);
            writing++;
        } else {
            cr_expect(matches("^verifying" BAR " " NUMBERS "$", l), "%s", l);
            verifying++;
        }
        /* one percentage, no file count: the line is about this file only */
        cr_expect(strchr(strchr(l, '%') ? strchr(l, '%') + 1 : l, '%') == NULL, "%s", l);
        cr_expect(!matches(" [0-9]+/[0-9]+( |$)", l), "%s", l);
        cr_expect(i == 0 || strcmp(l, lines[i - 1]) != 0, "drawn twice: %s", l);
    }
    cr_expect(writing > 0 && verifying > 0, "terminal got: %s", r.err);
    /* wiped before the file's message; the message says it was verified */
    cr_expect(matches("\r +\rckpt2safetensors: m.ckpt: left out: optimizer_states \\(24 "
                      "tensors\\)\r\nckpt2safetensors: m.ckpt -> m.safetensors: 11 tensors, "
                      "4.5 KiB in [0-9.]+ s, verified\r\n$",
                      r.err),
              "terminal got: %s", r.err);
    tr_free(&r);
}

Test(terminal, batch_line_shows_the_run_and_the_current_file)
{
    cs_put("a.ckpt", "fixtures/sample.ckpt");
    cs_put("b.pt", "fixtures/good/views.pt");
    cs_put("c.pt", "fixtures/good/dtypes.pt");
    tr_result r = PTY(NULL, "-j", "2", "--verify", "a.ckpt", "b.pt", "c.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    static char lines[256][TR_PTY_COLS + 1];
    size_t n = progress_lines(r.err, lines, 256);
    cr_expect_gt(n, 0, "no progress line: %s", r.err);
    for (size_t i = 0; i < n; i++)
        cr_expect(matches("^" BAR " " NUMBERS "  [0-3]/3(  (a.ckpt|b.pt|c.pt) (opening|(writing|"
                          "verifying) [0-9]+%)( \\(\\+1\\))?)?$",
                          lines[i]),
                  "%s", lines[i]);
    /* the summary comes after the line is wiped for good */
    cr_expect(matches("\r +\rckpt2safetensors: converted 3, skipped 0, refused 0, failed 0; "
                      "[^\r\n]*\r\n$",
                      r.err),
              "terminal got: %s", r.err);
    tr_free(&r);
}

Test(terminal, no_progress_line_with_quiet)
{
    cs_put("a.ckpt", "fixtures/sample.ckpt");
    tr_result r = PTY(NULL, "-q", "--verify", "a.ckpt");
    cr_assert_eq(r.code, 0);
    cr_expect_str_empty(r.err);
    tr_free(&r);
}

/* ---- colour ------------------------------------------------------------------------ */

#define RED "\033[1;31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define END "\033[0m"

/* What --scan prints for evil.pt (-q: the verdict line only) on a
 * terminal (stdout on it too: "\r\n"). */
#define SCAN_EVIL_TTY "evil.pt: " RED "unsafe" END " (zip): 1 dangerous global\r\n"
#define SCAN_GOOD_TTY "good.pt: " GREEN "safe" END " (zip): 5 globals, none refused\r\n"

Test(terminal, verdicts_in_colour_on_a_terminal)
{
    cs_put("evil.pt", "fixtures/hostile/reduce_posix_system.pt");
    cs_put("good.pt", "fixtures/good/parameters.pt");
    cs_put("broken.pt", "fixtures/bad/truncated_zip.pt");
    tr_result r = tr_run_pty(cs_bin, cs_dir, 1, NULL,
                             (const char *const[]){"--scan", "-q", "evil.pt", "good.pt", NULL});
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, SCAN_EVIL_TTY SCAN_GOOD_TTY);
    tr_free(&r);
    r = tr_run_pty(cs_bin, cs_dir, 1, NULL,
                   (const char *const[]){"--scan", "-q", "broken.pt", NULL});
    cr_expect_str_eq(r.err, "broken.pt: " YELLOW "corrupt" END ": corrupt zip archive: no end of "
                            "central directory record (truncated?)\r\n");
    tr_free(&r);
    /* the globals' classes: dangerous in red */
    r = tr_run_pty(cs_bin, cs_dir, 1, NULL, (const char *const[]){"--scan", "evil.pt", NULL});
    cr_expect(strstr(r.err, "\r\n  " RED "dangerous" END "  posix.system ") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "\r\n  allowed    torch.FloatStorage ") != NULL, "%s", r.err);
    tr_free(&r);
}

/* A batch on a terminal: errors, warnings and the failure rows coloured;
 * the progress line is wiped before each message. */
Test(terminal, errors_warnings_and_summary_rows_in_colour)
{
    cs_put("evil.pt", "fixtures/hostile/reduce_posix_system.pt");
    cs_put("broken.pt", "fixtures/bad/truncated_zip.pt");
    char *empty = tu_path(cs_dir, "empty");
    cr_assert_eq(mkdir(empty, 0755), 0);
    tr_result r = PTY(NULL, "-j", "1", "evil.pt", "broken.pt", "-r", "empty");
    cr_expect_eq(r.code, 3);
    const char *want[] =
        {"ckpt2safetensors: " YELLOW "warning" END ": empty: no file to convert under it\r\n",
         "ckpt2safetensors: " RED "error" END ": evil.pt: refused by the safety policy: dangerous "
         "global posix.system (REDUCE) in archive/data.pkl at offset 154\r\n",
         "ckpt2safetensors: " RED "error" END ": broken.pt: corrupt zip archive: no end of central "
         "directory record (truncated?)\r\n",
         "\r\n  " RED "failed" END "   broken.pt: corrupt zip archive: no end of central directory "
         "record (truncated?)\r\n  " RED "refused" END "  evil.pt: refused by the safety policy: "
         "dangerous global posix.system (REDUCE) in archive/data.pkl at offset 154\r\n"};
    const char *at = r.err;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at, want[i]);
        cr_expect_not_null(hit, "missing, or out of order: %s\nterminal got: %s", want[i], r.err);
        at = hit ? hit + strlen(want[i]) : at;
    }
    cr_expect_str_eq(at, "", "after the rows: %s", at);
    tr_free(&r);
    rmdir(empty);
    free(empty);
}

/* No escape code at all: count ESC bytes. */
static size_t escapes(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\033';
    return n;
}

Test(terminal, no_color_and_color_never_turn_it_off)
{
    cs_put("evil.pt", "fixtures/hostile/reduce_posix_system.pt");
    cs_put("good.pt", "fixtures/good/parameters.pt");
    const char *const no_color[] = {"NO_COLOR=1", NULL};
    tr_result r = tr_run_pty(cs_bin, cs_dir, 1, no_color,
                             (const char *const[]){"--scan", "evil.pt", "good.pt", NULL});
    cr_expect_eq(r.code, 3);
    cr_expect_eq(escapes(r.err), 0, "%s", r.err);
    cr_expect(strstr(r.err, "evil.pt: unsafe (zip): 1 dangerous global\r\n") != NULL, "%s", r.err);
    tr_free(&r);
    r = PTY(no_color, "-j", "1", "evil.pt", "good.pt");
    cr_expect_eq(escapes(r.err), 0, "%s", r.err);
    cr_expect(strstr(r.err, "ckpt2safetensors: error: evil.pt: ") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "\r\n  refused  evil.pt: ") != NULL, "%s", r.err);
    tr_free(&r);
    /* NO_COLOR set but empty: as if unset */
    const char *const empty[] = {"NO_COLOR=", NULL};
    r = tr_run_pty(cs_bin, cs_dir, 1, empty,
                   (const char *const[]){"--scan", "-q", "evil.pt", NULL});
    cr_expect_str_eq(r.err, SCAN_EVIL_TTY);
    tr_free(&r);
    /* --color=never on a terminal; --color=always wins over NO_COLOR */
    r = tr_run_pty(cs_bin, cs_dir, 1, NULL,
                   (const char *const[]){"--color=never", "--scan", "-q", "evil.pt", NULL});
    cr_expect_str_eq(r.err, "evil.pt: unsafe (zip): 1 dangerous global\r\n");
    tr_free(&r);
    r = tr_run_pty(cs_bin, cs_dir, 1, no_color,
                   (const char *const[]){"--color", "always", "--scan", "-q", "evil.pt", NULL});
    cr_expect_str_eq(r.err, SCAN_EVIL_TTY);
    tr_free(&r);
}

Test(terminal, not_a_terminal_gets_no_escape_codes_unless_always)
{
    cs_put("evil.pt", "fixtures/hostile/reduce_posix_system.pt");
    const char *const args[] = {"--scan", "-q", "evil.pt", NULL};
    tr_result r = tr_finish(tr_start(cs_bin, cs_dir, cs_dir, args), cs_dir);
    cr_expect_str_eq(r.out, "evil.pt: unsafe (zip): 1 dangerous global\n");
    tr_free(&r);
    r = tr_finish(tr_start(cs_bin, cs_dir, cs_dir,
                           (const char *const[]){"-j", "1", "evil.pt", NULL}),
                  cs_dir);
    cr_expect_eq(r.code, 3);
    cr_expect_eq(escapes(r.err), 0, "%s", r.err);
    tr_free(&r);
    r = tr_finish(tr_start(cs_bin, cs_dir, cs_dir,
                           (const char *const[]){"--color=always", "--scan", "-q", "evil.pt",
                                                 NULL}),
                  cs_dir);
    cr_expect_str_eq(r.out, "evil.pt: " RED "unsafe" END " (zip): 1 dangerous global\n");
    tr_free(&r);
    r = tr_finish(tr_start(cs_bin, cs_dir, cs_dir,
                           (const char *const[]){"--color=sometimes", NULL}),
                  cs_dir);
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --color takes auto, always or never, not "
                            "'sometimes'\n");
    tr_free(&r);
}
