/*
 * tool_msgs.h - every message the program prints on stderr goes through
 * here, so the format ("ckpt2safetensors: error: FILE: problem") and the
 * effect of -q / -v are decided in one place.
 */
#ifndef TOOL_MSGS_H
#define TOOL_MSGS_H

#include "tool_cfg.h"

#define TOOL_NAME "ckpt2safetensors"

/* Always printed. file may be NULL. */
void tool_error(const char *file, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Printed unless -q. */
void tool_warn(const tool_config *cfg, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Informational lines: unless -q. */
void tool_info(const tool_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Only with -v. */
void tool_verbose(const tool_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "1.5 MiB" style size into buf. */
const char *tool_human_size(unsigned long long bytes, char *buf, unsigned long cap);

#endif /* TOOL_MSGS_H */
