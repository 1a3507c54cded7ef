#!/usr/bin/env bash
# tests/bench/s3_scale.sh — issue 5's scale figures: PUT, GET and HEAD
# latency (p50/p99) and ListObjectsV2 keys/s in one bucket holding N
# objects, for each N of BENCH_SCALE (default "1000 100000 1000000"),
# each in a fresh `cairn dev` filled by s3_load --prefill with small
# (inline) objects. Target: p99 at 1M within 2x of 1k; listing >= 50,000
# keys/s. Prints a markdown table; the JSON lines stay in BENCH_OUT.
#   usage: tests/bench/s3_scale.sh [path/to/cairn] [path/to/s3_load]
# Environment: BENCH_SCALE, BENCH_SECONDS [8], BENCH_CONNECTIONS [8],
#   BENCH_OBJECT_BYTES [256], BENCH_TMPDIR [/tmp], BENCH_OUT.
set -euo pipefail
cairn=${1:-build/release/cairn}
load=${2:-build/h-bench/tests/s3_load}
scales=${BENCH_SCALE:-1000 100000 1000000}
seconds=${BENCH_SECONDS:-8}
conns=${BENCH_CONNECTIONS:-8}
bytes=${BENCH_OBJECT_BYTES:-256}
out=${BENCH_OUT:-$(mktemp -d "${BENCH_TMPDIR:-/tmp}/cairn-s3-scale-out.XXXXXX")}
mkdir -p "$out"
work="" pid=""
stop() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
  [[ -n "$work" ]] && rm -rf "$work"
  work=""
}
trap stop EXIT
field() { sed -n "s/^$1 *: *\"\{0,1\}\([^,\"]*\).*/\1/p"; }
for n in $scales; do
  work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/cairn-s3-scale.XXXXXX")
  "$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 --device-mb 256 >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q '^secret-key: ' "$work/out" 2>/dev/null && break; sleep 0.1; done
  args=(--endpoint "$(sed -n 's/^s3-endpoint: //p' "$work/out")"
        --access-key "$(sed -n 's/^access-key: //p' "$work/out")"
        --secret-key "$(sed -n 's/^secret-key: //p' "$work/out")"
        --bucket scale --prefix "o/" --keys "$n" --size "$bytes")
  echo "s3_scale: $n objects: prefill" >&2
  "$load" "${args[@]}" --connections "$conns" --create-bucket --op head --prefill --warmup 1 --duration "$seconds" \
    --label "head-$n" >"$out/head-$n.json"
  "$load" "${args[@]}" --connections "$conns" --op get --warmup 1 --duration "$seconds" --label "get-$n" >"$out/get-$n.json"
  "$load" "${args[@]}" --connections "$conns" --op put --warmup 1 --duration "$seconds" --label "put-$n" >"$out/put-$n.json"
  "$load" "${args[@]}" --op list --max-keys 1000 --connections 1 --warmup 0 --duration "$seconds" \
    --label "list-$n" >"$out/list-$n.json"
  # Anonymous memory is the process's own; file pages are LMDB's map and
  # count in VmRSS while they stay cached.
  echo "s3_scale: $n objects: resident $(awk '/^VmRSS/ {r=int($2/1024)} /^RssAnon/ {a=int($2/1024)}
    /^RssFile/ {f=int($2/1024)} END {printf "%d MiB (anonymous %d MiB, file %d MiB)", r, a, f}' \
    /proc/$pid/status)" >&2
  stop
done
/usr/bin/python3 - "$out" $scales <<'PY'
import json, sys
out, scales = sys.argv[1], sys.argv[2:]
def j(op, n):
    return json.loads(open(f"{out}/{op}-{n}.json").read().strip().splitlines()[-1])
print("| objects | PUT ops/s | PUT p50 / p99 ms | GET ops/s | GET p50 / p99 ms | HEAD ops/s | HEAD p50 / p99 ms | LIST keys/s | prefill s |")
print("|---|---|---|---|---|---|---|---|---|")
for n in scales:
    p, g, h, l = (j(op, n) for op in ("put", "get", "head", "list"))
    print(f"| {int(n):,} | {p['ops_per_s']:.0f} | {p['p50_ms']:.2f} / {p['p99_ms']:.2f} | {g['ops_per_s']:.0f} | "
          f"{g['p50_ms']:.2f} / {g['p99_ms']:.2f} | {h['ops_per_s']:.0f} | {h['p50_ms']:.2f} / {h['p99_ms']:.2f} | "
          f"{l.get('keys_per_s', 0):.0f} | {h.get('prefill_s', 0):.0f} |")
first, last = scales[0], scales[-1]
for op in ("put", "get", "head"):
    a, b = j(op, first)["p99_ms"], j(op, last)["p99_ms"]
    print(f"{op.upper()} p99 at {int(last):,} / at {int(first):,}: {b / a:.2f} (target <= 2)")
PY
echo "JSON lines: $out"
