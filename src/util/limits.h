/*
 * limits.h - the numbers more than one module must agree on.
 *
 * Each is defined once here; modules include this header rather than
 * restating the value.
 */
#ifndef UTIL_LIMITS_H
#define UTIL_LIMITS_H

/* Default bound on one pickle's bytes (data.pkl, a legacy stream's
 * pickles): c2s_limits.max_pickle when 0. */
#define C2S_DEFAULT_MAX_PICKLE (1ull << 30)

/* The reference safetensors reader's bound on the JSON header length N. */
#define C2S_ST_MAX_HEADER 100000000u

/* The longest storage key accepted in a persistent id or record name
 * (torch's keys are decimal counters or, in legacy files, addresses). */
#define C2S_STORAGE_KEY_MAX 48

#endif /* UTIL_LIMITS_H */
