#!/bin/sh
# valgrind.sh - run the program on every fixture under valgrind (`make valgrind`).
#
#   sh tests/fuzz/valgrind.sh ./ckpt2safetensors
#
# The normal build (no sanitizer), so valgrind sees the real allocator.
# For each fixtures/good input (and fixtures/sample.ckpt): convert it, with
# the options in its .args file, into a temporary directory and compare the
# result with its .expected.safetensors (byte for byte, or, when the options
# put their record in __metadata__, byte for byte from the data on and
# line for line in --list but for that record); then --list it.  For each
# fixtures/bad input: the conversion must fail with a documented failure
# status: 1 (cannot be converted) or 3 (refused by the safety policy).  Any
# valgrind error (invalid access, uninitialised value, definite or indirect
# leak) makes valgrind exit with 99 and fails that run; its log is shown.
# The last line is "valgrind: N passed, M failed".
set -u

bin=${1:-./ckpt2safetensors}
command -v valgrind >/dev/null 2>&1 || {
    echo "valgrind.sh: valgrind not found (Debian: sh scripts/deps-ci.sh installs it)" >&2
    exit 1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/c2s-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0 failed=0

# run WANT DESCRIPTION ARGS...: one program run under valgrind; WANT is the
# expected exit status, or several separated by '|'.
run() {
    want=$1 what=$2
    shift 2
    valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --log-file="$tmp/vg.log" \
        "$bin" "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"
    got=$?
    case "|$want|" in *"|$got|"*)
        passed=$((passed + 1))
        return 0 ;;
    esac
    failed=$((failed + 1))
    if [ "$got" -eq 99 ]; then
        echo "valgrind: FAIL $what: valgrind reports errors:" >&2
        cat "$tmp/vg.log" >&2
    else
        echo "valgrind: FAIL $what: exit status $got, expected $want" >&2
        cat "$tmp/err.txt" >&2
    fi
    return 1
}

# The tensor data of a safetensors file: what follows its 8-byte length and
# its header.
data_of() {
    hlen=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
    tail -c +$((8 + hlen + 1)) "$1"
}

# Whether OUT is EXPECTED but for the options record (tests/test_util.h's
# tu_strip_options_record does the same for the C tests).
same_but_record() {
    data_of "$1" >"$tmp/a.data" && data_of "$2" >"$tmp/b.data" &&
        cmp -s "$tmp/a.data" "$tmp/b.data" &&
        "$bin" --list "$1" | grep -v '^metadata: ckpt2safetensors.options=' >"$tmp/a.list" &&
        "$bin" --list "$2" >"$tmp/b.list" && cmp -s "$tmp/a.list" "$tmp/b.list"
}

# The options in a fixture's .args file (one per line), as "$@" of a command.
with_args() {
    argsfile=${fixture%.*}.args
    if [ -f "$argsfile" ]; then
        # shellcheck disable=SC2046
        set -- "$@" $(cat "$argsfile")
    fi
    "$@"
}

for fixture in fixtures/sample.ckpt fixtures/good/*; do
    case $fixture in *.expected.safetensors | *.args) continue ;; esac
    expected=${fixture%.*}.expected.safetensors
    out=$tmp/out.safetensors
    rm -f "$out"
    if with_args run 0 "convert $fixture" -q -f -o "$out" "$fixture"; then
        if ! cmp -s "$out" "$expected" && ! same_but_record "$out" "$expected"; then
            passed=$((passed - 1)) failed=$((failed + 1))
            echo "valgrind: FAIL convert $fixture: output differs from $expected" >&2
        fi
    fi
    with_args run 0 "--list $fixture" --list "$fixture"
done

for fixture in fixtures/bad/*; do
    run '1|3' "convert $fixture" -q -f -o "$tmp/bad.safetensors" "$fixture"
done

echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
