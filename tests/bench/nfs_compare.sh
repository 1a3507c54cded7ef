#!/usr/bin/env bash
# tests/bench/nfs_compare.sh — cairn's NFS gateway next to nfs-ganesha, in
# one run on one machine, with one client (tests/bench/nfs_load.cpp: libnfs,
# synchronous, one connection, 1 MiB READ/WRITE):
#   cairn    `cairn dev` (one node, six chunk devices on the disk, RS 4+2,
#            sealed, O_DIRECT; the namespace in Raft on LMDB);
#   ganesha  Debian's nfs-ganesha 4.3, FSAL_VFS exporting a directory of the
#            same file system, NFSv3 over TCP only.
# Cases (issue 6): sequential write of a 1 GiB file (1 MiB UNSTABLE WRITEs,
# then COMMIT), sequential read of it (page cache dropped first, so both
# read from the disk: cairn has no cache of its own), create (+ a 1 KiB
# write and COMMIT) / stat / remove of 10,000 files, and READDIRPLUS of a
# 10,000-entry directory (3 listings, entries/s). The order of the servers
# alternates per round; the table has every round and the ratio
# cairn/ganesha of the medians (target: >= 1.0 on every line).
#
# Owner: tests (benchmarks). Run by hand from the repository root, as root:
#   tests/bench/nfs_compare.sh [path/to/cairn] [path/to/nfs_load]
#       (defaults build/release/cairn, build/release/tests/nfs_load)
# Environment (defaults in brackets):
#   BENCH_FILE_BYTES [1073741824]   the sequential file
#   BENCH_FILES [10000]             files for create/stat/remove and READDIRPLUS
#   BENCH_ROUNDS [3]                rounds (medians over them)
#   BENCH_GANESHA_PORT [42049]      ganesha's NFS port (MOUNT: the next one)
#   BENCH_TMPDIR [$TMPDIR or /tmp]  both servers' data (not tmpfs)
#   BENCH_DROP_CACHES [1]           0 keeps the page cache before reads
set -euo pipefail
cairn=${1:-build/release/cairn}
load=${2:-build/release/tests/nfs_load}
file_bytes=${BENCH_FILE_BYTES:-1073741824}
files=${BENCH_FILES:-10000}
rounds=${BENCH_ROUNDS:-3}
gport=${BENCH_GANESHA_PORT:-42049}
drop=${BENCH_DROP_CACHES:-1}
for x in "$cairn" "$load"; do [[ -x $x ]] || { echo "nfs_compare: $x is not built" >&2; exit 2; }; done
command -v ganesha.nfsd >/dev/null || { echo "nfs_compare: apt-get install nfs-ganesha nfs-ganesha-vfs" >&2; exit 2; }

work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-nfs-compare.XXXXXX")
cairn_pid="" ganesha_pid="" rpcbind_started=""
cleanup() {
  [[ -n $cairn_pid ]] && kill "$cairn_pid" 2>/dev/null && wait "$cairn_pid" 2>/dev/null || true
  if [[ -n $ganesha_pid ]]; then kill "$ganesha_pid" 2>/dev/null; wait "$ganesha_pid" 2>/dev/null; fi
  [[ -n $rpcbind_started ]] && pkill -x rpcbind || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- cairn ---------------------------------------------------------------------------
device_mb=$(( (file_bytes * 3 / 2 / 6 / 1048576) * 2 + 256 ))  # RS 4+2 over 6 devices, twice over
"$cairn" dev --data "$work/cairn" --admin-port 0 --s3-port 0 --nfs-port 0 --client-port 0 --device-mb "$device_mb" \
  >"$work/cairn.out" 2>"$work/cairn.err" &
cairn_pid=$!
for _ in $(seq 1 300); do grep -q '^nfs-url: ' "$work/cairn.out" 2>/dev/null && break; sleep 0.1; done
cairn_url=$(sed -n 's/^nfs-url: //p' "$work/cairn.out")
[[ -n $cairn_url ]] || { cat "$work/cairn.err" >&2; echo "nfs_compare: cairn dev did not start" >&2; exit 1; }

# --- ganesha -------------------------------------------------------------------------
# It registers with the portmapper; start one if none runs (stopped at the end).
if ! pgrep -x rpcbind >/dev/null; then rpcbind -w && rpcbind_started=1; fi
mkdir -p "$work/ganesha/export"
cat >"$work/ganesha/ganesha.conf" <<EOF
NFS_CORE_PARAM {
  Protocols = 3;
  NFS_Port = $gport;
  MNT_Port = $((gport + 1));
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Bind_addr = 127.0.0.1;
}
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 1;
  Path = $work/ganesha/export;
  Pseudo = $work/ganesha/export;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  Protocols = 3;
  Transports = TCP;
  FSAL { Name = VFS; }
}
EOF
ganesha.nfsd -F -L "$work/ganesha/log" -f "$work/ganesha/ganesha.conf" -p "$work/ganesha/pid" &
ganesha_pid=$!
for _ in $(seq 1 100); do grep -q "SERVER INITIALIZED" "$work/ganesha/log" 2>/dev/null && break; sleep 0.1; done
ganesha_url="nfs://127.0.0.1$work/ganesha/export?version=3&nfsport=$gport&mountport=$((gport + 1))"
"$load" "$ganesha_url" meta --files 1 >/dev/null ||
  { tail -20 "$work/ganesha/log" >&2; echo "nfs_compare: ganesha does not serve" >&2; exit 1; }

# --- the cases -----------------------------------------------------------------------
results="$work/results"  # target round phase rate unit
: >"$results"
run() {  # target url round
  local target=$1 url=$2 round=$3 out
  out=$("$load" "$url" write --file /seq.bin --bytes "$file_bytes")
  if [[ $drop == 1 ]]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
  out+=$'\n'$("$load" "$url" read --file /seq.bin)
  out+=$'\n'$("$load" "$url" meta --dir /meta --files "$files")
  out+=$'\n'$("$load" "$url" readdir --dir /list --files "$files")
  sed -n "s/^phase=\([a-z_]*\) .* rate=\([0-9.]*\) unit=\(.*\)$/$target $round \1 \2 \3/p" <<<"$out" >>"$results"
  echo "round $round $target:" $(sed -n "s/^phase=\([a-z_]*\) .* rate=\([0-9.]*\) unit=.*$/\1=\2/p" <<<"$out") >&2
}
for round in $(seq 1 "$rounds"); do
  if ((round % 2)); then
    run cairn "$cairn_url" "$round"; run ganesha "$ganesha_url" "$round"
  else
    run ganesha "$ganesha_url" "$round"; run cairn "$cairn_url" "$round"
  fi
done

# --- the table ------------------------------------------------------------------------
python3 - "$results" "$file_bytes" "$files" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
names = {"seq_write": "sequential write %s (1 MiB WRITEs + COMMIT)",
         "seq_read": "sequential read %s (1 MiB READs, cold)",
         "create": "create + 1 KiB write + COMMIT, %s files",
         "stat": "stat (LOOKUP + GETATTR), %s files",
         "remove": "remove, %s files",
         "readdirplus_entries": "READDIRPLUS of a %s-entry directory"}
gib = int(sys.argv[2]) / 2**30
print("| case | unit | cairn (rounds) | ganesha (rounds) | cairn/ganesha |")
print("|---|---|---|---|---|")
for phase, title in names.items():
    def of(t):
        return [float(r[3]) for r in rows if r[0] == t and r[2] == phase]
    c, g = of("cairn"), of("ganesha")
    if not c or not g:
        continue
    unit = next(r[4] for r in rows if r[2] == phase)
    label = title % (("%g GiB" % gib) if phase.startswith("seq") else "{:,}".format(int(sys.argv[3])))
    ratio = statistics.median(c) / statistics.median(g)
    print("| %s | %s | %s | %s | **%.2f** |" % (label, unit, " / ".join("%.0f" % x for x in c),
                                               " / ".join("%.0f" % x for x in g), ratio))
EOF
