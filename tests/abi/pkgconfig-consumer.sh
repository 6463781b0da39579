#!/usr/bin/env bash
# Install libnplm into a scratch prefix and build C and C++ consumers (examples/hello.c,
# examples/cxx_demo.cpp, examples/root_macro.C compiled as C++) with nothing but
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
c++ -std=c++11 -Wall -Wextra -pedantic-errors -Werror "$src/examples/cxx_demo.cpp" -o "$tmp/cxx_demo" $flags
c++ -std=c++17 -Wall -Wextra -Werror "$src/tests/abi/root_macro_main.cpp" -o "$tmp/root_macro" $flags
LD_LIBRARY_PATH="$libdir" "$tmp/hello_c"
LD_LIBRARY_PATH="$libdir" "$tmp/hello_cxx"
LD_LIBRARY_PATH="$libdir" "$tmp/cxx_demo"
LD_LIBRARY_PATH="$libdir" "$tmp/root_macro"
# the installed library is the versioned one
[ "$(readelf -d "$libdir/libnplm.so" | sed -n 's/.*soname: \[\(.*\)\].*/\1/p')" = libnplm.so.0 ]
echo "ok - pkg-config consumers (C11, C++11, the RAII example, the ROOT macro as C++) built and ran against the installed library"
