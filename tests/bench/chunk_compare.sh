#!/usr/bin/env bash
# tests/bench/chunk_compare.sh — the write pipeline and the chunk device as
# ratios to references measured in the same run (issue 4):
#  - pipeline_bench: HMAC-SHA256 + EC + AES-256-GCM per 4 MiB chunk on one
#    core against the bound from each stage measured alone (paired: stages
#    and pipeline alternate on the same buffers); memory per stripe;
#  - device_bench: device_store append and read against raw O_DIRECT
#    sequential writes and reads of a file on the same filesystem (paired:
#    batch by batch, read by read; target >= 0.9).
#
# Owner: tests (benchmarks). Run by hand from the repository root:
#   tests/bench/chunk_compare.sh
# Builds both in a Release build dir (BENCH_BUILD_DIR, default
# build/h-bench; ninja -j BENCH_JOBS, default 1, under nice) and runs each
# pinned to one core (BENCH_CPU, default 1). Prints markdown tables.
# Environment: BENCH_ONLY=pipeline|device runs one of them; BENCH_MIN_TIME
# (seconds per pipeline benchmark, default 2); device_bench reads
# BENCH_TMPDIR, BENCH_DEVICE_MIB, BENCH_SHARD_KIB, BENCH_BATCH, BENCH_ROUNDS
# (see tests/bench/device_bench.cpp). Any python3 will do (stdlib only).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BENCH_BUILD_DIR:-$root/build/h-bench}
cpu=${BENCH_CPU:-1}
only=${BENCH_ONLY:-all}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
nice -n 10 ninja -C "$build_dir" -j "${BENCH_JOBS:-1}" pipeline_bench device_bench >&2
pipeline_out=$(mktemp)
device_out=$(mktemp)
trap 'rm -f "$pipeline_out" "$device_out"' EXIT
echo "[]" >"$pipeline_out"
echo "{}" >"$device_out"
if [ "$only" != device ]; then
  echo "pipeline_bench on cpu $cpu ..." >&2
  taskset -c "$cpu" "$build_dir/tests/pipeline_bench" --benchmark_filter=paired \
    --benchmark_min_time="${BENCH_MIN_TIME:-2}" --benchmark_format=json >"$pipeline_out"
fi
if [ "$only" != pipeline ]; then
  echo "device_bench on cpu $cpu ..." >&2
  taskset -c "$cpu" "$build_dir/tests/device_bench" >"$device_out"
fi
python3 - "$pipeline_out" "$device_out" "$cpu" <<'PY'
import json, os, sys

pipeline = json.load(open(sys.argv[1]))
device = json.load(open(sys.argv[2]))
cpu = sys.argv[3]
load = os.getloadavg()[0]
print(f"Machine: {os.cpu_count()} cores, load average {load:.2f} at the end; pinned to cpu {cpu}.")
print()

if pipeline:
    ctx = pipeline["context"]
    print(f"### Write pipeline per 4 MiB chunk, one core ({ctx['date']})")
    print()
    print("GB/s of chunk plaintext per CPU second; bound = 1 / (1/HMAC + 1/EC + 1/seal); "
          "time shares are of the bound's time; stripe = buffers of one stripe in flight. "
          "seal-then-parity is the data path (ADR 0004); parity-then-seal seals all k + m.")
    print()
    print("| scheme, order | HMAC GB/s | EC GB/s | seal GB/s | bound GB/s | pipeline GB/s "
          "| pipeline/bound | time HMAC / EC / seal | stripe MiB "
          "| allocations per chunk (HMAC / EC / seal) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    codec = []
    for r in pipeline["benchmarks"]:
        if r.get("error_occurred"):
            print(f"| {r['name']} | ERROR: {r.get('error_message', '?')} |")
            continue
        if r["name"].startswith("paired_stripe_codec/"):
            codec.append(r)
            continue
        if not r["name"].startswith("paired_pipeline/"):
            continue
        h, e, s = r["hmac_GBps"], r["ec_GBps"], r["seal_GBps"]
        total = 1 / h + 1 / e + 1 / s
        share = " / ".join(f"{100 / x / total:.0f}%" for x in (h, e, s))
        allocs = (f"{r['allocs_per_chunk']:.0f} ({r['hmac_allocs']:.0f} / {r['ec_allocs']:.0f} / "
                  f"{r['seal_allocs']:.0f})")
        if not r.get("openssl_allocs_counted"):
            allocs += " (C++ only)"
        print(f"| {r.get('label', r['name'])} | {h:.2f} | {e:.2f} | {s:.2f} | {r['bound_GBps']:.3f} "
              f"| {r['pipeline_GBps']:.3f} | {r['ratio']:.3f} | {share} "
              f"| {r['stripe_bytes'] / 2**20:.2f} | {allocs} |")
    print()
    for r in codec:
        print(f"stripe_codec's encode_stripe ({r.get('label')}, + chunk id and key): "
              f"{r['codec_GBps']:.3f} GB/s against {r['pipeline_GBps']:.3f} GB/s for the "
              f"preallocated seal-then-parity pipeline in the same run (ratio {r['ratio']:.2f}; "
              f"{r['codec_allocs_per_chunk']:.0f} allocations per chunk; same bytes).")
        print()

if device:
    d = device
    print(f"### Chunk device against raw O_DIRECT ({d['date']})")
    print()
    print(f"{d['payload_bytes'] >> 20} MiB per contender in {d['shard_bytes'] >> 10} KiB shards, "
          f"fdatasync every {d['batch']} shards (cairn: {d['cairn_append_batches']} append batches), "
          f"in {d['dir']} ({d['filesystem']}); modes: raw {d['raw_mode']}, "
          f"raw_batch {d['raw_batch_mode']}, cairn file_block_device {d['cairn_mode']}. "
          f"cairn record = {d['record_bytes']} bytes per shard. MB/s = 10^6 bytes of payload "
          f"per second.")
    print()
    print("| round | raw write | raw_batch write | cairn write | cairn/raw write "
          "| cairn/raw_batch write | raw read | cairn read | cairn/raw read "
          "| CPU share: cairn write / raw write / cairn read / raw read |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = [(str(i + 1), r) for i, r in enumerate(d["rounds"])] + [("median", d["median"])]
    for name, r in rows:
        print(f"| {name} | {r['raw_write_MBps']:.0f} | {r['raw_batch_write_MBps']:.0f} "
              f"| {r['cairn_write_MBps']:.0f} | {r['write_ratio']:.2f} "
              f"| {r['write_ratio_vs_batch']:.2f} | {r['raw_read_MBps']:.0f} "
              f"| {r['cairn_read_MBps']:.0f} | {r['read_ratio']:.2f} "
              f"| {r['cairn_write_cpu_share']:.2f} / {r['raw_write_cpu_share']:.2f} / "
              f"{r['cairn_read_cpu_share']:.2f} / {r['raw_read_cpu_share']:.2f} |")
    m = d["median"]
    print()
    verdict = lambda x: "met" if x >= 0.9 else "NOT met"
    print(f"Target >= 0.9: append {m['write_ratio']:.2f} ({verdict(m['write_ratio'])}), "
          f"read {m['read_ratio']:.2f} ({verdict(m['read_ratio'])}) (medians of per-round ratios).")
PY
