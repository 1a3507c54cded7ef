#!/usr/bin/env bash
# tests/bench/idle_shards.sh — what idle shards cost: a 3-node cluster on
# 127.0.0.1 hosting BENCH_CAIRN_SHARDS shards [1000] (each on all three
# nodes, so every node holds every shard), measured over BENCH_SECONDS [30]
# with no client load: CPU time of each node (from /proc/<pid>/stat),
# transport bytes and messages per second.
#
# Owner: tests (benchmarks). Run by hand from the repository root:
#   tests/bench/idle_shards.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build_dir=${BENCH_BUILD_DIR:-build/release}
seconds=${BENCH_SECONDS:-30}
export BENCH_CAIRN_SHARDS=${BENCH_CAIRN_SHARDS:-1000}
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-idle-shards.XXXXXX")
log() { echo "idle_shards: $*" >&2; }
# shellcheck source=tests/bench/cairn_cluster.sh
. "$root/tests/bench/cairn_cluster.sh"
trap 'stop_cairn_cluster; rm -rf "$work_dir"' EXIT
[ -f "$build_dir/build.ninja" ] || cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
start=$(date +%s)
start_cairn_cluster
log "cluster up with $cairn_shards shards in $(($(date +%s) - start)) s; settling 5 s"
sleep 5
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { curl -s "http://127.0.0.1:$((24150 + $1))/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
declare -A cpu0 bytes0 msgs0
for i in 1 2 3; do
  cpu0[$i]=$(cpu "${cairn_pids[$((i - 1))]}")
  bytes0[$i]=$(metric "$i" cairn_transport_sent_bytes_total)
  msgs0[$i]=$(metric "$i" cairn_transport_messages_sent_total)
done
sleep "$seconds"
echo "| node | shards hosted | CPU % of one core | transport KiB/s sent | raft messages/s sent |"
echo "|---|---|---|---|---|"
for i in 1 2 3; do
  c=$(cpu "${cairn_pids[$((i - 1))]}")
  b=$(metric "$i" cairn_transport_sent_bytes_total)
  m=$(metric "$i" cairn_transport_messages_sent_total)
  hosted=$(metric "$i" cairn_shards_hosted)
  awk -v n="$i" -v h="$hosted" -v c0="${cpu0[$i]}" -v c1="$c" -v t="$ticks" -v s="$seconds" \
    -v b0="${bytes0[$i]}" -v b1="$b" -v m0="${msgs0[$i]}" -v m1="$m" \
    'BEGIN {printf "| %s | %s | %.1f | %.1f | %.0f |\n", n, h, 100 * (c1 - c0) / t / s, (b1 - b0) / 1024 / s, (m1 - m0) / s}'
done
