#!/usr/bin/env bash
# tests/gateways/s3/cli_clients_test.sh — the S3 gateway of a real
# `cairn dev` driven by real command-line clients, no hand-made HTTP:
#   - Debian's aws CLI v2 (/usr/bin/aws): a 1 GiB multipart `s3 cp` up and
#     down (sha256 and the multipart ETag checked), `s3 sync` of a tree of
#     52 files up, again (nothing to do), after a change, with --delete and
#     back down (diff -r), `s3 ls` (recursive and with a prefix), `s3 rm
#     --recursive`, and s3api calls: put-object with metadata, head-object,
#     get-object with --range, list-objects-v2 paged by --max-items and
#     --page-size, a multipart upload by hand (and one aborted),
#     copy-object, delete-objects, and the errors clients must see
#     (NoSuchKey, 404, NoSuchUpload, ObjectPathConflict, InvalidArgument);
#   - a smaller subset with another aws CLI on PATH when it is a different
#     version (pyenv's v1 with a botocore that sends CRC32 checksums);
#   - rclone: copy up, check, lsf, copy down (diff -r), a multipart copy,
#     delete, purge;
#   - s3fs: a FUSE mount of a bucket: cp in, ls, cat back, mkdir, chmod,
#     append, mv, rm, rmdir, objects checked through the aws CLI; every
#     HTTP status s3fs got must be 200/204/206 or a 404 probe;
# then the data directory is scanned for a marker the clients wrote.
# Each step prints `ok: <what> (<seconds> s)`; a failing step prints the
# client's output and exits 1. Stops and unmounts what it starts.
#   usage: cli_clients_test.sh /path/to/cairn
#   CAIRN_S3_BIG_MB (default 1024) sets the size of the big aws s3 cp.
set -euo pipefail
cairn=${1:?usage: cli_clients_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)
big_mb=${CAIRN_S3_BIG_MB:-1024}

aws2=/usr/bin/aws
missing=()
[[ -x $aws2 ]] || missing+=(awscli)
[[ -x /usr/bin/rclone ]] || missing+=(rclone)
[[ -x /usr/bin/s3fs ]] || missing+=(s3fs)
command -v python3 >/dev/null || missing+=(python3)
((${#missing[@]} == 0)) || { echo "SKIP: missing ${missing[*]} (apt-get install ${missing[*]})"; exit 77; }

# Another aws CLI on PATH (pyenv's v1 here) gets a smaller subset when its
# version differs; its shim is resolved before HOME changes.
aws_other=$(command -v aws || true)
v2_version=$("$aws2" --version 2>&1)
other_version=""
if [[ -n "$aws_other" && "$(readlink -f "$aws_other")" != "$(readlink -f "$aws2")" ]]; then
  other_version=$("$aws_other" --version 2>&1) || other_version=""
  [[ "$other_version" == aws-cli/* && "$other_version" != "$v2_version" ]] || other_version=""
fi

work=$(mktemp -d)
mnt="" s3fs_pid=""
# shellcheck source-path=SCRIPTDIR source=dev_lib.sh
source "$here/dev_lib.sh"
# shellcheck source-path=SCRIPTDIR source=aws_lib.sh
source "$here/aws_lib.sh"
cleanup() {
  if [[ -n "$mnt" ]] && mountpoint -q "$mnt"; then
    fusermount3 -u "$mnt" 2>/dev/null || fusermount -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  fi
  if [[ -n "$s3fs_pid" ]] && kill -0 "$s3fs_pid" 2>/dev/null; then kill -TERM "$s3fs_pid" 2>/dev/null || true; fi
  dev_kill
  if [[ -n "$mnt" ]] && mountpoint -q "$mnt"; then
    echo "warning: $mnt is still mounted; $work left in place" >&2
    return
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# Nothing of the caller's AWS or rclone setup leaks in (AWS_CA_BUNDLE, for
# one, makes rclone's SDK refuse a plain-HTTP endpoint), nor out.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(AWS_|RCLONE_)' || true)
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_CACHE_HOME="$work/home/.cache"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
export LC_ALL=C.UTF-8

marker="cairn-s3-plaintext-marker-5d1f"

# --- helpers -------------------------------------------------------------
step_name="" step_t0=0
step() { step_name=$1; step_t0=$SECONDS; }
ok() { echo "ok: $step_name ($((SECONDS - step_t0)) s)"; }
# The last client command's output: $work/cmd.out, $work/cmd.err.
show() {
  echo "--- $1" >&2
  tail -40 "$work/cmd.out" 2>/dev/null | sed 's/^/  stdout: /' >&2
  tail -40 "$work/cmd.err" 2>/dev/null | sed 's/^/  stderr: /' >&2
  fail "$step_name"
}
run() {
  local rc=0
  "$@" >"$work/cmd.out" 2>"$work/cmd.err" || rc=$?
  ((rc == 0)) || show "exit $rc: $*"
}
# run_fails PATTERN CMD...: CMD must exit non-zero with PATTERN in stderr.
run_fails() {
  local pattern=$1 rc=0
  shift
  "$@" >"$work/cmd.out" 2>"$work/cmd.err" || rc=$?
  ((rc != 0)) || show "succeeded, expected a failure with '$pattern': $*"
  grep -q -- "$pattern" "$work/cmd.err" || show "no '$pattern' in stderr (exit $rc): $*"
}
out() { cat "$work/cmd.out"; }
expect_eq() { [[ "$1" == "$2" ]] || show "$3: got '$1', expected '$2'"; }
md5() { md5sum "$1" | cut -d' ' -f1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# The ETag S3 gives a multipart upload of FILE in parts of PART bytes;
# with a third argument, the file's sha256 first.
mp_etag() {
  python3 - "$@" <<'EOF'
import hashlib, sys
digests, n, whole = b"", 0, hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    while True:
        part = f.read(int(sys.argv[2]))
        if not part:
            break
        digests += hashlib.md5(part).digest()
        whole.update(part)
        n += 1
print(f"{whole.hexdigest()} " if len(sys.argv) > 3 else "", f"{hashlib.md5(digests).hexdigest()}-{n}", sep="")
EOF
}
# json_field FILE NAME: a string, or a list printed one item a line.
json_field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else v if isinstance(v, str) else "\n".join(map(str, v)))' "$1" "$2"
}
# `aws s3 ls --recursive` output as "key<TAB>size", sorted.
ls_keys() { sed -E 's/^[0-9-]+ [0-9:]+ +([0-9]+) (.*)$/\2\t\1/' | LC_ALL=C sort; }
# A local tree as "prefixpath<TAB>size", sorted.
tree_keys() { (cd "$1" && find . -type f -printf "$2%P\t%s\n" | LC_ALL=C sort); }

# 52 files in nested directories: 0 bytes to 12 MiB, chunk-sized and
# chunk-straddling files, names with a space, a '+' and non-ASCII letters.
# All dated in the past, so a second sync has nothing to do.
make_tree() {
  local root=$1 i d
  local dirs=(. a a/b a/b/c "with space" deep/er/still/deeper x-y_z.dir)
  local sizes=(0 1 7 100 1000 4095 4096 4097 65535 65536 65537 131072 1000000)
  for i in $(seq 0 44); do
    d=${dirs[i % ${#dirs[@]}]}
    mkdir -p "$root/$d"
    head -c "${sizes[i % ${#sizes[@]}]}" /dev/urandom >"$root/$d/f$i.bin"
  done
  mkdir -p "$root/big"
  head -c 4194304 /dev/urandom >"$root/a/chunk-4MiB.bin"
  head -c 4194305 /dev/urandom >"$root/a/b/chunk-4MiB+1.bin"
  head -c 9437187 /dev/urandom >"$root/big/nine-MiB.bin"
  head -c 12582917 /dev/urandom >"$root/deep/er/twelve-MiB.bin"
  : >"$root/empty.txt"
  echo "a plus sign, and $marker" >"$root/with space/plus+sign.txt"
  echo "ünïcødé" >"$root/a/ünïcødé.txt"
  find "$root" -exec touch -d '2020-01-02 03:04:05' {} +
}

# --- start ---------------------------------------------------------------
t_start=$SECONDS
# The big file stored RS 4+2 is half its size again, spread over six
# devices (256 MiB each for 1 GiB); the rest of the test stores about
# 60 MiB more on each, and deletes do not free space at once.
dev_start "$cairn" $((big_mb / 4 + 256))
aws_cli_env "$HOME" "$access" "$secret"
echo "cairn dev: $endpoint; $v2_version"

a2() { "$aws2" --endpoint-url "$endpoint" "$@"; }
b=cli-aws

# --- aws CLI v2: buckets and a big multipart cp --------------------------
step "aws v2: s3 mb, s3 ls of the buckets"
run a2 s3 mb "s3://$b"
run a2 s3 ls
grep -q " $b\$" "$work/cmd.out" || show "$b not in s3 ls"
ok

step "aws v2: s3 cp of a ${big_mb} MiB random file up (multipart, 8 MiB parts)"
head -c "${big_mb}M" /dev/urandom >"$work/big"
t_gen=$((SECONDS - step_t0))
mp_etag "$work/big" 8388608 sha256 >"$work/big.hashes" &
hash_pid=$!
run a2 s3 cp --only-show-errors "$work/big" "s3://$b/big/big.bin"
t_up=$((SECONDS - step_t0 - t_gen))
wait "$hash_pid"
read -r big_sha big_etag <"$work/big.hashes"
run a2 s3api head-object --bucket "$b" --key big/big.bin --query '[ContentLength, ETag]' --output text
IFS=$'\t' read -r len etag <"$work/cmd.out"
expect_eq "$len" "$((big_mb * 1048576))" "big.bin ContentLength"
expect_eq "$etag" "\"$big_etag\"" "big.bin multipart ETag"
ok

step "aws v2: s3 cp of the ${big_mb} MiB file down, sha256 equal"
run a2 s3 cp --only-show-errors "s3://$b/big/big.bin" "$work/big.down"
t_down=$((SECONDS - step_t0))
expect_eq "$(sha "$work/big.down")" "$big_sha" "sha256 of the downloaded big.bin"
rm -f "$work/big" "$work/big.down"
run a2 s3 rm "s3://$b/big/big.bin"
ok
echo "  (${big_mb} MiB: generated in ${t_gen} s, uploaded in ${t_up} s, downloaded in ${t_down} s)"

# --- aws CLI v2: sync, ls, rm --recursive --------------------------------
tree="$work/tree"
make_tree "$tree"
nfiles=$(find "$tree" -type f | wc -l)

step "aws v2: s3 sync of a tree of $nfiles files up"
run a2 s3 sync --no-progress "$tree" "s3://$b/tree/"
expect_eq "$(grep -c '^upload: ' "$work/cmd.out")" "$nfiles" "uploads by the first sync"
ok

step "aws v2: s3 ls --recursive lists every key with its size"
run a2 s3 ls --recursive "s3://$b/tree/"
diff <(ls_keys <"$work/cmd.out") <(tree_keys "$tree" tree/) >"$work/diff" || { cat "$work/diff" >&2; show "s3 ls --recursive differs from the tree"; }
ok

step "aws v2: s3 ls with a prefix shows its files and PRE subdirectories"
run a2 s3 ls "s3://$b/tree/a/"
got=$(sed -E 's/^ +PRE (.*)$/PRE \1/; s/^[0-9-]+ [0-9:]+ +[0-9]+ (.*)$/\1/' "$work/cmd.out" | LC_ALL=C sort)
want=$(cd "$tree/a" && { find . -mindepth 1 -maxdepth 1 -type d -printf 'PRE %P/\n'; find . -maxdepth 1 -type f -printf '%P\n'; } | LC_ALL=C sort)
expect_eq "$got" "$want" "s3 ls s3://$b/tree/a/"
ok

step "aws v2: a second s3 sync uploads nothing; one changed file is uploaded again"
run a2 s3 sync --no-progress "$tree" "s3://$b/tree/"
expect_eq "$(cat "$work/cmd.out")" "" "output of a sync with nothing to do"
echo "one more line" >>"$tree/a/b/c/f3.bin"
run a2 s3 sync --no-progress "$tree" "s3://$b/tree/"
expect_eq "$(sed -n 's/^upload: .* to //p' "$work/cmd.out")" "s3://$b/tree/a/b/c/f3.bin" "uploads after one change"
ok

step "aws v2: s3 sync --delete removes the key of a deleted file"
rm "$tree/x-y_z.dir/f6.bin"
run a2 s3 sync --no-progress --delete "$tree" "s3://$b/tree/"
expect_eq "$(cat "$work/cmd.out")" "delete: s3://$b/tree/x-y_z.dir/f6.bin" "output of sync --delete"
nfiles=$((nfiles - 1))
ok

step "aws v2: s3 sync down into an empty directory, diff -r"
run a2 s3 sync --no-progress "s3://$b/tree/" "$work/tree.down"
expect_eq "$(grep -c '^download: ' "$work/cmd.out")" "$nfiles" "downloads"
diff -r "$tree" "$work/tree.down" >"$work/diff" || { cat "$work/diff" >&2; show "downloaded tree differs"; }
ok

step "aws v2: s3 rm --recursive of the tree"
run a2 s3 rm --recursive "s3://$b/tree/"
expect_eq "$(grep -c '^delete: ' "$work/cmd.out")" "$nfiles" "deletes"
run a2 s3api list-objects-v2 --bucket "$b" --prefix tree/ --query 'length(Contents || `[]`)' --output text
expect_eq "$(out)" "0" "keys left under tree/"
ok

# --- aws CLI v2: s3api ---------------------------------------------------
head -c 5000 /dev/urandom >"$work/meta.bin"
step "aws v2: s3api put-object with metadata, head-object"
run a2 s3api put-object --bucket "$b" --key api/meta.bin --body "$work/meta.bin" \
  --content-type text/plain --metadata color=blue,owner=cairn-test --query ETag --output text
expect_eq "$(out)" "\"$(md5 "$work/meta.bin")\"" "put-object ETag"
run a2 s3api head-object --bucket "$b" --key api/meta.bin \
  --query '[ContentLength, ContentType, Metadata.color, Metadata.owner, ETag]' --output text
expect_eq "$(out)" "5000	text/plain	blue	cairn-test	\"$(md5 "$work/meta.bin")\"" "head-object"
ok

step "aws v2: s3api get-object with --range"
run a2 s3api get-object --bucket "$b" --key api/meta.bin --range bytes=100-1099 "$work/range.out" \
  --query '[ContentRange, ContentLength]' --output text
expect_eq "$(out)" "bytes 100-1099/5000	1000" "ranged get-object"
cmp <(tail -c +101 "$work/meta.bin" | head -c 1000) "$work/range.out" || show "range bytes differ"
ok

step "aws v2: s3api list-objects-v2 paged by --max-items 3 and --page-size 2"
mkdir -p "$work/page"
for i in 0 1 2 3 4 5 6; do echo "$i" >"$work/page/k$i"; done
run a2 s3 cp --recursive --only-show-errors "$work/page" "s3://$b/api/page/"
keys=() token="" pages=0
while :; do
  args=(--max-items 3 --page-size 2)
  [[ -z "$token" ]] || args+=(--starting-token "$token")
  run a2 s3api list-objects-v2 --bucket "$b" --prefix api/page/ "${args[@]}" --output json \
    --query '{Keys: Contents[].Key, NextToken: NextToken}'
  mapfile -t page < <(json_field "$work/cmd.out" Keys)
  keys+=("${page[@]}")
  pages=$((pages + 1))
  token=$(json_field "$work/cmd.out" NextToken)
  [[ -n "$token" ]] || break
  ((pages < 10)) || show "list-objects-v2 paging does not end"
done
expect_eq "${keys[*]}" "api/page/k0 api/page/k1 api/page/k2 api/page/k3 api/page/k4 api/page/k5 api/page/k6" "keys over the pages"
expect_eq "$pages" "3" "pages of 3 items"
ok

step "aws v2: s3api multipart upload by hand (create, upload-part x3, list-parts, complete)"
head -c $((11 * 1048576)) /dev/urandom >"$work/mp.bin"
echo "$marker" >>"$work/mp.bin"
split -b 5M -d -a 1 "$work/mp.bin" "$work/mp.part."
run a2 s3api create-multipart-upload --bucket "$b" --key api/mp/hand.bin --metadata purpose=by-hand \
  --query UploadId --output text
upload_id=$(out)
[[ -n "$upload_id" ]] || show "no UploadId"
parts=""
for n in 1 2 3; do
  run a2 s3api upload-part --bucket "$b" --key api/mp/hand.bin --upload-id "$upload_id" --part-number "$n" \
    --body "$work/mp.part.$((n - 1))" --query ETag --output text
  expect_eq "$(out)" "\"$(md5 "$work/mp.part.$((n - 1))")\"" "upload-part $n ETag"
  parts+="${parts:+,}{\"ETag\": \"\\\"$(md5 "$work/mp.part.$((n - 1))")\\\"\", \"PartNumber\": $n}"
done
echo "{\"Parts\": [$parts]}" >"$work/parts.json"
run a2 s3api list-parts --bucket "$b" --key api/mp/hand.bin --upload-id "$upload_id" \
  --query 'Parts[].[PartNumber, Size]' --output text
expect_eq "$(out | tr '\t\n' ': ')" "1:5242880 2:5242880 3:$(stat -c %s "$work/mp.part.2") " "list-parts"
run a2 s3api complete-multipart-upload --bucket "$b" --key api/mp/hand.bin --upload-id "$upload_id" \
  --multipart-upload "file://$work/parts.json" --query ETag --output text
expect_eq "$(out)" "\"$(mp_etag "$work/mp.bin" 5242880)\"" "complete-multipart-upload ETag"
run a2 s3api head-object --bucket "$b" --key api/mp/hand.bin --query '[ContentLength, Metadata.purpose]' --output text
expect_eq "$(out)" "$(stat -c %s "$work/mp.bin")	by-hand" "head-object of the completed upload"
run a2 s3api get-object --bucket "$b" --key api/mp/hand.bin "$work/mp.down"
cmp "$work/mp.bin" "$work/mp.down" || show "completed multipart object differs"
run a2 s3api get-object --bucket "$b" --key api/mp/hand.bin --range bytes=5242870-5242899 "$work/mp.range"
cmp <(tail -c +5242871 "$work/mp.bin" | head -c 30) "$work/mp.range" || show "range across parts differs"
ok

step "aws v2: s3api list-multipart-uploads, abort-multipart-upload, then NoSuchUpload"
run a2 s3api create-multipart-upload --bucket "$b" --key api/mp/aborted.bin --query UploadId --output text
abort_id=$(out)
run a2 s3api upload-part --bucket "$b" --key api/mp/aborted.bin --upload-id "$abort_id" --part-number 1 --body "$work/mp.part.2"
run a2 s3api list-multipart-uploads --bucket "$b" --query 'Uploads[].[Key, UploadId]' --output text
expect_eq "$(out)" "api/mp/aborted.bin	$abort_id" "list-multipart-uploads"
run a2 s3api abort-multipart-upload --bucket "$b" --key api/mp/aborted.bin --upload-id "$abort_id"
run a2 s3api list-multipart-uploads --bucket "$b" --query 'length(Uploads || `[]`)' --output text
expect_eq "$(out)" "0" "uploads after the abort"
run_fails NoSuchUpload a2 s3api upload-part --bucket "$b" --key api/mp/aborted.bin --upload-id "$abort_id" \
  --part-number 2 --body "$work/mp.part.2"
ok

step "aws v2: s3api copy-object (metadata copied, then replaced; a multipart source)"
run a2 s3api copy-object --copy-source "$b/api/meta.bin" --bucket "$b" --key api/copies/meta.bin \
  --query CopyObjectResult.ETag --output text
expect_eq "$(out)" "\"$(md5 "$work/meta.bin")\"" "copy-object ETag"
run a2 s3api head-object --bucket "$b" --key api/copies/meta.bin --query '[ContentType, Metadata.color]' --output text
expect_eq "$(out)" "text/plain	blue" "metadata of the copy"
run a2 s3api copy-object --copy-source "$b/api/meta.bin" --bucket "$b" --key api/copies/meta-red.bin \
  --metadata-directive REPLACE --metadata color=red --content-type application/x-cairn-test
run a2 s3api head-object --bucket "$b" --key api/copies/meta-red.bin --query '[ContentType, Metadata.color]' --output text
expect_eq "$(out)" "application/x-cairn-test	red" "metadata of the REPLACE copy"
run a2 s3api copy-object --copy-source "$b/api/mp/hand.bin" --bucket "$b" --key api/copies/hand.bin
run a2 s3api get-object --bucket "$b" --key api/copies/hand.bin "$work/copy.down"
cmp "$work/mp.bin" "$work/copy.down" || show "copy of the multipart object differs"
ok

step "aws v2: s3api delete-objects"
cat >"$work/delete.json" <<'EOF'
{"Objects": [{"Key": "api/page/k0"}, {"Key": "api/page/k1"}, {"Key": "api/page/k2"}, {"Key": "api/page/absent"}], "Quiet": false}
EOF
run a2 s3api delete-objects --bucket "$b" --delete "file://$work/delete.json" \
  --query '[length(Deleted || `[]`), length(Errors || `[]`)]' --output text
expect_eq "$(out)" "4	0" "deleted and errors"
run a2 s3api list-objects-v2 --bucket "$b" --prefix api/page/ --query 'Contents[].Key' --output text
expect_eq "$(out)" "api/page/k3	api/page/k4	api/page/k5	api/page/k6" "keys left after delete-objects"
ok

step "aws v2: errors clients see (NoSuchKey, 404, NoSuchBucket, ObjectPathConflict, InvalidArgument)"
run_fails NoSuchKey a2 s3api get-object --bucket "$b" --key api/no-such-key "$work/none"
run_fails "Not Found" a2 s3api head-object --bucket "$b" --key api/no-such-key
run_fails "does not exist" a2 s3 cp "s3://$b/api/no-such-key" "$work/none"
run_fails NoSuchBucket a2 s3 ls s3://no-such-bucket-cairn/
run_fails ObjectPathConflict a2 s3api put-object --bucket "$b" --key api/meta.bin/below --body "$work/meta.bin"
run_fails InvalidArgument a2 s3api put-object --bucket "$b" --key 'api//double-slash' --body "$work/meta.bin"
ok

step "aws v2: s3 rm --recursive and s3 rb of the bucket"
run a2 s3 rm --recursive "s3://$b/"
run a2 s3 rb "s3://$b"
run a2 s3 ls
grep -q " $b\$" "$work/cmd.out" && show "$b still listed"
ok

# --- another aws CLI (pyenv's v1) ----------------------------------------
if [[ -n "$other_version" ]]; then
  v1=${other_version%% *}
  a1() { "$aws_other" --endpoint-url "$endpoint" "$@"; }
  b1=cli-aws-other
  head -c $((20 * 1048576 + 3)) /dev/urandom >"$work/m20"
  step "$v1 (on PATH): s3 mb, s3 cp of 20 MiB up (multipart) and down"
  run a1 s3 mb "s3://$b1"
  run a1 s3 cp --only-show-errors "$work/m20" "s3://$b1/m/m20.bin"
  run a1 s3api head-object --bucket "$b1" --key m/m20.bin --query ETag --output text
  expect_eq "$(out)" "\"$(mp_etag "$work/m20" 8388608)\"" "multipart ETag"
  run a1 s3 cp --only-show-errors "s3://$b1/m/m20.bin" "$work/m20.down"
  cmp "$work/m20" "$work/m20.down" || show "downloaded m20.bin differs"
  ok
  step "$v1 (on PATH): s3api put-object with metadata, head-object, get-object --range, ls"
  run a1 s3api put-object --bucket "$b1" --key m/meta.bin --body "$work/meta.bin" --metadata color=green
  run a1 s3api head-object --bucket "$b1" --key m/meta.bin --query '[ContentLength, Metadata.color, ETag]' --output text
  expect_eq "$(out)" "5000	green	\"$(md5 "$work/meta.bin")\"" "head-object"
  run a1 s3api get-object --bucket "$b1" --key m/meta.bin --range bytes=4990-4999 "$work/range1.out"
  cmp <(tail -c 10 "$work/meta.bin") "$work/range1.out" || show "range bytes differ"
  run a1 s3 ls --recursive "s3://$b1/"
  expect_eq "$(ls_keys <"$work/cmd.out")" "m/m20.bin	$((20 * 1048576 + 3))
m/meta.bin	5000" "s3 ls --recursive"
  ok
  step "$v1 (on PATH): NoSuchKey, s3 rm --recursive, s3 rb"
  run_fails NoSuchKey a1 s3api get-object --bucket "$b1" --key m/none "$work/none"
  run a1 s3 rm --recursive "s3://$b1/"
  run a1 s3 rb "s3://$b1"
  ok
  rm -f "$work/m20" "$work/m20.down"
else
  echo "note: no other aws CLI on PATH with a different version; only $aws2 ran"
fi

# --- rclone --------------------------------------------------------------
export RCLONE_CONFIG="$work/rclone.conf"
cat >"$RCLONE_CONFIG" <<EOF
[cairn]
type = s3
provider = Other
endpoint = $endpoint
access_key_id = $access
secret_access_key = $secret
region = us-east-1
force_path_style = true
EOF
rc_bucket=cli-rclone

step "rclone: mkdir (a bucket), copy of the tree up"
run rclone mkdir "cairn:$rc_bucket"
run rclone copy "$tree" "cairn:$rc_bucket/tree"
ok

step "rclone: check reports 0 differences"
run rclone check "$tree" "cairn:$rc_bucket/tree"
grep -q ': 0 differences found' "$work/cmd.err" || show "rclone check did not find 0 differences"
ok

step "rclone: lsf -R lists every file"
run rclone lsf -R --files-only "cairn:$rc_bucket/tree"
expect_eq "$(LC_ALL=C sort "$work/cmd.out")" "$(cd "$tree" && find . -type f -printf '%P\n' | LC_ALL=C sort)" "rclone lsf -R"
ok

step "rclone: copy back down, diff -r"
run rclone copy "cairn:$rc_bucket/tree" "$work/rclone.down"
diff -r "$tree" "$work/rclone.down" >"$work/diff" || { cat "$work/diff" >&2; show "rclone's downloaded tree differs"; }
ok

step "rclone: a multipart copy (5 MiB chunks), md5sum, cat"
mkdir -p "$work/rmp"
head -c $((12 * 1048576 + 11)) /dev/urandom >"$work/rmp/m12.bin"
run rclone copy --s3-upload-cutoff 5M --s3-chunk-size 5M "$work/rmp" "cairn:$rc_bucket/mp"
run a2 s3api head-object --bucket "$rc_bucket" --key mp/m12.bin --query ETag --output text
expect_eq "$(out)" "\"$(mp_etag "$work/rmp/m12.bin" 5242880)\"" "ETag of rclone's multipart upload"
run rclone md5sum "cairn:$rc_bucket/mp"
expect_eq "$(out)" "$(md5 "$work/rmp/m12.bin")  m12.bin" "rclone md5sum"
run rclone cat "cairn:$rc_bucket/mp/m12.bin"
cmp "$work/rmp/m12.bin" "$work/cmd.out" || show "rclone cat differs"
run rclone check "$work/rmp" "cairn:$rc_bucket/mp"
ok

step "rclone: delete of a subdirectory's files"
run rclone delete "cairn:$rc_bucket/tree/a"
run rclone lsf -R --files-only "cairn:$rc_bucket/tree"
expect_eq "$(LC_ALL=C sort "$work/cmd.out")" "$(cd "$tree" && find . -type f -not -path './a/*' -printf '%P\n' | LC_ALL=C sort)" "files left after rclone delete"
ok

step "rclone: purge of the bucket"
run rclone purge "cairn:$rc_bucket"
run rclone lsd cairn:
grep -q " $rc_bucket\$" "$work/cmd.out" && show "$rc_bucket still listed after purge"
ok

# --- s3fs ----------------------------------------------------------------
if [[ ! -c /dev/fuse ]]; then
  echo "note: no /dev/fuse: the s3fs steps did not run"
else
  fs_bucket=cli-s3fs
  mnt="$work/mnt"
  mkdir -p "$mnt"
  printf '%s:%s\n' "$access" "$secret" >"$work/s3fs.passwd"
  chmod 600 "$work/s3fs.passwd"
  run a2 s3 mb "s3://$fs_bucket"

  step "s3fs: mount"
  s3fs "$fs_bucket" "$mnt" -f -o "url=$endpoint,use_path_request_style,endpoint=us-east-1" \
    -o "passwd_file=$work/s3fs.passwd,dbglevel=info,curldbg" >"$work/s3fs.log" 2>&1 &
  s3fs_pid=$!
  for _ in $(seq 1 100); do
    mountpoint -q "$mnt" && break
    kill -0 "$s3fs_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! mountpoint -q "$mnt"; then
    tail -40 "$work/s3fs.log" | sed 's/^/  s3fs: /' >&2
    fail "s3fs did not mount $fs_bucket"
  fi
  ok

  s3fs_fail() { tail -60 "$work/s3fs.log" | sed 's/^/  s3fs: /' >&2; show "$1"; }
  head -c 3000 /dev/urandom >"$work/small.bin"
  head -c $((30 * 1048576 + 1)) /dev/urandom >"$work/b30.bin"

  step "s3fs: cp files in (one of 30 MiB: multipart), ls, cat them back"
  cp "$work/small.bin" "$work/b30.bin" "$mnt/" || s3fs_fail "cp into the mount"
  echo "written through s3fs: $marker" >"$mnt/note.txt" || s3fs_fail "write note.txt"
  expect_eq "$(ls "$mnt" | tr '\n' ' ')" "b30.bin note.txt small.bin " "ls of the mount"
  cmp "$work/small.bin" "$mnt/small.bin" || s3fs_fail "small.bin read back differs"
  cmp "$work/b30.bin" "$mnt/b30.bin" || s3fs_fail "b30.bin read back differs"
  expect_eq "$(cat "$mnt/note.txt")" "written through s3fs: $marker" "cat note.txt"
  ok

  step "s3fs: the objects through the aws CLI"
  run a2 s3 ls --recursive "s3://$fs_bucket/"
  expect_eq "$(ls_keys <"$work/cmd.out")" "b30.bin	$((30 * 1048576 + 1))
note.txt	$(stat -c %s "$mnt/note.txt")
small.bin	3000" "objects s3fs wrote"
  run a2 s3 cp --only-show-errors "s3://$fs_bucket/b30.bin" "$work/b30.down"
  cmp "$work/b30.bin" "$work/b30.down" || show "b30.bin through aws differs"
  ok

  step "s3fs: mkdir, cp into it, chmod, append"
  mkdir "$mnt/dir" || s3fs_fail "mkdir"
  cp "$work/small.bin" "$mnt/dir/inner.bin" || s3fs_fail "cp into dir"
  chmod 600 "$mnt/dir/inner.bin" || s3fs_fail "chmod"
  expect_eq "$(stat -c %a "$mnt/dir/inner.bin")" "600" "mode after chmod"
  echo "second line" >>"$mnt/note.txt" || s3fs_fail "append"
  expect_eq "$(tail -1 "$mnt/note.txt")" "second line" "appended line"
  run a2 s3 ls --recursive "s3://$fs_bucket/dir/"
  expect_eq "$(ls_keys <"$work/cmd.out")" "dir/	0
dir/inner.bin	3000" "keys under dir/"
  run a2 s3 cp --only-show-errors "s3://$fs_bucket/note.txt" "$work/note.down"
  expect_eq "$(tail -1 "$work/note.down")" "second line" "appended note.txt through aws"
  ok

  step "s3fs: an object put through the aws CLI shows in the mount"
  run a2 s3api put-object --bucket "$fs_bucket" --key dir/from-aws.bin --body "$work/meta.bin"
  expect_eq "$(ls "$mnt/dir" | tr '\n' ' ')" "from-aws.bin inner.bin " "ls of dir"
  cmp "$work/meta.bin" "$mnt/dir/from-aws.bin" || s3fs_fail "from-aws.bin read through s3fs differs"
  ok

  step "s3fs: mv (a 30 MiB file into dir, a directory), rm, rmdir"
  mv "$mnt/b30.bin" "$mnt/dir/b30-moved.bin" || s3fs_fail "mv b30.bin"
  cmp "$work/b30.bin" "$mnt/dir/b30-moved.bin" || s3fs_fail "moved b30 differs"
  mv "$mnt/dir" "$mnt/dir2" || s3fs_fail "mv dir dir2"
  run a2 s3 ls --recursive "s3://$fs_bucket/"
  expect_eq "$(ls_keys <"$work/cmd.out" | cut -f1 | tr '\n' ' ')" "dir2/ dir2/b30-moved.bin dir2/from-aws.bin dir2/inner.bin note.txt small.bin " "keys after the moves"
  run a2 s3 cp --only-show-errors "s3://$fs_bucket/dir2/b30-moved.bin" "$work/b30.down"
  cmp "$work/b30.bin" "$work/b30.down" || show "moved b30 through aws differs"
  rm "$mnt/dir2/"* "$mnt/small.bin" "$mnt/note.txt" || s3fs_fail "rm"
  rmdir "$mnt/dir2" || s3fs_fail "rmdir"
  expect_eq "$(ls -A "$mnt")" "" "mount after rm"
  run a2 s3api list-objects-v2 --bucket "$fs_bucket" --query 'length(Contents || `[]`)' --output text
  expect_eq "$(out)" "0" "keys left in $fs_bucket"
  ok

  step "s3fs: unmount; every S3 answer s3fs got was 200/204/206 or a 404 probe"
  fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt"
  for _ in $(seq 1 100); do kill -0 "$s3fs_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$s3fs_pid" || fail "s3fs exited non-zero"
  s3fs_pid=""
  awk '/\[CURL DBG\] > (GET|PUT|POST|DELETE|HEAD) / { sub(/^.*CURL DBG\] > /, ""); req = $0; next }
       /\[CURL DBG\] < HTTP\// { if ($0 ~ / 100 Continue/) next; sub(/^.*CURL DBG\] < /, ""); print $2 "\t" req }' \
    "$work/s3fs.log" >"$work/s3fs.requests"
  [[ -s "$work/s3fs.requests" ]] || fail "no requests in the s3fs log"
  if awk -F'\t' '!($1 ~ /^(200|204|206)$/ || ($1 == "404" && $2 ~ /^(HEAD|GET) /))' "$work/s3fs.requests" | grep -q .; then
    awk -F'\t' '!($1 ~ /^(200|204|206)$/ || ($1 == "404" && $2 ~ /^(HEAD|GET) /))' "$work/s3fs.requests" | sed 's/^/  /' >&2
    fail "s3fs got unexpected answers (above)"
  fi
  echo "  ($(wc -l <"$work/s3fs.requests") requests from s3fs)"
  ok
  run a2 s3 rb "s3://$fs_bucket"
fi

# --- stop ----------------------------------------------------------------
step "cairn dev: SIGTERM, exit 0"
dev_stop
ok
step "no plaintext of the clients' marker in the data directory"
if LC_ALL=C grep -rqaF "$marker" "$work/data"; then
  LC_ALL=C grep -rlaF "$marker" "$work/data" >&2
  fail "plaintext written through S3 found in the data directory"
fi
ok
echo "s3 through cairn dev: aws CLI ($v2_version${other_version:+; $other_version}), rclone, s3fs checks passed in $((SECONDS - t_start)) s"
