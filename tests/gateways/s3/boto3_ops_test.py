#!/usr/bin/env python3
"""tests/gateways/s3/boto3_ops_test.py — multipart uploads, copies, batch
deletes, ListObjectVersions, conditional reads and virtual-host addressing
against a real `cairn dev`, driven by boto3 (its own SigV4 and XML).

Run by tests/gateways/s3/s3_dev_test.sh after boto3_test.py, with each
Python that has boto3 (Debian's /usr/bin/python3 first).

usage: boto3_ops_test.py ENDPOINT ACCESS_KEY SECRET_KEY
Exits non-zero with the failing check on the first failure.
"""
import datetime
import hashlib
import os
import socket
import sys

import boto3
import botocore
from boto3.s3.transfer import TransferConfig

import s3check
from s3check import check, expect_error

endpoint, access, secret = sys.argv[1:4]
MB = 1 << 20


s3 = s3check.client(endpoint, access, secret)


def md5_etag(*parts):
    return '"' + hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f'-{len(parts)}"'


B = "ops"
s3.create_bucket(Bucket=B)

# --- multipart -------------------------------------------------------------------------
p1, p2, p3 = os.urandom(5 * MB), os.urandom(5 * MB + 17), os.urandom(1234)
up = s3.create_multipart_upload(Bucket=B, Key="mp/file.bin", ContentType="application/x-test",
                                Metadata={"stage": "raw"})
uid = up["UploadId"]
check("upload id returned", len(uid) > 0 and up["Key"] == "mp/file.bin")
e1 = s3.upload_part(Bucket=B, Key="mp/file.bin", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
e2 = s3.upload_part(Bucket=B, Key="mp/file.bin", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
e3 = s3.upload_part(Bucket=B, Key="mp/file.bin", UploadId=uid, PartNumber=3, Body=p3)["ETag"]
check("part ETag is its MD5", e2 == '"' + hashlib.md5(p2).hexdigest() + '"')
parts = s3.list_parts(Bucket=B, Key="mp/file.bin", UploadId=uid)["Parts"]
check("list_parts", [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts]
      == [(1, len(p1), e1), (2, len(p2), e2), (3, len(p3), e3)])
page = s3.list_parts(Bucket=B, Key="mp/file.bin", UploadId=uid, MaxParts=2)
check("list_parts pages", page["IsTruncated"] and page["NextPartNumberMarker"] == 2)
uploads = s3.list_multipart_uploads(Bucket=B)["Uploads"]
check("list_multipart_uploads", [(u["Key"], u["UploadId"]) for u in uploads] == [("mp/file.bin", uid)])
check("an upload in progress is not an object",
      s3.list_objects_v2(Bucket=B, Prefix="mp/").get("KeyCount") == 0)
expect_error("NoSuchUpload", s3.upload_part, Bucket=B, Key="mp/file.bin", UploadId="nope",
             PartNumber=1, Body=b"x")
expect_error("NoSuchUpload", s3.upload_part, Bucket=B, Key="mp/other.bin", UploadId=uid,
             PartNumber=1, Body=b"x")
expect_error("InvalidArgument", s3.upload_part, Bucket=B, Key="mp/file.bin", UploadId=uid,
             PartNumber=10001, Body=b"x")
expect_error("InvalidPartOrder", s3.complete_multipart_upload, Bucket=B, Key="mp/file.bin",
             UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2},
                                                      {"PartNumber": 1, "ETag": e1}]})
expect_error("InvalidPart", s3.complete_multipart_upload, Bucket=B, Key="mp/file.bin",
             UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e2}]})
expect_error("EntityTooSmall", s3.complete_multipart_upload, Bucket=B, Key="mp/file.bin",
             UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 3, "ETag": e3},
                                                      {"PartNumber": 1, "ETag": e1}]})
expect_error("MalformedXML", s3.complete_multipart_upload, Bucket=B, Key="mp/file.bin",
             UploadId=uid, MultipartUpload={"Parts": []})
done = s3.complete_multipart_upload(
    Bucket=B, Key="mp/file.bin", UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2},
                               {"PartNumber": 3, "ETag": e3}]})
check("multipart ETag is md5-of-md5s-N", done["ETag"] == md5_etag(p1, p2, p3))
got = s3.get_object(Bucket=B, Key="mp/file.bin")
check("multipart object reads back", got["Body"].read() == p1 + p2 + p3)
check("multipart keeps type and metadata",
      got["ContentType"] == "application/x-test" and got["Metadata"] == {"stage": "raw"})
r = s3.get_object(Bucket=B, Key="mp/file.bin", Range=f"bytes={5 * MB - 3}-{5 * MB + 2}")
check("range across the part boundary", r["Body"].read() == (p1 + p2)[5 * MB - 3:5 * MB + 3])
check("a completed upload is gone", s3.list_multipart_uploads(Bucket=B).get("Uploads", []) == [])
expect_error("NoSuchUpload", s3.complete_multipart_upload, Bucket=B, Key="mp/file.bin",
             UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})

ab = s3.create_multipart_upload(Bucket=B, Key="mp/aborted.bin")["UploadId"]
s3.upload_part(Bucket=B, Key="mp/aborted.bin", UploadId=ab, PartNumber=1, Body=b"abc")
s3.abort_multipart_upload(Bucket=B, Key="mp/aborted.bin", UploadId=ab)
expect_error("NoSuchUpload", s3.list_parts, Bucket=B, Key="mp/aborted.bin", UploadId=ab)
expect_error("404", s3.head_object, Bucket=B, Key="mp/aborted.bin")
check("aborted upload leaves no object",
      [o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix="mp/")["Contents"]] == ["mp/file.bin"])

# Uploads listed with a prefix and a delimiter.
ids = [s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"] for k in ["u/a/1", "u/a/2", "u/b", "v"]]
lst = s3.list_multipart_uploads(Bucket=B, Prefix="u/", Delimiter="/")
check("uploads with a delimiter", [u["Key"] for u in lst.get("Uploads", [])] == ["u/b"]
      and [p["Prefix"] for p in lst.get("CommonPrefixes", [])] == ["u/a/"])
for k, i in zip(["u/a/1", "u/a/2", "u/b", "v"], ids):
    s3.abort_multipart_upload(Bucket=B, Key=k, UploadId=i)

# The managed transfer (what `aws s3 cp` does): 5 MiB parts in parallel.
blob = os.urandom(23 * MB + 5)
s3.upload_fileobj(__import__("io").BytesIO(blob), B, "managed.bin",
                  Config=TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB,
                                        max_concurrency=4))
check("managed multipart upload reads back", s3.get_object(Bucket=B, Key="managed.bin")["Body"].read() == blob)

# --- copies ------------------------------------------------------------------------------
small = b"small source " * 10
s3.put_object(Bucket=B, Key="src/small", Body=small, ContentType="text/plain", Metadata={"a": "1"})
c = s3.copy_object(Bucket=B, Key="dst/small", CopySource={"Bucket": B, "Key": "src/small"})
check("copy keeps the ETag", c["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(small).hexdigest() + '"')
h = s3.head_object(Bucket=B, Key="dst/small")
check("copy keeps type and metadata (COPY)", h["ContentType"] == "text/plain" and h["Metadata"] == {"a": "1"})
s3.copy_object(Bucket=B, Key="dst/big", CopySource={"Bucket": B, "Key": "mp/file.bin"})
check("copy of a chunked object reads back",
      s3.get_object(Bucket=B, Key="dst/big")["Body"].read() == p1 + p2 + p3)
s3.copy_object(Bucket=B, Key="dst/small", CopySource=f"{B}/src/small", MetadataDirective="REPLACE",
               ContentType="text/x-new", Metadata={"b": "2"})
h = s3.head_object(Bucket=B, Key="dst/small")
check("REPLACE takes the request's metadata", h["ContentType"] == "text/x-new" and h["Metadata"] == {"b": "2"})
expect_error("InvalidRequest", s3.copy_object, Bucket=B, Key="src/small",
             CopySource={"Bucket": B, "Key": "src/small"})
s3.copy_object(Bucket=B, Key="src/small", CopySource={"Bucket": B, "Key": "src/small"},
               MetadataDirective="REPLACE", Metadata={"c": "3"})
check("copy onto itself with REPLACE changes metadata",
      s3.head_object(Bucket=B, Key="src/small")["Metadata"] == {"c": "3"})
expect_error("NoSuchKey", s3.copy_object, Bucket=B, Key="x", CopySource={"Bucket": B, "Key": "nope"})
expect_error("PreconditionFailed", s3.copy_object, Bucket=B, Key="x",
             CopySource={"Bucket": B, "Key": "src/small"}, CopySourceIfMatch='"0000"')
expect_error("PreconditionFailed", s3.copy_object, Bucket=B, Key="x",
             CopySource={"Bucket": B, "Key": "src/small"},
             CopySourceIfNoneMatch='"' + hashlib.md5(small).hexdigest() + '"')
s3.create_bucket(Bucket="ops2")
s3.copy_object(Bucket="ops2", Key="copied", CopySource={"Bucket": B, "Key": "mp/file.bin"})
check("copy into another bucket reads back",
      s3.get_object(Bucket="ops2", Key="copied")["Body"].read() == p1 + p2 + p3)
s3.delete_object(Bucket=B, Key="mp/file.bin")
check("a copy outlives its source", s3.get_object(Bucket=B, Key="dst/big")["Body"].read() == p1 + p2 + p3)

# UploadPartCopy: a whole object and a range.
pc = s3.create_multipart_upload(Bucket=B, Key="pc.bin")["UploadId"]
r1 = s3.upload_part_copy(Bucket=B, Key="pc.bin", UploadId=pc, PartNumber=1,
                         CopySource={"Bucket": B, "Key": "dst/big"}, CopySourceRange=f"bytes=0-{5 * MB - 1}")
r2 = s3.upload_part_copy(Bucket=B, Key="pc.bin", UploadId=pc, PartNumber=2,
                         CopySource={"Bucket": B, "Key": "src/small"})
expect_error("InvalidRange", s3.upload_part_copy, Bucket=B, Key="pc.bin", UploadId=pc, PartNumber=3,
             CopySource={"Bucket": B, "Key": "src/small"}, CopySourceRange="bytes=0-100000")
s3.complete_multipart_upload(Bucket=B, Key="pc.bin", UploadId=pc, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
    {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
check("UploadPartCopy object reads back",
      s3.get_object(Bucket=B, Key="pc.bin")["Body"].read() == p1 + small)

# --- conditional reads ---------------------------------------------------------------------
h = s3.head_object(Bucket=B, Key="dst/small")
lm = h["LastModified"]
later, earlier = lm + datetime.timedelta(hours=1), lm - datetime.timedelta(hours=1)
check("If-Modified-Since earlier reads",
      s3.get_object(Bucket=B, Key="dst/small", IfModifiedSince=earlier)["Body"].read() == small)
e = expect_error("304", s3.get_object, Bucket=B, Key="dst/small", IfModifiedSince=later)
expect_error("PreconditionFailed", s3.get_object, Bucket=B, Key="dst/small", IfUnmodifiedSince=earlier)
check("If-Unmodified-Since later reads",
      s3.get_object(Bucket=B, Key="dst/small", IfUnmodifiedSince=later)["Body"].read() == small)
check("If-Match wins over If-Unmodified-Since",
      s3.get_object(Bucket=B, Key="dst/small", IfMatch=h["ETag"], IfUnmodifiedSince=earlier)["Body"].read() == small)
expect_error("304", s3.get_object, Bucket=B, Key="dst/small", IfNoneMatch=h["ETag"], IfModifiedSince=earlier)
expect_error("InvalidRange", s3.get_object, Bucket=B, Key="dst/small", Range="bytes=9999-")
expect_error("NoSuchVersion", s3.get_object, Bucket=B, Key="dst/small", VersionId="v1")
check("versionId null reads", s3.get_object(Bucket=B, Key="dst/small", VersionId="null")["Body"].read() == small)

# --- flexible checksums sent as headers (checksums.h) ---------------------------------------
import base64, zlib
crc = base64.b64encode(zlib.crc32(small).to_bytes(4, "big")).decode()
r = s3.put_object(Bucket=B, Key="crc/ok", Body=small, ChecksumCRC32=crc)
check("a PutObject with the right CRC32 is stored", s3.get_object(Bucket=B, Key="crc/ok")["Body"].read() == small)
check("the answer echoes the CRC32", r.get("ChecksumCRC32") == crc)
got = s3.get_object(Bucket=B, Key="crc/ok", ChecksumMode="ENABLED")
check("GetObject with checksum mode returns the stored CRC32 (and boto3 validates it)",
      got.get("ChecksumCRC32") == crc and got["Body"].read() == small)
expect_error("BadDigest", s3.put_object, Bucket=B, Key="crc/bad", Body=small, ChecksumCRC32="AAAAAA==")
expect_error("NoSuchKey", s3.get_object, Bucket=B, Key="crc/bad")
sha = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
expect_error("BadDigest", s3.put_object, Bucket=B, Key="crc/bad", Body=small, ChecksumSHA256=sha)
s3.delete_object(Bucket=B, Key="crc/ok")

# --- versions and batch deletes --------------------------------------------------------------
vers = s3.list_object_versions(Bucket=B)
keys = [v["Key"] for v in vers["Versions"]]
check("list_object_versions lists every object once, version null",
      keys == sorted(keys) and all(v["VersionId"] == "null" and v["IsLatest"] for v in vers["Versions"])
      and "dst/big" in keys and "managed.bin" in keys)
page = s3.list_object_versions(Bucket=B, MaxKeys=2)
check("list_object_versions pages", page["IsTruncated"] and len(page["Versions"]) == 2)
for i in range(30):
    s3.put_object(Bucket=B, Key=f"batch/k{i:02d}", Body=b"x")
res = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": f"batch/k{i:02d}"} for i in range(30)]
                                          + [{"Key": "batch/never"}]})
check("delete_objects reports every key", len(res["Deleted"]) == 31 and not res.get("Errors"))
check("batch keys are gone", s3.list_objects_v2(Bucket=B, Prefix="batch/").get("KeyCount") == 0)
res = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "dst/small"}], "Quiet": True})
check("quiet delete_objects lists nothing", not res.get("Deleted") and not res.get("Errors"))

# --- virtual-host addressing -----------------------------------------------------------------
# "<bucket>.localhost" does not resolve here: point it at the endpoint's host.
real_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo
vh = s3check.client(endpoint.replace("127.0.0.1", "localhost"), access, secret, style="virtual")
vh.put_object(Bucket=B, Key="virtual/key.txt", Body=b"via the host name")
check("virtual-host PUT reads back path-style",
      s3.get_object(Bucket=B, Key="virtual/key.txt")["Body"].read() == b"via the host name")
check("virtual-host listing", [o["Key"] for o in vh.list_objects_v2(Bucket=B, Prefix="virtual/")["Contents"]]
      == ["virtual/key.txt"])

# --- empty the buckets the way tools do: versions, then delete_objects -----------------------
for bucket in [B, "ops2"]:
    for pg in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in pg.get("Versions", [])]
        if objs:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objs})
    s3.delete_bucket(Bucket=bucket)
check("buckets emptied and deleted",
      not {B, "ops2"} & {b["Name"] for b in s3.list_buckets()["Buckets"]})
print("boto3", boto3.__version__, "botocore", botocore.__version__, ": all operation checks passed")
