/*
 * policy.c - classifying globals (see src/pickle/policy.h).
 *
 * Three tables: exact (module, name) pairs the pickle VM interprets
 * (allowed, as is whatever the caller's classifier accepts), exact pairs
 * that are data, and dangerous modules (matched with their sub-modules) or
 * dangerous exact pairs.  Dotted and dunder names are dangerous wherever
 * they appear.  Danger is checked first, so neither a list entry nor the
 * caller's classifier can make a dangerous name acceptable, and
 * --allow-global / --permissive only ever apply to names that are on no
 * list at all.
 */
#include "pickle/policy.h"

#include <string.h>

typedef struct pair {
    const char *module, *name;
} pair;

/* What the pickle VM interprets as plain containers (pvm.h). */
static const pair VM_INTERPRETED[] = {
    {"collections", "OrderedDict"}, {"_codecs", "encode"}, {"builtins", "set"},
    {"builtins", "frozenset"},      {"builtins", "bytes"},
};

/* Plain data that real checkpoints carry. */
static const pair DATA[] = {
    {"numpy.core.multiarray", "scalar"},
    {"numpy.core.multiarray", "_reconstruct"},
    {"numpy._core.multiarray", "scalar"},
    {"numpy._core.multiarray", "_reconstruct"},
    {"numpy", "dtype"},
    {"numpy", "ndarray"},
    {"argparse", "Namespace"},
    {"lightning_fabric.utilities.data", "AttributeDict"},
    {"lightning.fabric.utilities.data", "AttributeDict"},
    {"pytorch_lightning.utilities.parsing", "AttributeDict"},
    {"pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"},
    {"lightning.pytorch.callbacks.model_checkpoint", "ModelCheckpoint"},
    {"omegaconf.dictconfig", "DictConfig"},
    {"omegaconf.listconfig", "ListConfig"},
    {"omegaconf.base", "ContainerMetadata"},
    {"omegaconf.base", "Metadata"},
    {"omegaconf.nodes", "AnyNode"},
    {"omegaconf.nodes", "StringNode"},
    {"omegaconf.nodes", "IntegerNode"},
    {"omegaconf.nodes", "FloatNode"},
    {"omegaconf.nodes", "BooleanNode"},
    {"omegaconf.nodes", "EnumNode"},
    {"omegaconf.nodes", "BytesNode"},
    {"omegaconf.nodes", "PathNode"},
    {"typing", "Any"},
    {"pathlib", "Path"},
    {"pathlib", "PosixPath"},
    {"pathlib", "WindowsPath"},
    {"pathlib", "PurePath"},
    {"pathlib", "PurePosixPath"},
    {"pathlib", "PureWindowsPath"},
    {"collections", "defaultdict"},
    {"collections", "Counter"},
    {"builtins", "slice"},
    {"builtins", "complex"},
    {"builtins", "bytearray"},
    {"builtins", "dict"},
    {"builtins", "list"},
    {"builtins", "tuple"},
    {"builtins", "int"},
    {"builtins", "float"},
    {"builtins", "str"},
    {"builtins", "bool"},
    {"builtins", "object"},
};

/* Modules (and their sub-modules) whose every name is dangerous. */
static const char *const DANGEROUS_MODULES[] = {
    "os",
    "posix",
    "nt",
    "posixpath",
    "ntpath",
    "subprocess",
    "sys",
    "runpy",
    "importlib",
    "pickle",
    "_pickle",
    "pickletools",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib",
    "types",
    "ctypes",
    "_ctypes",
    "cffi",
    "socket",
    "_socket",
    "ssl",
    "select",
    "selectors",
    "operator",
    "_operator",
    "functools",
    "_functools",
    "itertools",
    "pty",
    "tty",
    "webbrowser",
    "shutil",
    "tempfile",
    "io",
    "_io",
    "fileinput",
    "glob",
    "code",
    "codeop",
    "pdb",
    "bdb",
    "trace",
    "timeit",
    "profile",
    "cProfile",
    "inspect",
    "multiprocessing",
    "concurrent",
    "threading",
    "_thread",
    "asyncio",
    "signal",
    "resource",
    "gc",
    "http",
    "urllib",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "requests",
    "httpx",
    "zipimport",
    "pkgutil",
    "imp",
    "platform",
    "distutils",
    "setuptools",
    "pip",
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    "torch.hub",
    "torch.jit",
    "torch.utils.cpp_extension",
    "torch._inductor",
    "torch._dynamo",
    "torch.package",
    "torch.ops",
    "torch.classes",
    "torch._C",
    "torch.distributed",
    "torch.multiprocessing",
    "torch.utils.data",
};

/* Single dangerous names in otherwise mixed modules. */
static const pair DANGEROUS_PAIRS[] = {
    {"builtins", "eval"},
    {"builtins", "exec"},
    {"builtins", "compile"},
    {"builtins", "open"},
    {"builtins", "getattr"},
    {"builtins", "setattr"},
    {"builtins", "delattr"},
    {"builtins", "__import__"},
    {"builtins", "globals"},
    {"builtins", "locals"},
    {"builtins", "vars"},
    {"builtins", "input"},
    {"builtins", "breakpoint"},
    {"builtins", "exit"},
    {"builtins", "quit"},
    {"builtins", "help"},
    {"builtins", "memoryview"},
    {"builtins", "apply"},
    {"builtins", "execfile"},
    {"builtins", "file"},
    {"builtins", "reload"},
    {"builtins", "__builtins__"},
    {"builtins", "type"},
    {"builtins", "super"},
    {"builtins", "classmethod"},
    {"builtins", "staticmethod"},
    {"builtins", "property"},
    {"builtins", "map"},
    {"builtins", "filter"},
    {"builtins", "print"},
    {"copyreg", "_reconstructor"},
    {"copyreg", "__newobj__"},
    {"copyreg", "__newobj_ex__"},
    {"torch", "load"},
    {"torch.serialization", "load"},
    {"torch.serialization", "_load"},
    {"torch._utils", "_import_dotted_name"},
    {"torch.serialization", "_legacy_load"},
    {"torch", "from_file"},
    {"torch", "save"},
    {"torch.serialization", "save"},
    {"numpy", "load"},
    {"numpy", "loadtxt"},
    {"numpy", "fromfile"},
    {"numpy", "save"},
    {"numpy.lib.npyio", "load"},
    {"numpy", "memmap"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int in_pairs(const pair *rows, size_t n, const char *module, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].module, module) == 0 && strcmp(rows[i].name, name) == 0)
            return 1;
    return 0;
}

/* module is m, or a sub-module of m ("os" matches "os" and "os.path"). */
static int module_within(const char *module, const char *m)
{
    size_t n = strlen(m);
    return strncmp(module, m, n) == 0 && (module[n] == '\0' || module[n] == '.');
}

/* "a.b" is an attribute path: Python's find_class walks it (protocol >= 4),
 * so ("torch", "os.system") reaches os.system through a benign module.
 * Dunder names ("__globals__", "__builtins__") reach interpreter internals. */
static int is_attribute_trick(const char *name)
{
    size_t n = strlen(name);
    return strchr(name, '.') != NULL ||
           (n > 4 && strncmp(name, "__", 2) == 0 && strcmp(name + n - 2, "__") == 0);
}

static int is_dangerous(const char *module, const char *name)
{
    if (is_attribute_trick(name))
        return 1;
    for (size_t i = 0; i < COUNT(DANGEROUS_MODULES); i++)
        if (module_within(module, DANGEROUS_MODULES[i]))
            return 1;
    return in_pairs(DANGEROUS_PAIRS, COUNT(DANGEROUS_PAIRS), module, name);
}

/* "module.*" given by the user: module, or a sub-module of it. */
static int wildcard_allows(const char *a, const char *module)
{
    size_t n = strlen(a);
    if (n < 3 || strcmp(a + n - 2, ".*") != 0)
        return 0;
    return strncmp(module, a, n - 2) == 0 && (module[n - 2] == '\0' || module[n - 2] == '.');
}

/* "module.name" given by the user, matched exactly, or "module.*". */
static int user_allowed(const char *module, const char *name, const policy_options *o)
{
    size_t ml = strlen(module);
    for (size_t i = 0; o != NULL && i < o->nallow; i++) {
        const char *a = o->allow[i];
        if (wildcard_allows(a, module))
            return 1;
        if (strncmp(a, module, ml) == 0 && a[ml] == '.' && strcmp(a + ml + 1, name) == 0)
            return 1;
    }
    return 0;
}

c2s_global_class policy_classify(const char *module, const char *name, policy_known_fn known,
                                 const policy_options *opts)
{
    if (is_dangerous(module, name))
        return C2S_GLOBAL_DANGEROUS;
    if (in_pairs(VM_INTERPRETED, COUNT(VM_INTERPRETED), module, name) ||
        (known != NULL && known(module, name)))
        return C2S_GLOBAL_ALLOWED;
    if (in_pairs(DATA, COUNT(DATA), module, name))
        return C2S_GLOBAL_DATA;
    if ((opts != NULL && opts->permissive) || user_allowed(module, name, opts))
        return C2S_GLOBAL_DATA;
    return C2S_GLOBAL_UNKNOWN;
}

/* Names of builtins that are plain containers and scalars: whatever calls
 * them (a later BUILD's __setstate__, a rebuild function given them as its
 * func, torch calling a hook, the user calling a loaded object) gets a
 * container or an error.  Only these are inert when only named.  A torch,
 * numpy or collections function named only used to count as inert too,
 * but being named is not being safe: torch itself calls values the pickle
 * hands it (_rebuild_from_type_v2 calls its func; load_build calls an
 * instance's __setstate__), and torch.utils.collect_env.run or
 * torch.fx.graph_module._exec_with_source then run a shell or exec(). */
static const char *const INERT_BUILTINS[] = {
    "set", "frozenset", "dict",      "list", "tuple", "int",   "float",  "complex",
    "str", "bytes",     "bytearray", "bool", "slice", "range", "object",
};

int policy_inert_reference(const char *module, const char *name)
{
    if (is_dangerous(module, name))
        return 0;
    if (strcmp(module, "builtins") == 0)
        for (size_t i = 0; i < COUNT(INERT_BUILTINS); i++)
            if (strcmp(name, INERT_BUILTINS[i]) == 0)
                return 1;
    return 0;
}

int policy_refuses(c2s_global_class cls)
{
    return cls == C2S_GLOBAL_UNKNOWN || cls == C2S_GLOBAL_DANGEROUS;
}

const char *c2s_global_class_name(c2s_global_class cls)
{
    switch (cls) {
    case C2S_GLOBAL_ALLOWED:
        return "allowed";
    case C2S_GLOBAL_DATA:
        return "data";
    case C2S_GLOBAL_UNKNOWN:
        return "unknown";
    case C2S_GLOBAL_DANGEROUS:
        return "dangerous";
    }
    return "?";
}
