#!/usr/bin/env python3
"""tests/gateways/s3/gc_test.py — chunk garbage collection through S3
(ADR 0007) against a `cairn dev` started with a short --gc-grace-ms:
overwritten, deleted, aborted and failed uploads leave chunks that the
collector deletes (cairn_gc_* on /metrics), while every live object, one
sharing chunks with a deleted one, a copy outliving its source, and data
uploaded again after its chunks were collected all read back intact.
Run by gc_test.sh.

usage: gc_test.py ENDPOINT ACCESS_KEY SECRET_KEY METRICS_URL
"""
import base64
import hashlib
import os
import sys
import time
import urllib.request

import s3check
from s3check import check, expect_error

endpoint, access, secret, metrics_url = sys.argv[1:5]
s3 = s3check.client(endpoint, access, secret)
MB = 1 << 20


def metric(name):
    for line in urllib.request.urlopen(metrics_url).read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on /metrics")


def settle(what, timeout=60):
    """Waits until the collector has nothing pending twice in a row."""
    deadline = time.time() + timeout
    quiet = 0
    while time.time() < deadline:
        quiet = quiet + 1 if metric("cairn_gc_pending_chunks") == 0 else 0
        if quiet >= 2:
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: garbage still pending after {timeout} s")


B = "gc-test"
s3.create_bucket(Bucket=B)
a = os.urandom(9 * MB)       # 3 chunks of 4 MiB
shared = a[:4 * MB]          # the same first chunk as `a`
s3.put_object(Bucket=B, Key="a", Body=a)
s3.put_object(Bucket=B, Key="shares-a-chunk", Body=shared)
s3.copy_object(Bucket=B, Key="copy-of-a", CopySource={"Bucket": B, "Key": "a"})
base = metric("cairn_gc_chunks_collected_total")

# Garbage of every kind.
s3.put_object(Bucket=B, Key="a", Body=os.urandom(5 * MB))   # the copy still names a's chunks
s3.delete_object(Bucket=B, Key="copy-of-a")                # now 2 of a's 3 chunks are garbage
doomed = os.urandom(6 * MB)
s3.put_object(Bucket=B, Key="doomed", Body=doomed)
s3.delete_object(Bucket=B, Key="doomed")                   # 2 chunks
up = s3.create_multipart_upload(Bucket=B, Key="aborted")["UploadId"]
s3.upload_part(Bucket=B, Key="aborted", UploadId=up, PartNumber=1, Body=os.urandom(5 * MB))
s3.abort_multipart_upload(Bucket=B, Key="aborted", UploadId=up)  # 2 chunks
bad = os.urandom(5 * MB)
expect_error("BadDigest", s3.put_object, Bucket=B, Key="bad", Body=bad,
             ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())  # 2 orphans
settle("after deletes")
collected = metric("cairn_gc_chunks_collected_total") - base
check(f"the collector deleted the unreferenced chunks ({collected:.0f} >= 8)", collected >= 8)
check("shard deletes reached the devices", metric("cairn_gc_shard_deletes_total") >= 8 * 6)
check("an object sharing a chunk with a deleted one reads back",
      s3.get_object(Bucket=B, Key="shares-a-chunk")["Body"].read() == shared)
check("the overwritten object reads back", len(s3.get_object(Bucket=B, Key="a")["Body"].read()) == 5 * MB)
expect_error("NoSuchKey", s3.get_object, Bucket=B, Key="bad")

# The same bytes again after their chunks were collected: written anew.
s3.put_object(Bucket=B, Key="doomed-again", Body=doomed)
check("data uploaded again after collection reads back",
      s3.get_object(Bucket=B, Key="doomed-again")["Body"].read() == doomed)
s3.put_object(Bucket=B, Key="a-again", Body=a)
check("a's bytes again (one chunk still live, two collected) read back",
      s3.get_object(Bucket=B, Key="a-again")["Body"].read() == a)
settle("at the end")
check("nothing live was collected",
      s3.get_object(Bucket=B, Key="a-again")["Body"].read() == a
      and s3.get_object(Bucket=B, Key="shares-a-chunk")["Body"].read() == shared)
print("chunk garbage collection: all checks passed")
