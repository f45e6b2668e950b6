/*
 * tool_color.h - colour on a terminal: whether a stream gets it, and the
 * few colours the tool uses.
 *
 * --color=auto (the default) colours a stream that is a terminal, unless
 * NO_COLOR is set to a non-empty value (https://no-color.org); always and
 * never decide alone (--color=always wins over NO_COLOR: the command line
 * is the more specific wish).  tool_opts.c decides once for stderr and
 * once for stdout (tool_config.color_stderr / color_stdout); the printing
 * code asks tool_color() for the escape that starts a colour ("" when off)
 * and tool_color_end() for the one that ends it.  Only SGR codes (ECMA-48
 * "ESC [ n m"), which every terminal emulator in use understands.
 */
#ifndef TOOL_COLOR_H
#define TOOL_COLOR_H

typedef enum tool_color_mode {
    TOOL_COLOR_AUTO,
    TOOL_COLOR_ALWAYS,
    TOOL_COLOR_NEVER
} tool_color_mode;

typedef enum tool_hue {
    TOOL_HUE_GOOD, /* green: safe, converted */
    TOOL_HUE_BAD,  /* bold red: unsafe, refused, failed, error */
    TOOL_HUE_WARN  /* yellow: warning, corrupt, unreadable, unknown globals */
} tool_hue;

/* 1 when output to fd gets colour; no_color: the value of NO_COLOR (NULL
 * when unset). */
int tool_color_wanted(tool_color_mode mode, int fd, const char *no_color);

/* The escape that starts hue, or "" when on is 0. */
const char *tool_color(int on, tool_hue hue);

/* The escape that ends a colour, or "" when on is 0. */
const char *tool_color_end(int on);

/* Parse "auto", "always", "never"; -1 for anything else. */
int tool_color_parse(const char *s, tool_color_mode *mode);

#endif /* TOOL_COLOR_H */
