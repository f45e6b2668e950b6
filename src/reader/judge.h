/*
 * judge.h - the verdict: what the readers saw, weighed by the policy.
 *
 * Readers add every global a pickle names (judge_add_globals) and every
 * structural finding to a c2s_report as they read.  judge_verdict() then
 * decides: unsafe when any global is dangerous or unknown (policy.h) or a
 * finding was made; otherwise corrupt when damage was seen (r->damage, or a
 * reading error of rule C2S_RULE_CORRUPT: CRC-32 mismatches, a zip or
 * stream that ends early); otherwise unreadable when the file could not be
 * read; otherwise safe.  Globals seen before a pickle turned out malformed still
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
 * byte is at base in the file, and its hazards (pvm_hazard_at: calls and
 * attribute settings CPython would make beyond the calls of globals) as
 * findings.  0 when out of memory. */
int judge_add_globals(c2s_report *r, const pvm *vm, const char *where, uint64_t base,
                      const policy_options *policy);

/* Sweep data[start..len) (sweep.h; past_stop: walk on after STOP) and add
 * every global it names that the report does not already list for this
 * pickle, with uses C2S_USE_REF | C2S_USE_SWEEP and offsets from base.  For
 * the bytes a pickle machine did not reach: after its error, after STOP, or
 * a pickle no machine runs.  Names that are not UTF-8 are left out: the
 * unpickler fails to decode them before it imports anything.  Fails only
 * when out of memory. */
c2s_status judge_sweep(c2s_report *r, const uint8_t *data, size_t len, size_t start, int past_stop,
                       const char *where, uint64_t base, const policy_options *policy,
                       c2s_error *err);

/* Set r->verdict from what was seen and how reading ended (read_status,
 * with its message in err).  Unsafe: C2S_ERR_REFUSED and a one-line
 * refusal in err (rule C2S_RULE_POLICY).  Corrupt: C2S_ERR_INPUT, the first
 * damage in err (rule C2S_RULE_CORRUPT).  Otherwise read_status. */
c2s_status judge_verdict(c2s_report *r, c2s_status read_status, c2s_error *err);

#endif /* JUDGE_H */
