#!/usr/bin/env bash
# tests/gateways/s3/cluster_s3_test.sh — the S3 gateway of a real 3-node
# `cairn server` cluster on 127.0.0.1, as an operator would run it (a
# cluster CA and node certificates from `cairn cert`, one TOML file per
# node with `s3_listen` and three chunk device files, node 1 with
# --bootstrap, nodes 2 and 3 joining through it), driven by real clients:
#    1. the cluster comes up; every node healthy, every peer connected
#    2. a data shard with 3 replicas (`cairn admin shards create`)
#    3. a tenant and an access key (`cairn admin tenant|key create`)
#    4. boto3 through node 1: a bucket; objects of 0 B, 1 KiB, 5 MiB,
#       20 MiB (cluster_s3_test.py write)
#    5. the objects' chunk shards are on the devices of all three nodes
#    6. boto3 across nodes: GET/HEAD through nodes 2 and 3, ranges, a
#       listing, a multipart upload spread over the nodes, a copy, a delete
#       (cluster_s3_test.py cross)
#    7. the aws CLI: `s3 cp` of 64 MiB up through node 3, down through
#       node 1, cmp
#    7c. FUSE (as root, with /dev/fuse): `cairn mount` of the tenant's
#       buckets through node 1 reads the 64 MiB object with every chunk
#       request sent to the node that has the device (direct connections
#       to nodes 2 and 3; node 1 relays none), and a file written through
#       it reads back through S3 on node 2
#    8. kill -9 of node 3: every object reads back through nodes 1 and 2
#       (degraded reads: RS 4+2, placement puts at most two shards of a
#       stripe on one node, and step 5 saw shards on node 3); the mount
#       reads the 64 MiB object again from parity
#    9. node 3 restarts with the same configuration: every object reads
#       back through it; a new PUT through it reads back through 1 and 2;
#       the mount's direct connection to node 3 comes back
# Each step prints `ok: <step> (<seconds> s)`; the first failure prints
# `FAIL: [<step>] <reason>` and the tail of every node's stderr.
#
# Owner: the S3 gateway (gateways/s3) together with the runtime's
# cross-node chunk I/O and cluster key (runtime/remote_devices.*,
# runtime/node.cpp); ctest `s3_cluster` (tests/CMakeLists.txt).
#
#   usage: cluster_s3_test.sh /path/to/cairn
# Exits 77 (skipped) without Debian's /usr/bin/python3 with boto3
# (python3-boto3) or without the aws CLI (awscli). Ports 21701-21753.
# Nodes, waits and admin queries: tests/runtime/cluster_lib.sh; the aws
# CLI's environment: aws_lib.sh.
set -euo pipefail
cairn=${1:?usage: cluster_s3_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
base=21700

"$py" -c 'import boto3' 2>/dev/null || { echo "SKIP: $py has no boto3 (apt-get install python3-boto3)"; exit 77; }
# Debian's aws CLI v2 first (the one .ci/deps installs), else any on PATH.
aws=/usr/bin/aws
[[ -x $aws ]] || aws=$(command -v aws || true)
[[ -n "$aws" && -x "$aws" ]] || { echo "SKIP: no aws CLI (apt-get install awscli)"; exit 77; }

work=$(mktemp -d /tmp/cairn-s3-cluster-XXXXXX)
# Nodes, their TOML, waits, admin queries, the EXIT trap (cluster_cleanup).
# shellcheck source-path=SCRIPTDIR source=../../runtime/cluster_lib.sh
source "$here/../../runtime/cluster_lib.sh"
# shellcheck source-path=SCRIPTDIR source=aws_lib.sh
source "$here/aws_lib.sh"
declare -A sport
step_name="setup" step_t0=$SECONDS t_start=$SECONDS failed=0
summary=()

cluster_on_failure() {  # cluster_on_failure STATUS: the failing step, every node's stderr
  ((failed)) || echo "FAIL: [$step_name] exited with status $1" >&2
  node_err_tails >&2
}
trap cluster_cleanup EXIT
fail() { failed=1; echo "FAIL: [$step_name] $*" >&2; exit 1; }
step() { step_name=$1; step_t0=$SECONDS; log "== $step_name"; }
ok() {
  log "ok: $step_name ($((SECONDS - step_t0)) s)"
  summary+=("ok  $(printf '%4d' $((SECONDS - step_t0))) s  $step_name")
}

s3url() { echo "http://${ip[$1]}:${sport[$1]}"; }

# Each node's TOML (setup_node) adds its S3 port and three device files,
# created (sparse) on first start.
cluster_toml_top() {
  echo "s3_listen = \"${ip[$1]}:${sport[$1]}\""
  echo "nfs_listen = \"${ip[$1]}:${nport[$1]}\""
  echo "client_listen = \"${ip[$1]}:${cport[$1]}\""
}
declare -A cport
mnt=$work/mnt
mount_pid=""
cluster_teardown() {  # the FUSE mount of step 7c, if it is still up
  [[ -n "$mount_pid" ]] && kill -KILL "$mount_pid" 2>/dev/null
  fusermount3 -uz "$mnt" 2>/dev/null || true
}
can_mount() { [[ $(id -u) -eq 0 && -c /dev/fuse ]] && command -v fusermount3 >/dev/null; }
mount_stat() {  # mount_stat FIELD: a counter of `cairn cache --stats --json`
  "$cairn" cache --stats --json "$mnt" | "$py" -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
client_chunks() {  # client_chunks NODE local|relayed: node's cairn_client_chunk_requests_total
  curl -s --max-time 2 "$(admin "$1")/metrics" | sed -n "s/^cairn_client_chunk_requests_total{device=\"$2\"} //p"
}
nfsurl() { echo "nfs://${ip[$1]}$2?version=3&nfsport=${nport[$1]}&mountport=${nport[$1]}"; }
cluster_toml_tail() {
  local d="$work/n$1/data/devices"
  cat <<TOML
[chunk]
devices = ["$d/d0", "$d/d1", "$d/d2"]
device_mb = 256
# The bucket the boto3 phases create, exported three ways (docs/nfs.md).
[[nfs_exports]]
path = "/cluster"
bucket = "cluster"
root_squash = false
clients = ["127.0.0.0/8"]
[[nfs_exports]]
path = "/cluster-ro"
bucket = "cluster"
read_only = true
[[nfs_exports]]
path = "/cluster-denied"
bucket = "cluster"
clients = ["10.9.9.9", "192.0.2.0/24"]
TOML
}

s3_answers() {  # any HTTP answer from NODE's S3 port (an anonymous request is refused)
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(s3url "$1")/")" != 000 ]]
}
system_voters_are() { [[ "$(json_get "$1" /v1/status "','.join(map(str,j['system_shard']['voters']))")" == "$2" ]]; }
shard_leader() { json_get "$1" /v1/shards "[s for s in j['shards'] if s['id']==$2][0]['local']['leader']"; }
shard_voters_are() { [[ "$(json_get "$1" /v1/shards "','.join(map(str,[s for s in j['shards'] if s['id']==$2][0]['local']['voters']))")" == "$3" ]]; }
has_leader() { local l; l=$(shard_leader "$1" "$2"); [[ -n "$l" && "$l" != 0 ]]; }
led_by_one_of() {  # led_by_one_of NODE SHARD "1 2": NODE sees SHARD led by one of them
  local l; l=$(shard_leader "$1" "$2")
  [[ -n "$l" && " $3 " == *" $l "* ]]
}
# peer_state NODE PEER 0|1: NODE's outbound connection to PEER is down/up.
peer_state() {
  local m
  m=$(curl -s --max-time 2 "$(admin "$1")/metrics" 2>/dev/null) || return 1
  grep -q "^cairn_transport_peer_connected{peer=\"$2\"} $3\$" <<<"$m"
}
all_connected() {  # all_connected NODE...: every pair of them connected both ways
  local a b
  for a in "$@"; do for b in "$@"; do
    [[ $a == "$b" ]] || peer_state "$a" "$b" 1 || return 1
  done; done
}
# Shards written to NODE's chunk devices so far (/v1/devices).
shards_on() { json_get "$1" /v1/devices "sum(d.get('shards_written', 0) for d in j['devices'])"; }

s3py() {  # s3py PHASE [ARGS...]: one phase of cluster_s3_test.py
  PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$py" "$here/cluster_s3_test.py" "$1" \
    --state "$work/state.json" --access "$access" --secret "$secret" \
    --endpoints "$(s3url 1),$(s3url 2),$(s3url 3)" "${@:2}"
}

# --- 1. the cluster ------------------------------------------------------------
step "1. three nodes up (node 1 bootstraps, 2 and 3 join), healthy, all connected"
"$cairn" cert ca --out "$work/ca" --name s3-cluster >/dev/null
for i in 1 2 3; do
  sport[$i]=$((base + 20 + i)) nport[$i]=$((base + 30 + i)) cport[$i]=$((base + 40 + i))
  setup_node "$i"
done
start_cluster 3
wait_for 30 "every node connected to the other two" all_connected 1 2 3
for i in 1 2 3; do wait_for 30 "node $i's S3 gateway answers" s3_answers "$i"; done
for i in 1 2 3; do
  [[ -f "$work/n$i/data/devices/d2" ]] || fail "node $i did not create its device files under $work/n$i/data/devices"
done
ok

# --- 2. a data shard -----------------------------------------------------------
step "2. a data shard with 3 replicas"
shard=$(create_shard 3) || fail "cairn admin shards create"
log "data shard $shard"
for i in 1 2 3; do wait_for 60 "shard $shard led, seen from node $i" has_leader "$i" "$shard"; done
wait_for 60 "shard $shard voters 1,2,3" shard_voters_are 1 "$shard" 1,2,3
for i in 1 2 3; do wait_for 60 "node $i healthy with the data shard" healthy "$i"; done
ok

# --- 3. a tenant and an access key ----------------------------------------------
step "3. a tenant and an access key through node 1's admin endpoint"
"$cairn" admin tenant create s3-cluster --endpoint "$(admin 1)" --json >"$work/tenant" 2>"$work/tenant.err" ||
  fail "cairn admin tenant create: $(cat "$work/tenant.err")"
tenant=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$work/tenant" 2>/dev/null) ||
  fail "no tenant id in: $(cat "$work/tenant")"
"$cairn" admin key create --tenant "$tenant" --label cluster-test --endpoint "$(admin 1)" >"$work/key" 2>"$work/key.err" ||
  fail "cairn admin key create: $(cat "$work/key.err")"
access=$(sed -n 's/^access-key: //p' "$work/key")
secret=$(sed -n 's/^secret-key: //p' "$work/key")
[[ ${#access} == 20 && ${#secret} == 40 ]] || fail "key create printed: $(cat "$work/key")"
log "tenant $tenant, access key $access"
# Each node publishes its chunk devices in the cluster map (devices/<node>)
# shortly after it joins; no admin endpoint shows the map's device lists,
# so give the publications (rate-limited to one a second per node) time to
# commit and reach node 1 before the first chunk is placed. Step 5 checks
# that the placement did use every node.
sleep 2
ok

# --- 4. objects through node 1 -----------------------------------------------------
step "4. boto3 through node 1: bucket; PUT 0 B, 1 KiB, 5 MiB, 20 MiB; GET through node 1"
s3py write || fail "boto3 phase 'write' (above)"
ok

# --- 5. the chunk shards are spread over the nodes -------------------------------------
step "5. the objects' chunk shards are on the devices of all three nodes"
# The device actors report their counters periodically: wait a little.
spread_over_all() {
  local i n
  spread=""
  for i in 1 2 3; do
    n=$(shards_on "$i")
    spread+="node $i: ${n:-?} shards written; "
  done
  for i in 1 2 3; do
    n=$(shards_on "$i")
    [[ -n "$n" && "$n" -gt 0 ]] || return 1
  done
}
spread=""
end=$((SECONDS + 10))
until spread_over_all; do
  ((SECONDS < end)) || fail "the chunk shards are not on every node ($spread): placement did not use every node's devices"
  sleep 0.5
done
log "$spread"
ok

# --- 6. across nodes ---------------------------------------------------------------
step "6. boto3 across nodes: GET/HEAD via 2 and 3, ranges, list, multipart over 1/2/3, copy, delete"
s3py cross || fail "boto3 phase 'cross' (above)"
ok

# --- 7. the aws CLI -----------------------------------------------------------------
step "7. aws CLI: s3 cp of 64 MiB up through node 3, down through node 1"
aws_cli_env "$work" "$access" "$secret"  # nothing of the caller's AWS setup leaks in
log "$("$aws" --version 2>&1)"
head -c 64M /dev/urandom >"$work/big"
"$aws" --endpoint-url "$(s3url 3)" s3 cp --only-show-errors "$work/big" s3://cluster/aws/big.bin \
  >"$work/aws.out" 2>&1 || fail "aws s3 cp up through node 3: $(tail -5 "$work/aws.out")"
"$aws" --endpoint-url "$(s3url 1)" s3 cp --only-show-errors s3://cluster/aws/big.bin "$work/big.down" \
  >"$work/aws.out" 2>&1 || fail "aws s3 cp down through node 1: $(tail -5 "$work/aws.out")"
cmp "$work/big" "$work/big.down" || fail "the 64 MiB file downloaded through node 1 differs from the one uploaded through node 3"
# Recorded for steps 8 and 9, with the ETag of 8 parts of 8 MiB.
s3py add-file --key aws/big.bin --file "$work/big" --part-bytes 8388608 --nodes 1,2,3 >"$work/py.out" 2>&1 ||
  { cat "$work/py.out" >&2; fail "aws/big.bin HEAD through every node"; }
rm -f "$work/big.down"
ok

# --- 7b. NFS on every node, exports from cairn.toml ---------------------------------------
step "7b. NFS: the 64 MiB object read through node 2; a file written through node 3 read by S3 through node 1; read-only and client rules; an export added with cairn admin export"
if command -v nfs-cp >/dev/null; then
  nfs-cp "$(nfsurl 2 /cluster/aws/big.bin)" "$work/big.nfs" >/dev/null 2>"$work/nfs.err" ||
    fail "nfs-cp through node 2: $(cat "$work/nfs.err")"
  cmp -s "$work/big" "$work/big.nfs" || fail "the 64 MiB object read over NFS through node 2 differs"
  head -c 9000000 /dev/urandom >"$work/from-nfs"
  nfs-cp "$work/from-nfs" "$(nfsurl 3 /cluster/aws/from-nfs.bin)" >/dev/null 2>"$work/nfs.err" ||
    fail "nfs-cp into /cluster through node 3: $(cat "$work/nfs.err")"
  "$aws" --endpoint-url "$(s3url 1)" s3 cp --only-show-errors s3://cluster/aws/from-nfs.bin "$work/from-nfs.s3" \
    >"$work/aws.out" 2>&1 || fail "S3 GET through node 1 of a file written over NFS: $(tail -3 "$work/aws.out")"
  cmp -s "$work/from-nfs" "$work/from-nfs.s3" || fail "S3 through node 1 reads other bytes than NFS wrote through node 3"
  nfs-ls "$(nfsurl 1 /cluster-ro/aws)" 2>/dev/null | grep -q ' from-nfs.bin$' || fail "the read-only export does not list the file"
  if nfs-cp "$work/from-nfs" "$(nfsurl 1 /cluster-ro/aws/refused.bin)" >/dev/null 2>&1; then
    fail "a write through the read-only export succeeded"
  fi
  if nfs-ls "$(nfsurl 1 /cluster-denied)" >/dev/null 2>&1; then
    fail "a client outside the export's client list mounted it"
  fi
  "$aws" --endpoint-url "$(s3url 2)" s3 ls s3://cluster/aws/ >"$work/aws.out" 2>&1
  grep -q refused.bin "$work/aws.out" && fail "the refused write left an object"
  # Gone again, so the recorded key set of steps 8 and 9 holds.
  "$aws" --endpoint-url "$(s3url 1)" s3 rm --only-show-errors s3://cluster/aws/from-nfs.bin \
    >"$work/aws.out" 2>&1 || fail "S3 DELETE of the file written over NFS: $(tail -3 "$work/aws.out")"
  rm -f "$work/from-nfs" "$work/from-nfs.s3" "$work/big.nfs"
  # An export made through node 1's admin API (a catalog entry) is served
  # by node 3 within the gateways' 2 s cache, and removed through node 2.
  "$cairn" admin export add /cluster-admin --bucket cluster --no-root-squash --endpoint "$(admin 1)" \
    >"$work/export.out" 2>&1 || fail "cairn admin export add: $(cat "$work/export.out")"
  for _ in $(seq 1 50); do nfs-ls "$(nfsurl 3 /cluster-admin/aws)" >/dev/null 2>&1 && break; sleep 0.2; done
  nfs-ls "$(nfsurl 3 /cluster-admin/aws)" 2>/dev/null | grep -q ' big.bin$' ||
    fail "node 3 does not serve the export added through node 1"
  "$cairn" admin export remove /cluster-admin --endpoint "$(admin 2)" >"$work/export.out" 2>&1 ||
    fail "cairn admin export remove: $(cat "$work/export.out")"
  for _ in $(seq 1 50); do nfs-ls "$(nfsurl 3 /cluster-admin)" >/dev/null 2>&1 || break; sleep 0.2; done
  if nfs-ls "$(nfsurl 3 /cluster-admin)" >/dev/null 2>&1; then fail "node 3 still serves a removed export"; fi
else
  log "skipped: nfs-cp not installed (libnfs-utils)"
fi
ok

# --- 7c. FUSE: direct connections to every node ------------------------------------------
step "7c. FUSE through node 1: the 64 MiB object read with each chunk request sent to its device's node; a file written through the mount read by S3 through node 2"
if can_mount; then
  mkdir -p "$mnt"
  AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret "$cairn" mount "$mnt" \
    --endpoint "${ip[1]}:${cport[1]}" --ca "$work/n1/tls/ca.pem" --cache-mode bypass \
    --cache-dir "$work/fuse-cache" >"$work/mount.out" 2>"$work/mount.err" &
  mount_pid=$!
  wait_for 20 "cairn mount through node 1 is up" grep -q '^mounted: ' "$work/mount.out"
  wait_for 20 "the mount's direct connections to nodes 2 and 3" \
    eval '[[ $(mount_stat direct_connections) == 2 ]]'
  relayed_before=$(client_chunks 1 relayed)
  cmp "$work/big" "$mnt/cluster/aws/big.bin" || fail "the 64 MiB object reads other bytes through the mount"
  [[ $(mount_stat chunk_requests_relayed) == 0 ]] || fail "the mount relayed $(mount_stat chunk_requests_relayed) chunk requests through node 1"
  direct=$(mount_stat chunk_requests_direct)
  ((direct >= 64)) || fail "the mount sent $direct chunk requests straight to the devices' nodes (16 chunks x 4 data shards expected)"
  [[ $(client_chunks 1 relayed) == "$relayed_before" ]] || fail "node 1 relayed chunk requests for other nodes: $relayed_before -> $(client_chunks 1 relayed)"
  for i in 2 3; do
    n=$(client_chunks "$i" local)
    [[ -n "$n" && "$n" -gt 0 ]] || fail "node $i served no chunk request of the mount ('$n')"
  done
  head -c 9000000 /dev/urandom >"$work/from-fuse"
  cp "$work/from-fuse" "$mnt/cluster/aws/from-fuse.bin" || fail "cp into the mount"
  "$aws" --endpoint-url "$(s3url 2)" s3 cp --only-show-errors s3://cluster/aws/from-fuse.bin "$work/from-fuse.s3" \
    >"$work/aws.out" 2>&1 || fail "S3 GET through node 2 of a file written through the mount: $(tail -3 "$work/aws.out")"
  cmp -s "$work/from-fuse" "$work/from-fuse.s3" || fail "S3 through node 2 reads other bytes than the mount wrote"
  rm "$mnt/cluster/aws/from-fuse.bin" "$work/from-fuse" "$work/from-fuse.s3"  # the key set of steps 8 and 9
  log "$direct chunk requests straight to the devices' nodes, 0 relayed"
else
  log "skipped: mounting needs root, /dev/fuse and fusermount3 (fuse3)"
fi
ok

# --- 8. node 3 killed --------------------------------------------------------------
step "8. kill -9 node 3; every object reads back through nodes 1 and 2 (degraded)"
kill_node 3
# Raft, not the gateway: the shards node 3 led need a new leader among
# nodes 1 and 2 (an election timeout) before their metadata can be read.
for i in 1 2; do
  for s in 0 "$shard"; do wait_for 30 "shard $s led by node 1 or 2, seen from node $i" led_by_one_of "$i" "$s" "1 2"; done
  # The transport noticed (kill -9 closes the sockets at once), so node
  # 3's devices are `out` in the gateways' directory and reads of its
  # shards fail over to parity instead of waiting for an answer.
  wait_for 15 "node $i sees node 3 disconnected" peer_state "$i" 3 0
done
s3py verify --nodes 1,2 || fail "boto3 phase 'verify' through nodes 1 and 2 with node 3 down (above)"
if [[ -n "$mount_pid" ]]; then
  cmp "$work/big" "$mnt/cluster/aws/big.bin" || fail "with node 3 down, the mount reads other bytes of the 64 MiB object"
  [[ $(mount_stat degraded_reads) -gt 0 ]] || fail "with node 3 down, no read through the mount needed parity"
fi
ok

# --- 9. node 3 back -----------------------------------------------------------------
step "9. node 3 restarts; every object reads back through it; a new PUT through it reads back through 1 and 2"
start_node 3
wait_for 60 "node 3 healthy again" healthy 3
wait_for 30 "every node connected to the other two again" all_connected 1 2 3
wait_for 30 "node 3's S3 gateway answers" s3_answers 3
s3py verify --nodes 3 || fail "boto3 phase 'verify' through node 3 after its restart (above)"
s3py put-new --via 3 --nodes 1,2 || fail "boto3 phase 'put-new' through node 3, read through 1 and 2 (above)"
if [[ -n "$mount_pid" ]]; then
  wait_for 20 "the mount's direct connection to node 3 again" eval '[[ $(mount_stat direct_connections) == 2 ]]'
  before=$(client_chunks 3 local)
  cmp "$work/big" "$mnt/cluster/aws/big.bin" || fail "after node 3's restart, the mount reads other bytes"
  [[ $(client_chunks 3 local) -gt ${before:-0} ]] || fail "after its restart, node 3 served no chunk request of the mount"
  kill -TERM "$mount_pid"
  wait "$mount_pid" || fail "cairn mount exited non-zero on SIGTERM"
  mount_pid=""
fi
rm -f "$work/big"
ok

step "summary"
objects=$($py -c "import json,sys; s=json.load(open(sys.argv[1]))['objects']; print(f\"{len(s)} objects, {sum(o['size'] for o in s.values())/1048576:.1f} MiB\")" "$work/state.json")
echo "s3 on a 3-node cluster (ports $base+): all checks passed in $((SECONDS - t_start)) s; $objects"
printf '  %s\n' "${summary[@]}"
