# shellcheck shell=bash
# tests/gateways/s3/dev_lib.sh — starts and stops a real `cairn dev` for
# the S3 client tests (s3_dev_test.sh, cli_clients_test.sh,
# js_sdk_test.sh). Sourced, not run. The caller sets `work` (a temporary
# directory it removes) before calling anything here, and calls dev_kill
# from its EXIT trap.
#   dev_start CAIRN DEVICE_MB [ARGS...]
#                              starts `cairn dev --data $work/data ARGS` on free
#                              ports (stdout in $work/out, stderr in
#                              $work/err), waits for its key lines and
#                              health; sets pid, endpoint, access, secret,
#                              admin. The client port is $dev_client_port
#                              if set (a restart on the port a mount uses).
#   dev_stop                   SIGTERM; fails unless it exits 0.
#   dev_kill                   SIGKILL if still running (for traps).
#   fail MESSAGE               prints MESSAGE and the tail of $work/err,
#                              exits 1.

: "${work:?dev_lib.sh: set work before sourcing}"
pid=""
endpoint="" access="" secret="" admin="" metrics=""

fail() { echo "FAIL: $*" >&2; tail -20 "$work/err" 2>/dev/null | sed 's/^/  err: /' >&2; exit 1; }

dev_kill() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
}

dev_start() {
  local cairn=$1 device_mb=$2
  shift 2
  "$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port "${dev_client_port:-0}" --device-mb "$device_mb" "$@" \
    >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 300); do
    grep -q '^secret-key: ' "$work/out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "cairn dev exited early"
    sleep 0.1
  done
  endpoint=$(sed -n 's/^s3-endpoint: //p' "$work/out")
  access=$(sed -n 's/^access-key: //p' "$work/out")
  secret=$(sed -n 's/^secret-key: //p' "$work/out")
  admin=$(sed -n 's/^admin-endpoint: //p' "$work/out")
  metrics=$(sed -n 's/^metrics: //p' "$work/out")
  [[ -n "$endpoint" && -n "$access" && -n "$secret" ]] || fail "no s3-endpoint/access-key/secret-key lines"
  grep -q "aws --endpoint-url $endpoint" "$work/out" || fail "no aws command line printed"
  # The data shard comes up shortly after start.
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -w '%{http_code}' "$admin/health" | grep -q 200 && break
    sleep 0.1
  done
}

dev_stop() {
  kill -TERM "$pid"
  wait "$pid" || fail "cairn dev exited non-zero on SIGTERM"
  pid=""
}
