# shellcheck shell=bash
# tests/runtime/cluster_lib.sh — real `cairn server` nodes on this machine
# for the bash tests that start a cluster, as an operator would run them:
# each node's certificate (from a cluster CA made with `cairn cert ca`) and
# TOML file, its process, waits on its admin endpoint, and the EXIT trap
# that stops every node and removes the work directory. Sourced, not run,
# at the top level of the test (it declares global tables).
#
# Owner: the runtime (runtime/: `cairn server`, its configuration,
# transport and admin endpoint). Used by tests/runtime/cluster_test.sh
# (ctest cluster_*) and tests/gateways/s3/cluster_s3_test.sh (ctest
# s3_cluster): a change here runs under both.
#
# The caller sets, before sourcing:
#   cairn          the cairn binary
#   work           a temporary directory: node ID lives in $work/nID (its
#                  cairn.toml, tls/, data/, and the process's out and err),
#                  the cluster CA in $work/ca; cluster_cleanup removes it
#   base           ports: node ID's transport on base+ID, admin on
#                  base+50+ID (setup_node)
#   py             the python3 that parses the admin endpoint's JSON
#   cluster_netns  (optional) run node ID inside network namespace
#                  ${cluster_netns}ID (start_node); unset or empty: not
# and defines fail MESSAGE (print MESSAGE, exit 1), which wait_for and
# healthy call. Node tables, associative by node ID, declared here:
#   pid ip tport aport   process id ("" once stopped), address, transport
#                        and admin port.
# Functions:
#   log MESSAGE...             MESSAGE with the time of day.
#   admin ID                   node ID's admin URL (http://ip:aport).
#   json_get ID PATH PYEXPR    PYEXPR with `j` bound to the JSON answer of
#                              GET PATH on node ID's admin endpoint; prints
#                              the result (empty on any error).
#   setup_node ID [IP]         node ID on IP (default 127.0.0.1): sets
#                              ip/tport/aport, its certificate from
#                              $work/ca, and $work/nID/cairn.toml (node 1
#                              bootstraps, the others list node 1 as their
#                              peer; raft tick 20 ms, 25 election ticks,
#                              2 heartbeat ticks). Hooks, called when the
#                              caller defines them, print extra TOML:
#                                cluster_toml_top ID   top-level keys
#                                                      (before [tls])
#                                cluster_toml_tail ID  after [raft]: more
#                                                      [raft] keys, then
#                                                      any further tables
#   start_node ID [ARGS...]    `cairn server --config $work/nID/cairn.toml
#                              ARGS` in the background (stdout appended to
#                              $work/nID/out, stderr to $work/nID/err);
#                              sets pid[ID].
#   kill_node ID [SIGNAL]      sends SIGNAL (default KILL) to node ID and
#                              waits until it is gone; pid[ID]="".
#   wait_for SECONDS WHAT COMMAND...
#                              runs COMMAND every 0.2 s until it succeeds;
#                              fail "timed out ... WHAT" after SECONDS.
#   healthy ID                 node ID's /health answers 200 (fail when its
#                              process has exited).
#   system_voters_are ID LIST  node ID sees the system shard's voters as
#                              LIST (e.g. 1,2,3).
#   shard_leader ID SHARD      prints SHARD's leader as node ID sees it.
#   shard_voters_are ID SHARD LIST
#                              node ID sees SHARD's voters as LIST.
#   has_leader ID SHARD        node ID sees a leader for SHARD.
#   start_cluster N            nodes 1..N, set up already: 1 bootstraps,
#                              the others join; waits until all are healthy
#                              and are the system shard's voters.
#   create_shard REPLICAS      `cairn admin shards create` through node 1;
#                              prints the new data shard's id.
#   node_err_tails             the last 25 lines of every node's stderr.
#   cluster_cleanup            for `trap cluster_cleanup EXIT`: SIGKILL every
#                              node still running and wait until it is
#                              gone; then cluster_teardown, if defined (the
#                              caller's mounts, namespaces...); when the
#                              exit status is neither 0 nor 77 (skip),
#                              cluster_on_failure STATUS if defined, else
#                              node_err_tails; last, rm -rf $work.

: "${cairn:?cluster_lib.sh: set cairn before sourcing}" "${work:?cluster_lib.sh: set work before sourcing}"
: "${base:?cluster_lib.sh: set base before sourcing}" "${py:?cluster_lib.sh: set py before sourcing}"
declare -gA pid ip tport aport
cluster_netns=${cluster_netns:-}

log() { echo "[$(date +%T)] $*"; }

admin() { echo "http://${ip[$1]}:${aport[$1]}"; }

json_get() {
  curl -s --max-time 5 "$(admin "$1")$2" 2>/dev/null |
    $py -c "import json,sys
try:
  j=json.load(sys.stdin); r=($3)
  print('' if r is None else r)
except Exception: print('')" 2>/dev/null || true
}

setup_node() {
  local i=$1
  ip[$i]=${2:-127.0.0.1}
  tport[$i]=$((base + i))
  aport[$i]=$((base + 50 + i))
  mkdir -p "$work/n$i"
  "$cairn" cert node --ca "$work/ca" --id "$i" --out "$work/n$i/tls" --host "${ip[$i]}" >/dev/null
  local toml="$work/n$i/cairn.toml"
  cat >"$toml" <<TOML
node_id = $i
data_dir = "$work/n$i/data"
listen = "${ip[$i]}:${tport[$i]}"
admin_listen = "${ip[$i]}:${aport[$i]}"
TOML
  if [[ $i != 1 ]]; then echo "peers = [\"${ip[1]}:${tport[1]}\"]" >>"$toml"; fi
  if declare -F cluster_toml_top >/dev/null; then cluster_toml_top "$i" >>"$toml"; fi
  cat >>"$toml" <<TOML
[tls]
ca_cert = "$work/n$i/tls/ca.pem"
cert = "$work/n$i/tls/node.pem"
key = "$work/n$i/tls/node.key"
[raft]
tick_ms = 20
election_ticks = 25
heartbeat_ticks = 2
TOML
  if declare -F cluster_toml_tail >/dev/null; then cluster_toml_tail "$i" >>"$toml"; fi
}

start_node() {
  local i=$1; shift
  local prefix=()
  if [[ -n "$cluster_netns" ]]; then prefix=(ip netns exec "$cluster_netns$i"); fi
  "${prefix[@]}" "$cairn" server --config "$work/n$i/cairn.toml" "$@" >>"$work/n$i/out" 2>>"$work/n$i/err" &
  pid[$i]=$!
  disown "${pid[$i]}"  # no job-control chatter when a node is killed
}

kill_node() {
  kill "-${2:-KILL}" "${pid[$1]}"
  while kill -0 "${pid[$1]}" 2>/dev/null; do sleep 0.05; done
  pid[$1]=""
}

wait_for() {
  local seconds=$1 what=$2; shift 2
  local end=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < end)) || fail "timed out after ${seconds}s waiting for: $what"
    sleep 0.2
  done
}

healthy() {
  if [[ -n "${pid[$1]:-}" ]] && ! kill -0 "${pid[$1]}" 2>/dev/null; then
    fail "node $1 exited: $(tail -3 "$work/n$1/err")"
  fi
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(admin "$1")/health")" == 200 ]]
}

system_voters_are() { [[ "$(json_get "$1" /v1/status "','.join(map(str,j['system_shard']['voters']))")" == "$2" ]]; }
shard_leader() { json_get "$1" /v1/shards "[s for s in j['shards'] if s['id']==$2][0]['local']['leader']"; }
shard_voters_are() { [[ "$(json_get "$1" /v1/shards "','.join(map(str,[s for s in j['shards'] if s['id']==$2][0]['local']['voters']))")" == "$3" ]]; }
has_leader() { local l; l=$(shard_leader "$1" "$2"); [[ -n "$l" && "$l" != 0 ]]; }

start_cluster() {
  local n=$1 i
  start_node 1 --bootstrap
  wait_for 60 "node 1 healthy" healthy 1
  for ((i = 2; i <= n; i++)); do start_node "$i"; done
  for ((i = 2; i <= n; i++)); do wait_for 60 "node $i healthy" healthy "$i"; done
  local want; want=$(seq -s, 1 "$n")
  wait_for 60 "system shard voters $want" system_voters_are 1 "$want"
  log "cluster of $n up; system shard voters $want"
}

create_shard() {
  "$cairn" admin shards create --replicas "$1" --endpoint "$(admin 1)" --json |
    $py -c "import json,sys; print(json.load(sys.stdin)['id'])"
}

node_err_tails() {
  local f
  for f in "$work"/n*/err; do [[ -f "$f" ]] && { echo "--- $f (tail)"; tail -25 "$f"; }; done
  return 0
}

cluster_cleanup() {
  local rc=$? i
  for i in "${!pid[@]}"; do
    if [[ -n "${pid[$i]}" ]] && kill -0 "${pid[$i]}" 2>/dev/null; then kill -KILL "${pid[$i]}" 2>/dev/null || true; fi
  done
  for i in "${!pid[@]}"; do
    while [[ -n "${pid[$i]}" ]] && kill -0 "${pid[$i]}" 2>/dev/null; do sleep 0.05; done
  done
  if declare -F cluster_teardown >/dev/null; then cluster_teardown; fi
  if ((rc != 0 && rc != 77)); then
    if declare -F cluster_on_failure >/dev/null; then cluster_on_failure "$rc"; else node_err_tails; fi
  fi
  rm -rf "$work"
}
