#!/usr/bin/env python3
"""tests/gateways/s3/cluster_s3_test.py — boto3 checks against the S3
gateways of a real 3-node `cairn server` cluster: objects written through
one node read back, byte for byte and with the same ETag, through the
others. Run by tests/gateways/s3/cluster_s3_test.sh (Debian's
/usr/bin/python3 with python3-boto3), one phase at a time; what was
written (size, sha256, ETag of every live key) is kept in a JSON state
file, so a later phase can read everything back through other nodes, or
with a node killed.

Owner: the S3 gateway (gateways/s3) and the runtime's cross-node chunk
I/O (runtime/remote_devices.*); see cluster_s3_test.sh.

usage: cluster_s3_test.py PHASE --state FILE --access KEY --secret SECRET
                          --endpoints URL1,URL2,URL3 [--nodes 1,2] [more]
  write     via node 1: create the bucket; PUT 0 B, 1 KiB, 5 MiB, 20 MiB
            random objects; read each back through node 1.
  cross     GET/HEAD of each object through nodes 2 and 3; ranges through
            node 3; ListObjectsV2 through node 2; a multipart upload
            created on 2, parts through 1 and 3, completed on 2, read
            through 1; CopyObject through 3; DeleteObject through 3, then
            NoSuchKey through 1.
  add-file  --key K --file F --part-bytes N: records a file uploaded by
            another client (the aws CLI), with the ETag of a multipart
            upload in parts of N bytes, and checks it through --nodes.
  verify    every recorded object reads back (GET and HEAD) through each
            node of --nodes.
  put-new   --via N: PUTs new objects through node N and reads them back
            through each node of --nodes.
Every check prints `ok: ...`; the first failure prints
`FAIL: <phase>: <check>: <error>` and exits 1.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import boto3
import botocore
from botocore.config import Config

from s3check import expect_error

BUCKET = "cluster"
KiB, MiB = 1024, 1024 * 1024

ap = argparse.ArgumentParser()
ap.add_argument("phase", choices=["write", "cross", "add-file", "verify", "put-new"])
ap.add_argument("--state", required=True)
ap.add_argument("--access", required=True)
ap.add_argument("--secret", required=True)
ap.add_argument("--endpoints", required=True, help="node 1,2,3 S3 URLs, comma-separated")
ap.add_argument("--nodes", default="1,2,3", help="nodes to read through")
ap.add_argument("--via", type=int, default=1)
ap.add_argument("--key")
ap.add_argument("--file")
ap.add_argument("--part-bytes", type=int, default=8 * MiB)
args = ap.parse_args()

endpoints = args.endpoints.split(",")
assert len(endpoints) == 3, "--endpoints needs the three nodes' S3 URLs"
read_nodes = [int(n) for n in args.nodes.split(",") if n]


def client(node):
    # Like s3check.client (path style, SigV4, no retries: a failure shows
    # at once), with explicit timeouts: a degraded read of a large object
    # under ASan on 2 cores is slow, a hung one must not hang the test.
    return boto3.client(
        "s3", endpoint_url=endpoints[node - 1], aws_access_key_id=args.access,
        aws_secret_access_key=args.secret, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                      retries={"max_attempts": 1}, connect_timeout=5, read_timeout=90))


s3 = {n: client(n) for n in (1, 2, 3)}


def load_state():
    if os.path.exists(args.state):
        with open(args.state) as f:
            return json.load(f)
    return {"objects": {}}


def save_state(state):
    tmp = args.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, args.state)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def md5_etag(b):
    return '"' + hashlib.md5(b).hexdigest() + '"'


def multipart_etag(parts):
    return '"' + hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f'-{len(parts)}"'


def human(n):
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n // KiB} KiB" if n >= KiB and n % KiB == 0 else f"{n} B"


class Failed(Exception):
    pass


current = ["start"]


def check(name, cond, detail=""):
    current[0] = name
    if not cond:
        raise Failed(name + (f" ({detail})" if detail else ""))
    print("ok:", name, flush=True)


def run(name, fn, *a, **kw):
    """Calls fn; an exception names the check it happened in."""
    current[0] = name
    return fn(*a, **kw)


def get_bytes(node, key, **kw):
    r = run(f"GET {key} through node {node}", s3[node].get_object, Bucket=BUCKET, Key=key, **kw)
    return r, r["Body"].read()


def read_back(node, key, want):
    """GET and HEAD of `key` through `node` match the record `want`."""
    r, body = get_bytes(node, key)
    check(f"GET {key} ({human(want['size'])}) through node {node}: bytes",
          len(body) == want["size"] and sha(body) == want["sha256"],
          f"got {len(body)} bytes, sha256 {sha(body)[:16]}..., want {want['size']} bytes, {want['sha256'][:16]}...")
    check(f"GET {key} through node {node}: ETag", r["ETag"] == want["etag"], f"{r['ETag']} != {want['etag']}")
    h = run(f"HEAD {key} through node {node}", s3[node].head_object, Bucket=BUCKET, Key=key)
    check(f"HEAD {key} through node {node}: length and ETag",
          h["ContentLength"] == want["size"] and h["ETag"] == want["etag"],
          f"{h['ContentLength']} {h['ETag']}, want {want['size']} {want['etag']}")


def list_keys(node):
    keys = []
    pages = run(f"ListObjectsV2 through node {node}", s3[node].get_paginator("list_objects_v2").paginate,
                Bucket=BUCKET, PaginationConfig={"PageSize": 3})
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


# --- phases ---------------------------------------------------------------------


def phase_write(state):
    run("CreateBucket through node 1", s3[1].create_bucket, Bucket=BUCKET)
    run("HeadBucket through node 1", s3[1].head_bucket, Bucket=BUCKET)
    check("the bucket is listed through node 1",
          BUCKET in [b["Name"] for b in s3[1].list_buckets()["Buckets"]])
    for key, size in [("obj/0B", 0), ("obj/1KiB", KiB), ("obj/5MiB", 5 * MiB), ("obj/20MiB", 20 * MiB)]:
        data = os.urandom(size)
        put = run(f"PUT {key} through node 1", s3[1].put_object, Bucket=BUCKET, Key=key, Body=data)
        check(f"PUT {key} ({human(size)}) through node 1: ETag is the MD5", put["ETag"] == md5_etag(data),
              put["ETag"])
        state["objects"][key] = {"size": size, "sha256": sha(data), "etag": put["ETag"]}
        save_state(state)
        read_back(1, key, state["objects"][key])


def phase_cross(state):
    objs = state["objects"]
    for n in (2, 3):
        run(f"HeadBucket through node {n}", s3[n].head_bucket, Bucket=BUCKET)
    # Written through node 1, read through the others: metadata comes from
    # the data shard (Raft), chunk shards from devices on every node.
    for key in sorted(objs):
        for n in (2, 3):
            read_back(n, key, objs[key])

    # Ranges through node 3 on the 20 MiB object: inside a chunk, across
    # the 4 MiB chunk boundary, a long one over several chunks, a suffix.
    key, want = "obj/20MiB", objs["obj/20MiB"]
    _, whole = get_bytes(1, key)
    check("the 20 MiB object through node 1 (reference for the ranges)", sha(whole) == want["sha256"])
    for first, last in [(0, 0), (100, 4195), (4194300, 4194310), (3 * MiB + 7, 13 * MiB + 11),
                        (want["size"] - 1000, want["size"] - 1)]:
        r, body = get_bytes(3, key, Range=f"bytes={first}-{last}")
        check(f"Range bytes={first}-{last} of {key} through node 3",
              body == whole[first:last + 1] and r["ContentRange"] == f"bytes {first}-{last}/{want['size']}",
              f"{len(body)} bytes, Content-Range {r.get('ContentRange')}")
    r, body = get_bytes(3, key, Range="bytes=-777")
    check(f"suffix Range bytes=-777 of {key} through node 3", body == whole[-777:], f"{len(body)} bytes")
    expect_error("InvalidRange", s3[3].get_object, Bucket=BUCKET, Key=key, Range=f"bytes={want['size']}-")
    print("ok: an unsatisfiable range through node 3 is InvalidRange")
    del whole

    got = list_keys(2)
    check("ListObjectsV2 through node 2 sees every key written through node 1",
          got == sorted(objs), f"got {got}, want {sorted(objs)}")

    # Multipart: created on node 2, parts through nodes 1 and 3, completed
    # on node 2, read through node 1.
    mkey = "mp/multi.bin"
    parts = [os.urandom(6 * MiB), os.urandom(5 * MiB), os.urandom(1234567)]
    up = run("CreateMultipartUpload through node 2", s3[2].create_multipart_upload, Bucket=BUCKET, Key=mkey)
    uid = up["UploadId"]
    etags = []
    for number, (data, n) in enumerate(zip(parts, (1, 3, 1)), start=1):
        r = run(f"UploadPart {number} ({len(data)} bytes) through node {n}", s3[n].upload_part,
                Bucket=BUCKET, Key=mkey, UploadId=uid, PartNumber=number, Body=data)
        check(f"UploadPart {number} through node {n}: ETag is the part's MD5", r["ETag"] == md5_etag(data), r["ETag"])
        etags.append(r["ETag"])
    listed = run("ListParts through node 2", s3[2].list_parts, Bucket=BUCKET, Key=mkey, UploadId=uid)["Parts"]
    check("ListParts through node 2 sees the parts uploaded through nodes 1 and 3",
          [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed]
          == [(i + 1, len(p), e) for i, (p, e) in enumerate(zip(parts, etags))],
          str([(p["PartNumber"], p["Size"]) for p in listed]))
    done = run("CompleteMultipartUpload through node 2", s3[2].complete_multipart_upload,
               Bucket=BUCKET, Key=mkey, UploadId=uid,
               MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    check("CompleteMultipartUpload through node 2: ETag is md5-of-md5s-3",
          done["ETag"] == multipart_etag(parts), done["ETag"])
    whole = b"".join(parts)
    objs[mkey] = {"size": len(whole), "sha256": sha(whole), "etag": done["ETag"]}
    save_state(state)
    del whole, parts
    read_back(1, mkey, objs[mkey])
    check("no upload left in progress (seen through node 3)",
          s3[3].list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == [])

    # CopyObject through node 3 (its source written through node 1).
    ckey = "copy/5MiB"
    c = run("CopyObject through node 3", s3[3].copy_object, Bucket=BUCKET, Key=ckey,
            CopySource={"Bucket": BUCKET, "Key": "obj/5MiB"})
    check("CopyObject through node 3 keeps the ETag", c["CopyObjectResult"]["ETag"] == objs["obj/5MiB"]["etag"],
          c["CopyObjectResult"]["ETag"])
    objs[ckey] = dict(objs["obj/5MiB"])
    save_state(state)
    read_back(1, ckey, objs[ckey])

    # DeleteObject through node 3, then NoSuchKey through node 1 at once:
    # the delete is committed through the data shard's Raft log before it
    # is acknowledged, and reads are linearizable, so no retry is allowed.
    dkey = "obj/1KiB"
    run(f"DeleteObject {dkey} through node 3", s3[3].delete_object, Bucket=BUCKET, Key=dkey)
    del objs[dkey]
    save_state(state)
    current[0] = f"GET {dkey} through node 1 after its delete through node 3"
    expect_error("NoSuchKey", s3[1].get_object, Bucket=BUCKET, Key=dkey)
    print(f"ok: GET of {dkey} through node 1 right after its delete through node 3 is NoSuchKey")
    current[0] = f"HEAD {dkey} through node 2 after its delete"
    expect_error("404", s3[2].head_object, Bucket=BUCKET, Key=dkey)
    print(f"ok: HEAD of {dkey} through node 2 is 404")
    got = list_keys(1)
    check("ListObjectsV2 through node 1 after the copy and the delete", got == sorted(objs),
          f"got {got}, want {sorted(objs)}")


def phase_add_file(state):
    with open(args.file, "rb") as f:
        data = f.read()
    parts = [data[i:i + args.part_bytes] for i in range(0, len(data), args.part_bytes)]
    etag = multipart_etag(parts) if len(parts) > 1 else md5_etag(data)
    state["objects"][args.key] = {"size": len(data), "sha256": sha(data), "etag": etag}
    save_state(state)
    del data, parts
    for n in read_nodes:
        h = run(f"HEAD {args.key} through node {n}", s3[n].head_object, Bucket=BUCKET, Key=args.key)
        check(f"HEAD {args.key} through node {n}: length and multipart ETag",
              h["ContentLength"] == state["objects"][args.key]["size"] and h["ETag"] == etag,
              f"{h['ContentLength']} {h['ETag']}, want {etag}")


def phase_verify(state):
    objs = state["objects"]
    t0 = time.monotonic()
    for n in read_nodes:
        for key in sorted(objs):
            read_back(n, key, objs[key])
        got = list_keys(n)
        check(f"ListObjectsV2 through node {n} lists exactly the recorded keys", got == sorted(objs),
              f"got {got}, want {sorted(objs)}")
    total = sum(o["size"] for o in objs.values())
    print(f"verified {len(objs)} objects ({total / MiB:.1f} MiB) through node(s) {args.nodes}"
          f" in {time.monotonic() - t0:.1f} s")


def phase_put_new(state):
    objs = state["objects"]
    for key, size in [(f"after/via-node{args.via}-small", 3000), (f"after/via-node{args.via}-7MiB", 7 * MiB + 3)]:
        data = os.urandom(size)
        put = run(f"PUT {key} through node {args.via}", s3[args.via].put_object, Bucket=BUCKET, Key=key, Body=data)
        check(f"PUT {key} through node {args.via}: ETag is the MD5", put["ETag"] == md5_etag(data), put["ETag"])
        objs[key] = {"size": size, "sha256": sha(data), "etag": put["ETag"]}
        save_state(state)
        for n in read_nodes:
            read_back(n, key, objs[key])


phases = {"write": phase_write, "cross": phase_cross, "add-file": phase_add_file,
          "verify": phase_verify, "put-new": phase_put_new}

try:
    st = load_state()
    phases[args.phase](st)
except Failed as e:
    print(f"FAIL: {args.phase}: {e}", file=sys.stderr)
    sys.exit(1)
except botocore.exceptions.ClientError as e:
    err = e.response.get("Error", {})
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    print(f"FAIL: {args.phase}: {current[0]}: HTTP {status} {err.get('Code')}: {err.get('Message')}",
          file=sys.stderr)
    sys.exit(1)
except (botocore.exceptions.BotoCoreError, AssertionError, OSError) as e:
    print(f"FAIL: {args.phase}: {current[0]}: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
print(f"phase {args.phase}: all checks passed")
