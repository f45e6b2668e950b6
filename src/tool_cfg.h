/*
 * tool_cfg.h - every command-line setting of ckpt2safetensors in one struct.
 * Filled by tool_opts.c, read by tool_main.c; nothing else keeps state.
 */
#ifndef TOOL_CFG_H
#define TOOL_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "pvm.h"

typedef struct tool_config {
    const char *input;       /* the first INPUT */
    const char **inputs;     /* all of them (several only with --scan) */
    size_t ninputs;
    const char **allow;      /* --allow-global MODULE.NAME, repeatable */
    size_t nallow;
    int permissive;          /* --permissive */
    int scan;                /* --scan */
    int json;                /* --json */
    const char *output;      /* -o; NULL: next to the input */
    const char *key;         /* --key; NULL: default root */
    int force;               /* -f */
    int list;                /* --list */
    int skip_unsupported;    /* --skip-unsupported */
    int quiet;               /* -q */
    int verbose;             /* -v */
    int help, version;       /* -h, -V: print and exit 0 */
    uint64_t max_pickle;     /* --max-pickle-size; 0: library default */
    pvm_limits limits;       /* --max-objects, --max-memo, ...; 0: defaults */
    size_t max_depth;        /* --max-depth; 0: default */
} tool_config;

#endif /* TOOL_CFG_H */
