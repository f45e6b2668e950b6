/*
 * test_policy.c - the safety policy (src/pickle/policy.c) as the converter
 * uses it, with the table of PyTorch globals as its classifier
 * (torchtab_allowed): the class of every global, exact-pair matching,
 * sub-module matching of dangerous modules, --allow-global and --permissive,
 * the caller's classifier, and the Python-2 name mapping of the pickle VM
 * feeding it.  Every expectation is one exact class.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "pickle_builder.h"
#include "pickle/policy.h"
#include "pickle/pvm.h"
#include "torch/torchtab.h"

TestSuite(policy);

/* Class with no options; a NULL options pointer must behave like defaults. */
static c2s_global_class cls_of(const char *module, const char *name)
{
    policy_options none = {0};
    c2s_global_class a = policy_classify(module, name, torchtab_allowed, NULL);
    c2s_global_class b = policy_classify(module, name, torchtab_allowed, &none);
    cr_assert_eq(a, b, "%s.%s: NULL options give %s, empty options give %s", module, name,
                 c2s_global_class_name(a), c2s_global_class_name(b));
    return a;
}

static void expect(const char *module, const char *name, c2s_global_class want)
{
    c2s_global_class got = cls_of(module, name);
    cr_expect_eq(got, want, "(%s, %s): got %s, expected %s", module, name,
                 c2s_global_class_name(got), c2s_global_class_name(want));
}

static void expect_opts(const char *module, const char *name, const policy_options *o,
                        c2s_global_class want)
{
    c2s_global_class got = policy_classify(module, name, torchtab_allowed, o);
    cr_expect_eq(got, want, "(%s, %s) with options: got %s, expected %s", module, name,
                 c2s_global_class_name(got), c2s_global_class_name(want));
}

typedef struct pair {
    const char *module, *name;
} pair;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- class names and refusal ------------------------------------------- */

Test(policy, class_names)
{
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_ALLOWED), "allowed");
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_DATA), "data");
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_UNKNOWN), "unknown");
    cr_assert_str_eq(c2s_global_class_name(C2S_GLOBAL_DANGEROUS), "dangerous");
}

Test(policy, refuses)
{
    cr_assert_eq(policy_refuses(C2S_GLOBAL_ALLOWED), 0);
    cr_assert_eq(policy_refuses(C2S_GLOBAL_DATA), 0);
    cr_assert_eq(policy_refuses(C2S_GLOBAL_UNKNOWN), 1);
    cr_assert_eq(policy_refuses(C2S_GLOBAL_DANGEROUS), 1);
}

/* ---- allowed ------------------------------------------------------------- */

Test(policy, rebuild_functions_allowed)
{
    static const pair rows[] = {
        {"torch._utils", "_rebuild_tensor"},
        {"torch._utils", "_rebuild_tensor_v2"},
        {"torch._utils", "_rebuild_tensor_v3"},
        {"torch._utils", "_rebuild_parameter"},
        {"torch._utils", "_rebuild_parameter_with_state"},
        {"torch._utils", "_rebuild_qtensor"},
        {"torch._utils", "_rebuild_sparse_tensor"},
        {"torch._utils", "_rebuild_sparse_csr_tensor"},
        {"torch._utils", "_rebuild_meta_tensor_no_storage"},
        {"torch._utils", "_rebuild_nested_tensor"},
        {"torch._tensor", "_rebuild_from_type_v2"},
        {"torch._tensor", "_rebuild_from_type"},
    };
    for (size_t i = 0; i < COUNT(rows); i++)
        expect(rows[i].module, rows[i].name, C2S_GLOBAL_ALLOWED);
}

Test(policy, other_interpreted_globals_allowed)
{
    static const pair rows[] = {
        {"torch", "Tensor"},
        {"torch", "Size"},
        {"torch", "device"},
        {"torch.nn.parameter", "Parameter"},
        {"torch.serialization", "_get_layout"},
        {"collections", "OrderedDict"},
        {"_codecs", "encode"},
        {"builtins", "set"},
        {"builtins", "frozenset"},
        {"builtins", "bytes"},
    };
    for (size_t i = 0; i < COUNT(rows); i++)
        expect(rows[i].module, rows[i].name, C2S_GLOBAL_ALLOWED);
}

Test(policy, storage_classes_allowed_under_torch_only)
{
    static const char *const storages[] = {
        "DoubleStorage",   "FloatStorage",   "HalfStorage",         "BFloat16Storage",
        "LongStorage",     "IntStorage",     "ShortStorage",        "CharStorage",
        "ByteStorage",     "BoolStorage",    "ComplexFloatStorage", "ComplexDoubleStorage",
        "QInt8Storage",    "QUInt8Storage",  "QInt32Storage",       "QUInt4x2Storage",
        "QUInt2x4Storage", "UntypedStorage",
    };
    for (size_t i = 0; i < COUNT(storages); i++) {
        expect("torch", storages[i], C2S_GLOBAL_ALLOWED);
        /* the same class name anywhere else is on no list */
        expect("torch.cuda", storages[i], C2S_GLOBAL_UNKNOWN);
        expect("torch.storage", storages[i], C2S_GLOBAL_UNKNOWN);
        expect("torchx", storages[i], C2S_GLOBAL_UNKNOWN);
    }
    expect("torch", "cuda.FloatStorage", C2S_GLOBAL_DANGEROUS); /* dotted */
    expect("torch", "TypedStorage", C2S_GLOBAL_UNKNOWN);
    expect("torch", "FloatStorageX", C2S_GLOBAL_UNKNOWN);
    expect("torch", "floatstorage", C2S_GLOBAL_UNKNOWN);
    expect("torch", "Storage", C2S_GLOBAL_UNKNOWN);
}

Test(policy, dtypes_layouts_qschemes_allowed_under_torch_only)
{
    static const char *const attrs[] = {
        "float64",
        "float32",
        "float16",
        "bfloat16",
        "int64",
        "int32",
        "int16",
        "int8",
        "uint64",
        "uint32",
        "uint16",
        "uint8",
        "bool",
        "complex32",
        "complex64",
        "complex128",
        "float8_e4m3fn",
        "float8_e5m2",
        "float8_e4m3fnuz",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
        "qint8",
        "quint8",
        "qint32",
        "quint4x2",
        "quint2x4",
        "strided",
        "sparse_coo",
        "sparse_csr",
        "sparse_csc",
        "sparse_bsr",
        "sparse_bsc",
        "per_tensor_affine",
        "per_channel_affine",
        "per_tensor_symmetric",
        "per_channel_symmetric",
        "per_channel_affine_float_qparams",
    };
    for (size_t i = 0; i < COUNT(attrs); i++) {
        expect("torch", attrs[i], C2S_GLOBAL_ALLOWED);
        expect("torch.cuda", attrs[i], C2S_GLOBAL_UNKNOWN);
        expect("numpy", attrs[i], C2S_GLOBAL_UNKNOWN);
    }
    expect("torch", "float", C2S_GLOBAL_UNKNOWN);
    expect("torch", "dtype", C2S_GLOBAL_UNKNOWN);
}

Test(policy, collections)
{
    expect("collections", "OrderedDict", C2S_GLOBAL_ALLOWED);
    expect("collections", "defaultdict", C2S_GLOBAL_DATA);
    expect("collections", "Counter", C2S_GLOBAL_DATA);
    expect("collections", "namedtuple", C2S_GLOBAL_UNKNOWN);
    expect("collections", "deque", C2S_GLOBAL_UNKNOWN);
    expect("collections", "OrderedDictX", C2S_GLOBAL_UNKNOWN);
    expect("collections", "OrderedDic", C2S_GLOBAL_UNKNOWN);
    expect("collections", "ordereddict", C2S_GLOBAL_UNKNOWN);
    expect("collections.abc", "OrderedDict", C2S_GLOBAL_UNKNOWN);
    expect("collectionsX", "OrderedDict", C2S_GLOBAL_UNKNOWN);
    expect("", "OrderedDict", C2S_GLOBAL_UNKNOWN);
    expect("collections", "", C2S_GLOBAL_UNKNOWN);
}

/* ---- data ------------------------------------------------------------------ */

Test(policy, data_entries)
{
    static const pair rows[] = {
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
    for (size_t i = 0; i < COUNT(rows); i++)
        expect(rows[i].module, rows[i].name, C2S_GLOBAL_DATA);
}

Test(policy, data_pairs_are_exact)
{
    expect("numpy.core", "multiarray", C2S_GLOBAL_UNKNOWN);
    expect("numpy.core.multiarray", "scalarX", C2S_GLOBAL_UNKNOWN);
    expect("numpy.core.multiarrayX", "scalar", C2S_GLOBAL_UNKNOWN);
    expect("numpy.core.multiarray.scalar", "scalar", C2S_GLOBAL_UNKNOWN);
    expect("numpy.core.multiarray", "scalar.x", C2S_GLOBAL_DANGEROUS); /* dotted */
    expect("numpy._core.umath", "scalar", C2S_GLOBAL_UNKNOWN);
    expect("numpy", "array", C2S_GLOBAL_UNKNOWN);
    expect("argparse", "ArgumentParser", C2S_GLOBAL_UNKNOWN);
    expect("omegaconf", "DictConfig", C2S_GLOBAL_UNKNOWN);
    expect("omegaconf.nodes", "Node", C2S_GLOBAL_UNKNOWN);
    expect("pathlib", "path", C2S_GLOBAL_UNKNOWN);
    expect("pathlib.Path", "open", C2S_GLOBAL_UNKNOWN);
    expect("lightning.fabric.utilities", "AttributeDict", C2S_GLOBAL_UNKNOWN);
    expect("typing", "Callable", C2S_GLOBAL_UNKNOWN);
}

/* ---- dangerous ------------------------------------------------------------ */

Test(policy, dangerous_brief_list)
{
    static const pair rows[] = {
        {"os", "system"},
        {"posix", "system"},
        {"nt", "system"},
        {"os.path", "join"},
        {"posixpath", "join"},
        {"ntpath", "join"},
        {"subprocess", "Popen"},
        {"subprocess", "check_output"},
        {"builtins", "eval"},
        {"builtins", "exec"},
        {"builtins", "getattr"},
        {"builtins", "__import__"},
        {"builtins", "open"},
        {"builtins", "compile"},
        {"builtins", "setattr"},
        {"builtins", "type"},
        {"pickle", "loads"},
        {"_pickle", "loads"},
        {"pickle", "Unpickler"},
        {"torch", "load"},
        {"torch", "save"},
        {"torch", "from_file"},
        {"torch.serialization", "load"},
        {"torch.serialization", "_load"},
        {"torch.serialization", "_legacy_load"},
        {"torch.hub", "load"},
        {"torch.hub", "load_state_dict_from_url"},
        {"torch.jit", "load"},
        {"torch.jit._serialization", "load"},
        {"torch.utils.cpp_extension", "load"},
        {"torch.utils.cpp_extension", "load_inline"},
        {"torch._inductor", "anything"},
        {"torch._inductor.codecache", "anything"},
        {"torch._C", "_jit_pass"},
        {"torch.ops", "aten"},
        {"torch.utils.data", "DataLoader"},
        {"copyreg", "_reconstructor"},
        {"copyreg", "__newobj__"},
        {"numpy", "load"},
        {"numpy", "memmap"},
        {"numpy.testing", "anything"},
        {"runpy", "run_path"},
        {"importlib", "import_module"},
        {"importlib.util", "spec_from_file_location"},
        {"operator", "attrgetter"},
        {"functools", "partial"},
        {"shutil", "rmtree"},
        {"socket", "socket"},
        {"sys", "modules"},
        {"ctypes", "CDLL"},
        {"webbrowser", "open"},
        {"http.client", "HTTPConnection"},
        {"urllib.request", "urlopen"},
        {"marshal", "loads"},
        {"dill", "loads"},
        {"types", "FunctionType"},
        {"code", "InteractiveInterpreter"},
    };
    for (size_t i = 0; i < COUNT(rows); i++)
        expect(rows[i].module, rows[i].name, C2S_GLOBAL_DANGEROUS);
}

/* A dangerous module matches itself and its sub-modules, not a module that
 * merely starts with the same letters. */
Test(policy, dangerous_module_is_not_a_string_prefix)
{
    expect("os.path", "join", C2S_GLOBAL_DANGEROUS);
    expect("os.", "system", C2S_GLOBAL_DANGEROUS);
    expect("osx", "system", C2S_GLOBAL_UNKNOWN);
    expect("os_", "system", C2S_GLOBAL_UNKNOWN);
    expect("ost", "path", C2S_GLOBAL_UNKNOWN);
    expect("posixx", "system", C2S_GLOBAL_UNKNOWN);
    expect("ntp", "system", C2S_GLOBAL_UNKNOWN);
    expect("subprocessing", "Popen", C2S_GLOBAL_UNKNOWN);
    expect("pickles", "loads", C2S_GLOBAL_UNKNOWN);
    expect("iox", "open", C2S_GLOBAL_UNKNOWN);
    expect("torch.hubx", "load", C2S_GLOBAL_UNKNOWN);
    expect("torch.jitter", "load", C2S_GLOBAL_UNKNOWN);
    expect("torch._inductorX", "anything", C2S_GLOBAL_UNKNOWN);
    expect("numpy.testingX", "anything", C2S_GLOBAL_UNKNOWN);
    /* "torch" is no dangerous module, only torch.hub etc. are */
    expect("torch", "hub", C2S_GLOBAL_UNKNOWN);
    expect("torch", "jit", C2S_GLOBAL_UNKNOWN);
    /* case matters: Python module names are case-sensitive */
    expect("OS", "system", C2S_GLOBAL_UNKNOWN);
}

/* Exact dangerous pairs are exact too. */
Test(policy, dangerous_pairs_are_exact)
{
    expect("builtins", "evaluate", C2S_GLOBAL_UNKNOWN);
    expect("builtins", "eva", C2S_GLOBAL_UNKNOWN);
    expect("builtins", "range", C2S_GLOBAL_UNKNOWN);
    expect("torch", "loads", C2S_GLOBAL_UNKNOWN);
    expect("torch", "load_state_dict", C2S_GLOBAL_UNKNOWN);
    expect("torch.serialization", "location_tag", C2S_GLOBAL_UNKNOWN);
    expect("numpy", "loadz", C2S_GLOBAL_UNKNOWN);
    expect("copyreg", "pickle", C2S_GLOBAL_UNKNOWN);
    expect("copyreg", "_reconstructorX", C2S_GLOBAL_UNKNOWN);
    /* the pair is (builtins, eval); eval under another module is not it */
    expect("torch", "eval", C2S_GLOBAL_UNKNOWN);
    expect("collections", "eval", C2S_GLOBAL_UNKNOWN);
}

/* ---- prefix / dotted traps --------------------------------------------- */

Test(policy, allowed_is_never_a_prefix_match)
{
    expect("torch._utils", "_rebuild_tensor_v4", C2S_GLOBAL_UNKNOWN);
    expect("torch._utils", "_rebuild_tensor_v", C2S_GLOBAL_UNKNOWN);
    expect("torch._utils", "_rebuild_tensor_v22", C2S_GLOBAL_UNKNOWN);
    expect("torch._utils", "_rebuild_device_tensor_from_numpy", C2S_GLOBAL_UNKNOWN);
    expect("torch._utilsX", "_rebuild_tensor_v2", C2S_GLOBAL_UNKNOWN);
    expect("torch._util", "_rebuild_tensor_v2", C2S_GLOBAL_UNKNOWN);
    expect("torch._utils.sub", "_rebuild_tensor_v2", C2S_GLOBAL_UNKNOWN);
    expect("torch", "_utils", C2S_GLOBAL_UNKNOWN);
    expect("torch", "_rebuild_tensor_v2", C2S_GLOBAL_UNKNOWN);
    expect("torch.nn", "Parameter", C2S_GLOBAL_UNKNOWN);
    expect("_codecs", "decode", C2S_GLOBAL_UNKNOWN);
    expect("codecs", "encode", C2S_GLOBAL_UNKNOWN);
    /* torch._utils is a mixed module: one name in it loads code */
    expect("torch._utils", "_import_dotted_name", C2S_GLOBAL_DANGEROUS);
}

/*
 * Python's find_class walks a dotted name as an attribute path (protocol
 * >= 4): ("torch", "os.system") is os.system, since torch imports os.  Dunder
 * names reach interpreter internals.  The code classifies both dangerous
 * wherever they appear (policy.h); above all they are never allowed or data.
 */
Test(policy, dotted_names_are_dangerous)
{
    static const pair rows[] = {
        {"torch", "os.system"},
        {"torch", "cuda.FloatStorage"},
        {"torch", "serialization.load"},
        {"torch", "_utils._rebuild_tensor_v2"},
        {"torch._utils", "_rebuild_tensor_v2.__globals__"},
        {"collections", "OrderedDict.__init__.__globals__"},
        {"collections", "OrderedDict.fromkeys"},
        {"builtins", "set.__reduce__"},
        {"builtins", "eval.__call__"},
        {"argparse", "Namespace.x"},
        {"numpy", "ndarray.tofile"},
        {"__main__", "MyTensor.x"},
        {"torch", "."},
        {"torch", "FloatStorage."},
        {"torch", ".FloatStorage"},
    };
    for (size_t i = 0; i < COUNT(rows); i++)
        expect(rows[i].module, rows[i].name, C2S_GLOBAL_DANGEROUS);
    cr_assert_eq(policy_refuses(cls_of("torch", "os.system")), 1);
}

Test(policy, dunder_names_are_dangerous)
{
    static const pair rows[] = {
        {"torch._utils._rebuild_tensor_v2", "__globals__"},
        {"torch", "__builtins__"},
        {"collections", "__loader__"},
        {"torch", "__init__"},
        {"argparse", "__dict__"},
        {"__main__", "__a__"},
        {"torch.nn.parameter", "__class__"},
    };
    for (size_t i = 0; i < COUNT(rows); i++)
        expect(rows[i].module, rows[i].name, C2S_GLOBAL_DANGEROUS);
    /* not dunders: too short, or only one side */
    expect("torch", "____", C2S_GLOBAL_UNKNOWN);
    expect("torch", "__a_", C2S_GLOBAL_UNKNOWN);
    expect("torch", "_a__", C2S_GLOBAL_UNKNOWN);
    expect("torch", "__init", C2S_GLOBAL_UNKNOWN);
    expect("torch", "init__", C2S_GLOBAL_UNKNOWN);
    expect("torch", "_private", C2S_GLOBAL_UNKNOWN);
    /* a dunder module is fine by itself */
    expect("__main__", "MyTensor", C2S_GLOBAL_UNKNOWN);
}

/* ---- --allow-global and --permissive ------------------------------------- */

Test(policy, allow_global_is_exact)
{
    static const char *const allow[] = {"__main__.MyTensor"};
    policy_options o = {.allow = allow, .nallow = 1};
    expect_opts("__main__", "MyTensor", &o, C2S_GLOBAL_DATA);
    expect_opts("__main__", "MyTensorX", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main__", "My", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main__", "MyTenso", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main__", "", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main__.My", "Tensor", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main__X", "MyTensor", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main", "MyTensor", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("main__", "MyTensor", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("__main__.MyTensor", "x", &o, C2S_GLOBAL_UNKNOWN);
    /* the entry split the other way is a dotted name: dangerous, not data */
    expect_opts("__main__", "MyTensor.x", &o, C2S_GLOBAL_DANGEROUS);
    /* without the option it is unknown */
    expect("__main__", "MyTensor", C2S_GLOBAL_UNKNOWN);
}

Test(policy, allow_global_several_entries)
{
    static const char *const allow[] = {"a.b", "mypkg.models.Net", "x.Y"};
    policy_options o = {.allow = allow, .nallow = 3};
    expect_opts("a", "b", &o, C2S_GLOBAL_DATA);
    expect_opts("mypkg.models", "Net", &o, C2S_GLOBAL_DATA);
    expect_opts("x", "Y", &o, C2S_GLOBAL_DATA);
    expect_opts("x", "y", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("mypkg", "Net", &o, C2S_GLOBAL_UNKNOWN);
    /* nallow bounds the list: entries past it are not consulted */
    o.nallow = 1;
    expect_opts("a", "b", &o, C2S_GLOBAL_DATA);
    expect_opts("x", "Y", &o, C2S_GLOBAL_UNKNOWN);
    o.nallow = 0;
    expect_opts("a", "b", &o, C2S_GLOBAL_UNKNOWN);
}

Test(policy, allow_global_never_rescues_dangerous)
{
    static const char *const allow[] = {
        "os.system",
        "builtins.eval",
        "torch.load",
        "os.path.join",
        "torch._inductor.anything",
        "copyreg._reconstructor",
        "subprocess.Popen",
    };
    policy_options o = {.allow = allow, .nallow = COUNT(allow)};
    expect_opts("os", "system", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("builtins", "eval", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch", "load", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("os.path", "join", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch._inductor", "anything", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("copyreg", "_reconstructor", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("subprocess", "Popen", &o, C2S_GLOBAL_DANGEROUS);
}

Test(policy, allow_global_does_not_demote_allowed)
{
    static const char *const allow[] = {"collections.OrderedDict", "torch.FloatStorage"};
    policy_options o = {.allow = allow, .nallow = 2};
    expect_opts("collections", "OrderedDict", &o, C2S_GLOBAL_ALLOWED);
    expect_opts("torch", "FloatStorage", &o, C2S_GLOBAL_ALLOWED);
}

Test(policy, permissive_makes_unknown_data_only)
{
    policy_options o = {.permissive = 1};
    expect_opts("__main__", "MyTensor", &o, C2S_GLOBAL_DATA);
    expect_opts("collections", "namedtuple", &o, C2S_GLOBAL_DATA);
    expect_opts("torch.cuda", "FloatStorage", &o, C2S_GLOBAL_DATA);
    expect_opts("osx", "system", &o, C2S_GLOBAL_DATA);
    /* dangerous stays dangerous, allowed stays allowed, data stays data */
    expect_opts("os", "system", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("os.path", "join", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("builtins", "eval", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("builtins", "getattr", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("pickle", "loads", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch", "load", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch.hub", "load", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch._inductor", "anything", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch._utils", "_rebuild_tensor_v2", &o, C2S_GLOBAL_ALLOWED);
    expect_opts("argparse", "Namespace", &o, C2S_GLOBAL_DATA);
    cr_assert_eq(policy_refuses(policy_classify("os", "system", torchtab_allowed, &o)), 1);
    cr_assert_eq(policy_refuses(policy_classify("__main__", "MyTensor", torchtab_allowed, &o)), 0);
}

/* Neither --permissive nor --allow-global accepts a dotted or dunder name. */
Test(policy, options_never_accept_dotted_or_dunder_names)
{
    static const char *const allow[] = {
        "torch.os.system",    "builtins.eval.__call__",
        "torch.hub.load",     "torch._utils._rebuild_tensor_v2.__globals__",
        "torch.__builtins__",
    };
    policy_options permissive = {.permissive = 1};
    policy_options listed = {.allow = allow, .nallow = COUNT(allow)};
    policy_options both = {.allow = allow, .nallow = COUNT(allow), .permissive = 1};
    static const pair rows[] = {
        {"torch", "os.system"},    {"builtins", "eval.__call__"},
        {"torch", "hub.load"},     {"torch._utils", "_rebuild_tensor_v2.__globals__"},
        {"torch", "__builtins__"},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        expect_opts(rows[i].module, rows[i].name, &permissive, C2S_GLOBAL_DANGEROUS);
        expect_opts(rows[i].module, rows[i].name, &listed, C2S_GLOBAL_DANGEROUS);
        expect_opts(rows[i].module, rows[i].name, &both, C2S_GLOBAL_DANGEROUS);
    }
}

/* ---- the caller's classifier ------------------------------------------------ */

/* A caller that interprets mylib.Thing, and claims names it must not get. */
static int mylib_known(const char *module, const char *name)
{
    return strcmp(module, "mylib") == 0 || strcmp(name, "system") == 0 || strcmp(name, "a.b") == 0;
}

Test(policy, caller_classifier_decides_allowed_but_never_danger)
{
    policy_options permissive = {.permissive = 1};
    expect_opts("mylib", "Thing", NULL, C2S_GLOBAL_UNKNOWN); /* through torchtab_allowed */
    cr_assert_eq(policy_classify("mylib", "Thing", mylib_known, NULL), C2S_GLOBAL_ALLOWED);
    cr_assert_eq(policy_classify("mylib", "Thing", mylib_known, &permissive), C2S_GLOBAL_ALLOWED);
    /* danger is judged before the classifier is asked */
    cr_assert_eq(policy_classify("os", "system", mylib_known, NULL), C2S_GLOBAL_DANGEROUS);
    cr_assert_eq(policy_classify("mylib", "a.b", mylib_known, NULL), C2S_GLOBAL_DANGEROUS);
    cr_assert_eq(policy_classify("mylib", "__globals__", mylib_known, NULL), C2S_GLOBAL_DANGEROUS);
    /* data and unknown names are not the classifier's */
    cr_assert_eq(policy_classify("argparse", "Namespace", mylib_known, NULL), C2S_GLOBAL_DATA);
    cr_assert_eq(policy_classify("other", "Thing", mylib_known, NULL), C2S_GLOBAL_UNKNOWN);
}

/* The pickle layer knows no PyTorch name: without a classifier only what the
 * VM itself interprets is allowed. */
Test(policy, no_classifier_allows_only_vm_interpreted_calls)
{
    static const pair vm_calls[] = {
        {"collections", "OrderedDict"}, {"_codecs", "encode"}, {"builtins", "set"},
        {"builtins", "frozenset"},      {"builtins", "bytes"},
    };
    for (size_t i = 0; i < COUNT(vm_calls); i++)
        cr_expect_eq(policy_classify(vm_calls[i].module, vm_calls[i].name, NULL, NULL),
                     C2S_GLOBAL_ALLOWED, "%s.%s", vm_calls[i].module, vm_calls[i].name);
    static const pair torch_names[] = {
        {"torch._utils", "_rebuild_tensor_v2"},
        {"torch", "FloatStorage"},
        {"torch", "float32"},
        {"torch", "Size"},
        {"torch", "device"},
    };
    for (size_t i = 0; i < COUNT(torch_names); i++)
        cr_expect_eq(policy_classify(torch_names[i].module, torch_names[i].name, NULL, NULL),
                     C2S_GLOBAL_UNKNOWN, "%s.%s", torch_names[i].module, torch_names[i].name);
}

/* ---- end to end through the VM -------------------------------------------- */

/* Run a pickle and return its VM (caller frees). */
static pvm *run_pickle(const pb *p)
{
    pvm *vm = pvm_new(NULL);
    cr_assert_not_null(vm);
    pvm_value *v = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = pvm_run(vm, p->buf, p->len, &v, NULL, &err);
    cr_assert_eq(st, C2S_OK, "pvm_run failed: %s", err.msg);
    return vm;
}

static void expect_global(const pvm *vm, size_t i, const char *module, const char *name,
                          const char *raw_module, c2s_global_class want)
{
    const pvm_global *g = pvm_global_at(vm, i);
    cr_assert_not_null(g);
    cr_assert_str_eq(g->module, module);
    cr_assert_str_eq(g->name, name);
    cr_assert_str_eq(g->raw_module, raw_module);
    c2s_global_class got = policy_classify(g->module, g->name, torchtab_allowed, NULL);
    cr_assert_eq(got, want, "%s.%s: got %s", module, name, c2s_global_class_name(got));
}

Test(policy, vm_maps_py2_builtin_eval_to_dangerous)
{
    /* protocol 2: GLOBAL '__builtin__ eval', ('1+1',), REDUCE, STOP */
    pb p = {0};
    pb_proto(&p, 2);
    pb_global(&p, "__builtin__", "eval");
    pb_mark(&p);
    pb_str(&p, "1+1");
    pb_tuple(&p);
    pb_reduce(&p);
    pb_stop(&p);
    pvm *vm = run_pickle(&p);
    cr_assert_eq(pvm_global_count(vm), 1);
    expect_global(vm, 0, "builtins", "eval", "__builtin__", C2S_GLOBAL_DANGEROUS);
    const pvm_global *g = pvm_global_at(vm, 0);
    cr_assert_eq(g->uses, PVM_USE_REF | PVM_USE_REDUCE);
    cr_assert_eq(g->first_offset, 2);
    /* without the mapping the raw name would be on no list */
    cr_assert_eq(policy_classify("__builtin__", "eval", torchtab_allowed, NULL),
                 C2S_GLOBAL_UNKNOWN);
    pvm_free(vm);
    pb_free(&p);
}

Test(policy, vm_maps_copy_reg_reconstructor)
{
    /* protocol 0 style: GLOBAL 'copy_reg _reconstructor' then
     * GLOBAL '__builtin__ object' and '__builtin__ set' in a tuple */
    pb p = {0};
    pb_mark(&p);
    pb_global(&p, "copy_reg", "_reconstructor");
    pb_global(&p, "__builtin__", "object");
    pb_global(&p, "__builtin__", "set");
    pb_global(&p, "__builtin__", "reduce");
    pb_tuple(&p);
    pb_stop(&p);
    pvm *vm = run_pickle(&p);
    cr_assert_eq(pvm_global_count(vm), 4);
    expect_global(vm, 0, "copyreg", "_reconstructor", "copy_reg", C2S_GLOBAL_DANGEROUS);
    expect_global(vm, 1, "builtins", "object", "__builtin__", C2S_GLOBAL_DATA);
    expect_global(vm, 2, "builtins", "set", "__builtin__", C2S_GLOBAL_ALLOWED);
    /* a renamed pair: __builtin__.reduce is functools.reduce */
    expect_global(vm, 3, "functools", "reduce", "__builtin__", C2S_GLOBAL_DANGEROUS);
    pvm_free(vm);
    pb_free(&p);
}

/* A realistic torch pickle names only allowed globals. */
Test(policy, vm_torch_tensor_globals_are_allowed)
{
    pb p = {0};
    pb_proto(&p, 2);
    pb_vec_f32(&p, "0", 4);
    pb_stop(&p);
    pvm *vm = run_pickle(&p);
    size_t n = pvm_global_count(vm);
    cr_assert_eq(n, 3);
    expect_global(vm, 0, "torch._utils", "_rebuild_tensor_v2", "torch._utils", C2S_GLOBAL_ALLOWED);
    expect_global(vm, 1, "torch", "FloatStorage", "torch", C2S_GLOBAL_ALLOWED);
    expect_global(vm, 2, "collections", "OrderedDict", "collections", C2S_GLOBAL_ALLOWED);
    pvm_free(vm);
    pb_free(&p);
}

Test(policy, allow_global_module_wildcard)
{
    static const char *const allow[] = {"models.*"};
    policy_options o = {.allow = allow, .nallow = 1};
    expect_opts("models", "Model", &o, C2S_GLOBAL_DATA);
    expect_opts("models.yolo", "Model", &o, C2S_GLOBAL_DATA);
    expect_opts("models.common.deep", "Conv", &o, C2S_GLOBAL_DATA);
    /* a module that merely starts with the same letters is another module */
    expect_opts("modelsx", "Model", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("model", "Model", &o, C2S_GLOBAL_UNKNOWN);
    expect_opts("utils.models", "Model", &o, C2S_GLOBAL_UNKNOWN);
    /* dotted and dunder names stay dangerous */
    expect_opts("models", "os.system", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("models.yolo", "__reduce__", &o, C2S_GLOBAL_DANGEROUS);
    /* what the tables know keeps its class */
    expect_opts("torch._utils", "_rebuild_tensor_v2", &o, C2S_GLOBAL_ALLOWED);
}

Test(policy, allow_global_wildcard_never_reaches_dangerous_modules)
{
    static const char *const allow[] = {"os.*", "torch.*", "builtins.*", "*", ".*"};
    policy_options o = {.allow = allow, .nallow = 5};
    expect_opts("os", "system", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("os.path", "join", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch.hub", "load", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("builtins", "eval", &o, C2S_GLOBAL_DANGEROUS);
    expect_opts("torch", "load", &o, C2S_GLOBAL_DANGEROUS);
    /* unknown names of those modules are accepted */
    expect_opts("torch.nn.modules.newer", "RMSNorm", &o, C2S_GLOBAL_DATA);
    expect_opts("builtins", "range", &o, C2S_GLOBAL_DATA);
    /* '*' and '.*' alone name no module: they accept nothing */
    static const char *const bare[] = {"*", ".*"};
    policy_options b = {.allow = bare, .nallow = 2};
    expect_opts("__main__", "Net", &b, C2S_GLOBAL_UNKNOWN);
    expect_opts("", "Net", &b, C2S_GLOBAL_UNKNOWN);
}

Test(policy, torch_nn_module_classes_allowed_exactly)
{
    expect("torch.nn.modules.linear", "Linear", C2S_GLOBAL_ALLOWED);
    expect("torch.nn.modules.container", "Sequential", C2S_GLOBAL_ALLOWED);
    expect("torch.nn.modules.container", "ModuleList", C2S_GLOBAL_ALLOWED);
    expect("torch.nn.modules.batchnorm", "BatchNorm2d", C2S_GLOBAL_ALLOWED);
    expect("torch.nn.modules.module", "Module", C2S_GLOBAL_ALLOWED);
    /* private bases, other names of those modules, other modules: unknown */
    expect("torch.nn.modules.conv", "_ConvNd", C2S_GLOBAL_UNKNOWN);
    expect("torch.nn.modules.linear", "F", C2S_GLOBAL_UNKNOWN);
    expect("torch.nn.modules.module", "register_module_forward_hook", C2S_GLOBAL_UNKNOWN);
    expect("torch.nn.modules", "Linear", C2S_GLOBAL_UNKNOWN);
    expect("torch.nn", "Linear", C2S_GLOBAL_UNKNOWN);
    expect("models.yolo", "Model", C2S_GLOBAL_UNKNOWN);
    expect("__main__", "Net", C2S_GLOBAL_UNKNOWN);
}

/* Only named and a builtin container: inert.  A torch, numpy or collections
 * name only named is not: torch calls values a pickle hands it
 * (_rebuild_from_type_v2's func, an instance's __setstate__), and
 * torch.utils.collect_env.run is a shell.  Danger first: a dangerous name
 * is never inert. */
Test(policy, inert_references)
{
    cr_assert_eq(policy_inert_reference("builtins", "frozenset"), 1);
    cr_assert_eq(policy_inert_reference("builtins", "dict"), 1);
    cr_assert_eq(policy_inert_reference("builtins", "object"), 1);
    cr_assert_eq(policy_inert_reference("torch.nn.functional", "relu"), 0);
    cr_assert_eq(policy_inert_reference("torch.utils.collect_env", "run"), 0);
    cr_assert_eq(policy_inert_reference("torch.fx.graph_module", "_exec_with_source"), 0);
    cr_assert_eq(policy_inert_reference("torch", "serialization"), 0);
    cr_assert_eq(policy_inert_reference("numpy.random", "default_rng"), 0);
    cr_assert_eq(policy_inert_reference("collections", "namedtuple"), 0);
    cr_assert_eq(policy_inert_reference("builtins", "eval"), 0);
    cr_assert_eq(policy_inert_reference("builtins", "print"), 0);
    cr_assert_eq(policy_inert_reference("builtins", "zip"), 0);
    cr_assert_eq(policy_inert_reference("torch", "load"), 0);
    cr_assert_eq(policy_inert_reference("torch.hub", "load"), 0);
    cr_assert_eq(policy_inert_reference("torch", "os.system"), 0);
    cr_assert_eq(policy_inert_reference("numpy", "load"), 0);
    cr_assert_eq(policy_inert_reference("torchvision", "models"), 0);
    cr_assert_eq(policy_inert_reference("os", "system"), 0);
    cr_assert_eq(policy_inert_reference("collectionsx", "deque"), 0);
}
