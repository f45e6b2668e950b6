#!/bin/sh
# legacy_vs_zip.sh - a legacy (pre-1.6) checkpoint against the same tensors
# in the zip format: conversion time (hyperfine, warm cache) and peak RSS.
#
#   bench/legacy_vs_zip.sh [SIZE_MIB] [BENCH_DIR]     (default 1024, /tmp/c2s-bench)
#
# Needs PyTorch (/usr/bin/python3 with torch: Debian's python3-torch) to
# write the two files once, hyperfine and GNU time.  Prints a Markdown report.
set -eu
cd "$(dirname "$0")/.."
SIZE=${1:-1024}
DIR=${2:-/tmp/c2s-bench}
BIN=$(pwd)/ckpt2safetensors
mkdir -p "$DIR"
[ -x "$BIN" ] || make -s ckpt2safetensors
if [ ! -f "$DIR/legacy-$SIZE.pt" ] || [ ! -f "$DIR/zip-$SIZE.pt" ]; then
    /usr/bin/python3 - "$SIZE" "$DIR" <<'PY'
import sys, torch
size, d = int(sys.argv[1]), sys.argv[2]
g = torch.Generator().manual_seed(0)
n = size // 16  # 16 MiB tensors
sd = {f"layer{i}.weight": torch.randn(2048, 2048, generator=g) for i in range(n)}
torch.save(sd, f"{d}/legacy-{size}.pt", _use_new_zipfile_serialization=False)
torch.save(sd, f"{d}/zip-{size}.pt")
PY
fi
cat "$DIR/zip-$SIZE.pt" "$DIR/legacy-$SIZE.pt" >/dev/null
OUT="$DIR/out.safetensors"
echo "# legacy vs zip, $SIZE MiB of F32 in 16 MiB tensors"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), ckpt2safetensors $(git rev-parse --short HEAD)"
echo
hyperfine -N -w 1 -r 5 -p "rm -f $OUT" --export-markdown "$DIR/hf.md" \
    -n zip "$BIN -q -f -o $OUT $DIR/zip-$SIZE.pt" \
    -n legacy "$BIN -q -f -o $OUT $DIR/legacy-$SIZE.pt" >/dev/null
cat "$DIR/hf.md"
echo
for k in zip legacy; do
    /usr/bin/time -f "$k: max RSS %M KiB" "$BIN" -q -f -o "$OUT" "$DIR/$k-$SIZE.pt" 2>&1
done
"$BIN" -q -f -o "$DIR/a.safetensors" "$DIR/zip-$SIZE.pt"
"$BIN" -q -f -o "$DIR/b.safetensors" "$DIR/legacy-$SIZE.pt"
cmp -s "$DIR/a.safetensors" "$DIR/b.safetensors" && echo "outputs: byte-identical"
