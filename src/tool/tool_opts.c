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
#include <strings.h>
#include <unistd.h>

#include "c2s.h"
#include "tool_color.h"
#include "tool_msgs.h"
#include "tool_select.h"
#include "tool_shard.h"
#include "tool_rerun.h"

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
    OPT_FOLLOW_SYMLINKS,
    OPT_SHARD,
    OPT_DTYPE,
    OPT_INCLUDE,
    OPT_EXCLUDE,
    OPT_METADATA,
    OPT_TRAINING_METADATA,
    OPT_VERIFY,
    OPT_DIRECT_IO,
    OPT_TF_NAMES,
    OPT_NAME,
    OPT_QUANTIZED,
    OPT_RENAME,
    OPT_MAX_SHARD_SIZE,
    OPT_COPY_OTHER,
    OPT_INCLUDE_FILE,
    OPT_EXCLUDE_FILE,
    OPT_DRY_RUN,
    OPT_RM,
    OPT_COLOR,
};

static const struct option LONG_OPTIONS[] = {
    {"allow-global", required_argument, NULL, OPT_ALLOW_GLOBAL},
    {"color", required_argument, NULL, OPT_COLOR},
    {"copy-other", no_argument, NULL, OPT_COPY_OTHER},
    {"direct-io", required_argument, NULL, OPT_DIRECT_IO},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"exclude-file", required_argument, NULL, OPT_EXCLUDE_FILE},
    {"follow-symlinks", no_argument, NULL, OPT_FOLLOW_SYMLINKS},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"include-file", required_argument, NULL, OPT_INCLUDE_FILE},
    {"jobs", required_argument, NULL, 'j'},
    {"json", no_argument, NULL, OPT_JSON},
    {"key", required_argument, NULL, OPT_KEY},
    {"list", no_argument, NULL, OPT_LIST},
    {"max-container", required_argument, NULL, OPT_MAX_CONTAINER},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"max-memo", required_argument, NULL, OPT_MAX_MEMO},
    {"max-objects", required_argument, NULL, OPT_MAX_OBJECTS},
    {"max-pickle-size", required_argument, NULL, OPT_MAX_PICKLE_SIZE},
    {"max-shard-size", required_argument, NULL, OPT_MAX_SHARD_SIZE},
    {"max-stack", required_argument, NULL, OPT_MAX_STACK},
    {"max-string", required_argument, NULL, OPT_MAX_STRING},
    {"metadata", required_argument, NULL, OPT_METADATA},
    {"name", required_argument, NULL, OPT_NAME},
    {"output", required_argument, NULL, 'o'},
    {"permissive", no_argument, NULL, OPT_PERMISSIVE},
    {"quantized", required_argument, NULL, OPT_QUANTIZED},
    {"quiet", no_argument, NULL, 'q'},
    {"recursive", required_argument, NULL, 'r'},
    {"rename", required_argument, NULL, OPT_RENAME},
    {"rm", no_argument, NULL, OPT_RM},
    {"scan", no_argument, NULL, OPT_SCAN},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"skip-unsupported", no_argument, NULL, OPT_SKIP_UNSUPPORTED},
    {"tf-names", no_argument, NULL, OPT_TF_NAMES},
    {"training-metadata", no_argument, NULL, OPT_TRAINING_METADATA},
    {"verbose", no_argument, NULL, 'v'},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void tool_print_help(FILE *out)
{
    fputs("Usage: ckpt2safetensors [OPTIONS] INPUT...\n"
          "       ckpt2safetensors [OPTIONS] -r DIR [-o OUTDIR]\n"
          "       ckpt2safetensors --list [--json] FILE...\n"
          "       ckpt2safetensors --scan [--json] FILE...\n"
          "Convert PyTorch checkpoints (.ckpt .pt .pth .bin, as written by torch.save)\n"
          "and TensorFlow checkpoints (NAME.index and its NAME.data-* shards) to\n"
          ".safetensors files, without running the pickle inside them.  Files that\n"
          "would run code when loaded with torch.load are refused.\n"
          "\n"
          "By default INPUT's extension (.ckpt .pt .pth .bin) is replaced by\n"
          ".safetensors, in the same directory; pytorch_model*.bin becomes\n"
          "model*.safetensors, and a NAME.bin.index.json beside converted shards is\n"
          "rewritten for the new names; a TensorFlow NAME.index becomes NAME.safetensors\n"
          "(NAME without .ckpt).  Each file is written without a name\n"
          "(O_TMPFILE; elsewhere a hidden temporary name) and linked in at the end,\n"
          "so it appears complete or not at all, also on errors, Ctrl-C and kill -9\n"
          "(with O_TMPFILE).  An output at least as new as its input and made with\n"
          "the same options (those that shape its content, recorded in its\n"
          "__metadata__ as ckpt2safetensors.options) is skipped; an older one, or\n"
          "one made with other options, is an error unless -f.  One failure does not\n"
          "stop the others.\n"
          "\n"
          "INPUT '-' is standard input (curl -L URL | ckpt2safetensors --scan -).  It,\n"
          "and any INPUT that is a pipe, is first copied whole into an unnamed file in\n"
          "$TMPDIR (default /tmp), gone when the program ends, since a zip is read\n"
          "from its end: that takes the input's size there.  Converting it needs\n"
          "-o FILE (or -o -); messages name it '-'.\n"
          "\n"
          "Options:\n"
          "  -o, --output FILE       write FILE (one INPUT only); '-' streams to standard\n"
          "                          output; a directory: write into it\n"
          "  -o, --output DIR        with several inputs or -r: write into DIR (created\n"
          "                          if missing), mirroring the tree under each -r DIR\n"
          "  -r, --recursive DIR     convert every .ckpt .pt .pth .bin file (any case),\n"
          "                          extension-less zip or pickle file, and TensorFlow\n"
          "                          checkpoint (its NAME.index) under DIR; with --scan,\n"
          "                          judge every file a loader could read (repeatable)\n"
          "      --follow-symlinks   with -r: follow symbolic links (default: skip them)\n"
          "      --include-file GLOB with -r: take only files whose name (GLOB without\n"
          "                          '/') or path under DIR (GLOB with '/') matches\n"
          "                          (repeatable)\n"
          "      --exclude-file GLOB with -r: leave out files that match, e.g.\n"
          "                          'optimizer.pt' (repeatable); -v names them\n"
          "      --copy-other        with -r DIR -o OUTDIR: also copy the files that are\n"
          "                          not checkpoints (config.json, tokenizer files,\n"
          "                          README.md, ...; not hidden ones, nor pickles) so\n"
          "                          that OUTDIR loads as a model\n"
          "  -f, --force             replace outputs that exist, even up-to-date ones\n"
          "      --dry-run           say what would be converted, skipped (and why with\n"
          "                          -v), refused or failed, judging every file; write,\n"
          "                          create and remove nothing; same exit status\n"
          "      --rm                remove each input after its conversion succeeded and\n"
          "                          was verified (implies --verify); never a skipped,\n"
          "                          refused or failed one; not a TensorFlow bundle\n"
          "  -j, --jobs N            convert N files at a time (default: online CPUs)\n"
          "      --direct-io WHEN    write around the page cache (O_DIRECT): auto (the\n"
          "                          default: when the output is larger than what the\n"
          "                          kernel keeps dirty before it starts writing back;\n"
          "                          it would throttle a buffered write), always, never\n"
          "      --shard I/N         convert only slice I of N (1 <= I <= N): the files\n"
          "                          at index I-1, I-1+N, ... of the input list (INPUTs\n"
          "                          as given, then each -r DIR's files sorted by path)\n"
          "      --key PATH          convert only the sub-tree at PATH, a dotted path of\n"
          "                          keys and list indices, e.g. 'model' or\n"
          "                          'optimizer_states.0.state'; with flat dotted keys\n"
          "                          (Stable Diffusion), the keys that begin with PATH.\n"
          "                          named without it: 'model.diffusion_model'\n"
          "      --name NAME         the name of a root that is one tensor\n"
          "                          (torch.save(tensor)); default 'tensor'\n"
          "      --quantized HOW     quantized tensors (qint8, quint8, qint32): dequantize\n"
          "                          (F32 values, as torch's .dequantize() gives them)\n"
          "                          or raw (the integers, plus NAME.scale and\n"
          "                          NAME.zero_point); default: an error\n"
          "      --list              print the tensors (name, dtype, shape, bytes) of\n"
          "                          each checkpoint or .safetensors FILE as they would\n"
          "                          be written (after --key, --rename, --include,\n"
          "                          --exclude, --dtype); write nothing; with --json:\n"
          "                          one JSON object per file\n"
          "      --skip-unsupported  drop tensors safetensors cannot hold (complex128,\n"
          "                          quantized, sparse, meta) with a warning, instead of\n"
          "                          failing\n"
          "      --tf-names          TensorFlow 2 checkpoints: name tensors by their\n"
          "                          variable names in the object graph ('dense/kernel')\n"
          "                          instead of their keys\n"
          "\n"
          "Transforming:\n"
          "      --dtype TYPE        convert floating tensors (F64 F32 F16 BF16) to TYPE:\n"
          "                          f16, bf16 or f32, in any case (also fp16,\n"
          "                          float16, half, bfloat16, fp32, float32)\n"
          "      --include GLOB      keep only tensors whose name matches GLOB\n"
          "                          (repeatable; '*' also matches '.')\n"
          "      --exclude GLOB      drop tensors whose name matches GLOB (repeatable);\n"
          "                          globs match the name written (after --rename), and\n"
          "                          a GLOB that matches no tensor of a file is warned\n"
          "                          about\n"
          "      --rename FROM=TO    write tensors whose name begins with FROM as TO\n"
          "                          followed by the rest (repeatable; the first FROM\n"
          "                          that matches wins; FROM may be empty), e.g.\n"
          "                          'model.diffusion_model.=unet.'\n"
          "      --metadata KEY=VALUE\n"
          "                          add KEY to __metadata__ (repeatable; not 'format')\n"
          "      --training-metadata also copy the scalars outside the root (epoch,\n"
          "                          global_step, hyper-parameters) into __metadata__\n"
          "      --verify            re-read each output and compare every tensor with\n"
          "                          the checkpoint before putting it in place\n"
          "      --max-shard-size SIZE\n"
          "                          split an output above SIZE bytes of tensors into\n"
          "                          Hugging Face shards, NAME-00001-of-0000N.safetensors\n"
          "                          ..., plus NAME.safetensors.index.json; SIZE as\n"
          "                          transformers reads it: 5GB (5*10^9), 500MB, 10GiB\n"
          "                          (10*2^30), 100KiB, or plain bytes\n"
          "\n"
          "Safety (see 'Safety policy' below):\n"
          "      --scan              judge each FILE, print the verdict and every global\n"
          "                          it names; write nothing\n"
          "      --allow-global MODULE.NAME\n"
          "                          accept this unknown global as inert data\n"
          "                          (repeatable), e.g. __main__.MyTensor; MODULE.*\n"
          "                          accepts every name in MODULE and its sub-modules,\n"
          "                          e.g. 'models.*' for a YOLOv5 torch.save(model)\n"
          "      --permissive        accept every unknown global as inert data;\n"
          "                          dangerous ones, and findings, are still refused\n"
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
          "      --json              one JSON object per file on stdout (input, output,\n"
          "                          status, verdict, tensors, bytes, seconds, sha256,\n"
          "                          error, verified), then with several inputs or -r\n"
          "                          a summary object; with --scan: the scan report;\n"
          "                          with --dry-run status would-convert, would-skip\n"
          "                          or would-copy\n"
          "      --color WHEN        colour verdicts, errors and warnings: auto (the\n"
          "                          default: on a terminal, unless NO_COLOR is set),\n"
          "                          always, never\n"
          "  -q, --quiet             print errors only (no progress bar, no summary)\n"
          "  -v, --verbose           print details (root, tensors written, storages)\n"
          "  -h, --help              show this help and exit\n"
          "  -V, --version           show the version and exit\n"
          "A progress line is drawn on stderr when it is a terminal: the phase\n"
          "(writing, verifying), bytes, rate, elapsed time and time left; with\n"
          "several files, the whole run and the file being converted.  With several\n"
          "inputs or -r, a summary ends the run: 'converted N, skipped N, refused N,\n"
          "failed N; SIZE in S s', then one line per refused or failed file with\n"
          "its reason.\n"
          "\n"
          "Tensor names: the path of keys from the root joined with '.', list and\n"
          "tuple items by index, e.g. 'model.layers.0.weight'.  The root is the\n"
          "'state_dict' entry when the checkpoint is a dict that has one (Lightning,\n"
          "Stable Diffusion), otherwise the whole object; --key chooses another.\n"
          "Tensors outside the root are reported as 'left out'.  A whole module\n"
          "(torch.save(model)) is named as model.state_dict() names it, under the\n"
          "path of keys that leads to it; tensors that are plain attributes of a\n"
          "module are left out, as state_dict() leaves them out.  torch.nn's own\n"
          "module classes are allowed; a project's classes (models.yolo.Model)\n"
          "need --allow-global or --permissive.\n"
          "\n"
          "TensorFlow checkpoints (tf.train.Saver, tf.train.Checkpoint, Keras\n"
          "SavedModel variables/): give NAME.index, or NAME as TensorFlow names them\n"
          "(bert_model.ckpt -> bert_model.safetensors).  Tensors keep their keys as\n"
          "names ('bert/encoder/layer_0/output/dense/kernel'; TF2:\n"
          "'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE', or with --tf-names\n"
          "'dense/kernel').  Strings, complex128 and other types safetensors cannot\n"
          "hold, partitioned variables and the TF2 object graph are left out.  Every\n"
          "tensor's CRC-32C is checked; --key does not apply.\n"
          "\n"
          "Safety policy: every global the pickle names is classified.  Allowed: what\n"
          "the converter interprets (tensor rebuild functions, storage classes,\n"
          "dtypes, OrderedDict, ...).  Data: plain values real checkpoints carry\n"
          "(numpy scalars, argparse.Namespace, Lightning AttributeDict, omegaconf,\n"
          "pathlib, ...).  Dangerous: anything that runs code or touches files\n"
          "(os, subprocess, builtins.eval, pickle, torch.load, ...).  Unknown: the\n"
          "rest, a name only referenced too (torch calls what a pickle hands it).  A\n"
          "file naming a dangerous or unknown global, with structural tricks (bytes\n"
          "after the pickle's STOP, extra pickles, zip entries that overlap, hide\n"
          "data or disagree, CRC mismatches), or making CPython call or set more\n"
          "than the calls of globals (a call of a non-global, a BUILD setting\n"
          "__setstate__, a TorchScript default that is not a literal), is refused.\n"
          "\n"
          "Exit status (the worst over all files):\n"
          "  0  every file converted, up to date or listed; --scan: every file safe\n"
          "  1  some input could not be converted: corrupt, unsupported, I/O error,\n"
          "     output older than its input or made with other options without -f\n"
          "     (--scan: some file unreadable, none unsafe)\n"
          "  2  usage error\n"
          "  3  some input refused by the safety policy (--scan: some file unsafe)\n"
          "  On SIGINT/SIGTERM/SIGHUP/SIGPIPE no new file is started, unfinished\n"
          "  outputs are dropped and the program dies of that signal.\n"
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

int tool_parse_size(const char *s, uint64_t *out)
{
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *s == '-')
        return 0;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'K':
    case 'k':
        shift = 10;
        end++;
        break;
    case 'M':
    case 'm':
        shift = 20;
        end++;
        break;
    case 'G':
    case 'g':
        shift = 30;
        end++;
        break;
    default:
        return 0;
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
    if (!tool_parse_size(arg, &v) || v > SIZE_MAX)
        return tool_fail(err, C2S_ERR_USAGE, "%s takes a positive number such as 64M, not '%s'",
                         opt, arg);
    *out = (size_t)v;
    return C2S_OK;
}

/* -j N: 1 to TOOL_MAX_JOBS. */
#define TOOL_MAX_JOBS 1024

static int parse_count(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || *s == '+' || v == 0 || v > max)
        return 0;
    *out = (unsigned)v;
    return 1;
}

/* --shard I/N */
static c2s_status parse_shard(const char *arg, tool_config *cfg, c2s_error *err)
{
    const char *slash = strchr(arg, '/');
    char first[32];
    unsigned i = 0, n = 0;
    if (slash != NULL && (size_t)(slash - arg) < sizeof first) {
        memcpy(first, arg, (size_t)(slash - arg));
        first[slash - arg] = '\0';
    }
    if (slash == NULL || (size_t)(slash - arg) >= sizeof first ||
        !parse_count(first, UINT32_MAX, &i) || !parse_count(slash + 1, UINT32_MAX, &n) || i > n)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--shard takes I/N with 1 <= I <= N (e.g. 2/8), not '%s'", arg);
    cfg->shard_index = i;
    cfg->shard_count = n;
    return C2S_OK;
}

static c2s_status parse_dtype(const char *arg, tool_config *cfg, c2s_error *err)
{
    static const struct {
        const char *name;
        c2s_dtype dt;
    } TYPES[] = {
        /* the safetensors names --list prints, and the usual other spellings
         * (PyTorch's and NumPy's), in any case */
        {"f16", C2S_F16},     {"fp16", C2S_F16},      {"float16", C2S_F16}, {"half", C2S_F16},
        {"bf16", C2S_BF16},   {"bfloat16", C2S_BF16}, {"f32", C2S_F32},     {"fp32", C2S_F32},
        {"float32", C2S_F32}, {"float", C2S_F32},
    };
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcasecmp(arg, TYPES[i].name) == 0) {
            cfg->convert_dtype = 1;
            cfg->dtype = TYPES[i].dt;
            return C2S_OK;
        }
    return tool_fail(err, C2S_ERR_USAGE,
                     "--dtype takes f16, bf16 or f32 (also F16, fp16, float16, half, bfloat16, "
                     "float32), not '%s'",
                     arg);
}

static c2s_status parse_direct_io(const char *arg, tool_config *cfg, c2s_error *err)
{
    static const struct {
        const char *name;
        c2s_direct_io mode;
    } MODES[] = {
        {"auto", C2S_DIRECT_AUTO},
        {"always", C2S_DIRECT_ALWAYS},
        {"never", C2S_DIRECT_NEVER},
    };
    for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++)
        if (strcmp(arg, MODES[i].name) == 0) {
            cfg->direct_io = MODES[i].mode;
            cfg->direct_io_given = 1;
            return C2S_OK;
        }
    return tool_fail(err, C2S_ERR_USAGE, "--direct-io takes auto, always or never, not '%s'", arg);
}

/* --metadata KEY=VALUE: the key is copied, the value points into argv. */
static c2s_status add_metadata(const char *arg, tool_config *cfg, c2s_error *err)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return tool_fail(err, C2S_ERR_USAGE, "--metadata takes KEY=VALUE, not '%s'", arg);
    size_t klen = (size_t)(eq - arg);
    if (klen == strlen("format") && memcmp(arg, "format", klen) == 0)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--metadata: the key 'format' is reserved (it is always \"pt\")");
    if (klen == strlen(TOOL_RECORD_KEY) && memcmp(arg, TOOL_RECORD_KEY, klen) == 0)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--metadata: the key '" TOOL_RECORD_KEY "' is reserved (it records the "
                         "options an output was made with)");
    for (size_t i = 0; i < cfg->nmetadata; i++)
        if (strlen(cfg->metadata[i].key) == klen && memcmp(cfg->metadata[i].key, arg, klen) == 0)
            return tool_fail(err, C2S_ERR_USAGE, "--metadata: the key '%s' is given twice",
                             cfg->metadata[i].key);
    char *key = strndup(arg, klen);
    if (key == NULL)
        return tool_fail(err, C2S_ERR_USAGE, "out of memory");
    cfg->metadata[cfg->nmetadata++] = (c2s_kv){key, eq + 1};
    return C2S_OK;
}

static c2s_status parse_quantized(const char *arg, tool_config *cfg, c2s_error *err)
{
    if (strcmp(arg, "dequantize") == 0)
        cfg->quantized = C2S_QUANTIZED_DEQUANTIZE;
    else if (strcmp(arg, "raw") == 0)
        cfg->quantized = C2S_QUANTIZED_RAW;
    else
        return tool_fail(err, C2S_ERR_USAGE, "--quantized takes dequantize or raw, not '%s'", arg);
    return C2S_OK;
}

static c2s_status apply_option(int c, const char *arg, tool_config *cfg, c2s_error *err)
{
    switch (c) {
    case 'o':
        cfg->output = arg;
        cfg->to_stdout = strcmp(arg, "-") == 0;
        break;
    case 'r':
        cfg->roots[cfg->nroots++] = arg;
        break;
    case 'f':
        cfg->force = 1;
        break;
    case 'j':
        if (!parse_count(arg, TOOL_MAX_JOBS, &cfg->jobs))
            return tool_fail(err, C2S_ERR_USAGE, "-j takes a number of jobs from 1 to %d, not '%s'",
                             TOOL_MAX_JOBS, arg);
        break;
    case 'q':
        cfg->quiet = 1;
        break;
    case 'v':
        cfg->verbose = 1;
        break;
    case 'h':
        cfg->help = 1;
        break;
    case 'V':
        cfg->version = 1;
        break;
    case OPT_KEY:
        cfg->key = arg;
        break;
    case OPT_LIST:
        cfg->list = 1;
        break;
    case OPT_SKIP_UNSUPPORTED:
        cfg->skip_unsupported = 1;
        break;
    case OPT_MAX_PICKLE_SIZE:
        if (!tool_parse_size(arg, &cfg->limits.max_pickle))
            return tool_fail(err, C2S_ERR_USAGE,
                             "--max-pickle-size takes a positive size such as 512M, not '%s'", arg);
        break;
    case OPT_MAX_OBJECTS:
        return set_limit("--max-objects", arg, &cfg->limits.max_objects, err);
    case OPT_MAX_MEMO:
        return set_limit("--max-memo", arg, &cfg->limits.max_memo, err);
    case OPT_MAX_STACK:
        return set_limit("--max-stack", arg, &cfg->limits.max_stack, err);
    case OPT_MAX_STRING:
        return set_limit("--max-string", arg, &cfg->limits.max_string, err);
    case OPT_MAX_CONTAINER:
        return set_limit("--max-container", arg, &cfg->limits.max_container, err);
    case OPT_MAX_DEPTH:
        return set_limit("--max-depth", arg, &cfg->limits.max_depth, err);
    case OPT_ALLOW_GLOBAL: {
        const char *dot = strrchr(arg, '.');
        if (dot == NULL || dot == arg || dot[1] == '\0')
            return tool_fail(err, C2S_ERR_USAGE,
                             "--allow-global takes MODULE.NAME (e.g. __main__.MyTensor), not '%s'",
                             arg);
        cfg->allow[cfg->nallow++] = arg;
        break;
    }
    case OPT_PERMISSIVE:
        cfg->permissive = 1;
        break;
    case OPT_SCAN:
        cfg->scan = 1;
        break;
    case OPT_JSON:
        cfg->json = 1;
        break;
    case OPT_FOLLOW_SYMLINKS:
        cfg->follow_symlinks = 1;
        break;
    case OPT_SHARD:
        return parse_shard(arg, cfg, err);
    case OPT_DTYPE:
        return parse_dtype(arg, cfg, err);
    case OPT_INCLUDE:
        cfg->include[cfg->ninclude++] = arg;
        break;
    case OPT_EXCLUDE:
        cfg->exclude[cfg->nexclude++] = arg;
        break;
    case OPT_METADATA:
        return add_metadata(arg, cfg, err);
    case OPT_TRAINING_METADATA:
        cfg->training_metadata = 1;
        break;
    case OPT_VERIFY:
        cfg->verify = 1;
        break;
    case OPT_DIRECT_IO:
        return parse_direct_io(arg, cfg, err);
    case OPT_COLOR:
        if (tool_color_parse(arg, &cfg->color) != 0)
            return tool_fail(err, C2S_ERR_USAGE, "--color takes auto, always or never, not '%s'",
                             arg);
        break;
    case OPT_TF_NAMES:
        cfg->tf_names = 1;
        break;
    case OPT_NAME:
        if (*arg == '\0')
            return tool_fail(err, C2S_ERR_USAGE, "--name takes a non-empty tensor name");
        cfg->tensor_name = arg;
        break;
    case OPT_QUANTIZED:
        return parse_quantized(arg, cfg, err);
    case OPT_RENAME:
        return tool_add_rename(arg, cfg, err);
    case OPT_MAX_SHARD_SIZE:
        if (!tool_parse_shard_size(arg, &cfg->max_shard_size))
            return tool_fail(err, C2S_ERR_USAGE,
                             "--max-shard-size takes a size such as 5GB, 500MB, 10GiB or a number "
                             "of bytes (KB MB GB KiB MiB GiB in any case, but a final lower-case "
                             "b would mean bits), not '%s'",
                             arg);
        break;
    case OPT_COPY_OTHER:
        cfg->copy_other = 1;
        break;
    case OPT_INCLUDE_FILE:
        cfg->include_files[cfg->ninclude_files++] = arg;
        break;
    case OPT_EXCLUDE_FILE:
        cfg->exclude_files[cfg->nexclude_files++] = arg;
        break;
    case OPT_DRY_RUN:
        cfg->dry_run = 1;
        break;
    case OPT_RM:
        cfg->rm = 1;
        break;
    default:
        return tool_fail(err, C2S_ERR_USAGE, "unknown option (see --help)");
    }
    return C2S_OK;
}

/* The first option given that only a conversion uses (--list previews the
 * tensors: it takes the ones that choose and name them), for messages;
 * NULL: none. */
static const char *writing_option(const tool_config *cfg)
{
    return cfg->output              ? "-o"
           : cfg->nmetadata         ? "--metadata"
           : cfg->training_metadata ? "--training-metadata"
           : cfg->verify            ? "--verify"
           : cfg->jobs              ? "-j"
           : cfg->direct_io_given   ? "--direct-io"
           : cfg->max_shard_size    ? "--max-shard-size"
           : cfg->copy_other        ? "--copy-other"
           : cfg->dry_run           ? "--dry-run"
           : cfg->rm                ? "--rm"
                                    : NULL;
}

static c2s_status check_scan_combination(const tool_config *cfg, c2s_error *err)
{
    const char *bad = writing_option(cfg);
    if (bad == NULL)
        bad = cfg->convert_dtype      ? "--dtype"
              : cfg->ninclude         ? "--include"
              : cfg->nexclude         ? "--exclude"
              : cfg->nrenames         ? "--rename"
              : cfg->list             ? "--list"
              : cfg->force            ? "-f"
              : cfg->key              ? "--key"
              : cfg->skip_unsupported ? "--skip-unsupported"
              : cfg->tensor_name      ? "--name"
              : cfg->quantized        ? "--quantized"
                                      : NULL;
    if (bad != NULL)
        return tool_fail(err, C2S_ERR_USAGE, "--scan writes nothing, so %s makes no sense with it",
                         bad);
    return C2S_OK;
}

static c2s_status check_list_combination(const tool_config *cfg, c2s_error *err)
{
    if (cfg->nroots > 0)
        return tool_fail(err, C2S_ERR_USAGE, "--list takes FILEs, not -r");
    if (cfg->key != NULL && *cfg->key == '\0')
        return tool_fail(err, C2S_ERR_USAGE, "--key needs a non-empty path");
    const char *bad = writing_option(cfg);
    if (bad == NULL && cfg->shard_count)
        bad = "--shard";
    if (bad != NULL)
        return tool_fail(err, C2S_ERR_USAGE, "--list writes nothing, so %s makes no sense with it",
                         bad);
    return C2S_OK;
}

/* Standard input ('-'): read once, and a conversion needs -o FILE (or -o
 * -) to name its output; the file filters and --copy-other need -r. */
static c2s_status check_inputs(const tool_config *cfg, c2s_error *err)
{
    size_t dashes = 0;
    for (size_t i = 0; i < cfg->ninputs; i++)
        dashes += strcmp(cfg->inputs[i], "-") == 0;
    if (dashes > 1)
        return tool_fail(err, C2S_ERR_USAGE, "standard input ('-') can be read only once");
    if (dashes && !cfg->scan && !cfg->list && (tool_is_batch(cfg) || cfg->output == NULL))
        return tool_fail(err, C2S_ERR_USAGE,
                         "-: standard input has no name to derive the output's from: give it "
                         "alone, with -o FILE (or -o -)");
    const char *filter = cfg->ninclude_files   ? "--include-file"
                         : cfg->nexclude_files ? "--exclude-file"
                                               : NULL;
    if (filter != NULL && cfg->nroots == 0)
        return tool_fail(err, C2S_ERR_USAGE, "%s chooses among the files found under -r DIR",
                         filter);
    if (cfg->copy_other && !cfg->scan && !cfg->list && (cfg->nroots == 0 || cfg->output == NULL))
        return tool_fail(err, C2S_ERR_USAGE,
                         "--copy-other copies the other files of -r DIR into -o OUTDIR: give both");
    return C2S_OK;
}

static c2s_status check_combination(const tool_config *cfg, c2s_error *err)
{
    if (cfg->help || cfg->version)
        return C2S_OK;
    if (cfg->ninputs == 0 && cfg->nroots == 0)
        return tool_fail(err, C2S_ERR_USAGE, "no INPUT given (see --help)");
    c2s_status st = check_inputs(cfg, err);
    if (st != C2S_OK)
        return st;
    if (cfg->scan)
        return check_scan_combination(cfg, err);
    if (cfg->list)
        return check_list_combination(cfg, err);
    if (cfg->key != NULL && *cfg->key == '\0')
        return tool_fail(err, C2S_ERR_USAGE, "--key needs a non-empty path");
    if (cfg->output != NULL && *cfg->output == '\0')
        return tool_fail(err, C2S_ERR_USAGE, "-o needs a file name");
    if (cfg->to_stdout && tool_is_batch(cfg))
        return tool_fail(err, C2S_ERR_USAGE, "-o - (standard output) takes a single INPUT");
    if (cfg->to_stdout && cfg->json)
        return tool_fail(err, C2S_ERR_USAGE, "-o - and --json would both write to standard output");
    if (cfg->to_stdout && cfg->max_shard_size)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--max-shard-size writes several files, so it cannot go with -o -");
    if (cfg->to_stdout && cfg->verify)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--verify reads the output file back, so it cannot go with -o -");
    if (cfg->to_stdout && cfg->rm)
        return tool_fail(err, C2S_ERR_USAGE,
                         "--rm removes the input only after checking the output file, so it "
                         "cannot go with -o -");
    return C2S_OK;
}

/* The long name of the option getopt_long reports as c; NULL: none. */
static const char *long_name(int c)
{
    for (const struct option *o = LONG_OPTIONS; o->name != NULL; o++)
        if (o->val == c)
            return o->name;
    return NULL;
}

void tool_config_free(tool_config *cfg)
{
    for (size_t i = 0; i < cfg->nmetadata; i++)
        free((char *)cfg->metadata[i].key);
    free(cfg->metadata);
    free(cfg->inputs);
    free(cfg->roots);
    free(cfg->allow);
    free(cfg->include);
    free(cfg->exclude);
    for (size_t i = 0; i < cfg->nrenames; i++)
        free((char *)cfg->renames[i].from);
    free(cfg->renames);
    free(cfg->include_files);
    free(cfg->exclude_files);
    memset(cfg, 0, sizeof *cfg);
}

c2s_status tool_parse_args(int argc, char **argv, tool_config *cfg, c2s_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    size_t cap = (size_t)argc + 1; /* no list can hold more than every argument */
    cfg->inputs = calloc(cap, sizeof *cfg->inputs);
    cfg->roots = calloc(cap, sizeof *cfg->roots);
    cfg->allow = calloc(cap, sizeof *cfg->allow);
    cfg->include = calloc(cap, sizeof *cfg->include);
    cfg->exclude = calloc(cap, sizeof *cfg->exclude);
    cfg->metadata = calloc(cap, sizeof *cfg->metadata);
    cfg->renames = calloc(cap, sizeof *cfg->renames);
    cfg->include_files = calloc(cap, sizeof *cfg->include_files);
    cfg->exclude_files = calloc(cap, sizeof *cfg->exclude_files);
    if (!cfg->inputs || !cfg->roots || !cfg->allow || !cfg->include || !cfg->exclude ||
        !cfg->metadata || !cfg->renames || !cfg->include_files || !cfg->exclude_files)
        return tool_fail(err, C2S_ERR_USAGE, "out of memory");
    opterr = 0; /* our own messages */
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":o:r:j:fqvhV", LONG_OPTIONS, NULL)) != -1) {
        if (c == '?') {
            /* A known option here was given a value it does not take
             * (--json=1: getopt reports it under its own code). */
            const char *flag = optopt != 0 ? long_name(optopt) : NULL;
            if (flag != NULL)
                return tool_fail(err, C2S_ERR_USAGE, "option '--%s' takes no value", flag);
            if (optopt != 0)
                return tool_fail(err, C2S_ERR_USAGE, "unknown option '-%c' (see --help)", optopt);
            return tool_fail(err, C2S_ERR_USAGE, "unknown option '%s' (see --help)",
                             argv[optind - 1]);
        }
        if (c == ':')
            return tool_fail(err, C2S_ERR_USAGE, "option '%s' needs a value", argv[optind - 1]);
        c2s_status st = apply_option(c, optarg, cfg, err);
        if (st != C2S_OK)
            return st;
    }
    while (optind < argc)
        cfg->inputs[cfg->ninputs++] = argv[optind++];
    cfg->input = cfg->inputs[0];
    cfg->color_stderr = tool_color_wanted(cfg->color, STDERR_FILENO, getenv("NO_COLOR"));
    cfg->color_stdout = tool_color_wanted(cfg->color, STDOUT_FILENO, getenv("NO_COLOR"));
    return check_combination(cfg, err);
}
