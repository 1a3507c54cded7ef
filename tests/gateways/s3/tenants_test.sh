#!/usr/bin/env bash
# tests/gateways/s3/tenants_test.sh — tenants and access keys (ADR 0006)
# through the real binary: `cairn admin tenant|key` against a running
# `cairn dev`, isolation between tenants through boto3 (tenants_test.py),
# a deleted key refused on the next connection, the dev key surviving a
# restart, and no secret in plaintext anywhere in the data directory.
#   usage: tenants_test.sh /path/to/cairn
set -euo pipefail
cairn=${1:?usage: tenants_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
source "$here/dev_lib.sh"
trap 'dev_kill; rm -rf "$work"' EXIT
py=/usr/bin/python3  # Debian's, with python3-boto3 (.ci/deps)
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"  # s3check.py
"$py" -c 'import boto3' 2>/dev/null || { echo "SKIP: $py has no boto3 (apt-get install python3-boto3)"; exit 77; }

start() { dev_start "$cairn" 32; }
stop() { dev_stop; }
field() { sed -n "s/^$1: //p" "$2"; }

start
endpoint=$(field s3-endpoint "$work/out")
admin=$(field admin-endpoint "$work/out")
dev_key=$(field access-key "$work/out")
dev_secret=$(field secret-key "$work/out")
export CAIRN_ADMIN_ENDPOINT=$admin

"$cairn" admin tenant create team-two >"$work/tenant" || fail "tenant create"
tenant=$(sed -n 's/^ *"id": \([0-9]*\),*$/\1/p' "$work/tenant")
[[ -n "$tenant" ]] || fail "no tenant id in: $(cat "$work/tenant")"
echo "ok: tenant create (id $tenant)"
if "$cairn" admin tenant create team-two 2>"$work/dup"; then fail "a duplicate tenant name was accepted"; fi
grep -q "exists" "$work/dup" || fail "duplicate tenant: $(cat "$work/dup")"
if "$cairn" admin tenant create "Bad Name" 2>"$work/bad"; then fail "a bad tenant name was accepted"; fi
grep -q "^cairn admin: name:" "$work/bad" || fail "bad name error does not name the field: $(cat "$work/bad")"
echo "ok: duplicate and malformed tenant names refused, naming the field"
"$cairn" admin tenant | grep -q "team-two" || fail "tenant list"

"$cairn" admin key create --tenant "$tenant" --label ci >"$work/key" || fail "key create"
key=$(field access-key "$work/key")
secret=$(field secret-key "$work/key")
[[ ${#key} == 20 && ${#secret} == 40 ]] || fail "key create printed: $(cat "$work/key")"
if "$cairn" admin key create --tenant 999 2>"$work/nokey"; then fail "a key for an unknown tenant"; fi
grep -q "^cairn admin: tenant:" "$work/nokey" || fail "unknown tenant: $(cat "$work/nokey")"
"$cairn" admin key --tenant "$tenant" >"$work/keys"
grep -q "$key" "$work/keys" || fail "key list lacks the new key"
grep -q "$secret" "$work/keys" && fail "key list shows a secret"
"$cairn" admin key --json | grep -q "$secret" && fail "key list --json shows a secret"
echo "ok: key create, list (no secrets)"

"$py" "$here/tenants_test.py" "$endpoint" "$dev_key" "$dev_secret" "$key" "$secret" || fail "isolation"

"$cairn" admin key delete "$key" >/dev/null || fail "key delete"
"$py" - "$endpoint" "$key" "$secret" <<'PY' || fail "a deleted key still works"
import sys, botocore, s3check
s3check.expect_error("InvalidAccessKeyId", s3check.client(*sys.argv[1:4]).list_buckets)
PY
echo "ok: a deleted key is refused"

stop
start
endpoint=$(field s3-endpoint "$work/out")  # a new port
[[ "$(field access-key "$work/out")" == "$dev_key" && "$(field secret-key "$work/out")" == "$dev_secret" ]] ||
  fail "cairn dev printed another key after a restart"
"$py" - "$endpoint" "$dev_key" "$dev_secret" <<'PY' || fail "the dev key after a restart"
import sys, s3check
e = sys.argv[1]
c = s3check.client(e, *sys.argv[2:4])
assert c.get_object(Bucket="cairn", Key="private.txt")["Body"].read() == b"tenant one"
PY
echo "ok: the dev key and its data survive a restart"
stop
for s in "$dev_secret" "$secret"; do
  if grep -rqaF -- "$s" "$work/data"; then fail "a secret is stored in plaintext: $(grep -rlaF -- "$s" "$work/data")"; fi
done
echo "ok: no secret in plaintext in the data directory"
echo "tenants and access keys: all checks passed"
