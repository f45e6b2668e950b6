#!/usr/bin/env bash
# bench/cold_memory.sh - what memory a process touches first costs after the
# machine sat idle, against right after another process freed as much.
#
#   bench/cold_memory.sh [CHECKPOINT]      (default: the bench's 200,000-tensor one)
#
# Environment: ROUNDS (default 5), IDLE seconds before each cold run (default 3),
# MIB touched by touch_pages (default 160, about the 200,000-tensor scan's peak),
# BENCH_BIN (measure this binary instead of building ./ckpt2safetensors),
# BENCH_RESULTS (default bench/results/<date>-<host>-cold-memory.md).
#
# Why: on a VM whose balloon device reports free pages to the host (virtio
# free page reporting; the host then drops them), memory freed a few seconds
# ago must be faulted in again by the host the next time the guest hands it
# out.  The kernel reports free blocks of 2^page_reporting_order pages (2 MiB
# with order 9), exactly what a transparent huge page takes, so a huge-page
# fault after an idle spell may cost the host's work on 512 pages.  Each
# round: sleep IDLE, then time the command (cold), then at once again (warm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
ROUNDS=${ROUNDS:-5}
IDLE=${IDLE:-3}
MIB=${MIB:-160}
CKPT=${1:-${BENCH_DIR:-/tmp/ckpt2safetensors-bench}/ckpt-tensors-200000.pt}
OUT=${BENCH_RESULTS:-bench/results/$(date +%F)-$(hostname)-cold-memory.md}
[ -f "$CKPT" ] || { echo "cold_memory: no $CKPT (make bench, or BENCH_TENSORS=200000 bench/run.sh none, writes it)" >&2; exit 1; }
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    make -s ckpt2safetensors >&2
    BIN=./ckpt2safetensors
fi
mkdir -p build/bench
${CC:-cc} -O2 -Wall -Wextra -o build/bench/touch_pages bench/touch_pages.c
TOUCH=build/bench/touch_pages

ms() { # ms COMMAND...: wall milliseconds of COMMAND (its output dropped)
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    echo $(((e - s) / 1000000))
}
touch_ms() { "$TOUCH" "$MIB" "$1" | cut -d' ' -f1; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A runs
for ((r = 1; r <= ROUNDS; r++)); do
    echo "cold_memory: round $r of $ROUNDS" >&2
    for mode in huge small; do
        sleep "$IDLE"; runs[touch-$mode-cold]+="$(touch_ms $mode) "
        runs[touch-$mode-warm]+="$(touch_ms $mode) "
    done
    sleep "$IDLE"; runs[scan-cold]+="$(ms "$BIN" --scan "$CKPT") "
    runs[scan-warm]+="$(ms "$BIN" --scan "$CKPT") "
done

balloon=""
for d in /sys/bus/virtio/devices/*; do
    [ "$(cat "$d/device" 2>/dev/null)" = 0x0005 ] || continue
    f=$(cat "$d/features"); balloon="virtio balloon, free page reporting (feature bit 5) ${f:5:1}"
done
{
    echo "# What first-touched memory costs, cold and warm: $(date '+%Y-%m-%d %H:%M %Z')"
    echo
    echo "- host: $(hostname), $(nproc) cores, kernel $(uname -r)"
    echo "- ${balloon:-no virtio balloon device}; page_reporting_order $(cat /sys/module/page_reporting/parameters/page_reporting_order 2>/dev/null || echo '?'); THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
    echo "- ckpt2safetensors: $BIN${BENCH_BIN:+ (BENCH_BIN)}, tree at commit $(git rev-parse --short HEAD 2>/dev/null || echo ?); checkpoint $CKPT"
    echo "- $ROUNDS rounds; each: sleep ${IDLE} s, run (cold), run again at once (warm); milliseconds of wall time"
    echo "- touch_pages: $MIB MiB mapped and written one byte per 4 KiB, advised huge pages or not (bench/touch_pages.c)"
    echo
    echo "| command | cold median | warm median | cold runs | warm runs |"
    echo "| --- | ---: | ---: | --- | --- |"
    for k in touch-huge touch-small scan; do
        case $k in
            touch-huge) what="touch_pages $MIB huge" ;;
            touch-small) what="touch_pages $MIB small" ;;
            scan) what="ckpt2safetensors --scan" ;;
        esac
        echo "| $what | $(echo "${runs[$k-cold]}" | median) | $(echo "${runs[$k-warm]}" | median) | ${runs[$k-cold]% } | ${runs[$k-warm]% } |"
    done
} >"$OUT"
cat "$OUT"
echo "cold_memory: report written to $OUT" >&2
