#!/usr/bin/env python3
"""The Python baseline of the benchmark: torch.load, then write safetensors.

    torch_convert.py INPUT OUTPUT

This is the usual conversion, `torch.load(map_location="cpu")` followed by
`safetensors.torch.save_file`, except that the safetensors package is not
used (it is not installed on the benchmark machine): the file is written by
the small writer below, which does what save_file does -- a JSON header
(`"__metadata__":{"format":"pt"}`, tensors ordered by dtype rank then name,
compact, padded with spaces to 8 bytes, after its u64 little-endian length),
then each tensor's C-order bytes from `t.contiguous()`.  Its output is
byte-identical to what ckpt2safetensors writes, so the two can be compared.

If anything it is kinder to Python than save_file: save_file first copies
every tensor into a bytes object (all of them, before writing), this writer
hands each contiguous tensor's memory straight to write().  Unlike save_file
it does not refuse tensors that share storage: it writes each one whole, as
ckpt2safetensors does.
"""
import json
import struct
import sys

import torch

ST = {  # torch dtype -> (safetensors name, rank: higher is written first)
    torch.int64: ("I64", 18), torch.float64: ("F64", 17), torch.complex64: ("C64", 16),
    torch.float32: ("F32", 15), torch.int32: ("I32", 13), torch.bfloat16: ("BF16", 12),
    torch.float16: ("F16", 11), torch.int16: ("I16", 9), torch.int8: ("I8", 3),
    torch.uint8: ("U8", 2), torch.bool: ("BOOL", 1),
}


def flatten(obj, prefix, out):
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)


def raw_bytes(t):
    """The tensor's C-order bytes as a buffer, without a further copy."""
    t = t.detach().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret
        t = t.view(torch.int16)
    return memoryview(t.numpy()).cast("B")


def save(tensors, path):
    order = sorted(tensors, key=lambda n: (-ST[tensors[n].dtype][1], n.encode("utf-8")))
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for n in order:
        t = tensors[n]
        nb = t.numel() * t.element_size()
        header[n] = {"dtype": ST[t.dtype][0], "shape": list(t.shape),
                     "data_offsets": [off, off + nb]}
        off += nb
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for n in order:
            f.write(raw_bytes(tensors[n]))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: torch_convert.py INPUT OUTPUT")
    obj = torch.load(sys.argv[1], map_location="cpu")
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # the same root as ckpt2safetensors
    tensors = {}
    flatten(obj, "", tensors)
    save(tensors, sys.argv[2])


if __name__ == "__main__":
    main()
