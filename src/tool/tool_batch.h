/*
 * tool_batch.h - which files a run converts, and where each one goes.
 *
 * tool_batch_plan() turns the INPUTs and -r DIRs into a list of jobs:
 *
 *   - -r DIR is walked recursively for .ckpt .pt .pth .bin files and
 *     TensorFlow checkpoints (a NAME.index ending in the table magic: one
 *     job per bundle, its data shards are not inputs); symbolic
 *     links found in the walk are skipped unless --follow-symlinks (then
 *     directories already on the current path are not entered again);
 *   - the list is the INPUTs in the order given, then the files of each
 *     -r DIR sorted by path (byte order), so that every machine computes the
 *     same list from the same command line; a file reached twice (same
 *     device and inode) is kept once, where it first appears;
 *   - each job gets its output: next to the input, or under -o DIR (the tree
 *     below each -r DIR is mirrored; a plain INPUT goes to DIR/its name), or
 *     -o FILE / -o - for a single INPUT.  The name: see tool_output_name();
 *   - two jobs that would write the same output: the later one fails;
 *   - with --shard I/N only the jobs at index I-1, I-1+N, ... are kept.
 *
 * Choosing and copying files under -r (tool_others.c does the copying):
 *
 *   - --include-file / --exclude-file GLOB (fnmatch(3)): a GLOB without '/'
 *     is matched against a file's name, one with '/' against its path
 *     relative to its -r DIR (FNM_PATHNAME: '*' stops at '/').  A file is
 *     taken when it matches some --include-file (or there is none) and no
 *     --exclude-file; a file left out is neither converted, nor scanned,
 *     nor copied, nor counted, and -v names it.  Plain INPUTs are always
 *     taken: the filters choose among what a walk finds.
 *   - --copy-other (with -o DIR): every regular file a walk takes but does
 *     not convert becomes a copy to its mirrored place under -o DIR, except
 *     hidden files and anything under a hidden directory (.git, .cache),
 *     files with a checkpoint extension (.ckpt .pt .pth .bin, any case),
 *     files a loader would read (zip, pickle, tar, NumPy: their pickles
 *     would go into the output unjudged), TensorFlow data shards
 *     (NAME.data-NNNNN-of-NNNNN), NAME.bin.index.json (tool_hf.c writes its
 *     rewritten .safetensors index instead), and any file whose place a
 *     conversion or a rewritten index takes.  Copies are planned by the
 *     first --shard slice only, so that N slices do not race for them.
 *
 * Problems found while walking (an unreadable directory, a plain INPUT that
 * is a directory) become jobs that fail with that message, so they are
 * reported and counted like any other failure.
 */
#ifndef TOOL_BATCH_H
#define TOOL_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "c2s.h"
#include "tool_cfg.h"

typedef struct tool_job {
    char *input;      /* as given, or root/relative path as found */
    char *output;     /* NULL: standard output */
    int make_dirs;    /* create the output's missing parent directories */
    uint64_t in_size; /* bytes, for the progress bar (0 when unknown) */
    char *problem;    /* non-NULL: the job fails with this message */
} tool_job;

/* A file --copy-other copies. */
typedef struct tool_copy {
    char *src, *dst;
    size_t seq;    /* the order the walk found it in */
    char *problem; /* why it fails without being tried ("same output as ..."), or NULL */
} tool_copy;

typedef struct tool_batch {
    tool_job *jobs;
    size_t njobs, cap;
    tool_copy *copies; /* sorted by dst */
    size_t ncopies;
    char **left_out; /* files --include-file / --exclude-file left out, sorted */
    size_t nleft_out;
    char **not_copied; /* --copy-other passed over as loadable (a pickle ...), sorted */
    size_t nnot_copied;
    /* What a -r walk passed over that the user should hear about: roots
     * that held no file to take ("DIR"), symbolic links not followed. */
    char **empty_roots;
    size_t nempty;
    char **links;
    size_t nlinks;
} tool_batch;

/* Print the batch's warnings (empty roots, skipped links) and, with -v,
 * the files left out by --include-file / --exclude-file and the loadable
 * files --copy-other did not copy; 1 when a root
 * held nothing, which makes the run's exit status non-zero. */
int tool_batch_warn(const tool_config *cfg, const tool_batch *b);

/* Plan the run.  C2S_ERR_USAGE when -o names something other than a
 * directory while there are several inputs or -r; C2S_ERR_INPUT on out of
 * memory.  b is valid (possibly empty) in every case: free it. */
c2s_status tool_batch_plan(const tool_config *cfg, tool_batch *b, c2s_error *err);

void tool_batch_free(tool_batch *b);

/* The output file name for an input file name (no directory part):
 * pytorch_model.bin -> model.safetensors,
 * pytorch_model-00001-of-00002.bin -> model-00001-of-00002.safetensors
 * (any pytorch_model*.bin: the Hugging Face names), a TensorFlow index
 * NAME.index -> NAME.safetensors with a .ckpt at the end of NAME dropped
 * (bert_model.ckpt.index -> bert_model.safetensors, variables.index ->
 * variables.safetensors), otherwise .ckpt .pt .pth .bin replaced by
 * .safetensors, or .safetensors appended.
 * malloc'd; NULL on out of memory. */
char *tool_output_name(const char *base);

/* 1 when s ends with suffix and is longer than it. */
int tool_has_suffix(const char *s, const char *suffix);

/* dir + "/" + name without doubling a '/'; malloc'd. */
char *tool_join(const char *dir, const char *name);

/* The directory part of path ("." when there is none); malloc'd. */
char *tool_dirname(const char *path);

/* stat(2) of an INPUT; when it does not exist, of INPUT.index (a
 * TensorFlow checkpoint named by its prefix, as the library opens it).
 * 0, or -1 with errno. */
int tool_stat_input(const char *input, struct stat *st);

/* 1 when INPUT is a TensorFlow bundle: a NAME.index ending in the table
 * magic, or a prefix whose NAME.index exists. */
int tool_is_tf_input(const char *input);
/* Create dir and its missing parents (mode 0777 minus umask). 0 or -1 with errno. */
int tool_mkdirs(const char *dir);

#endif /* TOOL_BATCH_H */
