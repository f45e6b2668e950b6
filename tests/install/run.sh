#!/bin/sh
# run.sh - `make test-install`: install into a temporary DESTDIR, then use
# what was installed the way another project would.
#
#   sh tests/install/run.sh MAKE VERSION     (from the top directory)
#
# 1. `make install` with DESTDIR and a PREFIX no compiler or loader searches
#    (/opt/c2s), next to files of someone else's; the exact list of files
#    is checked, then the shared library's soname, its symlinks and that it
#    exports only c2s_* names.
# 2. use_c2s.c is built with nothing but what pkg-config says from the
#    installed c2s.pc (PKG_CONFIG_SYSROOT_DIR maps its paths into DESTDIR):
#    against the shared library, against the static one (pkg-config
#    --static: libzip, cJSON, zlib come from Requires.private), and as C++
#    (c2s.h's extern "C").  Each converts fixtures/sample.ckpt; the output
#    must be byte-identical to fixtures/sample.expected.safetensors.
# 3. `make uninstall` must leave exactly the other files.
set -eu

MAKE=${1:?usage: run.sh MAKE VERSION}
VERSION=${2:?usage: run.sh MAKE VERSION}
SOVERSION=${VERSION%%.*}
CC=${CC:-cc}
CXX=${CXX:-c++}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/c2s-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
prefix=/opt/c2s
root=$dest$prefix

fail() {
    echo "test-install: $*" >&2
    exit 1
}

# Someone else's files in the same directories: uninstall leaves them.
mkdir -p "$root/include" "$root/lib/pkgconfig"
echo other >"$root/include/other.h"
echo other >"$root/lib/pkgconfig/other.pc"

# ---- 1. what install puts where ---------------------------------------------
$MAKE --no-print-directory -s install DESTDIR="$dest" PREFIX="$prefix" >/dev/null

(cd "$dest" && find . \( -type f -o -type l \) | sort) >"$tmp/files"
cat >"$tmp/want" <<LIST
./opt/c2s/bin/ckpt2safetensors
./opt/c2s/include/c2s.h
./opt/c2s/include/other.h
./opt/c2s/lib/libc2s.a
./opt/c2s/lib/libc2s.so
./opt/c2s/lib/libc2s.so.$SOVERSION
./opt/c2s/lib/libc2s.so.$VERSION
./opt/c2s/lib/pkgconfig/c2s.pc
./opt/c2s/lib/pkgconfig/other.pc
./opt/c2s/share/bash-completion/completions/ckpt2safetensors
./opt/c2s/share/man/man1/ckpt2safetensors.1
LIST
diff -u "$tmp/want" "$tmp/files" >&2 || fail "make install installed other files than these"

[ "$(readlink "$root/lib/libc2s.so")" = "libc2s.so.$SOVERSION" ] ||
    fail "libc2s.so does not point to libc2s.so.$SOVERSION"
[ "$(readlink "$root/lib/libc2s.so.$SOVERSION")" = "libc2s.so.$VERSION" ] ||
    fail "libc2s.so.$SOVERSION does not point to libc2s.so.$VERSION"
soname=$(readelf -d "$root/lib/libc2s.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libc2s.so.$SOVERSION" ] || fail "soname is '$soname', not libc2s.so.$SOVERSION"
others=$(nm -D --defined-only "$root/lib/libc2s.so.$VERSION" | awk '$NF !~ /^c2s_/ {print $NF}')
[ -z "$others" ] || fail "libc2s.so exports names outside the API: $others"
[ "$("$root/bin/ckpt2safetensors" --version)" = "ckpt2safetensors $VERSION" ] ||
    fail "the installed program does not run"

# ---- 2. a program built against the installation ----------------------------
export PKG_CONFIG_PATH="$root/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
[ "$(pkg-config --modversion c2s)" = "$VERSION" ] || fail "pkg-config c2s: wrong version"
cflags=$(pkg-config --cflags c2s)
libs=$(pkg-config --libs c2s)
# The static archive, by name, with what it needs (Libs.private, Requires.private).
static_libs=
for w in $(pkg-config --static --libs c2s); do
    [ "$w" = -lc2s ] && w=-l:libc2s.a
    static_libs="$static_libs $w"
done

# build NAME COMMAND...
build() {
    name=$1
    shift
    "$@" || fail "cannot build $name against the installed library"
}
src=tests/install/use_c2s.c
# shellcheck disable=SC2086
{
    build use_shared $CC -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/use_shared" "$src" $libs
    build use_static $CC -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/use_static" "$src" \
        $static_libs
    build use_cxx $CXX -std=c++11 -Wall -Wextra -Werror $cflags -x c++ -o "$tmp/use_cxx" "$src" \
        -x none $libs
}

needs() { readelf -d "$1" | grep -q "NEEDED.*\[libc2s\.so\.$SOVERSION\]"; }
needs "$tmp/use_shared" || fail "use_shared is not linked with libc2s.so.$SOVERSION"
needs "$tmp/use_cxx" || fail "use_cxx is not linked with libc2s.so.$SOVERSION"
! needs "$tmp/use_static" || fail "use_static is linked with libc2s.so"

for prog in use_shared use_static use_cxx; do
    out=$(LD_LIBRARY_PATH="$root/lib" "$tmp/$prog" fixtures/sample.ckpt "$tmp/$prog.safetensors") ||
        fail "$prog failed"
    [ "$out" = "c2s $VERSION: 11 tensors" ] || fail "$prog printed '$out'"
    cmp "$tmp/$prog.safetensors" fixtures/sample.expected.safetensors ||
        fail "$prog wrote another file than fixtures/sample.expected.safetensors"
done

# ---- 3. uninstall -----------------------------------------------------------
$MAKE --no-print-directory -s uninstall DESTDIR="$dest" PREFIX="$prefix" >/dev/null
(cd "$dest" && find . ! -type d | sort) >"$tmp/left"
printf '%s\n' ./opt/c2s/include/other.h ./opt/c2s/lib/pkgconfig/other.pc >"$tmp/want"
diff -u "$tmp/want" "$tmp/left" >&2 || fail "make uninstall left or removed other files"
[ ! -e "$root/include/c2s" ] || fail "make uninstall left include/c2s/"

echo "test-install: install, pkg-config (shared, static, C++) and uninstall work"
