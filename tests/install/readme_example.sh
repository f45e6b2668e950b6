#!/bin/sh
# readme_example.sh - build and run the example program of README.md.
#
# The C block between <!-- example:begin --> and <!-- example:end --> is
# compiled against include/c2s.h and build/libc2s.a, run on
# fixtures/sample.ckpt, and must print the sample's tensors and write a file
# byte-identical to fixtures/sample.expected.safetensors.
set -eu
cd "$(dirname "$0")/../.."
B=${1:-build}
LIBS=${2:-"-lcjson -lz -lsnappy -pthread"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' README.md |
    sed '1,2d;$d' | sed '$d' >"$out/example.c"
grep -q 'c2s_open' "$out/example.c" || { echo "readme_example: no example in README.md" >&2; exit 1; }
${CC:-cc} -std=c11 -Wall -Wextra -Werror -Iinclude -o "$out/example" "$out/example.c" \
    "$B/libc2s.a" $LIBS
"$out/example" fixtures/sample.ckpt "$out/sample.safetensors" >"$out/stdout"
cmp -s "$out/sample.safetensors" fixtures/sample.expected.safetensors || {
    echo "readme_example: the output differs from fixtures/sample.expected.safetensors" >&2
    exit 1
}
grep -q '^wrote [0-9]* tensors' "$out/stdout" || {
    echo "readme_example: unexpected output:" >&2
    cat "$out/stdout" >&2
    exit 1
}
echo "readme_example: the README's example program builds, lists $(grep -c ' \[' "$out/stdout") tensors and writes the expected file"
