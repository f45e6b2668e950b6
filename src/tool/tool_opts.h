/*
 * tool_opts.h - command-line parsing and the --help / --version texts.
 */
#ifndef TOOL_OPTS_H
#define TOOL_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "c2s.h"
#include "tool_cfg.h"

/* Fill cfg from argv.  C2S_ERR_USAGE with a message on a bad command line.
 * cfg points into argv and owns two arrays: free them with tool_config_free. */
c2s_status tool_parse_args(int argc, char **argv, tool_config *cfg, c2s_error *err);

void tool_config_free(tool_config *cfg);

/* A size option's value: "123", "64K", "1M", "2G" (K M G or k m g: powers
 * of 1024).  1 and *out set when it is a positive number that fits
 * uint64_t, else 0. */
int tool_parse_size(const char *s, uint64_t *out);

void tool_print_help(FILE *out);
void tool_print_version(FILE *out);

#endif /* TOOL_OPTS_H */
