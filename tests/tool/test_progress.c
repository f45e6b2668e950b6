/*
 * test_progress.c - the progress line's text, exactly, at set times.
 *
 * The line is made by tool_progress_format() from the state the engine's
 * callbacks leave and a time; the tests drive the callbacks as a
 * conversion would, on a clock they set (no terminal: drawing is
 * disabled), and compare the whole line.  The pty tests
 * (tests/test_terminal.c) check that it reaches a terminal.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tool/tool_progress.h"

static double fake_now(void *ctx)
{
    return *(const double *)ctx;
}

/* A progress state on the clock *t, started at *t. */
static void setup_progress(tool_progress *p, double *t, int verify, size_t nslots, size_t nfiles,
                           uint64_t total_in)
{
    cr_assert_eq(tool_progress_init(p, NULL, 0, verify, nslots, nfiles, total_in), 0);
    p->clock = fake_now;
    p->clock_ctx = t;
    tool_progress_restart(p);
}

static void expect_line(const tool_progress *p, double t, size_t width, const char *want)
{
    char line[TOOL_PROGRESS_LINE_MAX];
    tool_progress_format(p, t, width, line, sizeof line);
    cr_expect_str_eq(line, want);
}

#define MiB (1024u * 1024u)

Test(progress, one_file_shows_its_phase_and_no_file_count)
{
    double t = 100;
    tool_progress p;
    setup_progress(&p, &t, 0, 1, 1, 50 * MiB);
    tool_progress_slot *s = &p.slots[0];
    tool_progress_start(s, "dir/model.ckpt", 50 * MiB);
    t = 101.5;
    expect_line(&p, t, 200, "opening    0:01");
    tool_progress_update(s, 0, 40 * MiB); /* the write starts at 101.5 */
    t = 103.5;
    tool_progress_update(s, 10 * MiB, 40 * MiB);
    expect_line(
        &p, t, 200,
        "writing    25% [#####               ]   10.0 MiB/40.0 MiB     5.0 MiB/s  0:03  ETA 0:06");
    /* the terminal's width less one column: a narrower bar, no bar, cut */
    expect_line(&p, t, 80,
                "writing    25% [###         ]   10.0 MiB/40.0 MiB     5.0 MiB/s  0:03  ETA 0:06");
    expect_line(&p, t, 70, "writing    25%   10.0 MiB/40.0 MiB     5.0 MiB/s  0:03  ETA 0:06");
    expect_line(&p, t, 60, "writing    25%   10.0 MiB/40.0 MiB     5.0 MiB/s  0:03  ETA");
    expect_line(&p, t, 21, "writing    25%   10.");
    tool_progress_update(s, 40 * MiB, 40 * MiB);
    expect_line(
        &p, 109.5, 200,
        "writing   100% [####################]   40.0 MiB/40.0 MiB     5.0 MiB/s  0:09  ETA 0:00");
    tool_progress_finish(s); /* then nothing: the file's own message follows */
    expect_line(&p, 110, 200, "");
    tool_progress_destroy(&p);
}

Test(progress, verifying_is_a_phase_of_its_own)
{
    double t = 0;
    tool_progress p;
    setup_progress(&p, &t, 1, 1, 1, 8 * MiB);
    tool_progress_slot *s = &p.slots[0];
    tool_progress_start(s, "m.pt", 8 * MiB);
    tool_progress_update(s, 8 * MiB, 8 * MiB);
    t = 4;
    tool_progress_verify(s, 0, 6 * MiB); /* its clock starts at 4 */
    t = 6;
    tool_progress_verify(s, 3 * MiB, 6 * MiB);
    expect_line(
        &p, t, 200,
        "verifying  50% [##########          ]    3.0 MiB/6.0 MiB     1.5 MiB/s  0:06  ETA 0:02");
    tool_progress_destroy(&p);

    /* nothing to compare (every tensor empty): verifying, done at once */
    setup_progress(&p, &t, 1, 1, 1, 100);
    s = &p.slots[0];
    tool_progress_start(s, "empty.pt", 100);
    tool_progress_update(s, 80, 80);
    tool_progress_verify(s, 0, 0);
    expect_line(
        &p, t, 200,
        "verifying 100% [####################]        0 B/0 B          --/s  0:00  ETA 0:00");
    tool_progress_destroy(&p);
}

Test(progress, batch_line_is_by_input_bytes_then_the_oldest_file)
{
    double t = 0;
    tool_progress p;
    setup_progress(&p, &t, 1, 2, 4, 400 * MiB);
    tool_progress_slot *a = &p.slots[0], *b = &p.slots[1];
    expect_line(
        &p, t, 200,
        "  0% [                    ]        0 B/400.0 MiB          --/s  0:00  ETA -:--  0/4");
    tool_progress_start(a, "t/a.ckpt", 100 * MiB);
    t = 1;
    tool_progress_start(b, "t/sub/b.pt", 100 * MiB);
    expect_line(
        &p, t, 200,
        "  0% [                    ]        0 B/400.0 MiB         0 B/s  0:01  ETA -:--  0/4  "
        "a.ckpt opening (+1)");
    /* a: written, half verified = 75% of its 100 MiB; b: half written = 25% */
    tool_progress_update(a, 10, 10);
    tool_progress_verify(a, 5, 10);
    tool_progress_update(b, 1, 2);
    t = 10;
    expect_line(
        &p, t, 200,
        " 25% [#####               ]  100.0 MiB/400.0 MiB    10.0 MiB/s  0:10  ETA 0:30  0/4  "
        "a.ckpt verifying 50% (+1)");
    tool_progress_finish(a);
    tool_progress_finish(b);
    t = 20;
    expect_line(
        &p, t, 200,
        " 50% [##########          ]  200.0 MiB/400.0 MiB    10.0 MiB/s  0:20  ETA 0:20  2/4");
    tool_progress_destroy(&p);
}

Test(progress, batch_without_sizes_counts_files)
{
    double t = 0;
    tool_progress p;
    setup_progress(&p, &t, 0, 1, 2, 0);
    tool_progress_slot *a = &p.slots[0];
    tool_progress_start(a, "x.index", 0);
    tool_progress_update(a, 1, 2);
    t = 5;
    expect_line(&p, t, 200, " 25% [#####               ] 0:05  ETA 0:15  0/2  x.index writing 50%");
    tool_progress_destroy(&p);
}

Test(progress, batch_line_on_a_narrow_terminal)
{
    double t = 0;
    tool_progress p;
    setup_progress(&p, &t, 1, 2, 2, 2048 * MiB);
    tool_progress_slot *a = &p.slots[0], *b = &p.slots[1];
    tool_progress_start(a, "hf/pytorch_model-00001-of-00002.bin", 1024 * MiB);
    tool_progress_start(b, "hf/pytorch_model-00002-of-00002.bin", 1024 * MiB);
    tool_progress_update(a, 3, 4);
    tool_progress_update(b, 1, 4);
    t = 8;
    /* wide enough: all of it */
    expect_line(&p, t, 200,
                " 25% [#####               ]  512.0 MiB/2.0 GiB    64.0 MiB/s  0:08  ETA 0:24  "
                "0/2  pytorch_model-00001-of-00002.bin writing 75% (+1)");
    /* 115 columns: the bar narrows to leave the file's part 36 columns,
     * the name keeps its end */
    expect_line(&p, t, 115,
                " 25% [####             ]  512.0 MiB/2.0 GiB    64.0 MiB/s  0:08  ETA 0:24  0/2  "
                "...1-of-00002.bin writing 75% (+1)");
    /* 100: no bar */
    expect_line(&p, t, 100,
                " 25%  512.0 MiB/2.0 GiB    64.0 MiB/s  0:08  ETA 0:24  0/2  "
                "...-00001-of-00002.bin writing 75% (+1)");
    /* 80: no bar, the name at its shortest, the rest cut */
    expect_line(&p, t, 80,
                " 25%  512.0 MiB/2.0 GiB    64.0 MiB/s  0:08  ETA 0:24  0/2  ...2.bin writing 75");
    /* no file running, on a terminal narrower than the run's part */
    tool_progress_finish(a);
    tool_progress_finish(b);
    expect_line(&p, t, 30, "100%    2.0 GiB/2.0 GiB   256");
    tool_progress_destroy(&p);
}
