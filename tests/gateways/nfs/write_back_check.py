#!/usr/bin/python3
# tests/gateways/nfs/write_back_check.py — the NFS gateway's write-back
# (docs/nfs.md "Write-back", NFS5) seen from both sides: raw NFS v3 calls
# (onc_rpc.py) that choose the stable_how of each WRITE, and S3 (boto3 of
# Debian's /usr/bin/python3) reading the object. Run by nfs_dev_test.sh:
#   write_back_check.py HOST NFS_PORT EXPORT S3_ENDPOINT ACCESS SECRET BUCKET
# Checks: UNSTABLE WRITEs answer UNSTABLE with the server's verifier; READ
# and GETATTR serve the dirty bytes before any COMMIT; COMMIT answers the
# same verifier and S3 then reads exactly the bytes written; an UNSTABLE
# write nobody commits reaches S3 within the idle bound; a FILE_SYNC WRITE
# answers FILE_SYNC and S3 reads it at once; a WRITE past the end and one
# in the middle of a multi-chunk file change only what they write.
import os
import struct
import sys
import time

import boto3
from botocore.config import Config

from onc_rpc import MOUNT, NFS, Conn, call, parse, xdr_opaque

host, port, export, endpoint, access, secret, bucket = sys.argv[1:8]
failures = []
UNSTABLE, FILE_SYNC = 0, 2


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                  aws_secret_access_key=secret, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))


def s3_bytes(key):
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


c = Conn(host, int(port))
xid = [100]


def nfs(proc, args):
    xid[0] += 1
    r = parse(c.rpc(call(xid[0], NFS, 3, proc, args)))
    assert r[0] == xid[0] and r[1] == "accepted" and r[2] == 0, r[:3]
    return r[3]


def skip_post_op(body, at):
    (follows,) = struct.unpack(">I", body[at:at + 4])
    return at + 4 + (84 if follows else 0)


def skip_wcc(body, at):
    (follows,) = struct.unpack(">I", body[at:at + 4])
    return skip_post_op(body, at + 4 + (24 if follows else 0))


r = parse(c.rpc(call(1, MOUNT, 3, 1, xdr_opaque(export.encode()))))
(hlen,) = struct.unpack(">I", r[3][4:8])
root = r[3][8:8 + hlen]


def create(name):
    # mode set; uid, gid, size unset; atime, mtime DONT_CHANGE
    sattr = struct.pack(">II", 1, 0o644) + struct.pack(">IIIII", 0, 0, 0, 0, 0)
    body = nfs(8, xdr_opaque(root) + xdr_opaque(name.encode()) + struct.pack(">I", 0) + sattr)
    status, follows, flen = struct.unpack(">III", body[:12])
    assert status == 0 and follows == 1, status
    return body[12:12 + flen]


def write(fh, offset, data, stable):
    body = nfs(7, xdr_opaque(fh) + struct.pack(">QII", offset, len(data), stable) + xdr_opaque(data))
    (status,) = struct.unpack(">I", body[:4])
    if status != 0:
        return status, None, None, None
    at = skip_wcc(body, 4)
    count, committed = struct.unpack(">II", body[at:at + 8])
    return status, count, committed, body[at + 8:at + 16]


def read(fh, offset, count):
    body = nfs(6, xdr_opaque(fh) + struct.pack(">QI", offset, count))
    (status,) = struct.unpack(">I", body[:4])
    at = skip_post_op(body, 4)
    n, eof, dlen = struct.unpack(">III", body[at:at + 12])
    return status, body[at + 12:at + 12 + dlen]


def size_of(fh):
    body = nfs(1, xdr_opaque(fh))
    status, = struct.unpack(">I", body[:4])
    (size,) = struct.unpack(">Q", body[4 + 20:4 + 28])
    return size


def commit(fh):
    body = nfs(21, xdr_opaque(fh) + struct.pack(">QI", 0, 0))
    (status,) = struct.unpack(">I", body[:4])
    at = skip_wcc(body, 4)
    return status, body[at:at + 8]


# UNSTABLE writes: buffered, served, committed by COMMIT.
fh = create("write-back.bin")
data = os.urandom(300 * 1024)
verfs = set()
ok = True
for off in range(0, len(data), 100 * 1024):
    status, count, committed, verf = write(fh, off, data[off:off + 100 * 1024], UNSTABLE)
    ok &= status == 0 and count == 100 * 1024 and committed == UNSTABLE
    verfs.add(verf)
check(ok and len(verfs) == 1, "three UNSTABLE WRITEs answer UNSTABLE with one verifier")
check(size_of(fh) == len(data), "GETATTR before COMMIT has the written size")
status, got = read(fh, 0, len(data))
check(status == 0 and got == data, "READ before COMMIT returns the dirty bytes")
status, verf = commit(fh)
check(status == 0 and verf in verfs, "COMMIT answers the WRITEs' verifier")
check(s3_bytes("write-back.bin") == data, "after COMMIT, S3 reads exactly the bytes written")

# An UNSTABLE write in the middle, never committed: S3 sees it once the file
# has been idle for the write-back bound (2 s), well within 20 s.
data = data[:150000] + b"0123456789" + data[150010:]
status, _, committed, _ = write(fh, 150000, b"0123456789", UNSTABLE)
check(status == 0 and committed == UNSTABLE, "a WRITE in the middle answers UNSTABLE")
deadline = time.time() + 20
while time.time() < deadline and s3_bytes("write-back.bin") != data:
    time.sleep(0.5)
check(s3_bytes("write-back.bin") == data, "an UNSTABLE WRITE nobody commits reaches S3 when idle")

# FILE_SYNC: durable and visible at once.
status, _, committed, _ = write(fh, len(data), b"tail", FILE_SYNC)
data += b"tail"
check(status == 0 and committed == FILE_SYNC, "a FILE_SYNC WRITE answers FILE_SYNC")
check(s3_bytes("write-back.bin") == data, "S3 reads a FILE_SYNC WRITE at once")

# A multi-chunk file (three 4 MiB slots): a write in the middle of the
# second slot, then COMMIT; S3 reads the patched file whole.
fh = create("write-back-big.bin")
big = bytearray(os.urandom(9 << 20))
for off in range(0, len(big), 1 << 20):
    write(fh, off, bytes(big[off:off + (1 << 20)]), UNSTABLE)
check(commit(fh)[0] == 0, "COMMIT of a 9 MiB file")
big[5 << 20:(5 << 20) + 7] = b"patched"
write(fh, 5 << 20, b"patched", UNSTABLE)
check(commit(fh)[0] == 0 and s3_bytes("write-back-big.bin") == bytes(big),
      "a patch in the middle of a 9 MiB file, committed: S3 reads the patched bytes")
status, got = read(fh, (5 << 20) - 3, 13)
check(status == 0 and got == bytes(big[(5 << 20) - 3:(5 << 20) + 10]), "READ across the patch")

if failures:
    print("%d write-back check(s) failed" % len(failures))
    sys.exit(1)
print("all write-back checks passed")
