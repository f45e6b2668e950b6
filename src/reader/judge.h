/*
 * judge.h - the verdict: what the readers saw, weighed by the policy.
 *
 * Readers add every global a pickle names (judge_add_globals) and every
 * structural finding to a c2s_report as they read.  judge_verdict() then
 * decides: unsafe when any global is dangerous or unknown (policy.h) or a
 * finding was made; otherwise unreadable when the file could not be read;
 * otherwise safe.  Globals seen before a pickle turned out malformed still
 * count: Python would already have imported or called them when it hit the
 * error.
 */
#ifndef JUDGE_H
#define JUDGE_H

#include <stdint.h>

#include "c2s.h"
#include "pickle/policy.h"
#include "pickle/pvm.h"

/* Append the globals vm saw, found in the pickle called where, whose first
 * byte is at base in the file.  0 when out of memory. */
int judge_add_globals(c2s_report *r, const pvm *vm, const char *where, uint64_t base,
                      const policy_options *policy);

/* Set r->verdict from what was seen and how reading ended (read_status,
 * with its message in err).  Unsafe: C2S_ERR_REFUSED and a one-line
 * refusal in err (rule C2S_RULE_POLICY).  Otherwise read_status. */
c2s_status judge_verdict(c2s_report *r, c2s_status read_status, c2s_error *err);

#endif /* JUDGE_H */
