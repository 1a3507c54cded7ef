// gateways/s3/request.h — the pure text parsing of an S3 request: its
// target (path style or virtual-host style), percent-decoding, Range,
// HTTP dates, ETag lists of If-Match / If-None-Match, and the copy source
// of CopyObject. No I/O, no clock: the S3 session (session.h) and the fuzz
// target (tests/fuzz/s3_request_fuzz.cpp) call these on untrusted text.
//
// Owner: gateways/s3 (library cairn_s3_xml, beside the XML parsers).
//
// Invariants:
//  RQ1. Every function accepts any bytes: malformed input gives nullopt
//       (or false / ""), never an exception, a crash or unbounded work
//       (all are linear in their input).
//  RQ2. parse_range returns only ranges inside [0, size).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cairn::s3 {

/// Percent-decoding of a path or query component ('+' is a space only in
/// query components).
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// A request's target split into bucket, key and query parameters.
struct target {
  std::string bucket;
  std::string key;
  std::multimap<std::string, std::string> query;
  bool has(const std::string& name) const { return query.count(name) != 0; }
  std::string get(const std::string& name, std::string fallback = {}) const {
    const auto it = query.find(name);
    return it == query.end() ? fallback : it->second;
  }
};

/// Path-style "/bucket/key?query"; with `host_bucket` set (virtual-host
/// style, the bucket named by the Host header) the whole path is the key.
std::optional<target> parse_target(std::string_view raw, std::string_view host_bucket = {});

/// A count in the query (max-keys, max-uploads, max-parts,
/// part-number-marker): `absent` when the parameter is missing, nullopt
/// when it is not 1-9 decimal digits, else the value capped at `cap`.
std::optional<std::uint64_t> parse_count(const target& t, const std::string& name,
                                         std::uint64_t absent, std::uint64_t cap);

/// The bucket a Host header names in virtual-host style ("b.s3.example"
/// when the configured base domain is "s3.example"), or "".
std::string host_bucket(std::string_view host, std::string_view base_domain);

/// The date of a conditional header (If-Modified-Since...): RFC 7231,
/// RFC 850, asctime or ISO 8601, in seconds since the epoch; nullopt when
/// the text is none of them (the condition is then ignored, as RFC 7232
/// says).
std::optional<std::int64_t> parse_condition_date(std::string_view text);

/// An ETag without W/ and quotes.
std::string_view unquoted(std::string_view etag);
/// If-Match / If-None-Match: "*" or a comma-separated list of ETags.
bool etag_matches(std::string_view list, std::string_view etag);

/// "bytes=a-b", "bytes=a-" or "bytes=-n" against an object of `size`
/// bytes: [first, last] (one range: S3 serves no multipart/byteranges).
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view range,
                                                                   std::uint64_t size);

/// The copy source of CopyObject / UploadPartCopy (x-amz-copy-source:
/// "[/]bucket/key" URL-encoded, optionally "?versionId=null").
struct copy_source {
  std::string bucket, key;
};
std::optional<copy_source> parse_copy_source(std::string_view header);

}  // namespace cairn::s3
