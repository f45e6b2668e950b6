"""Cases for torch_diff.py: each function returns the bytes of one file.

The payloads touch the marker file c2s-marker in the working directory
(torch_diff.py runs torch.load in a fresh temporary directory), so whether
torch ran one is a fact to check, not a guess.  The pickle helpers come from
fixtures/make_hostile.py (opcode by opcode; nothing here unpickles).
"""

import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import make_hostile as H  # noqa: E402

G, U, I, TUP, CALL, P2, DICT = H.G, H.U, H.I, H.TUP, H.CALL, H.P2, H.DICT
W, W9 = H.W, H.W9
TOUCH = CALL(G("posix", "system"), U("touch c2s-marker"))
PAYLOAD = P2(TOUCH)
CASES = {}

# Divergences kept on purpose: case -> why (torch_diff.py prints them as
# "known" and does not fail on them).
KNOWN = {
    "byteorder_big": "torch >= 2.1 reads the byteorder record and swaps; 1.13 ignores it",
    "key_bytes_and_str": "a tensor under a bytes dict key is left out, and reported so",
    "module_state_dict_shadowed": "torch.load returns the module, whose parameters we convert; "
                                  "the harness then calls its state_dict, which the file "
                                  "shadowed with an attribute",
}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def storage(key=U("0"), numel=4, cls=None, loc=None, legacy=False):
    """The persistent id of a storage (legacy: with its sixth item, view None)."""
    return TUP(U("storage"), cls or G("torch", "FloatStorage"), key,
               loc if loc is not None else U("cpu"), I(numel),
               *([H.NONE] if legacy else [])) + b"Q"


def tensor(st=None, size=(2, 2), stride=(2, 1)):
    return CALL(G("torch._utils", "_rebuild_tensor_v2"), st or storage(), I(0),
                TUP(*map(I, size)), TUP(*map(I, stride)), H.FALSE, H.ORDERED_DICT())


def ckpt(t=None):
    return P2(DICT((U("weight"), t or tensor())))


def zipped(records, method=zipfile.ZIP_STORED, attrs=None):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in records:
            info = zipfile.ZipInfo(name, date_time=H.ZIP_EPOCH)
            info.compress_type = method
            info.external_attr = (attrs or {}).get(name, 0o644 << 16)
            z.writestr(info, data)
    return out.getvalue()


def recs(pkl=None, version=b"3\n", extra=()):
    r = [("archive/data.pkl", pkl or ckpt()), ("archive/data/0", W)]
    if version is not None:
        r.append(("archive/version", version))
    return r + list(extra)


# ---- the legacy tar path ------------------------------------------------------------

def tar_header(name, size, chk="std"):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = b"0"
    h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    uns = sum(h)
    sig = sum(b - 256 if b >= 128 else b for b in h)
    if chk == "std":
        h[148:156] = b"%06o\0 " % uns
    elif chk == "space":
        h[148:156] = b" %06o\0" % uns
    elif chk == "signed":
        assert sig != uns
        h[148:156] = b"%06o\0 " % sig
    return bytes(h)


def tar_member(name, data, chk="std"):
    return tar_header(name, len(data), chk) + data + b"\0" * (-len(data) % 512)


def legacy_tar_polyglot(chk):
    """A tar whose first header's name field starts a clean legacy stream.

    torch.load tries tarfile first and unpickles the 'storages' member (the
    payload); a reader that does not take the file for a tar reads the legacy
    stream: magic, protocol, sys_info, then an object pickle whose first
    BINBYTES swallows the rest of the header, and a uint8 tensor whose
    storage bytes are the rest of the file (the other tar members)."""
    head = H.MAGIC_PICKLE + P2(I(1001)) + P2(H.NONE) + b"\x80\x02B"
    head += struct.pack("<I", 512 - len(head) - 4)
    assert len(head) <= 100
    members = tar_member(b"storages", PAYLOAD) + tar_member(b"tensors", P2(I(0))) + \
        tar_member(b"pickle", P2(H.NONE)) + b"\0" * 1024

    def first_data(numel):
        obj = H.POP + DICT((U("weight"), tensor(storage(U("0"), numel, G("torch", "ByteStorage"), legacy=True),
                                                 size=(numel,), stride=(1,)))) + b"."
        return obj + P2(b"]" + U("0") + b"a") + struct.pack("<Q", numel)

    numel = 0
    for _ in range(4):  # the pickle's length depends on numel's encoding: settle it
        data = first_data(numel)
        numel = (-len(data) % 512) + len(members)
    data = first_data(numel)
    pad = b"\0" * (-len(data) % 512)
    assert numel == len(pad) + len(members)
    return tar_header(head, len(data), chk) + data + pad + members


@case
def tar_legacy_std_chksum():
    return legacy_tar_polyglot("std")


@case
def tar_legacy_space_chksum():
    return legacy_tar_polyglot("space")


@case
def tar_legacy_signed_chksum():
    return legacy_tar_polyglot("signed")


# ---- zips --------------------------------------------------------------------------

@case
def control_clean():
    return zipped(recs())


@case
def control_payload():
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("p"), TOUCH)))))


@case
def version_missing():
    return zipped(recs(version=None))


@case
def version_zero():
    return zipped(recs(version=b"0\n"))


@case
def version_99():
    return zipped(recs(version=b"99\n"))


@case
def version_text():
    return zipped(recs(version=b"abc\n"))


@case
def version_3abc():
    return zipped(recs(version=b"3abc"))


@case
def data_version_99():
    return zipped(recs(extra=[("archive/.data/version", b"99\n")]))


@case
def deflate_all():
    return zipped(recs(), method=zipfile.ZIP_DEFLATED)


@case
def dir_attr_storage():
    return zipped(recs(), attrs={"archive/data/0": (0o644 << 16) | 0x10})


@case
def dir_attr_pickle():
    return zipped(recs(), attrs={"archive/data.pkl": (0o644 << 16) | 0x10})


@case
def bzip2_storage():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in recs():
            info = zipfile.ZipInfo(name, date_time=H.ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_BZIP2 if name.endswith("/0") else 0
            z.writestr(info, data)
    return out.getvalue()


@case
def pickle_bytes_after_stop():
    """data.pkl holds 40 zero bytes after its STOP (torch ignores them)."""
    return zipped(recs(ckpt() + b"\0" * 40), method=zipfile.ZIP_DEFLATED)


@case
def storage_key_bytes():
    """The pid key is bytes b'0': torch looks up data/b'0'."""
    key = b"C\x010"
    return zipped(recs(ckpt(tensor(storage(key)))) + [("archive/data/b'0'", W9)])


@case
def storage_key_int():
    return zipped(recs(ckpt(tensor(storage(I(0))))))


@case
def storage_class_foreign_module():
    """GLOBAL 'os FloatStorage': torch's find_class returns the storage type for
    any module whose name says Storage, without importing it."""
    return zipped(recs(ckpt(tensor(storage(cls=G("os", "FloatStorage"))))))


@case
def storage_location_meta():
    return zipped(recs(ckpt(tensor(storage(loc=U("meta"))))))


@case
def storage_location_cuda():
    return zipped(recs(ckpt(tensor(storage(loc=U("cuda:0"))))))


@case
def byteorder_big():
    return zipped(recs(extra=[("archive/byteorder", b"big")]))


@case
def byteorder_bogus():
    return zipped(recs(extra=[("archive/byteorder", b"middle")]))


@case
def constants_pkl_upper():
    """archive/CONSTANTS.PKL: torch.load's TorchScript test is case-sensitive."""
    pkl = P2(DICT((U("weight"), tensor()), (U("p"), TOUCH)))
    return zipped(recs(pkl, extra=[("archive/CONSTANTS.PKL", P2(TUP()))]))


@case
def code_dir_no_constants():
    pkl = P2(DICT((U("weight"), tensor()), (U("p"), TOUCH)))
    return zipped(recs(pkl, extra=[("archive/code/__torch__.py", b"")]))


@case
def first_entry_no_slash():
    return zipped([("version", b"3\n")] + recs())


@case
def rebuild_module_tensor_alias():
    """GLOBAL torch.tensor _rebuild_from_type_v2? torch maps module torch.tensor."""
    t = CALL(G("torch.tensor", "_rebuild_from_type_v2"),
             G("torch._utils", "_rebuild_tensor_v2"), G("torch", "Tensor"),
             TUP(storage(), I(0), TUP(I(2), I(2)), TUP(I(2), I(1)), H.FALSE, H.ORDERED_DICT()),
             b"}")
    return zipped(recs(P2(DICT((U("weight"), t)))))


# ---- the legacy stream: where pickle.load leaves the file ---------------------------

def legacy_frame_overrun(F):
    """make_hostile.legacy_frame_overrun_bytes with the marker-touching payload."""
    return H.legacy_frame_overrun_bytes(F, PAYLOAD)


@case
def legacy_frame_overrun_small():
    return legacy_frame_overrun(300)


@case
def legacy_frame_overrun_large():
    return legacy_frame_overrun(20000)


# ---- other formats we sniff that torch.load reads as a legacy stream or a tar -------

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "tf"))


def tf_index_after(prefix, entries):
    return H.tf_index_after(prefix, entries)


@case
def tf_index_legacy_prefix():
    """A legacy stream (magic, protocol, sys_info = payload) in front of a TF index."""
    import make_tf as T
    prefix = H.MAGIC_PICKLE + P2(I(1001)) + PAYLOAD
    return tf_index_after(prefix, [(b"", T.header_proto(num_shards=1))]), ".index"


@case
def tf_index_plain():
    import make_tf as T
    return tf_index_after(b"", [(b"", T.header_proto(num_shards=1))]), ".index"


@case
def safetensors_tar_polyglot():
    return H.safetensors_tar_bytes(PAYLOAD), ".safetensors"


# ---- pickle text as torch.load decodes it (encoding='utf-8') ------------------------

def binstring(b):
    return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b


@case
def binstring_utf8_key():
    """A dict key as SHORT_BINSTRING holding UTF-8 bytes: torch.load passes
    encoding='utf-8', so the key is the str 'café'."""
    return zipped(recs(P2(b"}" + binstring("café".encode()) + tensor() + b"s")))


@case
def binstring_latin1_key():
    """Bytes that are not UTF-8: torch.load's unpickler fails to decode them."""
    return zipped(recs(P2(b"}" + binstring(b"caf\xe9") + tensor() + b"s")))


@case
def binstring_storage_key():
    return zipped(recs(ckpt(tensor(storage(binstring(b"0"))))))


@case
def string_opcode_key():
    """Protocol-0 STRING with an escape: 'w\\x65ight' is 'weight'."""
    return zipped(recs(P2(b"}" + b"S'w\\x65ight'\n" + tensor() + b"s")))


@case
def unicode_opcode_key():
    """Protocol-0 UNICODE (raw-unicode-escape): 'w\\u0065ight'."""
    return zipped(recs(P2(b"}" + b"Vw\\u0065ight\n" + tensor() + b"s")))


# ---- end records and central directory, as miniz reads them -------------------------

def raw_ckpt(**kw):
    return H.raw_zip(H.ckpt_entries(ckpt()), **kw)


def patch_eocd(raw, fmt_off, fmt, value, comment_len=0):
    b = bytearray(raw)
    eocd = len(b) - 22 - comment_len
    assert b[eocd:eocd + 4] == b"PK\x05\x06"
    struct.pack_into(fmt, b, eocd + fmt_off, value)
    return bytes(b)


@case
def eocd_disk_entries_differ():
    return patch_eocd(raw_ckpt(), 8, "<H", 4)


@case
def eocd_cd_size_too_small():
    return patch_eocd(raw_ckpt(), 12, "<I", 100)


@case
def eocd_cd_size_past_eof():
    return patch_eocd(raw_ckpt(), 12, "<I", 100000)


@case
def cd_disk_start_two():
    raw = bytearray(raw_ckpt())
    at = raw.index(b"PK\x01\x02")
    struct.pack_into("<H", raw, at + 34, 2)
    return bytes(raw)


@case
def eocd_in_comment_clean_cd():
    """The real end record's comment holds a second, complete central
    directory and end record (payload data.pkl): miniz takes the last end
    signature."""
    pay = H.ckpt_entries(P2(DICT((U("weight"), tensor()), (U("p"), TOUCH))))
    evil = H.raw_zip(pay)
    clean = H.ckpt_entries(ckpt())
    base = H.raw_zip(clean)
    # the comment: evil's whole bytes, whose offsets must be shifted by where it lands
    shift = len(base)  # comment starts right after the base end record
    e = bytearray(evil)
    cd = e.rindex(b"PK\x05\x06")
    cd_off = struct.unpack_from("<I", e, cd + 16)[0]
    struct.pack_into("<I", e, cd + 16, cd_off + shift)
    p = cd_off
    while e[p:p + 4] == b"PK\x01\x02":
        lo = struct.unpack_from("<I", e, p + 42)[0]
        struct.pack_into("<I", e, p + 42, lo + shift)
        n, x, c = struct.unpack_from("<HHH", e, p + 28)
        p += 46 + n + x + c
    return H.raw_zip(clean, comment=bytes(e))


@case
def trailing_junk_66000():
    return raw_ckpt() + b"\0" * 66000


@case
def trailing_junk_100():
    return raw_ckpt() + b"\0" * 100


def deflated_ckpt(patch):
    """Every record DEFLATE; patch(name, comp) -> (comp, size) for each."""
    out = bytearray()
    central = bytearray()
    n = 0
    for name, data in recs():
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        comp = c.compress(data) + c.flush()
        comp, size, crcdata = patch(name, comp, data)
        crc = zlib.crc32(crcdata)
        off = len(out)
        nb = name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(comp), size,
                           len(nb), 0) + nb + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, 0, 8, 0, 0x21, crc,
                               len(comp), size, len(nb), 0, 0, 0, 0, 0o644 << 16, off) + nb
        n += 1
    cd = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd, 0)
    return bytes(out)


@case
def deflate_junk_after_stream():
    return deflated_ckpt(lambda name, comp, data: (comp + b"JUNKJUNK", len(data), data))


@case
def deflate_longer_than_size():
    """data/0 inflates to 16 bytes, the directory says 8."""
    return deflated_ckpt(lambda name, comp, data: (comp, 8, data[:8]) if name.endswith("/0")
                         else (comp, len(data), data))


@case
def deflate_shorter_than_size():
    return deflated_ckpt(lambda name, comp, data: (comp, 24, data + b"\0" * 8)
                         if name.endswith("/0") else (comp, len(data), data))


@case
def code_dir_clean_state_dict():
    """A plain state dict plus a code/ record, no constants.pkl: torch.load
    reads data.pkl as a checkpoint."""
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("epoch"), I(3)))),
                       extra=[("archive/code/__torch__.py", b"")]))


@case
def constants_upper_clean_state_dict():
    return zipped(recs(P2(DICT((U("weight"), tensor()))),
                       extra=[("archive/CONSTANTS.PKL", P2(TUP()))]))


@case
def constants_exact_state_dict():
    """constants.pkl present: torch.load hands the file to torch.jit.load."""
    return zipped(recs(P2(DICT((U("weight"), tensor()))),
                       extra=[("archive/constants.pkl", P2(TUP()))]))


@case
def nested_state_dict_in_list():
    return zipped(recs(P2(DICT((U("state_dict"), DICT((U("a"), H.LIST(tensor()))))))))


# ---- the legacy stream's first pickles -------------------------------------------------

def legacy_stream(magic_pickle, proto_pickle=None):
    """A legacy checkpoint {'weight': 2x2 float} after the given first pickles."""
    st = TUP(U("storage"), G("torch", "FloatStorage"), U("0"), U("cpu"), I(4), H.NONE) + b"Q"
    t = CALL(G("torch._utils", "_rebuild_tensor_v2"), st, I(0), TUP(I(2), I(2)), TUP(I(2), I(1)),
             H.FALSE, H.ORDERED_DICT())
    return (magic_pickle + (proto_pickle or P2(I(1001))) + P2(DICT()) + P2(DICT((U("weight"), t))) +
            P2(b"]" + U("0") + b"a") + struct.pack("<Q", 4) + W)


@case
def legacy_plain():
    return legacy_stream(H.MAGIC_PICKLE)


@case
def legacy_magic_int_decimal():
    return legacy_stream(b"I%d\n." % H.LEGACY_MAGIC)


@case
def legacy_magic_int_hex():
    return legacy_stream(b"I0x%x\n." % H.LEGACY_MAGIC)


@case
def legacy_magic_int_underscores():
    return legacy_stream(b"I119_547_037_146_038_801_333_356\n.")


@case
def legacy_magic_long_text():
    return legacy_stream(b"L%dL\n." % H.LEGACY_MAGIC)


@case
def legacy_protocol_octal():
    return legacy_stream(H.MAGIC_PICKLE, b"I01751\n.")


@case
def legacy_protocol_true_float():
    return legacy_stream(H.MAGIC_PICKLE, b"F1001.0\n.")


@case
def legacy_magic_frame_exact():
    """Protocol 4 with a FRAME that ends at its STOP (as pickle writes it)."""
    inner = b"\x8a\x0a" + H.LEGACY_MAGIC.to_bytes(10, "little") + b"."
    return legacy_stream(b"\x80\x04\x95" + struct.pack("<Q", len(inner)) + inner)


# ---- tensor geometry as set_() checks it ----------------------------------------------

def geom(offset, size, stride, numel=4):
    t = CALL(G("torch._utils", "_rebuild_tensor_v2"), storage(numel=numel), I(offset),
             TUP(*map(I, size)), TUP(*map(I, stride)), H.FALSE, H.ORDERED_DICT())
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def geom_empty_far_offset():
    return geom(1000, (0,), (1,))


@case
def geom_empty_negative_stride():
    return geom(0, (0, 3), (-1, 1))


@case
def geom_size1_negative_stride():
    return geom(0, (1, 4), (-5, 1))


@case
def geom_size1_huge_stride():
    return geom(0, (1, 4), (1 << 40, 1))


@case
def geom_negative_offset_empty():
    return geom(-1, (0,), (1,))


@case
def geom_stride_zero_all():
    return geom(3, (5, 2), (0, 0))


@case
def geom_overlapping_views():
    return geom(0, (3, 2), (1, 1))


@case
def geom_size_as_list():
    """size and stride as lists, not tuples: torch.Size accepts any sequence."""
    t = CALL(G("torch._utils", "_rebuild_tensor_v2"), storage(), I(0),
             H.LIST(I(2), I(2)), H.LIST(I(2), I(1)), H.FALSE, H.ORDERED_DICT())
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def geom_size_bools():
    """size (True, 4): bools are ints to torch.Size."""
    return zipped(recs(P2(DICT((U("weight"), CALL(
        G("torch._utils", "_rebuild_tensor_v2"), storage(), I(0), TUP(H.TRUE, I(4)),
        TUP(I(4), I(1)), H.FALSE, H.ORDERED_DICT()))))))


@case
def geom_offset_float():
    return zipped(recs(P2(DICT((U("weight"), CALL(
        G("torch._utils", "_rebuild_tensor_v2"), storage(), H.F(0.0), TUP(I(2), I(2)),
        TUP(I(2), I(1)), H.FALSE, H.ORDERED_DICT()))))))


# ---- general-purpose flags miniz refuses -------------------------------------------------

def flagged(i, flags):
    e = H.ckpt_entries(ckpt())
    e[i] = dict(e[i], flags=flags)
    return H.raw_zip(e)


@case
def flag_patch_storage():
    return flagged(1, 0x20)


@case
def flag_strong_encryption_storage():
    return flagged(1, 0x40)


@case
def flag_masked_directory_version():
    return flagged(2, 0x2000)


@case
def flag_utf8_names():
    return flagged(1, 0x800)


def legacy_with(obj, keys=("0",)):
    """A legacy stream of obj whose storages (the keys listed) hold W each."""
    data = b"".join(struct.pack("<Q", 4) + W for _ in keys)
    return (H.MAGIC_PICKLE + P2(I(1001)) + P2(DICT()) + P2(obj) +
            P2(b"](" + b"".join(U(k) for k in keys) + b"e") + data)


def lpid(cls, key, numel, view=None):
    return TUP(U("storage"), G("torch", cls), U(key), U("cpu"), I(numel),
               view if view is not None else H.NONE) + b"Q"


def ltensor(pid, size, stride, offset=0):
    return CALL(G("torch._utils", "_rebuild_tensor_v2"), pid, I(offset), TUP(*map(I, size)),
                TUP(*map(I, stride)), H.FALSE, H.ORDERED_DICT())


@case
def legacy_view_other_class():
    """Root '0' FloatStorage (4); a view '1' of it typed IntStorage, offset 1, 2 elements."""
    obj = DICT((U("a"), ltensor(lpid("FloatStorage", "0", 4), (4,), (1,))),
               (U("b"), ltensor(lpid("IntStorage", "0", 4, TUP(U("1"), I(1), I(2))), (2,), (1,))))
    return legacy_with(obj)


@case
def legacy_view_same_class():
    obj = DICT((U("a"), ltensor(lpid("FloatStorage", "0", 4), (4,), (1,))),
               (U("b"), ltensor(lpid("FloatStorage", "0", 4, TUP(U("1"), I(1), I(2))), (2,), (1,))))
    return legacy_with(obj)


@case
def legacy_view_before_root():
    obj = DICT((U("b"), ltensor(lpid("FloatStorage", "0", 4, TUP(U("1"), I(1), I(2))), (2,), (1,))),
               (U("a"), ltensor(lpid("FloatStorage", "0", 4), (4,), (1,))))
    return legacy_with(obj)


@case
def legacy_view_key_reused():
    """The view key '1' named twice with other offsets: torch keeps the first."""
    obj = DICT((U("b"), ltensor(lpid("FloatStorage", "0", 4, TUP(U("1"), I(1), I(2))), (2,), (1,))),
               (U("c"), ltensor(lpid("FloatStorage", "0", 4, TUP(U("1"), I(2), I(2))), (2,), (1,))))
    return legacy_with(obj)


@case
def legacy_view_key_is_root():
    """The view key is the root's own key: torch hands back the root."""
    obj = DICT((U("b"), ltensor(lpid("FloatStorage", "0", 4, TUP(U("0"), I(1), I(2))), (2,), (1,))),)
    return legacy_with(obj)


@case
def legacy_root_key_was_view():
    obj = DICT((U("b"), ltensor(lpid("FloatStorage", "0", 4, TUP(U("1"), I(1), I(2))), (2,), (1,))),
               (U("c"), ltensor(lpid("FloatStorage", "1", 4), (2,), (1,))))
    return legacy_with(obj)


# ---- other rebuild functions ------------------------------------------------------------

@case
def rebuild_meta_no_storage():
    t = CALL(G("torch._utils", "_rebuild_meta_tensor_no_storage"), G("torch", "float32"),
             TUP(I(2), I(2)), TUP(I(2), I(1)), H.FALSE)
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("meta"), t)))))


@case
def rebuild_tensor_v1():
    t = CALL(G("torch._utils", "_rebuild_tensor"), storage(), I(0), TUP(I(2), I(2)),
             TUP(I(2), I(1)))
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def rebuild_parameter_v1_nested():
    p = CALL(G("torch._utils", "_rebuild_parameter"), tensor(), H.TRUE, H.ORDERED_DICT())
    return zipped(recs(P2(DICT((U("weight"), p)))))


@case
def rebuild_from_type_v2_tensor():
    t = CALL(G("torch._tensor", "_rebuild_from_type_v2"), G("torch._utils", "_rebuild_tensor_v2"),
             G("torch", "Tensor"),
             TUP(storage(), I(0), TUP(I(2), I(2)), TUP(I(2), I(1)), H.FALSE, H.ORDERED_DICT()),
             b"}")
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def rebuild_from_type_v2_parameter():
    t = CALL(G("torch._tensor", "_rebuild_from_type_v2"), G("torch._utils", "_rebuild_tensor_v2"),
             G("torch.nn.parameter", "Parameter"),
             TUP(storage(), I(0), TUP(I(2), I(2)), TUP(I(2), I(1)), H.FALSE, H.ORDERED_DICT()),
             b"}")
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def tensor_build_state():
    """A BUILD on a rebuilt tensor (Tensor.__setstate__)."""
    t = tensor() + TUP(H.NONE, H.FALSE, H.ORDERED_DICT(), H.NONE) + b"b"
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def torch_size_object():
    t = CALL(G("torch._utils", "_rebuild_tensor_v2"), storage(), I(0),
             CALL(G("torch", "Size"), TUP(TUP(I(2), I(2)))), TUP(I(2), I(1)), H.FALSE,
             H.ORDERED_DICT())
    return zipped(recs(P2(DICT((U("weight"), t)))))


@case
def deflate_storage_inflates_longer():
    """data/0's stream inflates to 24 bytes; the directory says 16 (its CRC
    over the first 16): miniz stops with output left and sets no error."""
    def patch(name, comp, data):
        if not name.endswith("/0"):
            return comp, len(data), data
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data + W9[:8]) + c.flush(), len(data), data
    return deflated_ckpt(patch)


@case
def deflate_pickle_inflates_longer():
    """data.pkl inflates to its pickle plus a second pickle (payload); the
    directory gives the first one's size."""
    def patch(name, comp, data):
        if not name.endswith("data.pkl"):
            return comp, len(data), data
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data + PAYLOAD) + c.flush(), len(data), data
    return deflated_ckpt(patch)


@case
def deflate_storage_corrupt_tail():
    """data/0's stream is cut after its first bytes: tinfl fails, miniz sets
    no error, torch reads a partly filled buffer."""
    def patch(name, comp, data):
        if not name.endswith("/0"):
            return comp, len(data), data
        c = zlib.compressobj(0, zlib.DEFLATED, -15)  # a stored block: bytes visible
        s = c.compress(data) + c.flush()
        return s[:-4] + b"\xff\xff\xff\xff", len(data), data
    return deflated_ckpt(patch)


@case
def tf_index_limit_then_payload():
    """A pickle of 1,100,000 list items (past the reader's container limit,
    nothing to Python) then the payload, in front of a TF index."""
    import make_tf as T
    n = 1_100_000
    prefix = b"\x80\x02](" + b"N" * n + b"e0" + TOUCH + b"."
    return tf_index_after(prefix, [(b"", T.header_proto(num_shards=1))]), ".index"


# ---- dict keys as Python compares them ----------------------------------------------------

def t_at(key, numel=4):
    return tensor(storage(U(key), numel))


def two_storage_recs(pkl):
    return zipped([("archive/data.pkl", pkl), ("archive/data/0", W), ("archive/data/1", W9),
                   ("archive/version", b"3\n")])


@case
def key_true_then_one():
    """{True: t0, 1: t1}: Python keeps the key True with the value t1."""
    return two_storage_recs(P2(b"}(" + H.TRUE + t_at("0") + I(1) + t_at("1") + b"u"))


@case
def key_one_then_float():
    return two_storage_recs(P2(b"}(" + I(1) + t_at("0") + H.F(1.0) + t_at("1") + b"u"))


@case
def key_str_twice():
    return two_storage_recs(P2(b"}(" + U("a") + t_at("0") + U("a") + t_at("1") + b"u"))


@case
def key_bigint_equal_small():
    """LONG1 encoding of 5 and BININT1 5: one key."""
    return two_storage_recs(P2(b"}(" + b"\x8a\x01\x05" + t_at("0") + I(5) + t_at("1") + b"u"))


@case
def key_none_and_false():
    return two_storage_recs(P2(b"}(" + H.NONE + t_at("0") + H.FALSE + t_at("1") + b"u"))


@case
def key_tuple():
    return two_storage_recs(P2(b"}(" + TUP(I(1), I(2)) + t_at("0") + b"u"))


@case
def key_zero_and_negzero_float():
    return two_storage_recs(P2(b"}(" + H.F(0.0) + t_at("0") + H.F(-0.0) + t_at("1") + b"u"))


@case
def key_nan_twice():
    return two_storage_recs(P2(b"}(" + H.F(float("nan")) + t_at("0") + H.F(float("nan")) +
                               t_at("1") + b"u"))


@case
def key_bytes_and_str():
    return two_storage_recs(P2(b"}(" + b"C\x01a" + t_at("0") + U("a") + t_at("1") + b"u"))


# ---- the ZIP64 end record and locator ----------------------------------------------------

def zip64_patched(loc_off=None, loc_val=None, rec_off=None, rec_fmt=None, rec_val=None):
    raw = bytearray(H.raw_zip(H.ckpt_entries(ckpt()), zip64_sig=0x06064B50))
    eocd = len(raw) - 22
    loc = eocd - 20
    rec = struct.unpack_from("<Q", raw, loc + 8)[0]
    if loc_off is not None:
        struct.pack_into("<I", raw, loc + loc_off, loc_val)
    if rec_off is not None:
        struct.pack_into(rec_fmt, raw, rec + rec_off, rec_val)
    return bytes(raw)


@case
def zip64_clean():
    return zip64_patched()


@case
def zip64_locator_two_disks():
    return zip64_patched(loc_off=16, loc_val=2)


@case
def zip64_record_size_small():
    return zip64_patched(rec_off=4, rec_fmt="<Q", rec_val=20)


@case
def zip64_record_disk_entries_differ():
    return zip64_patched(rec_off=24, rec_fmt="<Q", rec_val=5)


# ---- round 2: the legacy storage-keys pickle and the bytes after it -----------------

def legacy_keys(keys_pickle, data):
    """A legacy {'weight': 2x2 float on storage '0'} with the given keys pickle and tail."""
    obj = DICT((U("weight"), ltensor(lpid("FloatStorage", "0", 4), (2, 2), (2, 1))))
    return H.MAGIC_PICKLE + P2(I(1001)) + P2(DICT()) + P2(obj) + keys_pickle + data


W2 = struct.pack("<4f", 5, 6, 7, 8)
ONE = struct.pack("<Q", 4) + W


@case
def lkeys_duplicate_key():
    """'0' listed twice: torch reads its bytes twice, the second read wins."""
    return legacy_keys(P2(b"](" + U("0") + U("0") + b"e"), ONE + struct.pack("<Q", 4) + W2)


@case
def lkeys_str_not_list():
    """The keys pickle is the str '0': torch iterates it (one key, '0')."""
    return legacy_keys(P2(U("0")), ONE)


@case
def lkeys_dict():
    return legacy_keys(P2(DICT((U("0"), H.NONE))), ONE)


@case
def lkeys_tuple():
    return legacy_keys(P2(TUP(U("0"))), ONE)


@case
def lkeys_unknown_key():
    return legacy_keys(P2(b"](" + U("0") + U("9") + b"e"), ONE + ONE)


@case
def lkeys_empty():
    """No key listed: torch keeps the storage uninitialised."""
    return legacy_keys(P2(b"]"), b"")


@case
def lkeys_count_wrong():
    return legacy_keys(P2(b"]" + U("0") + b"a"), struct.pack("<Q", 3) + W)


@case
def lkeys_payload():
    """The keys pickle runs a payload, then is the list ['0']."""
    return legacy_keys(P2(TOUCH + b"0]" + U("0") + b"a"), ONE)


@case
def lkeys_payload_after_last():
    """A payload pickle after the last storage: torch never reads it."""
    return legacy_keys(P2(b"]" + U("0") + b"a"), ONE + PAYLOAD)


@case
def lkeys_short_bytes():
    return legacy_keys(P2(b"]" + U("0") + b"a"), struct.pack("<Q", 4) + W[:8])


@case
def lkeys_int_key():
    """Storage key 0 (an int) in the pid and in the list: torch reads it."""
    pid = TUP(U("storage"), G("torch", "FloatStorage"), I(0), U("cpu"), I(4), H.NONE) + b"Q"
    obj = DICT((U("weight"), ltensor(pid, (2, 2), (2, 1))))
    return (H.MAGIC_PICKLE + P2(I(1001)) + P2(DICT()) + P2(obj) + P2(b"]" + I(0) + b"a") + ONE)


# ---- round 2: Python 2 names (fix_imports) and find_class special cases ------------

@case
def fiximports_commands_getoutput():
    """Protocol 2: 'commands.getoutput' is subprocess.getoutput after fix_imports."""
    return zipped(recs(P2(CALL(G("commands", "getoutput"), U("touch c2s-marker")))))


@case
def fiximports_builtin_eval():
    return zipped(recs(P2(CALL(G("__builtin__", "eval"),
                               U("__import__('os').system('touch c2s-marker')")))))


@case
def fiximports_proto0_commands():
    """No PROTO opcode (protocol 0): fix_imports still maps the name."""
    return zipped(recs(b"ccommands\ngetoutput\n(Vtouch c2s-marker\ntR."))


@case
def fiximports_legacy_commands():
    return H.MAGIC_PICKLE + P2(I(1001)) + P2(
        CALL(G("commands", "getoutput"), U("touch c2s-marker")))


@case
def findclass_storage_name_os():
    """A name holding 'Storage' in any module: torch gives the storage type."""
    pid = TUP(U("storage"), G("os", "FloatStorage"), U("0"), U("cpu"), I(4)) + b"Q"
    return zipped(recs(ckpt(tensor(pid))))


# ---- round 2: zip sizes and CRCs as miniz reads them -------------------------------

def ckpt_raw_patched(which, **over):
    ents = H.ckpt_entries(ckpt())
    for e in ents:
        if e["name"].endswith(which):
            e.update(over)
    return H.raw_zip(ents)


@case
def zip_crc_wrong_storage():
    return ckpt_raw_patched("data/0", crc=0x12345678)


@case
def zip_crc_wrong_pickle():
    return ckpt_raw_patched("data.pkl", crc=0x12345678)


@case
def zip_local_size_differs_storage():
    return ckpt_raw_patched("data/0", local_size=8)


@case
def zip_descriptor_flag_storage():
    return ckpt_raw_patched("data/0", flags=8)


@case
def zip_name_nul_constants():
    """A record 'archive/constants.pkl\\0x': miniz's get_filename stops at the NUL."""
    ents = H.ckpt_entries(ckpt()) + [{"name": b"archive/constants.pkl\0x", "data": P2(H.NONE)}]
    return H.raw_zip(ents)


@case
def findclass_torch_underscore_tensor():
    """The same call through its real module torch._tensor (control for the alias)."""
    return zipped(recs(ckpt(CALL(G("torch._tensor", "_rebuild_from_type_v2"),
                                 G("torch._utils", "_rebuild_tensor_v2"), G("torch", "Tensor"),
                                 TUP(storage(), I(0), TUP(I(2), I(2)), TUP(I(2), I(1)), H.FALSE,
                                     H.ORDERED_DICT()), DICT()))))


@case
def findclass_torch_tensor_alias_legacy():
    """The alias is mapped on the zip path only: the legacy path imports torch.tensor."""
    t = CALL(G("torch.tensor", "_rebuild_from_type_v2"), G("torch._utils", "_rebuild_tensor_v2"),
             G("torch", "Tensor"), TUP(lpid("FloatStorage", "0", 4), I(0), TUP(I(2), I(2)),
                                       TUP(I(2), I(1)), H.FALSE, H.ORDERED_DICT()), DICT())
    return legacy_with(DICT((U("weight"), t)))


@case
def findclass_storage_name_legacy():
    """'Storage' in the name: StorageType on the legacy path too, whatever the module."""
    pid = TUP(U("storage"), G("os", "FloatStorage"), U("0"), U("cpu"), I(4), H.NONE) + b"Q"
    return legacy_with(DICT((U("weight"), ltensor(pid, (2, 2), (2, 1)))))


def cd_patched(which, field_off, fmt, value, extra=None):
    """The hand-written checkpoint with one central directory field of a record changed."""
    ents = H.ckpt_entries(ckpt())
    if extra is not None:
        for e in ents:
            if e["name"].endswith(which):
                e["extra"] = extra
    raw = bytearray(H.raw_zip(ents))
    name = ("archive/" + which).encode()
    at = raw.index(b"PK\x01\x02" + raw[raw.index(b"PK\x01\x02") + 4:][:0])
    while True:
        n = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46:at + 46 + n] == name:
            break
        at += 46 + n + struct.unpack_from("<H", raw, at + 30)[0]
    struct.pack_into(fmt, raw, at + field_off, value)
    return bytes(raw)


@case
def cd_stored_comp_bigger():
    """STORED data/0 whose central compressed size (20) differs from its size (16)."""
    return cd_patched("data/0", 20, "<I", 20)


@case
def cd_stored_uncomp_bigger():
    return cd_patched("data/0", 24, "<I", 20)


@case
def cd_stored_both_bigger():
    """Both central sizes 20: the record runs 4 bytes into the next local header."""
    raw = cd_patched("data/0", 20, "<I", 20)
    b = bytearray(raw)
    return cd_patched_bytes(b, "data/0", 24, 20)


def cd_patched_bytes(raw, which, off, value):
    name = ("archive/" + which).encode()
    at = raw.index(b"PK\x01\x02")
    while True:
        n = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46:at + 46 + n] == name:
            break
        at += 46 + n + struct.unpack_from("<H", raw, at + 30)[0]
    struct.pack_into("<I", raw, at + off, value)
    return bytes(raw)


@case
def zip64_extra_uncomp_only():
    """Central uncompressed size 0xFFFFFFFF, a ZIP64 extra with that one field (16)."""
    return cd_patched("data/0", 24, "<I", 0xFFFFFFFF, extra=struct.pack("<HHQ", 1, 8, 16))


@case
def zip64_extra_uncomp_only_wrong():
    """The same with the ZIP64 field saying 20."""
    return cd_patched("data/0", 24, "<I", 0xFFFFFFFF, extra=struct.pack("<HHQ", 1, 8, 20))


@case
def zip64_extra_unneeded():
    """A ZIP64 extra with a size (20) while the central fields are not 0xFFFFFFFF."""
    return cd_patched("data/0", 24, "<I", 16, extra=struct.pack("<HHQQ", 1, 16, 20, 20))


# ---- round 2: str decoding (BINUNICODE is surrogatepass; BINSTRING is utf-8 strict) ----

def binunicode(b):
    return b"X" + struct.pack("<I", len(b)) + b


@case
def binunicode_surrogate_key():
    """BINUNICODE 'w\\ud800': CPython decodes with surrogatepass, torch loads it."""
    return zipped(recs(P2(b"}" + binunicode(b"w\xed\xa0\x80") + tensor() + b"s")))


@case
def binunicode_invalid_utf8_key():
    return zipped(recs(P2(b"}" + binunicode(b"w\xff") + tensor() + b"s")))


@case
def binstring_surrogate_key():
    """SHORT_BINSTRING with the same bytes: utf-8 'strict' refuses them."""
    return zipped(recs(P2(b"}" + binstring(b"w\xed\xa0\x80") + tensor() + b"s")))


@case
def binunicode_nul_key():
    return zipped(recs(P2(b"}" + binunicode(b"w\x00x") + tensor() + b"s")))


@case
def binunicode_overlong_key():
    """An overlong UTF-8 form of 'e' (C1 A5): invalid for CPython."""
    return zipped(recs(P2(b"}" + binunicode(b"w\xc1\xa5") + tensor() + b"s")))


@case
def binunicode_surrogate_storage_key():
    """A storage key with a lone surrogate: torch names the record data/<key>."""
    return zipped(recs(ckpt(tensor(storage(binunicode(b"\xed\xa0\x80"))))))


@case
def binunicode_nul_keys_collide():
    """'w\\0a' and 'w\\0b': cut at the NUL both would be 'w'."""
    return zipped(recs(P2(b"}(" + binunicode(b"w\x00a") + tensor() + binunicode(b"w\x00b") +
                          tensor() + b"u")))


@case
def binunicode_nul_parent_key():
    """A tensor under a dict whose key holds a NUL: 'm\\0x.weight'."""
    return zipped(recs(P2(DICT((binunicode(b"m\x00x"), DICT((U("weight"), tensor())))))))


@case
def binunicode_nul_key_no_tensor():
    """A NUL in the key of a non-tensor entry beside a tensor: the tensor converts."""
    return zipped(recs(P2(b"}(" + binunicode(b"meta\x00x") + I(1) + U("weight") + tensor() +
                          b"u")))


def module_nonpersistent(name_from, name_to):
    """torch.save of an nn.Linear with buffers 'wa' (non-persistent) and 'w', the
    first name patched in place (the pickle holds it once, memoized)."""
    import torch
    m = torch.nn.Linear(2, 2)
    with torch.no_grad():
        m.weight.copy_(torch.arange(4.).reshape(2, 2))
        m.bias.copy_(torch.arange(2.))
    m.register_buffer("wa", torch.ones(2), persistent=False)
    m.register_buffer("w", torch.full((2,), 3.0))
    buf = io.BytesIO()
    torch.save(m, buf)
    raw = zipfile.ZipFile(buf)
    pkl = raw.read("archive/data.pkl")
    old = b"X\x02\x00\x00\x00" + name_from
    assert pkl.count(old) == 1, pkl.count(old)
    pkl = pkl.replace(old, b"X\x02\x00\x00\x00" + name_to)
    return zipped([(n, pkl if n.endswith("data.pkl") else raw.read(n)) for n in raw.namelist()])


@case
def module_nonpersistent_control():
    return module_nonpersistent(b"wa", b"wa")


@case
def module_nonpersistent_nul():
    """The non-persistent buffer is 'w\\0': buffer 'w' is still persistent."""
    return module_nonpersistent(b"wa", b"w\x00")


def legacy_two_keys(k1, k2, typename=b"storage"):
    """A legacy stream of tensors 'a' and 'b' on storages k1 and k2 (BINUNICODE
    bytes), listed in that order, holding W and W2."""
    def pid(k):
        return TUP(binunicode(typename), G("torch", "FloatStorage"), binunicode(k), U("cpu"), I(4),
                   H.NONE) + b"Q"
    obj = DICT((U("a"), ltensor(pid(k1), (4,), (1,))), (U("b"), ltensor(pid(k2), (4,), (1,))))
    return (H.MAGIC_PICKLE + P2(I(1001)) + P2(DICT()) + P2(obj) +
            P2(b"](" + binunicode(k1) + binunicode(k2) + b"e") +
            struct.pack("<Q", 4) + W + struct.pack("<Q", 4) + W2)


@case
def legacy_keys_nul_distinct():
    """Storage keys 'a\\0x' and 'a\\0y': two storages to torch, 'a' twice if cut."""
    return legacy_two_keys(b"a\x00x", b"a\x00y")


@case
def legacy_keys_plain_distinct():
    return legacy_two_keys(b"ax", b"ay")


@case
def legacy_typename_nul():
    """The persistent id's typename 'storage\\0': not 'storage' to torch."""
    return legacy_two_keys(b"ax", b"ay", typename=b"storage\x00")


@case
def legacy_listed_key_nul():
    """Tensors on 'a'; the list is ['a', 'a\\0x']: torch asserts 'a\\0x' is a storage."""
    obj = DICT((U("a"), ltensor(lpid("FloatStorage", "a", 4), (4,), (1,))))
    return (H.MAGIC_PICKLE + P2(I(1001)) + P2(DICT()) + P2(obj) +
            P2(b"](" + U("a") + binunicode(b"a\x00x") + b"e") +
            struct.pack("<Q", 4) + W + struct.pack("<Q", 4) + W2)


@case
def zip_storage_keys_nul_distinct():
    """Zip: keys 'a\\0x' and 'a\\0y'; torch reads record data/a for both (c_str)."""
    def st(k):
        return TUP(U("storage"), G("torch", "FloatStorage"), binunicode(k), U("cpu"), I(4)) + b"Q"
    pkl = P2(DICT((U("a"), tensor(st(b"a\x00x"))), (U("b"), tensor(st(b"a\x00y")))))
    return zipped([("archive/data.pkl", pkl), ("archive/data/a", W), ("archive/version", b"3\n")])


# ---- round 2: what persistent_load takes for a storage class --------------------------

@case
def storage_class_tensor_type():
    """torch.FloatTensor as the storage class: persistent_load only asks .dtype."""
    return zipped(recs(ckpt(tensor(storage(cls=G("torch", "FloatTensor"))))))


@case
def storage_class_untyped():
    """torch.UntypedStorage: dtype uint8, so numel counts bytes (16)."""
    return zipped(recs(ckpt(tensor(storage(numel=16, cls=G("torch", "UntypedStorage")),
                                   size=(16,), stride=(1,)))))


@case
def storage_class_tensor_type_legacy():
    pid = TUP(U("storage"), G("torch", "FloatTensor"), U("0"), U("cpu"), I(4), H.NONE) + b"Q"
    return legacy_with(DICT((U("weight"), ltensor(pid, (2, 2), (2, 1)))))


# ---- what torch calls without a REDUCE of the global (from_type's func, BUILD's
# __setstate__, calls of instances), and storage keys that collide -----------------

RUN = G("torch.utils.collect_env", "run")  # subprocess.Popen(command, shell=True)
CMD = U("touch c2s-marker")


def from_type_v2(func, new_type, args, state=b"}"):
    return CALL(G("torch._tensor", "_rebuild_from_type_v2"), func, new_type, args, state)


@case
def fromtype_func_fx_exec():
    """_rebuild_from_type_v2's func is torch.fx.graph_module._exec_with_source,
    only named: torch calls func(*args), which exec()s the source."""
    run = from_type_v2(G("torch.fx.graph_module", "_exec_with_source"), G("torch", "Tensor"),
                       TUP(U("import posix; posix.system('touch c2s-marker')"), b"}"))
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("p"), run)))))


@case
def fromtype_func_fx_exec_popped():
    """The same call, its result popped (POP) before the state dict: the
    tensor walk never meets it, only the globals judge it."""
    run = from_type_v2(G("torch.fx.graph_module", "_exec_with_source"), G("torch", "Tensor"),
                       TUP(U("import posix; posix.system('touch c2s-marker')"), b"}"))
    return zipped(recs(P2(run + H.POP + DICT((U("weight"), tensor())))))


@case
def fromtype_func_collect_env_popped():
    """func torch.utils.collect_env.run(command), popped: a shell command."""
    run = from_type_v2(RUN, G("torch", "Tensor"), TUP(CMD))
    return zipped(recs(P2(run + H.POP + DICT((U("weight"), tensor())))))


def v2_args(key="0", numel=4, size=(2, 2), stride=(2, 1)):
    return TUP(storage(U(key), numel), I(0), TUP(*map(I, size)), TUP(*map(I, stride)), H.FALSE,
               H.ORDERED_DICT())


@case
def fromtype_state_sets_data():
    """_rebuild_from_type_v2(_rebuild_tensor_v2, Parameter, args on '0', {'data': t on '1'}):
    torch setattr()s each state item, so 'data' swaps in storage '1'."""
    t = from_type_v2(G("torch._utils", "_rebuild_tensor_v2"), G("torch.nn.parameter", "Parameter"),
                     v2_args(), DICT((U("data"), t_at("1"))))
    return two_storage_recs(P2(DICT((U("weight"), t))))


@case
def fromtype_state_tuple_slots_data():
    """The state as (None, {'data': t1}): the slots half is setattr()'d too."""
    t = from_type_v2(G("torch._utils", "_rebuild_tensor_v2"), G("torch.nn.parameter", "Parameter"),
                     v2_args(), TUP(b"}", DICT((U("data"), t_at("1")))))
    return two_storage_recs(P2(DICT((U("weight"), t))))


@case
def fromtype_state_real_popped():
    """A popped _rebuild_from_type_v2 on storage '0' whose state sets 'real' to a
    tensor on '1': Tensor.real's setter copies in place, so 'weight' (also on
    '0') holds storage '1''s values; the call is not in the object tree."""
    t = from_type_v2(G("torch._utils", "_rebuild_tensor_v2"), G("torch.nn.parameter", "Parameter"),
                     v2_args(), DICT((U("real"), t_at("1"))))
    return two_storage_recs(P2(t + H.POP + DICT((U("weight"), tensor()))))


def keyed(kpickle, numel=4, cls=None):
    return tensor(TUP(U("storage"), cls or G("torch", "FloatStorage"), kpickle, U("cpu"),
                      I(numel)) + b"Q")


def recs_named(pkl, records):
    return zipped([("archive/data.pkl", pkl)] + [("archive/data/" + n, d) for n, d in records] +
                  [("archive/version", b"3\n")])


@case
def skey_int_then_true():
    """Storage keys 1 then True: one dict slot in loaded_storages, so 'b'
    shares data/1; record data/True (other bytes) is never read."""
    return recs_named(P2(DICT((U("a"), keyed(I(1))), (U("b"), keyed(H.TRUE)))),
                      [("1", W), ("True", W9)])


@case
def skey_reused_other_class():
    """Key '0' as FloatStorage then as IntStorage: torch hands back the first
    (float) storage, so 'b' is float32 too."""
    return zipped(recs(P2(DICT((U("a"), keyed(U("0"))),
                               (U("b"), keyed(U("0"), cls=G("torch", "IntStorage")))))))


@case
def build_twice_ordered_dict():
    """OrderedDict(), BUILD {'__setstate__': collect_env.run}, BUILD 'touch ...':
    the first state lands in the instance __dict__, so the second BUILD's
    getattr(inst, '__setstate__') finds run and calls run(state)."""
    od = CALL(G("collections", "OrderedDict"), TUP())
    evil = od + DICT((U("__setstate__"), RUN)) + b"b" + CMD + b"b"
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("meta"), evil)))))


@case
def build_twice_namespace():
    """The same on argparse.Namespace() (data): plain instance __dict__."""
    ns = CALL(G("argparse", "Namespace"))
    evil = ns + DICT((U("__setstate__"), RUN)) + b"b" + CMD + b"b"
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("args"), evil)))))


@case
def build_twice_module():
    """NEWOBJ Linear, BUILD a state holding '__setstate__': run (Module.__setstate__
    updates __dict__), BUILD 'touch ...': the instance attribute shadows the method."""
    lin = G("torch.nn.modules.linear", "Linear") + TUP() + b"\x81"
    evil = lin + DICT((U("__setstate__"), RUN)) + b"b" + CMD + b"b"
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("m"), evil)))))


@case
def reduce_on_module_instance():
    """NEWOBJ Linear + BUILD {'forward': collect_env.run}, then REDUCE with that
    instance as the callable: Module.__call__ runs self.forward(*args)."""
    lin = G("torch.nn.modules.linear", "Linear") + TUP() + b"\x81"
    state = DICT((U("forward"), RUN), (U("_backward_hooks"), b"}"), (U("_forward_hooks"), b"}"))
    evil = lin + state + b"b" + TUP(CMD) + b"R"
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("out"), evil)))))


@case
def skey_upper_record_lower():
    """Key 'A', only record data/a: miniz's lookup ignores case, torch reads data/a."""
    return recs_named(P2(DICT((U("weight"), keyed(U("A"))))), [("a", W)])


@case
def skey_lower_and_upper_records():
    """Keys 'a' and 'A', records data/a and data/A (different bytes): which
    record each key gets depends on miniz's heap sort and binary search."""
    return recs_named(P2(DICT((U("x"), keyed(U("a"))), (U("y"), keyed(U("A"))))),
                      [("a", W), ("A", W9)])


def linear_module(extra=()):
    """NEWOBJ torch.nn Linear + BUILD of a minimal __dict__ with parameter 'weight'."""
    od = G("collections", "OrderedDict")
    params = CALL(od, TUP()) + b"(" + U("weight") + tensor() + b"u"
    state = DICT((U("training"), H.TRUE), (U("_parameters"), params),
                 (U("_buffers"), CALL(od, TUP())), (U("_modules"), CALL(od, TUP())),
                 *extra)
    return G("torch.nn.modules.linear", "Linear") + TUP() + b"\x81" + state + b"b"


@case
def module_plain_linear():
    """Control: a pickled Linear module; torch_diff takes its state_dict()."""
    return zipped(recs(P2(linear_module())))


@case
def module_state_dict_shadowed():
    """The module's __dict__ holds 'state_dict': OrderedDict: model.state_dict()
    (after torch.load) calls the instance attribute and gets no tensors."""
    return zipped(recs(P2(linear_module([(U("state_dict"), G("collections", "OrderedDict"))]))))


@case
def legacy_payload_then_zip():
    """A legacy stream whose object pickle runs the payload, followed by a whole
    clean torch.save zip: torch.load looks at the first 4 bytes only."""
    obj = DICT((U("weight"), ltensor(lpid("FloatStorage", "0", 4), (2, 2), (2, 1))), (U("p"), TOUCH))
    leg = (H.MAGIC_PICKLE + P2(I(1001)) + P2(DICT()) + P2(obj) + P2(b"]" + U("0") + b"a") +
           struct.pack("<Q", 4) + W)
    return leg + zipped(recs())


@case
def fromtype_v1_func_popped():
    """torch._tensor._rebuild_from_type (v1) calls func(*args) the same way."""
    run = CALL(G("torch._tensor", "_rebuild_from_type"), RUN, G("torch", "Tensor"), TUP(CMD), b"}")
    return zipped(recs(P2(run + H.POP + DICT((U("weight"), tensor())))))


@case
def reduce_module_forward_rebuild():
    """'extra' = Linear-instance(*rebuild args) whose forward is _rebuild_tensor_v2:
    torch gets a second tensor from a call whose callable is not a global."""
    lin = G("torch.nn.modules.linear", "Linear") + TUP() + b"\x81"
    state = DICT((U("forward"), G("torch._utils", "_rebuild_tensor_v2")),
                 (U("_backward_hooks"), b"}"), (U("_forward_hooks"), b"}"))
    t = lin + state + b"b" + v2_args("1") + b"R"
    return two_storage_recs(P2(DICT((U("weight"), tensor()), (U("extra"), t))))


@case
def parameter_class_called():
    """REDUCE torch.nn.parameter.Parameter(tensor, False) directly (not
    _rebuild_parameter): torch has a Parameter named 'weight'."""
    p = CALL(G("torch.nn.parameter", "Parameter"), t_at("1"), H.FALSE)
    return two_storage_recs(P2(DICT((U("bias"), tensor()), (U("weight"), p))))


@case
def tensor_class_on_storage():
    """REDUCE torch.Tensor(storage): the legacy constructor wraps the whole storage."""
    p = CALL(G("torch", "Tensor"), storage())
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("flat"), p)))))


@case
def append_own_extend():
    """argparse.Namespace(), BUILD {'extend': collect_env.run}, APPENDS [cmd]:
    load_append looks extend up on the object and calls run([cmd])."""
    ns = CALL(G("argparse", "Namespace")) + DICT((U("extend"), RUN)) + b"b" + b"(" + CMD + b"e"
    return zipped(recs(P2(DICT((U("weight"), tensor()), (U("args"), ns)))))


@case
def setitem_on_storage():
    """SETITEM on the persistent id's storage, popped: storage[0] = 9 writes
    the value torch's 'weight' (on the same storage) then holds."""
    poke = storage() + I(0) + I(9) + b"s" + H.POP
    return zipped(recs(P2(poke + DICT((U("weight"), tensor())))))


# ---- second hunt, 2026-12-02 ----
# Python evaluates each call when its opcode runs; the machine keeps a graph
# that later opcodes can still change (lists, dicts), and some values
# Python finds equal (str() of a str, an object with a .dtype) are other
# kinds of node to the map.

def put(i):
    return b"q" + bytes([i])   # BINPUT


def get(i):
    return b"h" + bytes([i])   # BINGET


@case
def size_list_appended_after_call():
    """size [4] and stride [1] as lists, APPENDed to after the rebuild call: torch's tensor is (4,)."""
    size = b"]" + put(1) + b"(" + I(4) + b"e"
    stride = b"]" + put(2) + b"(" + I(1) + b"e"
    t = CALL(G("torch._utils", "_rebuild_tensor_v2"), storage(), I(0), size, stride, H.FALSE,
             H.ORDERED_DICT())
    later = get(1) + I(1) + b"a" + H.POP + get(2) + I(1) + b"a" + H.POP
    return zipped(recs(P2(DICT((U("weight"), t)) + later)))


@case
def stride_list_setitem_after_call():
    """stride list [2, 1] made [1, 2] by SETITEM after the call: same shape, transposed bytes."""
    stride = b"]" + put(2) + b"(" + I(2) + I(1) + b"e"
    t = CALL(G("torch._utils", "_rebuild_tensor_v2"), storage(), I(0), TUP(I(2), I(2)), stride,
             H.FALSE, H.ORDERED_DICT())
    later = get(2) + I(0) + I(1) + b"s" + I(1) + I(2) + b"s" + H.POP
    return zipped(recs(P2(DICT((U("weight"), t)) + later)))


@case
def module_state_replaced_after_build():
    """Linear BUILD {'_parameters': P0, ...}, then state['_parameters'] = P1: Module.__setstate__
    copied the dict at BUILD, so torch's weight is on '0'."""
    od = G("collections", "OrderedDict")
    state = DICT((U("training"), H.TRUE),
                 (U("_parameters"), CALL(od, TUP()) + b"(" + U("weight") + t_at("0") + b"u"),
                 (U("_buffers"), CALL(od, TUP())), (U("_modules"), CALL(od, TUP())))
    mod = G("torch.nn.modules.linear", "Linear") + TUP() + b"\x81" + state + put(7) + b"b"
    later = get(7) + U("_parameters") + CALL(od, TUP()) + b"(" + U("weight") + t_at("1") + b"u" + \
        b"s" + H.POP
    return two_storage_recs(P2(mod + later))


@case
def first_id_key_str_call():
    """A popped first id for key '0' spelt str('0') (REDUCE builtins.str) with IntStorage:
    loaded_storages types '0' int32; the tensor's own id says FloatStorage."""
    pid = TUP(U("storage"), G("torch", "IntStorage"), CALL(G("builtins", "str"), U("0")), U("cpu"),
              I(4)) + b"Q"
    return zipped(recs(P2(pid + H.POP + DICT((U("weight"), tensor())))))


@case
def first_id_class_namespace():
    """A popped first id for '0' whose class is Namespace() BUILD {'dtype': torch.int32}:
    persistent_load only asks storage_type.dtype."""
    ns = CALL(G("argparse", "Namespace")) + DICT((U("dtype"), G("torch", "int32"))) + b"b"
    pid = TUP(U("storage"), ns, U("0"), U("cpu"), I(4)) + b"Q"
    return zipped(recs(P2(pid + H.POP + DICT((U("weight"), tensor())))))


@case
def legacy_first_id_key_str_call():
    """Legacy: the same popped first id (key str('0'), IntStorage) before a FloatStorage tensor."""
    pid = TUP(U("storage"), G("torch", "IntStorage"), CALL(G("builtins", "str"), U("0")), U("cpu"),
              I(4), H.NONE) + b"Q"
    t = ltensor(lpid("FloatStorage", "0", 4), (2, 2), (2, 1))
    return legacy_with(pid + H.POP + DICT((U("weight"), t)))


@case
def legacy_view_key_str_call():
    """Legacy: a popped id makes view str('1') = elements 0..1 of '0'; the tensor's id names
    view ('1', 2, 2): torch hands back the first view."""
    first = TUP(U("storage"), G("torch", "FloatStorage"), U("0"), U("cpu"), I(4),
                TUP(CALL(G("builtins", "str"), U("1")), I(0), I(2))) + b"Q"
    t = ltensor(lpid("FloatStorage", "0", 4, TUP(U("1"), I(2), I(2))), (2,), (1,))
    return legacy_with(first + H.POP + DICT((U("weight"), t)))


@case
def key_str_call_replaces():
    """{'weight': t0, str('weight'): t1}: equal keys, so Python keeps 'weight' holding t1."""
    k2 = CALL(G("builtins", "str"), U("weight"))
    return two_storage_recs(P2(b"}(" + U("weight") + t_at("0") + k2 + t_at("1") + b"u"))


@case
def fromtype_state_ordereddict_of_dict():
    """_rebuild_from_type_v2 state OrderedDict({'data': t on '1'}), a call the machine keeps
    opaque: torch setattr()s 'data' all the same."""
    st = CALL(G("collections", "OrderedDict"), DICT((U("data"), t_at("1"))))
    t = from_type_v2(G("torch._utils", "_rebuild_tensor_v2"), G("torch.nn.parameter", "Parameter"),
                     v2_args(), st)
    return two_storage_recs(P2(DICT((U("weight"), t))))


@case
def fromtype_state_dict_call_pairs():
    """The same state as builtins.dict([('data', t on '1')])."""
    st = CALL(G("builtins", "dict"), b"](" + TUP(U("data"), t_at("1")) + b"e")
    t = from_type_v2(G("torch._utils", "_rebuild_tensor_v2"), G("torch.nn.parameter", "Parameter"),
                     v2_args(), st)
    return two_storage_recs(P2(DICT((U("weight"), t))))


def module_of(cls, params, buffers=None, modules=None, extra=()):
    """NEWOBJ cls + BUILD of a module __dict__ (without '_is_full_backward_hook' unless extra)."""
    od = G("collections", "OrderedDict")
    state = DICT((U("training"), H.TRUE), (U("_parameters"), params),
                 (U("_buffers"), buffers or CALL(od, TUP())),
                 (U("_modules"), modules or CALL(od, TUP())), *extra)
    return G(*cls) + TUP() + b"\x81" + state + b"b"


def odict(*pairs):
    return CALL(G("collections", "OrderedDict"), TUP()) + \
        (b"(" + b"".join(k + v for k, v in pairs) + b"u" if pairs else b"")


LINEAR = ("torch.nn.modules.linear", "Linear")


@case
def module_param_named_full_backward_hook():
    """A parameter named '_is_full_backward_hook', the state without that attribute:
    Module.__setstate__ assigns it None, and __setattr__ makes the parameter None."""
    return two_storage_recs(P2(module_of(LINEAR, odict((U("weight"), t_at("0")),
                                                       (U("_is_full_backward_hook"), t_at("1"))))))


@case
def submodule_named_full_backward_hook():
    """A Sequential whose sub-module '_is_full_backward_hook' (a Linear on '1') becomes None
    the same way: its tensors are not in state_dict()."""
    done = [(U("_is_full_backward_hook"), H.NONE)]
    a = module_of(LINEAR, odict((U("weight"), t_at("0"))), extra=done)
    b = module_of(LINEAR, odict((U("weight"), t_at("1"))), extra=done)
    seq = module_of(("torch.nn.modules.container", "Sequential"), odict(),
                    modules=odict((U("0"), a), (U("_is_full_backward_hook"), b)))
    return two_storage_recs(P2(seq))


@case
def nonpersistent_as_list():
    """_non_persistent_buffers_set is the list ['buf']: state_dict() asks 'name not in' it."""
    m = module_of(LINEAR, odict((U("weight"), t_at("0"))), odict((U("buf"), t_at("1"))),
                  extra=[(U("_non_persistent_buffers_set"), b"]" + U("buf") + b"a")])
    return two_storage_recs(P2(m))


@case
def nonpersistent_as_str():
    """_non_persistent_buffers_set is the str 'xbufx': 'buf' in it is a substring test."""
    m = module_of(LINEAR, odict((U("weight"), t_at("0"))), odict((U("buf"), t_at("1"))),
                  extra=[(U("_non_persistent_buffers_set"), U("xbufx"))])
    return two_storage_recs(P2(m))


@case
def state_dict_defaultdict():
    """{'state_dict': defaultdict(None) + SETITEMS weight}: a dict, so it is the root."""
    dd = CALL(G("collections", "defaultdict"), H.NONE) + b"(" + U("weight") + tensor() + b"u"
    return zipped(recs(P2(DICT((U("state_dict"), dd), (U("epoch"), I(3))))))


@case
def tensor_newobj_ex_cdata():
    """NEWOBJ_EX torch.Tensor((), {'cdata': 0x414141414140}), popped: the legacy constructor's
    hidden signature wraps that address as a TensorImpl (torch.load segfaults)."""
    ev = G("torch", "Tensor") + TUP() + DICT((U("cdata"), I(0x414141414140))) + b"\x92"
    return zipped(recs(b"\x80\x04" + ev + H.POP + DICT((U("weight"), tensor())) + b"."))


@case
def untyped_storage_newobj_ex_allocator():
    """NEWOBJ_EX torch.UntypedStorage((16,), {'allocator': 0x414141414140}), popped: that
    address is used as a c10::Allocator (torch.load segfaults)."""
    ev = G("torch", "UntypedStorage") + TUP(I(16)) + DICT((U("allocator"), I(0x414141414140))) + \
        b"\x92"
    return zipped(recs(b"\x80\x04" + ev + H.POP + DICT((U("weight"), tensor())) + b"."))


# ---- third hunt, 2026-12-02 ----
# TorchScript archives written by hand: code/__torch__.py declares class M (parameter
# 'weight'), data.pkl builds an M.  torch.load hands them to torch.jit.load, which
# compiles the code/ classes it resolves, and evaluates while compiling them every
# default argument and every Final class constant (evaluateDefaults: a graph run by
# the interpreter).  aten::save (torch.save in TorchScript) writes a file.

TS_PAY = '(torch.save(1, "c2s-marker"), 1)[1]'   # an int, after aten::save wrote the marker


def ts_obj(qual, *pairs):
    mod, _, name = qual.rpartition(".")
    return H.NEWOBJ_BUILD(G(mod, name), DICT(*pairs))


def ts_m(*more, weight=None):
    """data.pkl: M with 'weight' (storage '0') and 'training', then more attributes."""
    return P2(ts_obj("__torch__.M", (U("weight"), weight or tensor()), (U("training"), H.TRUE),
                     *more))


def ts_zip(code, pkl=None, extra=(), constants=P2(b")")):
    """A TorchScript archive: code/__torch__.py = code, data.pkl = pkl (default ts_m())."""
    r = [("archive/data.pkl", pkl or ts_m()), ("archive/code/__torch__.py", code.encode()),
         ("archive/constants.pkl", constants), ("archive/data/0", W),
         ("archive/version", b"3\n")]
    return zipped(r + list(extra))


def ts_class_m(body="", params='"weight", ', buffers=""):
    return ('class M(Module):\n  __parameters__ = [%s]\n  __buffers__ = [%s]\n'
            '  weight : Tensor\n  training : bool\n' % (params, buffers)) + body


@case
def ts_control_clean():
    """A hand-written TorchScript archive with a literal default argument (as torch.jit.save writes)."""
    return ts_zip(ts_class_m('  def forward(self: __torch__.M,\n    x: int=3) -> Tensor:\n'
                             '    return self.weight\n'))


@case
def ts_default_arg_save():
    """M.forward's default argument calls torch.save: evaluated by torch.jit.load while compiling."""
    return ts_zip(ts_class_m('  def forward(self: __torch__.M,\n    x: int=%s) -> Tensor:\n'
                             '    return self.weight\n' % TS_PAY))


@case
def ts_final_constant_save():
    """A class constant 'k : Final[int] = <torch.save ...>' of M: evaluated while importing M."""
    return ts_zip(ts_class_m('  k : Final[int] = %s\n' % TS_PAY))


@case
def ts_default_arg_other_file():
    """The default-argument payload sits in code/__torch__/evil.py, a class only named in the
    signature of M.forward (no pickle names it): torch imports and compiles it too."""
    evil = ('class E:\n  a : int\n  def f(self: __torch__.evil.E,\n    x: int=%s) -> int:\n'
            '    return x\n' % TS_PAY)
    return ts_zip(ts_class_m('  def forward(self: __torch__.M,\n    e: __torch__.evil.E) -> Tensor:\n'
                             '    return self.weight\n'),
                  extra=[("archive/code/__torch__/evil.py", evil.encode())])


@case
def ts_default_arg_free_function():
    """A module-level function whose default calls torch.save, called from M.forward."""
    return ts_zip(ts_class_m('  def forward(self: __torch__.M) -> int:\n'
                             '    return __torch__.helper()\n') +
                  'def helper(x: int=%s) -> int:\n  return x\n' % TS_PAY)


@case
def ts_body_save_not_run():
    """torch.save in a method body only: constant propagation skips aten::save (side effects)."""
    return ts_zip(ts_class_m('  def forward(self: __torch__.M) -> int:\n'
                             '    torch.save(1, "c2s-marker")\n    return 1\n'))


# What state_dict() holds: torch.jit.load's obj_loader fills an object's slots from the
# BUILD dict by the attributes its class declares (annotations 'name : Type' in code/);
# other keys of the dict are dropped.  __parameters__/__buffers__ only mark declared
# attributes; ParameterDict/BufferDict/ModuleDict then filter by the declared type.

TS_L = ('class L(Module):\n  __parameters__ = ["weight", ]\n  __buffers__ = []\n'
        '  weight : Tensor\n  training : bool\n')


def ts_sub_l(key="1"):
    return ts_obj("__torch__.L", (U("weight"), tensor(storage(U(key)))), (U("training"), H.TRUE))


def ts_zip2(code, pkl):
    """ts_zip with a second storage record data/1."""
    return ts_zip(code, pkl, extra=[("archive/data/1", W)])


@case
def ts_extra_key_submodule():
    """data.pkl gives M a key 'sub' (an L module) that M does not declare: torch drops it."""
    return ts_zip2(ts_class_m() + TS_L, ts_m((U("sub"), ts_sub_l())))


@case
def ts_declared_submodule_control():
    """The same with 'sub : __torch__.L' declared in M: torch keeps sub.weight."""
    return ts_zip2(ts_class_m('  sub : __torch__.L\n') + TS_L, ts_m((U("sub"), ts_sub_l())))


@case
def ts_parameter_not_annotated():
    """__parameters__ names 'ghost', which no annotation declares: not an attribute for torch."""
    return ts_zip2(ts_class_m(params='"weight", "ghost", '),
                   ts_m((U("ghost"), tensor(storage(U("1"))))))


@case
def ts_buffer_optional_type():
    """A buffer 'b' declared 'b : Optional[Tensor]': BufferDict keeps only Tensor-typed ones."""
    return ts_zip2(ts_class_m('  b : Optional[Tensor]\n', buffers='"b", '),
                   ts_m((U("b"), tensor(storage(U("1"))))))


@case
def ts_submodule_declared_other_type():
    """'sub' holds an L module but M declares 'sub : Optional[int]': ModuleDict goes by the
    declared type, so torch's state_dict has no sub.weight."""
    return ts_zip2(ts_class_m('  sub : Optional[int]\n') + TS_L, ts_m((U("sub"), ts_sub_l())))


# TorchScript's unpickler (not torch.load's): each BINPERSID makes its own storage of
# numel * itemsize bytes over the whole record, and _rebuild_tensor_v2 sets the view
# with no bounds check (set_sizes_and_strides).

@case
def ts_view_past_numel_in_record():
    """weight's storage id says numel 2, its 2x2 view needs 4; the record holds 4 floats."""
    return ts_zip(ts_class_m(), ts_m(weight=tensor(storage(numel=2))))


@case
def ts_one_key_two_dtypes():
    """weight reads record 0 as float32, 'w2' (a second parameter) as int32: torch.jit.load
    makes two storages, one of each type."""
    return ts_zip(ts_class_m(params='"weight", "w2", ').replace(
        "  training", "  w2 : Tensor\n  training"),
        ts_m((U("w2"), tensor(storage(cls=G("torch", "IntStorage"))))))


@case
def ts_interface_default_save():
    """The payload as a default argument of an Interface method (no body) in another file."""
    itf = 'class I(Interface):\n  def f(self, x: int=%s) -> int:\n    pass\n' % TS_PAY
    return ts_zip(ts_class_m('  def forward(self: __torch__.M,\n    t: __torch__.itf.I) -> Tensor:\n'
                             '    return self.weight\n'),
                  extra=[("archive/code/__torch__/itf.py", itf.encode())])


@case
def ts_constants_class_default_save():
    """constants.pkl holds an object of class E (judged data: no __setstate__); compiling E
    evaluates its method's default argument."""
    ev = ('class E:\n  a : int\n  def f(self: __torch__.ev.E,\n    x: int=%s) -> int:\n'
          '    return x\n' % TS_PAY)
    return ts_zip(ts_class_m(), constants=P2(TUP(ts_obj("__torch__.ev.E", (U("a"), I(1))))),
                  extra=[("archive/code/__torch__/ev.py", ev.encode())])


@case
def ts_torchbind_class_shadowed():
    """data.pkl builds __torch__.torch.classes.quantized.LinearPackedParamsBase and code/ declares
    a plain class of that name (judged data); torch's source importer resolves TorchBind
    classes first and runs their C++ __setstate__ (here on a float tensor)."""
    q = 'class LinearPackedParamsBase:\n  a : int\n'
    obj = G("__torch__.torch.classes.quantized", "LinearPackedParamsBase") + b")\x81" + \
        TUP(tensor(storage(U("1"))), H.NONE) + b"b"
    return ts_zip(ts_class_m(), ts_m((U("packed"), obj)),
                  extra=[("archive/data/1", W),
                         ("archive/code/__torch__/torch/classes/quantized.py", q.encode())])


# ---- storages shared under one key with different numel (torch.load caches the first) ----

@case
def skey_numel_small_then_big():
    """Key '0' first as numel 2 (a 2-vector), then numel 4 under a 2x2 view: torch.load's cached
    8-byte storage is too small for the second tensor (set_ fails)."""
    a = tensor(storage(numel=2), size=(2,), stride=(1,))
    b = tensor(storage(numel=4))
    return zipped(recs(P2(DICT((U("a"), a), (U("b"), b)))))

