/*
 * tool_msgs.c - stderr messages of the command-line tool (see tool_msgs.h).
 */
#include "tool_msgs.h"

#include <stdarg.h>
#include <stdio.h>

static void emit(const char *kind, const char *file, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", TOOL_NAME);
    if (kind != NULL)
        fprintf(stderr, "%s: ", kind);
    if (file != NULL)
        fprintf(stderr, "%s: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void tool_error(const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error", file, fmt, ap);
    va_end(ap);
}

void tool_warn(const tool_config *cfg, const char *file, const char *fmt, ...)
{
    if (cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("warning", file, fmt, ap);
    va_end(ap);
}

void tool_info(const tool_config *cfg, const char *fmt, ...)
{
    if (cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(NULL, NULL, fmt, ap);
    va_end(ap);
}

void tool_verbose(const tool_config *cfg, const char *fmt, ...)
{
    if (!cfg->verbose || cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(NULL, NULL, fmt, ap);
    va_end(ap);
}

const char *tool_human_size(unsigned long long bytes, char *buf, unsigned long cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", bytes);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}
