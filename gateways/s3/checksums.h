// gateways/s3/checksums.h — S3's flexible checksums sent as request
// headers (x-amz-checksum-crc32 / -crc32c / -crc64nvme / -sha1 / -sha256):
// computed over the decoded body as it streams through the gateway and
// compared at its end. (Trailing checksums of aws-chunked bodies are the
// chunked_body_decoder's, sigv4.h.)
//
// Owner: gateways/s3 (library cairn_s3); the S3 session feeds one per
// PutObject / UploadPart. Pure: no I/O.
//
// Invariants:
//  CK1. A body is accepted only if every checksum header names a known
//       algorithm with a well-formed value (base64 of the digest's size)
//       and the digest of the body equals it.
//  CK2. Digests are the ones S3 documents: CRC-32 (IEEE), CRC-32C
//       (Castagnoli) and CRC-64/NVME big-endian; SHA-1 and SHA-256.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cairn::s3 {

/// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout
/// all ones): "123456789" -> 0xae8b14860a799888.
std::uint64_t crc64_nvme(std::span<const std::uint8_t> bytes, std::uint64_t previous = 0);

class header_checksums {
 public:
  /// From the request's headers (name, value); an error text naming the
  /// header when one is malformed or names an unknown algorithm.
  /// `also_compute`: header names of checksums to compute without a
  /// value to compare (the trailing ones of aws-chunked bodies, which the
  /// decoder verifies), so they can be stored with the object.
  static std::variant<header_checksums, std::string> from(
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::vector<std::string>& also_compute = {});

  header_checksums(header_checksums&&) noexcept;
  header_checksums& operator=(header_checksums&&) noexcept;
  ~header_checksums();

  bool empty() const;
  void update(std::span<const std::uint8_t> bytes);
  /// At the end of the body: the header whose checksum differs, or "".
  std::string mismatch();
  /// After mismatch(): every checksum computed (header name, base64).
  std::vector<std::pair<std::string, std::string>> results() const;

 private:
  header_checksums();
  struct state;
  std::vector<std::unique_ptr<state>> states_;
};

}  // namespace cairn::s3
