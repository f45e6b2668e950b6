/*
 * tool_color.c - colour on a terminal (see tool_color.h).
 */
#include "tool_color.h"

#include <string.h>
#include <unistd.h>

int tool_color_wanted(tool_color_mode mode, int fd, const char *no_color)
{
    if (mode != TOOL_COLOR_AUTO)
        return mode == TOOL_COLOR_ALWAYS;
    if (no_color != NULL && no_color[0] != '\0')
        return 0;
    return isatty(fd);
}

const char *tool_color(int on, tool_hue hue)
{
    if (!on)
        return "";
    switch (hue) {
    case TOOL_HUE_GOOD:
        return "\033[32m";
    case TOOL_HUE_BAD:
        return "\033[1;31m";
    default:
        return "\033[33m";
    }
}

const char *tool_color_end(int on)
{
    return on ? "\033[0m" : "";
}

int tool_color_parse(const char *s, tool_color_mode *mode)
{
    static const struct {
        const char *name;
        tool_color_mode mode;
    } MODES[] = {{"auto", TOOL_COLOR_AUTO},
                 {"always", TOOL_COLOR_ALWAYS},
                 {"never", TOOL_COLOR_NEVER}};
    for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++)
        if (strcmp(s, MODES[i].name) == 0) {
            *mode = MODES[i].mode;
            return 0;
        }
    return -1;
}
