#!/usr/bin/python3
# tests/bench/meta_load.py — metadata operations per second in a directory:
# create (open O_CREAT|O_EXCL + close of an empty file), stat, unlink of N
# files, one thread, the same code on any file system (a cairn mount, a
# local directory, s3fs), so fuse_compare.sh can put them side by side.
# Prints one line per operation: "<op> <ops/s>".
# Owner: tests (benchmarks). Debian's /usr/bin/python3, standard library.
#   meta_load.py DIR [N]
import os
import sys
import time

where = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
os.makedirs(where, exist_ok=True)
names = [os.path.join(where, f"m{i:06d}") for i in range(n)]


def timed(op, fn):
    start = time.perf_counter()
    for name in names:
        fn(name)
    seconds = time.perf_counter() - start
    print(f"{op} {n / seconds:.0f}", flush=True)


timed("create", lambda p: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)))
timed("stat", os.stat)
timed("unlink", os.unlink)
