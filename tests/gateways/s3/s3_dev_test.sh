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
# shellcheck source=dev_lib.sh
source "$here/dev_lib.sh"
cleanup() {
  dev_kill
  rm -rf "$work"
}
trap cleanup EXIT

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

dev_start "$cairn" 64

for py in "${pythons[@]}"; do
  echo "== $py"
  "$py" "$here/boto3_test.py" "$endpoint" "$access" "$secret" || fail "boto3 checks failed with $py"
  "$py" "$here/boto3_ops_test.py" "$endpoint" "$access" "$secret" || fail "boto3 operation checks failed with $py"
done

dev_stop
if grep -rqa "cairn-s3-plaintext-marker-5d1f" "$work/data"; then
  grep -rla "cairn-s3-plaintext-marker-5d1f" "$work/data" >&2
  fail "plaintext written through S3 found in the data directory"
fi
echo "s3 through cairn dev: boto3 checks passed (${#pythons[@]} client version(s)); no plaintext on disk"
