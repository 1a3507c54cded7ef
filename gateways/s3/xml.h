// gateways/s3/xml.h — the XML documents of the S3 API (pugixml): the
// responses the gateway renders and the request bodies it parses
// (CompleteMultipartUpload, Delete, CreateBucketConfiguration).
//
// Owner: the S3 gateway's request handlers; pure functions, thread-safe.
// The shapes follow the Amazon S3 API reference; plain structs in, strings
// out, so the handlers stay free of XML.
//
// Invariants:
//  SX1. Every rendered document is well-formed XML 1.0 whatever bytes keys
//       and metadata hold: text is escaped, characters XML 1.0 cannot carry
//       are replaced (use encoding-type=url to get keys byte-exact).
//  SX2. Parsers accept at most body_bytes_max and refuse anything else with
//       MalformedXML (or the specific S3 error), never a partial result.
//  SX3. Timestamps are ISO 8601 UTC with milliseconds (2026-12-04T15:24:28.000Z).
#pragma once

#include <cstdint>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "gateways/s3/errors.h"

namespace cairn::s3 {

inline constexpr std::size_t body_bytes_max = 1 << 20;  // XML request bodies
inline constexpr std::size_t delete_keys_max = 1000;    // DeleteObjects
inline constexpr std::string_view xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";

// --- helpers ----------------------------------------------------------------------

/// Appends <name>text</name> (SX1).
pugi::xml_node add_text(pugi::xml_node parent, const char* name, std::string_view text);
std::string to_string(const pugi::xml_document& doc);
/// SX3, from nanoseconds since the epoch.
std::string iso8601(std::int64_t unix_ns);
/// RFC 7231 date for Last-Modified headers: "Fri, 04 Dec 2026 15:24:28 GMT".
std::string http_date(std::int64_t unix_ns);
/// S3's encoding-type=url: percent-encodes every byte but unreserved ones
/// (A-Z a-z 0-9 - _ . ~) and '/'.
std::string url_encode_key(std::string_view key);

// --- responses --------------------------------------------------------------------

struct owner {
  std::string id;
  std::string display_name;
};

struct bucket_entry {
  std::string name;
  std::int64_t created_ns = 0;
};
std::string list_buckets(const std::vector<bucket_entry>& buckets, const owner& o);

struct object_entry {
  std::string key;
  std::int64_t mtime_ns = 0;
  std::string etag;  // quoted
  std::uint64_t size = 0;
};

struct list_objects_result {
  int version = 2;  // 1: ListObjects, 2: ListObjectsV2
  std::string bucket;
  std::string prefix;
  std::string delimiter;
  std::size_t max_keys = 1000;
  bool truncated = false;
  bool url_encoded = false;
  std::optional<owner> fetch_owner;  // v2: fetch-owner=true; v1: always
  // v1
  std::string marker;
  std::string next_marker;  // only when truncated and a delimiter is set
  // v2
  std::string start_after;
  std::string continuation_token;
  std::string next_continuation_token;
  std::vector<object_entry> objects;
  std::vector<std::string> common_prefixes;
};
std::string list_objects(const list_objects_result& r);

/// ListObjectVersions while versioning does not exist: every object is its
/// one version, "null", latest.
struct list_versions_result {
  std::string bucket;
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string version_id_marker;
  std::string next_key_marker;
  std::size_t max_keys = 1000;
  bool truncated = false;
  bool url_encoded = false;
  owner o;
  std::vector<object_entry> objects;
  std::vector<std::string> common_prefixes;
};
std::string list_versions(const list_versions_result& r);

std::string initiate_multipart(std::string_view bucket, std::string_view key,
                               std::string_view upload_id);
std::string complete_multipart(std::string_view location, std::string_view bucket,
                               std::string_view key, std::string_view etag);

struct part_entry {
  std::uint32_t number = 0;
  std::int64_t mtime_ns = 0;
  std::string etag;
  std::uint64_t size = 0;
};
struct list_parts_result {
  std::string bucket, key, upload_id;
  std::uint32_t part_number_marker = 0;
  std::uint32_t next_part_number_marker = 0;
  std::size_t max_parts = 1000;
  bool truncated = false;
  owner o;
  std::vector<part_entry> parts;
};
std::string list_parts(const list_parts_result& r);

struct upload_entry {
  std::string key, upload_id;
  std::int64_t initiated_ns = 0;
};
struct list_uploads_result {
  std::string bucket, prefix, delimiter, key_marker, upload_id_marker;
  std::string next_key_marker, next_upload_id_marker;
  std::size_t max_uploads = 1000;
  bool truncated = false;
  bool url_encoded = false;
  owner o;
  std::vector<upload_entry> uploads;
  std::vector<std::string> common_prefixes;
};
std::string list_uploads(const list_uploads_result& r);

/// CopyObjectResult, or CopyPartResult for UploadPartCopy.
std::string copy_result(bool part, std::string_view etag, std::int64_t mtime_ns);

struct delete_outcome {
  std::string key;
  std::optional<s3_error> error;  // nullopt: deleted
};
std::string delete_result(const std::vector<delete_outcome>& outcomes, bool quiet);

std::string location_constraint(std::string_view region);

// --- request bodies ----------------------------------------------------------------

/// CompleteMultipartUpload: (part number, ETag) in the order given; an
/// empty or malformed list is MalformedXML (the order is checked later).
std::variant<std::vector<std::pair<std::uint32_t, std::string>>, s3_error> parse_complete(
    std::string_view body);

struct delete_request {
  bool quiet = false;
  std::vector<std::string> keys;
};
/// Delete (DeleteObjects): 1..1000 keys, else MalformedXML.
std::variant<delete_request, s3_error> parse_delete(std::string_view body);

/// CreateBucketConfiguration: the LocationConstraint ("" when the body is
/// empty or names none).
std::variant<std::string, s3_error> parse_create_bucket(std::string_view body);

}  // namespace cairn::s3
