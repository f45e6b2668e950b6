/*
 * findings.h - a list of structural problems found in a file.
 *
 * A finding is a one-line description of something that makes a file
 * untrustworthy without naming a global ("data.pkl has 12 bytes after its
 * STOP opcode", "two zip entries are named archive/data.pkl").  Any finding
 * makes the verdict "unsafe".  The list owns its strings.  It is the
 * public c2s_findings of a c2s_report (c2s.h), under the library's name.
 */
#ifndef FINDINGS_H
#define FINDINGS_H

#include <stddef.h>

#include "c2s.h"

typedef c2s_findings findings;

/* Append a printf-style line; returns 0 when out of memory (the finding is
 * then replaced by a generic one if possible).  f may be NULL. */
int findings_add(findings *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Move src's lines to the end of dst, in order, emptying src; returns 0,
 * both lists untouched, when out of memory. */
int findings_move(findings *dst, findings *src);

void findings_free(findings *f);

#endif /* FINDINGS_H */
