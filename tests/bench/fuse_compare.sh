#!/usr/bin/env bash
# tests/bench/fuse_compare.sh — `cairn mount` next to its references, in one
# run on one machine (issue 7):
#   staged read  sequential read (dd, 1 MiB blocks) of a dataset staged into
#                a pinned cache (L2 on the same disk), against the same read
#                of local files; page cache dropped before each (target >= 0.8);
#   cold read    the dataset read through a mount with an empty cache
#                (--cache-mode bypass: every chunk from the devices), against
#                S3 GETs of the same objects from the same node (curl
#                --aws-sigv4, one stream, like dd);
#   s3fs read    the same files read through an s3fs mount of the bucket
#                (the S3 gateway as its server; s3fs 1.90 from Debian);
#   metadata     create / stat / unlink of BENCH_META_FILES empty files in one
#                directory (tests/bench/meta_load.py, one thread), on the
#                mount, on a local directory and on s3fs.
# Every figure is a ratio against its reference in this run. The L1 cache is
# kept smaller than the dataset, so staged reads come from L2 files.
#
# Owner: tests (benchmarks). Run by hand from the repository root, as root:
#   tests/bench/fuse_compare.sh [path/to/cairn]   (default build/release/cairn)
# Environment (defaults in brackets):
#   BENCH_FILES [4]            dataset files
#   BENCH_FILE_MB [1024]       size of each (4 x 1 GiB = the issue's 4 GiB)
#   BENCH_META_FILES [2000]    files for the metadata line
#   BENCH_ROUNDS [2]           rounds of the read lines (best of them)
#   BENCH_TMPDIR [/tmp]        data, cache and local files (not tmpfs)
set -euo pipefail
cairn=${1:-build/release/cairn}
files=${BENCH_FILES:-4}
file_mb=${BENCH_FILE_MB:-1024}
meta_files=${BENCH_META_FILES:-2000}
rounds=${BENCH_ROUNDS:-2}
here=$(cd "$(dirname "$0")" && pwd)
[[ -x $cairn ]] || { echo "fuse_compare: $cairn is not built" >&2; exit 2; }
[[ $(id -u) -eq 0 && -c /dev/fuse ]] || { echo "fuse_compare: needs root and /dev/fuse" >&2; exit 2; }
command -v s3fs >/dev/null || { echo "fuse_compare: apt-get install s3fs" >&2; exit 2; }

work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/cairn-fuse-compare.XXXXXX")
cairn_pid="" mount_pid="" s3fs_pid=""
cleanup() {
  for m in "$work/mnt" "$work/s3fs"; do fusermount3 -uz "$m" 2>/dev/null || true; done
  for p in $mount_pid $s3fs_pid $cairn_pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
dataset_bytes=$((files * file_mb * 1048576))
device_mb=$((dataset_bytes * 3 / 2 / 6 / 1048576 * 2 + 512))
"$cairn" dev --data "$work/cairn" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 --device-mb "$device_mb" \
  >"$work/cairn.out" 2>"$work/cairn.err" &
cairn_pid=$!
for _ in $(seq 1 300); do grep -q '^mount: ' "$work/cairn.out" 2>/dev/null && break; sleep 0.1; done
read -ra mount_words <<<"$(sed -n 's/^mount: //p' "$work/cairn.out")"
[[ ${#mount_words[@]} -gt 3 ]] || { cat "$work/cairn.err" >&2; echo "fuse_compare: cairn dev did not start" >&2; exit 1; }
for i in "${!mount_words[@]}"; do  # the printed command, with this build and $work/mnt
  [[ ${mount_words[$i]} == cairn ]] && mount_words[$i]=$cairn
  [[ ${mount_words[$i]} == /mnt/cairn ]] && mount_words[$i]=$work/mnt
done
endpoint=$(sed -n 's/^s3-endpoint: //p' "$work/cairn.out")
access=$(sed -n 's/^access-key: //p' "$work/cairn.out")
secret=$(sed -n 's/^secret-key: //p' "$work/cairn.out")
mkdir -p "$work/mnt" "$work/s3fs" "$work/local"

mount_cairn() {  # mount_cairn OPTIONS...: waits for "mounted:"; bucket cairn at the root, as s3fs mounts it
  env "${mount_words[@]}" --bucket cairn "$@" >"$work/mount.out" 2>"$work/mount.err" &
  mount_pid=$!
  for _ in $(seq 1 100); do grep -q '^mounted: ' "$work/mount.out" && return 0; sleep 0.1; done
  cat "$work/mount.err" >&2
  exit 1
}
unmount_cairn() { kill -TERM "$mount_pid"; wait "$mount_pid"; mount_pid=""; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# MiB/s of reading every dataset file with dd under DIR.
read_rate() {
  local dir=$1 start end
  drop
  start=$(date +%s.%N)
  for i in $(seq 1 "$files"); do dd if="$dir/f$i" of=/dev/null bs=1M status=none; done
  end=$(date +%s.%N)
  echo "$dataset_bytes $start $end" | awk '{printf "%.0f", $1 / 1048576 / ($3 - $2)}'
}
best() { printf '%s\n' "$@" | sort -n | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "fuse_compare: writing the dataset ($files x $file_mb MiB) through the mount" >&2
for i in $(seq 1 "$files"); do head -c $((file_mb * 1048576)) /dev/urandom >"$work/local/f$i"; done
mount_cairn --cache-mode bypass
mkdir -p "$work/mnt/ds"
start=$(date +%s.%N)
for i in $(seq 1 "$files"); do cp "$work/local/f$i" "$work/mnt/ds/f$i"; done
write_rate=$(echo "$dataset_bytes $start $(date +%s.%N)" | awk '{printf "%.0f", $1 / 1048576 / ($3 - $2)}')

# --- cold: the mount with no cache, S3 GET, s3fs ----------------------------------
cold=() s3get=() local_rate=()
for _ in $(seq 1 "$rounds"); do
  cold+=("$(read_rate "$work/mnt/ds")")
  drop
  start=$(date +%s.%N)
  for i in $(seq 1 "$files"); do
    curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$endpoint/cairn/ds/f$i" -o /dev/null
  done
  s3get+=("$(echo "$dataset_bytes $start $(date +%s.%N)" | awk '{printf "%.0f", $1 / 1048576 / ($3 - $2)}')")
  local_rate+=("$(read_rate "$work/local")")
done
unmount_cairn

# --- staged: a pinned L2 holding the dataset, L1 smaller than it --------------------
mount_cairn --cache-mode pinned --cache-dir "$work/cache" --cache-l1-max 256MiB \
  --cache-l2-max $((dataset_bytes * 2))
stage_line=$("$cairn" stage "$work/mnt/ds" 2>/dev/null)
staged=()
for _ in $(seq 1 "$rounds"); do staged+=("$(read_rate "$work/mnt/ds")"); done
fetches=$("$cairn" cache --stats --json "$work/mnt" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["fetches"])')
meta_cairn=$(/usr/bin/python3 "$here/meta_load.py" "$work/mnt/meta" "$meta_files")
unmount_cairn
meta_local=$(/usr/bin/python3 "$here/meta_load.py" "$work/local/meta" "$meta_files")

# --- s3fs on the same bucket ---------------------------------------------------------
printf '%s:%s\n' "$access" "$secret" >"$work/s3fs.passwd"
chmod 600 "$work/s3fs.passwd"
s3fs cairn "$work/s3fs" -f -o "url=$endpoint,use_path_request_style,endpoint=us-east-1,passwd_file=$work/s3fs.passwd" \
  >"$work/s3fs.log" 2>&1 &
s3fs_pid=$!
for _ in $(seq 1 100); do mountpoint -q "$work/s3fs" && break; sleep 0.1; done
s3fs_read=()
for _ in $(seq 1 "$rounds"); do s3fs_read+=("$(read_rate "$work/s3fs/ds")"); done
meta_s3fs=$(/usr/bin/python3 "$here/meta_load.py" "$work/s3fs/meta" "$meta_files")
fusermount3 -u "$work/s3fs"
wait "$s3fs_pid" || true
s3fs_pid=""

m() { awk -v op="$2" '$1 == op {print $2}' <<<"$1"; }
echo
echo "cairn mount vs references, $files x $file_mb MiB, best of $rounds rounds, MiB/s (ops/s for metadata)"
printf '%-34s %10s %10s %8s\n' "case" "cairn" "reference" "ratio"
line() { printf '%-34s %10s %10s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
line "staged read vs local file" "$(best "${staged[@]}")" "$(best "${local_rate[@]}")"
line "cold read vs S3 GET (curl)" "$(best "${cold[@]}")" "$(best "${s3get[@]}")"
line "cold read vs s3fs read" "$(best "${cold[@]}")" "$(best "${s3fs_read[@]}")"
for op in create stat unlink; do line "$op vs local directory" "$(m "$meta_cairn" $op)" "$(m "$meta_local" $op)"; done
for op in create stat unlink; do line "$op vs s3fs" "$(m "$meta_cairn" $op)" "$(m "$meta_s3fs" $op)"; done
echo
echo "write through the mount (cp): $write_rate MiB/s; $stage_line"
echo "chunk fetches from the devices while reading the staged dataset: $((fetches - $(sed -n 's/.* \([0-9]*\) chunks fetched.*/\1/p' <<<"$stage_line")))"
echo "rounds: staged ${staged[*]} | local ${local_rate[*]} | cold ${cold[*]} | s3 GET ${s3get[*]} | s3fs ${s3fs_read[*]}"
