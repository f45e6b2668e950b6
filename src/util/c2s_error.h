/*
 * c2s_error.h - the one error record of ckpt2safetensors.
 *
 * Every library function that can fail takes a `c2s_error *` and returns a
 * c2s_status.  The function that detects a problem fills the record with a
 * one-line message and an exit class; callers pass the status up unchanged,
 * optionally prefixing context ("data/3: ..."), and the CLI prints the
 * message once, at the top.  The library itself never prints or exits.
 *
 * The numeric values of c2s_status are the program's documented exit codes.
 */
#ifndef C2S_ERROR_H
#define C2S_ERROR_H

#include <stddef.h>

typedef enum c2s_status {
    C2S_OK = 0,          /* success */
    C2S_ERR_INPUT = 1,   /* input could not be converted: corrupt, unsupported, I/O */
    C2S_ERR_USAGE = 2,   /* bad command line */
    C2S_ERR_REFUSED = 3  /* refused by the safety policy */
} c2s_status;

#define C2S_ERROR_MSG_MAX 1024
#define C2S_ERROR_SUBJECT_MAX 256

/*
 * Which limit or rule an error is about, so that a front end can say how to
 * get past it in its own words (the CLI names its flags).  The library's
 * messages name no option: they say what happened ("more than 1000 stack
 * entries"), never how to change it.
 */
typedef enum c2s_rule {
    C2S_RULE_NONE = 0,
    C2S_RULE_MAX_PICKLE,      /* a pickle record larger than limits.max_pickle */
    C2S_RULE_MAX_STRING,      /* pickle VM limits, one each */
    C2S_RULE_MAX_CONTAINER,
    C2S_RULE_MAX_OBJECTS,
    C2S_RULE_MAX_STACK,
    C2S_RULE_MAX_MEMO,
    C2S_RULE_MAX_DEPTH,       /* tensor map nesting */
    C2S_RULE_KEY,             /* the root key path names no entry; msg starts with it */
    C2S_RULE_NO_TENSORS,      /* no tensors under the root: another root may have them */
    C2S_RULE_UNSUPPORTED,     /* a tensor safetensors cannot hold (skip_unsupported) */
    C2S_RULE_ALL_FILTERED,    /* include/exclude dropped every tensor */
    C2S_RULE_POLICY           /* refused by the safety policy; subject: the one unknown
                                 global ("module.name"), "*" for several, "" for none;
                                 more: offenders left out of the message */
} c2s_rule;

typedef struct c2s_error {
    c2s_status status;
    c2s_rule rule;
    size_t more;
    char subject[C2S_ERROR_SUBJECT_MAX];
    char msg[C2S_ERROR_MSG_MAX];
} c2s_error;

/* Reset to C2S_OK with an empty message.  err may be NULL. */
void c2s_error_clear(c2s_error *err);

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
void c2s_error_prefix(c2s_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* C2S_ERROR_H */
