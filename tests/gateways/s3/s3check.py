"""tests/gateways/s3/s3check.py — helpers shared by the boto3 test scripts
(boto3_test.py, boto3_ops_test.py): a boto3 client for a cairn endpoint,
an error expectation and a named check. Imported from the scripts'
directory; depends only on boto3/botocore.
"""
import boto3
import botocore
from botocore.config import Config


def client(endpoint, access, secret, style="path"):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access,
        aws_secret_access_key=secret, region_name="us-east-1",
        config=Config(s3={"addressing_style": style}, signature_version="s3v4",
                      retries={"max_attempts": 1}))


def expect_error(code, fn, *args, **kwargs):
    """Calls fn, which must fail with the S3 error `code` (and carry a request id)."""
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        assert e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id"), "no request id"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


def check(name, cond):
    if not cond:
        raise AssertionError(name)
    print("ok:", name)
