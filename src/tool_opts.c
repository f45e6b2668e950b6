/*
 * tool_opts.c - command-line parsing (getopt_long) and help text.
 *
 * The option table and the help text sit next to each other so that they
 * are changed together; README.md and man/ckpt2safetensors.1 say the same.
 */
#include "tool_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "tool_msgs.h"

enum long_only {
    OPT_KEY = 256,
    OPT_LIST,
    OPT_SKIP_UNSUPPORTED,
    OPT_MAX_PICKLE_SIZE,
    OPT_MAX_OBJECTS,
    OPT_MAX_MEMO,
    OPT_MAX_STACK,
    OPT_MAX_STRING,
    OPT_MAX_CONTAINER,
    OPT_MAX_DEPTH,
    OPT_ALLOW_GLOBAL,
    OPT_PERMISSIVE,
    OPT_SCAN,
    OPT_JSON,
};

static const struct option LONG_OPTIONS[] = {
    {"allow-global", required_argument, NULL, OPT_ALLOW_GLOBAL},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {"json", no_argument, NULL, OPT_JSON},
    {"key", required_argument, NULL, OPT_KEY},
    {"list", no_argument, NULL, OPT_LIST},
    {"max-container", required_argument, NULL, OPT_MAX_CONTAINER},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"max-memo", required_argument, NULL, OPT_MAX_MEMO},
    {"max-objects", required_argument, NULL, OPT_MAX_OBJECTS},
    {"max-pickle-size", required_argument, NULL, OPT_MAX_PICKLE_SIZE},
    {"max-stack", required_argument, NULL, OPT_MAX_STACK},
    {"max-string", required_argument, NULL, OPT_MAX_STRING},
    {"output", required_argument, NULL, 'o'},
    {"permissive", no_argument, NULL, OPT_PERMISSIVE},
    {"quiet", no_argument, NULL, 'q'},
    {"scan", no_argument, NULL, OPT_SCAN},
    {"skip-unsupported", no_argument, NULL, OPT_SKIP_UNSUPPORTED},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void tool_print_help(FILE *out)
{
    fputs(
"Usage: ckpt2safetensors [OPTIONS] INPUT\n"
"       ckpt2safetensors --scan [--json] FILE...\n"
"Convert a PyTorch checkpoint (.ckpt .pt .pth .bin, as written by torch.save)\n"
"to a .safetensors file, without running the pickle inside it.  Files that\n"
"would run code when loaded with torch.load are refused.\n"
"\n"
"By default INPUT's extension (.ckpt .pt .pth .bin) is replaced by\n"
".safetensors, in the same directory.  The file is written under a\n"
"temporary name and renamed at the end, so it either appears complete or\n"
"not at all, also on errors and Ctrl-C.\n"
"\n"
"Options:\n"
"  -o, --output FILE       write FILE (an existing directory: write into it)\n"
"  -f, --force             replace the output if it exists\n"
"      --key PATH          convert only the sub-tree at PATH, a dotted path of\n"
"                          keys and list indices, e.g. 'model' or\n"
"                          'optimizer_states.0.state'\n"
"      --list              print the tensors (name, dtype, shape, bytes) and\n"
"                          what is left out; write nothing\n"
"      --skip-unsupported  drop tensors safetensors cannot hold (complex128,\n"
"                          quantized, sparse, meta) with a warning, instead of\n"
"                          failing\n"
"\n"
"Safety (see 'Safety policy' below):\n"
"      --scan              judge each FILE, print the verdict and every global\n"
"                          it names; write nothing\n"
"      --json              with --scan: one JSON object per file on stdout\n"
"      --allow-global MODULE.NAME\n"
"                          accept this unknown global as inert data\n"
"                          (repeatable), e.g. __main__.MyTensor\n"
"      --permissive        accept every unknown global as inert data;\n"
"                          dangerous ones are still refused\n"
"\n"
"Limits against hostile files (N may end in K, M or G, powers of 1024):\n"
"      --max-pickle-size N bytes of data.pkl (default 1G)\n"
"      --max-objects N     objects the pickle may create (default 50000000)\n"
"      --max-memo N        pickle memo entries (default 10000000)\n"
"      --max-stack N       pickle stack entries and marks (default 1000000)\n"
"      --max-string N      bytes in one pickled string (default 256M)\n"
"      --max-container N   items in one list, dict, set or tuple (default\n"
"                          100000000)\n"
"      --max-depth N       nesting of containers around a tensor (default 1000)\n"
"\n"
"Output:\n"
"  -q, --quiet             print errors only\n"
"  -v, --verbose           print details (root, tensors written, storages)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Tensor names: the path of keys from the root joined with '.', list and\n"
"tuple items by index, e.g. 'model.layers.0.weight'.  The root is the\n"
"'state_dict' entry when the checkpoint is a dict that has one (Lightning,\n"
"Stable Diffusion), otherwise the whole object; --key chooses another.\n"
"Tensors outside the root are reported as 'left out'.\n"
"\n"
"Safety policy: every global the pickle names is classified.  Allowed: what\n"
"the converter interprets (tensor rebuild functions, storage classes,\n"
"dtypes, OrderedDict, ...).  Data: plain values real checkpoints carry\n"
"(numpy scalars, argparse.Namespace, Lightning AttributeDict, omegaconf,\n"
"pathlib, ...).  Dangerous: anything that runs code or touches files\n"
"(os, subprocess, builtins.eval, pickle, torch.load, ...).  Unknown: the\n"
"rest.  A file naming a dangerous or unknown global, or with structural\n"
"tricks (bytes after the pickle's STOP, extra pickles, zip entries that\n"
"overlap, hide data or disagree, CRC mismatches), is refused.\n"
"\n"
"Exit status:\n"
"  0  converted, listed, or (--scan) every file safe\n"
"  1  the input could not be converted: corrupt, unsupported, or I/O error\n"
"     (--scan: some file unreadable, none unsafe)\n"
"  2  usage error\n"
"  3  refused by the safety policy (--scan: some file unsafe)\n"
"  On SIGINT/SIGTERM/SIGHUP the temporary file is removed and the program\n"
"  dies of that signal.\n"
"\n"
"Nothing in the checkpoint is ever executed: a restricted pickle\n"
"interpreter rebuilds only the map of tensor storages.\n"
"See ckpt2safetensors(1) for details.\n",
        out);
}

void tool_print_version(FILE *out)
{
    fprintf(out, "ckpt2safetensors %s\n", C2S_VERSION);
}

/* "123", "64K", "1M", "2G" (binary multiples). */
static int parse_size(const char *s, uint64_t *out)
{
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *s == '-')
        return 0;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    default: return 0;
    }
    if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
        return 0;
    *out = (uint64_t)v << shift;
    return 1;
}

/* A limit option: a positive size that fits size_t. */
static c2s_status set_limit(const char *opt, const char *arg, size_t *out, c2s_error *err)
{
    uint64_t v;
    if (!parse_size(arg, &v) || v > SIZE_MAX)
        return c2s_fail(err, C2S_ERR_USAGE, "%s takes a positive number such as 64M, not '%s'",
                        opt, arg);
    *out = (size_t)v;
    return C2S_OK;
}

static c2s_status apply_option(int c, const char *arg, tool_config *cfg, c2s_error *err)
{
    switch (c) {
    case 'o': cfg->output = arg; break;
    case 'f': cfg->force = 1; break;
    case 'q': cfg->quiet = 1; break;
    case 'v': cfg->verbose = 1; break;
    case 'h': cfg->help = 1; break;
    case 'V': cfg->version = 1; break;
    case OPT_KEY: cfg->key = arg; break;
    case OPT_LIST: cfg->list = 1; break;
    case OPT_SKIP_UNSUPPORTED: cfg->skip_unsupported = 1; break;
    case OPT_MAX_PICKLE_SIZE:
        if (!parse_size(arg, &cfg->max_pickle))
            return c2s_fail(err, C2S_ERR_USAGE,
                            "--max-pickle-size takes a positive size such as 512M, not '%s'", arg);
        break;
    case OPT_MAX_OBJECTS: return set_limit("--max-objects", arg, &cfg->limits.max_objects, err);
    case OPT_MAX_MEMO: return set_limit("--max-memo", arg, &cfg->limits.max_memo, err);
    case OPT_MAX_STACK: return set_limit("--max-stack", arg, &cfg->limits.max_stack, err);
    case OPT_MAX_STRING: return set_limit("--max-string", arg, &cfg->limits.max_string, err);
    case OPT_MAX_CONTAINER:
        return set_limit("--max-container", arg, &cfg->limits.max_container, err);
    case OPT_MAX_DEPTH: return set_limit("--max-depth", arg, &cfg->max_depth, err);
    case OPT_ALLOW_GLOBAL: {
        const char *dot = strrchr(arg, '.');
        if (dot == NULL || dot == arg || dot[1] == '\0')
            return c2s_fail(err, C2S_ERR_USAGE,
                            "--allow-global takes MODULE.NAME (e.g. __main__.MyTensor), not '%s'", arg);
        cfg->allow[cfg->nallow++] = arg;
        break;
    }
    case OPT_PERMISSIVE: cfg->permissive = 1; break;
    case OPT_SCAN: cfg->scan = 1; break;
    case OPT_JSON: cfg->json = 1; break;
    default:
        return c2s_fail(err, C2S_ERR_USAGE, "unknown option (see --help)");
    }
    return C2S_OK;
}

static c2s_status check_scan_combination(const tool_config *cfg, c2s_error *err)
{
    const char *bad = cfg->output ? "-o" : cfg->list ? "--list" : cfg->force ? "-f"
                    : cfg->key ? "--key" : cfg->skip_unsupported ? "--skip-unsupported" : NULL;
    if (bad != NULL)
        return c2s_fail(err, C2S_ERR_USAGE, "--scan writes nothing, so %s makes no sense with it",
                        bad);
    return C2S_OK;
}

static c2s_status check_combination(const tool_config *cfg, c2s_error *err)
{
    if (cfg->help || cfg->version)
        return C2S_OK;
    if (cfg->input == NULL)
        return c2s_fail(err, C2S_ERR_USAGE, "no INPUT given (see --help)");
    if (cfg->scan)
        return check_scan_combination(cfg, err);
    if (cfg->json)
        return c2s_fail(err, C2S_ERR_USAGE, "--json goes with --scan");
    if (cfg->ninputs > 1)
        return c2s_fail(err, C2S_ERR_USAGE, "one INPUT at a time (several only with --scan); "
                        "unexpected '%s'", cfg->inputs[1]);
    if (cfg->list && cfg->output != NULL)
        return c2s_fail(err, C2S_ERR_USAGE, "--list writes nothing, so -o makes no sense with it");
    if (cfg->key != NULL && *cfg->key == '\0')
        return c2s_fail(err, C2S_ERR_USAGE, "--key needs a non-empty path");
    if (cfg->output != NULL && *cfg->output == '\0')
        return c2s_fail(err, C2S_ERR_USAGE, "-o needs a file name");
    return C2S_OK;
}

void tool_config_free(tool_config *cfg)
{
    free(cfg->inputs);
    free(cfg->allow);
    cfg->inputs = cfg->allow = NULL;
}

c2s_status tool_parse_args(int argc, char **argv, tool_config *cfg, c2s_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->inputs = calloc((size_t)argc + 1, sizeof *cfg->inputs);
    cfg->allow = calloc((size_t)argc + 1, sizeof *cfg->allow);
    if (cfg->inputs == NULL || cfg->allow == NULL)
        return c2s_fail(err, C2S_ERR_USAGE, "out of memory");
    opterr = 0; /* our own messages */
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":o:fqvhV", LONG_OPTIONS, NULL)) != -1) {
        if (c == '?') {
            if (optopt != 0)
                return c2s_fail(err, C2S_ERR_USAGE, "unknown option '-%c' (see --help)", optopt);
            return c2s_fail(err, C2S_ERR_USAGE, "unknown option '%s' (see --help)",
                            argv[optind - 1]);
        }
        if (c == ':')
            return c2s_fail(err, C2S_ERR_USAGE, "option '%s' needs a value", argv[optind - 1]);
        c2s_status st = apply_option(c, optarg, cfg, err);
        if (st != C2S_OK)
            return st;
    }
    while (optind < argc)
        cfg->inputs[cfg->ninputs++] = argv[optind++];
    cfg->input = cfg->inputs[0];
    return check_combination(cfg, err);
}
