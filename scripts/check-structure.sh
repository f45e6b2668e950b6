#!/bin/sh
# check-structure.sh - the layout rules `make test` holds the code to.
#
#   1. No include cycle between source files: every quoted #include of
#      src/ and include/ becomes an edge, and tsort(1) must find an order.
#   2. The library names no command-line option in a message: no string
#      literal under src/ (outside src/tool/) contains "--x" or "-f ".
#   3. The CLI uses only the public API: src/tool/ includes no header of
#      the library's folders (the Makefile compiles it with -Iinclude only;
#      this says so plainly when someone tries).
set -eu
cd "$(dirname "$0")/.."
status=0

# 1. include graph: "includer included" pairs, paths relative to the repo.
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in $(find src include -name '*.[ch]' | sort); do
    dir=$(dirname "$f")
    grep -o '^#include "[^"]*"' "$f" | sed 's/^#include "\(.*\)"$/\1/' | while read -r h; do
        if [ -f "$dir/$h" ]; then
            t="$dir/$h"
        elif [ -f "src/$h" ]; then
            t="src/$h"
        elif [ -f "include/$h" ]; then
            t="include/$h"
        else
            continue
        fi
        echo "$f $t"
    done
done >"$edges"
if ! tsort "$edges" >/dev/null 2>&1; then
    echo "check-structure: include cycle:" >&2
    tsort "$edges" 2>&1 >/dev/null | sed 's/^/  /' >&2
    status=1
fi

# 2. option names in library messages (string literals only, comments aside).
lib_dirs=$(find src -mindepth 1 -maxdepth 1 -type d ! -name tool | sort)
if grep -rnE '"[^"]*(--[a-z]|[ (]-[a-zA-Z] )[^"]*"' $lib_dirs --include='*.c' --include='*.h' |
    grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*)'; then
    echo "check-structure: the library's messages name command-line options (above)" >&2
    status=1
fi

# 3. the CLI sees the public header only.
if grep -nE '^#include "(util|zip|pickle|torch|tf|st|reader|engine)/' src/tool/*.[ch]; then
    echo "check-structure: src/tool/ includes private headers (above)" >&2
    status=1
fi

[ $status -eq 0 ] && echo "check-structure: no include cycle, no option names in the library, the CLI on c2s.h alone"
exit $status
