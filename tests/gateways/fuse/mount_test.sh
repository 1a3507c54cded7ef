#!/usr/bin/env bash
# tests/gateways/fuse/mount_test.sh — `cairn mount` (ADR 0009) of a real
# `cairn dev`, mounted with the kernel's FUSE (root, /dev/fuse) using the
# command line `cairn dev` prints.
# Read-only mount: a tree written through S3 (Debian's aws CLI) is
# compared with the mount byte for byte (diff -r: names, kinds, bytes;
# 1,100 entries in one directory, so listings take two pages; a 64 MiB
# file of 16 chunks); modes, sizes and statfs; errno for writes (EROFS),
# missing names (ENOENT), names over 255 bytes (ENAMETOOLONG), reading a
# directory (EISDIR); a change through S3 is seen on the next open
# (close-to-open); four concurrent readers; the L2 cache holds sealed
# chunks within --cache-l2-max.
# Read-write mount: pjdfstest-style errno and permission checks
# (posix_checks.py, as root and as uids 1000/1001); a POSIX workload run
# on a local directory and on the mount gives the same tree (diff -r,
# modes, symlinks, hard links and their counts) and S3 reads every file it
# wrote byte for byte; four concurrent writers of one file and two readers; a 1 GiB file read back
# through the mount and through S3; a tree of 10,000 files written by four
# writers, counted through S3.
# Staging (pinned cache): `cairn stage` shows progress, and reading the
# staged dataset afterwards makes no chunk fetches (`cairn cache --stats`);
# a stage over the L2 bound is refused with the room it needs; --status,
# --release.
# The printed command as it is mounts every bucket of the tenant, one
# directory each: rename and link between buckets answer EXDEV (mv
# copies), the mount's root takes no entries (EPERM).
# A device corrupt under a running node: reads come from parity, exact.
# SIGTERM unmounts and exits 0; a mount whose node is killed answers EIO
# at once, not a hang, and reconnects when the node is back.
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
chmod 711 "$work"  # posix_checks.py's users 1000 and 1001 reach the mount through it
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

dev_start "$cairn" 512  # 6 devices: room for the 1 GiB file (RS 4+2)
mount_line=$(sed -n 's/^mount: //p' "$work/out")
[[ "$mount_line" == "AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret cairn mount /mnt/cairn --endpoint 127.0.0.1:"*" --ca "* ]] ||
  fail "cairn dev printed no usable mount line: '$mount_line'"
grep -q "cairn mount /mnt/cairn" <<<"$(sed -n '/^A single-node/,$p' "$work/out")" ||
  fail "the mount command is not among the printed examples"
# The printed command, with this build's cairn and $mnt for /mnt/cairn.
read -ra mount_words <<<"$mount_line"
for i in "${!mount_words[@]}"; do
  [[ ${mount_words[$i]} == cairn ]] && mount_words[$i]=$cairn
  [[ ${mount_words[$i]} == /mnt/cairn ]] && mount_words[$i]=$mnt
  [[ ${mount_words[$i]} == --endpoint ]] && client_port=${mount_words[$((i + 1))]##*:}
done

# Starts the printed command on $mnt, with extra options.
mount_start() {
  local log=$1
  shift
  mkdir -p "$mnt"
  env "${mount_words[@]}" "$@" >"$work/$log.out" 2>"$work/$log.err" &
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

mount_start m1 --bucket cairn --read-only --cache-dir "$work/cache" --cache-l2-max 48MiB
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

# --- read-write ---------------------------------------------------------------
mount_start m3 --bucket cairn --allow-other --cache-dir "$work/cache3"
/usr/bin/python3 "$here/posix_checks.py" "$mnt" || fail "posix_checks.py"

# The same POSIX workload on a local directory and on the mount.
workload() {
  local d=$1
  mkdir -p "$d/a/b/c" "$d/empty-dir"
  echo "first" >"$d/a/one.txt"
  echo "appended" >>"$d/a/one.txt"
  head -c 5000000 "$src/large.bin" >"$d/a/b/five-mb.bin"
  printf 'PATCH' | dd of="$d/a/b/five-mb.bin" bs=1 seek=4194300 conv=notrunc status=none  # across a slot edge
  head -c 300000 "$src/big.bin" >"$d/a/b/c/small.bin"
  truncate -s 100000 "$d/a/b/c/small.bin"
  truncate -s 9000000 "$d/a/b/c/sparse.bin"
  cp "$d/a/one.txt" "$d/a/two.txt"
  mv "$d/a/two.txt" "$d/a/b/renamed.txt"
  mv "$d/a/b/c" "$d/a/moved-c"
  ln -s ../one.txt "$d/a/b/link"
  ln "$d/a/one.txt" "$d/a/b/hard.txt"               # a hard link, written through
  echo "through the link" >>"$d/a/b/hard.txt"
  ln "$d/a/b/five-mb.bin" "$d/five-hard" && rm "$d/a/b/five-mb.bin" && ln "$d/five-hard" "$d/a/b/five-mb.bin"
  ln "$d/a/b/renamed.txt" "$d/a/gone-link" && mv "$d/a/gone-link" "$d/a/moved-link" && rm "$d/a/moved-link"
  chmod 600 "$d/a/one.txt"
  chmod 750 "$d/a/b"
  touch -d '2001-02-03 04:05:06' "$d/a/b/renamed.txt"
  mkdir "$d/gone" && echo x >"$d/gone/x" && rm "$d/gone/x" && rmdir "$d/gone"
  echo "to delete" >"$d/deleted" && rm "$d/deleted"
}
workload "$work/mirror"
workload "$mnt/work"
diff -r "$work/mirror" "$mnt/work" >"$work/diff" 2>&1 || { head -20 "$work/diff" >&2; fail "the workload's tree differs on the mount"; }
listing() { (cd "$1" && { find . -mindepth 1 -type f -printf '%P f %s %m %n\n'; find . -mindepth 1 ! -type f -printf '%P %y %m %l\n'; } | sort); }
diff <(listing "$work/mirror") <(listing "$mnt/work") >"$work/diff" || { cat "$work/diff" >&2; fail "kinds, sizes, modes, link counts or link targets differ"; }
[[ $(stat -c %Y "$mnt/work/a/b/renamed.txt") == $(stat -c %Y "$work/mirror/a/b/renamed.txt") ]] || fail "touch -d: mtime differs"
s3 s3 cp --quiet --recursive s3://cairn/work "$work/from-s3" || fail "aws s3 cp of the workload's tree"
while read -r f; do
  cmp "$work/mirror/$f" "$work/from-s3/$f" || fail "S3 reads other bytes of $f"
done < <(cd "$work/mirror" && find . -type f)
echo "ok   a POSIX workload gives the same tree as a local directory; S3 reads every file it wrote"

# Four writers of one file at once (unaligned quarters), two readers of another.
quarter=$((3 * 1024 * 1024 + 12345))
head -c $((4 * quarter)) /dev/urandom >"$work/quarters"
: >"$mnt/quarters"
pids=()
for i in 0 1 2 3; do
  dd if="$work/quarters" of="$mnt/quarters" bs=$quarter skip=$i seek=$i count=1 conv=notrunc,fsync status=none &
  pids+=($!)
done
for _ in 1 2; do
  cmp "$src/large.bin" "$mnt/large.bin" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent writer or reader failed"; done
cmp "$work/quarters" "$mnt/quarters" || fail "four concurrent writers: the file differs"
echo "ok   four concurrent writers of one file, two readers of another"

# A 1 GiB file through the mount, read back through the mount and S3.
head -c $((1 << 30)) /dev/urandom >"$work/gig"
cp "$work/gig" "$mnt/gig" || fail "cp of 1 GiB to the mount"
cmp "$work/gig" "$mnt/gig" || fail "the 1 GiB file reads back other bytes through the mount"
s3 s3 cp --quiet s3://cairn/gig "$work/gig.s3" || fail "aws s3 cp of the 1 GiB file"
cmp "$work/gig" "$work/gig.s3" || fail "S3 reads other bytes of the 1 GiB file"
rm -f "$work/gig" "$work/gig.s3" "$mnt/gig"
echo "ok   1 GiB written through the mount reads back through the mount and S3"

# A tree of 10,000 files, four writers at once.
pids=()
for w in 0 1 2 3; do
  (
    for d in $(seq 0 24); do
      mkdir -p "$mnt/tree/w$w/d$d"
      for f in $(seq 0 99); do echo "$w/$d/$f" >"$mnt/tree/w$w/d$d/f$f"; done
    done
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a writer of the 10,000-file tree failed"; done
[[ $(find "$mnt/tree" -type f | wc -l) -eq 10000 ]] || fail "the mount shows $(find "$mnt/tree" -type f | wc -l) of 10,000 files"
# (mkdir makes explicit directories: S3 lists them as "name/" markers)
s3 s3 ls --recursive s3://cairn/tree/ >"$work/tree-listing"
[[ $(grep -vc '/$' "$work/tree-listing") -eq 10000 ]] || fail "S3 lists $(grep -vc '/$' "$work/tree-listing") of 10,000 files"
[[ $(grep -c '/$' "$work/tree-listing") -eq 105 ]] || fail "S3 lists $(grep -c '/$' "$work/tree-listing") of the 105 directories made (tree/ and 104 under it)"
[[ $(s3 s3 cp s3://cairn/tree/w3/d24/f99 -) == "3/24/99" ]] || fail "S3 reads tree/w3/d24/f99 wrong"
echo "ok   10,000 files by four writers: all listed through the mount and S3"
mkdir -p "$mnt/ds/a" "$mnt/ds/b"
for i in 1 2 3; do
  head -c 9000000 /dev/urandom >"$work/ds-f$i" && cp "$work/ds-f$i" "$mnt/ds/a/f$i"
  head -c 5000 /dev/urandom >"$work/ds-s$i" && cp "$work/ds-s$i" "$mnt/ds/b/s$i"
done
mount_stop m3
echo "ok   SIGTERM unmounts the read-write mount and exits 0"

# --- staging: a pinned cache ----------------------------------------------------
mount_start m4 --bucket cairn --cache-mode pinned --cache-l2-max 48MiB --cache-dir "$work/cache4"
fetches() { "$cairn" cache --stats --json "$mnt" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["fetches"])'; }
staged=$("$cairn" stage "$mnt/ds" 2>"$work/stage.err") || { cat "$work/stage.err" >&2; fail "cairn stage of ds"; }
grep -Eq '^staged: ds  6 files  25\.8 MiB  9 chunks fetched' <<<"$staged" || fail "cairn stage said: $staged"
grep -q '100%' "$work/stage.err" || fail "cairn stage showed no progress: $(cat "$work/stage.err")"
[[ $("$cairn" stage --status "$mnt") == "stage ds: done "* ]] || fail "stage --status: $("$cairn" stage --status "$mnt")"
before=$(fetches)
for i in 1 2 3; do
  cmp "$work/ds-f$i" "$mnt/ds/a/f$i" || fail "staged ds/a/f$i reads other bytes"
  cmp "$work/ds-s$i" "$mnt/ds/b/s$i" || fail "staged ds/b/s$i reads other bytes"
done
[[ $(fetches) -eq $before ]] || fail "reading the staged dataset fetched $(($(fetches) - before)) chunks from the devices"
again=$("$cairn" stage "$mnt/ds" 2>/dev/null) || fail "a second stage of ds"
grep -q ' 0 chunks fetched' <<<"$again" || fail "a second stage fetched chunks: $again"
# Pins never pass L2's bound: 64 MiB more is refused, with the room it needs.
if "$cairn" stage "$mnt/large.bin" >/dev/null 2>"$work/stage.err"; then fail "a stage over the L2 bound was accepted"; fi
grep -q "left for pins" "$work/stage.err" || fail "the refused stage said: $(cat "$work/stage.err")"
"$cairn" cache --stats "$mnt" | grep -Eq '^L2 .* pinned +25\.8 MiB' || fail "cache --stats: $("$cairn" cache --stats "$mnt")"
"$cairn" stage --release "$mnt" | grep -q '^released' || fail "stage --release"
"$cairn" cache --stats "$mnt" | grep -Eq '^L2 .* pinned +0 B' || fail "pins left after --release"
expect_error "not inside a cairn mount" "$cairn" stage "$work"
mount_stop m4
echo "ok   cairn stage: progress, a second read makes no chunk fetches, pins bounded, --status, --release"

# --- the printed command as it is: every bucket of the tenant -------------------
# One directory per bucket; a rename or link between two buckets is EXDEV
# (mv copies instead), the mount's root takes no entries (EPERM).
s3 s3 mb s3://other >/dev/null || fail "aws s3 mb s3://other"
echo "in the other bucket" | s3 s3 cp --quiet - s3://other/hello.txt
mount_start m2 --cache-mode bypass
[[ $(cat "$mnt/cairn/docs/a.txt") == "changed through s3" ]] || fail "second mount: cairn/docs/a.txt"
[[ $(ls "$mnt" | tr '\n' ' ') == "cairn other " ]] || fail "ls of an all-buckets mount: $(ls "$mnt")"
[[ $(cat "$mnt/other/hello.txt") == "in the other bucket" ]] || fail "other/hello.txt: $(cat "$mnt/other/hello.txt")"
[[ $(stat -c %i "$mnt/cairn") != $(stat -c %i "$mnt/other") ]] || fail "two buckets' roots have one inode number"
[[ $(stat -c %i "$mnt/cairn/..") == $(stat -c %i "$mnt") ]] || fail "a bucket's .. is not the mount's root"
/usr/bin/python3 - "$mnt" <<'PY' || fail "errors of an all-buckets mount"
import errno, os, sys
m = sys.argv[1]
def expect(what, want, f, *args):
    try:
        f(*args)
    except OSError as e:
        if e.errno != want:
            sys.exit(f"{what}: {errno.errorcode[e.errno]}, not {errno.errorcode[want]}")
        return
    sys.exit(f"{what}: succeeded")
expect("rename across buckets", errno.EXDEV, os.rename, f"{m}/other/hello.txt", f"{m}/cairn/hello.txt")
expect("link across buckets", errno.EXDEV, os.link, f"{m}/other/hello.txt", f"{m}/cairn/hello.txt")
expect("mkdir at the mount's root", errno.EPERM, os.mkdir, f"{m}/new-bucket")
expect("create at the mount's root", errno.EPERM, os.open, f"{m}/file", os.O_CREAT | os.O_WRONLY)
expect("rmdir of a bucket", errno.EPERM, os.rmdir, f"{m}/other")
expect("a bucket that is not there", errno.ENOENT, os.stat, f"{m}/no-such-bucket")
PY
mv "$mnt/other/hello.txt" "$mnt/cairn/moved.txt" || fail "mv across buckets (a copy after EXDEV)"
[[ $(s3 s3 cp s3://cairn/moved.txt -) == "in the other bucket" ]] || fail "S3 does not read cairn/moved.txt"
[[ -z $(s3 s3 ls s3://other/) ]] || fail "other/hello.txt is still in S3 after mv"
echo "ok   every bucket a directory: EXDEV across buckets (mv copies), EPERM at the root"

# A device returning corrupt shards mid-read: the client reads parity.
curl -s "$admin/v1/devices" >"$work/devices.json"
/usr/bin/python3 - "$work/devices.json" <<'PY' || fail "flipping bytes in a device file"
import json, os, random, sys
d = sorted(json.load(open(sys.argv[1]))["devices"], key=lambda d: d["path"])[0]
rng = random.Random(20261206)
used, size = max(d["used_bytes"], 1 << 20), os.path.getsize(d["path"])
with open(d["path"], "r+b") as f:
    for _ in range(3000):
        at = rng.randrange(64 * 1024, min(used, size))
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ (1 + rng.randrange(255))]))
    os.fsync(f.fileno())
PY
cmp "$src/large.bin" "$mnt/cairn/large.bin" || fail "large.bin reads other bytes with a corrupt device"
cmp "$src/big.bin" "$mnt/cairn/big.bin" || fail "big.bin reads other bytes with a corrupt device"
degraded=$("$cairn" cache --stats --json "$mnt" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["degraded_reads"])')
((degraded > 0)) || fail "no read needed parity: the flips missed every shard read"
echo "ok   one device corrupt: $degraded chunk reads served from parity, bytes exact"

# A lost node: callers get EIO at once, not a hung mount; SIGTERM still works.
# A file open for writing across the outage: its close fails, its bytes
# stay dirty, and the mount commits them once the node is back (MF7).
exec 7>"$mnt/cairn/docs/pending.txt"
echo "written before the outage" >&7
dev_kill
wait "$pid" 2>/dev/null || true
pid=""
if out=$(timeout 20 stat "$mnt/cairn/deep/not-looked-up-yet" 2>&1); then fail "stat succeeded with the node gone"; fi
grep -q "Input/output error" <<<"$out" || fail "with the node gone, stat said: $out"
exec 7>&-  # close(2) answers EIO (the commit failed); the bytes stay dirty
# The node back on the same port: the mount reconnects (its bucket
# resolved again on the new connection) and serves without a remount.
dev_client_port=$client_port dev_start "$cairn" 512
back=""
for _ in $(seq 1 50); do
  back=$(cat "$mnt/cairn/docs/a.txt" 2>/dev/null) && break
  sleep 0.2
done
[[ "$back" == "changed through s3" ]] || fail "after the node came back, docs/a.txt reads '$back'"
echo "after the restart" >"$mnt/cairn/docs/after.txt" || fail "a write after the reconnect"
pending=""
for _ in $(seq 1 50); do
  pending=$(s3 s3 cp s3://cairn/docs/pending.txt - 2>/dev/null) && [[ -n "$pending" ]] && break
  sleep 0.2
done
[[ "$pending" == "written before the outage" ]] || fail "the bytes written before the outage did not reach S3: '$pending'"
[[ $(s3 s3 cp s3://cairn/docs/after.txt -) == "after the restart" ]] || fail "S3 does not read the file written after the reconnect"
mount_stop m2
echo "ok   the node killed: EIO at once; restarted: the mount reconnects, commits what a failed close left, serves; SIGTERM unmounts"
dev_stop
echo "PASS"
