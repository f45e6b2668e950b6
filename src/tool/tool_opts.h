/*
 * tool_opts.h - command-line parsing and the --help / --version texts.
 */
#ifndef TOOL_OPTS_H
#define TOOL_OPTS_H

#include <stdio.h>

#include "c2s.h"
#include "tool_cfg.h"

/* Fill cfg from argv.  C2S_ERR_USAGE with a message on a bad command line.
 * cfg points into argv and owns two arrays: free them with tool_config_free. */
c2s_status tool_parse_args(int argc, char **argv, tool_config *cfg, c2s_error *err);

void tool_config_free(tool_config *cfg);

void tool_print_help(FILE *out);
void tool_print_version(FILE *out);

#endif /* TOOL_OPTS_H */
