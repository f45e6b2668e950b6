/*
 * torchtab.c - the table of PyTorch globals (see src/torch/torchtab.h).
 *
 * One array of rows sorted by (module, name) in strcmp order; torchtab_find()
 * is a binary search over it, so the tensor map can ask about every call it
 * walks past without a linear scan.  The row macros below only fill in the
 * columns a role does not use.  Sources of the facts: torch/_utils.py and
 * torch/_tensor.py (rebuild functions), torch/storage.py and the legacy
 * storage classes of torch/__init__.py, torch's dtype, layout and qscheme
 * objects (their pickles name them as attributes of the module torch).
 */
#include "torch/torchtab.h"

#include <stdlib.h>
#include <string.h>

#include "torch/dtype.h"

#define ALLOW 1   /* the safety policy accepts the name */
#define KNOWN 0   /* recognised, but a file naming it is refused unless allowed */
#define NONE (-1) /* no c2s_dtype: safetensors cannot hold it (or not a type) */

#define REBUILD(m, n, allow, kind, why)             \
    {                                               \
        m, n, TORCH_REBUILD, allow, kind, NONE, why \
    }
#define STORAGE(n, dt, why)                                      \
    {                                                            \
        "torch", n, TORCH_STORAGE, ALLOW, TORCH_RB_NONE, dt, why \
    }
#define DTYPE(n, allow, dt, why)                               \
    {                                                          \
        "torch", n, TORCH_DTYPE, allow, TORCH_RB_NONE, dt, why \
    }
#define NAMED(m, n, role)                            \
    {                                                \
        m, n, role, ALLOW, TORCH_RB_NONE, NONE, NULL \
    }
#define MODULE(m, n) NAMED(m, n, TORCH_MODULE)

/* Sorted by (module, name): capitals before lower case, "torch" before
 * "torch._tensor" before "torch._utils" before "torch.nn...". */
static const torch_global ROWS[] = {
    STORAGE("BFloat16Storage", C2S_BF16, NULL),
    STORAGE("BoolStorage", C2S_BOOL, NULL),
    STORAGE("ByteStorage", C2S_U8, NULL),
    STORAGE("CharStorage", C2S_I8, NULL),
    STORAGE("ComplexDoubleStorage", NONE, "complex128"),
    STORAGE("ComplexFloatStorage", C2S_C64, NULL),
    STORAGE("DoubleStorage", C2S_F64, NULL),
    STORAGE("FloatStorage", C2S_F32, NULL),
    STORAGE("HalfStorage", C2S_F16, NULL),
    STORAGE("IntStorage", C2S_I32, NULL),
    STORAGE("LongStorage", C2S_I64, NULL),
    STORAGE("QInt32Storage", NONE, "quantized qint32"),
    STORAGE("QInt8Storage", NONE, "quantized qint8"),
    STORAGE("QUInt2x4Storage", NONE, "quantized quint2x4"),
    STORAGE("QUInt4x2Storage", NONE, "quantized quint4x2"),
    STORAGE("QUInt8Storage", NONE, "quantized quint8"),
    STORAGE("ShortStorage", C2S_I16, NULL),
    NAMED("torch", "Size", TORCH_SIZE),
    NAMED("torch", "Tensor", TORCH_INERT),
    STORAGE("UntypedStorage", C2S_U8, NULL),
    DTYPE("bfloat16", ALLOW, C2S_BF16, NULL),
    DTYPE("bits16", KNOWN, NONE, "bits16"),
    DTYPE("bits1x8", KNOWN, NONE, "bits1x8"),
    DTYPE("bits2x4", KNOWN, NONE, "bits2x4"),
    DTYPE("bits4x2", KNOWN, NONE, "bits4x2"),
    DTYPE("bits8", KNOWN, NONE, "bits8"),
    DTYPE("bool", ALLOW, C2S_BOOL, NULL),
    DTYPE("cdouble", KNOWN, NONE, "complex128"),
    DTYPE("cfloat", KNOWN, C2S_C64, NULL),
    DTYPE("chalf", KNOWN, NONE, "complex32"),
    DTYPE("complex128", ALLOW, NONE, "complex128"),
    DTYPE("complex32", ALLOW, NONE, "complex32"),
    DTYPE("complex64", ALLOW, C2S_C64, NULL),
    NAMED("torch", "device", TORCH_INERT),
    DTYPE("double", KNOWN, C2S_F64, NULL),
    DTYPE("float", KNOWN, C2S_F32, NULL),
    DTYPE("float16", ALLOW, C2S_F16, NULL),
    DTYPE("float32", ALLOW, C2S_F32, NULL),
    DTYPE("float4_e2m1fn_x2", KNOWN, NONE, "float4_e2m1fn_x2 (packed sub-byte)"),
    DTYPE("float64", ALLOW, C2S_F64, NULL),
    DTYPE("float8_e4m3fn", ALLOW, C2S_F8_E4M3, NULL),
    DTYPE("float8_e4m3fnuz", ALLOW, C2S_F8_E4M3FNUZ, NULL),
    DTYPE("float8_e5m2", ALLOW, C2S_F8_E5M2, NULL),
    DTYPE("float8_e5m2fnuz", ALLOW, C2S_F8_E5M2FNUZ, NULL),
    DTYPE("float8_e8m0fnu", ALLOW, C2S_F8_E8M0, NULL),
    DTYPE("half", KNOWN, C2S_F16, NULL),
    DTYPE("int", KNOWN, C2S_I32, NULL),
    DTYPE("int1", KNOWN, NONE, "int1"),
    DTYPE("int16", ALLOW, C2S_I16, NULL),
    DTYPE("int2", KNOWN, NONE, "int2"),
    DTYPE("int3", KNOWN, NONE, "int3"),
    DTYPE("int32", ALLOW, C2S_I32, NULL),
    DTYPE("int4", KNOWN, NONE, "int4"),
    DTYPE("int5", KNOWN, NONE, "int5"),
    DTYPE("int6", KNOWN, NONE, "int6"),
    DTYPE("int64", ALLOW, C2S_I64, NULL),
    DTYPE("int7", KNOWN, NONE, "int7"),
    DTYPE("int8", ALLOW, C2S_I8, NULL),
    DTYPE("long", KNOWN, C2S_I64, NULL),
    NAMED("torch", "per_channel_affine", TORCH_QSCHEME),
    NAMED("torch", "per_channel_affine_float_qparams", TORCH_QSCHEME),
    NAMED("torch", "per_channel_symmetric", TORCH_QSCHEME),
    NAMED("torch", "per_tensor_affine", TORCH_QSCHEME),
    NAMED("torch", "per_tensor_symmetric", TORCH_QSCHEME),
    DTYPE("qint32", ALLOW, NONE, "quantized qint32"),
    DTYPE("qint8", ALLOW, NONE, "quantized qint8"),
    DTYPE("quint2x4", ALLOW, NONE, "quantized quint2x4"),
    DTYPE("quint4x2", ALLOW, NONE, "quantized quint4x2"),
    DTYPE("quint8", ALLOW, NONE, "quantized quint8"),
    DTYPE("short", KNOWN, C2S_I16, NULL),
    NAMED("torch", "sparse_bsc", TORCH_LAYOUT),
    NAMED("torch", "sparse_bsr", TORCH_LAYOUT),
    NAMED("torch", "sparse_coo", TORCH_LAYOUT),
    NAMED("torch", "sparse_csc", TORCH_LAYOUT),
    NAMED("torch", "sparse_csr", TORCH_LAYOUT),
    NAMED("torch", "strided", TORCH_LAYOUT),
    DTYPE("uint1", KNOWN, NONE, "uint1"),
    DTYPE("uint16", ALLOW, C2S_U16, NULL),
    DTYPE("uint2", KNOWN, NONE, "uint2"),
    DTYPE("uint3", KNOWN, NONE, "uint3"),
    DTYPE("uint32", ALLOW, C2S_U32, NULL),
    DTYPE("uint4", KNOWN, NONE, "uint4"),
    DTYPE("uint5", KNOWN, NONE, "uint5"),
    DTYPE("uint6", KNOWN, NONE, "uint6"),
    DTYPE("uint64", ALLOW, C2S_U64, NULL),
    DTYPE("uint7", KNOWN, NONE, "uint7"),
    DTYPE("uint8", ALLOW, C2S_U8, NULL),
    REBUILD("torch._tensor", "_rebuild_from_type", ALLOW, TORCH_RB_FROM_TYPE, NULL),
    REBUILD("torch._tensor", "_rebuild_from_type_v2", ALLOW, TORCH_RB_FROM_TYPE, NULL),
    REBUILD("torch._utils", "_rebuild_device_tensor_from_cpu_tensor", KNOWN, TORCH_RB_UNSUPPORTED,
            "device tensor"),
    REBUILD("torch._utils", "_rebuild_device_tensor_from_numpy", KNOWN, TORCH_RB_UNSUPPORTED,
            "device tensor"),
    REBUILD("torch._utils", "_rebuild_meta_tensor_no_storage", ALLOW, TORCH_RB_UNSUPPORTED,
            "meta tensor (no data)"),
    REBUILD("torch._utils", "_rebuild_mlc_tensor", KNOWN, TORCH_RB_UNSUPPORTED, "device tensor"),
    REBUILD("torch._utils", "_rebuild_nested_tensor", ALLOW, TORCH_RB_UNSUPPORTED, "nested tensor"),
    REBUILD("torch._utils", "_rebuild_parameter", ALLOW, TORCH_RB_PARAM, NULL),
    REBUILD("torch._utils", "_rebuild_parameter_with_state", ALLOW, TORCH_RB_PARAM, NULL),
    REBUILD("torch._utils", "_rebuild_qtensor", ALLOW, TORCH_RB_QTENSOR, NULL),
    REBUILD("torch._utils", "_rebuild_sparse_csr_tensor", ALLOW, TORCH_RB_UNSUPPORTED,
            "sparse tensor"),
    REBUILD("torch._utils", "_rebuild_sparse_tensor", ALLOW, TORCH_RB_UNSUPPORTED, "sparse tensor"),
    REBUILD("torch._utils", "_rebuild_tensor", ALLOW, TORCH_RB_V1, NULL),
    REBUILD("torch._utils", "_rebuild_tensor_v2", ALLOW, TORCH_RB_V2, NULL),
    REBUILD("torch._utils", "_rebuild_tensor_v3", ALLOW, TORCH_RB_V3, NULL),
    REBUILD("torch._utils", "_rebuild_wrapper_subclass", KNOWN, TORCH_RB_UNSUPPORTED,
            "wrapper tensor subclass"),
    REBUILD("torch._utils", "_rebuild_xla_tensor", KNOWN, TORCH_RB_UNSUPPORTED, "device tensor"),
    /* torch.nn.Module classes: the public nn.Module subclasses of torch 1.13's
     * torch.nn.modules.* (fixtures/make_modules.py lists them).  torch.save
     * writes a module as NEWOBJ of its class (object.__new__, no __init__)
     * and BUILD with its __dict__: unpickling runs Module.__setstate__ (or an
     * override that only fills in defaults: Conv, RNN, Softmax, ...), nothing
     * the file chooses.  A pickle that calls one of them with arguments
     * (REDUCE, INST, OBJ: its __init__) is judged unknown (reader/judge.c). */
    MODULE("torch.nn.modules.activation", "CELU"),
    MODULE("torch.nn.modules.activation", "ELU"),
    MODULE("torch.nn.modules.activation", "GELU"),
    MODULE("torch.nn.modules.activation", "GLU"),
    MODULE("torch.nn.modules.activation", "Hardshrink"),
    MODULE("torch.nn.modules.activation", "Hardsigmoid"),
    MODULE("torch.nn.modules.activation", "Hardswish"),
    MODULE("torch.nn.modules.activation", "Hardtanh"),
    MODULE("torch.nn.modules.activation", "LeakyReLU"),
    MODULE("torch.nn.modules.activation", "LogSigmoid"),
    MODULE("torch.nn.modules.activation", "LogSoftmax"),
    MODULE("torch.nn.modules.activation", "Mish"),
    MODULE("torch.nn.modules.activation", "MultiheadAttention"),
    MODULE("torch.nn.modules.activation", "PReLU"),
    MODULE("torch.nn.modules.activation", "RReLU"),
    MODULE("torch.nn.modules.activation", "ReLU"),
    MODULE("torch.nn.modules.activation", "ReLU6"),
    MODULE("torch.nn.modules.activation", "SELU"),
    MODULE("torch.nn.modules.activation", "SiLU"),
    MODULE("torch.nn.modules.activation", "Sigmoid"),
    MODULE("torch.nn.modules.activation", "Softmax"),
    MODULE("torch.nn.modules.activation", "Softmax2d"),
    MODULE("torch.nn.modules.activation", "Softmin"),
    MODULE("torch.nn.modules.activation", "Softplus"),
    MODULE("torch.nn.modules.activation", "Softshrink"),
    MODULE("torch.nn.modules.activation", "Softsign"),
    MODULE("torch.nn.modules.activation", "Tanh"),
    MODULE("torch.nn.modules.activation", "Tanhshrink"),
    MODULE("torch.nn.modules.activation", "Threshold"),
    MODULE("torch.nn.modules.adaptive", "AdaptiveLogSoftmaxWithLoss"),
    MODULE("torch.nn.modules.batchnorm", "BatchNorm1d"),
    MODULE("torch.nn.modules.batchnorm", "BatchNorm2d"),
    MODULE("torch.nn.modules.batchnorm", "BatchNorm3d"),
    MODULE("torch.nn.modules.batchnorm", "LazyBatchNorm1d"),
    MODULE("torch.nn.modules.batchnorm", "LazyBatchNorm2d"),
    MODULE("torch.nn.modules.batchnorm", "LazyBatchNorm3d"),
    MODULE("torch.nn.modules.batchnorm", "SyncBatchNorm"),
    MODULE("torch.nn.modules.channelshuffle", "ChannelShuffle"),
    MODULE("torch.nn.modules.container", "Container"),
    MODULE("torch.nn.modules.container", "ModuleDict"),
    MODULE("torch.nn.modules.container", "ModuleList"),
    MODULE("torch.nn.modules.container", "ParameterDict"),
    MODULE("torch.nn.modules.container", "ParameterList"),
    MODULE("torch.nn.modules.container", "Sequential"),
    MODULE("torch.nn.modules.conv", "Conv1d"),
    MODULE("torch.nn.modules.conv", "Conv2d"),
    MODULE("torch.nn.modules.conv", "Conv3d"),
    MODULE("torch.nn.modules.conv", "ConvTranspose1d"),
    MODULE("torch.nn.modules.conv", "ConvTranspose2d"),
    MODULE("torch.nn.modules.conv", "ConvTranspose3d"),
    MODULE("torch.nn.modules.conv", "LazyConv1d"),
    MODULE("torch.nn.modules.conv", "LazyConv2d"),
    MODULE("torch.nn.modules.conv", "LazyConv3d"),
    MODULE("torch.nn.modules.conv", "LazyConvTranspose1d"),
    MODULE("torch.nn.modules.conv", "LazyConvTranspose2d"),
    MODULE("torch.nn.modules.conv", "LazyConvTranspose3d"),
    MODULE("torch.nn.modules.distance", "CosineSimilarity"),
    MODULE("torch.nn.modules.distance", "PairwiseDistance"),
    MODULE("torch.nn.modules.dropout", "AlphaDropout"),
    MODULE("torch.nn.modules.dropout", "Dropout"),
    MODULE("torch.nn.modules.dropout", "Dropout1d"),
    MODULE("torch.nn.modules.dropout", "Dropout2d"),
    MODULE("torch.nn.modules.dropout", "Dropout3d"),
    MODULE("torch.nn.modules.dropout", "FeatureAlphaDropout"),
    MODULE("torch.nn.modules.flatten", "Flatten"),
    MODULE("torch.nn.modules.flatten", "Unflatten"),
    MODULE("torch.nn.modules.fold", "Fold"),
    MODULE("torch.nn.modules.fold", "Unfold"),
    MODULE("torch.nn.modules.instancenorm", "InstanceNorm1d"),
    MODULE("torch.nn.modules.instancenorm", "InstanceNorm2d"),
    MODULE("torch.nn.modules.instancenorm", "InstanceNorm3d"),
    MODULE("torch.nn.modules.instancenorm", "LazyInstanceNorm1d"),
    MODULE("torch.nn.modules.instancenorm", "LazyInstanceNorm2d"),
    MODULE("torch.nn.modules.instancenorm", "LazyInstanceNorm3d"),
    MODULE("torch.nn.modules.linear", "Bilinear"),
    MODULE("torch.nn.modules.linear", "Identity"),
    MODULE("torch.nn.modules.linear", "LazyLinear"),
    MODULE("torch.nn.modules.linear", "Linear"),
    MODULE("torch.nn.modules.linear", "NonDynamicallyQuantizableLinear"),
    MODULE("torch.nn.modules.loss", "BCELoss"),
    MODULE("torch.nn.modules.loss", "BCEWithLogitsLoss"),
    MODULE("torch.nn.modules.loss", "CTCLoss"),
    MODULE("torch.nn.modules.loss", "CosineEmbeddingLoss"),
    MODULE("torch.nn.modules.loss", "CrossEntropyLoss"),
    MODULE("torch.nn.modules.loss", "GaussianNLLLoss"),
    MODULE("torch.nn.modules.loss", "HingeEmbeddingLoss"),
    MODULE("torch.nn.modules.loss", "HuberLoss"),
    MODULE("torch.nn.modules.loss", "KLDivLoss"),
    MODULE("torch.nn.modules.loss", "L1Loss"),
    MODULE("torch.nn.modules.loss", "MSELoss"),
    MODULE("torch.nn.modules.loss", "MarginRankingLoss"),
    MODULE("torch.nn.modules.loss", "MultiLabelMarginLoss"),
    MODULE("torch.nn.modules.loss", "MultiLabelSoftMarginLoss"),
    MODULE("torch.nn.modules.loss", "MultiMarginLoss"),
    MODULE("torch.nn.modules.loss", "NLLLoss"),
    MODULE("torch.nn.modules.loss", "NLLLoss2d"),
    MODULE("torch.nn.modules.loss", "PoissonNLLLoss"),
    MODULE("torch.nn.modules.loss", "SmoothL1Loss"),
    MODULE("torch.nn.modules.loss", "SoftMarginLoss"),
    MODULE("torch.nn.modules.loss", "TripletMarginLoss"),
    MODULE("torch.nn.modules.loss", "TripletMarginWithDistanceLoss"),
    MODULE("torch.nn.modules.module", "Module"),
    MODULE("torch.nn.modules.normalization", "CrossMapLRN2d"),
    MODULE("torch.nn.modules.normalization", "GroupNorm"),
    MODULE("torch.nn.modules.normalization", "LayerNorm"),
    MODULE("torch.nn.modules.normalization", "LocalResponseNorm"),
    MODULE("torch.nn.modules.padding", "ConstantPad1d"),
    MODULE("torch.nn.modules.padding", "ConstantPad2d"),
    MODULE("torch.nn.modules.padding", "ConstantPad3d"),
    MODULE("torch.nn.modules.padding", "ReflectionPad1d"),
    MODULE("torch.nn.modules.padding", "ReflectionPad2d"),
    MODULE("torch.nn.modules.padding", "ReflectionPad3d"),
    MODULE("torch.nn.modules.padding", "ReplicationPad1d"),
    MODULE("torch.nn.modules.padding", "ReplicationPad2d"),
    MODULE("torch.nn.modules.padding", "ReplicationPad3d"),
    MODULE("torch.nn.modules.padding", "ZeroPad2d"),
    MODULE("torch.nn.modules.pixelshuffle", "PixelShuffle"),
    MODULE("torch.nn.modules.pixelshuffle", "PixelUnshuffle"),
    MODULE("torch.nn.modules.pooling", "AdaptiveAvgPool1d"),
    MODULE("torch.nn.modules.pooling", "AdaptiveAvgPool2d"),
    MODULE("torch.nn.modules.pooling", "AdaptiveAvgPool3d"),
    MODULE("torch.nn.modules.pooling", "AdaptiveMaxPool1d"),
    MODULE("torch.nn.modules.pooling", "AdaptiveMaxPool2d"),
    MODULE("torch.nn.modules.pooling", "AdaptiveMaxPool3d"),
    MODULE("torch.nn.modules.pooling", "AvgPool1d"),
    MODULE("torch.nn.modules.pooling", "AvgPool2d"),
    MODULE("torch.nn.modules.pooling", "AvgPool3d"),
    MODULE("torch.nn.modules.pooling", "FractionalMaxPool2d"),
    MODULE("torch.nn.modules.pooling", "FractionalMaxPool3d"),
    MODULE("torch.nn.modules.pooling", "LPPool1d"),
    MODULE("torch.nn.modules.pooling", "LPPool2d"),
    MODULE("torch.nn.modules.pooling", "MaxPool1d"),
    MODULE("torch.nn.modules.pooling", "MaxPool2d"),
    MODULE("torch.nn.modules.pooling", "MaxPool3d"),
    MODULE("torch.nn.modules.pooling", "MaxUnpool1d"),
    MODULE("torch.nn.modules.pooling", "MaxUnpool2d"),
    MODULE("torch.nn.modules.pooling", "MaxUnpool3d"),
    MODULE("torch.nn.modules.rnn", "GRU"),
    MODULE("torch.nn.modules.rnn", "GRUCell"),
    MODULE("torch.nn.modules.rnn", "LSTM"),
    MODULE("torch.nn.modules.rnn", "LSTMCell"),
    MODULE("torch.nn.modules.rnn", "RNN"),
    MODULE("torch.nn.modules.rnn", "RNNBase"),
    MODULE("torch.nn.modules.rnn", "RNNCell"),
    MODULE("torch.nn.modules.rnn", "RNNCellBase"),
    MODULE("torch.nn.modules.sparse", "Embedding"),
    MODULE("torch.nn.modules.sparse", "EmbeddingBag"),
    MODULE("torch.nn.modules.transformer", "Transformer"),
    MODULE("torch.nn.modules.transformer", "TransformerDecoder"),
    MODULE("torch.nn.modules.transformer", "TransformerDecoderLayer"),
    MODULE("torch.nn.modules.transformer", "TransformerEncoder"),
    MODULE("torch.nn.modules.transformer", "TransformerEncoderLayer"),
    MODULE("torch.nn.modules.upsampling", "Upsample"),
    MODULE("torch.nn.modules.upsampling", "UpsamplingBilinear2d"),
    MODULE("torch.nn.modules.upsampling", "UpsamplingNearest2d"),
    NAMED("torch.nn.parameter", "Parameter", TORCH_INERT),
    NAMED("torch.serialization", "_get_layout", TORCH_INERT),
};

#define NROWS (sizeof ROWS / sizeof ROWS[0])

typedef struct key {
    const char *module, *name;
} key;

static int compare_key(const void *k, const void *row)
{
    const key *a = k;
    const torch_global *b = row;
    int c = strcmp(a->module, b->module);
    return c != 0 ? c : strcmp(a->name, b->name);
}

const torch_global *torchtab_find(const char *module, const char *name)
{
    key k = {module, name};
    return bsearch(&k, ROWS, NROWS, sizeof ROWS[0], compare_key);
}

int torchtab_allowed(const char *module, const char *name)
{
    const torch_global *g = torchtab_find(module, name);
    return g != NULL && g->allowed;
}

size_t torchtab_count(void)
{
    return NROWS;
}

const torch_global *torchtab_row(size_t i)
{
    return i < NROWS ? &ROWS[i] : NULL;
}

const char *torchtab_role_name(torch_role role)
{
    switch (role) {
    case TORCH_REBUILD:
        return "rebuild";
    case TORCH_STORAGE:
        return "storage";
    case TORCH_DTYPE:
        return "dtype";
    case TORCH_LAYOUT:
        return "layout";
    case TORCH_QSCHEME:
        return "qscheme";
    case TORCH_SIZE:
        return "size";
    case TORCH_INERT:
        return "inert";
    case TORCH_MODULE:
        return "module";
    }
    return "?";
}
