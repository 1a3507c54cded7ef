#!/usr/bin/env bash
# tests/bench/s3_memory.sh — issue 5's memory bound: `cairn dev` stays under
# 512 MiB resident while 16 clients stream 2 GiB objects (16 concurrent
# PUTs, then 16 concurrent verified GETs, through s3_load). Reports the
# process's peak resident set (VmHWM) and its resident set sampled every
# second. Needs about 52 GB free under BENCH_TMPDIR (RS 4+2 of 32 GiB).
#   usage: tests/bench/s3_memory.sh [path/to/cairn] [path/to/s3_load]
# Environment: BENCH_CLIENTS [16], BENCH_OBJECT_MIB [2048], BENCH_TMPDIR [/tmp].
set -euo pipefail
cairn=${1:-build/release/cairn}
load=${2:-build/h-bench/tests/s3_load}
clients=${BENCH_CLIENTS:-16}
mib=${BENCH_OBJECT_MIB:-2048}
work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/cairn-s3-memory.XXXXXX")
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [[ -n "${sampler:-}" ]] && kill "$sampler" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Devices: the bytes stored (1.5x for RS 4+2) over six devices, plus 10%.
device_mb=$(((clients * mib * 3 / 2 / 6) * 11 / 10 + 256))
"$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 --device-mb "$device_mb" \
  >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 600); do grep -q '^secret-key: ' "$work/out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(sed -n 's/^s3-endpoint: //p' "$work/out")
access=$(sed -n 's/^access-key: //p' "$work/out")
secret=$(sed -n 's/^secret-key: //p' "$work/out")
echo "s3_memory: cairn dev pid $pid, devices 6 x $device_mb MiB, $clients clients x $mib MiB"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
echo "s3_memory: resident before the load: $(($(rss) / 1024)) MiB"
(while kill -0 "$pid" 2>/dev/null; do echo "$(date +%s) $(rss)"; sleep 1; done) >"$work/rss.log" &
sampler=$!
"$load" --endpoint "$endpoint" --access-key "$access" --secret-key "$secret" --create-bucket \
  --bucket memory --op get --prefill --verify --keys "$clients" --connections "$clients" \
  --size $((mib << 20)) --count "$clients" --warmup 0 --duration 3600 --timeout-ms 600000 \
  --label memory | tee "$work/load.json"
peak=$(hwm)
kill "$sampler" 2>/dev/null || true
sampler=""
max_sampled=$(awk 'BEGIN {m = 0} {if ($2 > m) m = $2} END {print m}' "$work/rss.log")
echo "s3_memory: peak resident (VmHWM) $((peak / 1024)) MiB; highest sample $((max_sampled / 1024)) MiB; limit 512 MiB"
grep -q '"errors":0' "$work/load.json" || { echo "s3_memory: the load had errors" >&2; exit 1; }
((peak < 512 * 1024)) || { echo "s3_memory: over 512 MiB" >&2; exit 1; }
