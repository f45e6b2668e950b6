#!/bin/sh
# deps.sh - install what building and testing ckpt2safetensors needs.
#
# On Debian/Ubuntu the missing packages are installed with apt-get (through
# sudo when not root).  Elsewhere nothing is installed: the script checks
# that the libraries can be found and names what is missing.
set -eu

PKGS="build-essential pkg-config libzip-dev zlib1g-dev libcjson-dev libsnappy-dev libcriterion-dev"

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $PKGS; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && exit 0
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "deps.sh: need root or sudo to install:$missing" >&2
            exit 1
        }
        SUDO=sudo
    fi
    echo "deps.sh: installing:$missing" >&2
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit 0
fi

# Not a Debian-like system: check, and say what is missing.
status=0
for tool in cc make pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || { echo "deps.sh: missing program: $tool" >&2; status=1; }
done
if command -v pkg-config >/dev/null 2>&1; then
    for lib in libzip zlib libcjson criterion; do
        pkg-config --exists "$lib" || { echo "deps.sh: missing library: $lib (development files)" >&2; status=1; }
    done
    # Snappy ships no pkg-config file: look for its C header instead.
    printf '#include <snappy-c.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1 ||
        { echo "deps.sh: missing library: snappy (development files)" >&2; status=1; }
fi
if [ "$status" -ne 0 ]; then
    echo "deps.sh: install a C11 compiler, make, pkg-config, libzip, zlib, cJSON, Snappy and Criterion (for the tests) with your package manager" >&2
fi
exit "$status"
