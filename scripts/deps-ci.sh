#!/bin/sh
# deps-ci.sh - what CI needs beyond scripts/deps.sh: clang with libFuzzer
# (`make fuzz`) and valgrind (`make valgrind`).  Not needed to build or to
# run `make test`.
#
# On Debian/Ubuntu the missing packages are installed with apt-get (through
# sudo when not root): clang, the compiler-rt package that holds libFuzzer
# for the installed clang's version (libclang-rt-N-dev on Debian 12), and
# valgrind.  Elsewhere nothing is installed: the script names what is
# missing.  It ends by linking a trivial fuzzer, so "installed" means "works".
set -eu

sh "$(dirname "$0")/deps.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/c2s-deps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 0 when clang can link a libFuzzer harness.
fuzzer_links() {
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$tmp/t.c"
    command -v clang >/dev/null 2>&1 &&
        clang -fsanitize=fuzzer,address,undefined -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1
}

ready() { fuzzer_links && command -v valgrind >/dev/null 2>&1; }

ready && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    command -v valgrind >/dev/null 2>&1 || echo "deps-ci.sh: missing program: valgrind" >&2
    fuzzer_links || echo "deps-ci.sh: clang cannot link -fsanitize=fuzzer (install clang and its compiler-rt / libFuzzer)" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "deps-ci.sh: need root or sudo to install clang, libFuzzer and valgrind" >&2
        exit 1
    }
    SUDO=sudo
fi
install() {
    echo "deps-ci.sh: installing: $*" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

$SUDO apt-get update -qq
install clang valgrind
if ! fuzzer_links; then
    # libFuzzer lives in the compiler-rt package of clang's own version.
    v=$(clang -dumpversion | cut -d. -f1)
    if apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then
        install "libclang-rt-$v-dev"
    else
        install "libclang-common-$v-dev"
    fi
fi
if ! ready; then
    echo "deps-ci.sh: clang still cannot link a libFuzzer harness, or valgrind is missing" >&2
    exit 1
fi
