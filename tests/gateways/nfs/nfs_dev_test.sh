#!/usr/bin/env bash
# tests/gateways/nfs/nfs_dev_test.sh — the NFS gateway of a real `cairn dev`
# with a real NFS client: Debian's libnfs-utils (nfs-ls, nfs-cat, nfs-cp,
# user-space NFSv3 over TCP; this machine has no kernel NFS client). Objects
# are written through S3 (the aws CLI) and read through NFS: the tree,
# small (inline) and multi-chunk files byte for byte, a subdirectory
# mount, a directory of 1,000 entries listed through READDIRPLUS pages, a
# delete seen at once; then every procedure through libnfs
# (nfs_client_test, a program linked against libnfs-dev), the tree it
# leaves seen through S3, and raw-RPC bad input (rpc_bad_input.py).
#   nfs_dev_test.sh CAIRN NFS_CLIENT_TEST
set -euo pipefail
cairn=${1:?usage: nfs_dev_test.sh CAIRN NFS_CLIENT_TEST}
client_test=${2:?usage: nfs_dev_test.sh CAIRN NFS_CLIENT_TEST}
here=$(cd "$(dirname "$0")" && pwd)
for tool in nfs-ls nfs-cat nfs-cp aws; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is needed (apt-get install libnfs-utils awscli)"; exit 77; }
done
work=$(mktemp -d /tmp/cairn-nfs-dev.XXXXXX)
# shellcheck source=../s3/dev_lib.sh
source "$here/../s3/dev_lib.sh"
trap 'dev_kill; rm -rf "$work"' EXIT

dev_start "$cairn" 512  # 6 devices: room for the 1 GiB file (RS 4+2)
url=$(sed -n 's/^nfs-url: //p' "$work/out")
export_line=$(sed -n 's/^nfs-export: //p' "$work/out")
[[ -n "$url" && -n "$export_line" ]] || fail "cairn dev printed no nfs-url/nfs-export lines"
grep -q "nfs-ls '$url'" "$work/out" || fail "no nfs-ls command line printed"
port=${export_line#127.0.0.1:}
port=${port%%:*}
# nfs://127.0.0.1/cairn/<path>?<options>
at() { echo "${url%%\?*}/$1?${url#*\?}"; }

export AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
s3() { aws --endpoint-url "$endpoint" "$@"; }

mkdir -p "$work/src/docs" "$work/src/deep/x/y" "$work/many"
echo "hello through nfs" >"$work/src/docs/a.txt"
printf 'b' >"$work/src/docs/b.txt"
head -c 3000000 /dev/urandom >"$work/src/deep/x/y/three.bin"
head -c 10000000 /dev/urandom >"$work/src/big.bin"  # three 4 MiB chunks
for i in $(seq -w 1 1000); do echo "$i" >"$work/many/f$i"; done
s3 s3 cp --quiet --recursive "$work/src" s3://cairn/ || fail "aws s3 cp --recursive"
s3 s3 sync --quiet "$work/many" s3://cairn/many || fail "aws s3 sync of 1,000 files"
s3 s3api put-object --bucket cairn --key marker/ >/dev/null || fail "put a directory marker"

# The tree, as nfs-ls -R sees it.
listing=$(nfs-ls -R "$url") || fail "nfs-ls -R failed"
for p in docs docs/a.txt docs/b.txt deep deep/x deep/x/y deep/x/y/three.bin big.bin many marker; do
  grep -Eq " $p\$" <<<"$listing" || fail "nfs-ls -R does not show $p"
done
[[ $(grep -c ' many/f' <<<"$listing") -eq 1000 ]] ||
  fail "nfs-ls -R shows $(grep -c ' many/f' <<<"$listing") of the 1,000 files in many/"
grep -Eq '^-rw-r--r-- .* 10000000 big\.bin$' <<<"$listing" || fail "big.bin's mode or size: $(grep big.bin <<<"$listing")"
grep -Eq '^d' <<<"$(grep ' deep$' <<<"$listing")" || fail "deep is not a directory"
echo "ok   nfs-ls -R shows the tree S3 wrote, 1,000 entries of many/ included"

# Bytes, small (inline in the Raft log) and chunked.
[[ $(nfs-cat "$(at docs/a.txt)") == "hello through nfs" ]] || fail "nfs-cat docs/a.txt"
nfs-cp "$(at big.bin)" "$work/big.copy" >/dev/null || fail "nfs-cp big.bin"
cmp -s "$work/src/big.bin" "$work/big.copy" || fail "big.bin read through NFS differs"
nfs-cp "$(at deep/x/y/three.bin)" "$work/three.copy" >/dev/null || fail "nfs-cp three.bin"
cmp -s "$work/src/deep/x/y/three.bin" "$work/three.copy" || fail "three.bin read through NFS differs"
echo "ok   nfs-cat and nfs-cp read inline and multi-chunk files byte for byte"

# A subdirectory of the export mounts (libnfs mounts /cairn/deep/x).
[[ $(nfs-ls "$(at deep/x)" | grep -c ' y$') -eq 1 ]] || fail "nfs-ls of a subdirectory mount"
if nfs-cat "$(at docs/missing.txt)" >/dev/null 2>&1; then fail "nfs-cat of a missing file succeeded"; fi
if nfs-ls "nfs://127.0.0.1/not-exported?version=3&nfsport=$port&mountport=$port" >/dev/null 2>&1; then
  fail "mounting a path that is not exported succeeded"
fi
echo "ok   subdirectory mounts; missing files and unexported paths are refused"

# A delete through S3 is seen through NFS at once (no attribute cache).
s3 s3 rm --quiet s3://cairn/docs/b.txt || fail "aws s3 rm"
if nfs-ls "$(at docs)" | grep -q ' b.txt$'; then fail "a deleted object is still listed"; fi
if nfs-cat "$(at docs/b.txt)" >/dev/null 2>&1; then fail "a deleted object still reads"; fi
echo "ok   a delete through S3 is seen through NFS at once"

# Every procedure through libnfs; then what it left, through S3: a
# directory renamed over NFS is renamed keys.
CAIRN_NFS_URL=$url "$client_test" || fail "nfs_client_test (libnfs)"
keys=$(s3 s3api list-objects-v2 --bucket cairn --prefix S3View/ --query 'Contents[].Key' --output text)
[[ $(tr '\t' '\n' <<<"$keys" | sort | tr '\n' ' ') == "S3View/ S3View/empty S3View/kept/ S3View/kept/x " ]] ||
  fail "S3 lists '$keys' under S3View/ after the NFS changes"
s3 s3api head-object --bucket cairn --key S3View/empty --query ContentLength | grep -qx 0 ||
  fail "a file created over NFS is not an empty object in S3"
# Bytes written over NFS are the object S3 reads: a 5 MiB file the libnfs
# test wrote, and a file copied in with nfs-cp.
s3 s3 cp --quiet s3://cairn/S3View/kept/x "$work/x.s3" || fail "S3 GET of a file written over NFS"
nfs-cp "$(at S3View/kept/x)" "$work/x.nfs" >/dev/null || fail "nfs-cp of S3View/kept/x"
[[ $(stat -c %s "$work/x.s3") -eq 5242880 ]] && cmp -s "$work/x.s3" "$work/x.nfs" ||
  fail "S3 and NFS read different bytes for a file written over NFS"
nfs-cp "$work/src/big.bin" "$(at from-nfs.bin)" >/dev/null || fail "nfs-cp into the export"
s3 s3 cp --quiet s3://cairn/from-nfs.bin "$work/from-nfs.s3" || fail "S3 GET of from-nfs.bin"
cmp -s "$work/src/big.bin" "$work/from-nfs.s3" || fail "a file copied in over NFS reads back differently through S3"
# The scale tests' leavings: the large file's size, the 10,000-file tree.
large=${CAIRN_NFS_LARGE_FILE_BYTES:-1073741824}
[[ $(s3 s3api head-object --bucket cairn --key LargeFile/big --query ContentLength) == "$large" ]] ||
  fail "S3 does not see the $large-byte file written over NFS"
tree=$(s3 s3api list-objects-v2 --bucket cairn --prefix TreeOf10000Files/d \
  --query 'length(Contents[?!ends_with(Key, `/`)])')  # files, not the 10 directories
[[ $tree == 10000 ]] || fail "S3 lists $tree objects of the 10,000-file tree written over NFS"
echo "ok   libnfs: every procedure so far; S3 sees the tree and the bytes NFS wrote"

# Exports made at run time: `cairn admin export` (catalog entries every
# gateway reads again within 2 s).
adm() { "$cairn" admin export "$@" --endpoint "$admin"; }
ro_url="nfs://127.0.0.1/ro?version=3&nfsport=$port&mountport=$port"
adm add /ro --bucket cairn --read-only --client 127.0.0.1 >/dev/null || fail "admin export add /ro"
adm | grep -Eq '^/ro +cairn +read-only +squash to 65534 +127\.0\.0\.1 +sys$' ||
  fail "admin export does not list /ro: $(adm)"
for _ in $(seq 1 50); do nfs-ls "$ro_url" >/dev/null 2>&1 && break; sleep 0.2; done
nfs-ls "$ro_url" | grep -q ' docs$' || fail "the export added at run time is not served"
if nfs-cp "$work/src/docs/a.txt" "nfs://127.0.0.1/ro/new.txt?version=3&nfsport=$port&mountport=$port" \
  >/dev/null 2>&1; then fail "a write through the read-only export succeeded"; fi
for bad in "/x --bucket nosuch" "/x --bucket cairn --client 10.0.0.0/99" "rel --bucket cairn" \
  "/ro --bucket cairn"; do
  # shellcheck disable=SC2086
  if adm add $bad >/dev/null 2>&1; then fail "admin export add $bad succeeded"; fi
done
err=$(adm add /x --bucket nosuch 2>&1 >/dev/null || true)
[[ $err == *"bucket: no bucket named 'nosuch'"* ]] || fail "admin export add of a missing bucket says: $err"
adm remove /ro >/dev/null || fail "admin export remove /ro"
if adm remove /ro >/dev/null 2>&1; then fail "removing /ro twice succeeded"; fi
for _ in $(seq 1 50); do nfs-ls "$ro_url" >/dev/null 2>&1 || break; sleep 0.2; done
if nfs-ls "$ro_url" >/dev/null 2>&1; then fail "the removed export is still served"; fi
echo "ok   cairn admin export: add (read-only, one client), served; bad requests name the field; remove"

/usr/bin/python3 "$here/rpc_bad_input.py" 127.0.0.1 "$port" /cairn || fail "rpc_bad_input.py"
/usr/bin/python3 "$here/write_back_check.py" 127.0.0.1 "$port" /cairn "$endpoint" "$access" "$secret" cairn ||
  fail "write_back_check.py"
# Still serving after the bad input.
[[ $(nfs-cat "$(at docs/a.txt)") == "hello through nfs" ]] || fail "nfs-cat after the bad input"

dev_stop
echo "PASS: nfs_dev"
