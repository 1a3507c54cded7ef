#!/usr/bin/env bash
# tests/bench/ec_compare.sh — cairn's erasure coder as a ratio of raw ISA-L
# on the same buffers (issue 4 target: >= 0.95 for encode and decode).
#
# Owner: tests (benchmarks). Run by hand from the repository root:
#   tests/bench/ec_compare.sh
# Builds ec_bench in build/release (BENCH_BUILD_DIR) and runs its paired
# benchmarks on one pinned core (BENCH_CPU, default 1): raw ec_encode_data
# and cairn alternate call by call on the same 4 MiB chunk, so the ratio is
# robust to this shared machine's noise. Prints a markdown table. Any
# python3 will do (stdlib only).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BENCH_BUILD_DIR:-$root/build/release}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
ninja -C "$build_dir" ec_bench >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
taskset -c "${BENCH_CPU:-1}" "$build_dir/tests/ec_bench" --benchmark_filter=paired \
  --benchmark_min_time="${BENCH_MIN_TIME:-1}" --benchmark_format=json >"$out"
python3 - "$out" <<'PY'
import json, sys
rows = {}
for r in json.load(open(sys.argv[1]))["benchmarks"]:
    kind, arg = r["name"].split("/")
    rows.setdefault(arg, {"label": r.get("label", arg)})[kind] = r
print("| scheme | raw encode GB/s | cairn encode GB/s | ratio | raw decode GB/s | cairn decode GB/s | ratio |")
print("|---|---|---|---|---|---|---|")
for arg in sorted(rows, key=int):
    e, d = rows[arg].get("paired_encode"), rows[arg].get("paired_decode")
    print(f"| {rows[arg]['label']} | {e['raw_GBps']:.2f} | {e['cairn_GBps']:.2f} | {e['ratio']:.2f} "
          f"| {d['raw_GBps']:.2f} | {d['cairn_GBps']:.2f} | {d['ratio']:.2f} |")
PY
