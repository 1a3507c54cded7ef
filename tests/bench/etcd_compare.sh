#!/usr/bin/env bash
# tests/bench/etcd_compare.sh — cairn next to etcd on one machine: the same
# closed-loop HTTP load (tests/bench/kv_load.cpp) against a 3-member etcd
# and a 3-node cairn cluster, both on 127.0.0.1 with fsync on, printed as a
# markdown table with the cairn/etcd throughput ratio.
#
# Owner: tests (benchmarks). Run by hand from the repository root:
#
#   tests/bench/etcd_compare.sh
#
# Cases, each after a warmup: puts with 1 client, puts with 64 clients,
# linearizable gets with 64 clients on prefilled keys; 256-byte values.
# The clusters run one after the other, never together, so each has the
# machine to itself apart from kv_load. Nothing is pinned: on the 2-core
# project machine the three server processes and kv_load (one thread) all
# share both cores, which favours neither side but caps both.
# kv_load sends client i to endpoint i mod 3, so the single client of the
# first case talks to the first member whether or not it leads (etcd's
# `endpoint status` table, printed at start, says who does).
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]         measured seconds per case
#   BENCH_WARMUP_SECONDS [2]   warmup seconds per case
#   BENCH_VALUE_BYTES [256]    value size
#   BENCH_KEYS [10000]         key space (and keys prefilled for gets)
#   BENCH_TARGETS ["etcd etcd-tls cairn"]  etcd-tls is etcd with mutual TLS
#                              between its members, as cairn's nodes always
#                              have (certificates from `cairn cert`); clients
#                              talk plain HTTP to both

#   BENCH_BUILD_DIR [build/release]
#   KV_LOAD                    a kv_load binary to use instead of building one
#   BENCH_TMPDIR [$TMPDIR or /tmp]  where data dirs go (must not be tmpfs,
#                              or fsync costs nothing)
#
# Installs etcd-server and etcd-client with apt-get if etcd is missing.
# Everything started here is stopped on exit and its temp dir removed.
# Exit status: 0 when every case that ran succeeded.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

bench_seconds=${BENCH_SECONDS:-10}
warmup_seconds=${BENCH_WARMUP_SECONDS:-2}
value_bytes=${BENCH_VALUE_BYTES:-256}
keys=${BENCH_KEYS:-10000}
targets=${BENCH_TARGETS:-etcd etcd-tls cairn}
build_dir=${BENCH_BUILD_DIR:-build/release}

work_dir=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-etcd-compare.XXXXXX")
results="$work_dir/results.tsv"  # target <TAB> case <TAB> exit status <TAB> kv_load JSON
: >"$results"

log() { echo "etcd_compare: $*" >&2; }

# --- cleanup ------------------------------------------------------------------
etcd_pids=()

stop_etcd_cluster() {
  local pid
  for pid in "${etcd_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${etcd_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  etcd_pids=()
}

cleanup() {
  stop_etcd_cluster
  stop_cairn_cluster
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- cairn -----------------------------------------------------------------------
# shellcheck source=tests/bench/cairn_cluster.sh
. "$root/tests/bench/cairn_cluster.sh"

# --- etcd ----------------------------------------------------------------------
etcd_client_ports=(23791 23792 23793)
etcd_peer_ports=(23801 23802 23803)
etcd_endpoints=""

install_etcd() {
  if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
    return 0
  fi
  log "etcd not found; installing etcd-server and etcd-client with apt-get"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client ||
    { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client; }
  # On a systemd machine the package starts its own etcd on 2379; it would
  # compete for the CPU, so stop the service this install just started.
  if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    log "stopping and disabling the etcd service the package started"
    $sudo systemctl disable --now etcd || true
  fi
}

start_etcd_cluster() {  # start_etcd_cluster [tls]
  local mode=${1:-plain} cluster="" i scheme=http
  local -a tls_args=()
  etcd_endpoints=""
  rm -rf "$work_dir/etcd"
  mkdir -p "$work_dir/etcd"
  if [ "$mode" = tls ]; then
    # Peer links with mutual TLS, like cairn's transport: a cluster CA and
    # one certificate per member for 127.0.0.1, made by `cairn cert`.
    scheme=https
    ninja -C "$build_dir" cairn >&2 || return 1
    "$build_dir/cairn" cert ca --out "$work_dir/etcd/ca" --name etcd-bench >/dev/null || return 1
  fi
  for i in 0 1 2; do
    cluster+="${cluster:+,}m$((i + 1))=$scheme://127.0.0.1:${etcd_peer_ports[$i]}"
    etcd_endpoints+="${etcd_endpoints:+,}http://127.0.0.1:${etcd_client_ports[$i]}"
  done
  for i in 0 1 2; do
    local name="m$((i + 1))"
    tls_args=()
    if [ "$mode" = tls ]; then
      "$build_dir/cairn" cert node --ca "$work_dir/etcd/ca" --id $((i + 1)) --host 127.0.0.1 \
        --out "$work_dir/etcd/$name-tls" >/dev/null || return 1
      tls_args=(--peer-client-cert-auth
        --peer-trusted-ca-file "$work_dir/etcd/$name-tls/ca.pem"
        --peer-cert-file "$work_dir/etcd/$name-tls/node.pem"
        --peer-key-file "$work_dir/etcd/$name-tls/node.key")
    fi
    # Default durability: etcd fsyncs its WAL before acknowledging.
    etcd --name "$name" \
      --data-dir "$work_dir/etcd/$name" \
      --listen-client-urls "http://127.0.0.1:${etcd_client_ports[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${etcd_client_ports[$i]}" \
      --listen-peer-urls "$scheme://127.0.0.1:${etcd_peer_ports[$i]}" \
      --initial-advertise-peer-urls "$scheme://127.0.0.1:${etcd_peer_ports[$i]}" \
      --initial-cluster "$cluster" \
      --initial-cluster-token "cairn-bench-$$" \
      --initial-cluster-state new \
      "${tls_args[@]}" \
      --logger=zap --log-level=error \
      >"$work_dir/etcd/$name.log" 2>&1 &
    etcd_pids+=($!)
  done
  local deadline=$((SECONDS + 60))
  until ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoints" --command-timeout=2s \
    endpoint health >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "etcd did not become healthy in 60 s; logs:"
      tail -n 20 "$work_dir"/etcd/*.log >&2 || true
      return 1
    fi
    for i in "${etcd_pids[@]}"; do
      if ! kill -0 "$i" 2>/dev/null; then
        log "an etcd member exited; logs:"
        tail -n 20 "$work_dir"/etcd/*.log >&2 || true
        return 1
      fi
    done
    sleep 0.5
  done
  log "etcd $(etcd --version | head -n 1 | awk '{print $3}'): 3 members healthy at $etcd_endpoints"
  ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoints" endpoint status -w table >&2 || true
  # The peer URLs show whether the members talk TLS to each other.
  ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoints" member list -w table >&2 || true
}

# --- kv_load -------------------------------------------------------------------
build_kv_load() {
  if [ -n "${KV_LOAD:-}" ]; then
    kv_load=$KV_LOAD
    return 0
  fi
  # An existing build directory is reused with whatever build type it has.
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
  fi
  ninja -C "$build_dir" kv_load >&2
  kv_load="$build_dir/tests/kv_load"
  log "kv_load: $kv_load ($(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt"))"
}

# case names and their kv_load arguments; the order is the table's order.
case_names=("put, 1 client" "put, 64 clients" "linearizable get, 64 clients")
case_args=("--op put --clients 1" "--op put --clients 64" "--op get --clients 64 --prefill")
if [ -n "${BENCH_CASES:-}" ]; then  # e.g. BENCH_CASES=1 runs only "put, 64 clients"
  names=() args=()
  for i in $BENCH_CASES; do names+=("${case_names[$i]}"); args+=("${case_args[$i]}"); done
  case_names=("${names[@]}") case_args=("${args[@]}")
fi

run_cases() {
  local target=$1 endpoints=$2 i status output
  for i in "${!case_names[@]}"; do
    log "$target: ${case_names[$i]} (${warmup_seconds} s warmup, ${bench_seconds} s measured)"
    status=0
    # shellcheck disable=SC2086  # case_args are word lists on purpose
    output=$("$kv_load" --target "${target%-tls}" --endpoints "$endpoints" ${case_args[$i]} \
      --value-bytes "$value_bytes" --keys "$keys" \
      --warmup "$warmup_seconds" --duration "$bench_seconds") || status=$?
    if [ -z "$output" ]; then output='{}'; fi
    echo "  $output" >&2
    printf '%s\t%s\t%s\t%s\n' "$target" "${case_names[$i]}" "$status" "$output" >>"$results"
  done
}

# --- report ----------------------------------------------------------------------
print_table() {
  awk -F '\t' '
    function field(json, name,   m) {
      if (match(json, "\"" name "\":[-0-9.eE+]+")) {
        m = substr(json, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m
      }
      return ""
    }
    function fmt(v, digits) { return v == "" ? "-" : sprintf("%." digits "f", v) }
    {
      n++; target[n] = $1; name[n] = $2; status[n] = $3
      ops[n] = field($4, "ops_per_s"); p50[n] = field($4, "p50_ms"); p99[n] = field($4, "p99_ms")
      errors[n] = field($4, "errors")
      if ($1 == "etcd" && $3 == 0) etcd_ops[$2] = ops[n]
      if ($1 == "etcd-tls" && $3 == 0) etcd_tls_ops[$2] = ops[n]
      if (!($2 in seen)) { seen[$2] = 1; loads[++load_count] = $2 }
    }
    END {
      # Grouped by load (in the order run): etcd, etcd-tls, then cairn.
      print "| target | load | ops/s | p50 ms | p99 ms | cairn/etcd ops/s | cairn/etcd-tls ops/s |"
      print "|---|---|---|---|---|---|---|"
      rows = 0
      split("etcd etcd-tls cairn", kinds, " ")
      for (l = 1; l <= load_count; l++)
        for (t = 1; t <= 3; t++)
          for (i = 1; i <= n; i++)
            if (name[i] == loads[l] && target[i] == kinds[t]) order[++rows] = i
      for (r = 1; r <= rows; r++) {
        i = order[r]
        ratio = "-"; ratio_tls = "-"
        if (target[i] == "cairn" && status[i] == 0 && (name[i] in etcd_ops) && etcd_ops[name[i]] > 0)
          ratio = sprintf("%.2f", ops[i] / etcd_ops[name[i]])
        if (target[i] == "cairn" && status[i] == 0 && (name[i] in etcd_tls_ops) && etcd_tls_ops[name[i]] > 0)
          ratio_tls = sprintf("%.2f", ops[i] / etcd_tls_ops[name[i]])
        shown = fmt(ops[i], 0)
        if (status[i] != 0) shown = shown " (FAILED, " (errors[i] == "" ? "?" : errors[i]) " errors)"
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", target[i], name[i], shown, fmt(p50[i], 2), fmt(p99[i], 2), ratio, ratio_tls
      }
    }' "$results"
}

# --- main ------------------------------------------------------------------------
fs_type=$(stat -f -c %T "$work_dir")
if [ "$fs_type" = tmpfs ]; then
  log "WARNING: $work_dir is on tmpfs, where fsync is free; set BENCH_TMPDIR to a disk"
fi
log "data under $work_dir ($fs_type); ${bench_seconds} s per case after ${warmup_seconds} s warmup;" \
  "${value_bytes}-byte values; ${keys} keys; $(nproc) cores shared by servers and kv_load"

build_kv_load

for target in $targets; do
  case $target in
    etcd)
      install_etcd
      start_etcd_cluster
      run_cases etcd "$etcd_endpoints"
      stop_etcd_cluster
      ;;
    etcd-tls)
      install_etcd
      if start_etcd_cluster tls; then
        run_cases etcd-tls "$etcd_endpoints"
        stop_etcd_cluster
      else
        stop_etcd_cluster
        log "skipping the etcd-tls rows"
      fi
      ;;
    cairn)
      if start_cairn_cluster; then
        run_cases cairn "$cairn_endpoints"
        stop_cairn_cluster
      else
        log "skipping the cairn rows"
      fi
      ;;
    *)
      log "unknown target '$target' in BENCH_TARGETS"
      exit 2
      ;;
  esac
done

echo
print_table
echo
echo "kv_load output (one JSON line per case):"
cut -f 1,2,4 "$results" | sed 's/^/    /'

if awk -F '\t' '$3 != 0 { bad = 1 } END { exit bad ? 0 : 1 }' "$results"; then
  log "some cases failed (see above)"
  exit 1
fi
