#!/usr/bin/python3
# tests/gateways/nfs/rpc_bad_input.py — bad input to a running cairn NFS
# gateway, over raw ONC RPC on TCP (hand-built on purpose: real clients
# never send most of this). Run with Debian's /usr/bin/python3 (standard
# library only) by nfs_dev_test.sh:
#   rpc_bad_input.py HOST PORT EXPORT_PATH
# Checks (NFS1, RPC1-RPC3, FH1/NFS2): RPC_MISMATCH, AUTH_ERROR (BADCRED for
# an unknown flavor, TOOWEAK for AUTH_NONE), PROG_UNAVAIL, PROG_MISMATCH with
# the versions served, PROC_UNAVAIL, GARBAGE_ARGS for truncated and trailing
# arguments, NFS3ERR_BADHANDLE for forged and altered handles, MNT3ERR_NOENT
# for an unknown export, and that the connection carries on after each;
# records split into many fragments are answered; an oversized record
# closes the connection without a reply.
import os
import struct
import sys

from onc_rpc import AUTH_NONE, MOUNT, NFS, Conn, auth_sys, call, parse, record, xdr_opaque

host, port, export = sys.argv[1], int(sys.argv[2]), sys.argv[3]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


c = Conn(host, port)

# MOUNT v3 MNT of the export: the root handle.
r = parse(c.rpc(call(1, MOUNT, 3, 1, xdr_opaque(export.encode()))))
check(r[1] == "accepted" and r[2] == 0, "MNT is answered")
(mstat,) = struct.unpack(">I", r[3][:4])
check(mstat == 0, "MNT of %s succeeds" % export)
(hlen,) = struct.unpack(">I", r[3][4:8])
root = r[3][8:8 + hlen]
check(hlen == 36, "the root handle has 36 bytes")

r = parse(c.rpc(call(2, MOUNT, 3, 1, xdr_opaque(b"/no-such-export"))))
check(struct.unpack(">I", r[3][:4])[0] == 2, "MNT of an unknown export: MNT3ERR_NOENT")

# GETATTR of the root, sent in 7 fragments: NFS3_OK, a directory.
r = parse(c.rpc(call(3, NFS, 3, 1, xdr_opaque(root)), fragments=7))
status, ftype = struct.unpack(">II", r[3][:8])
check(r[0] == 3 and r[2] == 0 and status == 0 and ftype == 2,
      "GETATTR of the root in 7 fragments: a directory")

# FSINFO and PATHCONF of the root: the sizes and limits clients plan with.
r = parse(c.rpc(call(30, NFS, 3, 19, xdr_opaque(root))))
body = r[3]
status, follows = struct.unpack(">II", body[:8])
at = 8 + (84 if follows else 0)
rtmax, rtpref, rtmult, wtmax = struct.unpack(">IIII", body[at:at + 16])
check(status == 0 and rtmax == 1 << 20 and wtmax == 1 << 20, "FSINFO: rtmax and wtmax 1 MiB")
r = parse(c.rpc(call(31, NFS, 3, 20, xdr_opaque(root))))
body = r[3]
status, follows = struct.unpack(">II", body[:8])
at = 8 + (84 if follows else 0)
linkmax, name_max, no_trunc = struct.unpack(">III", body[at:at + 12])
check(status == 0 and name_max == 255 and no_trunc == 1, "PATHCONF: name_max 255, no_trunc")

# RPC errors; the connection carries on after each.
r = parse(c.rpc(call(4, NFS, 3, 1, xdr_opaque(root), rpcvers=3)))
check(r[0] == 4 and r[1] == "denied" and r[2] == 0 and r[3][:8] == struct.pack(">II", 2, 2),
      "RPC version 3: RPC_MISMATCH 2..2")
r = parse(c.rpc(call(5, NFS, 3, 1, xdr_opaque(root), cred=struct.pack(">I", 6) + xdr_opaque(b"gss"))))
check(r[1] == "denied" and r[2] == 1 and struct.unpack(">I", r[3][:4])[0] == 1,
      "an unknown credential flavor: AUTH_ERROR, AUTH_BADCRED")
r = parse(c.rpc(call(6, NFS, 3, 1, xdr_opaque(root), cred=AUTH_NONE)))
check(r[1] == "denied" and r[2] == 1 and struct.unpack(">I", r[3][:4])[0] == 5,
      "AUTH_NONE on an export that wants AUTH_SYS: AUTH_ERROR, AUTH_TOOWEAK")
r = parse(c.rpc(call(7, 100004, 3, 0)))
check(r[1] == "accepted" and r[2] == 1, "another program: PROG_UNAVAIL")
for vers in (2, 4):
    r = parse(c.rpc(call(8, NFS, vers, 0)))
    check(r[1] == "accepted" and r[2] == 2 and r[3][:8] == struct.pack(">II", 3, 3),
          "NFS version %d: PROG_MISMATCH 3..3" % vers)
r = parse(c.rpc(call(9, NFS, 3, 22)))
check(r[1] == "accepted" and r[2] == 3, "procedure 22: PROC_UNAVAIL")
r = parse(c.rpc(call(10, MOUNT, 3, 9)))
check(r[1] == "accepted" and r[2] == 3, "MOUNT procedure 9: PROC_UNAVAIL")
r = parse(c.rpc(call(11, NFS, 3, 1, xdr_opaque(root)[:-3])))
check(r[1] == "accepted" and r[2] == 4, "truncated GETATTR arguments: GARBAGE_ARGS")
r = parse(c.rpc(call(12, NFS, 3, 1, xdr_opaque(root) + b"\0\0\0\0")))
check(r[1] == "accepted" and r[2] == 4, "trailing bytes after the arguments: GARBAGE_ARGS")
r = parse(c.rpc(call(13, NFS, 3, 1, struct.pack(">I", 65) + b"x" * 68)))
check(r[1] == "accepted" and r[2] == 4, "a handle over 64 bytes: GARBAGE_ARGS")

r = parse(c.rpc(call(19, NFS, 3, 3, xdr_opaque(root) + struct.pack(">I", 0x7FFFFFF0) + b"name")))
check(r[1] == "accepted" and r[2] == 4,
      "a name announcing 2 GiB in a tiny call: GARBAGE_ARGS (nothing allocated for it)")

# Forged and altered handles: NFS3ERR_BADHANDLE (10001).
for name, h in (("random", os.urandom(36)), ("altered inode", root[:19] + bytes([root[19] ^ 1]) + root[20:]),
                ("short", root[:20]), ("other version", bytes([2]) + root[1:])):
    r = parse(c.rpc(call(14, NFS, 3, 1, xdr_opaque(h))))
    check(r[2] == 0 and struct.unpack(">I", r[3][:4])[0] == 10001,
          "GETATTR of a %s handle: NFS3ERR_BADHANDLE" % name)

# LOOKUP of names that are not names.
for name, want in ((b"a/b", 22), (b"x" * 256, 63), (b"no-such-entry", 2)):
    r = parse(c.rpc(call(15, NFS, 3, 3, xdr_opaque(root) + xdr_opaque(name))))
    check(r[2] == 0 and struct.unpack(">I", r[3][:4])[0] == want,
          "LOOKUP of %r...: status %d" % (name[:12], want))

# Still the same connection: NULL answers.
r = parse(c.rpc(call(16, NFS, 3, 0)))
check(r[0] == 16 and r[1] == "accepted" and r[2] == 0, "after all that, NULL on the same connection")

# A record announced over the bound: the connection closes, no reply.
c.send(struct.pack(">I", 0x80000000 | (64 << 20)))
check(c.reply() is None, "a 64 MiB record mark closes the connection")

# A new connection works.
c = Conn(host, port)
r = parse(c.rpc(call(17, NFS, 3, 0)))
check(r[1] == "accepted" and r[2] == 0, "a new connection is served")

if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all RPC bad-input checks passed")
