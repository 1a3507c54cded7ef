#!/usr/bin/env bash
# tests/gateways/s3/js_sdk_test.sh — the S3 gateway of a real `cairn dev`
# through the AWS SDK for JavaScript v3 with its default settings
# (js/sdk_test.mjs: aws-chunked uploads with CRC32 trailers, a lib-storage
# multipart Upload, reads, ranges, ETags, listings, copies, deletes,
# virtual hosts), then a scan of the data directory for the plaintext it
# wrote. The SDK comes from npm (js/package-lock.json, installed with npm
# ci into js/node_modules); skipped (77) when node or npm is missing or
# the npm registry cannot be reached. Stops what it starts.
#   usage: js_sdk_test.sh /path/to/cairn
set -euo pipefail
cairn=${1:?usage: js_sdk_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are needed (apt-get install nodejs npm)"
  exit 77
fi
# The current SDK needs node 20 or later (Debian 12's own nodejs is 18).
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "SKIP: the AWS SDK for JavaScript v3 needs node >= 20; this node is $(node --version)"
  exit 77
fi
if ! (cd "$here/js" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
  if ! npm ping >/dev/null 2>&1; then
    echo "SKIP: npm could not reach its registry to install the AWS SDK (cd tests/gateways/s3/js && npm ci --ignore-scripts)"
    exit 77
  fi
  echo "FAIL: npm ci in $here/js failed with the registry reachable" >&2
  exit 1
fi

work=$(mktemp -d)
# shellcheck source=dev_lib.sh
source "$here/dev_lib.sh"
cleanup() {
  dev_kill
  rm -rf "$work"
}
trap cleanup EXIT

# The SDK reads AWS_* (profiles, CA bundles, endpoints) from the
# environment: none of the caller's reach it.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^AWS_' || true)
export HOME="$work/home"
mkdir -p "$HOME"

dev_start "$cairn" 64
node "$here/js/sdk_test.mjs" "$endpoint" "$access" "$secret" || fail "AWS SDK for JavaScript checks failed (above)"
dev_stop
if LC_ALL=C grep -rqaF "cairn-s3-plaintext-marker-5d1f" "$work/data"; then
  LC_ALL=C grep -rlaF "cairn-s3-plaintext-marker-5d1f" "$work/data" >&2
  fail "plaintext written through S3 found in the data directory"
fi
echo "s3 through cairn dev: AWS SDK for JavaScript checks passed; no plaintext on disk"
