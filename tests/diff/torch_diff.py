#!/usr/bin/python3
"""Differential check of ckpt2safetensors against the real torch.load.

Run with the Debian Python that has PyTorch 1.13, from the repository root
after `make`:

    /usr/bin/python3 tests/diff/torch_diff.py [CASE...]
    /usr/bin/python3 tests/diff/torch_diff.py --files FILE...

Each case (a function in tests/diff/torch_diff_cases.py) builds one file
(its bytes, or its bytes and the extension its name needs).
For it we record what torch.load (weights_only=False, in a child process
whose working directory is a fresh temporary directory) does: refuses,
loads (the tensors it returns, named as the converter names them), and
whether a payload ran (the payloads touch a marker file in that directory);
and what `ckpt2safetensors --scan` and a plain conversion do.  A case is a
divergence when:

  BYPASS     torch ran the payload while our scan said safe (exit 0) or the
             conversion succeeded;
  TENSORS    we converted, torch loaded, and names, dtypes, shapes or bytes
             differ;
  refused    torch loaded cleanly (no payload) and we did not convert
             (reported, not an error: refusing is allowed);
  known      a divergence kept on purpose (KNOWN in the cases file says why);

and is printed as one table row per case either way.  Nothing is unpickled
in this process: torch.load runs only in the child.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("C2S_BIN", str(ROOT / "ckpt2safetensors"))
MARKER = "c2s-marker"

# The child: torch.load, then the tensors named as the converter names them
# (root: 'state_dict' when it is a dict; keys joined by '.'), as JSON.
PROBE = r"""
import hashlib, json, os, sys, torch
out = {}
def walk(v, name, seen):
    if isinstance(v, torch.Tensor):
        t = v.detach().contiguous()
        if t.is_quantized:
            return
        b = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        out[name] = [str(t.dtype).replace('torch.', ''), list(t.shape), hashlib.sha256(b).hexdigest()[:16]]
        return
    if id(v) in seen:
        return
    if isinstance(v, dict):
        seen = seen | {id(v)}
        for k, x in v.items():
            walk(x, (name + '.' if name else '') + str(k), seen)
    elif isinstance(v, (list, tuple)):
        seen = seen | {id(v)}
        for i, x in enumerate(v):
            walk(x, (name + '.' if name else '') + str(i), seen)
try:
    r = torch.load(sys.argv[1])
    if isinstance(r, torch.nn.Module):  # TorchScript, or a pickled module: its state dict
        r = r.state_dict()
    if isinstance(r, dict) and isinstance(r.get('state_dict'), dict):
        r = r['state_dict']
    walk(r, '', frozenset())
    print('C2SRESULT ' + json.dumps({'ok': True, 'tensors': out}))
except BaseException as e:
    print('C2SRESULT ' + json.dumps({'ok': False, 'error': type(e).__name__ + ': ' + ((str(e).splitlines() or [''])[0])[:160]}))
"""

DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
          "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
          "BOOL": "bool", "C64": "complex64"}


def run_torch(path, cwd):
    try:
        r = subprocess.run(["/usr/bin/python3", "-c", PROBE, str(path)], cwd=cwd,
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timeout"}, os.path.exists(os.path.join(cwd, MARKER))
    line = next((x for x in r.stdout.splitlines() if x.startswith("C2SRESULT ")), None)
    res = json.loads(line[10:]) if line else {"ok": False, "error": "crash: " + r.stderr[-160:]}
    return res, os.path.exists(os.path.join(cwd, MARKER))


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = [DTYPES.get(v["dtype"], v["dtype"]), v["shape"],
                  hashlib.sha256(data[a:b]).hexdigest()[:16]]
    return out


def run_ours(path, work):
    scan = subprocess.run([BIN, "--scan", "--json", str(path)], capture_output=True, text=True,
                          errors="replace", timeout=120)
    try:
        verdict = json.loads(scan.stdout)["verdict"]
    except (ValueError, KeyError):
        verdict = "?"
    out = Path(work) / "out.safetensors"
    conv = subprocess.run([BIN, "-f", "-o", str(out), str(path)], capture_output=True,
                          text=True, errors="replace", timeout=120)
    tensors = read_safetensors(out) if conv.returncode == 0 and out.exists() else None
    msg = (conv.stderr.strip().splitlines() or [""])[-1][:160]
    return scan.returncode, verdict, conv.returncode, tensors, msg


def judge(res, ran, ours):
    scan_rc, _, conv_rc, tensors, _ = ours
    if ran and (scan_rc == 0 or conv_rc == 0):
        return "BYPASS"
    if res["ok"] and conv_rc == 0 and tensors != res["tensors"]:
        return "TENSORS"
    if res["ok"] and not ran and conv_rc != 0:
        return "refused"
    return "agree"


def main(argv):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch_diff_cases as cases
    if argv[:1] == ["--files"]:  # existing files (a copy of each is loaded)
        table = {Path(f).name: (lambda f=f: (Path(f).read_bytes(), "".join(Path(f).suffixes[-1:])))
                 for f in argv[1:]}
        argv = list(table)
    else:
        table = cases.CASES
    names = argv or [n for n in table]
    bad = 0
    for name in names:
        raw, ext = table[name](), ".pt"
        if isinstance(raw, tuple):  # (bytes, file name extension)
            raw, ext = raw
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / (Path(name).stem + ext)
            path.write_bytes(raw)
            if ext == ".index":  # a TensorFlow bundle: its (empty) data shard beside it
                path.with_suffix(".data-00000-of-00001").write_bytes(b"")
            res, ran = run_torch(path, d)
            ours = run_ours(path, d)
        kind = judge(res, ran, ours)
        if kind in ("BYPASS", "TENSORS") and name in getattr(cases, "KNOWN", {}):
            kind = "known"  # a divergence kept on purpose (torch_diff_cases.KNOWN says why)
        bad += kind in ("BYPASS", "TENSORS")
        t = ("RAN PAYLOAD; " if ran else "") + (
            "loads %d tensors" % len(res["tensors"]) if res["ok"] else "refuses: " + res["error"])
        print("%-34s %-8s | torch: %s | scan %d %s, convert %d%s" % (
            name, kind, t[:110], ours[0], ours[1], ours[2],
            "" if ours[2] == 0 else ": " + ours[4][:110]))
        if kind == "TENSORS":
            print("    torch:", res["tensors"])
            print("    ours: ", ours[3])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
