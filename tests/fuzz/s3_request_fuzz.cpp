// tests/fuzz/s3_request_fuzz.cpp — libFuzzer target for the S3 request
// path: the bytes of one HTTP/1.1 request are parsed with Beast's request
// parser (16 KiB of header, 1 MiB of body, as the gateway), its target
// with path-style and virtual-host rules (request.h), its SigV4
// authentication verified (header or presigned; the clock is the request's
// own X-Amz-Date so signed seeds stay valid), its body run through the
// aws-chunked decoder or the payload hash check, and through every XML
// request parser (xml.h); Range, conditional dates, ETag lists and the copy
// source are parsed too. Nothing may crash, hang or leak under ASan/UBSan.
//
// Owner: tests. Seeds: tests/fuzz/corpus/s3_request/ (requests signed by
// botocore, the AWS documentation's aws-chunked example, XML bodies),
// replayed in every build by s3_request_corpus_test. Build the fuzzer with
// clang and -DCAIRN_FUZZ=ON; run:
//   s3_request_fuzz -max_total_time=180 <scratch dir> tests/fuzz/corpus/s3_request
#include <utility>  // before Boost.Asio 1.74

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "gateways/s3/request.h"
#include "gateways/s3/sigv4.h"
#include "gateways/s3/xml.h"

namespace {

namespace http = boost::beast::http;
using namespace cairn::s3;

/// The keys the seeds are signed with: botocore's vectors
/// (tests/gateways/s3/sigv4_botocore_vectors.py) and the AWS documentation.
struct fuzz_secrets final : secret_key_source {
  std::optional<cairn::keys::secret_bytes> secret_access_key(std::string_view id) const override {
    std::string_view secret;
    if (id == "AKIDCAIRNEXAMPLE0001") secret = "cairn/Secret+Key/0123456789abcdefghijklmn";
    if (id == "AKIAIOSFODNN7EXAMPLE") secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    if (secret.empty()) return std::nullopt;
    return cairn::keys::secret_bytes::copy_of(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()));
  }
};

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

/// How deep one input got: 0 not a complete request, 1 parsed, 2 its
/// signature verified, 3 its body verified too. Exposed for the corpus
/// test (signed seeds must reach 2 or 3, or the fuzzer would only ever
/// explore the refusal paths).
int cairn_s3_fuzz_one(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const auto n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!parser.is_done()) return 0;
  const auto& req = parser.get();
  auto field = [&](std::string_view name) {
    const auto v = req[boost::beast::string_view(name.data(), name.size())];
    return std::string_view(v.data(), v.size());
  };
  const std::string_view raw_target(req.target().data(), req.target().size());
  (void)parse_target(raw_target, host_bucket(field("host"), "s3.cairn.test"));
  (void)parse_range(field("range"), 1000);
  (void)parse_range(field("x-amz-copy-source-range"), ~std::uint64_t{0});
  (void)parse_condition_date(field("if-modified-since"));
  (void)etag_matches(field("if-match"), "\"0123456789abcdef0123456789abcdef\"");
  (void)parse_copy_source(field("x-amz-copy-source"));
  const auto& body = req.body();
  (void)parse_complete(body);
  (void)parse_delete(body);
  (void)parse_create_bucket(body);

  std::vector<http_header> headers;
  for (const auto& f : req)
    headers.push_back({std::string_view(f.name_string().data(), f.name_string().size()),
                       std::string_view(f.value().data(), f.value().size())});
  std::int64_t now = 1'773'500'966;  // the vectors' frozen clock
  if (const auto t = parse_amz_date(field("x-amz-date"))) now = *t;
  if (const auto q = raw_target.find("X-Amz-Date="); q != std::string_view::npos)
    if (const auto t = parse_amz_date(raw_target.substr(q + 11, 16))) now = *t;
  const std::string_view method(req.method_string().data(), req.method_string().size());
  auto verified = verify_request(http_request_view{method, raw_target, headers},
                                 verifier_config{std::nullopt}, fuzz_secrets{}, now);
  if (!verified.ok()) return 1;
  auto& auth = verified.request;
  if (auth.chunked) {
    chunked_body_decoder decoder(std::move(*auth.chunked));
    std::size_t decoded = 0;
    auto sink = [&](std::span<const std::uint8_t> b) { decoded += b.size(); };
    // In two pieces, split where the body says, to reach the resumable paths.
    const auto all = bytes_of(body);
    const auto cut = all.empty() ? 0 : all[all.size() / 2] % (all.size() + 1);
    auto failure = decoder.feed(all.first(cut), sink);
    if (!failure.failed()) failure = decoder.feed(all.subspan(cut), sink);
    if (!failure.failed()) failure = decoder.finish();
    decoder.check_invariants();
    return failure.failed() ? 2 : 3;
  }
  if (auth.payload == payload_kind::sha256) {
    payload_hash_check check(auth.payload_sha256);
    check.update(bytes_of(body));
    return check.finish().failed() ? 2 : 3;
  }
  return 3;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn_s3_fuzz_one(data, size);
  return 0;
}
