#!/usr/bin/env bash
# tests/runtime/cairn_dev_test.sh — `cairn dev` as a user runs it: a real
# process on 127.0.0.1 with a fresh data directory. Checks the printed
# endpoint lines, /health, a replicated write and a linearizable read through
# /kv, bad input (oversized body, bad key), the Prometheus output with
# promtool, and that data survives a restart (SIGTERM, then start again on
# the same directory). Stops every process it starts.
#   usage: cairn_dev_test.sh /path/to/cairn
set -euo pipefail
cairn=${1:?usage: cairn_dev_test.sh /path/to/cairn}
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$work/out" ]] && sed 's/^/  out: /' "$work/out" >&2; [[ -f "$work/err" ]] && tail -20 "$work/err" | sed 's/^/  err: /' >&2; exit 1; }

start() {
  "$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 --device-mb 64 >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q '^admin-endpoint: ' "$work/out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "cairn dev exited early"
    sleep 0.1
  done
  endpoint=$(sed -n 's/^admin-endpoint: //p' "$work/out")
  [[ -n "$endpoint" ]] || fail "no admin-endpoint line"
  for _ in $(seq 1 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/health")" == 200 ]] && return 0
    sleep 0.1
  done
  fail "/health did not become 200"
}

stop() {
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "cairn dev did not stop on SIGTERM"
  wait "$pid" || fail "cairn dev exited non-zero on SIGTERM"
  pid=""
}

start
for line in admin-endpoint health metrics data-dir s3-endpoint access-key secret-key; do
  grep -q "^$line: " "$work/out" || fail "missing '$line:' line"
done

# A write and a linearizable read.
[[ "$(curl -s -X PUT --data-binary 'hello world' "$endpoint/v1/kv/greeting")" == "stored" ]] || fail "PUT"
[[ "$(curl -s "$endpoint/v1/kv/greeting")" == "hello world" ]] || fail "GET after PUT"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/v1/kv/missing")" == 404 ]] || fail "missing key is not 404"

# Bad input gets a clear error and changes nothing.
head -c 70000 /dev/zero | tr '\0' x > "$work/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$work/big" "$endpoint/v1/kv/big")
[[ "$code" == 413 ]] || fail "oversized body gave $code, not 413"
[[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$endpoint/v1/kv/greeting")" == 405 ]] || fail "DELETE not 405"
[[ "$(curl -s "$endpoint/v1/kv/greeting")" == "hello world" ]] || fail "value changed by bad requests"

# Metrics in Prometheus text format, checked by promtool.
curl -s "$endpoint/metrics" > "$work/metrics"
grep -q '^cairn_raft_term{shard="0"} [1-9]' "$work/metrics" || fail "no raft term metric"
grep -q '^cairn_storage_fsync_seconds_count [1-9]' "$work/metrics" || fail "no fsync histogram"
[[ $(grep -c '^cairn_device_up{device="[0-9]*"} 1' "$work/metrics") == 6 ]] || fail "not 6 chunk devices up"
if command -v promtool >/dev/null; then
  promtool check metrics < "$work/metrics" || fail "promtool rejected /metrics"
else
  fail "promtool not installed (Debian package prometheus)"
fi

# Chunk devices, the event log and repair through the admin CLI.
"$cairn" admin devices --endpoint "$endpoint" > "$work/devices" || fail "admin devices"
[[ $(grep -c ' up ' "$work/devices") == 6 ]] || fail "admin devices does not list 6 devices up: $(cat "$work/devices")"
"$cairn" admin events --endpoint "$endpoint" > "$work/events" || fail "admin events"
grep -q 'master_key_created' "$work/events" || fail "no master_key_created event"
[[ $(grep -c 'device_opened' "$work/events") == 6 ]] || fail "not 6 device_opened events"
"$cairn" admin repair start --wait --endpoint "$endpoint" > "$work/repair" || fail "admin repair start"
grep -q 'slices 256/256' "$work/repair" || fail "repair pass did not finish: $(cat "$work/repair")"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/v1/events?after=x")" == 400 ]] || fail "bad after= is not 400"
stat -c %a "$work/data/keys/master.key" | grep -qx 600 || fail "master key file is not mode 600"

# Durable across a restart; the same master key; devices reopen clean.
key_before=$(sha256sum "$work/data/keys/master.key")
stop
start
[[ "$(curl -s "$endpoint/v1/kv/greeting")" == "hello world" ]] || fail "value lost across restart"
[[ "$(sha256sum "$work/data/keys/master.key")" == "$key_before" ]] || fail "master key changed"
"$cairn" admin devices --endpoint "$endpoint" | grep -c 'L0 clean' | grep -qx 6 || fail "devices did not reopen clean"
stop

# A master key file others can read is refused, naming the file.
chmod 644 "$work/data/keys/master.key"
"$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 >"$work/out" 2>"$work/err" && fail "started with an exposed master key"
grep -q "master.key.*chmod 600" "$work/err" || fail "no clear error for the exposed master key: $(cat "$work/err")"
echo "cairn dev: endpoints, kv, bad input, metrics (promtool), devices, events, repair and restart all ok"
