#!/bin/sh
# tests/picklescan/run.sh - run `ckpt2safetensors --scan` over picklescan's own
# test corpus and check the verdicts.  Not part of `make test`: the corpus is
# not in this repository (nothing of it is copied here, for its license);
# give a local checkout of https://github.com/mmaitre314/picklescan:
#
#     git clone https://github.com/mmaitre314/picklescan /tmp/picklescan
#     tests/picklescan/run.sh /tmp/picklescan [path/to/ckpt2safetensors]
#
# Every file under tests/data and tests/data2 is scanned.  A file is taken as
# malicious when its name says so (malicious*, GHSA-*, *exploit*, *sploit*,
# *bypass*, *injection*, *exfiltration*, and the stdlib-gadget samples
# io_FileIO, logging_FileHandler, types_CodeType, urllib_request_urlopen),
# as picklescan's own tests treat them, and broken_model.pkl (it names
# builtins.exec with GLOBAL before its bytes break: Python's find_class has
# imported it by then, so our policy refuses it); every other file is benign.
# Expected: every malicious file is unsafe (exit 3), except archives in formats
# this tool does not read (7z), which are listed as skipped; no benign file is
# unsafe.  Prints one line per file and a summary; exits 1 when an
# expectation fails, 2 on bad usage.
set -u
corpus=${1:-}
bin=${2:-./ckpt2safetensors}
if [ -z "$corpus" ] || [ ! -d "$corpus/tests/data" ]; then
    echo "usage: $0 PICKLESCAN_CHECKOUT [CKPT2SAFETENSORS]" >&2
    exit 2
fi
malicious=0 caught=0 benign=0 clean=0 skipped=0 failed=0
for f in "$corpus"/tests/data/* "$corpus"/tests/data2/*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    case "$name" in
    *.7z)
        echo "skipped  $name (7z archives are not read)"
        skipped=$((skipped + 1))
        continue ;;
    esac
    verdict=$("$bin" --scan -q "$f" 2>&1 | head -n 1 | sed "s|^$f: ||")
    "$bin" --scan -q "$f" >/dev/null 2>&1
    code=$?
    case "$name" in
    malicious*|GHSA-*|*exploit*|*sploit*|*bypass*|*injection*|*exfiltration*|io_FileIO*|\
    logging_FileHandler*|types_CodeType*|urllib_request_urlopen*|broken_model.pkl)
        malicious=$((malicious + 1))
        if [ "$code" -eq 3 ]; then
            caught=$((caught + 1)); mark=ok
        else
            failed=$((failed + 1)); mark=FAIL
        fi
        echo "$mark malicious $name: exit $code: $verdict" ;;
    *)
        benign=$((benign + 1))
        if [ "$code" -ne 3 ]; then
            clean=$((clean + 1)); mark=ok
        else
            failed=$((failed + 1)); mark=FAIL
        fi
        echo "$mark benign    $name: exit $code: $verdict" ;;
    esac
done
echo "malicious: $caught of $malicious unsafe; benign: $clean of $benign not unsafe;" \
     "skipped: $skipped; failures: $failed"
[ "$failed" -eq 0 ]
