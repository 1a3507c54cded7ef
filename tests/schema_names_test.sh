#!/usr/bin/env bash
# tests/schema_names_test.sh — no two Cap'n Proto schemas under schema/
# declare a struct, enum or interface of one name in one C++ namespace.
# Generated code defines inline functions and layout constants per name:
# two layouts under one name are an ODR violation the linker resolves
# silently (it once made a binary write namespace snapshots with the client
# protocol's DirEntry layout, which no node could restore).
#   schema_names_test.sh SCHEMA_DIR
set -euo pipefail
dir=${1:?usage: schema_names_test.sh SCHEMA_DIR}
dupes=$(for f in "$dir"/*.capnp; do
  ns=$(sed -n 's/^\$Cxx\.namespace("\(.*\)");.*/\1/p' "$f")
  sed -n 's/^\(struct\|enum\|interface\) \([A-Za-z0-9_]*\).*/\2/p' "$f" | sed "s|^|$ns::|"
done | sort | uniq -d)
if [[ -n "$dupes" ]]; then
  echo "FAIL: declared in more than one schema: $dupes" >&2
  grep -n -E "^(struct|enum|interface) ($(echo "$dupes" | sed 's/.*:://' | paste -sd'|'))\b" "$dir"/*.capnp >&2
  exit 1
fi
echo "ok   $(ls "$dir"/*.capnp | wc -l) schemas, top-level names unique per C++ namespace"
