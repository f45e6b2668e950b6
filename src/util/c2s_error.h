/*
 * c2s_error.h - filling the error record of ckpt2safetensors (private to the
 * library).
 *
 * The record itself (c2s_error, c2s_status, c2s_rule) is public, in c2s.h.
 * Every library function that can fail takes a `c2s_error *` and returns a
 * c2s_status.  The function that detects a problem fills the record with a
 * one-line message and an exit class; callers pass the status up unchanged,
 * optionally prefixing context ("data/3: ..."), and the CLI prints the
 * message once, at the top.  The library itself never prints or exits.
 */
#ifndef C2S_ERROR_H
#define C2S_ERROR_H

#include "c2s.h"

/* Fill err with status and a printf-style message; returns status so that
 * callers can write `return c2s_fail(err, C2S_ERR_INPUT, "...")`.
 * err may be NULL (the status is still returned).  Messages longer than the
 * buffer are truncated with "...". */
c2s_status c2s_fail(c2s_error *err, c2s_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* c2s_fail, and mark the error as being about rule. */
c2s_status c2s_fail_rule(c2s_error *err, c2s_status status, c2s_rule rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepend "<context>: " to the message already in err (status unchanged).
 * Used to add the archive entry or tensor name on the way up. */
void c2s_error_prefix(c2s_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* C2S_ERROR_H */
