#!/usr/bin/env bash
# The exported symbols of libnplm are exactly the names listed in lib/nplm.map, each declared
# in a public header, all with the nplm_ prefix (never the internal nplm__); the soname is
# libnplm.so.<major>.
set -euo pipefail
lib=$1
src=$2
fail() { echo "not ok - $*"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
[ -n "$exported" ] || fail "no exported symbols found in $lib"
bad=$(echo "$exported" | grep -v '^nplm_' || true)
[ -z "$bad" ] || fail "symbols outside the nplm_ prefix are exported: $bad"
internal=$(echo "$exported" | grep '^nplm__' || true)
[ -z "$internal" ] || fail "internal symbols are exported: $internal"
listed=$(grep -oE '^\s+nplm_[a-z0-9_]+;' "$src/lib/nplm.map" | tr -d ' ;' | sort -u)
[ "$exported" = "$listed" ] || fail "exports differ from lib/nplm.map: $(diff <(echo "$exported") <(echo "$listed") | tr '\n' ' ')"
for s in $exported; do
  grep -qE "\b$s\(" "$src"/include/nplm/*.h || fail "$s is exported but declared in no public header"
done
declared=$(grep -ohE 'NPLM_API [^(]*\b(nplm_[a-z0-9_]+)\(' "$src"/include/nplm/*.h | grep -oE 'nplm_[a-z0-9_]+\($' | tr -d '(' | sort -u)
[ "$declared" = "$exported" ] || fail "declared and exported differ: $(diff <(echo "$declared") <(echo "$exported") | tr '\n' ' ')"
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libnplm.so.0" ] || fail "soname is '$soname', expected libnplm.so.0"
echo "ok - $(echo "$exported" | wc -l) exported symbols, all listed, declared and prefixed; soname $soname"
