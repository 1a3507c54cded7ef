#!/usr/bin/env bash
# tests/gateways/s3/s3_dev_test.sh — the S3 gateway through a real
# `cairn dev` process and real boto3 clients (boto3_test.py: buckets,
# objects, listings, auth; boto3_ops_test.py: multipart, copies, batch
# deletes, versions, conditions, virtual hosts), then a scan of
# the whole data directory for the plaintext the clients wrote (issue 5:
# no object byte reaches a disk in plaintext). Stops what it starts.
#   usage: s3_dev_test.sh /path/to/cairn
set -euo pipefail
cairn=${1:?usage: s3_dev_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$work/err" 2>/dev/null | sed 's/^/  err: /' >&2; exit 1; }

# Pythons with boto3: Debian's first, then another on PATH if it differs.
pythons=()
for py in /usr/bin/python3 "$(command -v python3 || true)"; do
  [[ -n "$py" && -x "$py" ]] || continue
  "$py" -c 'import boto3' 2>/dev/null || continue
  v=$("$py" -c 'import botocore; print(botocore.__version__)')
  [[ " ${seen:-} " == *" $v "* ]] && continue
  seen="${seen:-} $v"
  pythons+=("$py")
done
((${#pythons[@]})) || { echo "SKIP: no python3 with boto3 (apt-get install python3-boto3)"; exit 77; }

"$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --device-mb 64 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 150); do
  grep -q '^secret-key: ' "$work/out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "cairn dev exited early"
  sleep 0.1
done
endpoint=$(sed -n 's/^s3-endpoint: //p' "$work/out")
access=$(sed -n 's/^access-key: //p' "$work/out")
secret=$(sed -n 's/^secret-key: //p' "$work/out")
[[ -n "$endpoint" && -n "$access" && -n "$secret" ]] || fail "no s3-endpoint/access-key/secret-key lines"
grep -q "aws --endpoint-url $endpoint" "$work/out" || fail "no aws command line printed"
# The data shard comes up shortly after start.
for _ in $(seq 1 100); do
  curl -s -o /dev/null -w '%{http_code}' "$(sed -n 's/^admin-endpoint: //p' "$work/out")/health" | grep -q 200 && break
  sleep 0.1
done

for py in "${pythons[@]}"; do
  echo "== $py"
  "$py" "$here/boto3_test.py" "$endpoint" "$access" "$secret" || fail "boto3 checks failed with $py"
  "$py" "$here/boto3_ops_test.py" "$endpoint" "$access" "$secret" || fail "boto3 operation checks failed with $py"
done

kill -TERM "$pid"
wait "$pid" || fail "cairn dev exited non-zero on SIGTERM"
pid=""
if grep -rqa "cairn-s3-plaintext-marker-5d1f" "$work/data"; then
  grep -rla "cairn-s3-plaintext-marker-5d1f" "$work/data" >&2
  fail "plaintext written through S3 found in the data directory"
fi
echo "s3 through cairn dev: boto3 checks passed (${#pythons[@]} client version(s)); no plaintext on disk"
