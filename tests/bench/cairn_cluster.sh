#!/usr/bin/env bash
# tests/bench/cairn_cluster.sh — sourced by the benchmark scripts: starts and
# stops a 3-node `cairn server` cluster on 127.0.0.1 from the build in
# $build_dir, under $work_dir/cairn.
#
# Three processes with mutual TLS between them (certificates from `cairn
# cert`), node 1 bootstrapping and nodes 2 and 3 joining through it, then
# $cairn_shards data shards (BENCH_CAIRN_SHARDS, default 3), each
# replicated on all three nodes (keys spread over them by hash; leaders
# land where elections put them). Every Ready that appends is fsync'd
# (mdb_env_sync) before it is acknowledged or its messages leave.
# Needs: $build_dir, $work_dir, a `log` function. Sets cairn_endpoints and
# cairn_pids.
cairn_endpoints=""
cairn_pids=()
cairn_shards=${BENCH_CAIRN_SHARDS:-3}

start_cairn_cluster() {
  local cairn="$build_dir/cairn" dir="$work_dir/cairn" i
  ninja -C "$build_dir" cairn >&2 || return 1
  mkdir -p "$dir"
  "$cairn" cert ca --out "$dir/ca" --name bench >/dev/null
  for i in 1 2 3; do
    "$cairn" cert node --ca "$dir/ca" --id "$i" --out "$dir/n$i/tls" >/dev/null
    local peers=""
    [ "$i" != 1 ] && peers='peers = ["127.0.0.1:24101"]'
    cat >"$dir/n$i/cairn.toml" <<TOML
node_id = $i
data_dir = "$dir/n$i/data"
listen = "127.0.0.1:$((24100 + i))"
admin_listen = "127.0.0.1:$((24150 + i))"
log_level = "warn"
$peers
[tls]
ca_cert = "$dir/n$i/tls/ca.pem"
cert = "$dir/n$i/tls/node.pem"
key = "$dir/n$i/tls/node.key"
TOML
  done
  "$cairn" server --config "$dir/n1/cairn.toml" --bootstrap >"$dir/n1/out" 2>"$dir/n1/err" &
  cairn_pids+=($!)
  wait_http_200 "http://127.0.0.1:24151/health" || return 1
  for i in 2 3; do
    "$cairn" server --config "$dir/n$i/cairn.toml" >"$dir/n$i/out" 2>"$dir/n$i/err" &
    cairn_pids+=($!)
  done
  for i in 2 3; do wait_http_200 "http://127.0.0.1:$((24150 + i))/health" || return 1; done
  log "creating $cairn_shards data shard(s)"
  for ((i = 0; i < cairn_shards; i++)); do
    "$cairn" admin shards create --replicas 3 --endpoint http://127.0.0.1:24151 --json >/dev/null || return 1
  done
  for i in 1 2 3; do wait_http_200 "http://127.0.0.1:$((24150 + i))/health" 600 || return 1; done
  [ "$cairn_shards" -le 10 ] && "$cairn" admin shards --endpoint http://127.0.0.1:24151 >&2
  cairn_endpoints="http://127.0.0.1:24151,http://127.0.0.1:24152,http://127.0.0.1:24153"
}

wait_http_200() {  # wait_http_200 URL [SECONDS]
  local url=$1 tries=$((${2:-60} * 5)) _
  for _ in $(seq 1 "$tries"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url")" = 200 ] && return 0
    sleep 0.2
  done
  log "timed out waiting for $url"
  return 1
}

stop_cairn_cluster() {
  local pid i
  if [ "${#cairn_pids[@]}" -gt 0 ]; then
    for i in 1 2 3; do  # how much each fsync and each frame carried
      curl -s --max-time 2 "http://127.0.0.1:$((24150 + i))/metrics" |
        awk -v n="$i" '/^cairn_storage_fsync_seconds_count /{f=$2} /^cairn_storage_sync_requests_total /{r=$2}
          /^cairn_raft_proposals_total/{p+=$2} /^cairn_transport_messages_sent_total /{m=$2}
          END {printf "cairn node %s: %d proposals, %d sync requests, %d fsyncs, %d raft messages sent\n", n, p, r, f, m}' >&2 || true
    done
  fi
  for pid in "${cairn_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${cairn_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  cairn_pids=()
}
