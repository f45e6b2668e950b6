/*
 * tool_cfg.h - every command-line setting of ckpt2safetensors in one struct.
 * Filled by tool_opts.c, read by the rest of the tool; nothing else keeps
 * state.
 */
#ifndef TOOL_CFG_H
#define TOOL_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "c2s.h"
#include "tool_color.h"

typedef struct tool_config {
    const char *input;   /* the first INPUT */
    const char **inputs; /* all of them */
    size_t ninputs;
    const char **roots; /* -r DIR, repeatable */
    size_t nroots;
    int follow_symlinks;        /* --follow-symlinks */
    const char **include_files; /* --include-file GLOB, repeatable (tool_batch.h) */
    size_t ninclude_files;
    const char **exclude_files; /* --exclude-file GLOB, repeatable */
    size_t nexclude_files;
    int copy_other;     /* --copy-other: copy the other files of -r DIR into -o DIR */
    const char **allow; /* --allow-global MODULE.NAME, repeatable */
    size_t nallow;
    int permissive;          /* --permissive */
    int scan;                /* --scan */
    int json;                /* --json */
    const char *output;      /* -o; NULL: next to each input */
    int to_stdout;           /* -o - */
    const char *key;         /* --key; NULL: default root */
    int tf_names;            /* --tf-names */
    int force;               /* -f */
    int dry_run;             /* --dry-run */
    int rm;                  /* --rm */
    int list;                /* --list */
    int skip_unsupported;    /* --skip-unsupported */
    const char *tensor_name; /* --name; NULL: the library's default */
    c2s_quantized quantized; /* --quantized */
    unsigned jobs;           /* -j; 0: number of online CPUs */
    unsigned shard_index;    /* --shard I/N, I 1-based; 0: no sharding */
    unsigned shard_count;
    int convert_dtype; /* --dtype given */
    c2s_dtype dtype;
    const char **include; /* --include GLOB, repeatable */
    size_t ninclude;
    const char **exclude; /* --exclude GLOB, repeatable */
    size_t nexclude;
    c2s_rename *renames; /* --rename FROM=TO, repeatable; FROM is an owned copy */
    size_t nrenames;
    c2s_kv *metadata; /* --metadata KEY=VALUE; keys are owned copies */
    size_t nmetadata;
    int training_metadata;   /* --training-metadata */
    int verify;              /* --verify */
    c2s_direct_io direct_io; /* --direct-io WHEN */
    uint64_t max_shard_size; /* --max-shard-size, bytes; 0: one file */
    int direct_io_given;
    int quiet;         /* -q */
    int verbose;       /* -v */
    int help, version; /* -h, -V: print and exit 0 */
    c2s_limits limits; /* --max-pickle-size, --max-depth, --max-objects, ...;
                                0: the library's defaults */

    /* --color WHEN, and whether stderr and stdout get colour (from it,
     * NO_COLOR and isatty; tool_color.h) */
    tool_color_mode color;
    int color_stderr, color_stdout;
} tool_config;

/* A batch: several inputs or any -r (a summary line ends it). */
static inline int tool_is_batch(const tool_config *cfg)
{
    return cfg->ninputs > 1 || cfg->nroots > 0;
}

#endif /* TOOL_CFG_H */
