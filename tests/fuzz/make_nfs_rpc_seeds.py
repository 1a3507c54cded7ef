#!/usr/bin/python3
# tests/fuzz/make_nfs_rpc_seeds.py — writes the seed corpus of nfs_rpc_fuzz
# (tests/fuzz/corpus/nfs_rpc/): one well-formed, record-marked call per
# MOUNT v3 and NFS v3 procedure ("call-*"), and a few damaged records.
# Standard library only; run from anywhere: the corpus is checked in.
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "nfs_rpc")
os.makedirs(out, exist_ok=True)


def u32(x):
    return struct.pack(">I", x)


def u64(x):
    return struct.pack(">Q", x)


def opaque(b):
    return u32(len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


FH = opaque(bytes([1, 0, 0, 0]) + bytes(range(32)))
SATTR_NONE = u32(0) * 6
SATTR_ALL = (u32(1) + u32(0o644) + u32(1) + u32(5) + u32(1) + u32(6) + u32(1) + u64(10) +
             u32(2) + u32(1_600_000_000) + u32(5) + u32(1))


def dirop(name):
    return FH + opaque(name)


def auth_sys():
    body = u32(7) + opaque(b"seed-host") + u32(1000) + u32(100) + u32(2) + u32(100) + u32(200)
    return u32(1) + opaque(body)


def call(xid, prog, proc, args, vers=3):
    msg = u32(xid) + u32(0) + u32(2) + u32(prog) + u32(vers) + u32(proc) + auth_sys() + u32(0) + u32(0) + args
    return u32(0x80000000 | len(msg)) + msg


NFS, MOUNT = 100003, 100005
calls = {
    "call-mount-null": (MOUNT, 0, b""),
    "call-mount-mnt": (MOUNT, 1, opaque(b"/cairn/sub")),
    "call-mount-dump": (MOUNT, 2, b""),
    "call-mount-umnt": (MOUNT, 3, opaque(b"/cairn")),
    "call-mount-export": (MOUNT, 5, b""),
    "call-null": (NFS, 0, b""),
    "call-getattr": (NFS, 1, FH),
    "call-setattr": (NFS, 2, FH + SATTR_ALL + u32(1) + u32(1_600_000_000) + u32(7)),
    "call-lookup": (NFS, 3, dirop(b"name.txt")),
    "call-access": (NFS, 4, FH + u32(0x3F)),
    "call-readlink": (NFS, 5, FH),
    "call-read": (NFS, 6, FH + u64(4096) + u32(65536)),
    "call-write": (NFS, 7, FH + u64(123) + u32(11) + u32(0) + opaque(b"hello world")),
    "call-create-unchecked": (NFS, 8, dirop(b"f") + u32(0) + SATTR_ALL),
    "call-create-exclusive": (NFS, 8, dirop(b"f") + u32(2) + b"verifier"),
    "call-mkdir": (NFS, 9, dirop(b"d") + SATTR_NONE),
    "call-symlink": (NFS, 10, dirop(b"l") + SATTR_NONE + opaque(b"../target")),
    "call-mknod-chr": (NFS, 11, dirop(b"c") + u32(4) + SATTR_NONE + u32(1) + u32(3)),
    "call-mknod-fifo": (NFS, 11, dirop(b"p") + u32(7) + SATTR_NONE),
    "call-remove": (NFS, 12, dirop(b"f")),
    "call-rmdir": (NFS, 13, dirop(b"d")),
    "call-rename": (NFS, 14, dirop(b"a") + dirop(b"b")),
    "call-link": (NFS, 15, FH + dirop(b"hard")),
    "call-readdir": (NFS, 16, FH + u64(0) + b"\0" * 8 + u32(4096)),
    "call-readdirplus": (NFS, 17, FH + u64(7) + b"cookieve" + u32(1024) + u32(8192)),
    "call-fsstat": (NFS, 18, FH),
    "call-fsinfo": (NFS, 19, FH),
    "call-pathconf": (NFS, 20, FH),
    "call-commit": (NFS, 21, FH + u64(0) + u32(0)),
}
for i, (name, (prog, proc, args)) in enumerate(sorted(calls.items())):
    with open(os.path.join(out, name), "wb") as f:
        f.write(call(i + 1, prog, proc, args))

# Damaged and unusual records (not "call-*": they need not decode).
getattr_call = call(99, NFS, 1, FH)
body = getattr_call[4:]
damaged = {
    "fragments-three": u32(10) + body[:10] + u32(10) + body[10:20] + u32(0x80000000 | (len(body) - 20)) + body[20:],
    "truncated-args": u32(0x80000000 | (len(body) - 3)) + body[:-3],
    "oversized-mark": u32(0x80000000 | (1 << 30)) + body,
    "rpc-version-3": getattr_call[:12] + u32(3) + getattr_call[16:],
    "flavor-gss": call(98, NFS, 1, FH)[:28] + u32(6) + getattr_call[32:],
    "two-calls": getattr_call + call(97, NFS, 0, b""),
}
for name, data in damaged.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(calls) + len(damaged), out))
