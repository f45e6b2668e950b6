#!/usr/bin/env python3
"""Helpers of bench/run.sh: the CPU split and the results report.

    report.py split-perf PERF_SCRIPT_OUTPUT WALL_SECONDS   > split.md
    report.py split-callgrind CALLGRIND_ANNOTATE_OUTPUT      > split.md
    report.py render WORKDIR                                 > results.md
    report.py pickle-size CHECKPOINT                          data.pkl's size in bytes
    report.py genops CHECKPOINT RUNS                          > genops.json
      (pickletools.genops over the checkpoint's data.pkl, in memory, RUNS
      times: {"bytes": N, "times": [seconds, ...]})

Any Python 3.6+ will do; nothing here needs torch.
"""
import collections
import json
import os
import re
import statistics
import sys
import time
import zipfile

MIB = 1 << 20

# ---------------------------------------------------------------------------
# CPU split from `perf script -F comm,pid,tid,period,ip,sym,dso` (task-clock:
# the period of a sample is in nanoseconds)
# ---------------------------------------------------------------------------

READ_SYSCALLS = {"read", "pread64", "readv", "preadv", "preadv2"}
WRITE_SYSCALLS = {"write", "pwrite64", "writev", "pwritev", "pwritev2"}
COPY_SYSCALLS = {"copy_file_range", "sendfile64", "sendfile", "splice"}
SYSCALL_RE = re.compile(r"^(?:__x64_sys_|__arm64_sys_|__do_sys_|__se_sys_|ksys_)(\w+)$")

# rows of the detailed table: (key, label, summary bucket)
CATEGORIES = [
    ("read", "read/pread syscalls (kernel: page cache -> buffer)", "reading"),
    ("cfr_read", "copy_file_range, read side (kernel)", "reading"),
    ("zip_user", "archive access in user space (libzip, zipsrc)", "reading"),
    ("crc", "CRC-32 (zlib crc32 or our PCLMULQDQ crc_clmul)", "CRC checking"),
    ("cfr_write", "copy_file_range, write side (kernel: copy into output pages)", "writing"),
    ("write", "write syscalls (kernel: buffer -> page cache)", "writing"),
    ("memcpy", "memcpy/memmove in user space (buffer fills, view gathering)", "other"),
    ("fault", "page faults", "other"),
    ("other_kernel", "other kernel (open, mmap, exit, ...)", "other"),
    ("other_user", "other user code (pickle VM, tensor map, header, ...)", "other"),
]
SUMMARY = ["reading", "CRC checking", "writing", "other"]


def classify(frames):
    """frames: [(sym, dso)], leaf first."""
    syms = [s for s, _ in frames]
    kernel = [s for s, d in frames if "kernel" in d]
    if syms and ("crc32" in syms[0].lower() or syms[0].startswith("crc_clmul")) \
            and "kernel" not in frames[0][1]:
        return "crc"
    syscall = None
    for s in reversed(kernel):  # the outermost syscall entry wins: walk from the root
        m = SYSCALL_RE.match(s)
        if m:
            syscall = m.group(1)
            break
    if syscall in READ_SYSCALLS:
        return "read"
    if syscall in WRITE_SYSCALLS:
        return "write"
    if syscall in COPY_SYSCALLS:
        if any("splice_write" in s or "write_iter" in s or "perform_write" in s for s in kernel):
            return "cfr_write"
        return "cfr_read"
    if any("page_fault" in s for s in kernel):
        return "fault"
    if kernel:
        return "other_kernel"
    leaf = syms[0] if syms else ""
    if re.search(r"mem(cpy|move)", leaf):
        return "memcpy"
    if any(s.startswith(("zip_", "_zip_", "zipsrc_", "stream_fill", "stream_seek")) for s in syms):
        return "zip_user"
    return "other_user"


def parse_perf_script(text):
    """Yield (pid, tid, period_ns, frames) per sample."""
    head, frames = None, []
    for line in text.splitlines() + [""]:
        if not line.strip():
            if head:
                yield head + (frames,)
            head, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            if line.split()[0] == "time":  # /usr/bin/time, which measures the wall time
                head = None
                continue
            # "comm  pid/tid  period" (comm may contain spaces)
            m = re.search(r"(\d+)/(\d+)\s+(\d+)\s*$", line)
            if m:
                head = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
            else:
                m = re.search(r"(\d+)\s+(\d+)\s*$", line)
                head = (int(m.group(1)), int(m.group(1)), int(m.group(2))) if m else None
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m and head:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
            frames.append((sym, m.group(2)))


def split_perf(path, wall):
    with open(path, errors="replace") as f:
        samples = list(parse_perf_script(f.read()))
    if not samples:
        sys.exit("report.py: no perf samples in " + path)
    ns = collections.defaultdict(lambda: [0, 0])  # category -> [main, other threads]
    top = collections.Counter()
    for pid, tid, period, frames in samples:
        cat = classify(frames)
        ns[cat][0 if pid == tid else 1] += period
        if cat in ("other_user", "other_kernel", "memcpy") and frames:
            top[frames[0][0]] += period
    total = sum(a + b for a, b in ns.values())
    threads = len({tid for _, tid, _, _ in samples})
    out = []
    out.append("| bucket | CPU ms | share |")
    out.append("| --- | ---: | ---: |")
    summ = collections.Counter()
    for key, _, bucket in CATEGORIES:
        summ[bucket] += sum(ns[key])
    for b in SUMMARY:
        out.append(f"| {b} | {summ[b] / 1e6:.0f} | {100 * summ[b] / total:.1f} % |")
    out.append(f"| **total CPU** | **{total / 1e6:.0f}** | 100 % |")
    out.append("")
    out.append(f"Wall time of the profiled run: {wall:.2f} s (under perf); CPU {total / 1e9:.2f} s "
               f"on {threads} thread(s) ({len(samples)} samples).")
    out.append("")
    out.append("Detail (main thread / other threads, CPU ms):")
    out.append("")
    out.append("| what | bucket | main | other threads | share |")
    out.append("| --- | --- | ---: | ---: | ---: |")
    for key, label, bucket in CATEGORIES:
        a, b = ns[key]
        if a + b == 0:
            continue
        out.append(f"| {label} | {bucket} | {a / 1e6:.0f} | {b / 1e6:.0f} | "
                   f"{100 * (a + b) / total:.1f} % |")
    if top:
        out.append("")
        out.append("Largest leaf functions in memcpy/other: " + ", ".join(
            f"`{s}` {100 * v / total:.1f} %" for s, v in top.most_common(5)))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# CPU split from `callgrind_annotate --inclusive=yes` (fallback without perf)
# ---------------------------------------------------------------------------

def split_callgrind(path):
    rows = []  # (Ir, function, file)
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?\(?PROGRAM TOTALS", line)
            if m:
                total = int(m.group(1).replace(",", ""))
                continue
            m = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(?:\*\s+)?(\S*?):(.+?)(?:\s+\[.*\])?\s*$", line)
            if m and total is not None:
                fn = re.sub(r"@@.*$", "", m.group(3))
                if fn.startswith("(below") or fn.startswith("0x"):
                    continue
                rows.append((int(m.group(1).replace(",", "")), fn, m.group(2)))
    if not total:
        sys.exit("report.py: no PROGRAM TOTALS in " + path)

    def incl(pattern):
        best = [r for r in rows if re.search(pattern, r[1])]
        return max(best)[0] if best else 0, (max(best)[1] if best else "-")

    picks = [
        ("reading", r"^(zipsrc_stream_read|zip_fread|stream_fill|pread|__libc_pread|read)$"),
        ("CRC checking", r"^(crc32(_z)?|crc_clmul)$"),
        ("writing", r"^(outfile_write|copy_range|copy_file_range|write|__libc_write)$"),
    ]
    out = ["| bucket | function (inclusive) | instructions | share |",
           "| --- | --- | ---: | ---: |"]
    for label, pat in picks:
        ir, fn = incl(pat)
        out.append(f"| {label} | `{fn}` | {ir:,} | {100 * ir / total:.1f} % |")
    out.append(f"| **program total** | | **{total:,}** | 100 % |")
    out.append("")
    out.append("callgrind counts user-space instructions only: time spent in the kernel "
               "(read, write, copy_file_range, page faults) is not included. The inclusive "
               "costs overlap when one function calls another (reading includes CRC when "
               "the CRC is computed as the bytes are read).")
    out.append("")
    best = {}
    for ir, fn, _ in rows:
        best[fn] = max(ir, best.get(fn, 0))
    tops = sorted(best.items(), key=lambda kv: -kv[1])[:10]
    out.append("Top functions by inclusive cost: " + ", ".join(
        f"`{fn}` {100 * ir / total:.1f} %" for fn, ir in tops))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def hf(work, size, cmd):
    text = read(os.path.join(work, f"hf-{size}-{cmd}.json"))
    if not text:
        return None
    r = json.loads(text)["results"][0]
    return r


def rss(work, size, cmd):
    text = read(os.path.join(work, f"rss-{size}-{cmd}.txt"))
    if not text:
        return None
    last = text.splitlines()[-1].split()
    try:
        return {"kib": int(last[0]), "wall": float(last[1]), "user": float(last[2]),
                "sys": float(last[3])}
    except (IndexError, ValueError):
        return None


def fmt_t(r):
    if r is None:
        return "-"
    return f"{r['mean']:.2f} ± {r['stddev'] or 0:.2f}"


def fmt_med(r):
    """The median, then mean ± standard deviation (s)."""
    return f"{r['median']:.3f} ({r['mean']:.2f} ± {r['stddev'] or 0:.2f})"


def fmt_runs(r):
    return ", ".join(f"{t:.3f}" for t in r["times"])


def fmt_m(r):
    return "-" if r is None else f"{r['kib'] / 1024:.1f}"


def render_modes(work, sizes, modes):
    """BENCH_MODES: ours with each --direct-io WHEN (or --verify), beside the default."""
    o = ["", "### Other options (BENCH_MODES)", "",
         "The same conversion with `--direct-io=WHEN` (`verify`: with `--verify`); "
         "`auto` is the default measured above. Mean ± standard deviation, then min and max, "
         "then the peak RSS of one separate run.",
         "",
         "| size | " + " | ".join(["auto"] + modes) + " |",
         "| --- |" + " ---: |" * (len(modes) + 1)]
    for s in sizes:
        cells = []
        for name in ["ours"] + [f"ours-{m}" for m in modes]:
            r = hf(work, s, name)
            m = rss(work, s, name)
            cells.append("-" if r is None else
                         f"{fmt_t(r)} ({r['min']:.2f}..{r['max']:.2f}), {fmt_m(m)} MiB")
        o.append(f"| {s} | " + " | ".join(cells) + " |")
    return o


# BENCH_CASES: (case, its checkpoint's layout, the target: at most this many
# times the plain conversion of the contiguous checkpoint, what it means)
CASES = [
    ("f16", "contiguous", 1.2, "`--dtype f16`"),
    ("bf16", "contiguous", 1.2, "`--dtype bf16`"),
    ("verify", "contiguous", 1.6, "`--verify`"),
    ("transposed", "transposed", 1.3, "every tensor a transposed view"),
]


def render_cases(work):
    """BENCH_CASES: each case against the plain conversion of the contiguous file."""
    sizes = (read(os.path.join(work, "case-sizes.txt"), "") or "").split()
    asked = (read(os.path.join(work, "cases.txt"), "") or "").split()
    if not asked:
        return []
    cases = [c for c in CASES if c[0] in asked]
    o = ["", "### The cases of \"every path at disk speed\" (BENCH_CASES)", "",
         "64 square F32 matrices (`make_checkpoint.py --layout contiguous|transposed`, the "
         "same values both ways). plain: `ckpt2safetensors -q -f -o OUT` on the contiguous "
         "file, the reference of every ratio; f16, bf16, verify: the same file with "
         "`--dtype f16`, `--dtype bf16`, `--verify`; transposed: the file whose tensors are "
         "transposed views. The median of the runs (s), then their mean ± standard "
         "deviation, the ratio of the medians to plain's, the peak RSS of one separate run. "
         "The targets are judged on medians: these runs take about 0.1 s, and on a shared VM "
         "one run now and then stalls for 0.2 to 0.5 s (writeback, other tenants), which moves "
         "the mean of five by tens of percent; every run is listed below the table.",
         "",
         "| size | plain | " + " | ".join(c[0] for c in cases) + " |",
         "| --- | ---: |" + " ---: |" * len(cases)]
    verdicts = []
    runs = []
    for s in sizes:
        base = hf(work, f"{s}-contiguous", "case-plain")
        bm = rss(work, f"{s}-contiguous", "case-plain")
        cells = ["-" if base is None else f"{fmt_med(base)}, {fmt_m(bm)} MiB"]
        if base is not None:
            runs.append(f"- {s} plain: runs {fmt_runs(base)} s")
        for name, layout, target, what in cases:
            r = hf(work, f"{s}-{layout}", f"case-{name}")
            m = rss(work, f"{s}-{layout}", f"case-{name}")
            if r is None or base is None:
                cells.append("-")
                verdicts.append(f"- {s}: {what}: not measured")
                continue
            ratio = r["median"] / base["median"]
            runs.append(f"- {s} {name}: runs {fmt_runs(r)} s")
            cells.append(f"{fmt_med(r)} ({ratio:.2f}x), {fmt_m(m)} MiB")
            verdicts.append(f"- {s}: {what}: {ratio:.2f}x the plain conversion "
                            f"(target ≤ {target:.1f}): {'met' if ratio <= target else 'NOT met'}")
            if m is not None:
                mib = m["kib"] / 1024
                verdicts.append(f"- {s}: {what}: peak RSS {mib:.1f} MiB (target < 64 MiB): "
                                f"{'met' if mib < 64 else 'NOT met'}")
        o.append(f"| {s} | " + " | ".join(cells) + " |")
        for layout in ("contiguous", "transposed"):
            info = read(os.path.join(work, f"ckpt-{s}-{layout}.txt"))
            if info:
                verdicts.append(f"- {s} {layout} checkpoint: {info}")
    o.append("")
    o.extend(verdicts or ["- nothing measured"])
    o.extend(runs)
    return o


# ---------------------------------------------------------------------------
# Many tensors (BENCH_TENSORS)
# ---------------------------------------------------------------------------

def data_pkl(path):
    """The bytes of the checkpoint's data.pkl (the first entry <dir>/data.pkl)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[1] == "data.pkl":
                return z.read(info)
    sys.exit(f"report.py: no data.pkl in {path}")


def genops(path, runs):
    import pickletools
    data = data_pkl(path)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _op in pickletools.genops(data):
            pass
        times.append(time.perf_counter() - t0)
    return {"bytes": len(data), "times": times}


# The targets of issue 13 for the many-tensors checkpoint (200,000 tensors)
LIST_MAX_S, CONVERT_MAX_S, RSS_MAX_MIB, RSS_MAX_X_PICKLE = 1.0, 1.5, 256, 8
LINEAR_MAX, SCAN_MIN_X = 1.25, 10


def met(ok):
    return "met" if ok else "NOT met"


def render_tensors(work):
    counts = [int(n) for n in (read(os.path.join(work, "tensors.txt"), "") or "").split()]
    if not counts:
        return []
    o = ["", "### Many tensors (BENCH_TENSORS)", "",
         "Checkpoints of N tiny F32 tensors, each its own storage "
         "(`make_checkpoint.py OUT --tensors N`). --list: `ckpt2safetensors --list IN`; "
         "convert: `ckpt2safetensors -q -f -o OUT IN`; the median of the runs (s), then "
         "their mean ± standard deviation, µs per tensor (of the median), the peak RSS of "
         "one separate run, and that RSS over the size of data.pkl. The targets are judged "
         "on medians, as the cases' rows are (one stalled run of five moves a mean by tens "
         "of percent); the means are shown beside them, and every run is listed.",
         "",
         "| tensors | file (MiB) | data.pkl (MB) | --list (s) | µs/tensor | convert (s) "
         "| µs/tensor | RSS --list (MiB) | RSS convert (MiB) | RSS / data.pkl |",
         "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    verdicts, rows, runs = [], {}, []
    for n in counts:
        key = f"tensors-{n}"
        info = (read(os.path.join(work, f"ckpt-{key}.txt"), "") or "").split(maxsplit=2)
        fbytes, pbytes = (int(info[0]), int(info[1])) if len(info) >= 2 else (0, 0)
        tl, tc = hf(work, key, "list"), hf(work, key, "convert")
        ml, mc = rss(work, key, "list"), rss(work, key, "convert")
        rows[n] = (tl, tc)
        peak = max([m["kib"] / 1024 for m in (ml, mc) if m] or [0])
        x = peak * MIB / pbytes if pbytes and peak else None
        us = lambda r: "-" if r is None else f"{r['median'] / n * 1e6:.2f}"  # noqa: E731
        med = lambda r: "-" if r is None else fmt_med(r)  # noqa: E731
        o.append(f"| {n} | {fbytes / MIB:.1f} | {pbytes / 1e6:.1f} | {med(tl)} | {us(tl)} | "
                 f"{med(tc)} | {us(tc)} | {fmt_m(ml)} | {fmt_m(mc)} | "
                 f"{'-' if x is None else f'{x:.1f}x'} |")
        runs += [f"- {n} {what}: runs {fmt_runs(r)} s" for what, r in (("--list", tl),
                                                                       ("convert", tc)) if r]
        rows[n] += (peak, x)
        if len(info) == 3:
            verdicts.append(f"- {n} tensors: checkpoint written {info[2]}")
    top = counts[-1]
    tl, tc, _, xtop = rows[top]
    at = f"{top} tensors" + ("" if top == 200000 else " (the issue's targets are for 200000)")
    if tl:
        verdicts.append(f"- {at}: --list {tl['median']:.2f} s, median ({tl['mean']:.2f} s mean) "
                        f"(target ≤ {LIST_MAX_S} s): {met(tl['median'] <= LIST_MAX_S)}")
    if tc:
        verdicts.append(f"- {at}: convert {tc['median']:.2f} s, median ({tc['mean']:.2f} s mean) "
                        f"(target ≤ {CONVERT_MAX_S} s): {met(tc['median'] <= CONVERT_MAX_S)}")
    mtop = [m for m in (rss(work, f"tensors-{top}", "list"), rss(work, f"tensors-{top}", "convert"))
            if m]
    if mtop:
        peak = max(m["kib"] for m in mtop) / 1024
        verdicts.append(f"- {at}: peak RSS {peak:.1f} MiB (target ≤ {RSS_MAX_MIB} MiB): "
                        f"{met(peak <= RSS_MAX_MIB)}")
    if xtop is not None:  # at small N the fixed buffers (32 MiB of ring) dominate: top N only
        verdicts.append(f"- {at}: peak RSS = {xtop:.1f}x data.pkl (target ≤ {RSS_MAX_X_PICKLE}x): "
                        f"{met(xtop <= RSS_MAX_X_PICKLE)}")
    if len(counts) >= 2:
        lo = counts[0]
        for i, what in ((0, "--list"), (1, "convert")):
            a, b = rows[lo][i], rows[top][i]
            if a and b:
                r = (b["median"] / top) / (a["median"] / lo)
                on_means = (b["mean"] / top) / (a["mean"] / lo)
                verdicts.append(f"- linearity of {what}: the time per tensor at {top} is {r:.2f}x "
                                f"that at {lo}, medians ({on_means:.2f}x on the means) "
                                f"(target ≤ {LINEAR_MAX}, linear = 1): {met(r <= LINEAR_MAX)}")
    o.extend(scan_rows(work, verdicts))
    o.append("")
    o.extend(verdicts or ["- nothing measured"])
    o.extend(runs)
    return o


def scan_rows(work, verdicts):
    n = (read(os.path.join(work, "scan-tensors.txt"), "") or "").strip()
    if not n:
        return []
    key = f"tensors-{n}"
    scan = hf(work, key, "scan")
    g = read(os.path.join(work, f"genops-{key}.json"))
    g = json.loads(g) if g else None
    o = ["", f"--scan against Python's `pickletools.genops` over the same data.pkl ({n} tensors): "
         "ours is the whole `ckpt2safetensors --scan IN` command (start, zip layout, the "
         "pickle VM, the policy), genops only walks the opcodes of the bytes already in "
         "memory.  The ratio is judged on the medians of the runs, as the cases' rows are "
         "(a run takes about 0.15 s, and on a shared VM one run now and then stalls for "
         "tenths of a second); the means are shown beside them, and every run is listed.", "",
         "| | data.pkl (MB) | median (s) | mean ± sd (s) | MB/s (median) |",
         "| --- | ---: | ---: | ---: | ---: |"]
    if g is None or scan is None:
        verdicts.append(f"- --scan against genops: not measured")
        return o
    mb = g["bytes"] / 1e6
    gmed, gmean = statistics.median(g["times"]), statistics.mean(g["times"])
    gsd = statistics.stdev(g["times"]) if len(g["times"]) > 1 else 0.0
    ours, theirs = mb / scan["median"], mb / gmed
    o.append(f"| ckpt2safetensors --scan | {mb:.1f} | {scan['median']:.3f} | "
             f"{scan['mean']:.3f} ± {scan['stddev'] or 0:.3f} | {ours:.1f} |")
    o.append(f"| pickletools.genops | {mb:.1f} | {gmed:.3f} | {gmean:.3f} ± {gsd:.3f} | "
             f"{theirs:.1f} |")
    o.append("")
    o.append(f"Runs (s): --scan {fmt_runs(scan)}; genops "
             + ", ".join(f"{t:.3f}" for t in g["times"]))
    on_means = (mb / scan["mean"]) / (mb / gmean)
    verdicts.append(f"- --scan {ours:.1f} MB/s of pickle = {ours / theirs:.1f}x "
                    f"pickletools.genops ({theirs:.1f} MB/s), medians ({on_means:.1f}x on the "
                    f"means) (target ≥ {SCAN_MIN_X}x): {met(ours / theirs >= SCAN_MIN_X)}")
    return o


def render(work):
    sizes = (read(os.path.join(work, "sizes.txt"), "") or "").split()
    machine = read(os.path.join(work, "machine.txt"), "")
    notes = read(os.path.join(work, "notes.txt"), "")
    split = read(os.path.join(work, "split.md"), "")
    split_how = read(os.path.join(work, "split-how.txt"), "")
    params = read(os.path.join(work, "params.txt"), "")
    o = []
    o.append(f"# ckpt2safetensors benchmark, {read(os.path.join(work, 'date.txt'), '')}")
    o.append("")
    o.append("## Machine")
    o.append("")
    o.append(machine)
    o.append("")
    o.append("## Conversion time and memory")
    o.append("")
    o.append(params)
    o.append("")
    o.append("| size | ours (s) | cp (s) | python (s) | ours/cp | python/ours "
             "| RSS ours (MiB) | RSS cp (MiB) | RSS python (MiB) |")
    o.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    verdicts = []
    details = []
    for s in sizes:
        t = {c: hf(work, s, c) for c in ("ours", "cp", "python")}
        m = {c: rss(work, s, c) for c in ("ours", "cp", "python")}
        ratio = (f"{t['ours']['median'] / t['cp']['median']:.2f}"
                 if t["ours"] and t["cp"] else "-")
        speed = (f"{t['python']['median'] / t['ours']['median']:.1f}"
                 if t["ours"] and t["python"] else "-")
        med = lambda r: "-" if r is None else fmt_med(r)  # noqa: E731
        o.append(f"| {s} | {med(t['ours'])} | {med(t['cp'])} | {med(t['python'])} | "
                 f"{ratio} | {speed} | {fmt_m(m['ours'])} | {fmt_m(m['cp'])} | "
                 f"{fmt_m(m['python'])} |")
        if t["ours"] and t["cp"]:
            r = t["ours"]["median"] / t["cp"]["median"]
            verdicts.append(f"- {s}: ours/cp = {r:.2f} (target ≤ 1.10, issue 13's "
                            f"no-regression bound): {'met' if r <= 1.1 else 'NOT met'}")
        if m["ours"]:
            mib = m["ours"]["kib"] / 1024
            verdicts.append(f"- {s}: peak RSS {mib:.1f} MiB (target < 64 MiB): "
                            f"{'met' if mib < 64 else 'NOT met'}")
        if t["ours"] and t["python"]:
            r = t["python"]["median"] / t["ours"]["median"]
            verdicts.append(f"- {s}: python/ours = {r:.1f} (target ≥ 5): "
                            f"{'met' if r >= 5 else 'NOT met'}")
        for c in ("ours", "cp", "python"):
            if t[c]:
                ts = ", ".join(f"{x:.2f}" for x in t[c]["times"])
                u = t[c].get("user")
                sy = t[c].get("system")
                cpu = f"; user {u:.2f} s, sys {sy:.2f} s (means)" if u is not None else ""
                details.append(f"- {s} {c}: runs {ts} s (min {t[c]['min']:.2f}, "
                               f"median {t[c]['median']:.2f}){cpu}")
        info = read(os.path.join(work, f"ckpt-{s}.txt"))
        if info:
            details.append(f"- {s} checkpoint: {info}")
        cmp_ = read(os.path.join(work, f"cmp-{s}.txt"))
        if cmp_:
            details.append(f"- {s} outputs: {cmp_}")
        log = read(os.path.join(work, f"log-{s}-ours.txt"))
        if log is not None:
            m = re.search(r"([0-9.]+ [KMGT]?i?B) of it written around the page cache", log)
            how = (f"{m.group(1)} of the file written around the page cache (direct I/O)"
                   if m else "all of it written through the page cache")
            details.append(f"- {s} ours, --direct-io auto (from the -v run measured for RSS): "
                           f"{how}")
    o.append("")
    o.append("Times are the medians of the runs, then hyperfine's mean ± standard deviation; "
             "ours/cp and python/ours are ratios of the medians (a single run of five now "
             "and then stalls for seconds on this shared VM, for cp as for us: every run is "
             "listed below). RSS is the peak resident set (`/usr/bin/time -f %M`) of one "
             "separate run.")
    o.append("")
    o.append("### Against the targets")
    o.append("")
    o.extend(verdicts or ["- nothing measured"])
    o.append("")
    o.append("### Every run")
    o.append("")
    o.extend(details)
    modes = (read(os.path.join(work, "modes.txt"), "") or "").split()
    if modes:
        o.extend(render_modes(work, sizes, modes))
    o.extend(render_cases(work))
    o.extend(render_tensors(work))
    if notes:
        o.append("")
        o.append("### Notes")
        o.append("")
        o.extend(f"- {n}" for n in notes.splitlines())
    o.append("")
    o.append("## Where our CPU time goes")
    o.append("")
    o.append(split_how)
    o.append("")
    o.append(split or "(not measured)")
    o.append("")
    return "\n".join(o)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "split-perf" and len(sys.argv) == 4:
        print(split_perf(sys.argv[2], float(sys.argv[3])))
    elif len(sys.argv) == 3 and sys.argv[1] == "split-callgrind":
        print(split_callgrind(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "render":
        print(render(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "pickle-size":
        print(len(data_pkl(sys.argv[2])))
    elif len(sys.argv) == 4 and sys.argv[1] == "genops":
        print(json.dumps(genops(sys.argv[2], int(sys.argv[3]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
