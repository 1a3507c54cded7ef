#!/usr/bin/env python3
"""tests/gateways/s3/faults_test.py — faults under a running `cairn dev`,
driven by faults_test.sh in phases (boto3, Debian's python3):

  before-kill STATE   a multipart upload with three acknowledged parts and
                      acknowledged objects; their digests go to STATE (JSON)
  inflight STATE      uploads a fourth, large part and more objects until
                      the process is killed under it (kill -9 by the runner)
  after-kill STATE    after a restart: every acknowledged part and object
                      is there and intact; the upload completes from its
                      acknowledged parts and reads back
  corrupt-write STATE objects of many sizes for the corruption phase
  corrupt-read STATE  after random bytes were flipped in two of the six
                      device files: every object reads back exactly (never
                      wrong bytes), twice

usage: faults_test.py PHASE STATE ENDPOINT ACCESS SECRET
"""
import hashlib
import json
import os
import sys

import s3check
from s3check import check

phase, state_file, endpoint, access, secret = sys.argv[1:6]
s3 = s3check.client(endpoint, access, secret)
MB = 1 << 20
B = "faults"


def digest(b):
    return hashlib.sha256(b).hexdigest()


def load():
    with open(state_file) as f:
        return json.load(f)


def save(state):
    with open(state_file + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(state_file + ".tmp", state_file)


if phase == "before-kill":
    s3.create_bucket(Bucket=B)
    state = {"objects": {}, "parts": {}}
    up = s3.create_multipart_upload(Bucket=B, Key="big/upload.bin")["UploadId"]
    state["upload"] = up
    for n in (1, 2, 3):
        data = os.urandom(5 * MB + n)
        etag = s3.upload_part(Bucket=B, Key="big/upload.bin", UploadId=up, PartNumber=n, Body=data)["ETag"]
        state["parts"][str(n)] = {"etag": etag, "sha": digest(data), "size": len(data)}
    for i, size in enumerate([0, 100, 70 * 1024, 4 * MB, 9 * MB + 7]):
        data = os.urandom(size)
        s3.put_object(Bucket=B, Key=f"acked/{i}", Body=data)
        state["objects"][f"acked/{i}"] = digest(data)
    save(state)
    print("before-kill: 3 parts and 5 objects acknowledged")

elif phase == "inflight":
    # Runs until the server dies under it; what it completes is recorded
    # as acknowledged (the kill must not lose it either).
    state = load()
    try:
        data = os.urandom(64 * MB)
        etag = s3.upload_part(Bucket=B, Key="big/upload.bin", UploadId=state["upload"], PartNumber=4, Body=data)["ETag"]
        state["parts"]["4"] = {"etag": etag, "sha": digest(data), "size": len(data)}
        save(state)
        for i in range(1000):
            data = os.urandom(3 * MB)
            s3.put_object(Bucket=B, Key=f"inflight/{i}", Body=data)
            state["objects"][f"inflight/{i}"] = digest(data)
            save(state)
    except Exception as e:  # the server went away mid-request: expected
        print("inflight: stopped by", type(e).__name__)

elif phase == "after-kill":
    state = load()
    for key, sha in state["objects"].items():
        got = s3.get_object(Bucket=B, Key=key)["Body"].read()
        check(f"acknowledged object {key} survived kill -9", digest(got) == sha)
    parts = {p["PartNumber"]: p for p in s3.list_parts(Bucket=B, Key="big/upload.bin", UploadId=state["upload"])["Parts"]}
    for n, p in state["parts"].items():
        check(f"acknowledged part {n} survived kill -9",
              int(n) in parts and parts[int(n)]["ETag"] == p["etag"] and parts[int(n)]["Size"] == p["size"])
    listed = [{"PartNumber": int(n), "ETag": p["etag"]} for n, p in sorted(state["parts"].items(), key=lambda x: int(x[0]))]
    s3.complete_multipart_upload(Bucket=B, Key="big/upload.bin", UploadId=state["upload"],
                                 MultipartUpload={"Parts": listed})
    body = s3.get_object(Bucket=B, Key="big/upload.bin")["Body"].read()
    at = 0
    for n, p in sorted(state["parts"].items(), key=lambda x: int(x[0])):
        check(f"part {n} reads back inside the completed object", digest(body[at:at + p["size"]]) == p["sha"])
        at += p["size"]
    check("the completed object has exactly the acknowledged parts", at == len(body))
    print(f"after-kill: {len(state['objects'])} objects and {len(state['parts'])} parts intact")

elif phase == "corrupt-write":
    s3.create_bucket(Bucket=B)
    state = {"objects": {}}
    for i, size in enumerate([65 * 1024, 1 * MB, 4 * MB, 4 * MB + 1, 13 * MB] * 3):
        data = os.urandom(size)
        s3.put_object(Bucket=B, Key=f"c/{i}", Body=data)
        state["objects"][f"c/{i}"] = digest(data)
    save(state)
    print(f"corrupt-write: {len(state['objects'])} objects")

elif phase == "corrupt-read":
    state = load()
    for round in (1, 2):
        wrong = missing = 0
        for key, sha in state["objects"].items():
            try:
                got = s3.get_object(Bucket=B, Key=key)["Body"].read()
            except Exception as e:  # a cut body: never wrong bytes, but counted
                missing += 1
                print(f"round {round}: {key}: {type(e).__name__}: {e}")
                continue
            if digest(got) != sha:
                wrong += 1
        check(f"round {round}: no object came back with wrong bytes", wrong == 0)
        check(f"round {round}: every object read back (two damaged devices of six)", missing == 0)
    print(f"corrupt-read: {len(state['objects'])} objects intact after the flips")
else:
    sys.exit(f"unknown phase {phase}")
