#!/usr/bin/env python3
"""tests/gateways/s3/boto3_test.py — the S3 gateway of a real `cairn dev`
process, driven by boto3 (a real client: its own SigV4, its own XML parsing).

Run by tests/gateways/s3/s3_dev_test.sh with each Python that has boto3:
Debian's /usr/bin/python3 with python3-boto3 (installed by .ci/deps), and
the `python3` on PATH when it is another one (newer botocore sends
aws-chunked uploads with trailing checksums by default).

usage: boto3_test.py ENDPOINT ACCESS_KEY SECRET_KEY
Exits non-zero with the failing check on the first failure.
"""
import os
import sys
import urllib.request

import boto3
import botocore

import s3check
from s3check import check, expect_error

endpoint, access, secret = sys.argv[1:4]
MARKER = b"cairn-s3-plaintext-marker-5d1f"


def client(secret_key=secret, access_key=access):
    return s3check.client(endpoint, access_key, secret_key)


s3 = client()


# Buckets.
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check("the default bucket exists", "cairn" in names)
s3.create_bucket(Bucket="photos")
check("create_bucket lists the new bucket",
      "photos" in [b["Name"] for b in s3.list_buckets()["Buckets"]])
expect_error("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket="photos")
expect_error("InvalidBucketName", s3.create_bucket, Bucket="Bad_Name")
s3.head_bucket(Bucket="photos")
e = expect_error("404", s3.head_bucket, Bucket="nope-missing")
expect_error("NoSuchBucket", s3.list_objects_v2, Bucket="nope-missing")

# Objects: inline (small), several chunks (large), ranges, metadata.
small = MARKER + b" small object"
s3.put_object(Bucket="photos", Key="a/b/small.txt", Body=small, ContentType="text/plain",
              Metadata={"owner": "ann"})
got = s3.get_object(Bucket="photos", Key="a/b/small.txt")
check("small object reads back", got["Body"].read() == small)
check("content type kept", got["ContentType"] == "text/plain")
check("user metadata kept", got["Metadata"] == {"owner": "ann"})
big = (MARKER + os.urandom(1000)) * 9000  # ~9.3 MB: three 4 MiB chunks
put = s3.put_object(Bucket="photos", Key="big.bin", Body=big)
check("large object reads back", s3.get_object(Bucket="photos", Key="big.bin")["Body"].read() == big)
import hashlib
check("ETag is the MD5", put["ETag"] == '"' + hashlib.md5(big).hexdigest() + '"')
r = s3.get_object(Bucket="photos", Key="big.bin", Range="bytes=4194300-4194310")
check("range across a chunk boundary", r["Body"].read() == big[4194300:4194311])
check("range status and header", r["ContentRange"] == f"bytes 4194300-4194310/{len(big)}")
check("suffix range", s3.get_object(Bucket="photos", Key="big.bin", Range="bytes=-5")["Body"].read() == big[-5:])
expect_error("InvalidRange", s3.get_object, Bucket="photos", Key="big.bin", Range=f"bytes={len(big)}-")
h = s3.head_object(Bucket="photos", Key="big.bin")
check("head_object length", h["ContentLength"] == len(big))
expect_error("404", s3.head_object, Bucket="photos", Key="missing")
expect_error("NoSuchKey", s3.get_object, Bucket="photos", Key="missing")
s3.put_object(Bucket="photos", Key="empty", Body=b"")
check("empty object", s3.get_object(Bucket="photos", Key="empty")["Body"].read() == b"")
etag = s3.head_object(Bucket="photos", Key="empty")["ETag"]
expect_error("PreconditionFailed", s3.get_object, Bucket="photos", Key="empty", IfMatch='"nope"')
check("If-Match with the ETag", s3.get_object(Bucket="photos", Key="empty", IfMatch=etag)["Body"].read() == b"")

# Keys as paths (ADR 0005).
expect_error("ObjectPathConflict", s3.put_object, Bucket="photos", Key="a/b", Body=b"x")
expect_error("InvalidArgument", s3.put_object, Bucket="photos", Key="x//y", Body=b"x")
s3.put_object(Bucket="photos", Key="dir/", Body=b"")
check("a directory marker heads as an empty object",
      s3.head_object(Bucket="photos", Key="dir/")["ContentLength"] == 0)

# Listings: v2 with prefix/delimiter and pages, v1.
for i in range(7):
    s3.put_object(Bucket="photos", Key=f"many/k{i}", Body=b"x")
lst = s3.list_objects_v2(Bucket="photos", Delimiter="/")
check("top level keys", [o["Key"] for o in lst.get("Contents", [])] == ["big.bin", "empty"])
check("common prefixes", [p["Prefix"] for p in lst["CommonPrefixes"]] == ["a/", "dir/", "many/"])
keys, token = [], None
while True:
    kw = {"Bucket": "photos", "Prefix": "many/", "MaxKeys": 3}
    if token:
        kw["ContinuationToken"] = token
    page = s3.list_objects_v2(**kw)
    keys += [o["Key"] for o in page.get("Contents", [])]
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
check("paged listing", keys == [f"many/k{i}" for i in range(7)])
v1 = s3.list_objects(Bucket="photos", Prefix="a/")
check("list v1", [o["Key"] for o in v1["Contents"]] == ["a/b/small.txt"])
paginator = s3.get_paginator("list_objects_v2")
check("paginator", sum(len(p.get("Contents", [])) for p in paginator.paginate(Bucket="photos", PaginationConfig={"PageSize": 2})) == 11)

# Authentication.
expect_error("SignatureDoesNotMatch", client(secret_key="x" * 40).list_buckets)
expect_error("InvalidAccessKeyId", client(access_key="CKAAAAAAAAAAAAAAAAAA").list_buckets)
url = s3.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "a/b/small.txt"}, ExpiresIn=60)
check("presigned GET", urllib.request.urlopen(url).read() == small)

# Deletes.
expect_error("BucketNotEmpty", s3.delete_bucket, Bucket="photos")
for key in ["a/b/small.txt", "big.bin", "empty", "dir/"] + [f"many/k{i}" for i in range(7)]:
    s3.delete_object(Bucket="photos", Key=key)
s3.delete_object(Bucket="photos", Key="never-existed")  # 204 as in S3
check("bucket emptied", s3.list_objects_v2(Bucket="photos")["KeyCount"] == 0)
s3.delete_bucket(Bucket="photos")
check("bucket deleted", "photos" not in [b["Name"] for b in s3.list_buckets()["Buckets"]])

# Leave a marker object for the plaintext scan the runner does after stopping.
s3.put_object(Bucket="cairn", Key="marker-small", Body=MARKER * 4)
s3.put_object(Bucket="cairn", Key="marker-large", Body=MARKER * 200000)
print("boto3", boto3.__version__, "botocore", botocore.__version__, ": all checks passed")
