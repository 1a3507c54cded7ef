#!/usr/bin/env python3
"""tests/gateways/s3/tenants_test.py — tenant isolation through S3 (boto3):
a second tenant's access key sees none of the first tenant's buckets, gets
AccessDenied on them and BucketAlreadyExists for their names, and works on
its own bucket. Run by tenants_test.sh.

usage: tenants_test.py ENDPOINT DEV_KEY DEV_SECRET OTHER_KEY OTHER_SECRET
"""
import sys

import s3check
from s3check import check, expect_error

endpoint, dev_key, dev_secret, other_key, other_secret = sys.argv[1:6]
dev = s3check.client(endpoint, dev_key, dev_secret)
other = s3check.client(endpoint, other_key, other_secret)

dev.put_object(Bucket="cairn", Key="private.txt", Body=b"tenant one")
check("a new tenant has no buckets", other.list_buckets()["Buckets"] == [])
expect_error("AccessDenied", other.get_object, Bucket="cairn", Key="private.txt")
expect_error("AccessDenied", other.list_objects_v2, Bucket="cairn")
expect_error("AccessDenied", other.put_object, Bucket="cairn", Key="x", Body=b"x")
expect_error("AccessDenied", other.delete_bucket, Bucket="cairn")
expect_error("BucketAlreadyExists", other.create_bucket, Bucket="cairn")
other.create_bucket(Bucket="tenant-two")
other.put_object(Bucket="tenant-two", Key="own.txt", Body=b"tenant two")
check("the second tenant lists only its bucket",
      [b["Name"] for b in other.list_buckets()["Buckets"]] == ["tenant-two"])
check("and reads its object", other.get_object(Bucket="tenant-two", Key="own.txt")["Body"].read() == b"tenant two")
check("the first tenant does not see it", "tenant-two" not in [b["Name"] for b in dev.list_buckets()["Buckets"]])
expect_error("AccessDenied", dev.get_object, Bucket="tenant-two", Key="own.txt")
expect_error("SignatureDoesNotMatch", s3check.client(endpoint, other_key, dev_secret).list_buckets)
print("tenant isolation checks passed")
