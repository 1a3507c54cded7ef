// gateways/s3/errors.h — S3's error codes: each with its HTTP status and a
// default message, and the XML error document every failed S3 request
// answers with (code, message, resource, request id).
//
// Owner: the S3 gateway's request handlers; pure, thread-safe.
//
// Invariants:
//  SE1. Every s3_error maps to exactly one code string and HTTP status, as
//       AWS documents them (Amazon S3 API reference, "Error responses").
//  SE2. The error document is well-formed XML whatever bytes the resource
//       or message hold (escaped by pugixml; control characters that XML
//       1.0 cannot carry are replaced).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::s3 {

enum class s3_error : std::uint8_t {
  access_denied,
  bad_digest,
  bucket_already_exists,
  bucket_already_owned_by_you,
  bucket_not_empty,
  entity_too_large,
  entity_too_small,
  incomplete_body,
  internal_error,
  invalid_access_key_id,
  invalid_argument,
  invalid_bucket_name,
  invalid_digest,
  invalid_part,
  invalid_part_order,
  invalid_range,
  invalid_request,
  key_too_long,
  malformed_xml,
  method_not_allowed,
  missing_content_length,
  no_such_bucket,
  no_such_key,
  no_such_upload,
  not_implemented,
  object_path_conflict,  // cairn: ADR 0005 (409)
  precondition_failed,
  request_time_too_skewed,
  service_unavailable,
  signature_does_not_match,
  slow_down,
  authorization_header_malformed,
  authorization_query_parameters_error,
  incomplete_signature,
  invalid_uri,
  x_amz_content_sha256_mismatch,
  malformed_trailer_error,
  invalid_chunk_size_error,
  not_modified,  // 304: not an error document, but the same control flow
  no_such_version,
};

struct error_info {
  std::string_view code;
  unsigned status;
  std::string_view message;
};

const error_info& info(s3_error e);

/// The XML error document (<Error><Code>...</Code>...</Error>).
std::string error_document(s3_error e, std::string_view message, std::string_view resource,
                           std::string_view request_id);
/// The same for a code given as text (the SigV4 verifier's codes).
std::string error_document(std::string_view code, std::string_view message,
                           std::string_view resource, std::string_view request_id);

}  // namespace cairn::s3
