// gateways/s3/sigv4.h — verification of AWS Signature Version 4 as Amazon S3
// applies it: the Authorization header, presigned (query-string) URLs, and
// the aws-chunked bodies of streaming uploads with their chunk signatures
// and trailing checksums.
//
// Owner: pure library. The S3 gateway's HTTP layer calls verify_request()
// once per request and, for a streaming upload, feeds the body through one
// chunked_body_decoder owned by that request. No I/O, no clock (the time is
// the `now_unix_seconds` argument), no global state; functions are
// thread-safe, a decoder is used by one thread at a time.
//
// Specification: Amazon S3 API Reference, "Authenticating Requests (AWS
// Signature Version 4)" and its pages on the Authorization header (single
// chunk; multiple chunks; trailing headers) and on query parameters.
//
// Invariants:
//  V1. A request is authenticated only if its Signature equals
//      HMAC-SHA256(signing key, string to sign) where the string to sign is
//      built from the request's own method, target bytes and headers; the
//      comparison is constant-time (CRYPTO_memcmp).
//  V2. Pure: the same request, configuration, secrets and `now` give the
//      same result.
//  V3. The secret access key lives only inside one verify_request() call (in
//      a secret_bytes, cleansed). What outlives it is the derived signing
//      key of a streaming upload (scoped to one day, region and service),
//      also in a secret_bytes, owned by that upload's decoder.
//  V4. Memory is bounded by the *_max limits below: a decoder holds at most
//      chunk_line_bytes_max bytes of framing, never a chunk's data.
//  V5. A decoder hands each payload byte to the sink once, in order, never
//      more than the declared decoded length; a byte is *verified* once its
//      chunk's signature matched (signed modes). After a failure no further
//      byte is handed out, and every later call reports the same failure.
//  V6. Bad input is never an assertion: every rejection is an auth_error
//      value naming the problem, with a sentence in `detail`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "actors/keys/crypto.h"
#include "actors/keys/secret_bytes.h"

namespace cairn::s3 {

// --- limits ------------------------------------------------------------------------------

/// Longest Authorization header accepted (SigV4 headers are ~200 bytes plus
/// the signed header names).
inline constexpr std::size_t authorization_header_bytes_max = 8 * 1024;
/// Longest request-target (path and query) accepted. S3 keys are at most
/// 1024 bytes, 3072 once percent-encoded.
inline constexpr std::size_t request_target_bytes_max = 16 * 1024;
inline constexpr std::size_t query_parameters_max = 256;
inline constexpr std::size_t signed_headers_max = 64;
/// S3 refuses a request whose time is more than 15 minutes from its own.
inline constexpr std::int64_t request_time_skew_seconds_max = 15 * 60;
/// X-Amz-Expires is 1..604800 (seven days).
inline constexpr std::int64_t presigned_expires_seconds_min = 1;
inline constexpr std::int64_t presigned_expires_seconds_max = 7 * 24 * 60 * 60;
/// Longest line of aws-chunked framing (a chunk header or a trailer line).
/// A signed chunk header is at most 16 + 17 + 64 + 2 = 99 bytes.
inline constexpr std::size_t chunk_line_bytes_max = 4 * 1024;
/// Every chunk of a signed streaming upload except the last data chunk
/// carries at least 8 KiB.
inline constexpr std::uint64_t signed_chunk_bytes_min = 8 * 1024;
/// Largest x-amz-decoded-content-length: S3's largest single PUT (5 GiB).
inline constexpr std::uint64_t decoded_content_length_max = std::uint64_t{5} << 30;
/// Trailing checksums one upload may declare (one per supported algorithm).
inline constexpr std::size_t trailers_max = 3;

static_assert(chunk_line_bytes_max >= 128, "a signed chunk header must fit in one line");
static_assert(presigned_expires_seconds_min <= presigned_expires_seconds_max);

// --- errors --------------------------------------------------------------------------------

/// Why a request or body was refused. Fine-grained on purpose: the reason
/// names the problem; s3_error_code() maps it to the S3 error the client
/// sees.
enum class auth_error : std::uint8_t {
  none,
  // The request as a whole.
  request_target_malformed,  // not origin-form, bad percent-encoding, too long
  no_authentication,         // neither an Authorization header nor X-Amz-* query auth
  multiple_authentication,   // both an Authorization header and X-Amz-* query auth
  unsupported_algorithm,     // not AWS4-HMAC-SHA256 (SigV2, SigV4a, ...)
  duplicate_header,          // Authorization, x-amz-date, ... given twice
  // The Authorization header or the X-Amz-* query parameters.
  authorization_malformed,   // syntax: components, separators, lengths
  authorization_incomplete,  // Credential, SignedHeaders or Signature missing
  credential_malformed,      // not AKID/yyyymmdd/region/service/aws4_request
  credential_service_wrong,  // service is not "s3"
  credential_region_wrong,   // not the region the gateway serves
  credential_date_mismatch,  // scope date differs from the request's date
  signed_headers_malformed,  // not lower-case, sorted, unique, non-empty names
  host_not_signed,           // "host" missing from SignedHeaders
  signature_malformed,       // not 64 hexadecimal digits
  expires_malformed,         // X-Amz-Expires not a number in 1..604800
  // Time.
  date_missing,                 // neither x-amz-date nor Date
  date_malformed,               // not yyyymmddThhmmssZ (or an HTTP date for Date)
  request_time_too_skewed,      // more than 15 minutes from `now`
  presigned_url_expired,        // now > X-Amz-Date + X-Amz-Expires
  presigned_url_not_yet_valid,  // X-Amz-Date more than 15 minutes after `now`
  // Keys and signatures.
  unknown_access_key,
  signed_header_absent,  // SignedHeaders names a header the request lacks
  unsigned_amz_header,   // an x-amz-* header present but not signed
  signature_mismatch,
  // The payload.
  content_sha256_missing,       // header auth without x-amz-content-sha256
  content_sha256_invalid,       // not a digest, UNSIGNED-PAYLOAD or STREAMING-*
  content_sha256_unsupported,   // a STREAMING-* value this library does not verify (SigV4a)
  content_sha256_mismatch,      // the body's SHA-256 differs from x-amz-content-sha256
  decoded_length_missing,       // streaming without x-amz-decoded-content-length
  decoded_length_invalid,       // not a decimal number, or above decoded_content_length_max
  trailer_declaration_invalid,  // x-amz-trailer missing, unexpected, unknown or repeated
  // The aws-chunked body.
  chunk_header_malformed,   // not hex-size[;chunk-signature=64hex]CRLF
  chunk_line_too_long,      // a framing line longer than chunk_line_bytes_max
  chunk_data_unterminated,  // chunk data not followed by CRLF
  chunk_too_small,          // a signed data chunk under 8 KiB that is not the last
  chunk_signature_mismatch,
  decoded_length_mismatch,  // chunk sizes do not add up to x-amz-decoded-content-length
  body_truncated,           // the body ended before the final chunk and trailers
  data_after_body_end,      // bytes after the final CRLF
  trailer_malformed,        // a trailer line that is not name:value, or undeclared
  trailer_missing,          // a declared trailer (or the trailer signature) absent
  trailer_signature_mismatch,
  checksum_value_malformed,  // a trailing checksum that is not base64 of the right size
  checksum_mismatch,         // a trailing checksum that differs from the payload's
};
std::string_view to_string(auth_error reason);

enum class auth_method : std::uint8_t { authorization_header, presigned_url };

/// The S3 error code ("SignatureDoesNotMatch", ...) a gateway returns for
/// `reason`. Some depend on where the credentials came from: a malformed
/// credential is AuthorizationHeaderMalformed in a header and
/// AuthorizationQueryParametersError in a presigned URL.
std::string_view s3_error_code(auth_error reason, auth_method method);
/// The HTTP status that goes with s3_error_code().
int http_status(auth_error reason, auth_method method);

/// A refusal: the reason and one sentence for logs and the error Message.
struct auth_failure {
  auth_error reason = auth_error::none;
  std::string detail;
  bool failed() const { return reason != auth_error::none; }
};

// --- the request ----------------------------------------------------------------------

struct http_header {
  std::string_view name;   // any case, as received
  std::string_view value;  // as received (leading/trailing blanks allowed)
};

/// A view of a request as received; the caller owns the bytes.
struct http_request_view {
  std::string_view method;
  /// The request-target in origin form, exactly as on the request line:
  /// "/bucket/key%20name?prefix=a&max-keys=2". The library decodes and
  /// re-encodes it itself (S3 signs the path single-encoded, un-normalised).
  std::string_view target;
  /// In arrival order; repeated names allowed (their values are joined by
  /// ',' when signed).
  std::span<const http_header> headers;
};

/// Where secrets come from (the key store, later). The library asks once
/// per verify_request() and keeps nothing (V3).
class secret_key_source {
 public:
  virtual ~secret_key_source() = default;
  /// The secret access key of `access_key_id`, or nullopt if there is none.
  virtual std::optional<keys::secret_bytes> secret_access_key(
      std::string_view access_key_id) const = 0;
};

struct verifier_config {
  /// The region this gateway serves; a credential scoped to another region
  /// is refused. nullopt accepts any region (single-region deployments
  /// whose clients default to us-east-1).
  std::optional<std::string> region;
};

/// What x-amz-content-sha256 (or, for presigned URLs, its absence) says
/// about the body.
enum class payload_kind : std::uint8_t {
  sha256,                      // a digest: the body must hash to it (payload_hash_check)
  unsigned_payload,            // UNSIGNED-PAYLOAD
  streaming_signed,            // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  streaming_signed_trailer,    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  streaming_unsigned_trailer,  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
};
std::string_view to_string(payload_kind kind);

enum class checksum_algorithm : std::uint8_t { crc32, crc32c, sha256 };
/// "x-amz-checksum-crc32", ...
std::string_view trailer_name(checksum_algorithm algorithm);

/// Everything a chunked_body_decoder needs; produced by verify_request()
/// for the streaming payload kinds.
struct chunked_upload {
  payload_kind kind = payload_kind::streaming_signed;
  /// kSigning of the request (empty for streaming_unsigned_trailer).
  keys::secret_bytes signing_key;
  std::string timestamp;  // yyyymmddThhmmssZ, as in the string to sign
  std::string scope;      // yyyymmdd/region/s3/aws4_request
  /// The request's signature: the "previous signature" of the first chunk.
  keys::sha256_digest seed_signature{};
  std::uint64_t decoded_content_length = 0;
  /// The trailing checksums declared by x-amz-trailer, in declared order.
  std::vector<checksum_algorithm> trailers;
};

/// A request whose signature verified.
struct authenticated_request {
  auth_method method = auth_method::authorization_header;
  std::string access_key_id;
  std::string date;       // yyyymmdd of the credential scope
  std::string region;     // of the credential scope
  std::string timestamp;  // yyyymmddThhmmssZ
  std::int64_t request_time_unix_seconds = 0;
  /// Presigned URLs only: the last second at which the URL is accepted
  /// (X-Amz-Date + X-Amz-Expires).
  std::optional<std::int64_t> valid_until_unix_seconds;
  /// x-amz-security-token / X-Amz-Security-Token, empty when absent; the
  /// caller validates it (temporary credentials come later).
  std::string security_token;
  payload_kind payload = payload_kind::unsigned_payload;
  /// payload == sha256 only: what the body must hash to.
  keys::sha256_digest payload_sha256{};
  /// Streaming kinds only.
  std::optional<chunked_upload> chunked;
};

struct verify_result {
  auth_failure failure;
  auth_method method = auth_method::authorization_header;
  /// Meaningful iff ok().
  authenticated_request request;
  /// Filled once they could be built (always on success): what S3 returns
  /// in a SignatureDoesNotMatch error body.
  std::string canonical_request;
  std::string string_to_sign;
  bool ok() const { return !failure.failed(); }
};

/// Verifies the request's SigV4 authentication (header or presigned URL)
/// as of `now_unix_seconds`. Does not read the body: for payload_kind
/// sha256 run the body through a payload_hash_check, for the streaming kinds
/// through a chunked_body_decoder built from result.request.chunked.
verify_result verify_request(const http_request_view& request, const verifier_config& config,
                             const secret_key_source& secrets, std::int64_t now_unix_seconds);

// --- the single-chunk body -------------------------------------------------------------

/// Checks a body against the digest of x-amz-content-sha256.
class payload_hash_check {
 public:
  explicit payload_hash_check(const keys::sha256_digest& expected) : expected_(expected) {}
  void update(std::span<const std::uint8_t> bytes) { hasher_.update(bytes); }
  /// At the end of the body: content_sha256_mismatch or nothing.
  auth_failure finish();

 private:
  keys::sha256_digest expected_;
  keys::sha256_hasher hasher_;
};

// --- the aws-chunked body -----------------------------------------------------------------

/// Decodes and verifies an aws-chunked body incrementally:
///   chunk*   hex-size[;chunk-signature=sig] CRLF data CRLF
///   final    0[;chunk-signature=sig] CRLF
///   trailers (name:value CRLF)* [x-amz-trailer-signature:sig CRLF] CRLF
/// The body may arrive in pieces of any size, down to one byte.
class chunked_body_decoder {
 public:
  /// Receives decoded payload bytes (views into feed()'s input), in order.
  /// A byte is final only once verified_bytes() has passed it, or the
  /// whole body once finish() succeeded.
  using payload_sink = std::function<void(std::span<const std::uint8_t>)>;

  explicit chunked_body_decoder(chunked_upload upload);

  /// Consumes `input`, handing payload bytes to `sink`. Returns the first
  /// failure (and the same one on every later call, V5).
  auth_failure feed(std::span<const std::uint8_t> input, const payload_sink& sink);
  /// The body ended: body_truncated unless the final CRLF was seen.
  auth_failure finish();

  bool complete() const { return state_ == state::done; }
  std::uint64_t decoded_bytes() const { return decoded_bytes_; }
  /// Bytes whose chunk signature matched (signed kinds); for the unsigned
  /// kind, bytes whose trailing checksum matched (all or none).
  std::uint64_t verified_bytes() const { return verified_bytes_; }

  /// Asserts the decoder's internal consistency (cheap).
  void check_invariants() const;

 private:
  enum class state : std::uint8_t {
    chunk_header,   // reading a chunk header line
    chunk_data,     // passing chunk data through
    chunk_data_cr,  // expecting the CR after chunk data
    chunk_data_lf,  // expecting the LF after chunk data
    trailer_line,   // reading trailer lines up to the empty line
    done,
    failed,
  };
  struct checksum_state {
    checksum_algorithm algorithm = checksum_algorithm::crc32;
    std::uint32_t crc = 0;
    std::optional<keys::sha256_hasher> sha256;
    bool received = false;
    bool matches = false;  // the received value equals the computed one
  };

  auth_failure fail(auth_error reason, std::string detail);
  auth_failure on_line(std::string_view line);
  auth_failure on_chunk_header(std::string_view line);
  auth_failure on_chunk_data_end();
  auth_failure on_trailer_line(std::string_view line);
  auth_failure on_trailers_end();
  void hash_payload(std::span<const std::uint8_t> bytes);
  bool is_signed() const;
  bool has_trailers() const;

  chunked_upload upload_;
  state state_ = state::chunk_header;
  auth_failure failure_;
  std::string line_;  // the framing line being read (<= chunk_line_bytes_max)
  bool line_saw_cr_ = false;
  std::uint64_t chunk_bytes_ = 0;            // size of the current chunk
  std::uint64_t chunk_bytes_remaining_ = 0;  // of its data still to come
  std::uint64_t previous_chunk_bytes_ = 0;   // size of the chunk before it (0: none)
  keys::sha256_digest chunk_signature_{};    // declared for the current chunk
  keys::sha256_digest previous_signature_{};
  keys::sha256_hasher chunk_hasher_;
  std::uint64_t decoded_bytes_ = 0;
  std::uint64_t verified_bytes_ = 0;
  std::vector<checksum_state> checksums_;
  keys::sha256_hasher trailer_hasher_;  // over the canonical trailer lines
  bool trailer_signature_seen_ = false;
};

// --- the pieces, exposed for tests and for the gateway's error bodies ---------------------

enum class slash_encoding : std::uint8_t { keep, encode };

/// S3's UriEncode: every byte except A-Z a-z 0-9 - . _ ~ (and '/' when
/// kept) becomes %XY with upper-case hex.
std::string uri_encode(std::string_view bytes, slash_encoding slash);

/// The canonical URI of a raw (as received) path: percent-decoded once,
/// then uri_encode'd with '/' kept. Not normalised ("//", "." and ".."
/// stay). nullopt on a bad escape or a path not starting with '/'.
std::optional<std::string> canonical_uri(std::string_view raw_path);

/// One decoded query parameter.
struct query_parameter {
  std::string name;
  std::string value;
};
/// Splits and decodes a raw query ("a=1&b&c=%20"); '+' decodes to a space.
/// nullopt on a bad escape or more than query_parameters_max parameters.
std::optional<std::vector<query_parameter>> parse_query(std::string_view raw_query);

enum class signature_parameter : std::uint8_t { include, exclude };
/// name=value pairs uri_encode'd ('/' encoded), sorted by encoded name then
/// value, joined by '&'; X-Amz-Signature left out when `exclude`.
std::string canonical_query_string(const std::vector<query_parameter>& parameters,
                                   signature_parameter signature);

/// Trims blanks (space, tab) at both ends and collapses each run of blanks
/// inside to one space (SigV4's Trimall). Case is kept.
std::string canonical_header_value(std::string_view value);

/// The parsed Authorization header.
struct authorization_fields {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  keys::sha256_digest signature{};
};
struct parsed_authorization {
  auth_failure failure;
  authorization_fields fields;
  bool ok() const { return !failure.failed(); }
};
/// Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
/// with AWS's tolerance for blanks around ',' and '=' and any component
/// order, and nothing else.
parsed_authorization parse_authorization_header(std::string_view value);

/// yyyymmddThhmmssZ -> seconds since the Unix epoch; nullopt if malformed.
std::optional<std::int64_t> parse_amz_date(std::string_view text);
/// An HTTP Date header ("Fri, 24 May 2013 00:00:00 GMT"; also "+0000",
/// "-0000" or "UTC" as the zone) -> seconds since the Unix epoch.
std::optional<std::int64_t> parse_http_date(std::string_view text);
/// Seconds since the Unix epoch -> yyyymmddThhmmssZ.
std::string format_amz_date(std::int64_t unix_seconds);

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request").
keys::secret_bytes derive_signing_key(std::span<const std::uint8_t> secret_access_key,
                                      std::string_view date, std::string_view region,
                                      std::string_view service);

/// "AWS4-HMAC-SHA256\n" timestamp "\n" scope "\n" hex(SHA-256(canonical request)).
std::string string_to_sign(std::string_view timestamp, std::string_view scope,
                           std::string_view canonical_request);
/// "AWS4-HMAC-SHA256-PAYLOAD\n" timestamp "\n" scope "\n" previous "\n"
/// hex(SHA-256("")) "\n" hex(chunk data digest).
std::string chunk_string_to_sign(std::string_view timestamp, std::string_view scope,
                                 const keys::sha256_digest& previous_signature,
                                 const keys::sha256_digest& chunk_data_sha256);
/// "AWS4-HMAC-SHA256-TRAILER\n" timestamp "\n" scope "\n" previous "\n"
/// hex(SHA-256(the trailer lines, each "name:value\n")).
std::string trailer_string_to_sign(std::string_view timestamp, std::string_view scope,
                                   const keys::sha256_digest& previous_signature,
                                   const keys::sha256_digest& trailer_lines_sha256);

/// HMAC-SHA256(signing key, string to sign).
keys::sha256_digest sign(const keys::secret_bytes& signing_key, std::string_view string_to_sign);

/// Lower-case hex.
std::string to_hex(std::span<const std::uint8_t> bytes);
/// 2n hex digits (either case) -> n bytes; nullopt otherwise.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text);
std::string base64_encode(std::span<const std::uint8_t> bytes);
/// Strict RFC 4648 base64 with padding; nullopt otherwise.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

/// AWS's trailing checksums: CRC-32 (IEEE, as zlib) and CRC-32C (Castagnoli,
/// as iSCSI), big-endian, and SHA-256, over the decoded payload.
std::uint32_t crc32_ieee(std::span<const std::uint8_t> bytes, std::uint32_t previous = 0);
std::uint32_t crc32_castagnoli(std::span<const std::uint8_t> bytes, std::uint32_t previous = 0);

}  // namespace cairn::s3
