#!/usr/bin/env bash
# tests/gateways/fuse/mount_test.sh — `cairn mount` (ADR 0009 increment 4:
# read-only) of a real `cairn dev`, mounted with the kernel's FUSE (root,
# /dev/fuse) using the command line `cairn dev` prints. A tree written
# through S3 (Debian's aws CLI) is compared with the mount byte for byte
# (diff -r: names, kinds, bytes; 1,100 entries in one directory, so
# listings take two pages; a 64 MiB file of 16 chunks); modes, sizes and
# statfs; errno for writes (EROFS), missing names (ENOENT), names over 255
# bytes (ENAMETOOLONG), reading a directory (EISDIR); a change through S3
# is seen on the next open (close-to-open); four concurrent readers; the
# L2 cache holds sealed chunks within --cache-l2-max; SIGTERM unmounts and
# exits 0; a mount whose node is killed answers EIO at once, not a hang.
#   mount_test.sh CAIRN
set -euo pipefail
cairn=${1:?usage: mount_test.sh CAIRN}
here=$(cd "$(dirname "$0")" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "SKIP: mounting needs root"; exit 77; }
[[ -c /dev/fuse ]] || { echo "SKIP: no /dev/fuse"; exit 77; }
for tool in fusermount3 aws; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is needed (apt-get install fuse3 awscli)"; exit 77; }
done
work=$(mktemp -d /tmp/cairn-mount.XXXXXX)
mnt=$work/mnt
mount_pid=""
# shellcheck source=../s3/dev_lib.sh
source "$here/../s3/dev_lib.sh"
cleanup() {
  [[ -n "$mount_pid" ]] && kill -KILL "$mount_pid" 2>/dev/null
  fusermount3 -uz "$mnt" 2>/dev/null || true
  dev_kill
  rm -rf "$work"
}
trap cleanup EXIT

dev_start "$cairn" 256
mount_line=$(sed -n 's/^mount: //p' "$work/out")
[[ "$mount_line" == "cairn mount /mnt/cairn --endpoint 127.0.0.1:"*" --ca "*" --credentials "* ]] ||
  fail "cairn dev printed no usable mount line: '$mount_line'"
grep -q "cairn mount /mnt/cairn" <<<"$(sed -n '/^A single-node/,$p' "$work/out")" ||
  fail "the mount command is not among the printed examples"
read -ra mount_words <<<"$mount_line"

# Starts the printed command with this build, on $mnt, with extra options.
mount_start() {
  local log=$1
  shift
  mkdir -p "$mnt"
  "$cairn" "${mount_words[@]:1:1}" "$mnt" "${mount_words[@]:3}" "$@" >"$work/$log.out" 2>"$work/$log.err" &
  mount_pid=$!
  for _ in $(seq 1 150); do
    grep -q '^mounted: ' "$work/$log.out" 2>/dev/null && return 0
    kill -0 "$mount_pid" 2>/dev/null || { cat "$work/$log.err" >&2; fail "cairn mount exited early"; }
    sleep 0.1
  done
  fail "cairn mount printed no 'mounted:' line"
}
mount_stop() {
  kill -TERM "$mount_pid"
  wait "$mount_pid" || fail "cairn mount exited non-zero on SIGTERM: $(tail -3 "$work/$1.err")"
  mount_pid=""
  ! grep -q " $mnt " /proc/mounts || fail "$mnt is still mounted after SIGTERM"
}

export AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
s3() { aws --endpoint-url "$endpoint" "$@"; }

src=$work/src
mkdir -p "$src/docs" "$src/deep/x/y" "$src/many"
echo "hello through fuse" >"$src/docs/a.txt"
printf 'b' >"$src/docs/b.txt"
: >"$src/docs/empty"
head -c 3000000 /dev/urandom >"$src/deep/x/y/three.bin"
head -c 10000000 /dev/urandom >"$src/big.bin"             # three 4 MiB chunks
head -c $((64 << 20)) /dev/urandom >"$src/large.bin"      # sixteen
for i in $(seq -w 1 1100); do echo "$i" >"$src/many/f$i"; done
s3 s3 sync --quiet "$src" s3://cairn/ || fail "aws s3 sync of the tree"

mount_start m1 --cache-dir "$work/cache" --cache-l2-max 48MiB
grep -q " $mnt fuse.cairn " /proc/mounts || fail "no fuse.cairn mount at $mnt in /proc/mounts"

# The tree: every name, kind and byte (the empty file too).
diff -r "$src" "$mnt" >"$work/diff" 2>&1 || { head -20 "$work/diff" >&2; fail "diff -r of the tree S3 wrote and the mount"; }
[[ $(ls "$mnt/many" | wc -l) -eq 1100 ]] || fail "ls shows $(ls "$mnt/many" | wc -l) of 1,100 entries"
[[ $(ls -a "$mnt/docs" | tr '\n' ' ') == ". .. a.txt b.txt empty " ]] || fail "ls -a docs: $(ls -a "$mnt/docs")"
echo "ok   diff -r: the mount holds the tree S3 wrote (1,100-entry directory, 64 MiB file)"

[[ $(stat -c '%s %A' "$mnt/big.bin") == "10000000 -rw-r--r--" ]] || fail "big.bin: $(stat -c '%s %A' "$mnt/big.bin")"
[[ $(stat -c '%F' "$mnt/deep/x") == "directory" ]] || fail "deep/x is not a directory"
[[ $(stat -f -c '%l' "$mnt") -eq 255 ]] || fail "statfs name max: $(stat -f -c '%l' "$mnt")"
[[ $(df -B1 --output=size "$mnt" | tail -1) -gt 0 ]] || fail "df shows no size"
echo "ok   modes, sizes, kinds, statfs"

expect_error() {  # expect_error MESSAGE COMMAND...
  local want=$1
  shift
  local got
  if got=$("$@" 2>&1); then fail "'$*' succeeded"; fi
  grep -q "$want" <<<"$got" || fail "'$*' said '$got', not '$want'"
}
expect_error "Read-only file system" sh -c "echo x >'$mnt/new.txt'"
expect_error "Read-only file system" sh -c "echo x >>'$mnt/docs/a.txt'"
expect_error "No such file or directory" cat "$mnt/no-such-file"
expect_error "File name too long" stat "$mnt/$(printf 'n%.0s' $(seq 1 300))"
expect_error "Is a directory" cat "$mnt/docs"
expect_error "Not a directory" ls "$mnt/docs/a.txt/x"
echo "ok   EROFS, ENOENT, ENAMETOOLONG, EISDIR, ENOTDIR"

# Close-to-open: what S3 changes, the next open sees (attributes live 1 s).
echo "changed through s3" | s3 s3 cp --quiet - s3://cairn/docs/a.txt
s3 s3 rm --quiet s3://cairn/docs/b.txt
sleep 1.2
[[ $(cat "$mnt/docs/a.txt") == "changed through s3" ]] || fail "the mount shows '$(cat "$mnt/docs/a.txt")' after an S3 overwrite"
[[ ! -e "$mnt/docs/b.txt" ]] || fail "docs/b.txt is still there after an S3 delete"
echo "ok   an S3 overwrite and delete are seen on the next open"

# Four readers at once, each byte for byte.
pids=()
for _ in 1 2 3 4; do
  cmp "$src/large.bin" "$mnt/large.bin" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent reader of large.bin saw other bytes"; done
echo "ok   four concurrent readers of a 64 MiB file"

# L2 holds sealed chunks (no plaintext) and stays within its bound.
files=$(find "$work/cache" -type f | wc -l)
bytes=$(find "$work/cache" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
[[ $files -ge 4 ]] || fail "the L2 cache holds $files files after reading 80 MiB"
[[ $bytes -le $((48 << 20)) ]] || fail "the L2 cache holds $bytes bytes, over its 48 MiB bound"
# No 64-byte run of a chunk's plaintext appears in any L2 file (CH1).
/usr/bin/python3 - "$src/large.bin" "$work/cache" <<'PY' || fail "an L2 file holds plaintext"
import os, sys
data = open(sys.argv[1], "rb").read()
probes = [data[at:at + 64] for at in range(0, len(data), 1 << 20)]
for root, _, names in os.walk(sys.argv[2]):
    for name in names:
        blob = open(os.path.join(root, name), "rb").read()
        if any(p in blob for p in probes):
            sys.exit(f"{name} holds plaintext")
PY
echo "ok   L2: $files sealed chunk files, $bytes bytes within 48 MiB"

mount_stop m1
echo "ok   SIGTERM unmounts and exits 0"

# A lost node: callers get EIO at once, not a hung mount; SIGTERM still works.
mount_start m2 --cache-mode bypass
[[ $(cat "$mnt/docs/a.txt") == "changed through s3" ]] || fail "second mount: docs/a.txt"
dev_kill
wait "$pid" 2>/dev/null || true
pid=""
if out=$(timeout 20 stat "$mnt/deep/not-looked-up-yet" 2>&1); then fail "stat succeeded with the node gone"; fi
grep -q "Input/output error" <<<"$out" || fail "with the node gone, stat said: $out"
mount_stop m2
echo "ok   the node killed: EIO at once; SIGTERM still unmounts"
echo "PASS"
