// gateways/s3/sigv4.cpp — see sigv4.h. Layout: text helpers; errors;
// encodings; dates; the Authorization header; signing; verify_request; the
// single-chunk body; the aws-chunked decoder.
#include "gateways/s3/sigv4.h"

#include <isa-l/crc.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <utility>

#include "actors/common/assert.h"

namespace cairn::s3 {

namespace {

constexpr std::string_view algorithm_name = "AWS4-HMAC-SHA256";
constexpr std::string_view scope_terminator = "aws4_request";
constexpr std::string_view s3_service = "s3";
constexpr std::string_view unsigned_payload_text = "UNSIGNED-PAYLOAD";
constexpr std::string_view streaming_signed_text = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
constexpr std::string_view streaming_signed_trailer_text =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
constexpr std::string_view streaming_unsigned_trailer_text = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
// SigV4a (ECDSA) streaming: recognised in order to say "not implemented".
constexpr std::string_view streaming_ecdsa_prefix = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";
constexpr std::string_view chunk_signature_prefix = ";chunk-signature=";
constexpr std::string_view trailer_signature_name = "x-amz-trailer-signature";
// hex(SHA-256("")): the second-to-last line of every chunk's string to sign.
constexpr std::string_view empty_sha256_hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::size_t signature_hex_digits = 2 * keys::sha256_bytes;
// A chunk size of more than 16 hex digits cannot fit in 64 bits.
constexpr std::size_t chunk_size_hex_digits_max = 16;
constexpr std::size_t access_key_id_bytes_max = 128;
// ISA-L's crc32_iscsi takes an int length.
constexpr std::size_t crc_update_bytes_max = std::size_t{1} << 30;
static_assert(crc_update_bytes_max <= static_cast<std::size_t>(INT_MAX));

// --- text helpers -----------------------------------------------------------------------

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// RFC 9110 token characters: what a header name is made of.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Visible ASCII without blanks: what access key ids and regions are made of.
bool is_visible_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<keys::sha256_digest> parse_digest_hex(std::string_view text) {
  if (text.size() != signature_hex_digits) return std::nullopt;
  keys::sha256_digest digest{};
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = hex_value(text[2 * i]);
    const int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return digest;
}

bool digests_equal(const keys::sha256_digest& a, const keys::sha256_digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

auth_failure failure(auth_error reason, std::string detail) {
  return {reason, std::move(detail)};
}

// --- request headers --------------------------------------------------------------------

std::size_t header_count(std::span<const http_header> headers, std::string_view name) {
  return static_cast<std::size_t>(std::count_if(headers.begin(), headers.end(), [&](const auto& h) {
    return equals_ignoring_case(h.name, name);
  }));
}

const http_header* first_header(std::span<const http_header> headers, std::string_view name) {
  for (const auto& h : headers)
    if (equals_ignoring_case(h.name, name)) return &h;
  return nullptr;
}

// The value of a header that may appear at most once: nullopt if absent;
// duplicate_header if repeated (which of two dates or hashes would count?).
struct single_header {
  auth_failure failure;
  std::optional<std::string_view> value;
};
single_header find_single_header(std::span<const http_header> headers, std::string_view name) {
  const std::size_t count = header_count(headers, name);
  if (count > 1)
    return {failure(auth_error::duplicate_header, std::string(name) + " appears more than once"),
            std::nullopt};
  if (count == 0) return {};
  return {{}, trim_blanks(first_header(headers, name)->value)};
}

// --- time -------------------------------------------------------------------------------

constexpr std::int64_t seconds_per_day = 24 * 60 * 60;
constexpr int year_min = 1970;
constexpr int year_max = 9999;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct civil_date {
  std::int64_t year;
  unsigned month;
  unsigned day;
};
civil_date civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(int year, unsigned month) {
  static constexpr std::array<unsigned, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

std::optional<int> parse_fixed_digits(std::string_view text) {
  int value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<std::int64_t> to_unix_seconds(int year, int month, int day, int hour, int minute,
                                            int second) {
  if (year < year_min || year > year_max || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 59)
    return std::nullopt;
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
             seconds_per_day +
         hour * 3600 + minute * 60 + second;
}

// yyyymmdd -> true if it is a real calendar date.
bool is_valid_scope_date(std::string_view text) {
  if (text.size() != 8) return false;
  const auto year = parse_fixed_digits(text.substr(0, 4));
  const auto month = parse_fixed_digits(text.substr(4, 2));
  const auto day = parse_fixed_digits(text.substr(6, 2));
  return year && month && day && to_unix_seconds(*year, *month, *day, 0, 0, 0).has_value();
}

// --- S3's error codes -----------------------------------------------------------------------

struct error_mapping {
  std::string_view code;
  int status;
};

error_mapping error_of(auth_error reason, auth_method method) {
  const bool presigned = method == auth_method::presigned_url;
  // Problems with the credentials' syntax are reported against where they
  // came from.
  const error_mapping malformed_credentials =
      presigned ? error_mapping{"AuthorizationQueryParametersError", 400}
                : error_mapping{"AuthorizationHeaderMalformed", 400};
  switch (reason) {
    case auth_error::none:
      return {"", 200};
    case auth_error::request_target_malformed:
      return {"InvalidURI", 400};
    case auth_error::no_authentication:
      return {"AccessDenied", 403};
    case auth_error::multiple_authentication:
      return {"InvalidArgument", 400};
    case auth_error::unsupported_algorithm:
      return presigned ? malformed_credentials : error_mapping{"InvalidRequest", 400};
    case auth_error::duplicate_header:
      return {"InvalidRequest", 400};
    case auth_error::authorization_incomplete:
      return presigned ? malformed_credentials : error_mapping{"IncompleteSignature", 400};
    case auth_error::authorization_malformed:
    case auth_error::credential_malformed:
    case auth_error::credential_service_wrong:
    case auth_error::credential_region_wrong:
    case auth_error::credential_date_mismatch:
    case auth_error::signed_headers_malformed:
    case auth_error::host_not_signed:
    case auth_error::signature_malformed:
    case auth_error::expires_malformed:
      return malformed_credentials;
    case auth_error::date_missing:
    case auth_error::date_malformed:
      // "AWS authentication requires a valid Date or x-amz-date header".
      return presigned ? malformed_credentials : error_mapping{"AccessDenied", 403};
    case auth_error::request_time_too_skewed:
      return {"RequestTimeTooSkewed", 403};
    case auth_error::presigned_url_expired:
    case auth_error::presigned_url_not_yet_valid:
      return {"AccessDenied", 403};
    case auth_error::unknown_access_key:
      return {"InvalidAccessKeyId", 403};
    case auth_error::signed_header_absent:
    case auth_error::signature_mismatch:
    case auth_error::chunk_signature_mismatch:
    case auth_error::trailer_signature_mismatch:
      return {"SignatureDoesNotMatch", 403};
    case auth_error::unsigned_amz_header:
      // "There were headers present in the request which were not signed".
      return {"AccessDenied", 403};
    case auth_error::content_sha256_missing:
      return {"InvalidRequest", 400};
    case auth_error::content_sha256_invalid:
      return {"InvalidArgument", 400};
    case auth_error::content_sha256_unsupported:
      return {"NotImplemented", 501};
    case auth_error::content_sha256_mismatch:
      return {"XAmzContentSHA256Mismatch", 400};
    case auth_error::decoded_length_missing:
      return {"MissingContentLength", 411};
    case auth_error::decoded_length_invalid:
      return {"InvalidArgument", 400};
    case auth_error::trailer_declaration_invalid:
      return {"InvalidRequest", 400};
    case auth_error::chunk_header_malformed:
    case auth_error::chunk_line_too_long:
    case auth_error::chunk_data_unterminated:
    case auth_error::data_after_body_end:
    case auth_error::checksum_value_malformed:
      return {"InvalidRequest", 400};
    case auth_error::chunk_too_small:
      return {"InvalidChunkSizeError", 403};
    case auth_error::decoded_length_mismatch:
    case auth_error::body_truncated:
      return {"IncompleteBody", 400};
    case auth_error::trailer_malformed:
    case auth_error::trailer_missing:
      return {"MalformedTrailerError", 400};
    case auth_error::checksum_mismatch:
      return {"BadDigest", 400};
  }
  return {"InternalError", 500};
}

}  // namespace

// --- errors ---------------------------------------------------------------------------------

std::string_view to_string(auth_error reason) {
  switch (reason) {
    case auth_error::none:
      return "none";
    case auth_error::request_target_malformed:
      return "request_target_malformed";
    case auth_error::no_authentication:
      return "no_authentication";
    case auth_error::multiple_authentication:
      return "multiple_authentication";
    case auth_error::unsupported_algorithm:
      return "unsupported_algorithm";
    case auth_error::duplicate_header:
      return "duplicate_header";
    case auth_error::authorization_malformed:
      return "authorization_malformed";
    case auth_error::authorization_incomplete:
      return "authorization_incomplete";
    case auth_error::credential_malformed:
      return "credential_malformed";
    case auth_error::credential_service_wrong:
      return "credential_service_wrong";
    case auth_error::credential_region_wrong:
      return "credential_region_wrong";
    case auth_error::credential_date_mismatch:
      return "credential_date_mismatch";
    case auth_error::signed_headers_malformed:
      return "signed_headers_malformed";
    case auth_error::host_not_signed:
      return "host_not_signed";
    case auth_error::signature_malformed:
      return "signature_malformed";
    case auth_error::expires_malformed:
      return "expires_malformed";
    case auth_error::date_missing:
      return "date_missing";
    case auth_error::date_malformed:
      return "date_malformed";
    case auth_error::request_time_too_skewed:
      return "request_time_too_skewed";
    case auth_error::presigned_url_expired:
      return "presigned_url_expired";
    case auth_error::presigned_url_not_yet_valid:
      return "presigned_url_not_yet_valid";
    case auth_error::unknown_access_key:
      return "unknown_access_key";
    case auth_error::signed_header_absent:
      return "signed_header_absent";
    case auth_error::unsigned_amz_header:
      return "unsigned_amz_header";
    case auth_error::signature_mismatch:
      return "signature_mismatch";
    case auth_error::content_sha256_missing:
      return "content_sha256_missing";
    case auth_error::content_sha256_invalid:
      return "content_sha256_invalid";
    case auth_error::content_sha256_unsupported:
      return "content_sha256_unsupported";
    case auth_error::content_sha256_mismatch:
      return "content_sha256_mismatch";
    case auth_error::decoded_length_missing:
      return "decoded_length_missing";
    case auth_error::decoded_length_invalid:
      return "decoded_length_invalid";
    case auth_error::trailer_declaration_invalid:
      return "trailer_declaration_invalid";
    case auth_error::chunk_header_malformed:
      return "chunk_header_malformed";
    case auth_error::chunk_line_too_long:
      return "chunk_line_too_long";
    case auth_error::chunk_data_unterminated:
      return "chunk_data_unterminated";
    case auth_error::chunk_too_small:
      return "chunk_too_small";
    case auth_error::chunk_signature_mismatch:
      return "chunk_signature_mismatch";
    case auth_error::decoded_length_mismatch:
      return "decoded_length_mismatch";
    case auth_error::body_truncated:
      return "body_truncated";
    case auth_error::data_after_body_end:
      return "data_after_body_end";
    case auth_error::trailer_malformed:
      return "trailer_malformed";
    case auth_error::trailer_missing:
      return "trailer_missing";
    case auth_error::trailer_signature_mismatch:
      return "trailer_signature_mismatch";
    case auth_error::checksum_value_malformed:
      return "checksum_value_malformed";
    case auth_error::checksum_mismatch:
      return "checksum_mismatch";
  }
  return "unknown";
}

std::string_view s3_error_code(auth_error reason, auth_method method) {
  return error_of(reason, method).code;
}

int http_status(auth_error reason, auth_method method) {
  return error_of(reason, method).status;
}

std::string_view to_string(payload_kind kind) {
  switch (kind) {
    case payload_kind::sha256:
      return "sha256";
    case payload_kind::unsigned_payload:
      return unsigned_payload_text;
    case payload_kind::streaming_signed:
      return streaming_signed_text;
    case payload_kind::streaming_signed_trailer:
      return streaming_signed_trailer_text;
    case payload_kind::streaming_unsigned_trailer:
      return streaming_unsigned_trailer_text;
  }
  return "unknown";
}

std::string_view trailer_name(checksum_algorithm algorithm) {
  switch (algorithm) {
    case checksum_algorithm::crc32:
      return "x-amz-checksum-crc32";
    case checksum_algorithm::crc32c:
      return "x-amz-checksum-crc32c";
    case checksum_algorithm::sha256:
      return "x-amz-checksum-sha256";
  }
  return "unknown";
}

// --- encodings ------------------------------------------------------------------------------

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = hex_value(text[2 * i]);
    const int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return out;
}

namespace {
constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  const auto at = base64_alphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}
}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    if (n > 1) group |= std::uint32_t{bytes[i + 1]} << 8;
    if (n > 2) group |= bytes[i + 2];
    out += base64_alphabet[(group >> 18) & 63];
    out += base64_alphabet[(group >> 12) & 63];
    out += n > 1 ? base64_alphabet[(group >> 6) & 63] : '=';
    out += n > 2 ? base64_alphabet[group & 63] : '=';
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::string_view quad = text.substr(i, 4);
    const std::size_t padding = !last ? 0 : quad[3] != '=' ? 0 : quad[2] != '=' ? 1 : 2;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4 - padding; ++j) {
      const int v = base64_value(quad[j]);
      if (v < 0) return std::nullopt;
      group = (group << 6) | static_cast<std::uint32_t>(v);
    }
    group <<= 6 * padding;
    // Canonical form only: the bits a padded group leaves over are zero.
    if ((padding == 1 && (group & 0xff) != 0) || (padding == 2 && (group & 0xffff) != 0))
      return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (padding < 2) out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (padding < 1) out.push_back(static_cast<std::uint8_t>(group));
  }
  return out;
}

std::uint32_t crc32_ieee(std::span<const std::uint8_t> bytes, std::uint32_t previous) {
  std::uint32_t crc = previous;
  for (std::size_t done = 0; done < bytes.size();) {
    const std::size_t n = std::min(crc_update_bytes_max, bytes.size() - done);
    crc = crc32_gzip_refl(crc, bytes.data() + done, n);
    done += n;
  }
  return crc;
}

std::uint32_t crc32_castagnoli(std::span<const std::uint8_t> bytes, std::uint32_t previous) {
  // ISA-L's crc32_iscsi neither inverts its seed nor its result; the
  // standard CRC-32C (and AWS's) does both. (cairn::chunk::crc32c uses the
  // raw ISA-L form, so the two are not interchangeable.)
  std::uint32_t state = ~previous;
  for (std::size_t done = 0; done < bytes.size();) {
    const std::size_t n = std::min(crc_update_bytes_max, bytes.size() - done);
    // crc32_iscsi does not write through its buffer pointer.
    state =
        crc32_iscsi(const_cast<unsigned char*>(bytes.data() + done), static_cast<int>(n), state);
    done += n;
  }
  return ~state;
}

std::string uri_encode(std::string_view bytes, slash_encoding slash) {
  static constexpr std::string_view digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (is_unreserved(b) || (c == '/' && slash == slash_encoding::keep)) {
      out += c;
    } else {
      out += '%';
      out += digits[b >> 4];
      out += digits[b & 0x0f];
    }
  }
  return out;
}

namespace {
enum class plus_decoding : std::uint8_t { literal, space };

std::optional<std::string> percent_decode(std::string_view text, plus_decoding plus) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus == plus_decoding::space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> canonical_uri(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
  // In a path '+' is a plus sign; only the query uses the form encoding.
  auto decoded = percent_decode(raw_path, plus_decoding::literal);
  if (!decoded) return std::nullopt;
  return uri_encode(*decoded, slash_encoding::keep);
}

std::optional<std::vector<query_parameter>> parse_query(std::string_view raw_query) {
  std::vector<query_parameter> parameters;
  while (!raw_query.empty()) {
    const auto end = raw_query.find('&');
    const std::string_view piece = raw_query.substr(0, end);
    raw_query = end == std::string_view::npos ? std::string_view{} : raw_query.substr(end + 1);
    if (piece.empty()) continue;  // "a=1&&b=2", a trailing '&'
    if (parameters.size() == query_parameters_max) return std::nullopt;
    const auto equals = piece.find('=');
    auto name = percent_decode(piece.substr(0, equals), plus_decoding::space);
    auto value = percent_decode(
        equals == std::string_view::npos ? std::string_view{} : piece.substr(equals + 1),
        plus_decoding::space);
    if (!name || !value) return std::nullopt;
    parameters.push_back({std::move(*name), std::move(*value)});
  }
  return parameters;
}

std::string canonical_query_string(const std::vector<query_parameter>& parameters,
                                   signature_parameter signature) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(parameters.size());
  for (const auto& p : parameters) {
    if (signature == signature_parameter::exclude && p.name == "X-Amz-Signature") continue;
    encoded.emplace_back(uri_encode(p.name, slash_encoding::encode),
                         uri_encode(p.value, slash_encoding::encode));
  }
  // Sorted by encoded name, then by encoded value for repeated names.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string canonical_header_value(std::string_view value) {
  value = trim_blanks(value);
  std::string out;
  out.reserve(value.size());
  bool in_blanks = false;
  for (char c : value) {
    if (is_blank(c)) {
      in_blanks = true;
      continue;
    }
    if (in_blanks) out += ' ';
    in_blanks = false;
    out += c;
  }
  return out;
}

// --- dates ----------------------------------------------------------------------------------

std::optional<std::int64_t> parse_amz_date(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  const auto year = parse_fixed_digits(text.substr(0, 4));
  const auto month = parse_fixed_digits(text.substr(4, 2));
  const auto day = parse_fixed_digits(text.substr(6, 2));
  const auto hour = parse_fixed_digits(text.substr(9, 2));
  const auto minute = parse_fixed_digits(text.substr(11, 2));
  const auto second = parse_fixed_digits(text.substr(13, 2));
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  return to_unix_seconds(*year, *month, *day, *hour, *minute, *second);
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  // IMF-fixdate (RFC 9110 5.6.7): "Fri, 24 May 2013 00:00:00 GMT". Python's
  // email.utils.formatdate (botocore) writes "-0000" for the zone.
  static constexpr std::array<std::string_view, 7> day_names = {"Mon", "Tue", "Wed", "Thu",
                                                                "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> month_names = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() < 29) return std::nullopt;
  const std::string_view zone = text.substr(26);
  if (zone != "GMT" && zone != "UTC" && zone != "+0000" && zone != "-0000") return std::nullopt;
  if (std::find(day_names.begin(), day_names.end(), text.substr(0, 3)) == day_names.end())
    return std::nullopt;
  if (text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text[19] != ':' || text[22] != ':' || text[25] != ' ')
    return std::nullopt;
  const auto month_at = std::find(month_names.begin(), month_names.end(), text.substr(8, 3));
  if (month_at == month_names.end()) return std::nullopt;
  const int month = static_cast<int>(month_at - month_names.begin()) + 1;
  const auto day = parse_fixed_digits(text.substr(5, 2));
  const auto year = parse_fixed_digits(text.substr(12, 4));
  const auto hour = parse_fixed_digits(text.substr(17, 2));
  const auto minute = parse_fixed_digits(text.substr(20, 2));
  const auto second = parse_fixed_digits(text.substr(23, 2));
  if (!day || !year || !hour || !minute || !second) return std::nullopt;
  return to_unix_seconds(*year, month, *day, *hour, *minute, *second);
}

std::string format_amz_date(std::int64_t unix_seconds) {
  const std::int64_t days = unix_seconds >= 0 ? unix_seconds / seconds_per_day
                                              : -((-unix_seconds - 1) / seconds_per_day) - 1;
  const std::int64_t second_of_day = unix_seconds - days * seconds_per_day;
  const civil_date date = civil_from_days(days);
  CAIRN_ASSERT_MSG(date.year >= year_min && date.year <= year_max,
                   "format_amz_date: time outside years 1970-9999");
  std::array<char, 17> text{};
  const auto put = [&](std::size_t at, std::int64_t value, std::size_t digits) {
    for (std::size_t i = digits; i-- > 0;) {
      text[at + i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, date.year, 4);
  put(4, date.month, 2);
  put(6, date.day, 2);
  text[8] = 'T';
  put(9, second_of_day / 3600, 2);
  put(11, second_of_day / 60 % 60, 2);
  put(13, second_of_day % 60, 2);
  text[15] = 'Z';
  return std::string(text.data(), 16);
}

// --- the Authorization header and the X-Amz-* parameters ------------------------------------

namespace {

// "AKID/20130524/us-east-1/s3/aws4_request".
auth_failure parse_credential(std::string_view text, authorization_fields& fields) {
  std::array<std::string_view, 5> parts{};
  std::size_t count = 0;
  while (true) {
    const auto slash = text.find('/');
    if (count == parts.size())
      return failure(auth_error::credential_malformed,
                     "the credential has more than five '/'-separated parts");
    parts[count++] = text.substr(0, slash);
    if (slash == std::string_view::npos) break;
    text.remove_prefix(slash + 1);
  }
  if (count != parts.size())
    return failure(auth_error::credential_malformed,
                   "the credential is not <key>/<yyyymmdd>/<region>/<service>/aws4_request");
  const auto [key, date, region, service, terminator] = parts;
  if (key.empty() || key.size() > access_key_id_bytes_max || !is_visible_ascii(key))
    return failure(auth_error::credential_malformed, "the access key id is empty or malformed");
  if (!is_valid_scope_date(date))
    return failure(auth_error::credential_malformed,
                   "the credential date '" + std::string(date) + "' is not yyyymmdd");
  if (region.empty() || !is_visible_ascii(region))
    return failure(auth_error::credential_malformed, "the credential region is empty or malformed");
  if (service.empty() || !is_visible_ascii(service))
    return failure(auth_error::credential_malformed,
                   "the credential service is empty or malformed");
  if (terminator != scope_terminator)
    return failure(auth_error::credential_malformed, "the credential does not end in aws4_request");
  fields.access_key_id = key;
  fields.date = date;
  fields.region = region;
  fields.service = service;
  return {};
}

// "host;range;x-amz-date": lower-case header names, sorted, unique.
auth_failure parse_signed_headers(std::string_view text, std::vector<std::string>& names) {
  names.clear();
  if (text.empty()) return failure(auth_error::signed_headers_malformed, "SignedHeaders is empty");
  while (true) {
    const auto semicolon = text.find(';');
    const std::string_view name = text.substr(0, semicolon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char) ||
        std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
      return failure(auth_error::signed_headers_malformed,
                     "SignedHeaders holds an empty, upper-case or invalid name");
    if (!names.empty() && !(names.back() < name))
      return failure(auth_error::signed_headers_malformed,
                     "SignedHeaders is not sorted or repeats '" + std::string(name) + "'");
    if (names.size() == signed_headers_max)
      return failure(auth_error::signed_headers_malformed, "SignedHeaders names too many headers");
    names.emplace_back(name);
    if (semicolon == std::string_view::npos) break;
    text.remove_prefix(semicolon + 1);
  }
  return {};
}

auth_failure parse_signature(std::string_view text, keys::sha256_digest& signature) {
  const auto digest = parse_digest_hex(text);
  if (!digest)
    return failure(auth_error::signature_malformed, "the signature is not 64 hexadecimal digits");
  signature = *digest;
  return {};
}

}  // namespace

parsed_authorization parse_authorization_header(std::string_view value) {
  parsed_authorization result;
  auto fail = [&](auth_error reason, std::string detail) {
    result.failure = failure(reason, std::move(detail));
    return result;
  };
  if (value.size() > authorization_header_bytes_max)
    return fail(auth_error::authorization_malformed, "the Authorization header is too long");
  value = trim_blanks(value);
  const auto blank = std::find_if(value.begin(), value.end(), is_blank);
  const std::string_view algorithm =
      value.substr(0, static_cast<std::size_t>(blank - value.begin()));
  if (algorithm != algorithm_name)
    return fail(auth_error::unsupported_algorithm, "the authorization mechanism '" +
                                                       std::string(algorithm.substr(0, 32)) +
                                                       "' is not supported; use AWS4-HMAC-SHA256");
  std::string_view rest = trim_blanks(value.substr(algorithm.size()));

  std::optional<std::string_view> credential, signed_headers, signature;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view component = trim_blanks(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (comma != std::string_view::npos && trim_blanks(rest).empty())
      return fail(auth_error::authorization_malformed, "the Authorization header ends in ','");
    const auto equals = component.find('=');
    if (equals == std::string_view::npos)
      return fail(auth_error::authorization_malformed,
                  "an Authorization component is not name=value");
    const std::string_view name = trim_blanks(component.substr(0, equals));
    const std::string_view text = trim_blanks(component.substr(equals + 1));
    std::optional<std::string_view>* slot = name == "Credential"      ? &credential
                                            : name == "SignedHeaders" ? &signed_headers
                                            : name == "Signature"     ? &signature
                                                                      : nullptr;
    if (slot == nullptr)
      return fail(auth_error::authorization_malformed,
                  "unknown Authorization component '" + std::string(name.substr(0, 32)) + "'");
    if (slot->has_value())
      return fail(auth_error::authorization_malformed,
                  "the Authorization component " + std::string(name) + " appears twice");
    *slot = text;
  }
  if (!credential) return fail(auth_error::authorization_incomplete, "Credential is missing");
  if (!signed_headers)
    return fail(auth_error::authorization_incomplete, "SignedHeaders is missing");
  if (!signature) return fail(auth_error::authorization_incomplete, "Signature is missing");
  if (auto f = parse_credential(*credential, result.fields); f.failed())
    return fail(f.reason, f.detail);
  if (auto f = parse_signed_headers(*signed_headers, result.fields.signed_headers); f.failed())
    return fail(f.reason, f.detail);
  if (auto f = parse_signature(*signature, result.fields.signature); f.failed())
    return fail(f.reason, f.detail);
  return result;
}

// --- signing --------------------------------------------------------------------------------

keys::secret_bytes derive_signing_key(std::span<const std::uint8_t> secret_access_key,
                                      std::string_view date, std::string_view region,
                                      std::string_view service) {
  keys::secret_bytes prefixed(4 + secret_access_key.size());
  const auto out = prefixed.writable();
  std::copy_n(reinterpret_cast<const std::uint8_t*>("AWS4"), 4, out.begin());
  std::copy(secret_access_key.begin(), secret_access_key.end(), out.begin() + 4);
  keys::sha256_digest key = keys::hmac_sha256(prefixed.bytes(), keys::as_bytes(date));
  for (std::string_view step : {region, service, scope_terminator})
    key = keys::hmac_sha256(key, keys::as_bytes(step));
  keys::secret_bytes signing_key = keys::secret_bytes::copy_of(key);
  OPENSSL_cleanse(key.data(), key.size());
  return signing_key;
}

std::string string_to_sign(std::string_view timestamp, std::string_view scope,
                           std::string_view canonical_request) {
  std::string out(algorithm_name);
  out += '\n';
  out += timestamp;
  out += '\n';
  out += scope;
  out += '\n';
  out += to_hex(keys::sha256(keys::as_bytes(canonical_request)));
  return out;
}

std::string chunk_string_to_sign(std::string_view timestamp, std::string_view scope,
                                 const keys::sha256_digest& previous_signature,
                                 const keys::sha256_digest& chunk_data_sha256) {
  std::string out("AWS4-HMAC-SHA256-PAYLOAD\n");
  out += timestamp;
  out += '\n';
  out += scope;
  out += '\n';
  out += to_hex(previous_signature);
  out += '\n';
  out += empty_sha256_hex;
  out += '\n';
  out += to_hex(chunk_data_sha256);
  return out;
}

std::string trailer_string_to_sign(std::string_view timestamp, std::string_view scope,
                                   const keys::sha256_digest& previous_signature,
                                   const keys::sha256_digest& trailer_lines_sha256) {
  std::string out("AWS4-HMAC-SHA256-TRAILER\n");
  out += timestamp;
  out += '\n';
  out += scope;
  out += '\n';
  out += to_hex(previous_signature);
  out += '\n';
  out += to_hex(trailer_lines_sha256);
  return out;
}

keys::sha256_digest sign(const keys::secret_bytes& signing_key, std::string_view string_to_sign) {
  CAIRN_ASSERT(signing_key.size() == keys::sha256_bytes);
  return keys::hmac_sha256(signing_key.bytes(), keys::as_bytes(string_to_sign));
}

// --- verify_request ---------------------------------------------------------------------------

namespace {

// What the two methods (header, presigned URL) agree on once parsed.
struct signing_inputs {
  authorization_fields fields;
  std::string timestamp;
  std::int64_t request_time = 0;
  std::optional<std::int64_t> expires_seconds;  // presigned only
  std::string security_token;
  std::string payload_text;  // the canonical request's last line
  payload_kind payload = payload_kind::unsigned_payload;
  keys::sha256_digest payload_sha256{};
};

struct classified_payload {
  auth_failure failure;
  payload_kind kind = payload_kind::unsigned_payload;
  keys::sha256_digest digest{};
};
classified_payload classify_payload(std::string_view text) {
  if (text == unsigned_payload_text) return {{}, payload_kind::unsigned_payload, {}};
  if (text == streaming_signed_text) return {{}, payload_kind::streaming_signed, {}};
  if (text == streaming_signed_trailer_text)
    return {{}, payload_kind::streaming_signed_trailer, {}};
  if (text == streaming_unsigned_trailer_text)
    return {{}, payload_kind::streaming_unsigned_trailer, {}};
  if (text.starts_with(streaming_ecdsa_prefix))
    return {failure(auth_error::content_sha256_unsupported,
                    "x-amz-content-sha256 " + std::string(text) + " (SigV4a) is not supported"),
            {},
            {}};
  if (auto digest = parse_digest_hex(text)) return {{}, payload_kind::sha256, *digest};
  return {failure(auth_error::content_sha256_invalid,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a SHA-256 "
                  "digest in hexadecimal"),
          {},
          {}};
}

bool is_streaming(payload_kind kind) {
  return kind == payload_kind::streaming_signed || kind == payload_kind::streaming_signed_trailer ||
         kind == payload_kind::streaming_unsigned_trailer;
}

bool has_trailer(payload_kind kind) {
  return kind == payload_kind::streaming_signed_trailer ||
         kind == payload_kind::streaming_unsigned_trailer;
}

auth_failure inputs_from_header(std::string_view authorization,
                                std::span<const http_header> headers, signing_inputs& in) {
  auto parsed = parse_authorization_header(authorization);
  if (parsed.failure.failed()) return parsed.failure;
  in.fields = std::move(parsed.fields);

  // x-amz-date wins over Date (the S3 PUT example carries both).
  const auto amz_date = find_single_header(headers, "x-amz-date");
  if (amz_date.failure.failed()) return amz_date.failure;
  if (amz_date.value) {
    const auto t = parse_amz_date(*amz_date.value);
    if (!t) return failure(auth_error::date_malformed, "x-amz-date is not yyyymmddThhmmssZ");
    in.request_time = *t;
  } else {
    const auto date = find_single_header(headers, "date");
    if (date.failure.failed()) return date.failure;
    if (!date.value)
      return failure(auth_error::date_missing,
                     "AWS authentication requires a valid Date or x-amz-date header");
    const auto t = parse_http_date(*date.value);
    if (!t) return failure(auth_error::date_malformed, "the Date header is not an HTTP date");
    in.request_time = *t;
  }
  in.timestamp = format_amz_date(in.request_time);

  const auto content_sha256 = find_single_header(headers, "x-amz-content-sha256");
  if (content_sha256.failure.failed()) return content_sha256.failure;
  if (!content_sha256.value)
    return failure(auth_error::content_sha256_missing,
                   "missing required header for this request: x-amz-content-sha256");
  auto payload = classify_payload(*content_sha256.value);
  if (payload.failure.failed()) return payload.failure;
  in.payload_text = *content_sha256.value;
  in.payload = payload.kind;
  in.payload_sha256 = payload.digest;

  const auto token = find_single_header(headers, "x-amz-security-token");
  if (token.failure.failed()) return token.failure;
  if (token.value) in.security_token = *token.value;
  return {};
}

const query_parameter* find_parameter(const std::vector<query_parameter>& parameters,
                                      std::string_view name) {
  for (const auto& p : parameters)
    if (p.name == name) return &p;
  return nullptr;
}

std::size_t parameter_count(const std::vector<query_parameter>& parameters, std::string_view name) {
  return static_cast<std::size_t>(std::count_if(parameters.begin(), parameters.end(),
                                                [&](const auto& p) { return p.name == name; }));
}

auth_failure inputs_from_query(const std::vector<query_parameter>& parameters, signing_inputs& in) {
  static constexpr std::array<std::string_view, 6> required = {
      "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
      "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature"};
  for (std::string_view name : required) {
    const std::size_t count = parameter_count(parameters, name);
    if (count == 0)
      return failure(auth_error::authorization_incomplete,
                     "query-string authentication version 4 requires the X-Amz-Algorithm, "
                     "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                     "X-Amz-Expires parameters; " +
                         std::string(name) + " is missing");
    if (count > 1)
      return failure(auth_error::authorization_malformed,
                     std::string(name) + " appears more than once");
  }
  for (std::string_view name : {"X-Amz-Security-Token", "X-Amz-Content-Sha256"})
    if (parameter_count(parameters, name) > 1)
      return failure(auth_error::authorization_malformed,
                     std::string(name) + " appears more than once");
  auto value = [&](std::string_view name) -> std::string_view {
    return find_parameter(parameters, name)->value;
  };
  if (value("X-Amz-Algorithm") != algorithm_name)
    return failure(auth_error::unsupported_algorithm,
                   "X-Amz-Algorithm only supports AWS4-HMAC-SHA256");
  if (auto f = parse_credential(value("X-Amz-Credential"), in.fields); f.failed()) return f;
  if (auto f = parse_signed_headers(value("X-Amz-SignedHeaders"), in.fields.signed_headers);
      f.failed())
    return f;
  if (auto f = parse_signature(value("X-Amz-Signature"), in.fields.signature); f.failed()) return f;
  const auto t = parse_amz_date(value("X-Amz-Date"));
  if (!t) return failure(auth_error::date_malformed, "X-Amz-Date is not yyyymmddThhmmssZ");
  in.request_time = *t;
  in.timestamp = format_amz_date(*t);
  const auto expires = parse_decimal(value("X-Amz-Expires"),
                                     static_cast<std::uint64_t>(presigned_expires_seconds_max));
  if (!expires || static_cast<std::int64_t>(*expires) < presigned_expires_seconds_min)
    return failure(auth_error::expires_malformed,
                   "X-Amz-Expires must be a number of seconds from 1 to 604800 (a week)");
  in.expires_seconds = static_cast<std::int64_t>(*expires);
  if (const auto* token = find_parameter(parameters, "X-Amz-Security-Token"))
    in.security_token = token->value;
  // A presigned URL is made before the body exists: its payload is
  // UNSIGNED-PAYLOAD unless the signer put a digest in the query.
  in.payload_text = unsigned_payload_text;
  in.payload = payload_kind::unsigned_payload;
  if (const auto* content = find_parameter(parameters, "X-Amz-Content-Sha256")) {
    auto payload = classify_payload(content->value);
    if (payload.failure.failed()) return payload.failure;
    if (is_streaming(payload.kind))
      return failure(auth_error::content_sha256_invalid,
                     "a presigned URL cannot carry a streaming (aws-chunked) payload");
    in.payload_text = content->value;
    in.payload = payload.kind;
    in.payload_sha256 = payload.digest;
  }
  return {};
}

// The signed headers, each "name:value\n", values of repeated headers
// joined by ','.
std::string canonical_headers(std::span<const http_header> headers,
                              const std::vector<std::string>& signed_names) {
  std::string out;
  for (const auto& name : signed_names) {
    out += name;
    out += ':';
    bool first = true;
    for (const auto& h : headers) {
      if (!equals_ignoring_case(h.name, name)) continue;
      if (!first) out += ',';
      out += canonical_header_value(h.value);
      first = false;
    }
    out += '\n';
  }
  return out;
}

auth_failure check_signed_header_set(std::span<const http_header> headers,
                                     const std::vector<std::string>& signed_names) {
  if (!std::binary_search(signed_names.begin(), signed_names.end(), std::string("host")))
    return failure(auth_error::host_not_signed, "'host' must be a signed header");
  for (const auto& name : signed_names)
    if (first_header(headers, name) == nullptr)
      return failure(auth_error::signed_header_absent,
                     "the signed header '" + name + "' is not in the request");
  for (const auto& h : headers) {
    const std::string name = lower_case(h.name);
    if (name.starts_with("x-amz-") &&
        !std::binary_search(signed_names.begin(), signed_names.end(), name))
      return failure(auth_error::unsigned_amz_header,
                     "there were headers present in the request which were not signed: " + name);
  }
  return {};
}

auth_failure check_scope(const authorization_fields& fields, std::string_view timestamp,
                         const verifier_config& config) {
  if (fields.service != s3_service)
    return failure(auth_error::credential_service_wrong,
                   "the credential is for service '" + fields.service + "', not 's3'");
  if (config.region && fields.region != *config.region)
    return failure(
        auth_error::credential_region_wrong,
        "the region '" + fields.region + "' is wrong; expecting '" + *config.region + "'");
  if (timestamp.substr(0, 8) != fields.date)
    return failure(auth_error::credential_date_mismatch, "invalid credential date: " + fields.date +
                                                             " is not the date of " +
                                                             std::string(timestamp));
  return {};
}

auth_failure check_time(const signing_inputs& in, auth_method method, std::int64_t now) {
  if (method == auth_method::authorization_header) {
    const std::int64_t skew = now > in.request_time ? now - in.request_time : in.request_time - now;
    if (skew > request_time_skew_seconds_max)
      return failure(auth_error::request_time_too_skewed,
                     "the difference between the request time and the current time is too large");
    return {};
  }
  if (in.request_time - now > request_time_skew_seconds_max)
    return failure(auth_error::presigned_url_not_yet_valid, "request is not valid yet");
  if (now > in.request_time + *in.expires_seconds)
    return failure(auth_error::presigned_url_expired, "request has expired");
  return {};
}

// x-amz-decoded-content-length and x-amz-trailer of a streaming upload
// (and the absence of x-amz-trailer otherwise).
auth_failure check_streaming_headers(std::span<const http_header> headers, payload_kind kind,
                                     chunked_upload& upload) {
  const auto trailer = find_single_header(headers, "x-amz-trailer");
  if (trailer.failure.failed()) return trailer.failure;
  if (!has_trailer(kind)) {
    if (trailer.value)
      return failure(auth_error::trailer_declaration_invalid,
                     "x-amz-trailer needs x-amz-content-sha256 " +
                         std::string(streaming_signed_trailer_text) + " or " +
                         std::string(streaming_unsigned_trailer_text));
  } else {
    if (!trailer.value)
      return failure(auth_error::trailer_declaration_invalid, "x-amz-content-sha256 " +
                                                                  std::string(to_string(kind)) +
                                                                  " needs an x-amz-trailer header");
    std::string_view names = *trailer.value;
    while (true) {
      const auto comma = names.find(',');
      const std::string name = lower_case(trim_blanks(names.substr(0, comma)));
      std::optional<checksum_algorithm> algorithm;
      for (auto a :
           {checksum_algorithm::crc32, checksum_algorithm::crc32c, checksum_algorithm::sha256})
        if (trailer_name(a) == name) algorithm = a;
      if (!algorithm)
        return failure(auth_error::trailer_declaration_invalid,
                       "x-amz-trailer names an unsupported trailer '" + name.substr(0, 64) + "'");
      if (std::find(upload.trailers.begin(), upload.trailers.end(), *algorithm) !=
          upload.trailers.end())
        return failure(auth_error::trailer_declaration_invalid,
                       "x-amz-trailer names " + name + " twice");
      upload.trailers.push_back(*algorithm);
      if (comma == std::string_view::npos) break;
      names.remove_prefix(comma + 1);
    }
    static_assert(trailers_max == 3, "one trailer per checksum_algorithm");
  }
  if (!is_streaming(kind)) return {};
  const auto length = find_single_header(headers, "x-amz-decoded-content-length");
  if (length.failure.failed()) return length.failure;
  if (!length.value)
    return failure(auth_error::decoded_length_missing,
                   "a streaming upload needs x-amz-decoded-content-length");
  const auto value = parse_decimal(*length.value, decoded_content_length_max);
  if (!value)
    return failure(auth_error::decoded_length_invalid,
                   "x-amz-decoded-content-length is not a number of at most 5 GiB");
  upload.decoded_content_length = *value;
  upload.kind = kind;
  return {};
}

verify_result failed(verify_result&& result, auth_failure f) {
  result.failure = std::move(f);
  return std::move(result);
}

}  // namespace

verify_result verify_request(const http_request_view& request, const verifier_config& config,
                             const secret_key_source& secrets, std::int64_t now_unix_seconds) {
  verify_result result;
  const auto headers = request.headers;

  // 1. The target: path and query as S3 will sign them.
  if (request.target.size() > request_target_bytes_max)
    return failed(std::move(result),
                  failure(auth_error::request_target_malformed, "the request target is too long"));
  const auto question = request.target.find('?');
  const std::string_view raw_path = request.target.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view{} : request.target.substr(question + 1);
  const auto uri = canonical_uri(raw_path);
  if (!uri || raw_path.find('#') != std::string_view::npos)
    return failed(std::move(result),
                  failure(auth_error::request_target_malformed,
                          "the request path does not start with '/' or has a bad %-escape"));
  const auto parameters = parse_query(raw_query);
  if (!parameters)
    return failed(std::move(result),
                  failure(auth_error::request_target_malformed,
                          "the query has a bad %-escape or too many parameters"));

  // 2. Which method: exactly one of the header and the query parameters.
  const std::size_t authorization_count = header_count(headers, "authorization");
  const bool query_auth = find_parameter(*parameters, "X-Amz-Algorithm") != nullptr ||
                          find_parameter(*parameters, "X-Amz-Credential") != nullptr ||
                          find_parameter(*parameters, "X-Amz-Signature") != nullptr;
  if (authorization_count > 0 && query_auth)
    return failed(std::move(result),
                  failure(auth_error::multiple_authentication,
                          "only one auth mechanism allowed; only the X-Amz-Algorithm query "
                          "parameter or the Authorization header should be specified"));
  if (authorization_count == 0 && !query_auth)
    return failed(std::move(result),
                  failure(auth_error::no_authentication, "the request is not signed"));
  if (authorization_count > 1)
    return failed(std::move(result),
                  failure(auth_error::duplicate_header, "authorization appears more than once"));
  result.method = query_auth ? auth_method::presigned_url : auth_method::authorization_header;

  // 3. Parse what was signed.
  signing_inputs in;
  const auth_failure parsed =
      query_auth ? inputs_from_query(*parameters, in)
                 : inputs_from_header(first_header(headers, "authorization")->value, headers, in);
  if (parsed.failed()) return failed(std::move(result), parsed);

  // 4. Scope, signed header set and time, before any key is looked up.
  if (auto f = check_scope(in.fields, in.timestamp, config); f.failed())
    return failed(std::move(result), std::move(f));
  if (auto f = check_signed_header_set(headers, in.fields.signed_headers); f.failed())
    return failed(std::move(result), std::move(f));
  if (auto f = check_time(in, result.method, now_unix_seconds); f.failed())
    return failed(std::move(result), std::move(f));

  // 5. The canonical request and the string to sign.
  const std::string scope = in.fields.date + "/" + in.fields.region + "/" + in.fields.service +
                            "/" + std::string(scope_terminator);
  std::string signed_headers_text;
  for (const auto& name : in.fields.signed_headers) {
    if (!signed_headers_text.empty()) signed_headers_text += ';';
    signed_headers_text += name;
  }
  result.canonical_request =
      std::string(request.method) + "\n" + *uri + "\n" +
      canonical_query_string(
          *parameters, query_auth ? signature_parameter::exclude : signature_parameter::include) +
      "\n" + canonical_headers(headers, in.fields.signed_headers) + "\n" + signed_headers_text +
      "\n" + in.payload_text;
  result.string_to_sign = string_to_sign(in.timestamp, scope, result.canonical_request);

  // 6. The key, and the signature compared in constant time (V1).
  auto secret = secrets.secret_access_key(in.fields.access_key_id);
  if (!secret)
    return failed(std::move(result), failure(auth_error::unknown_access_key,
                                             "the AWS access key id '" + in.fields.access_key_id +
                                                 "' does not exist in our records"));
  keys::secret_bytes signing_key =
      derive_signing_key(secret->bytes(), in.fields.date, in.fields.region, in.fields.service);
  secret->clear();
  const keys::sha256_digest expected = sign(signing_key, result.string_to_sign);
  if (!digests_equal(expected, in.fields.signature))
    return failed(std::move(result),
                  failure(auth_error::signature_mismatch,
                          "the request signature we calculated does not match the signature "
                          "you provided; check your key and signing method"));

  // 7. The body's declarations, once the request is known to be the
  // signer's (they are signed headers).
  chunked_upload upload;
  if (auto f = check_streaming_headers(headers, in.payload, upload); f.failed())
    return failed(std::move(result), std::move(f));

  // 8. Authenticated.
  authenticated_request& out = result.request;
  out.method = result.method;
  out.access_key_id = in.fields.access_key_id;
  out.date = in.fields.date;
  out.region = in.fields.region;
  out.timestamp = in.timestamp;
  out.request_time_unix_seconds = in.request_time;
  if (in.expires_seconds) out.valid_until_unix_seconds = in.request_time + *in.expires_seconds;
  out.security_token = in.security_token;
  out.payload = in.payload;
  out.payload_sha256 = in.payload_sha256;
  if (is_streaming(in.payload)) {
    upload.timestamp = in.timestamp;
    upload.scope = scope;
    upload.seed_signature = expected;
    if (in.payload != payload_kind::streaming_unsigned_trailer)
      upload.signing_key = std::move(signing_key);
    out.chunked = std::move(upload);
  }
  return result;
}

// --- the single-chunk body ------------------------------------------------------------------

auth_failure payload_hash_check::finish() {
  // Not secret: the client sent the digest in the clear.
  if (hasher_.finish() == expected_) return {};
  return failure(auth_error::content_sha256_mismatch,
                 "the provided x-amz-content-sha256 header does not match what was computed");
}

// --- the aws-chunked decoder ----------------------------------------------------------------

chunked_body_decoder::chunked_body_decoder(chunked_upload upload) : upload_(std::move(upload)) {
  CAIRN_ASSERT_MSG(is_streaming(upload_.kind), "chunked_body_decoder needs a STREAMING-* upload");
  CAIRN_ASSERT(upload_.decoded_content_length <= decoded_content_length_max);
  CAIRN_ASSERT(is_signed() == (upload_.signing_key.size() == keys::sha256_bytes));
  CAIRN_ASSERT(has_trailers() == !upload_.trailers.empty());
  CAIRN_ASSERT(upload_.trailers.size() <= trailers_max);
  previous_signature_ = upload_.seed_signature;
  line_.reserve(chunk_line_bytes_max);
  for (auto algorithm : upload_.trailers) {
    checksum_state c;
    c.algorithm = algorithm;
    if (algorithm == checksum_algorithm::sha256) c.sha256.emplace();
    checksums_.push_back(std::move(c));
  }
}

bool chunked_body_decoder::is_signed() const {
  return upload_.kind == payload_kind::streaming_signed ||
         upload_.kind == payload_kind::streaming_signed_trailer;
}

bool chunked_body_decoder::has_trailers() const {
  return s3::has_trailer(upload_.kind);
}

auth_failure chunked_body_decoder::fail(auth_error reason, std::string detail) {
  failure_ = failure(reason, std::move(detail));
  state_ = state::failed;
  line_.clear();
  return failure_;
}

void chunked_body_decoder::hash_payload(std::span<const std::uint8_t> bytes) {
  if (is_signed()) chunk_hasher_.update(bytes);
  for (auto& c : checksums_) {
    switch (c.algorithm) {
      case checksum_algorithm::crc32:
        c.crc = crc32_ieee(bytes, c.crc);
        break;
      case checksum_algorithm::crc32c:
        c.crc = crc32_castagnoli(bytes, c.crc);
        break;
      case checksum_algorithm::sha256:
        c.sha256->update(bytes);
        break;
    }
  }
}

auth_failure chunked_body_decoder::feed(std::span<const std::uint8_t> input,
                                        const payload_sink& sink) {
  std::size_t at = 0;
  while (at < input.size() && state_ != state::failed) {
    const auto rest = input.subspan(at);
    switch (state_) {
      case state::chunk_header:
      case state::trailer_line: {
        // A framing line, possibly split across feeds: collect up to LF.
        const auto* lf =
            static_cast<const std::uint8_t*>(std::memchr(rest.data(), '\n', rest.size()));
        const std::size_t take =
            lf == nullptr ? rest.size() : static_cast<std::size_t>(lf - rest.data());
        // The line, its CR and its LF fit in chunk_line_bytes_max (V4).
        if (line_.size() + take + 1 > chunk_line_bytes_max)
          return fail(auth_error::chunk_line_too_long,
                      "an aws-chunked framing line is longer than " +
                          std::to_string(chunk_line_bytes_max) + " bytes");
        line_.append(reinterpret_cast<const char*>(rest.data()), take);
        at += take;
        if (lf == nullptr) break;
        at += 1;  // the LF
        if (line_.empty() || line_.back() != '\r' || line_.find('\r') != line_.size() - 1) {
          const bool header = state_ == state::chunk_header;
          return fail(header ? auth_error::chunk_header_malformed : auth_error::trailer_malformed,
                      "an aws-chunked framing line does not end in CRLF");
        }
        line_.pop_back();
        const auto f =
            state_ == state::chunk_header ? on_chunk_header(line_) : on_trailer_line(line_);
        line_.clear();
        if (f.failed()) return f;
        break;
      }
      case state::chunk_data: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_remaining_, rest.size()));
        const auto piece = rest.first(take);
        hash_payload(piece);
        chunk_bytes_remaining_ -= take;
        decoded_bytes_ += take;
        at += take;
        if (sink) sink(piece);
        if (chunk_bytes_remaining_ == 0) {
          if (auto f = on_chunk_data_end(); f.failed()) return f;
        }
        break;
      }
      case state::chunk_data_cr:
      case state::chunk_data_lf: {
        const char expected = state_ == state::chunk_data_cr ? '\r' : '\n';
        if (rest[0] != static_cast<std::uint8_t>(expected))
          return fail(auth_error::chunk_data_unterminated,
                      "chunk data is not followed by CRLF (the chunk is longer than its size)");
        at += 1;
        state_ = state_ == state::chunk_data_cr ? state::chunk_data_lf : state::chunk_header;
        break;
      }
      case state::done:
        return fail(auth_error::data_after_body_end,
                    "bytes follow the end of the aws-chunked body");
      case state::failed:
        break;
    }
  }
  return failure_;
}

auth_failure chunked_body_decoder::on_chunk_header(std::string_view line) {
  // hex-size
  std::size_t digits = 0;
  std::uint64_t size = 0;
  while (digits < line.size() && hex_value(line[digits]) >= 0) {
    if (digits == chunk_size_hex_digits_max)
      return fail(auth_error::chunk_header_malformed, "the chunk size has too many digits");
    size = size * 16 + static_cast<std::uint64_t>(hex_value(line[digits]));
    ++digits;
  }
  if (digits == 0)
    return fail(auth_error::chunk_header_malformed,
                "a chunk header does not start with a hex size");
  std::string_view extension = line.substr(digits);
  if (is_signed()) {
    if (!extension.starts_with(chunk_signature_prefix))
      return fail(auth_error::chunk_header_malformed,
                  "a chunk header is not <hex-size>;chunk-signature=<signature>");
    const auto signature = parse_digest_hex(extension.substr(chunk_signature_prefix.size()));
    if (!signature)
      return fail(auth_error::chunk_header_malformed,
                  "a chunk signature is not 64 hexadecimal digits");
    chunk_signature_ = *signature;
  } else if (!extension.empty()) {
    return fail(auth_error::chunk_header_malformed, "an unsigned chunk header is <hex-size> alone");
  }

  const std::uint64_t remaining_length = upload_.decoded_content_length - decoded_bytes_;
  if (size > 0) {
    if (size > remaining_length)
      return fail(auth_error::decoded_length_mismatch,
                  "the chunks carry more than x-amz-decoded-content-length (" +
                      std::to_string(upload_.decoded_content_length) + ") bytes");
    // Only the last data chunk may be small: a small chunk followed by
    // another data chunk was not the last.
    if (is_signed() && previous_chunk_bytes_ != 0 && previous_chunk_bytes_ < signed_chunk_bytes_min)
      return fail(auth_error::chunk_too_small,
                  "only the last chunk is allowed to have a size less than 8192 bytes");
    chunk_bytes_ = size;
    chunk_bytes_remaining_ = size;
    state_ = state::chunk_data;
    return {};
  }

  // The final, zero-length chunk: signed like any other.
  if (is_signed()) {
    const auto expected = sign(upload_.signing_key,
                               chunk_string_to_sign(upload_.timestamp, upload_.scope,
                                                    previous_signature_, chunk_hasher_.finish()));
    if (!digests_equal(expected, chunk_signature_))
      return fail(auth_error::chunk_signature_mismatch,
                  "the signature of the final chunk does not match");
    previous_signature_ = expected;
  }
  if (remaining_length != 0)
    return fail(auth_error::decoded_length_mismatch,
                "the chunks carry " + std::to_string(decoded_bytes_) +
                    " bytes, x-amz-decoded-content-length says " +
                    std::to_string(upload_.decoded_content_length));
  state_ = state::trailer_line;
  return {};
}

auth_failure chunked_body_decoder::on_chunk_data_end() {
  if (is_signed()) {
    const auto expected = sign(upload_.signing_key,
                               chunk_string_to_sign(upload_.timestamp, upload_.scope,
                                                    previous_signature_, chunk_hasher_.finish()));
    if (!digests_equal(expected, chunk_signature_))
      return fail(auth_error::chunk_signature_mismatch,
                  "the signature of the chunk ending at decoded byte " +
                      std::to_string(decoded_bytes_) + " does not match");
    previous_signature_ = expected;
    verified_bytes_ = decoded_bytes_;
  }
  previous_chunk_bytes_ = chunk_bytes_;
  state_ = state::chunk_data_cr;
  return {};
}

auth_failure chunked_body_decoder::on_trailer_line(std::string_view line) {
  if (line.empty()) return on_trailers_end();
  if (!has_trailers())
    return fail(auth_error::trailer_malformed,
                "the final chunk must be followed by CRLF: no trailers were declared");
  if (trailer_signature_seen_)
    return fail(auth_error::trailer_malformed, "a trailer follows x-amz-trailer-signature");
  const auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return fail(auth_error::trailer_malformed, "a trailer line is not name:value");
  const std::string name = lower_case(trim_blanks(line.substr(0, colon)));
  const std::string_view value = trim_blanks(line.substr(colon + 1));

  if (name == trailer_signature_name) {
    if (!is_signed())
      return fail(
          auth_error::trailer_malformed,
          "x-amz-trailer-signature in an unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER) body");
    for (const auto& c : checksums_)
      if (!c.received)
        return fail(
            auth_error::trailer_missing,
            "the declared trailer " + std::string(trailer_name(c.algorithm)) + " is missing");
    const auto signature = parse_digest_hex(value);
    if (!signature)
      return fail(auth_error::trailer_malformed,
                  "x-amz-trailer-signature is not 64 hexadecimal digits");
    const auto expected = sign(
        upload_.signing_key, trailer_string_to_sign(upload_.timestamp, upload_.scope,
                                                    previous_signature_, trailer_hasher_.finish()));
    if (!digests_equal(expected, *signature))
      return fail(auth_error::trailer_signature_mismatch, "the trailer signature does not match");
    trailer_signature_seen_ = true;
    return {};
  }

  const auto it = std::find_if(checksums_.begin(), checksums_.end(),
                               [&](const auto& c) { return trailer_name(c.algorithm) == name; });
  if (it == checksums_.end())
    return fail(auth_error::trailer_malformed,
                "the trailer '" + name.substr(0, 64) + "' was not declared in x-amz-trailer");
  if (it->received) return fail(auth_error::trailer_malformed, "the trailer " + name + " repeats");
  const auto decoded = base64_decode(value);
  const std::size_t size = it->algorithm == checksum_algorithm::sha256 ? keys::sha256_bytes : 4;
  if (!decoded || decoded->size() != size)
    return fail(auth_error::checksum_value_malformed, "the value of the " + name +
                                                          " trailer is not base64 of " +
                                                          std::to_string(size) + " bytes");
  // What the trailer signature covers: each trailer as "name:value\n".
  trailer_hasher_.update(keys::as_bytes(name));
  trailer_hasher_.update(keys::as_bytes(":"));
  trailer_hasher_.update(keys::as_bytes(value));
  trailer_hasher_.update(keys::as_bytes("\n"));
  // The payload is complete: compare now, report after the signature.
  std::vector<std::uint8_t> computed;
  if (it->algorithm == checksum_algorithm::sha256) {
    const auto digest = it->sha256->finish();
    computed.assign(digest.begin(), digest.end());
  } else {
    computed = {static_cast<std::uint8_t>(it->crc >> 24), static_cast<std::uint8_t>(it->crc >> 16),
                static_cast<std::uint8_t>(it->crc >> 8), static_cast<std::uint8_t>(it->crc)};
  }
  it->received = true;
  it->matches = computed == *decoded;
  return {};
}

auth_failure chunked_body_decoder::on_trailers_end() {
  for (const auto& c : checksums_)
    if (!c.received)
      return fail(auth_error::trailer_missing,
                  "the declared trailer " + std::string(trailer_name(c.algorithm)) + " is missing");
  if (upload_.kind == payload_kind::streaming_signed_trailer && !trailer_signature_seen_)
    return fail(auth_error::trailer_missing, "x-amz-trailer-signature is missing");
  for (const auto& c : checksums_)
    if (!c.matches)
      return fail(auth_error::checksum_mismatch,
                  "the " + std::string(trailer_name(c.algorithm)) +
                      " you specified did not match the calculated checksum");
  verified_bytes_ = decoded_bytes_;
  state_ = state::done;
  return {};
}

auth_failure chunked_body_decoder::finish() {
  if (state_ == state::failed) return failure_;
  if (state_ != state::done)
    return fail(auth_error::body_truncated,
                "the body ended after " + std::to_string(decoded_bytes_) + " of " +
                    std::to_string(upload_.decoded_content_length) +
                    " decoded bytes, before the end of the aws-chunked encoding");
  return {};
}

void chunked_body_decoder::check_invariants() const {
  CAIRN_ASSERT(line_.size() < chunk_line_bytes_max);
  CAIRN_ASSERT(decoded_bytes_ <= upload_.decoded_content_length);
  CAIRN_ASSERT(verified_bytes_ <= decoded_bytes_);
  CAIRN_ASSERT(chunk_bytes_remaining_ <= chunk_bytes_);
  CAIRN_ASSERT((state_ == state::failed) == failure_.failed());
  CAIRN_ASSERT(state_ != state::chunk_data || chunk_bytes_remaining_ > 0);
  CAIRN_ASSERT(state_ != state::done || verified_bytes_ == upload_.decoded_content_length);
}

}  // namespace cairn::s3
