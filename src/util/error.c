/*
 * error.c - filling the c2s_error record (see src/util/c2s_error.h).
 *
 * Messages are formatted into the fixed buffer of the record, so reporting
 * an error never allocates and cannot itself fail.
 */
#include "util/c2s_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void c2s_error_clear(c2s_error *err)
{
    if (err == NULL)
        return;
    err->status = C2S_OK;
    err->rule = C2S_RULE_NONE;
    err->more = 0;
    err->subject[0] = '\0';
    err->msg[0] = '\0';
}

/* Mark a truncated message so that the reader knows text is missing. */
static void mark_truncation(char *buf, size_t size, int written)
{
    if (written >= 0 && (size_t)written < size)
        return;
    if (size >= 4)
        memcpy(buf + size - 4, "...", 4);
}

__attribute__((format(printf, 4, 0))) static c2s_status
vfail(c2s_error *err, c2s_status status, c2s_rule rule, const char *fmt, va_list ap)
{
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    mark_truncation(err->msg, sizeof err->msg, n);
    err->status = status;
    err->rule = rule;
    err->more = 0;
    err->subject[0] = '\0';
    return status;
}

c2s_status c2s_fail(c2s_error *err, c2s_status status, const char *fmt, ...)
{
    if (err == NULL)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vfail(err, status, C2S_RULE_NONE, fmt, ap);
    va_end(ap);
    return status;
}

c2s_status c2s_fail_rule(c2s_error *err, c2s_status status, c2s_rule rule, const char *fmt, ...)
{
    if (err == NULL)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vfail(err, status, rule, fmt, ap);
    va_end(ap);
    return status;
}

void c2s_error_prefix(c2s_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    mark_truncation(prefix, sizeof prefix, n);

    char old[C2S_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    n = snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    mark_truncation(err->msg, sizeof err->msg, n);
}
