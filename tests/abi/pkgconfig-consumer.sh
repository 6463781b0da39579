#!/usr/bin/env bash
# Install libnplm into a scratch prefix and build a C and a C++ consumer with nothing but
# `pkg-config --cflags --libs nplm`, then run them against the installed library.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >/dev/null
pc=$(find "$tmp/root" -name nplm.pc | head -n 1)
[ -n "$pc" ] || { echo "not ok - nplm.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs nplm)
libdir=$(dirname "$(find "$tmp/root" -name libnplm.so.0 | head -n 1)")
cc -std=c11 -Wall -Wextra -pedantic-errors -Werror "$src/examples/hello.c" -o "$tmp/hello_c" $flags -lm
c++ -std=c++11 -Wall -Wextra -pedantic-errors -Werror -x c++ "$src/tests/abi/header_cxx.cpp" -o "$tmp/hello_cxx" $flags
LD_LIBRARY_PATH="$libdir" "$tmp/hello_c"
LD_LIBRARY_PATH="$libdir" "$tmp/hello_cxx"
# the installed library is the versioned one
[ "$(readelf -d "$libdir/libnplm.so" | sed -n 's/.*soname: \[\(.*\)\].*/\1/p')" = libnplm.so.0 ]
echo "ok - pkg-config consumers (C11, C++11) built and ran against the installed library"
