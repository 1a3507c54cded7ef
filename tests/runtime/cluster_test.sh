#!/usr/bin/env bash
# tests/runtime/cluster_test.sh — real `cairn server` processes on this
# machine, as an operator would run them: a cluster CA and node
# certificates from `cairn cert`, one TOML file per node, the first node
# with --bootstrap, the others joining through it.
#
#   usage: cluster_test.sh /path/to/cairn SCENARIO
#   basic       3 nodes elect and commit; a data shard on all three; reads
#               from every node; admin CLI tables; promtool on /metrics;
#               bad config and a foreign certificate are refused.
#   kill        kill -9 of the data shard's leader under a write load loses
#               no acknowledged write; the killed node restarts and catches
#               up by snapshot.
#   membership  a 4th node joins and becomes a voter of the system shard;
#               node 2 is removed while writes go on; its replica moves.
#   partition   (network namespaces + nftables) the leader is cut off; the
#               majority elects a new one; no write is acknowledged on both
#               sides; after healing every node converges.
#   full        one node whose data directory is a small tmpfs: when free
#               space drops below storage.reserve_mb, writes get 507 with
#               the reason, reads go on, nothing acknowledged is lost, and
#               writes are accepted again once space returns.
# Exits 77 (skipped) when a scenario needs something the machine lacks.
# Uses Debian's /usr/bin/python3 (tests/runtime/kv_client.py). Nodes,
# waits and admin queries: tests/runtime/cluster_lib.sh.
set -euo pipefail
cairn=${1:?usage: cluster_test.sh /path/to/cairn SCENARIO}
scenario=${2:?usage: cluster_test.sh /path/to/cairn SCENARIO}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
kv="$py $here/kv_client.py"

case "$scenario" in
  basic) base=21100 ;;
  kill) base=21200 ;;
  membership) base=21300 ;;
  partition) base=21400 ;;
  full) base=21500 ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/cairn-cluster-XXXXXX)
# Nodes, their TOML, waits, admin queries, the EXIT trap (cluster_cleanup).
# shellcheck source-path=SCRIPTDIR source=cluster_lib.sh
source "$here/cluster_lib.sh"
cluster_toml_tail() { echo "snapshot_entries = 200"; }  # in [raft]: `kill` catches up by snapshot
cluster_teardown() {  # the tmpfs of `full`, the network namespaces of `partition`
  local i
  if [[ -n "${small_fs:-}" ]]; then umount "$small_fs" 2>/dev/null || true; fi
  if [[ -n "$cluster_netns" ]]; then
    for i in 1 2 3; do ip netns del "$cluster_netns$i" 2>/dev/null || true; done
    ip link del cairn-tbr 2>/dev/null || true
  fi
}
trap cluster_cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

shard_keys() { json_get "$1" /v1/shards "[s for s in j['shards'] if s['id']==$2][0]['local']['keys']"; }
same_key_counts() {
  local a b c
  a=$(shard_keys 1 "$1"); b=$(shard_keys 2 "$1"); c=$(shard_keys 3 "$1")
  [[ -n "$a" && "$a" == "$b" && "$b" == "$c" ]]
}

endpoints() { local out="" i; for i in "$@"; do out+="${out:+,}$(admin "$i")"; done; echo "$out"; }

"$cairn" cert ca --out "$work/ca" --name test >/dev/null

scenario_basic() {
  for i in 1 2 3; do setup_node "$i" 127.0.0.1; done
  # Bad configuration is refused, naming the field.
  cp "$work/n2/cairn.toml" "$work/bad.toml"
  echo 'raft_tick = 5' >>"$work/bad.toml"
  if "$cairn" server --config "$work/bad.toml" 2>"$work/bad.err"; then fail "bad config accepted"; fi
  grep -q "raft_tick: unknown option" "$work/bad.err" || fail "bad config error does not name the field: $(cat "$work/bad.err")"
  if CAIRN_RAFT_TICK_MS=fast "$cairn" server --config "$work/n2/cairn.toml" 2>"$work/bad.err"; then fail "bad env accepted"; fi
  grep -q "raft.tick_ms (from CAIRN_RAFT_TICK_MS)" "$work/bad.err" || fail "bad env error: $(cat "$work/bad.err")"
  # A node whose certificate names another node refuses to start.
  sed "s#n2/tls/node#n3/tls/node#" "$work/n2/cairn.toml" >"$work/wrongcert.toml"
  if "$cairn" server --config "$work/wrongcert.toml" 2>"$work/bad.err"; then fail "wrong certificate accepted"; fi
  grep -q "certificate is for node 3" "$work/bad.err" || fail "wrong certificate error: $(cat "$work/bad.err")"

  start_cluster 3
  local s; s=$(create_shard 3)
  log "created data shard $s"
  for i in 1 2 3; do wait_for 60 "shard $s led, seen from node $i" has_leader "$i" "$s"; done
  wait_for 60 "shard $s voters 1,2,3" shard_voters_are 1 "$s" 1,2,3
  $kv load --endpoints "$(endpoints 1 2 3)" --seconds 3 --threads 4 --prefix basic --acked "$work/acked"
  $kv verify --endpoints "$(endpoints 1 2 3)" --acked "$work/acked"
  # The admin CLI's tables.
  "$cairn" admin status --endpoint "$(admin 2)" | tee "$work/status"
  grep -q "system shard: leader" "$work/status" || fail "admin status"
  "$cairn" admin nodes --endpoint "$(admin 2)" | tee "$work/nodes"
  [[ $(grep -c " active " "$work/nodes") == 3 ]] || fail "admin nodes lists 3 active nodes"
  "$cairn" admin shards --endpoint "$(admin 3)" | tee "$work/shards"
  grep -q "^0 (system)" "$work/shards" || fail "admin shards lists the system shard"
  # Prometheus text format, checked by promtool.
  for i in 1 2 3; do
    curl -s "$(admin "$i")/metrics" >"$work/metrics$i"
    promtool check metrics <"$work/metrics$i" || fail "promtool rejected node $i's metrics"
    grep -q '^cairn_transport_sent_bytes_total [1-9]' "$work/metrics$i" || fail "no transport bytes on node $i"
    grep -q "^cairn_raft_commit_index{shard=\"$s\"} [1-9]" "$work/metrics$i" || fail "no commit index for shard $s on node $i"
  done
  # A peer that is not in the cluster (a certificate from another CA)
  # cannot talk to a node; the node counts the refused handshake.
  "$cairn" cert ca --out "$work/evil-ca" --name evil >/dev/null
  "$cairn" cert node --ca "$work/evil-ca" --id 9 --out "$work/evil" >/dev/null
  $py - "$work/evil" "${tport[1]}" <<'PY' 2>/dev/null || true
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(d + "/node.pem", d + "/node.key")
with socket.create_connection(("127.0.0.1", port)) as s:
    with ctx.wrap_socket(s) as t:
        t.sendall(b"\0\0\0\x08garbage!"); t.recv(10)
PY
  wait_for 10 "refused handshake counted" bash -c "curl -s $(admin 1)/metrics | grep -q '^cairn_transport_handshakes_rejected_total [1-9]'"
  # Garbage from a trusted peer: the connection is closed, the node carries on.
  $py - "$work/n3/tls" "${tport[1]}" <<'PY' 2>/dev/null || true
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False
ctx.load_verify_locations(d + "/ca.pem"); ctx.load_cert_chain(d + "/node.pem", d + "/node.key")
with socket.create_connection(("127.0.0.1", port)) as s:
    with ctx.wrap_socket(s) as t:
        t.sendall(b"\x7f\xff\xff\xff"); t.recv(10)
with socket.create_connection(("127.0.0.1", port)) as s:
    with ctx.wrap_socket(s) as t:
        t.sendall(b"\0\0\0\x10" + b"\xff" * 16); t.recv(10)
PY
  wait_for 10 "bad frames counted" bash -c "curl -s $(admin 1)/metrics | grep -q '^cairn_transport_frames_rejected_total [2-9]'"
  healthy 1 || fail "node 1 unhealthy after bad input"
  $kv load --endpoints "$(endpoints 1 2 3)" --seconds 1 --threads 2 --prefix after --acked "$work/acked2"
  $kv verify --endpoints "$(endpoints 1 2 3)" --acked "$work/acked2"
  # A damaged store: node 3 refuses to start, naming the problem; the
  # other two carry on.
  kill_node 3 TERM
  if grep -q "Sanitizer" "$work/n3/err"; then fail "node 3 stopped with a sanitizer report"; fi
  $py - "$work/n3/data/raft/data.mdb" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
# Every copy: LMDB's copy-on-write leaves stale copies in free pages, and
# the live record must be among those hit.
hits = 0
at = data.find(b"v-0-1")
while at >= 0:
    data[at] ^= 0x20
    hits += 1
    at = data.find(b"v-0-1", at + 1)
assert hits > 0, "no record to corrupt"
open(p, "wb").write(data)
PY
  local rc=0
  timeout 30 "$cairn" server --config "$work/n3/cairn.toml" >/dev/null 2>"$work/damaged.err" || rc=$?
  ((rc == 124)) && fail "node 3 started on a damaged store"
  ((rc == 0)) && fail "node 3 exited 0 on a damaged store"
  grep -q "is damaged: .*fails its checksum; refusing to start" "$work/damaged.err" ||
    fail "damaged store message: $(cat "$work/damaged.err")"
  log "node 3 refused its damaged store: $(tail -1 "$work/damaged.err")"
  wait_for 30 "shard $s led by node 1 or 2" bash -c "l=\$(curl -s $(admin 1)/v1/shards | $py -c \"import json,sys; j=json.load(sys.stdin); print([s for s in j['shards'] if s['id']==$s][0]['local']['leader'])\"); [[ \$l == 1 || \$l == 2 ]]"
  $kv load --endpoints "$(endpoints 1 2)" --seconds 2 --threads 2 --prefix degraded --acked "$work/acked3"
  $kv verify --endpoints "$(endpoints 1 2)" --acked "$work/acked3"
}

scenario_kill() {
  for i in 1 2 3; do setup_node "$i" 127.0.0.1; done
  start_cluster 3
  local s; s=$(create_shard 3)
  for i in 1 2 3; do wait_for 60 "shard $s led, seen from node $i" has_leader "$i" "$s"; done
  local leader; leader=$(shard_leader 1 "$s")
  log "shard $s leader is node $leader; starting the write load"
  local others=(); for i in 1 2 3; do [[ $i != "$leader" ]] && others+=("$i"); done
  $kv load --endpoints "$(endpoints 1 2 3)" --seconds 12 --threads 4 --prefix kill --acked "$work/acked" >"$work/load.out" &
  local load=$!
  sleep 3
  log "kill -9 node $leader"
  kill_node "$leader"
  wait_for 30 "a new leader for shard $s" bash -c "l=\$(curl -s $(admin "${others[0]}")/v1/shards | $py -c \"import json,sys; j=json.load(sys.stdin); print([s for s in j['shards'] if s['id']==$s][0]['local']['leader'])\"); [[ -n \$l && \$l != 0 && \$l != $leader ]]"
  log "new leader elected: $(shard_leader "${others[0]}" "$s")"
  wait $load; cat "$work/load.out"
  # More than a snapshot interval of entries went by while the node was
  # down: it must catch up by snapshot.
  $kv load --endpoints "$(endpoints "${others[@]}")" --seconds 4 --threads 4 --prefix while-down --acked "$work/acked"
  log "restart node $leader"
  start_node "$leader"
  wait_for 60 "node $leader healthy again" healthy "$leader"
  wait_for 60 "node $leader installed a snapshot of shard $s" bash -c "curl -s $(admin "$leader")/metrics | grep -q '^cairn_raft_snapshots_installed_total{shard=\"$s\"} [1-9]'"
  $kv verify --endpoints "$(endpoints 1 2 3)" --acked "$work/acked"
}

scenario_membership() {
  for i in 1 2 3 4; do setup_node "$i" 127.0.0.1; done
  start_cluster 3
  local s; s=$(create_shard 3)
  for i in 1 2 3; do wait_for 60 "shard $s led" has_leader "$i" "$s"; done
  $kv load --endpoints "$(endpoints 1 3)" --seconds 25 --threads 4 --prefix member --acked "$work/acked" --stop-file "$work/stop" >"$work/load.out" &
  local load=$!
  log "node 4 joins"
  start_node 4
  wait_for 60 "node 4 healthy" healthy 4
  wait_for 60 "node 4 a voter of the system shard" system_voters_are 1 1,2,3,4
  log "remove node 2"
  "$cairn" admin nodes remove 2 --endpoint "$(admin 1)" | tee "$work/remove.out"
  wait_for 60 "system shard voters 1,3,4" system_voters_are 1 1,3,4
  wait_for 60 "shard $s moved from node 2 to node 4" shard_voters_are 1 "$s" 1,3,4
  wait_for 30 "node 2 reports it was removed" bash -c "curl -s $(admin 2)/health | grep -q removed"
  "$cairn" admin nodes --endpoint "$(admin 1)" | tee "$work/nodes"
  grep -Eq "^2 +removed" "$work/nodes" || fail "node 2 not shown as removed"
  touch "$work/stop"; wait $load; cat "$work/load.out"
  $kv verify --endpoints "$(endpoints 1 3 4)" --acked "$work/acked"
}

scenario_partition() {
  command -v nft >/dev/null || { echo "SKIP: nft not installed"; exit 77; }
  ip netns add cairn-tprobe 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
  if ! ip netns exec cairn-tprobe true 2>"$work/netns.err"; then
    ip netns del cairn-tprobe
    echo "SKIP: cannot run processes in a network namespace here: $(head -1 "$work/netns.err")"
    exit 77
  fi
  ip netns del cairn-tprobe
  cluster_netns="cairn-t"  # node i runs in namespace cairn-t$i
  ip link add cairn-tbr type bridge && ip addr add 10.199.0.254/24 dev cairn-tbr && ip link set cairn-tbr up
  for i in 1 2 3; do
    ip netns add "cairn-t$i"
    ip link add "cairn-tv$i" type veth peer name eth0 netns "cairn-t$i"
    ip link set "cairn-tv$i" master cairn-tbr up
    ip -n "cairn-t$i" addr add "10.199.0.$i/24" dev eth0
    ip -n "cairn-t$i" link set eth0 up
    ip -n "cairn-t$i" link set lo up
    setup_node "$i" "10.199.0.$i"
  done
  start_cluster 3
  local s; s=$(create_shard 3)
  for i in 1 2 3; do wait_for 60 "shard $s led" has_leader "$i" "$s"; done
  local leader; leader=$(shard_leader 1 "$s")
  local others=(); for i in 1 2 3; do [[ $i != "$leader" ]] && others+=("$i"); done
  log "cut node $leader (leader of shard $s) off from its peers"
  ip netns exec "cairn-t$leader" nft -f - <<NFT
table inet cairn_partition {
  chain input { type filter hook input priority 0; ip saddr 10.199.0.0/24 ip saddr != 10.199.0.254 drop; }
  chain output { type filter hook output priority 0; ip daddr 10.199.0.0/24 ip daddr != 10.199.0.254 drop; }
}
NFT
  wait_for 30 "the majority elects a new leader" bash -c "l=\$(curl -s --max-time 2 $(admin "${others[0]}")/v1/shards | $py -c \"import json,sys; j=json.load(sys.stdin); print([s for s in j['shards'] if s['id']==$s][0]['local']['leader'])\" 2>/dev/null); [[ -n \$l && \$l != 0 && \$l != $leader ]]"
  # Writes on both sides at once: only the majority may acknowledge.
  $kv load --endpoints "$(endpoints "$leader")" --seconds 4 --threads 2 --prefix minority --acked "$work/acked-minority" >"$work/minority.out" &
  local minority=$!
  $kv load --endpoints "$(endpoints "${others[@]}")" --seconds 4 --threads 2 --prefix majority --acked "$work/acked" >"$work/majority.out"
  wait $minority
  log "majority: $(cat "$work/majority.out"); minority: $(cat "$work/minority.out")"
  [[ -s "$work/acked-minority" ]] && fail "the cut-off node acknowledged writes: split brain"
  log "heal the partition"
  ip netns exec "cairn-t$leader" nft delete table inet cairn_partition
  wait_for 60 "node $leader follows the new leader" bash -c "l=\$(curl -s --max-time 2 $(admin "$leader")/v1/shards | $py -c \"import json,sys; j=json.load(sys.stdin); print([s for s in j['shards'] if s['id']==$s][0]['local']['leader'])\" 2>/dev/null); [[ -n \$l && \$l != 0 && \$l != $leader ]]"
  $kv verify --endpoints "$(endpoints 1 2 3)" --acked "$work/acked"
  # Same applied state everywhere: equal key counts once caught up.
  wait_for 30 "all replicas hold the same keys" same_key_counts "$s"
}

scenario_full() {
  small_fs="$work/small"
  mkdir -p "$small_fs"
  mount -t tmpfs -o size=96m tmpfs "$small_fs" 2>/dev/null || { small_fs=""; echo "SKIP: cannot mount a tmpfs"; exit 77; }
  ip[1]=127.0.0.1; aport[1]=$((base + 51)); mkdir -p "$work/n1"
  cat >"$work/n1/cairn.toml" <<TOML
node_id = 1
data_dir = "$small_fs/data"
admin_listen = "127.0.0.1:${aport[1]}"
[storage]
map_mb = 64
reserve_mb = 32
[raft]
tick_ms = 20
election_ticks = 25
TOML
  start_node 1 --bootstrap
  wait_for 60 "node 1 healthy" healthy 1
  "$cairn" admin shards create --replicas 1 --endpoint "$(admin 1)" >/dev/null
  wait_for 60 "the data shard has a leader" healthy 1
  $kv load --endpoints "$(admin 1)" --seconds 1 --threads 2 --prefix before --acked "$work/acked"
  local free_kb; free_kb=$(df -k --output=avail "$small_fs" | tail -1)
  log "filling the file system (${free_kb} KiB free) down to 16 MiB"
  fallocate -l "$(((free_kb - 16 * 1024) * 1024))" "$small_fs/ballast"
  put_code() { curl -s -o "$work/put.out" -w '%{http_code}' -X PUT --data-binary v "$(admin 1)/v1/kv/$1"; }
  wait_for 10 "writes refused with 507" bash -c "[[ \$(curl -s -o $work/put.out -w '%{http_code}' -X PUT --data-binary v $(admin 1)/v1/kv/probe) == 507 ]]"
  grep -q "storage full: the file system of .* MiB reserve (storage.reserve_mb)" "$work/put.out" || fail "507 without the reason: $(cat "$work/put.out")"
  log "refused: $(cat "$work/put.out")"
  # Not `curl | grep -q` under pipefail: grep stops reading at the match and
  # curl then fails with SIGPIPE on a long /metrics page.
  curl -s "$(admin 1)/metrics" >"$work/metrics"
  grep -q '^cairn_storage_full 1' "$work/metrics" || fail "cairn_storage_full is not 1"
  $kv verify --endpoints "$(admin 1)" --acked "$work/acked"  # reads go on
  rm -f "$small_fs/ballast"
  wait_for 10 "writes accepted again" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary v $(admin 1)/v1/kv/probe2) == 200 ]]"
  $kv load --endpoints "$(admin 1)" --seconds 1 --threads 2 --prefix after --acked "$work/acked"
  $kv verify --endpoints "$(admin 1)" --acked "$work/acked"
}

"scenario_$scenario"
log "PASS: $scenario"
