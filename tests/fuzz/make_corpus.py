#!/usr/bin/env python3
"""make_corpus.py - (re)write the seed corpora of the fuzz harnesses.

    python3 tests/fuzz/make_corpus.py        # any Python 3.8+, no torch needed

Writes tests/fuzz/corpus/pvm/seed-* (pickles) and tests/fuzz/corpus/file/seed-*
(small checkpoint archives).  The pvm seeds are the data.pkl of some
fixtures plus hand-made pickles in protocols 0 to 5; the file seeds are a few
archives the fixtures do not have (the fixtures themselves are passed to the
file harness as corpus directories, not copied).  Files named crash-* are
regression inputs added by hand (see README.md) and are left alone.
The output is deterministic.
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PVM_DIR = os.path.join(HERE, "corpus", "pvm")
FILE_DIR = os.path.join(HERE, "corpus", "file")

sys.path.insert(0, os.path.join(ROOT, "fixtures"))
from handpickle import Call, Global, hand_pickle, rebuild_v2, rebuild_v3, typed_storage  # noqa: E402

# data.pkl of these fixtures become pvm seeds (deep_nesting is 400 KB: left out;
# a small deep pickle is made below instead).
FIXTURE_PICKLES = [
    "good/big_endian.pt", "good/cycle.pt", "good/dtypes.pt", "good/lightning_optimizer.ckpt",
    "good/module_state.pth", "good/protocol4.pt", "good/scalars_empty.pth", "good/subclass.pt",
    "good/tied.bin", "good/torch2_dtypes.pt", "good/unicode_names.pt", "good/views.pt",
    "bad/bad_persid.pt", "bad/billion_laughs.pt", "bad/duplicate_name.pt",
    "bad/memo_undefined.pt", "bad/negative_stride.pt", "bad/numel_overflow.pt",
    "bad/quantized.pt", "bad/rebuild_too_few_args.pt", "bad/stack_underflow.pt",
    "bad/unknown_opcode.pt", "bad/view_out_of_bounds.pt",
    "modules/quantized.pt", "modules/yolo_like.pt", "modules/sequential.pt",
]


def parameter(t):
    return Call(Global("torch._utils", "_rebuild_parameter"), (t, True, collections.OrderedDict()))


def state_dict():
    """Two float tensors and an int64 sharing nothing, a transposed view,
    an expanded (stride 0) view and a parameter: in one dict."""
    f = typed_storage("FloatStorage", "0", 6)
    i = typed_storage("LongStorage", "1", 4)
    return {
        "w": rebuild_v2(f, 0, (2, 3), (3, 1)),
        "wt": rebuild_v2(f, 0, (3, 2), (1, 3)),
        "row": rebuild_v2(f, 3, (4, 3), (0, 1)),
        "idx": rebuild_v2(i, 1, (3,), (1,)),
        "p": parameter(rebuild_v2(f, 2, (2,), (2,))),
        "meta": {"epoch": 3, "lr": 1e-3, "name": "fuzz", "ok": True, "none": None},
    }


STORAGES = {"0": struct.pack("<6f", *range(6)), "1": struct.pack("<4q", 1, -2, 3, -4)}


# ---- pvm seeds -------------------------------------------------------------

def pvm_seeds():
    seeds = {}
    for p in range(6):
        seeds[f"tensors_p{p}.pkl"] = hand_pickle(state_dict(), p)
    seeds["tensor_v3_p4.pkl"] = hand_pickle(
        {"x": rebuild_v3(typed_storage("UntypedStorage", "0", 8), 0, (4,), (1,), "bfloat16")}, 4)

    class Blob:  # a plain object: NEWOBJ + BUILD
        def __init__(self):
            self.a, self.b = [1, 2], {"k": b"v"}

    Blob.__module__, Blob.__qualname__ = "__main__", "Blob"
    sys.modules["__main__"].Blob = Blob
    plain = {
        "ints": [0, 1, -1, 255, 256, 65535, -2**31, 2**31, 2**63 - 1, -2**63, 2**64, -2**100],
        "floats": [0.0, -1.5, float("inf"), float("nan"), 1e308],
        "text": ["", "a", "é€😀", "x" * 300],
        "bytes": [b"", b"\x00\xff", b"y" * 300],
        ("tuple", 1): (None, True, False),
        "set": {1, 2, 3}, "frozenset": frozenset({"a"}),
        "od": collections.OrderedDict([("z", 1), ("a", 2)]),
        "obj": Blob(),
    }
    for p in (0, 1, 2, 3, 4, 5):
        seeds[f"plain_p{p}.pkl"] = pickle.dumps(plain, protocol=p)
    seeds["bytearray_p5.pkl"] = pickle.dumps([bytearray(b"abc"), bytearray(300)], protocol=5)
    seeds["out_of_band_p5.pkl"] = pickle.dumps(
        [pickle.PickleBuffer(b"abc")], protocol=5, buffer_callback=lambda b: False)

    cyc = []
    cyc.append(cyc)
    d = {"list": cyc}
    d["self"] = d
    d["t"] = {"w": state_dict()["w"]}
    d["t"]["again"] = d["t"]
    seeds["cycles_p2.pkl"] = hand_pickle(d, 2)

    shared = state_dict()
    for _ in range(24):  # 2**24 paths through 48 nodes
        shared = [shared, shared]
    seeds["shared_p2.pkl"] = hand_pickle(shared, 2)

    deep = {"w": state_dict()["w"]}
    for _ in range(300):
        deep = {"d": deep}
    seeds["deep_p4.pkl"] = hand_pickle(deep, 4)

    # opcodes pickle.dumps does not write for these values
    seeds["text_opcodes_p0.pkl"] = (
        b"((I1\nI01\nI00\nL12345678901234567890L\nF1.5\nS'str'\nV\\u20ac\nNt"
        b"p0\n(lp1\ng0\naI2\na(dp2\nS'k'\np3\ng1\nsc__builtin__\nset\n((lp4\ntRt.")
    seeds["inst_obj_p1.pkl"] = (
        b"(i__main__\nThing\n(dp0\nb(c__main__\nThing\no}q\x01U\x01kK\x07sb\x86.")
    body = (b"]r\x00\x01\x00\x00(K\x01\x8a\x02\xff\x7fj\x00\x01\x00\x00e\x94"
            b"\x8c\x01x\x94\x8e\x03\x00\x00\x00\x00\x00\x00\x00abc\x86\x86.")
    seeds["frame_long_memo_p4.pkl"] = (b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body)
    # forms CPython's C unpickler accepts that a stricter reader would not:
    # C octal / hex / underscores in INT, surrogates, empty BUILD states,
    # SETITEM on a list, a bytearray extended, ADDITEMS on set.__new__
    seeds["cpython_edges_p4.pkl"] = (
        b"\x80\x04(I010\nI0x_1f\nI 1\nL0b101L\nF-nan\nV\\ud83d\\ude00\n"
        b"X\x03\x00\x00\x00\xed\xa0\x80]Nb]K\x01aK\x00K\x05s"
        b"\x96\x01\x00\x00\x00\x00\x00\x00\x00a(K\x05e"
        b"cbuiltins\nset\n(K\x01t\x81(K\x02\x90\x8c\x03mod\x8c\x01C\x93N}\x86bt.")
    # the sweep's resynchronisation: an unknown byte, then a payload
    seeds["sweep_resync.pkl"] = (
        b"\x80\x02N\xff\x00junk\x8c\x02os\x94\x8c\x06system\x94\x93"
        b"cposix\nsystem\n(ios\npopen\n.")
    seeds.update(fixture_pickles())
    return seeds


def fixture_pickles():
    seeds = {}
    for rel in FIXTURE_PICKLES:
        with zipfile.ZipFile(os.path.join(ROOT, "fixtures", rel)) as z:
            name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            stem = rel.replace("/", "_").rsplit(".", 1)[0]
            seeds[f"{stem}.pkl"] = z.read(name)
    return seeds


# ---- file seeds ------------------------------------------------------------

def zip_bytes(records, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in records:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            z.writestr(info, data)
    return out.getvalue()


def archive(pkl, storages, byteorder=None, compression=zipfile.ZIP_STORED, prefix="archive/"):
    records = [(prefix + "data.pkl", pkl)]
    if byteorder:
        records.append((prefix + "byteorder", byteorder.encode()))
    records += [(f"{prefix}data/{k}", v) for k, v in sorted(storages.items())]
    records.append((prefix + "version", b"3\n"))
    return zip_bytes(records, compression)


def file_seeds(pvm):
    big = {"0": struct.pack(">6f", *range(6)), "1": struct.pack(">4q", 1, -2, 3, -4)}
    return {
        "views_p2.pt": archive(hand_pickle(state_dict(), 2), STORAGES),
        "views_p5_deflate.pt": archive(hand_pickle(state_dict(), 5), STORAGES,
                                       compression=zipfile.ZIP_DEFLATED),
        "views_big_endian.pt": archive(hand_pickle(state_dict(), 2), big, byteorder="big"),
        "cycles.pt": archive(pvm["cycles_p2.pkl"], STORAGES, prefix="m/"),
        "empty_zip.pt": zip_bytes([]),
    }


def write_dir(path, files):
    os.makedirs(path, exist_ok=True)
    for old in os.listdir(path):
        if old.startswith("seed-"):
            os.remove(os.path.join(path, old))
    for name, data in sorted(files.items()):
        with open(os.path.join(path, "seed-" + name), "wb") as f:
            f.write(data)


def main():
    pvm = pvm_seeds()
    write_dir(PVM_DIR, pvm)
    write_dir(FILE_DIR, file_seeds(pvm))
    total = sum(os.path.getsize(os.path.join(d, n))
                for d in (PVM_DIR, FILE_DIR) for n in os.listdir(d))
    print(f"make_corpus: {len(os.listdir(PVM_DIR))} pvm and {len(os.listdir(FILE_DIR))} "
          f"file inputs, {total} bytes")
    if total > 1 << 20:
        sys.exit("make_corpus: the corpus must stay under 1 MiB")


if __name__ == "__main__":
    main()
