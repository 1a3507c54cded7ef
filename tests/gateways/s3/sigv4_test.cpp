// tests/gateways/s3/sigv4_test.cpp — gateways/s3/sigv4: known answers from the
// AWS documentation's S3 examples, the pieces (encodings, dates, the
// Authorization header), a negative test for every auth_error, the
// aws-chunked decoder under random splits and corruptions, and the vectors
// signed by botocore (SigV4Botocore.*, run by the ctest test
// s3_botocore_vectors with the file in CAIRN_SIGV4_VECTORS).
//
// Negative tests start from a valid request and break one thing. To make
// the valid request, sign_with_library() signs it with this library's own
// canonical form; that form is pinned independently by the AWS examples and
// the botocore vectors.
#include "gateways/s3/sigv4.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace cairn::s3 {
namespace {

using keys::as_bytes;

// --- the AWS documentation's example credentials and request time -------------------------

constexpr std::string_view example_access_key = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view example_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::int64_t example_time = 1369353600;  // 2013-05-24T00:00:00Z
constexpr std::string_view example_timestamp = "20130524T000000Z";
constexpr std::string_view example_scope = "20130524/us-east-1/s3/aws4_request";
constexpr std::string_view empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

class map_secret_source : public secret_key_source {
 public:
  map_secret_source() { add(std::string(example_access_key), std::string(example_secret)); }
  void add(std::string access_key_id, std::string secret) {
    secrets_[std::move(access_key_id)] = std::move(secret);
  }
  std::optional<keys::secret_bytes> secret_access_key(
      std::string_view access_key_id) const override {
    ++lookups;
    const auto it = secrets_.find(access_key_id);
    if (it == secrets_.end()) return std::nullopt;
    return keys::secret_bytes::copy_of(as_bytes(it->second));
  }
  mutable int lookups = 0;

 private:
  std::map<std::string, std::string, std::less<>> secrets_;
};

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A request that owns its bytes.
struct test_request {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;

  verify_result verify(const secret_key_source& secrets, std::int64_t now,
                       const verifier_config& config = {}) const {
    std::vector<http_header> views;
    for (const auto& [name, value] : headers) views.push_back({name, value});
    return verify_request({method, target, views}, config, secrets, now);
  }
  void set(const std::string& name, const std::string& value) {
    for (auto& [n, v] : headers)
      if (same_name(n, name)) {
        v = value;
        return;
      }
    headers.emplace_back(name, value);
  }
  void add(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
  void remove(const std::string& name) {
    std::erase_if(headers, [&](const auto& h) { return same_name(h.first, name); });
  }
  std::string get(const std::string& name) const {
    for (const auto& [n, v] : headers)
      if (same_name(n, name)) return v;
    return {};
  }
};

std::string hex_of(const keys::sha256_digest& digest) {
  return to_hex(digest);
}

keys::secret_bytes example_signing_key() {
  return derive_signing_key(as_bytes(example_secret), "20130524", "us-east-1", "s3");
}

// Replaces the signature of `r` (Authorization header or X-Amz-Signature)
// with the one this library computes for it.
void sign_with_library(test_request& r, std::string_view secret = example_secret,
                       std::int64_t now = example_time) {
  const map_secret_source secrets;
  const auto result = r.verify(secrets, now);
  ASSERT_FALSE(result.string_to_sign.empty())
      << to_string(result.failure.reason) << ": " << result.failure.detail;
  // The scope (date/region/s3/aws4_request) is the third line of the string
  // to sign.
  const std::string& sts = result.string_to_sign;
  const std::size_t scope_at = sts.find('\n', sts.find('\n') + 1) + 1;
  const std::string scope = sts.substr(scope_at, sts.find('\n', scope_at) - scope_at);
  const std::string date = scope.substr(0, 8);
  const std::string region = scope.substr(9, scope.find('/', 9) - 9);
  const auto key = derive_signing_key(as_bytes(secret), date, region, "s3");
  const std::string signature = to_hex(sign(key, result.string_to_sign));
  const std::string authorization = r.get("authorization");
  if (!authorization.empty()) {
    r.set("Authorization",
          authorization.substr(0, authorization.rfind("Signature=") + 10) + signature);
  } else {
    const auto at = r.target.find("X-Amz-Signature=") + 16;
    r.target.replace(at,
                     r.target.find('&', at) == std::string::npos ? std::string::npos
                                                                 : r.target.find('&', at) - at,
                     signature);
  }
}

constexpr std::string_view zero_signature =
    "0000000000000000000000000000000000000000000000000000000000000000";

// GET /bucket/key signed in the header, at example_time.
test_request header_request() {
  test_request r;
  r.method = "GET";
  r.target = "/bucket/key";
  r.add("Host", "examplebucket.s3.amazonaws.com");
  r.add("x-amz-date", std::string(example_timestamp));
  r.add("x-amz-content-sha256", std::string(empty_sha256));
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" +
            std::string(zero_signature));
  sign_with_library(r);
  return r;
}

// A presigned GET /bucket/key valid for a day from example_time.
enum class signing : std::uint8_t { library, none };
test_request presigned_request(const std::string& extra_query = {},
                               signing how = signing::library) {
  test_request r;
  r.target =
      "/bucket/key?" + extra_query +
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
      "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
      "SignedHeaders=host&X-Amz-Signature=" +
      std::string(zero_signature);
  r.add("Host", "examplebucket.s3.amazonaws.com");
  if (how == signing::library) sign_with_library(r);
  return r;
}

void expect_ok(const verify_result& result) {
  EXPECT_TRUE(result.ok()) << to_string(result.failure.reason) << ": " << result.failure.detail
                           << "\n--- canonical request:\n"
                           << result.canonical_request << "\n--- string to sign:\n"
                           << result.string_to_sign;
}

void expect_failure(const verify_result& result, auth_error reason) {
  EXPECT_EQ(to_string(result.failure.reason), to_string(reason)) << result.failure.detail;
  EXPECT_FALSE(result.failure.detail.empty());
}

// --- AWS documentation: "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk", Examples ------------------------------------------

TEST(SigV4SingleChunkExamples, GetObjectWithRange) {
  test_request r;
  r.target = "/test.txt";
  r.add("Host", "examplebucket.s3.amazonaws.com");
  r.add("Range", "bytes=0-9");
  r.add("x-amz-content-sha256", std::string(empty_sha256));
  r.add("x-amz-date", "20130524T000000Z");
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  const map_secret_source secrets;
  const auto result = r.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" +
                std::string(empty_sha256) +
                "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                std::string(empty_sha256));
  EXPECT_EQ(result.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(result.request.access_key_id, example_access_key);
  EXPECT_EQ(result.request.date, "20130524");
  EXPECT_EQ(result.request.region, "us-east-1");
  EXPECT_EQ(result.request.timestamp, example_timestamp);
  EXPECT_EQ(result.request.request_time_unix_seconds, example_time);
  EXPECT_EQ(result.request.method, auth_method::authorization_header);
  EXPECT_EQ(result.request.payload, payload_kind::sha256);
  EXPECT_EQ(hex_of(result.request.payload_sha256), empty_sha256);
  EXPECT_FALSE(result.request.chunked.has_value());
  EXPECT_FALSE(result.request.valid_until_unix_seconds.has_value());
}

TEST(SigV4SingleChunkExamples, PutObjectWithDateHeaderAndDollarInKey) {
  // The key "test$file.text" travels unencoded; S3 signs it as %24.
  test_request r;
  r.method = "PUT";
  r.target = "/test$file.text";
  r.add("Host", "examplebucket.s3.amazonaws.com");
  r.add("Date", "Fri, 24 May 2013 00:00:00 GMT");
  r.add("x-amz-date", "20130524T000000Z");
  r.add("x-amz-storage-class", "REDUCED_REDUNDANCY");
  r.add("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  const map_secret_source secrets;
  const auto result = r.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.canonical_request.substr(0, 22), "PUT\n/test%24file.text\n");
  EXPECT_EQ(result.string_to_sign.substr(result.string_to_sign.rfind('\n') + 1),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  // The body is "Welcome to Amazon S3."; a different body is refused.
  ASSERT_EQ(result.request.payload, payload_kind::sha256);
  payload_hash_check good(result.request.payload_sha256);
  good.update(as_bytes("Welcome to "));
  good.update(as_bytes("Amazon S3."));
  EXPECT_FALSE(good.finish().failed());
  payload_hash_check bad(result.request.payload_sha256);
  bad.update(as_bytes("Welcome to Amazon S4."));
  EXPECT_EQ(bad.finish().reason, auth_error::content_sha256_mismatch);
  // Sent percent-encoded, the key signs the same.
  r.target = "/test%24file.text";
  expect_ok(r.verify(secrets, example_time));
}

TEST(SigV4SingleChunkExamples, GetBucketLifecycleQueryWithoutValue) {
  test_request r;
  r.target = "/?lifecycle";
  r.add("Host", "examplebucket.s3.amazonaws.com");
  r.add("x-amz-date", "20130524T000000Z");
  r.add("x-amz-content-sha256", std::string(empty_sha256));
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
        "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  const map_secret_source secrets;
  const auto result = r.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.canonical_request.substr(0, 17), "GET\n/\nlifecycle=\n");
  EXPECT_EQ(result.string_to_sign.substr(result.string_to_sign.rfind('\n') + 1),
            "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
  r.target = "/?lifecycle=";
  expect_ok(r.verify(secrets, example_time));
}

TEST(SigV4SingleChunkExamples, ListObjectsQuerySortedWhateverTheWireOrder) {
  test_request r;
  r.target = "/?max-keys=2&prefix=J";
  r.add("Host", "examplebucket.s3.amazonaws.com");
  r.add("x-amz-date", "20130524T000000Z");
  r.add("x-amz-content-sha256", std::string(empty_sha256));
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  const map_secret_source secrets;
  expect_ok(r.verify(secrets, example_time));
  r.target = "/?prefix=J&max-keys=2";
  expect_ok(r.verify(secrets, example_time));
  r.target = "/?prefix=%4A&max-keys=2";  // the same value, encoded on the wire
  expect_ok(r.verify(secrets, example_time));
  r.target = "/?prefix=K&max-keys=2";
  expect_failure(r.verify(secrets, example_time), auth_error::signature_mismatch);
}

// --- AWS documentation: "Authenticating Requests: Using Query Parameters", Example ----------

TEST(SigV4QueryParameterExample, PresignedGetObject) {
  test_request r;
  r.target =
      "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
      "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
      "SignedHeaders=host&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  r.add("Host", "examplebucket.s3.amazonaws.com");
  const map_secret_source secrets;
  const auto result = r.verify(secrets, example_time + 3600);
  expect_ok(result);
  EXPECT_EQ(result.canonical_request,
            "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
            "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-"
            "Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\n"
            "UNSIGNED-PAYLOAD");
  EXPECT_EQ(result.string_to_sign.substr(result.string_to_sign.rfind('\n') + 1),
            "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
  EXPECT_EQ(result.request.method, auth_method::presigned_url);
  EXPECT_EQ(result.request.payload, payload_kind::unsigned_payload);
  EXPECT_EQ(result.request.valid_until_unix_seconds, example_time + 86400);
  // Valid through its last second, refused after it.
  expect_ok(r.verify(secrets, example_time + 86400));
  expect_failure(r.verify(secrets, example_time + 86401), auth_error::presigned_url_expired);
}

// --- AWS documentation: the signing key ------------------------------------------------------

TEST(SigV4SigningKey, DerivationExampleOfTheGeneralReference) {
  const auto key = derive_signing_key(as_bytes("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                      "20120215", "us-east-1", "iam");
  EXPECT_EQ(to_hex(key.bytes()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// --- AWS documentation: chunked upload (multiple chunks, trailing headers) --------------------

std::string aws_chunked_example_body() {
  return "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
         "\r\n" +
         std::string(65536, 'a') +
         "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
         "\r\n" +
         std::string(1024, 'a') +
         "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
         "\r\n\r\n";
}

std::string aws_trailer_example_body() {
  return "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
         "\r\n" +
         std::string(65536, 'a') +
         "\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
         "\r\n" +
         std::string(1024, 'a') +
         "\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
         "\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n"
         "x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
         "\r\n\r\n";
}

struct decode_outcome {
  auth_failure failure;
  std::string payload;
  bool complete = false;
  std::uint64_t verified_bytes = 0;
};

// Feeds `body` in pieces of the sizes `piece_bytes` cycles through, checking
// the decoder's invariants after every piece, then finish().
decode_outcome decode(chunked_upload upload, std::string_view body,
                      const std::vector<std::size_t>& piece_bytes = {std::string_view::npos}) {
  chunked_body_decoder decoder(std::move(upload));
  decode_outcome out;
  const auto sink = [&](std::span<const std::uint8_t> bytes) {
    out.payload.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  std::size_t at = 0;
  for (std::size_t i = 0; at < body.size() && !out.failure.failed(); ++i) {
    const std::size_t n = std::min(piece_bytes[i % piece_bytes.size()], body.size() - at);
    out.failure = decoder.feed(as_bytes(body.substr(at, n)), sink);
    decoder.check_invariants();
    at += n;
  }
  if (!out.failure.failed()) out.failure = decoder.finish();
  // Failures stick (V5).
  if (out.failure.failed()) {
    EXPECT_EQ(decoder.finish().reason, out.failure.reason);
    EXPECT_EQ(decoder.feed(as_bytes("x"), sink).reason, out.failure.reason);
  }
  decoder.check_invariants();
  out.complete = decoder.complete();
  out.verified_bytes = decoder.verified_bytes();
  EXPECT_EQ(decoder.decoded_bytes(), out.payload.size());
  return out;
}

test_request aws_chunked_example_request() {
  test_request r;
  r.method = "PUT";
  r.target = "/examplebucket/chunkObject.txt";
  r.add("Host", "s3.amazonaws.com");
  r.add("x-amz-date", "20130524T000000Z");
  r.add("x-amz-storage-class", "REDUCED_REDUNDANCY");
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-"
        "decoded-content-length;x-amz-storage-class,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  r.add("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
  r.add("Content-Encoding", "aws-chunked");
  r.add("x-amz-decoded-content-length", "66560");
  r.add("Content-Length", "66824");
  return r;
}

TEST(SigV4ChunkedUploadExample, SeedAndChunkSignatures) {
  const map_secret_source secrets;
  const auto result = aws_chunked_example_request().verify(secrets, example_time);
  expect_ok(result);
  ASSERT_EQ(result.request.payload, payload_kind::streaming_signed);
  ASSERT_TRUE(result.request.chunked.has_value());
  const chunked_upload& upload = *result.request.chunked;
  EXPECT_EQ(hex_of(upload.seed_signature),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  EXPECT_EQ(upload.decoded_content_length, 66560u);
  EXPECT_EQ(upload.timestamp, example_timestamp);
  EXPECT_EQ(upload.scope, example_scope);
  // The first chunk's string to sign, as the documentation prints it.
  EXPECT_EQ(chunk_string_to_sign(upload.timestamp, upload.scope, upload.seed_signature,
                                 keys::sha256(as_bytes(std::string(65536, 'a')))),
            "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n" +
                std::string(empty_sha256) +
                "\nbf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a");

  const std::string body = aws_chunked_example_body();
  EXPECT_EQ(body.size(), 66824u);  // the example's Content-Length
  auto copy = [&] {
    chunked_upload u;
    u.kind = upload.kind;
    u.signing_key = upload.signing_key.clone();
    u.timestamp = upload.timestamp;
    u.scope = upload.scope;
    u.seed_signature = upload.seed_signature;
    u.decoded_content_length = upload.decoded_content_length;
    return u;
  };
  for (std::size_t piece : {std::string_view::npos, std::size_t{1}, std::size_t{7},
                            std::size_t{4096}, std::size_t{65536 + 90}}) {
    const auto out = decode(copy(), body, {piece});
    EXPECT_FALSE(out.failure.failed()) << piece << ": " << out.failure.detail;
    EXPECT_TRUE(out.complete);
    EXPECT_EQ(out.payload, std::string(66560, 'a'));
    EXPECT_EQ(out.verified_bytes, 66560u);
  }
}

TEST(SigV4TrailingHeadersExample, SeedChunkAndTrailerSignatures) {
  test_request r;
  r.method = "PUT";
  r.target = "/examplebucket/chunkObject.txt";
  r.add("Host", "s3.amazonaws.com");
  r.add("x-amz-date", "20130524T000000Z");
  r.add("x-amz-storage-class", "REDUCED_REDUNDANCY");
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-"
        "content-length;x-amz-storage-class;x-amz-trailer,"
        "Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
  r.add("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER");
  r.add("Content-Encoding", "aws-chunked");
  r.add("x-amz-decoded-content-length", "66560");
  r.add("x-amz-trailer", "x-amz-checksum-crc32c");
  const map_secret_source secrets;
  auto result = r.verify(secrets, example_time);
  expect_ok(result);
  ASSERT_TRUE(result.request.chunked.has_value());
  EXPECT_EQ(result.request.chunked->trailers,
            std::vector<checksum_algorithm>{checksum_algorithm::crc32c});
  const std::string body = aws_trailer_example_body();
  EXPECT_EQ(body.size(), 66946u);
  const auto out = decode(std::move(*result.request.chunked), body, {1000});
  EXPECT_FALSE(out.failure.failed()) << out.failure.detail;
  EXPECT_TRUE(out.complete);
  EXPECT_EQ(out.payload, std::string(66560, 'a'));
}

// --- the pieces ---------------------------------------------------------------------------------

TEST(SigV4Pieces, Sha256MatchesFips180Examples) {
  EXPECT_EQ(to_hex(keys::sha256(as_bytes(""))), empty_sha256);
  EXPECT_EQ(to_hex(keys::sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(to_hex(keys::sha256(as_bytes(two_blocks))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  keys::sha256_hasher hasher;
  for (char c : two_blocks) hasher.update(as_bytes(std::string_view(&c, 1)));
  EXPECT_EQ(to_hex(hasher.finish()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // finish() starts over.
  EXPECT_EQ(to_hex(hasher.finish()), empty_sha256);
}

TEST(SigV4Pieces, ChecksumsMatchTheirCheckValues) {
  // The catalogue's check values: the CRC of "123456789".
  EXPECT_EQ(crc32_ieee(as_bytes("123456789")), 0xcbf43926u);
  EXPECT_EQ(crc32_castagnoli(as_bytes("123456789")), 0xe3069283u);
  EXPECT_EQ(crc32_ieee(as_bytes("56789"), crc32_ieee(as_bytes("1234"))), 0xcbf43926u);
  EXPECT_EQ(crc32_castagnoli(as_bytes("56789"), crc32_castagnoli(as_bytes("1234"))), 0xe3069283u);
  EXPECT_EQ(crc32_ieee({}), 0u);
  EXPECT_EQ(crc32_castagnoli({}), 0u);
  // The trailer example: CRC-32C of 66560 'a' is sOO8/Q==.
  const std::uint32_t crc = crc32_castagnoli(as_bytes(std::string(66560, 'a')));
  const std::array<std::uint8_t, 4> big_endian = {
      static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
      static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
  EXPECT_EQ(base64_encode(big_endian), "sOO8/Q==");
}

TEST(SigV4Pieces, HexAndBase64) {
  EXPECT_EQ(to_hex(std::vector<std::uint8_t>{0x00, 0xab, 0xff}), "00abff");
  EXPECT_EQ(from_hex("00ABff"), (std::vector<std::uint8_t>{0x00, 0xab, 0xff}));
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("zz").has_value());
  // RFC 4648 section 10.
  const std::vector<std::pair<std::string, std::string>> rfc = {{"", ""},
                                                                {"f", "Zg=="},
                                                                {"fo", "Zm8="},
                                                                {"foo", "Zm9v"},
                                                                {"foob", "Zm9vYg=="},
                                                                {"fooba", "Zm9vYmE="},
                                                                {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : rfc) {
    EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain);
  }
  for (std::string_view bad :
       {"Zg", "Zg=", "Z===", "Zh==", "Zm9=v", "Zm9v!A==", "=m9v", "Zg==Zg=="})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(SigV4Pieces, UriEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(uri_encode("AZaz09-._~", slash_encoding::encode), "AZaz09-._~");
  EXPECT_EQ(uri_encode("a b+c=d/e", slash_encoding::encode), "a%20b%2Bc%3Dd%2Fe");
  EXPECT_EQ(uri_encode("a b+c=d/e", slash_encoding::keep), "a%20b%2Bc%3Dd/e");
  EXPECT_EQ(uri_encode("!'()*$", slash_encoding::keep), "%21%27%28%29%2A%24");
  EXPECT_EQ(uri_encode("M\xc3\xa4rz", slash_encoding::keep), "M%C3%A4rz");
  EXPECT_EQ(uri_encode(std::string("\0\xff", 2), slash_encoding::keep), "%00%FF");
}

TEST(SigV4Pieces, CanonicalUriIsSingleEncodedAndNotNormalised) {
  EXPECT_EQ(canonical_uri("/"), "/");
  EXPECT_EQ(canonical_uri("/test$file.text"), "/test%24file.text");
  EXPECT_EQ(canonical_uri("/test%24file.text"), "/test%24file.text");
  EXPECT_EQ(canonical_uri("/a%2fb"), "/a/b");      // lower-case escapes decode too
  EXPECT_EQ(canonical_uri("/100%25"), "/100%25");  // not double-encoded
  EXPECT_EQ(canonical_uri("/a+b"), "/a%2Bb");      // '+' in a path is a plus
  EXPECT_EQ(canonical_uri("/dir//sub/./x/../y"), "/dir//sub/./x/../y");
  EXPECT_EQ(canonical_uri("/bucket/"), "/bucket/");
  EXPECT_FALSE(canonical_uri("").has_value());
  EXPECT_FALSE(canonical_uri("bucket/key").has_value());
  EXPECT_FALSE(canonical_uri("/bad%2").has_value());
  EXPECT_FALSE(canonical_uri("/bad%zz").has_value());
  EXPECT_FALSE(canonical_uri("/bad%").has_value());
}

TEST(SigV4Pieces, CanonicalQuerySortsByEncodedNameThenValue) {
  const auto parse = [](std::string_view raw) {
    auto p = parse_query(raw);
    EXPECT_TRUE(p.has_value()) << raw;
    return p.value_or(std::vector<query_parameter>{});
  };
  const auto canonical = [&](std::string_view raw) {
    return canonical_query_string(parse(raw), signature_parameter::include);
  };
  EXPECT_EQ(canonical(""), "");
  EXPECT_EQ(canonical("lifecycle"), "lifecycle=");
  EXPECT_EQ(canonical("uploads&prefix=a/b&list-type=2"), "list-type=2&prefix=a%2Fb&uploads=");
  EXPECT_EQ(canonical("tag=b&tag=a&tag="), "tag=&tag=a&tag=b");
  EXPECT_EQ(canonical("a=x+y&b=x%20y&c=x%2By"), "a=x%20y&b=x%20y&c=x%2By");
  EXPECT_EQ(canonical("k=%7e%41"), "k=~A");
  // Encoded, '%' (0x25) sorts before letters: "%C3..." < "a" < "~".
  EXPECT_EQ(canonical("~=1&a=2&%C3%A4=3"), "%C3%A4=3&a=2&~=1");
  EXPECT_EQ(canonical("a=1&&b=2&"), "a=1&b=2");
  const auto with_signature = parse("X-Amz-Signature=abc&X-Amz-Date=1");
  EXPECT_EQ(canonical_query_string(with_signature, signature_parameter::exclude), "X-Amz-Date=1");
  EXPECT_EQ(canonical_query_string(with_signature, signature_parameter::include),
            "X-Amz-Date=1&X-Amz-Signature=abc");
  EXPECT_FALSE(parse_query("a=%g0").has_value());
  std::string many;
  for (std::size_t i = 0; i <= query_parameters_max; ++i) many += "p" + std::to_string(i) + "&";
  EXPECT_FALSE(parse_query(many).has_value());
}

TEST(SigV4Pieces, CanonicalHeaderValueTrimsAndCollapsesBlanks) {
  EXPECT_EQ(canonical_header_value("  a   b\t\tc  "), "a b c");
  EXPECT_EQ(canonical_header_value("Value\twith  blanks"), "Value with blanks");
  EXPECT_EQ(canonical_header_value(""), "");
  EXPECT_EQ(canonical_header_value("   "), "");
  EXPECT_EQ(canonical_header_value("\"quoted  value\""), "\"quoted value\"");
}

TEST(SigV4Pieces, AmzDatesAndHttpDates) {
  EXPECT_EQ(parse_amz_date("20130524T000000Z"), example_time);
  EXPECT_EQ(parse_amz_date("19700101T000000Z"), 0);
  EXPECT_EQ(parse_amz_date("20000229T235959Z"), 951868799);
  EXPECT_EQ(parse_amz_date("20240229T120000Z"), 1709208000);
  for (std::string_view bad :
       {"20130524T000000", "20130524 000000Z", "2013-05-24T00:00:00Z", "20130230T000000Z",
        "21000229T000000Z", "20131324T000000Z", "20130524T240000Z", "20130524T006000Z",
        "20130524T000060Z", "19691231T235959Z", "2013052AT000000Z", "20130524t000000z"})
    EXPECT_FALSE(parse_amz_date(bad).has_value()) << bad;
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), example_time);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 -0000"), example_time);  // botocore
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 +0000"), example_time);
  EXPECT_EQ(parse_http_date("Sat, 14 Mar 2026 15:09:26 UTC"), 1773500966);
  for (std::string_view bad : {"Fri, 24 May 2013 00:00:00 CET", "Friday, 24-May-13 00:00:00 GMT",
                               "Fri May 24 00:00:00 2013", "Fri, 24 Mai 2013 00:00:00 GMT",
                               "Fri, 31 Jun 2013 00:00:00 GMT", "Xyz, 24 May 2013 00:00:00 GMT",
                               "Fri,  24 May 2013 00:00:00 GMT"})
    EXPECT_FALSE(parse_http_date(bad).has_value()) << bad;
  for (std::int64_t t : {std::int64_t{0}, example_time, std::int64_t{951868799},
                         std::int64_t{1773500966}, std::int64_t{253402300799}})
    EXPECT_EQ(parse_amz_date(format_amz_date(t)), t) << t;
  EXPECT_EQ(format_amz_date(example_time), example_timestamp);
}

TEST(SigV4AuthorizationHeader, ToleratesBlanksAndAnyComponentOrder) {
  const std::string credential =
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string signed_headers = "SignedHeaders=host;range;x-amz-date";
  const std::string signature =
      "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
  for (const std::string& value :
       {"AWS4-HMAC-SHA256 " + credential + "," + signed_headers + "," + signature,
        "AWS4-HMAC-SHA256 " + credential + ", " + signed_headers + ", " + signature,
        "  AWS4-HMAC-SHA256   " + credential + " ,  " + signed_headers + " ,\t" + signature + "  ",
        "AWS4-HMAC-SHA256 " + signature + "," + credential + "," + signed_headers,
        "AWS4-HMAC-SHA256 Credential = AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders= host;range;x-amz-date, " +
            signature}) {
    const auto parsed = parse_authorization_header(value);
    ASSERT_TRUE(parsed.ok()) << value << ": " << parsed.failure.detail;
    EXPECT_EQ(parsed.fields.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(parsed.fields.date, "20130524");
    EXPECT_EQ(parsed.fields.region, "us-east-1");
    EXPECT_EQ(parsed.fields.service, "s3");
    EXPECT_EQ(parsed.fields.signed_headers,
              (std::vector<std::string>{"host", "range", "x-amz-date"}));
    EXPECT_EQ(hex_of(parsed.fields.signature),
              "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024");
  }
}

TEST(SigV4AuthorizationHeader, StrictOnEverythingElse) {
  const std::string credential =
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string signed_headers = "SignedHeaders=host;x-amz-date";
  const std::string signature = "Signature=" + std::string(64, 'a');
  const std::string prefix = "AWS4-HMAC-SHA256 ";
  const std::vector<std::pair<std::string, auth_error>> cases = {
      {"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", auth_error::unsupported_algorithm},
      {"AWS4-ECDSA-P256-SHA256 " + credential + "," + signed_headers + "," + signature,
       auth_error::unsupported_algorithm},
      {"aws4-hmac-sha256 " + credential + "," + signed_headers + "," + signature,
       auth_error::unsupported_algorithm},
      {"AWS4-HMAC-SHA256", auth_error::authorization_incomplete},
      {prefix + credential + "," + signed_headers, auth_error::authorization_incomplete},
      {prefix + credential + "," + signature, auth_error::authorization_incomplete},
      {prefix + signed_headers + "," + signature, auth_error::authorization_incomplete},
      {prefix + credential + "," + signed_headers + "," + signature + ",",
       auth_error::authorization_malformed},
      {prefix + credential + ",," + signed_headers + "," + signature,
       auth_error::authorization_malformed},
      {prefix + credential + " " + signed_headers + "," + signature,
       auth_error::authorization_incomplete},
      {prefix + signature + "," + credential + " " + signed_headers,
       auth_error::authorization_incomplete},
      {prefix + signed_headers + "," + signature +
           ",Credential=AKID/20130524/us-east-1/s3/"
           "aws4_request Extra",
       auth_error::credential_malformed},
      {prefix + credential + "," + signed_headers + "," + signature + ",Extra=1",
       auth_error::authorization_malformed},
      {prefix + credential + "," + credential + "," + signed_headers + "," + signature,
       auth_error::authorization_malformed},
      {prefix + "credential=AKID/20130524/us-east-1/s3/aws4_request," + signed_headers + "," +
           signature,
       auth_error::authorization_malformed},
      {prefix + "Credential," + signed_headers + "," + signature,
       auth_error::authorization_malformed},
      {prefix + "Credential=AKID/20130524/us-east-1/s3," + signed_headers + "," + signature,
       auth_error::credential_malformed},
      {prefix + "Credential=AKID/20130524/us-east-1/s3/aws4_request/x," + signed_headers + "," +
           signature,
       auth_error::credential_malformed},
      {prefix + "Credential=/20130524/us-east-1/s3/aws4_request," + signed_headers + "," +
           signature,
       auth_error::credential_malformed},
      {prefix + "Credential=AKID/2013-05-24/us-east-1/s3/aws4_request," + signed_headers + "," +
           signature,
       auth_error::credential_malformed},
      {prefix + "Credential=AKID/20130532/us-east-1/s3/aws4_request," + signed_headers + "," +
           signature,
       auth_error::credential_malformed},
      {prefix + "Credential=AKID/20130524//s3/aws4_request," + signed_headers + "," + signature,
       auth_error::credential_malformed},
      {prefix + "Credential=AKID/20130524/us-east-1/s3/aws4_requesT," + signed_headers + "," +
           signature,
       auth_error::credential_malformed},
      {prefix + credential + ",SignedHeaders=," + signature, auth_error::signed_headers_malformed},
      {prefix + credential + ",SignedHeaders=x-amz-date;host," + signature,
       auth_error::signed_headers_malformed},
      {prefix + credential + ",SignedHeaders=Host;x-amz-date," + signature,
       auth_error::signed_headers_malformed},
      {prefix + credential + ",SignedHeaders=host;host," + signature,
       auth_error::signed_headers_malformed},
      {prefix + credential + ",SignedHeaders=host;;x-amz-date," + signature,
       auth_error::signed_headers_malformed},
      {prefix + credential + ",SignedHeaders=host;x amz," + signature,
       auth_error::signed_headers_malformed},
      {prefix + credential + "," + signed_headers + ",Signature=" + std::string(63, 'a'),
       auth_error::signature_malformed},
      {prefix + credential + "," + signed_headers + ",Signature=" + std::string(65, 'a'),
       auth_error::signature_malformed},
      {prefix + credential + "," + signed_headers + ",Signature=" + std::string(64, 'g'),
       auth_error::signature_malformed},
      {prefix + credential + "," + signed_headers + "," + signature +
           std::string(authorization_header_bytes_max, ' '),
       auth_error::authorization_malformed},
  };
  for (const auto& [value, reason] : cases) {
    const auto parsed = parse_authorization_header(value);
    EXPECT_EQ(to_string(parsed.failure.reason), to_string(reason)) << value;
    EXPECT_FALSE(parsed.failure.detail.empty()) << value;
  }
  std::string many = prefix + credential + ",SignedHeaders=";
  for (std::size_t i = 0; i <= signed_headers_max; ++i)
    many += (i ? ";h" : "h") + std::string(3 - std::to_string(i).size(), '0') + std::to_string(i);
  EXPECT_EQ(parse_authorization_header(many + "," + signature).failure.reason,
            auth_error::signed_headers_malformed);
}

// --- verify_request: a negative test for every auth_error ------------------------------------

TEST(SigV4Verify, ValidBaseRequestsVerify) {
  const map_secret_source secrets;
  expect_ok(header_request().verify(secrets, example_time));
  expect_ok(presigned_request().verify(secrets, example_time));
  // The region check passes for the right region.
  expect_ok(header_request().verify(secrets, example_time, verifier_config{"us-east-1"}));
}

TEST(SigV4Verify, RequestTargetMalformed) {
  const map_secret_source secrets;
  for (const std::string& target :
       std::vector<std::string>{"bucket/key", "", "/bad%zz", "/a?b=%2", "/a#fragment",
                                "/" + std::string(request_target_bytes_max, 'a')}) {
    auto r = header_request();
    r.target = target;
    expect_failure(r.verify(secrets, example_time), auth_error::request_target_malformed);
  }
}

TEST(SigV4Verify, NoMultipleOrDuplicateAuthentication) {
  const map_secret_source secrets;
  auto r = header_request();
  r.remove("Authorization");
  expect_failure(r.verify(secrets, example_time), auth_error::no_authentication);
  EXPECT_EQ(s3_error_code(auth_error::no_authentication, auth_method::authorization_header),
            "AccessDenied");

  auto both = presigned_request();
  both.add("Authorization", header_request().get("Authorization"));
  const auto result = both.verify(secrets, example_time);
  expect_failure(result, auth_error::multiple_authentication);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "InvalidArgument");

  auto twice = header_request();
  twice.add("Authorization", twice.get("Authorization"));
  expect_failure(twice.verify(secrets, example_time), auth_error::duplicate_header);
  for (const std::string name : {"x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}) {
    auto dup = header_request();
    dup.add(name, dup.get(name).empty() ? "token" : dup.get(name));
    dup.add(name, dup.get(name).empty() ? "token" : dup.get(name));
    expect_failure(dup.verify(secrets, example_time), auth_error::duplicate_header);
  }
}

TEST(SigV4Verify, HeaderParseFailuresAreReported) {
  const map_secret_source secrets;
  auto r = header_request();
  r.set("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date");
  auto result = r.verify(secrets, example_time);
  expect_failure(result, auth_error::authorization_incomplete);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "IncompleteSignature");
  r.set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=");
  expect_failure(r.verify(secrets, example_time), auth_error::unsupported_algorithm);
  EXPECT_EQ(secrets.lookups, 0);  // no key is looked up for a malformed request
}

TEST(SigV4Verify, CredentialScopeChecks) {
  const map_secret_source secrets;
  auto service = header_request();
  auto authorization = service.get("Authorization");
  service.set("Authorization", authorization.replace(authorization.find("/s3/"), 4, "/ec2/"));
  auto result = service.verify(secrets, example_time);
  expect_failure(result, auth_error::credential_service_wrong);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "AuthorizationHeaderMalformed");

  result = header_request().verify(secrets, example_time, verifier_config{"eu-west-1"});
  expect_failure(result, auth_error::credential_region_wrong);
  EXPECT_NE(result.failure.detail.find("eu-west-1"), std::string::npos);

  // The scope says the 24th, the request the 25th at 00:05 (within skew of now).
  auto date = header_request();
  date.set("x-amz-date", "20130525T000500Z");
  expect_failure(date.verify(secrets, 1369440300), auth_error::credential_date_mismatch);

  auto presigned = presigned_request();
  presigned.target.replace(presigned.target.find("us-east-1"), 9, "eu-west-1");
  result = presigned.verify(secrets, example_time, verifier_config{"us-east-1"});
  expect_failure(result, auth_error::credential_region_wrong);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method),
            "AuthorizationQueryParametersError");
}

TEST(SigV4Verify, SignedHeaderSetChecks) {
  const map_secret_source secrets;
  auto host = header_request();
  auto authorization = host.get("Authorization");
  host.set("Authorization", authorization.replace(authorization.find("host;"), 5, ""));
  expect_failure(host.verify(secrets, example_time), auth_error::host_not_signed);

  auto absent = header_request();
  absent.remove("Host");
  auto result = absent.verify(secrets, example_time);
  expect_failure(result, auth_error::signed_header_absent);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "SignatureDoesNotMatch");

  auto unsigned_header = header_request();
  unsigned_header.add("X-Amz-Meta-Color", "blue");
  result = unsigned_header.verify(secrets, example_time);
  expect_failure(result, auth_error::unsigned_amz_header);
  EXPECT_NE(result.failure.detail.find("x-amz-meta-color"), std::string::npos);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "AccessDenied");
  // Other unsigned headers are fine (User-Agent, Content-Length, ...).
  auto other = header_request();
  other.add("User-Agent", "test");
  other.add("amz-sdk-invocation-id", "1");
  expect_ok(other.verify(secrets, example_time));
  // So is an x-amz-* header once it is signed.
  auto signed_meta = header_request();
  signed_meta.add("X-Amz-Meta-Color", " blue   and  green ");
  authorization = signed_meta.get("Authorization");
  signed_meta.set("Authorization", authorization.replace(authorization.find("x-amz-date"), 10,
                                                         "x-amz-date;x-amz-meta-color"));
  sign_with_library(signed_meta);
  const auto signed_result = signed_meta.verify(secrets, example_time);
  expect_ok(signed_result);
  EXPECT_NE(signed_result.canonical_request.find("\nx-amz-meta-color:blue and green\n"),
            std::string::npos);
}

TEST(SigV4Verify, DateChecks) {
  const map_secret_source secrets;
  auto missing = header_request();
  missing.remove("x-amz-date");
  auto result = missing.verify(secrets, example_time);
  expect_failure(result, auth_error::date_missing);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "AccessDenied");
  for (const std::string bad : {"2013-05-24T00:00:00Z", "20130524T000000", "Fri, 24 May 2013"}) {
    auto r = header_request();
    r.set("x-amz-date", bad);
    expect_failure(r.verify(secrets, example_time), auth_error::date_malformed);
  }
  auto http_date = header_request();
  http_date.remove("x-amz-date");
  http_date.add("Date", "24 May 2013 00:00:00 GMT");
  expect_failure(http_date.verify(secrets, example_time), auth_error::date_malformed);

  // A Date header alone is the request time (and the x-amz-date of the string to sign).
  auto date_only = header_request();
  date_only.remove("x-amz-date");
  date_only.add("Date", "Fri, 24 May 2013 00:00:00 GMT");
  auto authorization = date_only.get("Authorization");
  date_only.set("Authorization", authorization.replace(authorization.find("host;"), 5, "date;host;")
                                     .replace(authorization.find(";x-amz-date"), 11, ""));
  sign_with_library(date_only);
  result = date_only.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.request.timestamp, example_timestamp);
}

TEST(SigV4Verify, RequestTimeTooSkewedBeyondFifteenMinutes) {
  const map_secret_source secrets;
  const auto r = header_request();
  expect_ok(r.verify(secrets, example_time + 900));
  expect_ok(r.verify(secrets, example_time - 900));
  auto result = r.verify(secrets, example_time + 901);
  expect_failure(result, auth_error::request_time_too_skewed);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "RequestTimeTooSkewed");
  EXPECT_EQ(http_status(result.failure.reason, result.method), 403);
  expect_failure(r.verify(secrets, example_time - 901), auth_error::request_time_too_skewed);
}

TEST(SigV4Verify, PresignedUrlExpiryAndNotYetValid) {
  const map_secret_source secrets;
  const auto r = presigned_request();
  auto result = r.verify(secrets, example_time + 86401);
  expect_failure(result, auth_error::presigned_url_expired);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "AccessDenied");
  expect_ok(r.verify(secrets, example_time - 900));
  result = r.verify(secrets, example_time - 901);
  expect_failure(result, auth_error::presigned_url_not_yet_valid);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "AccessDenied");
}

TEST(SigV4Verify, PresignedUrlParameterChecks) {
  const map_secret_source secrets;
  const auto with = [](std::string name, std::string value) {
    auto r = presigned_request();
    const auto at = r.target.find(name + "=");
    const auto end = r.target.find('&', at);
    r.target.replace(at, end == std::string::npos ? std::string::npos : end - at,
                     value.empty() ? name : name + "=" + value);
    return r;
  };
  const auto without = [](std::string name) {
    auto r = presigned_request();
    const auto at = r.target.find(name + "=");
    const auto end = r.target.find('&', at);
    r.target.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    if (r.target.back() == '&') r.target.pop_back();
    return r;
  };
  for (const std::string expires : {"0", "604801", "-1", "abc", "1e3", "99999999999999999999999"}) {
    const auto result = with("X-Amz-Expires", expires).verify(secrets, example_time);
    expect_failure(result, auth_error::expires_malformed);
    EXPECT_EQ(s3_error_code(result.failure.reason, result.method),
              "AuthorizationQueryParametersError");
  }
  for (const std::string name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                 "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}) {
    const auto result = without(name).verify(secrets, example_time);
    expect_failure(result, auth_error::authorization_incomplete);
    EXPECT_EQ(s3_error_code(result.failure.reason, result.method),
              "AuthorizationQueryParametersError");
  }
  expect_failure(with("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256").verify(secrets, example_time),
                 auth_error::unsupported_algorithm);
  expect_failure(
      with("X-Amz-Credential", "AKID%2F20130524%2Fus-east-1%2Fs3").verify(secrets, example_time),
      auth_error::credential_malformed);
  expect_failure(with("X-Amz-Date", "20130524").verify(secrets, example_time),
                 auth_error::date_malformed);
  expect_failure(with("X-Amz-SignedHeaders", "x-amz-date%3Bhost").verify(secrets, example_time),
                 auth_error::signed_headers_malformed);
  expect_failure(with("X-Amz-SignedHeaders", "content-type").verify(secrets, example_time),
                 auth_error::host_not_signed);
  expect_failure(with("X-Amz-Signature", "abc").verify(secrets, example_time),
                 auth_error::signature_malformed);
  auto duplicate = presigned_request();
  duplicate.target += "&X-Amz-Expires=60";
  expect_failure(duplicate.verify(secrets, example_time), auth_error::authorization_malformed);
  // A week exactly is allowed.
  auto week = with("X-Amz-Expires", "604800");
  sign_with_library(week);
  expect_ok(week.verify(secrets, example_time + 604800));
  expect_failure(week.verify(secrets, example_time + 604801), auth_error::presigned_url_expired);
  // An unsigned x-amz-* header is refused in a presigned request too.
  auto header = presigned_request();
  header.add("x-amz-acl", "public-read");
  expect_failure(header.verify(secrets, example_time), auth_error::unsigned_amz_header);
}

TEST(SigV4Verify, PresignedUrlWithSecurityTokenAndContentSha256) {
  const map_secret_source secrets;
  auto r = presigned_request("X-Amz-Security-Token=session%2Btoken&");
  auto result = r.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.request.security_token, "session+token");
  EXPECT_NE(result.canonical_request.find("X-Amz-Security-Token=session%2Btoken"),
            std::string::npos);

  auto digest = presigned_request("X-Amz-Content-Sha256=" + std::string(empty_sha256) + "&");
  result = digest.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.request.payload, payload_kind::sha256);
  EXPECT_EQ(result.canonical_request.substr(result.canonical_request.rfind('\n') + 1),
            empty_sha256);
  auto streaming =
      presigned_request("X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD&", signing::none);
  expect_failure(streaming.verify(secrets, example_time), auth_error::content_sha256_invalid);
}

TEST(SigV4Verify, UnknownAccessKey) {
  const map_secret_source secrets;
  auto r = header_request();
  auto authorization = r.get("Authorization");
  r.set("Authorization", authorization.replace(authorization.find("AKIAIOSFODNN7EXAMPLE"), 20,
                                               "AKIAIOSFODNN7UNKNOWN"));
  const auto result = r.verify(secrets, example_time);
  expect_failure(result, auth_error::unknown_access_key);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "InvalidAccessKeyId");
}

TEST(SigV4Verify, SignatureMismatchReturnsWhatS3Reports) {
  const map_secret_source secrets;
  auto r = header_request();
  auto authorization = r.get("Authorization");
  authorization.back() = authorization.back() == '0' ? '1' : '0';
  r.set("Authorization", authorization);
  const auto result = r.verify(secrets, example_time);
  expect_failure(result, auth_error::signature_mismatch);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "SignatureDoesNotMatch");
  EXPECT_EQ(result.canonical_request.substr(0, 16), "GET\n/bucket/key\n");
  EXPECT_EQ(result.string_to_sign.substr(0, 17), "AWS4-HMAC-SHA256\n");
  // Another secret for the same key id: the same refusal.
  map_secret_source other;
  other.add(std::string(example_access_key), "another secret");
  expect_failure(header_request().verify(other, example_time), auth_error::signature_mismatch);
  // Upper-case hex digits are the same signature.
  auto upper = header_request();
  authorization = upper.get("Authorization");
  for (auto i = authorization.size() - 64; i < authorization.size(); ++i)
    authorization[i] =
        static_cast<char>(std::toupper(static_cast<unsigned char>(authorization[i])));
  upper.set("Authorization", authorization);
  expect_ok(upper.verify(secrets, example_time));
}

TEST(SigV4Verify, ContentSha256Checks) {
  const map_secret_source secrets;
  auto missing = header_request();
  missing.remove("x-amz-content-sha256");
  auto result = missing.verify(secrets, example_time);
  expect_failure(result, auth_error::content_sha256_missing);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "InvalidRequest");
  for (const std::string& bad :
       std::vector<std::string>{"UNSIGNED", "e3b0c442", "unsigned-payload", std::string(64, 'g'),
                                "STREAMING-UNSIGNED-PAYLOAD"}) {
    auto r = header_request();
    r.set("x-amz-content-sha256", bad);
    result = r.verify(secrets, example_time);
    expect_failure(result, auth_error::content_sha256_invalid);
    EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "InvalidArgument");
  }
  for (const std::string sigv4a : {"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
                                   "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"}) {
    auto r = header_request();
    r.set("x-amz-content-sha256", sigv4a);
    result = r.verify(secrets, example_time);
    expect_failure(result, auth_error::content_sha256_unsupported);
    EXPECT_EQ(http_status(result.failure.reason, result.method), 501);
  }
  auto unsigned_payload = header_request();
  unsigned_payload.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
  sign_with_library(unsigned_payload);
  result = unsigned_payload.verify(secrets, example_time);
  expect_ok(result);
  EXPECT_EQ(result.request.payload, payload_kind::unsigned_payload);
  // The payload hash is signed: changing it breaks the signature.
  unsigned_payload.set("x-amz-content-sha256", std::string(empty_sha256));
  expect_failure(unsigned_payload.verify(secrets, example_time), auth_error::signature_mismatch);
}

// A streaming request signed by the library, for the header checks.
test_request streaming_request(std::string_view content_sha256, std::string_view trailer,
                               std::string_view decoded_length = "20000") {
  test_request r;
  r.method = "PUT";
  r.target = "/bucket/stream";
  r.add("Host", "s3.cairn.test");
  r.add("x-amz-date", std::string(example_timestamp));
  r.add("x-amz-content-sha256", std::string(content_sha256));
  r.add("Content-Encoding", "aws-chunked");
  std::string signed_headers = "content-encoding;host;x-amz-content-sha256;x-amz-date";
  if (!decoded_length.empty()) {
    r.add("x-amz-decoded-content-length", std::string(decoded_length));
    signed_headers += ";x-amz-decoded-content-length";
  }
  if (!trailer.empty()) {
    r.add("x-amz-trailer", std::string(trailer));
    signed_headers += ";x-amz-trailer";
  }
  r.add("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=" +
            signed_headers + ", Signature=" + std::string(zero_signature));
  sign_with_library(r);
  return r;
}

TEST(SigV4Verify, StreamingHeaderChecks) {
  const map_secret_source secrets;
  auto result =
      streaming_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "", "").verify(secrets, example_time);
  expect_failure(result, auth_error::decoded_length_missing);
  EXPECT_EQ(s3_error_code(result.failure.reason, result.method), "MissingContentLength");
  EXPECT_EQ(http_status(result.failure.reason, result.method), 411);
  for (std::string_view bad : {"-1", "1.5", "abc", "5368709121", " "}) {
    result = streaming_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "", bad)
                 .verify(secrets, example_time);
    expect_failure(result, auth_error::decoded_length_invalid);
  }
  expect_ok(streaming_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "", "5368709120")
                .verify(secrets, example_time));
  // x-amz-trailer: required by the -TRAILER kinds, refused otherwise,
  // supported names only, once each.
  expect_failure(streaming_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "")
                     .verify(secrets, example_time),
                 auth_error::trailer_declaration_invalid);
  expect_failure(
      streaming_request("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "").verify(secrets, example_time),
      auth_error::trailer_declaration_invalid);
  expect_failure(streaming_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-checksum-crc32")
                     .verify(secrets, example_time),
                 auth_error::trailer_declaration_invalid);
  for (std::string_view bad : {"x-amz-checksum-md5", "x-amz-checksum-crc32,x-amz-checksum-crc32",
                               "x-amz-checksum-crc32,", "content-md5"})
    expect_failure(
        streaming_request("STREAMING-UNSIGNED-PAYLOAD-TRAILER", bad).verify(secrets, example_time),
        auth_error::trailer_declaration_invalid);
  result = streaming_request("STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                             "X-Amz-Checksum-SHA256 , x-amz-checksum-crc32")
               .verify(secrets, example_time);
  expect_ok(result);
  ASSERT_TRUE(result.request.chunked.has_value());
  EXPECT_EQ(
      result.request.chunked->trailers,
      (std::vector<checksum_algorithm>{checksum_algorithm::sha256, checksum_algorithm::crc32}));
  EXPECT_TRUE(result.request.chunked->signing_key.empty());  // unsigned chunks need no key
  // A single-chunk request may not declare trailers.
  auto single = header_request();
  single.add("x-amz-trailer", "x-amz-checksum-crc32");
  auto authorization = single.get("Authorization");
  single.set("Authorization", authorization.replace(authorization.find("x-amz-date"), 10,
                                                    "x-amz-date;x-amz-trailer"));
  sign_with_library(single);
  expect_failure(single.verify(secrets, example_time), auth_error::trailer_declaration_invalid);
}

TEST(SigV4Verify, EveryErrorHasAnS3CodeAndStatus) {
  for (int i = 1; i <= static_cast<int>(auth_error::checksum_mismatch); ++i) {
    const auto reason = static_cast<auth_error>(i);
    for (auto method : {auth_method::authorization_header, auth_method::presigned_url}) {
      EXPECT_FALSE(s3_error_code(reason, method).empty()) << to_string(reason);
      EXPECT_NE(s3_error_code(reason, method), "InternalError") << to_string(reason);
      const int status = http_status(reason, method);
      EXPECT_TRUE(status == 400 || status == 403 || status == 411 || status == 501)
          << to_string(reason) << " " << status;
    }
    EXPECT_NE(to_string(reason), "unknown");
  }
}

// --- the aws-chunked decoder -------------------------------------------------------------------

// A chunked_upload of the documentation's credentials and scope.
chunked_upload example_upload(payload_kind kind, std::uint64_t decoded_length,
                              std::vector<checksum_algorithm> trailers = {}) {
  chunked_upload u;
  u.kind = kind;
  if (kind != payload_kind::streaming_unsigned_trailer) u.signing_key = example_signing_key();
  u.timestamp = example_timestamp;
  u.scope = example_scope;
  u.seed_signature = keys::sha256(as_bytes("seed"));
  u.decoded_content_length = decoded_length;
  u.trailers = std::move(trailers);
  return u;
}

std::string checksum_of(checksum_algorithm algorithm, std::string_view data) {
  if (algorithm == checksum_algorithm::sha256) return base64_encode(keys::sha256(as_bytes(data)));
  const std::uint32_t crc = algorithm == checksum_algorithm::crc32
                                ? crc32_ieee(as_bytes(data))
                                : crc32_castagnoli(as_bytes(data));
  const std::array<std::uint8_t, 4> bytes = {
      static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
      static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
  return base64_encode(bytes);
}

// Encodes `data` as an aws-chunked body for `kind`, in chunks of
// `chunk_bytes`, with signatures from this library's string-to-sign
// functions (pinned by the documentation's examples above).
std::string encode_body(payload_kind kind, std::string_view data, std::size_t chunk_bytes,
                        const std::vector<checksum_algorithm>& trailers = {}) {
  const bool is_signed = kind != payload_kind::streaming_unsigned_trailer;
  const auto key = example_signing_key();
  keys::sha256_digest previous = keys::sha256(as_bytes("seed"));
  std::string body;
  for (std::size_t at = 0;; at += chunk_bytes) {
    const std::string_view chunk = data.substr(std::min(at, data.size()), chunk_bytes);
    std::ostringstream size;
    size << std::hex << chunk.size();
    body += size.str();
    if (is_signed) {
      previous = sign(key, chunk_string_to_sign(example_timestamp, example_scope, previous,
                                                keys::sha256(as_bytes(chunk))));
      body += ";chunk-signature=" + to_hex(previous);
    }
    body += "\r\n";
    body += chunk;
    if (chunk.empty()) break;
    body += "\r\n";
  }
  std::string canonical_trailers;
  for (auto algorithm : trailers) {
    const std::string line =
        std::string(trailer_name(algorithm)) + ":" + checksum_of(algorithm, data);
    body += line + "\r\n";
    canonical_trailers += line + "\n";
  }
  if (kind == payload_kind::streaming_signed_trailer) {
    const auto signature =
        sign(key, trailer_string_to_sign(example_timestamp, example_scope, previous,
                                         keys::sha256(as_bytes(canonical_trailers))));
    body += "x-amz-trailer-signature:" + to_hex(signature) + "\r\n";
  }
  return body + "\r\n";
}

std::string test_data(std::size_t length, std::uint32_t seed) {
  std::string data(length, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : data) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return data;
}

TEST(ChunkedBodyDecoder, EveryKindDecodesInAnyPieceSize) {
  const std::string data = test_data(20000, 1);
  const std::vector<std::pair<payload_kind, std::vector<checksum_algorithm>>> kinds = {
      {payload_kind::streaming_signed, {}},
      {payload_kind::streaming_signed_trailer, {checksum_algorithm::crc32}},
      {payload_kind::streaming_signed_trailer,
       {checksum_algorithm::sha256, checksum_algorithm::crc32c, checksum_algorithm::crc32}},
      {payload_kind::streaming_unsigned_trailer, {checksum_algorithm::crc32c}},
      {payload_kind::streaming_unsigned_trailer, {checksum_algorithm::sha256}},
  };
  for (const auto& [kind, trailers] : kinds) {
    const std::string body = encode_body(kind, data, 8192, trailers);
    for (std::size_t piece = 1; piece <= 70; ++piece) {
      const auto out = decode(example_upload(kind, data.size(), trailers), body, {piece});
      ASSERT_FALSE(out.failure.failed())
          << to_string(kind) << " piece " << piece << ": " << out.failure.detail;
      ASSERT_TRUE(out.complete);
      ASSERT_EQ(out.payload, data);
      ASSERT_EQ(out.verified_bytes, data.size());
    }
  }
}

TEST(ChunkedBodyDecoder, EmptyPayload) {
  for (auto kind : {payload_kind::streaming_signed, payload_kind::streaming_signed_trailer,
                    payload_kind::streaming_unsigned_trailer}) {
    const std::vector<checksum_algorithm> trailers = kind == payload_kind::streaming_signed
                                                         ? std::vector<checksum_algorithm>{}
                                                         : std::vector{checksum_algorithm::crc32};
    const auto out =
        decode(example_upload(kind, 0, trailers), encode_body(kind, "", 8192, trailers), {1});
    EXPECT_FALSE(out.failure.failed()) << out.failure.detail;
    EXPECT_TRUE(out.complete);
    EXPECT_EQ(out.payload, "");
  }
}

TEST(ChunkedBodyDecoder, BytesAreVerifiedChunkByChunk) {
  const std::string data = test_data(20000, 2);
  const std::string body = encode_body(payload_kind::streaming_signed, data, 8192);
  chunked_body_decoder decoder(example_upload(payload_kind::streaming_signed, data.size()));
  std::uint64_t handed_out = 0;
  const auto sink = [&](std::span<const std::uint8_t> bytes) { handed_out += bytes.size(); };
  // The first chunk's header and all but one of its bytes: handed out, not verified.
  const std::size_t first_header = body.find("\r\n") + 2;
  EXPECT_FALSE(
      decoder.feed(as_bytes(std::string_view(body).substr(0, first_header + 8191)), sink).failed());
  EXPECT_EQ(handed_out, 8191u);
  EXPECT_EQ(decoder.verified_bytes(), 0u);
  EXPECT_FALSE(
      decoder.feed(as_bytes(std::string_view(body).substr(first_header + 8191, 1)), sink).failed());
  EXPECT_EQ(decoder.verified_bytes(), 8192u);
  EXPECT_FALSE(
      decoder.feed(as_bytes(std::string_view(body).substr(first_header + 8192)), sink).failed());
  EXPECT_TRUE(decoder.complete());
  EXPECT_FALSE(decoder.finish().failed());
  EXPECT_EQ(decoder.verified_bytes(), 20000u);
}

struct malformed_case {
  std::string name;
  payload_kind kind;
  std::vector<checksum_algorithm> trailers;
  std::uint64_t decoded_length;
  std::string body;
  auth_error reason;
};

std::string replace(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ChunkedBodyDecoder, EveryFramingAndChecksumErrorIsNamed) {
  using enum payload_kind;
  const std::string data = test_data(20000, 3);
  const std::string small = test_data(100, 4);
  const auto crc32 = std::vector{checksum_algorithm::crc32};
  const std::string signed_body = encode_body(streaming_signed, data, 8192);
  const std::string trailer_body = encode_body(streaming_signed_trailer, data, 8192, crc32);
  const std::string unsigned_body = encode_body(streaming_unsigned_trailer, data, 8192, crc32);
  const std::string first_line = signed_body.substr(0, signed_body.find("\r\n"));
  const std::string data_and_crlf = data.substr(0, 8192) + "\r\n";
  const std::string crc_line =
      "x-amz-checksum-crc32:" + checksum_of(checksum_algorithm::crc32, data);
  const std::string wrong_crc = checksum_of(checksum_algorithm::crc32, "other");

  const std::vector<malformed_case> cases = {
      {"no size",
       streaming_signed,
       {},
       20000,
       replace(signed_body, "2000;", ";"),
       auth_error::chunk_header_malformed},
      {"size not hex",
       streaming_signed,
       {},
       20000,
       "zz;chunk-signature=00\r\n",
       auth_error::chunk_header_malformed},
      {"17 hex digits",
       streaming_signed,
       {},
       20000,
       "00000000000002000;chunk-signature=\r\n",
       auth_error::chunk_header_malformed},
      {"no signature",
       streaming_signed,
       {},
       20000,
       "2000\r\n" + data_and_crlf,
       auth_error::chunk_header_malformed},
      {"short signature",
       streaming_signed,
       {},
       20000,
       first_line.substr(0, first_line.size() - 1) + "\r\n",
       auth_error::chunk_header_malformed},
      {"other extension",
       streaming_signed,
       {},
       20000,
       replace(signed_body, ";chunk-signature=", ";chunk-signaturE="),
       auth_error::chunk_header_malformed},
      {"blank in header",
       streaming_signed,
       {},
       20000,
       replace(signed_body, "2000;", "2000 ;"),
       auth_error::chunk_header_malformed},
      {"extension on unsigned chunk", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, "2000\r\n", "2000;x=y\r\n"), auth_error::chunk_header_malformed},
      {"bare LF",
       streaming_signed,
       {},
       20000,
       first_line + "\n" + data_and_crlf,
       auth_error::chunk_header_malformed},
      {"CR inside line",
       streaming_signed,
       {},
       20000,
       "2000\r;chunk-signature=\r\n",
       auth_error::chunk_header_malformed},
      {"line too long",
       streaming_signed,
       {},
       20000,
       std::string(chunk_line_bytes_max, '0'),
       auth_error::chunk_line_too_long},
      {"data longer than size",
       streaming_signed,
       {},
       20000,
       replace(signed_body, data_and_crlf, data.substr(0, 8192) + "X\r\n"),
       auth_error::chunk_data_unterminated},
      {"data without CRLF",
       streaming_signed,
       {},
       20000,
       replace(signed_body, data_and_crlf, data.substr(0, 8192) + "\n\r"),
       auth_error::chunk_data_unterminated},
      {"small chunk not last",
       streaming_signed,
       {},
       20000,
       encode_body(streaming_signed, data, 4096),
       auth_error::chunk_too_small},
      {"data byte changed",
       streaming_signed,
       {},
       20000,
       replace(signed_body, data.substr(100, 8), "XXXXXXXX"),
       auth_error::chunk_signature_mismatch},
      {"chunks reordered",
       streaming_signed,
       {},
       16384,
       [&] {
         // Two chunks, swapped: each carries a valid signature for its own place.
         const std::string two = encode_body(streaming_signed, data.substr(0, 16384), 8192);
         const std::size_t second = two.find("2000;", 1);
         const std::size_t final_chunk = two.find("0;chunk-signature", second + 8192);
         return two.substr(second, final_chunk - second) + two.substr(0, second) +
                two.substr(final_chunk);
       }(),
       auth_error::chunk_signature_mismatch},
      {"final chunk signature",
       streaming_signed,
       {},
       20000,
       signed_body.substr(0, signed_body.rfind("=") + 1) + std::string(64, '0') + "\r\n\r\n",
       auth_error::chunk_signature_mismatch},
      {"more than declared",
       streaming_signed,
       {},
       19999,
       signed_body,
       auth_error::decoded_length_mismatch},
      {"fewer than declared",
       streaming_signed,
       {},
       20001,
       signed_body,
       auth_error::decoded_length_mismatch},
      {"truncated in data",
       streaming_signed,
       {},
       20000,
       signed_body.substr(0, 5000),
       auth_error::body_truncated},
      {"truncated before final CRLF",
       streaming_signed,
       {},
       20000,
       signed_body.substr(0, signed_body.size() - 2),
       auth_error::body_truncated},
      {"truncated in trailer", streaming_signed_trailer, crc32, 20000,
       trailer_body.substr(0, trailer_body.size() - 10), auth_error::body_truncated},
      {"empty body", streaming_signed, {}, 20000, "", auth_error::body_truncated},
      {"bytes after the end",
       streaming_signed,
       {},
       20000,
       signed_body + "0",
       auth_error::data_after_body_end},
      {"trailer without declaration",
       streaming_signed,
       {},
       20000,
       signed_body.substr(0, signed_body.size() - 2) + crc_line + "\r\n\r\n",
       auth_error::trailer_malformed},
      {"trailer not name:value", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line, "x-amz-checksum-crc32"), auth_error::trailer_malformed},
      {"undeclared trailer", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line, crc_line + "\r\nx-amz-checksum-sha256:AAAA"),
       auth_error::trailer_malformed},
      {"repeated trailer", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line, crc_line + "\r\n" + crc_line),
       auth_error::trailer_malformed},
      {"trailer signature in unsigned body", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line,
               crc_line + "\r\nx-amz-trailer-signature:" + std::string(64, '0')),
       auth_error::trailer_malformed},
      {"trailer after signature", streaming_signed_trailer, crc32, 20000,
       trailer_body.substr(0, trailer_body.size() - 2) + "x-amz-checksum-crc32:AAAAAA==\r\n\r\n",
       auth_error::trailer_malformed},
      {"trailer signature not hex", streaming_signed_trailer, crc32, 20000,
       trailer_body.substr(0, trailer_body.rfind(':') + 1) + "xyz\r\n\r\n",
       auth_error::trailer_malformed},
      {"trailer missing", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line + "\r\n", ""), auth_error::trailer_missing},
      {"checksum missing before signature", streaming_signed_trailer, crc32, 20000,
       replace(trailer_body, crc_line + "\r\n", ""), auth_error::trailer_missing},
      {"trailer signature missing", streaming_signed_trailer, crc32, 20000,
       trailer_body.substr(0, trailer_body.find("x-amz-trailer-signature")) + "\r\n",
       auth_error::trailer_missing},
      {"trailer signature wrong", streaming_signed_trailer, crc32, 20000,
       trailer_body.substr(0, trailer_body.rfind(':') + 1) + std::string(64, '0') + "\r\n\r\n",
       auth_error::trailer_signature_mismatch},
      {"checksum changed under signature", streaming_signed_trailer, crc32, 20000,
       replace(trailer_body, crc_line, "x-amz-checksum-crc32:" + wrong_crc),
       auth_error::trailer_signature_mismatch},
      {"checksum not base64", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line, "x-amz-checksum-crc32:not base64!"),
       auth_error::checksum_value_malformed},
      {"checksum wrong size", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line, "x-amz-checksum-crc32:AAAA"),
       auth_error::checksum_value_malformed},
      {"checksum differs", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, crc_line, "x-amz-checksum-crc32:" + wrong_crc),
       auth_error::checksum_mismatch},
      {"data changed under unsigned checksum", streaming_unsigned_trailer, crc32, 20000,
       replace(unsigned_body, data.substr(100, 8), "XXXXXXXX"), auth_error::checksum_mismatch},
      {"small unsigned chunks are fine, a bad checksum is not", streaming_unsigned_trailer, crc32,
       100,
       replace(encode_body(streaming_unsigned_trailer, small, 10, crc32),
               checksum_of(checksum_algorithm::crc32, small), wrong_crc),
       auth_error::checksum_mismatch},
  };
  for (const auto& c : cases) {
    for (std::size_t piece : {std::string_view::npos, std::size_t{1}, std::size_t{333}}) {
      const auto out =
          decode(example_upload(c.kind, c.decoded_length, c.trailers), c.body, {piece});
      EXPECT_EQ(to_string(out.failure.reason), to_string(c.reason))
          << c.name << " (piece " << piece << "): " << out.failure.detail;
      EXPECT_FALSE(out.complete) << c.name;
      EXPECT_FALSE(out.failure.detail.empty()) << c.name;
      EXPECT_LE(out.payload.size(), c.decoded_length) << c.name;
    }
  }
  // The S3 codes of the body errors.
  EXPECT_EQ(s3_error_code(auth_error::body_truncated, auth_method::authorization_header),
            "IncompleteBody");
  EXPECT_EQ(s3_error_code(auth_error::checksum_mismatch, auth_method::authorization_header),
            "BadDigest");
  EXPECT_EQ(s3_error_code(auth_error::trailer_missing, auth_method::authorization_header),
            "MalformedTrailerError");
  EXPECT_EQ(s3_error_code(auth_error::chunk_too_small, auth_method::authorization_header),
            "InvalidChunkSizeError");
}

// Random payloads, chunk sizes and splits: the decoder's output is the
// payload, whatever the pieces; one flipped byte anywhere or a cut anywhere
// is refused.
RC_GTEST_PROP(ChunkedBodyDecoderProperty, AnySplitDecodesAndAnyDamageIsRefused, ()) {
  const auto kind =
      *rc::gen::element(payload_kind::streaming_signed, payload_kind::streaming_signed_trailer,
                        payload_kind::streaming_unsigned_trailer);
  const auto length = *rc::gen::inRange<std::size_t>(0, 30000);
  const auto chunk_bytes = *rc::gen::inRange<std::size_t>(signed_chunk_bytes_min, 12000);
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  std::vector<checksum_algorithm> trailers;
  if (kind != payload_kind::streaming_signed)
    trailers.push_back(*rc::gen::element(checksum_algorithm::crc32, checksum_algorithm::crc32c,
                                         checksum_algorithm::sha256));
  const std::string data = test_data(length, seed);
  const std::string body = encode_body(kind, data, chunk_bytes, trailers);
  auto pieces = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::size_t>>(
      rc::gen::oneOf(rc::gen::inRange<std::size_t>(1, 4), rc::gen::inRange<std::size_t>(1, 200),
                     rc::gen::inRange<std::size_t>(1, 20000))));

  const auto out = decode(example_upload(kind, length, trailers), body, pieces);
  RC_ASSERT(!out.failure.failed());
  RC_ASSERT(out.complete);
  RC_ASSERT(out.payload == data);
  RC_ASSERT(out.verified_bytes == length);

  // An odd XOR mask changes the lowest bit: a hex digit always changes value
  // (never only its case), so every flip changes what the body means.
  std::string damaged = body;
  const auto at = *rc::gen::inRange<std::size_t>(0, body.size());
  const auto mask = static_cast<char>(*rc::gen::inRange(0, 128) * 2 + 1);
  damaged[at] = static_cast<char>(damaged[at] ^ mask);
  const auto broken = decode(example_upload(kind, length, trailers), damaged, pieces);
  RC_ASSERT(broken.failure.failed());
  RC_ASSERT(!broken.complete);

  const auto cut = *rc::gen::inRange<std::size_t>(0, body.size());
  const auto truncated =
      decode(example_upload(kind, length, trailers), body.substr(0, cut), pieces);
  RC_ASSERT(truncated.failure.reason == auth_error::body_truncated);
}

// --- vectors signed by botocore --------------------------------------------------------------

std::string from_base64(const std::string& text) {
  const auto bytes = base64_decode(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string{};
}

struct vector_request {
  test_request request;
  std::string name, body, decoded, secret, access_key, region, payload, method;
  std::int64_t now = 0;
};

struct vector_verdict {
  auth_failure failure;  // of the request, or else of the body
  std::string decoded;
};

vector_verdict check_vector(const vector_request& v, const test_request& r, const std::string& body,
                            const std::string& secret, std::size_t piece) {
  map_secret_source secrets;
  secrets.add(v.access_key, secret);
  auto result = r.verify(secrets, v.now, verifier_config{v.region});
  if (!result.ok()) return {result.failure, {}};
  vector_verdict verdict;
  if (result.request.chunked) {
    const auto out = decode(std::move(*result.request.chunked), body, {piece});
    verdict.failure = out.failure;
    verdict.decoded = out.payload;
  } else {
    if (result.request.payload == payload_kind::sha256) {
      payload_hash_check check(result.request.payload_sha256);
      check.update(as_bytes(body));
      verdict.failure = check.finish();
    }
    verdict.decoded = body;
  }
  return verdict;
}

// One byte of `text` at `at` becomes another character of the same class
// (so that the text stays well-formed and only its meaning changes).
void change_byte(std::string& text, std::size_t at) {
  char& c = text[at];
  if (c >= '0' && c <= '8')
    c = static_cast<char>(c + 1);
  else if (c == '9')
    c = '0';
  else if (c >= 'a' && c <= 'y')
    c = static_cast<char>(c + 1);
  else if (c == 'z')
    c = 'a';
  else if (c >= 'A' && c <= 'Y')
    c = static_cast<char>(c + 1);
  else if (c == 'Z')
    c = 'A';
  else
    c = 'x';
}

TEST(SigV4Botocore, EveryVectorVerifiesAndEveryOneByteChangeFails) {
  const char* path = std::getenv("CAIRN_SIGV4_VECTORS");
  if (path == nullptr) GTEST_SKIP() << "CAIRN_SIGV4_VECTORS is not set (ctest s3_botocore_vectors)";
  std::ifstream file(path);
  ASSERT_TRUE(file.good()) << path;
  const auto json = nlohmann::json::parse(file);
  const auto& vectors = json.at("vectors");
  ASSERT_GE(vectors.size(), 40u) << "too few vectors: did the generator fail?";
  std::size_t checks = 0;
  std::map<std::string, int> kinds;
  for (const auto& j : vectors) {
    vector_request v;
    v.name = j.at("name");
    v.now = j.at("now");
    v.access_key = j.at("access_key_id");
    v.secret = j.at("secret_access_key");
    v.region = j.at("region");
    v.request.method = j.at("method");
    v.request.target = j.at("target");
    for (const auto& h : j.at("headers")) v.request.add(h.at(0), h.at(1));
    v.body = from_base64(j.at("body_base64"));
    v.decoded = from_base64(j.at("expect").at("decoded_payload_base64"));
    v.payload = j.at("expect").at("payload");
    v.method = j.at("expect").at("method");
    SCOPED_TRACE(v.name);
    if (j.at("expect").contains("refused")) {
      // A request S3 itself refuses (botocore's generic, non-S3 signer).
      map_secret_source secrets;
      secrets.add(v.access_key, v.secret);
      const auto result = v.request.verify(secrets, v.now, verifier_config{v.region});
      EXPECT_EQ(to_string(result.failure.reason), j.at("expect").at("refused").get<std::string>());
      ++checks;
      continue;
    }
    ++kinds[v.method + " " + v.payload];

    // 1. It verifies, as botocore meant it, in pieces of any size.
    {
      map_secret_source secrets;
      secrets.add(v.access_key, v.secret);
      const auto result = v.request.verify(secrets, v.now, verifier_config{v.region});
      expect_ok(result);
      if (!result.ok()) continue;
      EXPECT_EQ(v.method, result.request.method == auth_method::presigned_url
                              ? "presigned_url"
                              : "authorization_header");
      EXPECT_EQ(v.payload, to_string(result.request.payload));
    }
    for (std::size_t piece : {std::string_view::npos, std::size_t{1}, std::size_t{1000}}) {
      const auto verdict = check_vector(v, v.request, v.body, v.secret, piece);
      EXPECT_FALSE(verdict.failure.failed())
          << to_string(verdict.failure.reason) << ": " << verdict.failure.detail;
      EXPECT_EQ(verdict.decoded, v.decoded);
      ++checks;
    }
    const auto refused = [&](const test_request& r, const std::string& body,
                             const std::string& secret, const std::string& what) {
      const auto verdict = check_vector(v, r, body, secret, std::string_view::npos);
      EXPECT_TRUE(verdict.failure.failed()) << what << " was accepted";
      ++checks;
    };

    // 2. One byte changed in the method.
    auto method = v.request;
    change_byte(method.method, 0);
    refused(method, v.body, v.secret, "a changed method");

    // 3. ... in the path.
    auto path_changed = v.request;
    const std::size_t path_end = path_changed.target.find('?');
    const std::size_t last =
        (path_end == std::string::npos ? path_changed.target.size() : path_end) - 1;
    if (last == 0)
      path_changed.target.insert(1, "a");  // "/" has no byte to change
    else
      change_byte(path_changed.target, last);
    refused(path_changed, v.body, v.secret, "a changed path " + path_changed.target);

    // 4. ... in each signed header's value.
    const std::string authorization = v.request.get("authorization");
    std::string signed_list;
    if (!authorization.empty()) {
      signed_list = authorization.substr(authorization.find("SignedHeaders=") + 14);
      signed_list = signed_list.substr(0, signed_list.find(','));
    } else {
      const auto at = v.request.target.find("X-Amz-SignedHeaders=") + 20;
      const auto end = v.request.target.find('&', at);
      signed_list = v.request.target.substr(at, end == std::string::npos ? end : end - at);
      for (std::size_t p; (p = signed_list.find("%3B")) != std::string::npos;)
        signed_list.replace(p, 3, ";");
    }
    std::istringstream names(signed_list);
    for (std::string name; std::getline(names, name, ';');) {
      auto header = v.request;
      bool changed = false;
      for (auto& [n, value] : header.headers) {
        if (!same_name(n, name) || changed) continue;
        if (value.empty())
          value = "x";
        else
          change_byte(value, value.size() - 1);
        changed = true;
      }
      ASSERT_TRUE(changed) << name;
      refused(header, v.body, v.secret, "a changed " + name + " header");
    }

    // 5. ... in the query (or one more byte when there is none).
    auto query = v.request;
    if (path_end == std::string::npos) {
      query.target += "?a";
    } else {
      // The end of the first parameter's name that is not the signature.
      std::size_t at = path_end + 1;
      if (query.target.compare(at, 16, "X-Amz-Signature=") == 0)
        at = query.target.find('&', at) + 1;
      const std::size_t name_end = query.target.find_first_of("=&", at);
      change_byte(query.target,
                  (name_end == std::string::npos ? query.target.size() : name_end) - 1);
    }
    refused(query, v.body, v.secret, "a changed query " + query.target);

    // 6. ... in the payload hash, and in the body itself.
    if (v.payload == "sha256") {
      auto hash = v.request;
      std::string value = hash.get("x-amz-content-sha256");
      change_byte(value, 0);
      hash.set("x-amz-content-sha256", value);
      refused(hash, v.body, v.secret, "a changed x-amz-content-sha256");
    }
    if (v.payload != "UNSIGNED-PAYLOAD") {
      // Every byte of a small body, a spread of bytes of a large one.
      const std::size_t step = std::max<std::size_t>(1, v.body.size() / 50);
      for (std::size_t at = 0; at < v.body.size(); at += step) {
        std::string body = v.body;
        body[at] = static_cast<char>(body[at] ^ 1);
        refused(v.request, body, v.secret, "a body changed at byte " + std::to_string(at));
      }
      if (v.body.empty() && v.payload == "sha256")
        refused(v.request, "x", v.secret, "a body where there was none");
    }

    // 7. ... in the date (one second later: same day, within the skew).
    auto date = v.request;
    if (std::string value = date.get("x-amz-date"); !value.empty()) {
      value[14] = value[14] == '9' ? '8' : static_cast<char>(value[14] + 1);
      date.set("x-amz-date", value);
    } else if (std::string http_date = date.get("date"); !http_date.empty()) {
      http_date[24] = http_date[24] == '9' ? '8' : static_cast<char>(http_date[24] + 1);
      date.set("date", http_date);
    } else {
      const auto at = date.target.find("X-Amz-Date=") + 11 + 14;
      date.target[at] = date.target[at] == '9' ? '8' : static_cast<char>(date.target[at] + 1);
    }
    refused(date, v.body, v.secret, "a changed date");

    // 8. ... in the secret.
    std::string secret = v.secret;
    change_byte(secret, secret.size() / 2);
    refused(v.request, v.body, secret, "a changed secret");
  }
  // Every kind of request botocore makes is among the vectors.
  for (const std::string kind :
       {"authorization_header sha256", "authorization_header UNSIGNED-PAYLOAD",
        "authorization_header STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "authorization_header STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "authorization_header STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "presigned_url UNSIGNED-PAYLOAD"})
    EXPECT_GT(kinds[kind], 0) << kind;
  std::cout << "[ botocore ] " << vectors.size() << " vectors ("
            << json.at("generator").get<std::string>() << "), " << checks << " checks\n";
}

}  // namespace
}  // namespace cairn::s3
