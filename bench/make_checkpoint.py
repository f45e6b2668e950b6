#!/usr/bin/env python3
"""Generate a realistic torch.save checkpoint of a given size for the benchmark.

    make_checkpoint.py SIZE OUTPUT [--layout model|contiguous|transposed] [--no-torch] [--quiet]
    make_checkpoint.py OUTPUT --tensors N [--no-torch] [--quiet]

SIZE is a byte count with an optional K/M/G suffix (binary: 1G = 2^30 bytes),
e.g. 256M, 1G, 5G.  The sum of the storages comes within a few KiB of SIZE; the
file is a little larger (zip headers, data.pkl).

The checkpoint looks like a transformer state_dict (an OrderedDict):

  - two huge tensors: embed_tokens.weight (F16) and lm_head.weight (F32),
    about a quarter of the size together;
  - N layers of attention (q/k/v/o) and MLP (fc1/fc2) weights whose dtype cycles
    through F32, F16 and BF16, with F32 biases and LayerNorm weight/bias;
  - I64 buffers: a position_ids row and a small relative-position table per layer;
  - views: every 4th layer's q/k/v are slices of one fused qkv storage (shared
    storage, non-zero storage offsets), every 4th layer (shifted by 2) has a
    transposed fc2 (stride (1, d): the converter must gather it), and the
    embedding is a slice of a storage padded with 64 extra rows.

--layout contiguous / transposed (the cases of bench/run.sh's BENCH_CASES)
write instead 64 square F32 matrices of SIZE/64 bytes each (the side rounded
down to a multiple of 64), with the same values both ways: `contiguous`
saves each matrix as a contiguous tensor, `transposed` saves the transpose
of a contiguous storage (`base.t()`, strides (1, n): every tensor a strided
view the converter must gather).  With torch both convert to byte-identical
safetensors files; the fallback writer (no torch) gives the same storages
and views, but its transposed file's values are then the transposes.

--tensors N (the "many tensors" rows of bench/run.sh) writes instead N tiny
tensors, each with its own storage, as a state_dict of small parameters saved
with torch.save: F32 of shape (4,), (2, 2) or (8,) in turn (16 or 32 bytes),
named "blocks.<i // 8>.<part>.weight".  200,000 of them make a file of about
57 MiB whose data.pkl is about 19.6 MB: the cost there is the pickle and the
per-entry work, not the bytes.  SIZE is not given then.

With PyTorch the file is written by torch.save (STORED entries, data 64-byte
aligned, ZIP64 above 4 GiB: exactly what users have).  Without PyTorch (or with
--no-torch) the same tensors are written by a fallback of our own: Python's
zipfile (STORED, data 64-byte aligned through a padding extra field, ZIP64 when
needed) and a hand-written protocol-2 pickle calling
torch._utils._rebuild_tensor_v2 on persistent storage ids, like torch.save.

The content is not deterministic and not meant to be: one random block per
dtype is generated and copied over and over, which is fast (the bytes are
never compressed, so their entropy does not matter to the benchmark).
"""
import argparse
import array
import collections
import os
import random
import struct
import sys
import time
import zipfile

# dtype -> (bytes per element, torch storage class, torch dtype name)
DTYPES = {
    "F32": (4, "FloatStorage", "float32"),
    "F16": (2, "HalfStorage", "float16"),
    "BF16": (2, "BFloat16Storage", "bfloat16"),
    "I64": (8, "LongStorage", "int64"),
}

Storage = collections.namedtuple("Storage", "key dtype numel")
Tensor = collections.namedtuple("Tensor", "name storage offset shape stride")


def parse_size(text):
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().rstrip("B").rstrip("I")
    num, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(num) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size '{text}' (use e.g. 256M, 1G, 5G)")
    if value < 1 << 20:
        raise argparse.ArgumentTypeError(f"size '{text}' is below 1M")
    return int(value)


def contiguous_stride(shape):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.append(acc)
        acc *= d
    return tuple(reversed(stride))


def numel_of(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Plan:
    """Storages (in the order torch.save meets them) and tensors (in dict order)."""

    def __init__(self):
        self.storages = []
        self.tensors = []

    def storage(self, dtype, numel):
        s = Storage(str(len(self.storages)), dtype, numel)
        self.storages.append(s)
        return s

    def plain(self, name, dtype, shape):
        s = self.storage(dtype, numel_of(shape))
        self.tensors.append(Tensor(name, s, 0, tuple(shape), contiguous_stride(shape)))

    def view(self, name, storage, offset, shape, stride):
        self.tensors.append(Tensor(name, storage, offset, tuple(shape), tuple(stride)))

    def nbytes(self):
        return sum(s.numel * DTYPES[s.dtype][0] for s in self.storages)


def make_square_plan(target, layout, count=64):
    """count square F32 matrices of about target/count bytes, contiguous or
    transposed views (storage (n, n), saved with strides (1, n))."""
    side = int((target // count // 4) ** 0.5) // 64 * 64
    side = max(side, 64)
    p = Plan()
    for i in range(count):
        s = p.storage("F32", side * side)
        stride = (side, 1) if layout == "contiguous" else (1, side)
        p.view(f"layers.{i}.weight", s, 0, (side, side), stride)
    return p, side


TINY_SHAPES = [(4,), (2, 2), (8,)]
TINY_PARTS = ["attn", "norm", "mlp", "gate", "proj", "ln", "bias", "scale"]


def make_tiny_plan(count):
    """count tiny F32 tensors, each with its own storage (the many-tensors case)."""
    p = Plan()
    for i in range(count):
        p.plain(f"blocks.{i // 8}.{TINY_PARTS[i % 8]}.weight", "F32", TINY_SHAPES[i % 3])
    return p


def hidden_size(target):
    if target < (512 << 20):
        return 512
    if target < (3 << 30):
        return 1024
    return 2048


def layer_bytes(d, i):
    cyc = ["F32", "F16", "BF16"]
    attn, mlp = DTYPES[cyc[i % 3]][0], DTYPES[cyc[(i + 1) % 3]][0]
    return 4 * d * d * attn + 8 * d * d * mlp + (4 * d + 4 * d + d + 4 * d) * 4 + 256 * 8


def make_plan(target):
    d = hidden_size(target)
    maxpos = 4096
    small = maxpos * 8 + d * 4 * 2  # position_ids, final norm
    budget_layers = int(target * 0.75)
    layers, used = 0, 0
    while used + layer_bytes(d, layers) <= budget_layers or layers == 0:
        used += layer_bytes(d, layers)
        layers += 1
    # The two huge tensors take what is left: vocab rows of d*(2 + 4) bytes,
    # plus the 64 padding rows of the embedding storage.
    rest = target - used - small - 64 * d * 2
    vocab = max(64, rest // (d * 6))

    p = Plan()
    cyc = ["F32", "F16", "BF16"]
    emb = p.storage("F16", (vocab + 64) * d)  # padded vocabulary: a slice is saved
    p.view("model.embed_tokens.weight", emb, 0, (vocab, d), (d, 1))
    p.plain("model.embed_positions.position_ids", "I64", (1, maxpos))
    for i in range(layers):
        pre = f"model.layers.{i}."
        attn, mlp = cyc[i % 3], cyc[(i + 1) % 3]
        p.plain(pre + "input_layernorm.weight", "F32", (d,))
        p.plain(pre + "input_layernorm.bias", "F32", (d,))
        if i % 4 == 0:
            qkv = p.storage(attn, 3 * d * d)  # fused projection: three slices of it
            for j, n in enumerate("qkv"):
                p.view(pre + f"self_attn.{n}_proj.weight", qkv, j * d * d, (d, d), (d, 1))
        else:
            for n in "qkv":
                p.plain(pre + f"self_attn.{n}_proj.weight", attn, (d, d))
        for n in "qkv":
            p.plain(pre + f"self_attn.{n}_proj.bias", "F32", (d,))
        p.plain(pre + "self_attn.o_proj.weight", attn, (d, d))
        p.plain(pre + "self_attn.relative_position_bucket", "I64", (256,))
        p.plain(pre + "post_attention_layernorm.weight", "F32", (d,))
        p.plain(pre + "post_attention_layernorm.bias", "F32", (d,))
        p.plain(pre + "mlp.fc1.weight", mlp, (4 * d, d))
        p.plain(pre + "mlp.fc1.bias", "F32", (4 * d,))
        if i % 4 == 2:
            st = p.storage(mlp, 4 * d * d)  # stored (4d, d), saved transposed
            p.view(pre + "mlp.fc2.weight", st, 0, (d, 4 * d), (1, d))
        else:
            p.plain(pre + "mlp.fc2.weight", mlp, (d, 4 * d))
        p.plain(pre + "mlp.fc2.bias", "F32", (d,))
    p.plain("model.norm.weight", "F32", (d,))
    p.plain("model.norm.bias", "F32", (d,))
    p.plain("lm_head.weight", "F32", (vocab, d))
    return p, d, layers, vocab


# ---------------------------------------------------------------------------
# Content: one random block per dtype, repeated
# ---------------------------------------------------------------------------

BLOCK = 1 << 20  # bytes


def random_blocks_pure():
    rnd = random.Random()
    f32 = array.array("f", (rnd.gauss(0.0, 0.02) for _ in range(BLOCK // 4)))
    if sys.byteorder != "little":
        f32.byteswap()
    f32b = f32.tobytes()
    bf16 = b"".join(f32b[i + 2:i + 4] for i in range(0, len(f32b), 4))  # upper halves
    f16 = struct.pack(f"<{BLOCK // 2}e", *(rnd.gauss(0.0, 0.02) for _ in range(BLOCK // 2)))
    i64 = struct.pack(f"<{BLOCK // 8}q", *(rnd.randrange(0, 4096) for _ in range(BLOCK // 8)))
    return {"F32": f32b, "F16": f16, "BF16": bf16, "I64": i64}


# ---------------------------------------------------------------------------
# With PyTorch: build the tensors and torch.save them
# ---------------------------------------------------------------------------

def save_with_torch(plan, path, layout="model"):
    import torch

    tdt = {k: getattr(torch, v[2]) for k, v in DTYPES.items()}
    chunk_elems = 4 << 20
    blocks = {
        "F32": torch.randn(chunk_elems) * 0.02,
        "I64": torch.randint(0, 4096, (chunk_elems,), dtype=torch.int64),
    }
    blocks["F16"] = blocks["F32"].to(torch.float16)
    blocks["BF16"] = blocks["F32"].to(torch.bfloat16)
    bases = {}
    if layout in ("contiguous", "transposed"):
        # the same values both ways: the contiguous storage holds the
        # transposed view's elements in C order
        gen = torch.Generator().manual_seed(0)
        for s in plan.storages:
            side = int(round(s.numel ** 0.5))
            base = torch.randn(side, side, generator=gen) * 0.02
            bases[s.key] = (base.t().contiguous() if layout == "contiguous" else base).reshape(-1)
    for s in plan.storages:
        if s.key in bases:
            continue
        if s.numel <= 64:  # tiny (--tensors): one small tensor, no chunked copy
            bases[s.key] = blocks[s.dtype][:s.numel].clone()
            continue
        t = torch.empty(s.numel, dtype=tdt[s.dtype])
        src = blocks[s.dtype]
        for start in range(0, s.numel, chunk_elems):
            n = min(chunk_elems, s.numel - start)
            t[start:start + n].copy_(src[:n])
        bases[s.key] = t
    sd = collections.OrderedDict()
    for t in plan.tensors:
        sd[t.name] = bases[t.storage.key].as_strided(t.shape, t.stride, t.offset)
    torch.save(sd, path)


# ---------------------------------------------------------------------------
# Without PyTorch: our own zip + pickle writer
# ---------------------------------------------------------------------------

def _int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])  # BININT1
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)  # BININT2
    if -(1 << 31) <= v < (1 << 31):
        return b"J" + struct.pack("<i", v)  # BININT
    raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def _str(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE


def _tuple(items):
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def make_pickle(plan):
    """Protocol 2, as torch.save writes it: an OrderedDict of _rebuild_tensor_v2 calls."""
    od = _global("collections", "OrderedDict") + b")R"  # OrderedDict()
    out = [b"\x80\x02", od]
    items = []
    for t in plan.tensors:
        s = t.storage
        pid = _tuple([_str("storage"), _global("torch", DTYPES[s.dtype][1]), _str(s.key),
                      _str("cpu"), _int(s.numel)]) + b"Q"  # BINPERSID
        args = _tuple([pid, _int(t.offset), _tuple([_int(x) for x in t.shape]),
                       _tuple([_int(x) for x in t.stride]), b"\x89", od])  # NEWFALSE
        items.append(_str(t.name) + _global("torch._utils", "_rebuild_tensor_v2") + args + b"R")
    for i in range(0, len(items), 1000):  # batches of SETITEMS, like pickle does
        out.append(b"(" + b"".join(items[i:i + 1000]) + b"u")
    out.append(b".")
    return b"".join(out)


def _aligned_info(zf, name, size):
    """A STORED ZipInfo whose data starts on a 64-byte boundary (torch does the same
    with an 'FB' extra field of 'Z' padding)."""
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    zi.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule in ZipFile.open
    fixed = 30 + len(name.encode()) + (20 if zip64 else 0) + 4
    pad = -(zf.fp.tell() + fixed) % 64
    zi.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    return zi, zip64


def save_without_torch(plan, path):
    blocks = random_blocks_pure()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        records = [("archive/data.pkl", make_pickle(plan))]
        for name, data in records:
            zi, z64 = _aligned_info(zf, name, len(data))
            with zf.open(zi, "w", force_zip64=z64) as f:
                f.write(data)
        # torch.save writes the storages sorted by key as strings
        for s in sorted(plan.storages, key=lambda s: s.key):
            nbytes = s.numel * DTYPES[s.dtype][0]
            zi, z64 = _aligned_info(zf, f"archive/data/{s.key}", nbytes)
            block = blocks[s.dtype]
            with zf.open(zi, "w", force_zip64=z64) as f:
                left = nbytes
                while left > 0:
                    n = min(left, len(block))
                    f.write(block[:n] if n < len(block) else block)
                    left -= n
        zi, z64 = _aligned_info(zf, "archive/version", 2)
        with zf.open(zi, "w") as f:
            f.write(b"3\n")


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("size", type=parse_size, nargs="?", help="e.g. 256M, 1G, 5G")
    ap.add_argument("output")
    ap.add_argument("--tensors", type=int, metavar="N",
                    help="write N tiny tensors, each with its own storage, instead of SIZE bytes")
    ap.add_argument("--layout", choices=("model", "contiguous", "transposed"), default="model",
                    help="model: a transformer state_dict (default); contiguous/transposed: "
                         "64 square F32 matrices, stored contiguously or as transposed views")
    ap.add_argument("--no-torch", action="store_true",
                    help="use the pure-Python writer even when torch is importable")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    if (a.tensors is None) == (a.size is None):
        ap.error("give either SIZE or --tensors N")
    if a.tensors is not None:
        if a.tensors < 1 or a.layout != "model":
            ap.error("--tensors takes N >= 1 and no --layout")
        plan = make_tiny_plan(a.tensors)
        shape = f"{a.tensors} tiny F32 tensors, each its own storage"
    elif a.layout == "model":
        plan, d, layers, vocab = make_plan(a.size)
        shape = f"d={d}, {layers} layers, vocab {vocab}"
    else:
        plan, side = make_square_plan(a.size, a.layout)
        shape = f"{a.layout}: {len(plan.tensors)} F32 matrices {side}x{side}"
    use_torch = not a.no_torch and have_torch()
    how = "torch.save" if use_torch else "pure-Python fallback writer (no torch)"
    if not a.quiet:
        print(f"make_checkpoint: {a.output}: {len(plan.tensors)} tensors, "
              f"{len(plan.storages)} storages, {plan.nbytes() / 2**20:.1f} MiB of storage "
              f"({shape}), with {how}", file=sys.stderr)
    tmp = a.output + ".partial"
    t0 = time.monotonic()
    try:
        if use_torch:
            save_with_torch(plan, tmp, a.layout)
        else:
            save_without_torch(plan, tmp)
        os.replace(tmp, a.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if not a.quiet:
        print(f"make_checkpoint: wrote {os.path.getsize(a.output)} bytes in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
