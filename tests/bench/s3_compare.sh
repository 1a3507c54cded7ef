#!/usr/bin/env bash
# tests/bench/s3_compare.sh — cairn's S3 gateway next to Ceph's radosgw,
# the loopback HTTP ceiling and the raw disk, in one run on one machine,
# with one load tool (tests/bench/s3_load.cpp):
#   sink    s3_load --sink: a Beast server that discards PUT bodies and
#           answers GETs from memory (no storage, no signature check): what
#           the client and loopback HTTP allow on this machine;
#   cairn   `cairn dev` (one node, six chunk devices on the disk, RS 4+2,
#           sealed; objects under 64 KiB inline in the namespace);
#   rgw     radosgw of Debian's Ceph 16.2 (/work/shared/peers/ceph-rgw.sh:
#           one mon, one OSD on memstore, i.e. in RAM, not durable);
#   disk    dd, sequential O_DIRECT write (then fdatasync) and read of a file
#           of the bytes cairn PUT in that case (at most 20000 blocks and
#           4 GiB), block size = object size (capped at 64 MiB), in cairn's
#           data filesystem; one stream, so a bandwidth reference, not a
#           like-for-like.
# For each object size: PUT (unique contents, keys spread over the bucket),
# then GET of prefilled objects (every byte verified), N connections each;
# then a ListObjectsV2 case (keys/s, 1000-key pages over 1000 objects).
# Prints a markdown table: ops/s at 4 KiB, MB/s (10^6 bytes/s) above, p50
# and p99 latency, the ratios cairn/radosgw and cairn/sink.
#
# Owner: tests (benchmarks). Run by hand from the repository root:
#   tests/bench/s3_compare.sh [path/to/cairn]     (default build/release/cairn)
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [8]            measured seconds per case
#   BENCH_WARMUP_SECONDS [2]     warmup seconds per case
#   BENCH_CONNECTIONS [8]        concurrent connections (a thread each)
#   BENCH_SIZES ["4096 1048576 67108864"]
#   BENCH_TARGETS ["sink cairn rgw disk"]  disk needs cairn's PUT bytes (runs
#                                after cairn; alone it writes 1 GiB per size)
#   BENCH_PUT_GIB [3]            a PUT case stops after this many GiB even
#                                inside its time (sizes cairn's devices and
#                                bounds radosgw's RAM)
#   BENCH_LIST [1]               0 skips the list case
#   BENCH_VERIFY [1]             0 skips checking GET bodies
#   BENCH_BUILD_DIR [build/h-bench]  where s3_load is built (Release, -j1, nice)
#   S3_LOAD                      a prebuilt s3_load instead
#   BENCH_TMPDIR [$TMPDIR or /tmp]  cairn's data and the dd file (not tmpfs)
#   BENCH_OUT                    directory kept for the JSON lines and the
#                                servers' logs [a new one under BENCH_TMPDIR]
#   BENCH_RGW_PORT [8000]        CEPH_RGW [/work/shared/peers/ceph-rgw.sh]
#   BENCH_RGW_NODELAY [1]        restart radosgw with its Beast frontend's
#                                tcp_nodelay=1 (0: the script's stock config)
#
# Installs ceph-mon ceph-osd radosgw ceph-common with apt-get if radosgw is
# missing. Everything it starts is stopped on exit (trap); data directories
# are removed, BENCH_OUT is kept. Exit status 0 when every case succeeded.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

cairn_bin=${1:-build/release/cairn}
seconds=${BENCH_SECONDS:-8}
warmup=${BENCH_WARMUP_SECONDS:-2}
connections=${BENCH_CONNECTIONS:-8}
sizes=${BENCH_SIZES:-4096 1048576 67108864}
targets=${BENCH_TARGETS:-sink cairn rgw disk}
put_gib=${BENCH_PUT_GIB:-3}
do_list=${BENCH_LIST:-1}
verify=${BENCH_VERIFY:-1}
build_dir=${BENCH_BUILD_DIR:-build/h-bench}
rgw_port=${BENCH_RGW_PORT:-8000}
rgw_nodelay=${BENCH_RGW_NODELAY:-1}
ceph_rgw=${CEPH_RGW:-/work/shared/peers/ceph-rgw.sh}
tmp_base=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
bucket=cairn
rgw_access=0555b35654ad1656d804
rgw_secret='h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q=='

work=$(mktemp -d "$tmp_base/cairn-s3-compare.XXXXXX")
out=${BENCH_OUT:-$(mktemp -d "$tmp_base/cairn-s3-compare-out.XXXXXX")}
mkdir -p "$out"
results="$out/results.tsv"  # target <TAB> case <TAB> exit status <TAB> JSON
: >"$results"

log() { echo "s3_compare: $*" >&2; }

# --- cleanup -----------------------------------------------------------------------
cairn_pid="" sink_pid="" rgw_started=0

stop_pid() {  # stop_pid PID: SIGTERM, up to 20 s, then SIGKILL; returns its status
  local pid=$1 status=0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 20 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

cleanup() {
  [ -n "$sink_pid" ] && { stop_pid "$sink_pid" || true; }
  [ -n "$cairn_pid" ] && { stop_pid "$cairn_pid" || true; }
  if [ "$rgw_started" = 1 ]; then "$ceph_rgw" stop "$work/ceph" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- s3_load -----------------------------------------------------------------------
if [ -n "${S3_LOAD:-}" ]; then
  s3_load=$S3_LOAD
else
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
  fi
  nice -n 10 ninja -C "$build_dir" -j "${BENCH_JOBS:-1}" s3_load >&2
  s3_load="$build_dir/tests/s3_load"
fi

# --- cases ---------------------------------------------------------------------------
# keys for PUT (spread) and GET (prefilled) by size: a few hundred MiB at most.
put_keys() { if [ "$1" -ge 16777216 ]; then echo 16; elif [ "$1" -ge 65536 ]; then echo 256; else echo 10000; fi; }
get_keys() { if [ "$1" -ge 16777216 ]; then echo 8; elif [ "$1" -ge 65536 ]; then echo 128; else echo 1000; fi; }
put_count() { echo $(((put_gib << 30) / $1)); }
human() {
  if [ "$1" -ge 1048576 ]; then echo "$(($1 >> 20)) MiB"; elif [ "$1" -ge 1024 ]; then echo "$(($1 >> 10)) KiB"; else echo "$1 B"; fi
}

# run_case TARGET CASE ENDPOINT ACCESS SECRET s3_load-args...
run_case() {
  local target=$1 name=$2 endpoint=$3 access=$4 secret=$5 status=0 output
  shift 5
  log "$target: $name"
  output=$("$s3_load" --endpoint "$endpoint" --access-key "$access" --secret-key "$secret" \
    --bucket "$bucket" --create-bucket --connections "$connections" --label "$target" \
    --warmup "$warmup" --duration "$seconds" "$@" 2>>"$out/$target.s3_load.err") || status=$?
  [ -n "$output" ] || output='{}'
  echo "  $output" >&2
  printf '%s\t%s\t%s\t%s\n' "$target" "$name" "$status" "$output" >>"$results"
  [ "$status" = 0 ] || log "$target: $name FAILED (exit $status; see $out/$target.s3_load.err)"
}

# run_cases TARGET ENDPOINT ACCESS SECRET [SIZE]: every case, or those of one size.
run_cases() {
  local target=$1 endpoint=$2 access=$3 secret=$4 only=${5:-} size verify_flag="" cap
  [ "$verify" = 1 ] && verify_flag=--verify
  for size in $sizes; do
    [ -n "$only" ] && [ "$only" != "$size" ] && continue
    cap=()  # the sink stores nothing: no cap
    [ "$target" = sink ] || cap=(--count "$(put_count "$size")")
    run_case "$target" "put $size" "$endpoint" "$access" "$secret" --op put --size "$size" \
      --prefix "put-$size/" --keys "$(put_keys "$size")" "${cap[@]}"
    [ "$target" = rgw ] && rgw_gc
    run_case "$target" "get $size" "$endpoint" "$access" "$secret" --op get --size "$size" \
      --prefix "get-$size/" --keys "$(get_keys "$size")" --prefill $verify_flag
  done
}

run_list() {  # run_list TARGET ENDPOINT ACCESS SECRET: pages over the 4 KiB GET objects
  [ "$do_list" = 1 ] || return 0
  run_case "$1" "list" "$2" "$3" "$4" --op list --size 4096 --prefix "list/" --keys 1000 \
    --prefill --max-keys 1000
}

# --- sink ----------------------------------------------------------------------------
start_sink() {  # start_sink SIZE: sets sink_endpoint
  local file="$work/sink.$RANDOM.out"  # fresh: never an earlier sink's line
  "$s3_load" --sink 0 --size "$1" >"$file" 2>>"$out/sink.err" &
  sink_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^sink-endpoint: ' "$file" 2>/dev/null && break
    sleep 0.05
  done
  sink_endpoint=$(sed -n 's/^sink-endpoint: //p' "$file")
  [ -n "$sink_endpoint" ] || { log "the sink did not start"; return 1; }
}
stop_sink() { stop_pid "$sink_pid" || true; sink_pid=""; }

# --- cairn ---------------------------------------------------------------------------
start_cairn() {  # sets cairn_endpoint, cairn_access, cairn_secret
  local device_mb total=0 size
  # Bytes that can reach the devices (objects >= 64 KiB; PUT cap and GET
  # prefill per size), times 1.5 (RS 4+2), over six devices, with 50% room.
  for size in $sizes; do
    [ "$size" -ge 65536 ] || continue
    total=$((total + (put_gib << 30) + size * $(get_keys "$size")))
  done
  device_mb=$((total * 9 / 24 / 1048576 + 256))
  mkdir -p "$work/cairn"
  log "cairn: $cairn_bin dev, six devices of $device_mb MiB in $work/cairn ($(stat -f -c %T "$work"))"
  "$cairn_bin" dev --data "$work/cairn/data" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 --device-mb "$device_mb" \
    >"$out/cairn.out" 2>"$out/cairn.err" &
  cairn_pid=$!
  for _ in $(seq 1 600); do
    grep -q '^secret-key: ' "$out/cairn.out" 2>/dev/null && break
    kill -0 "$cairn_pid" 2>/dev/null || { log "cairn dev exited early:"; tail -20 "$out/cairn.err" >&2; return 1; }
    sleep 0.1
  done
  cairn_endpoint=$(sed -n 's/^s3-endpoint: //p' "$out/cairn.out")
  cairn_access=$(sed -n 's/^access-key: //p' "$out/cairn.out")
  cairn_secret=$(sed -n 's/^secret-key: //p' "$out/cairn.out")
  local admin
  admin=$(sed -n 's/^admin-endpoint: //p' "$out/cairn.out")
  if [ -z "$cairn_endpoint" ] || [ -z "$cairn_secret" ]; then log "no s3-endpoint/secret-key from cairn dev"; return 1; fi
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/health")" = 200 ] && break
    sleep 0.1
  done
  log "cairn: S3 at $cairn_endpoint"
}

stop_cairn() {
  local status=0
  stop_pid "$cairn_pid" || status=$?
  cairn_pid=""
  if [ "$status" != 0 ]; then
    log "cairn dev exited with status $status on SIGTERM (stderr: $out/cairn.err)"
    tail -20 "$out/cairn.err" >&2
  fi
}

# --- radosgw -------------------------------------------------------------------------
install_ceph() {
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && return 0
  log "radosgw not found; installing ceph-mon ceph-osd radosgw ceph-common with apt-get"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    ceph-mon ceph-osd radosgw ceph-common >&2 ||
    { $sudo apt-get update >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y \
      --no-install-recommends ceph-mon ceph-osd radosgw ceph-common >&2; }
}

start_rgw() {
  install_ceph
  rgw_started=1
  "$ceph_rgw" start "$work/ceph" "$rgw_port" >&2 || return 1
  rgw_endpoint="http://127.0.0.1:$rgw_port"
  if [ "$rgw_nodelay" = 1 ]; then
    # Beast's tcp_nodelay option (off by default): without it a small GET's
    # header and body leave as two segments, and Nagle holds the second
    # until the client's delayed ACK (40 ms on Linux).
    local conf="$work/ceph/ceph.conf" pid_file="$work/ceph/run/client.rgw.gw.pid" pid
    sed -i 's/^rgw frontends = beast .*$/& tcp_nodelay=1/' "$conf"
    pid=$(cat "$pid_file")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pid_file"
    (cd "$work/ceph" && radosgw -c "$conf" -n client.rgw.gw) || return 1
    for _ in $(seq 1 60); do
      curl -s -o /dev/null "$rgw_endpoint/" && break
      sleep 0.5
    done
    log "rgw: restarted with $(grep '^rgw frontends' "$conf")"
  fi
  log "rgw: $(radosgw --version 2>/dev/null | head -n 1)"
}

# Overwritten and replaced objects wait for radosgw's garbage collector
# (hours by default); memstore keeps them in RAM. Collect after each PUT case.
rgw_gc() {
  radosgw-admin -c "$work/ceph/ceph.conf" gc process --include-all >/dev/null 2>&1 || true
}

stop_rgw() {
  cp "$work/ceph/log/client.rgw.gw.log" "$out/rgw.log" 2>/dev/null || true
  "$ceph_rgw" stop "$work/ceph" >&2 || true
  rgw_started=0
}

# --- disk ----------------------------------------------------------------------------
# disk_case SIZE BYTES: dd writes BYTES in SIZE blocks with O_DIRECT (+ fdatasync),
# then reads them back with O_DIRECT, in the filesystem of cairn's data.
disk_case() {
  local size=$1 bytes=$2 bs count file="$work/dd.bin" w r
  bs=$size
  [ "$bs" -le 67108864 ] || bs=67108864
  count=$((bytes / bs))
  # At most 20000 blocks (4 KiB ones go one at a time) and 4 GiB.
  [ "$count" -le 20000 ] || count=20000
  [ $((count * bs)) -le $((4 << 30)) ] || count=$(((4 << 30) / bs))
  [ "$count" -ge 1 ] || count=1
  log "disk: $count x $bs bytes, dd O_DIRECT write then read in $work"
  w=$( { LC_ALL=C dd if=/dev/zero of="$file" bs="$bs" count="$count" oflag=direct conv=fdatasync 2>&1 >/dev/null; } | tail -n 1)
  sync
  r=$( { LC_ALL=C dd if="$file" of=/dev/null bs="$bs" iflag=direct 2>&1 >/dev/null; } | tail -n 1)
  rm -f "$file"
  # "N bytes (...) copied, S s, R MB/s"
  local line op
  for op in put get; do
    if [ "$op" = put ]; then line=$w; else line=$r; fi
    python3 - "$op" "$size" "$bs" "$line" <<'PY' >>"$results"
import json, re, sys
op, size, bs, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
m = re.match(r"(\d+) bytes .* copied, ([0-9.e+-]+) s", line)
status = 0 if m else 1
j = {"label": "disk", "op": op, "size": size, "block": bs}
if m:
    b, s = int(m.group(1)), float(m.group(2))
    j.update(bytes=b, seconds=s, ops_per_s=round(b / bs / s, 1), MB_per_s=round(b / s / 1e6, 2))
else:
    j["error"] = line
print(f"disk\t{op} {size}\t{status}\t{json.dumps(j)}")
PY
  done
}

# The bytes cairn moved in its PUT case of SIZE (1 GiB if cairn did not run).
cairn_put_bytes() {
  awk -F '\t' -v c="put $1" '$1 == "cairn" && $2 == c {
      if (match($4, /"bytes":[0-9]+/)) { print substr($4, RSTART + 8, RLENGTH - 8); found = 1; exit } }
    END { if (!found) print 1073741824 }' "$results"
}

# --- main ----------------------------------------------------------------------------
fs_type=$(stat -f -c %T "$work")
[ "$fs_type" = tmpfs ] && log "WARNING: $work is on tmpfs: cairn's devices and dd measure RAM"
log "$(nproc) cores, load $(cut -d ' ' -f 1-3 /proc/loadavg); $connections connections;" \
  "${warmup} s warmup + ${seconds} s per case; sizes: $sizes; PUT cap ${put_gib} GiB per case;" \
  "results in $out"

for target in $targets; do
  case $target in
    sink)
      for size in $sizes; do
        if start_sink "$size"; then
          run_cases sink "$sink_endpoint" sink sink "$size"
          stop_sink
        fi
      done
      if [ "$do_list" = 1 ] && start_sink 4096; then
        run_list sink "$sink_endpoint" sink sink
        stop_sink
      fi
      ;;
    cairn)
      if [ ! -x "$cairn_bin" ]; then
        log "no cairn binary at $cairn_bin; skipping cairn"
      elif start_cairn; then
        run_cases cairn "$cairn_endpoint" "$cairn_access" "$cairn_secret"
        run_list cairn "$cairn_endpoint" "$cairn_access" "$cairn_secret"
        du -sh "$work/cairn/data" >&2 || true
        stop_cairn
      else
        stop_cairn
      fi
      ;;
    rgw)
      if start_rgw; then
        run_cases rgw "$rgw_endpoint" "$rgw_access" "$rgw_secret"
        run_list rgw "$rgw_endpoint" "$rgw_access" "$rgw_secret"
      else
        log "radosgw did not start; skipping it"
      fi
      stop_rgw
      ;;
    disk)
      for size in $sizes; do disk_case "$size" "$(cairn_put_bytes "$size")"; done
      ;;
    *)
      log "unknown target '$target' in BENCH_TARGETS"
      exit 2
      ;;
  esac
done

python3 - "$results" "$connections" "$seconds" "$warmup" <<'PY'
import json, os, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    target, case, status, text = line.rstrip("\n").split("\t", 3)
    try:
        j = json.loads(text)
    except ValueError:
        j = {}
    rows[(target, case)] = (int(status), j)
    if case not in order:
        order.append(case)
conns, secs, warm = sys.argv[2], sys.argv[3], sys.argv[4]

def size_text(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB" if n >= 1024 else f"{n} B"

def figure(target, case, metric):
    if (target, case) not in rows:
        return None, "-"
    status, j = rows[(target, case)]
    v = j.get(metric)
    if v is None:
        return None, "FAILED"
    text = f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"
    if status != 0:
        return None, text + f" (FAILED, {j.get('errors', '?')} errors)"
    return v, text

def lat(target, case):
    if (target, case) not in rows:
        return "-"
    j = rows[(target, case)][1]
    if "p50_ms" not in j:
        return "-"
    return f"{j['p50_ms']:.2f} / {j['p99_ms']:.2f}"

def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"

print()
print(f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end. "
      f"{conns} connections, {warm} s warmup + {secs} s measured per case; MB/s = 10^6 bytes/s. "
      "disk = dd, one stream, O_DIRECT, block = object size (capped at 64 MiB), "
      "of the bytes cairn PUT in that case.")
print()
print("| case | unit | cairn | radosgw | sink | disk | cairn/radosgw | cairn/sink "
      "| p50 / p99 ms cairn | radosgw | sink |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for case in order:
    if case == "list":
        metric, unit, label = "keys_per_s", "keys/s", "LIST 1000/page"
    else:
        op, size = case.split()
        size = int(size)
        metric, unit = ("ops_per_s", "ops/s") if size < 65536 else ("MB_per_s", "MB/s")
        label = f"{op.upper()} {size_text(size)}"
    c, ct = figure("cairn", case, metric)
    r, rt = figure("rgw", case, metric)
    s, st = figure("sink", case, metric)
    d, dt = figure("disk", case, metric)
    print(f"| {label} | {unit} | {ct} | {rt} | {st} | {dt} | {ratio(c, r)} | {ratio(c, s)} "
          f"| {lat('cairn', case)} | {lat('rgw', case)} | {lat('sink', case)} |")
failed = [(t, c, j.get("first_error", "")) for (t, c), (st, j) in rows.items() if st != 0]
if failed:
    print()
    for t, c, e in failed:
        print(f"FAILED: {t} {c}: {e}")
PY
echo
echo "s3_load output (one JSON line per case) and the servers' logs: $out"
if awk -F '\t' '$3 != 0 { bad = 1 } END { exit bad ? 0 : 1 }' "$results"; then
  log "some cases failed (see above)"
  exit 1
fi
