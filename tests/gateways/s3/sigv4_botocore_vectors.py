#!/usr/bin/env python3
"""tests/gateways/s3/sigv4_botocore_vectors.py — SigV4 test vectors signed by botocore.

Signs S3 requests the way real clients do and prints them, as JSON, for
SigV4Botocore.* in tests/gateways/s3/sigv4_test.cpp (run by the ctest test
s3_botocore_vectors, which passes the file in CAIRN_SIGV4_VECTORS):

  * botocore's S3 client (the code path of boto3 and the AWS CLI): every
    request is captured at 'before-send', after signing, and never sent.
    Header-signed requests with a SHA-256 payload (http endpoints), with
    UNSIGNED-PAYLOAD (https, payload signing off), and with
    STREAMING-UNSIGNED-PAYLOAD-TRAILER (https with a flexible checksum:
    botocore's own aws-chunked body with a trailing x-amz-checksum-*);
  * presigned URLs from generate_presigned_url (S3SigV4QueryAuth) and from
    botocore.auth.S3SigV4QueryAuth / SigV4QueryAuth directly (extra signed
    headers, a session token);
  * botocore.auth.S3SigV4Auth on hand-made AWSRequests: a Date header
    instead of x-amz-date, repeated headers, repeated query names.

botocore cannot produce signed streaming bodies
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its -TRAILER variant): for those,
botocore signs the request headers (the seed signature, through a
S3SigV4Auth whose payload is the STREAMING-* constant) and this script
builds the aws-chunked body and its chunk and trailer signatures by hand,
from the algorithm in the AWS documentation ("Signature Calculations for
the Authorization Header: Transferring Payload in Multiple Chunks" and
"...: Including Trailing Headers"). CRC-32C is computed here too
(botocore needs awscrt for it).

The clock is pinned, so the output is the same on every run for a given
botocore version. Output: {"generator": ..., "vectors": [...]}; each vector
holds the request as a server receives it (method, request-target, headers,
body), the access key, secret and region, the `now` to verify at, and what
verification must find (method, payload kind, decoded payload; or, for the
one vector S3 itself would refuse, "refused" and the reason).
"""

import base64
import datetime
import hashlib
import hmac
import json
import sys
import zlib
from urllib.parse import unquote, urlsplit

import botocore
import botocore.auth
import botocore.httpchecksum
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26)  # naive UTC, as botocore's clock returns
NOW_UNIX = int(NOW.replace(tzinfo=datetime.timezone.utc).timestamp())
ACCESS_KEY = "AKIDCAIRNEXAMPLE0001"
SECRET_KEY = "cairn/Secret+Key/0123456789abcdefghijklmn"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars"
REGION = "eu-central-1"

# botocore reads the time through botocore.auth.get_current_datetime (since
# 1.31); older ones (Debian 12's 1.29) call datetime.datetime.utcnow() in
# botocore.auth: freeze both.
botocore.auth.get_current_datetime = lambda *args, **kwargs: NOW


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return NOW


class _DatetimeModule:
    def __getattr__(self, name):
        return _FrozenDatetime if name == "datetime" else getattr(datetime, name)


botocore.auth.datetime = _DatetimeModule()
# With awscrt installed (Debian's awscli pulls it in), botocore signs S3
# requests with the CRT signer, which reads the clock in botocore.crt.auth.
try:
    import botocore.crt.auth

    botocore.crt.auth.datetime = _DatetimeModule()
except ImportError:
    pass


class Captured(Exception):
    """Raised from 'before-send' to stop botocore after signing."""

    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def _capture(request, **kwargs):
    raise Captured(request)


def _text(value):
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "seek"):
        body.seek(0)
    return body.read()


def _signed_header_names(url, headers):
    for k, v in headers:
        if k.lower() == "authorization":
            return set(v.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";"))
    query = urlsplit(url).query
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "X-Amz-SignedHeaders":
            return set(unquote(value).split(";"))
    raise ValueError("unsigned request")


def _vector(name, method, url, headers, body, expect_method, expect_payload, decoded=None,
            now=NOW_UNIX, secret=SECRET_KEY):
    """A request as the server sees it: the Host header and, for a body
    without Transfer-Encoding, a Content-Length are added as the HTTP client
    adds them after signing."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = [(_text(k), _text(v)) for k, v in headers]
    # Two unsigned headers differ on every run; fixed values keep the output
    # reproducible.
    volatile = {"user-agent": f"Botocore/{botocore.__version__}",
                "amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000"}
    signed = _signed_header_names(url, headers)
    assert not signed & volatile.keys(), signed
    headers = [(k, volatile.get(k.lower(), v)) for k, v in headers]
    names = {k.lower() for k, _ in headers}
    if "host" not in names:
        headers.append(("Host", botocore.auth._host_from_url(url)))
    if "content-length" not in names and "transfer-encoding" not in names and body:
        headers.append(("Content-Length", str(len(body))))
    return {
        "name": name,
        "now": now,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": secret,
        "region": REGION,
        "method": method,
        "target": target,
        "headers": headers,
        "body_base64": base64.b64encode(body).decode(),
        "expect": {
            "method": expect_method,
            "payload": expect_payload,
            "decoded_payload_base64": base64.b64encode(body if decoded is None else decoded).decode(),
        },
    }


def _client(endpoint, addressing_style="path", payload_signing=None, token=None):
    s3_config = {"addressing_style": addressing_style}
    if payload_signing is not None:
        s3_config["payload_signing_enabled"] = payload_signing
    session = botocore.session.get_session()
    client = session.create_client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=token,
        config=Config(s3=s3_config, retries={"max_attempts": 1}),
    )
    client.meta.events.register("before-send.s3.*", _capture)
    return client


def _payload_kind(headers):
    for k, v in headers:
        if _text(k).lower() == "x-amz-content-sha256":
            v = _text(v)
            return "sha256" if len(v) == 64 else v
    raise ValueError("no x-amz-content-sha256")


def _decode_aws_chunked(body):
    """The payload inside botocore's unsigned aws-chunked body."""
    out, at = b"", 0
    while True:
        line_end = body.index(b"\r\n", at)
        size = int(body[at:line_end].split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            return out
        out += body[at:at + size]
        at += size + 2


def client_call(name, client, operation, **params):
    try:
        getattr(client, operation)(**params)
    except Captured as captured:
        r = captured.request
        body = _body_bytes(r.body)
        headers = list(r.headers.items())
        kind = _payload_kind(headers)
        decoded = _decode_aws_chunked(body) if kind.startswith("STREAMING-") else body
        return _vector(name, r.method, r.url, headers, body, "authorization_header", kind, decoded)
    raise AssertionError(f"{name}: botocore sent nothing")


def presigned(name, client, operation, params, method, body=b"", expires=3600, now=NOW_UNIX):
    url = client.generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    return _vector(name, method, url, [], body, "presigned_url", "UNSIGNED-PAYLOAD", now=now)


def auth_request(name, signer, method, url, headers=(), params=None, body=b""):
    """botocore.auth signers on a hand-made request."""
    is_query = isinstance(signer, botocore.auth.SigV4QueryAuth)
    # A query signer would move a body into the query string: the body of a
    # presigned request is not signed, so it joins only the vector.
    request = AWSRequest(method=method, url=url, data=b"" if is_query else body, params=params)
    for k, v in headers:
        request.headers[k] = v  # email.message semantics: a repeated name is added, not replaced
    signer.add_auth(request)
    # The URL from prepare() (parameters encoded); the headers from before it,
    # which keeps repeated names (prepare() folds them into a dict).
    url = request.prepare().url
    headers = list(request.headers.items())
    kind = "UNSIGNED-PAYLOAD" if is_query else _payload_kind(headers)
    return _vector(name, method, url, headers, body,
                   "presigned_url" if is_query else "authorization_header", kind)


# --- signed aws-chunked bodies, by hand from the AWS documentation --------------------------

def _hmac(key, text):
    return hmac.new(key, text.encode() if isinstance(text, str) else text, hashlib.sha256).digest()


def _signing_key(date):
    key = _hmac(("AWS4" + SECRET_KEY).encode(), date)
    for part in (REGION, "s3", "aws4_request"):
        key = _hmac(key, part)
    return key


def _crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _checksum(algorithm, data):
    if algorithm == "crc32":
        raw = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif algorithm == "crc32c":
        raw = _crc32c(data).to_bytes(4, "big")
    else:
        raw = hashlib.sha256(data).digest()
    return base64.b64encode(raw).decode()


class _StreamingSigner(botocore.auth.S3SigV4Auth):
    """S3SigV4Auth whose payload is a STREAMING-* constant: the seed signature."""

    def __init__(self, payload):
        super().__init__(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION)
        self._payload = payload

    def payload(self, request):
        return self._payload


def signed_streaming(name, url, data, chunk_bytes, trailer=None, extra_headers=()):
    payload = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if trailer
               else "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    chunks = [data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] + [b""]

    def chunk_header(size):
        return f"{size:x};chunk-signature={'0' * 64}\r\n".encode()

    # Content-Length is signed, so it is computed first (signatures have a fixed length).
    length = sum(len(chunk_header(len(c))) + len(c) + 2 for c in chunks[:-1])
    length += len(chunk_header(0))
    trailer_text = ""
    if trailer:
        trailer_text = f"x-amz-checksum-{trailer}:{_checksum(trailer, data)}"
        length += len(trailer_text) + 2 + len("x-amz-trailer-signature:") + 64 + 2
    length += 2
    headers = [("Content-Encoding", "aws-chunked"), ("Content-Length", str(length)),
               ("x-amz-decoded-content-length", str(len(data)))]
    if trailer:
        headers.append(("x-amz-trailer", f"x-amz-checksum-{trailer}"))
    headers += list(extra_headers)
    request = AWSRequest(method="PUT", url=url)
    for k, v in headers:
        request.headers[k] = v
    _StreamingSigner(payload).add_auth(request)
    prepared = request.prepare()
    authorization = _text(prepared.headers["Authorization"])
    seed = authorization.rsplit("Signature=", 1)[1]
    timestamp = _text(prepared.headers["X-Amz-Date"])
    scope = f"{timestamp[:8]}/{REGION}/s3/aws4_request"
    key = _signing_key(timestamp[:8])
    empty = hashlib.sha256(b"").hexdigest()

    body, previous = b"", seed
    for chunk in chunks:
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous, empty,
                                    hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk
        if chunk:
            body += b"\r\n"
    if trailer:
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", timestamp, scope, previous,
                                    hashlib.sha256((trailer_text + "\n").encode()).hexdigest()])
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"{trailer_text}\r\nx-amz-trailer-signature:{signature}\r\n".encode()
    body += b"\r\n"
    assert len(body) == length, (len(body), length)
    return _vector(name, "PUT", prepared.url, list(prepared.headers.items()), body,
                   "authorization_header", payload, data)


# --- the vectors ----------------------------------------------------------------------------

def main():
    vectors = []
    add = vectors.append
    keys = {
        "plain": "photos/2026/cat.jpg",
        "space-unicode": "photos/2026/März/img 01 ☃.jpg",
        "reserved": "a+b=c&d;e,f:g@h$i!j'k(l)m*n",
        "unreserved": "~tilde/._-/x",
        "double-slash-dots": "dir//sub/./x/../y",
        "percent": "100%/literal%20percent",
    }
    http_path = _client("http://s3.cairn.test:9000")
    http_virtual = _client("http://s3.cairn.test", addressing_style="virtual")
    https_unsigned = _client("https://s3.cairn.test", payload_signing=False)
    https_token = _client("https://s3.cairn.test", token=SESSION_TOKEN)

    # Header auth, signed SHA-256 payloads (http endpoints sign the body).
    for label, key in keys.items():
        add(client_call(f"get-object/path-style/{label}", http_path, "get_object",
                        Bucket="bucket", Key=key))
        add(client_call(f"put-object/virtual-host/{label}", http_virtual, "put_object",
                        Bucket="bucket", Key=key, Body=b"cairn " + key.encode()))
    add(client_call("get-object/range", http_path, "get_object", Bucket="bucket", Key="k",
                    Range="bytes=0-9", IfNoneMatch='"etag"'))
    add(client_call("head-object/version", http_path, "head_object", Bucket="bucket", Key="k",
                    VersionId="3/L4kqtJl+cSpY=/v"))
    add(client_call("delete-object", http_path, "delete_object", Bucket="bucket", Key="k"))
    add(client_call("list-objects-v2/prefix-delimiter", http_path, "list_objects_v2",
                    Bucket="bucket", Prefix="photos/2026/März/", Delimiter="/", MaxKeys=2,
                    StartAfter="a b+c", EncodingType="url"))
    add(client_call("list-objects-v2/virtual", http_virtual, "list_objects_v2", Bucket="bucket"))
    add(client_call("get-bucket-lifecycle", http_path, "get_bucket_lifecycle_configuration",
                    Bucket="bucket"))
    add(client_call("create-multipart-upload", http_path, "create_multipart_upload",
                    Bucket="bucket", Key="big file", Metadata={"note": "  two   spaces  "}))
    add(client_call("upload-part", http_path, "upload_part", Bucket="bucket", Key="big file",
                    UploadId="2~Abc/def+ghi=", PartNumber=3, Body=b"p" * 5000))
    add(client_call("delete-objects", http_path, "delete_objects", Bucket="bucket",
                    Delete={"Objects": [{"Key": "a"}, {"Key": "b c"}]}))
    add(client_call("put-object/metadata-acl", http_path, "put_object", Bucket="bucket",
                    Key="m", Body=b"", ACL="public-read", ContentType="text/plain; charset=utf-8",
                    Metadata={"Mixed-Case": "Value\twith  blanks"}, StorageClass="STANDARD_IA"))

    # Header auth over https with payload signing off: UNSIGNED-PAYLOAD, and
    # flexible checksums as botocore's aws-chunked trailer.
    add(client_call("get-object/https-unsigned", https_unsigned, "get_object", Bucket="bucket",
                    Key=keys["space-unicode"]))
    add(client_call("put-object/https-unsigned-trailer-crc32", https_unsigned, "put_object",
                    Bucket="bucket", Key="t", Body=b"trailer body " * 100))
    add(client_call("put-object/https-unsigned-trailer-sha256", https_unsigned, "put_object",
                    Bucket="bucket", Key="t", Body=b"sha body " * 50, ChecksumAlgorithm="SHA256"))
    add(client_call("put-object/https-unsigned-trailer-empty", https_unsigned, "put_object",
                    Bucket="bucket", Key="t", Body=b""))
    original_chunk = botocore.httpchecksum.AwsChunkedWrapper._DEFAULT_CHUNK_SIZE
    botocore.httpchecksum.AwsChunkedWrapper._DEFAULT_CHUNK_SIZE = 8192  # several chunks
    try:
        add(client_call("upload-part/https-unsigned-trailer-8k-chunks", https_unsigned,
                        "upload_part", Bucket="bucket", Key="t", UploadId="u", PartNumber=1,
                        Body=bytes(range(256)) * 100))
    finally:
        botocore.httpchecksum.AwsChunkedWrapper._DEFAULT_CHUNK_SIZE = original_chunk
    add(client_call("get-object/session-token", https_token, "get_object", Bucket="bucket",
                    Key="k"))

    # Presigned URLs.
    for label, key in keys.items():
        add(presigned(f"presigned-get/{label}", http_path, "get_object",
                      {"Bucket": "bucket", "Key": key}, "GET"))
    add(presigned("presigned-get/virtual-response-headers", http_virtual, "get_object",
                  {"Bucket": "bucket", "Key": "report.pdf",
                   "ResponseContentDisposition": 'attachment; filename="r 1.pdf"',
                   "ResponseContentType": "application/pdf", "VersionId": "v+1/2="}, "GET"))
    add(presigned("presigned-put", http_path, "put_object", {"Bucket": "bucket", "Key": "up load"},
                  "PUT", body=b"uploaded through a presigned URL"))
    add(presigned("presigned-get/week", http_path, "get_object", {"Bucket": "bucket", "Key": "k"},
                  "GET", expires=604800, now=NOW_UNIX + 604800))
    add(presigned("presigned-get/session-token", https_token, "get_object",
                  {"Bucket": "bucket", "Key": "k"}, "GET"))
    add(presigned("presigned-list", http_path, "list_objects_v2",
                  {"Bucket": "bucket", "Prefix": "a/b c"}, "GET"))
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    add(auth_request("s3-sigv4-query-auth/signed-meta-header",
                     botocore.auth.S3SigV4QueryAuth(credentials, "s3", REGION, expires=900),
                     "PUT", "http://s3.cairn.test/bucket/obj",
                     headers=[("x-amz-meta-owner", "alice"), ("Content-Type", "image/png")],
                     body=b"\x89PNG"))
    # The generic (not S3) query signer signs the SHA-256 of the (empty) body
    # where S3 has UNSIGNED-PAYLOAD: S3 refuses its URLs, and so must we.
    generic = auth_request("sigv4-query-auth/generic-signer-refused",
                           botocore.auth.SigV4QueryAuth(credentials, "s3", REGION),
                           "GET", "http://s3.cairn.test/bucket/k?versionId=abc&partNumber=1")
    generic["expect"]["refused"] = "signature_mismatch"
    add(generic)
    add(auth_request("s3-sigv4-query-auth/parameters",
                     botocore.auth.S3SigV4QueryAuth(credentials, "s3", REGION),
                     "GET", "http://s3.cairn.test/bucket/k?versionId=abc&partNumber=1"))

    # botocore.auth.S3SigV4Auth on hand-made requests.
    signer = botocore.auth.S3SigV4Auth(credentials, "s3", REGION)
    add(auth_request("s3-sigv4-auth/date-header", signer, "GET", "http://s3.cairn.test/bucket/k",
                     headers=[("Date", "Sat, 14 Mar 2026 15:09:26 GMT")]))
    add(auth_request("s3-sigv4-auth/repeated-header", signer, "GET",
                     "http://s3.cairn.test/bucket/k",
                     headers=[("x-amz-meta-multi", "one"), ("x-amz-meta-multi", " two  words ")]))
    add(auth_request("s3-sigv4-auth/repeated-query-name", signer, "GET",
                     "http://s3.cairn.test/bucket", params=[("tag", "b"), ("tag", "a"), ("x", "")]))
    add(auth_request("s3-sigv4-auth/post-body", signer, "POST",
                     "http://s3.cairn.test/bucket/k?restore", body=b"<RestoreRequest/>"))

    # Signed streaming bodies: botocore signs the headers, the chunks by hand.
    data = bytes((i * 7 + 3) % 251 for i in range(20000))
    add(signed_streaming("streaming-signed/3-chunks", "http://s3.cairn.test/bucket/stream",
                         data, 8192, extra_headers=[("x-amz-storage-class", "STANDARD")]))
    add(signed_streaming("streaming-signed/one-small-chunk", "http://s3.cairn.test/bucket/s",
                         b"tiny", 8192))
    add(signed_streaming("streaming-signed/empty", "http://s3.cairn.test/bucket/s", b"", 8192))
    for algorithm in ("crc32", "crc32c", "sha256"):
        add(signed_streaming(f"streaming-signed-trailer/{algorithm}",
                             "http://s3.cairn.test/bucket/trailer", data, 10000,
                             trailer=algorithm))

    json.dump({"generator": f"botocore {botocore.__version__}", "now": NOW_UNIX,
               "vectors": vectors}, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
