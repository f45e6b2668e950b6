/*
 * test_color.c - when a stream gets colour (tool_color_wanted) and the
 * --color values, called directly: a terminal is a pseudo-terminal opened
 * here, a non-terminal /dev/null.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tool/tool_color.h"

Test(color, auto_follows_the_terminal_and_no_color)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "no pseudo-terminal");
    int tty = open(ptsname(m), O_RDWR | O_NOCTTY), null = open("/dev/null", O_WRONLY);
    cr_assert(tty >= 0 && null >= 0);
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_AUTO, tty, NULL), 1);
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_AUTO, tty, ""), 1, "an empty NO_COLOR is unset");
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_AUTO, tty, "1"), 0);
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_AUTO, tty, "0"), 0, "any value counts");
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_AUTO, null, NULL), 0);
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_ALWAYS, null, "1"), 1);
    cr_expect_eq(tool_color_wanted(TOOL_COLOR_NEVER, tty, NULL), 0);
    close(tty);
    close(null);
    close(m);
}

Test(color, modes_and_escapes)
{
    tool_color_mode mode = TOOL_COLOR_NEVER;
    cr_expect(tool_color_parse("auto", &mode) == 0 && mode == TOOL_COLOR_AUTO);
    cr_expect(tool_color_parse("always", &mode) == 0 && mode == TOOL_COLOR_ALWAYS);
    cr_expect(tool_color_parse("never", &mode) == 0 && mode == TOOL_COLOR_NEVER);
    cr_expect_eq(tool_color_parse("yes", &mode), -1);
    cr_expect_eq(tool_color_parse("", &mode), -1);
    cr_expect_str_eq(tool_color(1, TOOL_HUE_GOOD), "\033[32m");
    cr_expect_str_eq(tool_color(1, TOOL_HUE_BAD), "\033[1;31m");
    cr_expect_str_eq(tool_color(1, TOOL_HUE_WARN), "\033[33m");
    cr_expect_str_eq(tool_color_end(1), "\033[0m");
    cr_expect_str_eq(tool_color(0, TOOL_HUE_BAD), "");
    cr_expect_str_eq(tool_color_end(0), "");
}
