#!/usr/bin/env bash
# bench/run.sh - performance benchmark of ckpt2safetensors (see bench/README.md)
#
#   bench/run.sh [SIZES...]        default: 1G 5G
#   bench/run.sh none              no model checkpoint (and no CPU split): only
#                                  the BENCH_CASES and BENCH_TENSORS rows
#
# Environment:
#   BENCH_DIR           scratch directory (default /tmp/ckpt2safetensors-bench);
#                       checkpoints are cached there by size: ckpt-<SIZE>.pt
#   BENCH_RUNS          measured runs per command (default 3)
#   BENCH_WARMUP        warm-up runs per command (default 1)
#   BENCH_PYTHON        a python3 with torch for the Python baseline (default: the
#                       first of /usr/bin/python3, python3 that can import torch;
#                       "none" skips the Python baseline)
#   BENCH_PROFILER      auto | perf | callgrind | none   (default auto: perf if it
#                       works here, else callgrind)
#   BENCH_PROFILE_SIZE  checkpoint profiled with perf (default: the first size)
#   BENCH_CLEAN=1       delete the cached checkpoints at the end
#   BENCH_RESULTS       where the report goes (default bench/results/<date>-<host>.md)
#   BENCH_BIN           measure this binary instead of building ./ckpt2safetensors
#   BENCH_MODES         also time ours with --direct-io=WHEN for each WHEN listed,
#                       e.g. "never always", and with --verify for "verify"
#                       (default: none)
#   BENCH_CASES         also time the cases of the issue "every path at disk
#                       speed", any of "f16 bf16 verify transposed", on 64
#                       square F32 matrices (ckpt-<SIZE>-contiguous.pt and
#                       ckpt-<SIZE>-transposed.pt), each against the plain
#                       conversion of the contiguous file (default: none;
#                       make bench: all four)
#   BENCH_CASE_SIZES    the sizes of those checkpoints (default 512M, the
#                       issue's table)
#   BENCH_TENSORS       tensor counts of the "many tensors" rows (default
#                       "50000 100000 200000"; "none" skips them): --list,
#                       conversion and peak RSS on checkpoints of N tiny
#                       tensors (ckpt-tensors-<N>.pt), and on the largest,
#                       --scan throughput beside pickletools.genops
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

BENCH_DIR=${BENCH_DIR:-/tmp/ckpt2safetensors-bench}
RUNS=${BENCH_RUNS:-3}
MODES=${BENCH_MODES:-}
CASES=${BENCH_CASES:-}
WARMUP=${BENCH_WARMUP:-1}
TENSORS=${BENCH_TENSORS-50000 100000 200000}
[ "$TENSORS" = none ] && TENSORS=""
PROFILER=${BENCH_PROFILER:-auto}
if [ $# -eq 0 ]; then set -- 1G 5G; fi
SIZES=("$@")
[ "$*" = none ] && SIZES=()
PROFILE_SIZE=${BENCH_PROFILE_SIZE:-${SIZES[0]:-}}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
for m in $MODES; do
    case $m in auto|always|never|verify) ;;
        *) die "BENCH_MODES takes auto, always, never or verify, not '$m'" ;; esac
done

for c in $CASES; do
    case $c in f16|bf16|verify|transposed) ;;
        *) die "BENCH_CASES takes f16, bf16, verify or transposed, not '$c'" ;; esac
done

for n in $TENSORS; do
    case $n in ''|*[!0-9]*|0*) die "BENCH_TENSORS takes tensor counts like \"50000 200000\" or none, not '$n'" ;; esac
done

# ---- tools -----------------------------------------------------------------

need() { # need TOOL HOW-TO-INSTALL
    command -v "$1" >/dev/null 2>&1 || die "$1 is missing; $2"
}
need make "install make (Debian: apt-get install make)"
need hyperfine "install hyperfine (Debian/Ubuntu: apt-get install hyperfine; or: cargo install hyperfine)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (the shell's 'time' cannot report peak RSS); Debian/Ubuntu: apt-get install time"
/usr/bin/time -f %M true >/dev/null 2>&1 ||
    die "/usr/bin/time does not accept -f %M (BusyBox or BSD time?); install GNU time (Debian: apt-get install time)"
need df "install coreutils"
PY=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || die "python3 is missing (needed to generate checkpoints and the report); Debian: apt-get install python3"

TORCH_PY=""
if [ "${BENCH_PYTHON:-}" != none ]; then
    for p in ${BENCH_PYTHON:-} /usr/bin/python3 python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1; then
            TORCH_PY=$(command -v "$p"); break
        fi
    done
fi

# ---- parse sizes ------------------------------------------------------------

bytes_of() { # 1G -> 1073741824 (binary units, as make_checkpoint.py)
    PYTHONDONTWRITEBYTECODE=1 "$PY" - "$1" <<'EOF'
import sys
sys.path.insert(0, "bench")
from make_checkpoint import parse_size
try:
    print(parse_size(sys.argv[1]))
except Exception as e:
    sys.exit(str(e))
EOF
}
for s in ${SIZES[@]+"${SIZES[@]}"} $PROFILE_SIZE; do
    bytes_of "$s" >/dev/null 2>&1 || die "bad size '$s' (use e.g. 256M, 1G, 5G)"
done

# ---- build --------------------------------------------------------------------

if [ -n "${BENCH_BIN:-}" ]; then
    [ -x "$BENCH_BIN" ] || die "BENCH_BIN=$BENCH_BIN is not an executable"
    BIN=$(cd "$(dirname "$BENCH_BIN")" && pwd)/$(basename "$BENCH_BIN")
    say "using BENCH_BIN=$BIN (not building)"
else
    say "building (make)"
    make -s >&2 || die "make failed (set BENCH_BIN to measure an existing binary)"
    [ -x ./ckpt2safetensors ] || die "make did not produce ./ckpt2safetensors"
    BIN=$root/ckpt2safetensors
fi

mkdir -p "$BENCH_DIR" || die "cannot create BENCH_DIR=$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
WORK=$BENCH_DIR/last-run
rm -rf "$WORK"
mkdir -p "$WORK"
: >"$WORK/notes.txt"
note() { say "$*"; printf '%s\n' "$*" >>"$WORK/notes.txt"; }
OUT_OURS=$BENCH_DIR/out-ours.safetensors
OUT_CP=$BENCH_DIR/out-cp.pt
OUT_PY=$BENCH_DIR/out-python.safetensors
cleanup_outputs() { rm -f "$OUT_OURS" "$OUT_CP" "$OUT_PY" "$BENCH_DIR"/.out-ours.safetensors.*.c2s-tmp; }
trap 'cleanup_outputs; rm -f "$BENCH_DIR"/*.partial' EXIT
cleanup_outputs

free_bytes() { df -PB1 "$BENCH_DIR" | awk 'NR==2 {print $4}'; }
gib() { awk -v b="$1" 'BEGIN {printf "%.1f GiB", b / 1073741824}'; }

if [ -n "$TORCH_PY" ]; then
    say "Python baseline: $TORCH_PY (torch $("$TORCH_PY" -c 'import torch; print(torch.__version__)'))"
elif [ "${BENCH_PYTHON:-}" = none ]; then
    note "the Python baseline is skipped (BENCH_PYTHON=none)"
else
    note "python3-torch is not installed (no python3 here can import torch): the Python baseline is skipped (Debian: apt-get install python3-torch, or set BENCH_PYTHON)"
fi

# ---- machine description ----------------------------------------------------------

{
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)
    fs=$(df -PT "$BENCH_DIR" | awk 'NR==2 {print $2 " (" $1 ", mounted on " $7 ")"}')
    echo "- host: $(hostname)"
    echo "- CPU: ${cpu:-unknown}, $(nproc) cores available"
    echo "- RAM: ${mem:-unknown}; vm.dirty_ratio $(cat /proc/sys/vm/dirty_ratio 2>/dev/null || echo ?) %, dirty_background_ratio $(cat /proc/sys/vm/dirty_background_ratio 2>/dev/null || echo ?) %"
    echo "- kernel: $(uname -sr)"
    echo "- BENCH_DIR: $BENCH_DIR on $fs, $(gib "$(free_bytes)") free at start"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
    echo "- tools: $(hyperfine --version | head -1), $(cp --version 2>/dev/null | head -1 || echo cp), $(${CC:-cc} --version 2>/dev/null | head -1 || true)"
    if [ -n "$TORCH_PY" ]; then
        echo "- Python baseline: $TORCH_PY $("$TORCH_PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)')"
    fi
    if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
        rev=$(git rev-parse --short HEAD 2>/dev/null || echo ?)
        dirty=$(git --no-optional-locks diff --quiet HEAD -- src include Makefile 2>/dev/null || echo ", with uncommitted changes in src/include/Makefile")
        if [ -n "${BENCH_BIN:-}" ]; then
            echo "- ckpt2safetensors: $BIN (BENCH_BIN; the tree is at commit $rev${dirty})"
        else
            echo "- ckpt2safetensors: commit $rev${dirty}"
        fi
    fi
} >"$WORK/machine.txt"
date '+%Y-%m-%d %H:%M %Z' >"$WORK/date.txt"
py_note=""
[ -n "$TORCH_PY" ] && py_note=" python: \`$(basename "$TORCH_PY") bench/torch_convert.py IN OUT\` = torch.load(map_location=\"cpu\") + our own safetensors writer (the safetensors package is not used; see bench/torch_convert.py)."
printf '%s\n' "hyperfine --warmup $WARMUP --runs $RUNS per command, page cache warm (each input is first dropped from the page cache and read back once, as a file read from disk is cached, then read with cat before every run; outputs are removed and \`sync\` run before every run, outside the timing). ours: \`ckpt2safetensors -q -f -o OUT IN\`; cp: \`cp IN COPY\`.$py_note" >"$WORK/params.txt"

# ---- checkpoints ---------------------------------------------------------------------

# The checkpoint of a key: SIZE (the model layout) or SIZE-LAYOUT (BENCH_CASES).
ckpt_for() { echo "$BENCH_DIR/ckpt-$1.pt"; }

# ensure_ckpt SIZE FACTOR WHY [LAYOUT]: generate (or reuse) the checkpoint when FACTOR x its
# size fits on the disk; returns 1 (after saying why) when it does not.
ensure_ckpt() {
    local size=$1 factor=$2 why=$3 layout=${4:-} bytes need have ckpt key
    key=$size${layout:+-$layout}
    bytes=$(bytes_of "$size")
    ckpt=$(ckpt_for "$key")
    need=$(awk -v b="$bytes" -v f="$factor" 'BEGIN {printf "%.0f", b * f}')
    [ -f "$ckpt" ] && need=$((need - $(stat -c %s "$ckpt")))
    have=$(free_bytes)
    if [ "$have" -lt "$need" ]; then
        note "skipped $size ($why): needs $(gib "$need") more free space in $BENCH_DIR (${factor}x the size, less what is cached), has $(gib "$have")"
        return 1
    fi
    if [ -f "$ckpt" ]; then
        say "$key: reusing cached $ckpt"
    else
        say "$key: generating $ckpt"
        local gen_py=${TORCH_PY:-$PY}
        "$gen_py" bench/make_checkpoint.py "$size" "$ckpt" ${layout:+--layout "$layout"} \
            2>"$WORK/gen-$key.txt" || {
            cat "$WORK/gen-$key.txt" >&2; die "could not generate $ckpt"; }
        cat "$WORK/gen-$key.txt" >&2
        grep -o 'with .*' "$WORK/gen-$key.txt" | head -1 >"$BENCH_DIR/ckpt-$key.how" || true
    fi
    local how; how=$(cat "$BENCH_DIR/ckpt-$key.how" 2>/dev/null || echo "")
    local desc; desc=$("$BIN" --list "$ckpt" 2>/dev/null | "$PY" -c '
import sys, collections
n = 0; dt = collections.Counter()
for line in sys.stdin:
    f = line.split()
    if len(f) >= 2 and f[1] in ("F32","F16","BF16","I64","F64","I32","U8","BOOL","I8","I16","C64"):
        n += 1; dt[f[1]] += 1
print(f"{n} tensors (" + ", ".join(f"{k} {v}" for k, v in dt.most_common()) + ")" if n else "")
' || true)
    echo "$(stat -c %s "$ckpt") bytes${desc:+, $desc}${how:+, written $how}" >"$WORK/ckpt-$key.txt"
    settle "$ckpt"
    return 0
}

# settle FILE: evict FILE's pages (clean after sync; GNU dd's iflag=nocache with count=0
# drops the whole file's cache) and read it back, so that every input starts from the same
# state, that of a file read from disk.  On the development VM the same cached 512 MiB
# checkpoint read (1 MiB reads) in 94 ms at one time and in 23 ms after it was dropped and
# read back, for cp and for us alike; we did not find out which state of the page cache made
# the difference (a file torch.save had just written read fast from its second read on).
settle() {
    sync
    dd if="$1" iflag=nocache count=0 status=none 2>/dev/null ||
        note "could not drop $1 from the page cache (dd iflag=nocache): measured as it is cached"
    cat "$1" >/dev/null
}

# ---- measurements ----------------------------------------------------------------------

run_hf() { # run_hf SIZE NAME OUTPUT COMMAND...
    local size=$1 name=$2 out=$3 in; shift 3
    in=$(ckpt_for "$size")
    local cmd; cmd=$(printf '%q ' "$@")
    say "$size: $name: hyperfine ($WARMUP warm-up + $RUNS runs)"
    hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" -n "$name" \
        --prepare "rm -f $(printf %q "$out"); sync; cat $(printf %q "$in") >/dev/null" \
        --export-json "$WORK/hf-$size-$name.json" "$cmd" >&2 ||
        note "$size: $name failed under hyperfine"
    rm -f "$out"
}

run_rss() { # run_rss SIZE NAME OUTPUT COMMAND... (leaves OUTPUT in place; its stderr in log-SIZE-NAME.txt)
    local size=$1 name=$2 out=$3 in; shift 3
    in=$(ckpt_for "$size")
    rm -f "$out"; sync; cat "$in" >/dev/null
    /usr/bin/time -f '%M %e %U %S' -o "$WORK/rss-$size-$name.txt" "$@" >&2 2>"$WORK/log-$size-$name.txt" ||
        note "$size: $name failed under /usr/bin/time: $(tail -1 "$WORK/log-$size-$name.txt")"
}

measured=()
for size in ${SIZES[@]+"${SIZES[@]}"}; do
    ensure_ckpt "$size" 3.2 "checkpoint, our output and the Python output side by side, + margin" || continue
    in=$(ckpt_for "$size")
    say "$size: warming the page cache (cat $in > /dev/null)"
    cat "$in" >/dev/null
    measured+=("$size")

    run_hf "$size" ours "$OUT_OURS" "$BIN" -q -f -o "$OUT_OURS" "$in"
    for m in $MODES; do
        case $m in
            verify) opt=--verify ;;
            *) opt=--direct-io=$m ;;
        esac
        run_hf "$size" "ours-$m" "$OUT_OURS" "$BIN" -q -f "$opt" -o "$OUT_OURS" "$in"
        run_rss "$size" "ours-$m" "$OUT_OURS" "$BIN" -q -f "$opt" -o "$OUT_OURS" "$in"
        rm -f "$OUT_OURS"
    done
    run_hf "$size" cp "$OUT_CP" cp "$in" "$OUT_CP"
    run_rss "$size" cp "$OUT_CP" cp "$in" "$OUT_CP"
    rm -f "$OUT_CP"
    run_rss "$size" ours "$OUT_OURS" "$BIN" -v -f -o "$OUT_OURS" "$in" # -v: says what went around the page cache
    if [ -n "$TORCH_PY" ]; then
        run_rss "$size" python "$OUT_PY" "$TORCH_PY" bench/torch_convert.py "$in" "$OUT_PY"
        if [ -f "$OUT_OURS" ] && [ -f "$OUT_PY" ]; then
            if cmp -s "$OUT_OURS" "$OUT_PY"; then
                echo "ours and the Python baseline wrote byte-identical files ($(stat -c %s "$OUT_OURS") bytes)" >"$WORK/cmp-$size.txt"
            else
                echo "ours and the Python baseline DIFFER (ours $(stat -c %s "$OUT_OURS") bytes, python $(stat -c %s "$OUT_PY") bytes)" >"$WORK/cmp-$size.txt"
                note "$size: the outputs of ours and of the Python baseline differ"
            fi
        fi
        rm -f "$OUT_OURS" "$OUT_PY"
        run_hf "$size" python "$OUT_PY" "$TORCH_PY" bench/torch_convert.py "$in" "$OUT_PY"
    fi
    rm -f "$OUT_OURS"
done
printf '%s\n' ${measured[@]+"${measured[@]}"} >"$WORK/sizes.txt"
printf '%s\n' $MODES >"$WORK/modes.txt"

# ---- cases (BENCH_CASES) ---------------------------------------------------------
# 64 square F32 matrices (make_checkpoint.py --layout): the plain conversion of the
# contiguous file is the reference; f16, bf16 and verify convert the same file with
# --dtype f16, --dtype bf16 or --verify; transposed converts the file whose tensors are
# transposed views of the same values.  Each is timed (hyperfine) and its RSS taken.

case_sizes=()
case_in() { # case_in CASE: the key of the checkpoint it converts
    if [ "$1" = transposed ]; then echo "$2-transposed"; else echo "$2-contiguous"; fi
}
run_case() { # run_case SIZE CASE
    local size=$1 c=$2 key in opts=()
    key=$(case_in "$c" "$size")
    case $c in
        f16|bf16) opts=(--dtype "$c") ;;
        verify) opts=(--verify) ;;
    esac
    in=$(ckpt_for "$key")
    cat "$in" >/dev/null
    run_hf "$key" "case-$c" "$OUT_OURS" "$BIN" -q -f ${opts[@]+"${opts[@]}"} -o "$OUT_OURS" "$in"
    run_rss "$key" "case-$c" "$OUT_OURS" "$BIN" -q -f ${opts[@]+"${opts[@]}"} -o "$OUT_OURS" "$in"
    rm -f "$OUT_OURS"
}
CASE_SIZES=(${BENCH_CASE_SIZES:-512M})
if [ -n "$CASES" ]; then
    for size in "${CASE_SIZES[@]}"; do
        ensure_ckpt "$size" 2.2 "BENCH_CASES" contiguous || continue
        ok=1
        for c in $CASES; do
            if [ "$c" = transposed ]; then
                ensure_ckpt "$size" 2.2 "BENCH_CASES transposed" transposed || ok=0
            fi
        done
        [ $ok = 1 ] || continue
        case_sizes+=("$size")
        run_case "$size" plain
        for c in $CASES; do run_case "$size" "$c"; done
    done
fi
printf '%s\n' ${case_sizes[@]+"${case_sizes[@]}"} >"$WORK/case-sizes.txt"
printf '%s\n' $CASES >"$WORK/cases.txt"

# ---- many tensors (BENCH_TENSORS) ------------------------------------------------
# Checkpoints of N tiny tensors, each its own storage (make_checkpoint.py
# --tensors N): --list, conversion and their peak RSS at every N; --scan and
# Python's pickletools.genops over the same data.pkl at the largest N.

NONE_OUT=$BENCH_DIR/no-output # run_hf removes its output before each run: never /dev/null
ensure_tensors_ckpt() { # ensure_tensors_ckpt N: generate (or reuse) ckpt-tensors-N.pt
    local n=$1 ckpt key=tensors-$1
    ckpt=$(ckpt_for "$key")
    if [ -f "$ckpt" ]; then
        say "$key: reusing cached $ckpt"
    else
        # about 300 bytes of file per tensor; with our output and a margin
        local need=$((n * 300 * 3)) have; have=$(free_bytes)
        if [ "$have" -lt "$need" ]; then
            note "skipped $n tensors: needs $(gib "$need") free in $BENCH_DIR, has $(gib "$have")"
            return 1
        fi
        say "$key: generating $ckpt"
        local gen_py=${TORCH_PY:-$PY}
        "$gen_py" bench/make_checkpoint.py "$ckpt" --tensors "$n" 2>"$WORK/gen-$key.txt" || {
            cat "$WORK/gen-$key.txt" >&2; die "could not generate $ckpt"; }
        cat "$WORK/gen-$key.txt" >&2
        grep -o 'with .*' "$WORK/gen-$key.txt" | head -1 >"$BENCH_DIR/ckpt-$key.how" || true
    fi
    local pkl; pkl=$("$PY" bench/report.py pickle-size "$ckpt") || die "cannot read data.pkl of $ckpt"
    echo "$(stat -c %s "$ckpt") $pkl $(cat "$BENCH_DIR/ckpt-$key.how" 2>/dev/null || echo "")" \
        >"$WORK/ckpt-$key.txt"
    settle "$ckpt"
}

tensor_counts=()
for n in $TENSORS; do
    ensure_tensors_ckpt "$n" || continue
    key=tensors-$n
    in=$(ckpt_for "$key")
    cat "$in" >/dev/null
    tensor_counts+=("$n")
    run_hf "$key" list "$NONE_OUT" "$BIN" --list "$in"
    run_rss "$key" list "$NONE_OUT" "$BIN" --list "$in"
    run_hf "$key" convert "$OUT_OURS" "$BIN" -q -f -o "$OUT_OURS" "$in"
    run_rss "$key" convert "$OUT_OURS" "$BIN" -q -f -o "$OUT_OURS" "$in"
    rm -f "$OUT_OURS" "$NONE_OUT"
done
printf '%s\n' ${tensor_counts[@]+"${tensor_counts[@]}"} >"$WORK/tensors.txt"
if [ ${#tensor_counts[@]} -gt 0 ]; then
    n=${tensor_counts[${#tensor_counts[@]}-1]}
    key=tensors-$n
    in=$(ckpt_for "$key")
    run_hf "$key" scan "$NONE_OUT" "$BIN" --scan "$in"
    say "$key: pickletools.genops over its data.pkl ($RUNS runs)"
    "$PY" bench/report.py genops "$in" "$RUNS" >"$WORK/genops-$key.json" ||
        note "pickletools.genops failed on $in"
    echo "$n" >"$WORK/scan-tensors.txt"
fi

# ---- CPU split ----------------------------------------------------------------------------

perf_works() {
    command -v perf >/dev/null 2>&1 &&
        perf record -q -e task-clock -g -o "$WORK/perf-probe.data" -- true >/dev/null 2>&1
}

split_perf() {
    local size=$1 in; in=$(ckpt_for "$size")
    say "CPU split: perf record on the $size conversion"
    rm -f "$OUT_OURS"; sync; cat "$in" >/dev/null
    perf record -q -e task-clock -F 4999 -g -o "$WORK/perf.data" -- \
        /usr/bin/time -f %e -o "$WORK/perf-wall.txt" \
        "$BIN" -q -f -o "$OUT_OURS" "$in" 2>"$WORK/perf-record.log" || {
        cat "$WORK/perf-record.log" >&2; return 1; }
    rm -f "$OUT_OURS"
    perf script -i "$WORK/perf.data" -F comm,pid,tid,period,ip,sym,dso >"$WORK/perf.txt" 2>/dev/null || return 1
    "$PY" bench/report.py split-perf "$WORK/perf.txt" "$(tail -1 "$WORK/perf-wall.txt")" >"$WORK/split.md" || return 1
    echo "Method: \`perf record -e task-clock -F 4999 -g\` of one conversion of the $size checkpoint (page cache warm, output removed first), every sample classified by its call chain: the syscall it is under (read/pread, write, copy_file_range read or write side), zlib's crc32 as the leaf, or the rest. task-clock samples weigh CPU time, kernel included; the run under perf is a little slower than unprofiled." >"$WORK/split-how.txt"
    rm -f "$WORK/perf.data" "$WORK/perf-probe.data"
}

split_callgrind() {
    command -v valgrind >/dev/null 2>&1 && command -v callgrind_annotate >/dev/null 2>&1 || {
        note "CPU split skipped: neither perf (Debian: linux-perf) nor valgrind (Debian: valgrind) is usable here"
        return 0; }
    ensure_ckpt 64M 2.2 "CPU split" || return 0
    local in; in=$(ckpt_for 64M)
    say "CPU split: valgrind --tool=callgrind on the 64M conversion"
    rm -f "$OUT_OURS"
    valgrind -q --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
        "$BIN" -q -f -o "$OUT_OURS" "$in" >&2 || return 1
    rm -f "$OUT_OURS"
    callgrind_annotate --inclusive=yes --threshold=100 "$WORK/callgrind.out" >"$WORK/callgrind.txt" 2>/dev/null || return 1
    "$PY" bench/report.py split-callgrind "$WORK/callgrind.txt" >"$WORK/split.md" || return 1
    echo "Method: \`valgrind --tool=callgrind\` of one conversion of a 64M checkpoint, \`callgrind_annotate --inclusive=yes\`, inclusive instruction counts of the reading, CRC and writing functions (used when perf is not usable here, or with BENCH_PROFILER=callgrind)." >"$WORK/split-how.txt"
}

[ -n "$PROFILE_SIZE" ] || PROFILER=none-no-size
case $PROFILER in
    none) note "CPU split skipped (BENCH_PROFILER=none)" ;;
    none-no-size) note "CPU split skipped (no size to profile)" ;;
    perf|auto)
        if perf_works; then
            if ensure_ckpt "$PROFILE_SIZE" 2.2 "CPU split"; then
                split_perf "$PROFILE_SIZE" || note "perf failed: CPU split not measured"
            fi
        elif [ "$PROFILER" = perf ]; then
            note "perf is not usable here (missing: Debian linux-perf; or not permitted: see /proc/sys/kernel/perf_event_paranoid): CPU split not measured"
        else
            say "perf is not usable here; falling back to callgrind"
            split_callgrind || note "callgrind failed: CPU split not measured"
        fi ;;
    callgrind) split_callgrind || note "callgrind failed: CPU split not measured" ;;
    *) die "BENCH_PROFILER must be auto, perf, callgrind or none" ;;
esac

# ---- report -----------------------------------------------------------------------------------

echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?) (other work on the machine shows here)" >>"$WORK/machine.txt"
host=$(hostname -s 2>/dev/null || hostname)
RESULTS=${BENCH_RESULTS:-$here/results/$(date +%Y-%m-%d)-$host.md}
mkdir -p "$(dirname "$RESULTS")"
"$PY" bench/report.py render "$WORK" >"$RESULTS"
echo
cat "$RESULTS"
say "report written to $RESULTS"

if [ "${BENCH_CLEAN:-0}" = 1 ]; then
    say "BENCH_CLEAN=1: removing the cached checkpoints in $BENCH_DIR"
    rm -f "$BENCH_DIR"/ckpt-*.pt "$BENCH_DIR"/ckpt-*.how
fi
