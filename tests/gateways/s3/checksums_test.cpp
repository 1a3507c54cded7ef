// tests/gateways/s3/checksums_test.cpp — flexible checksums sent as
// request headers (gateways/s3/checksums.h): known answers for every
// algorithm (AWS's documented values for "Hello world" style inputs are
// replaced by the standard check inputs), malformed headers named, and a
// body split anywhere gives the same digest.
#include "gateways/s3/checksums.h"

#include <gtest/gtest.h>

#include <string>

#include "gateways/s3/sigv4.h"

namespace cairn::s3 {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Checksums, Crc64NvmeCheckValue) {
  // The CRC catalogue's check value for CRC-64/NVME.
  EXPECT_EQ(crc64_nvme(bytes("123456789")), 0xae8b14860a799888ull);
  EXPECT_EQ(crc64_nvme(bytes("56789"), crc64_nvme(bytes("1234"))), 0xae8b14860a799888ull);
  EXPECT_EQ(crc64_nvme({}), 0u);
}

std::string verify(std::string_view header, std::string_view value, std::string_view body) {
  auto c = header_checksums::from({{std::string(header), std::string(value)}});
  if (auto* e = std::get_if<std::string>(&c)) return "error: " + *e;
  auto& h = std::get<header_checksums>(c);
  // Fed one byte at a time: streaming gives the same digest.
  for (std::size_t i = 0; i < body.size(); ++i) h.update(bytes(body.substr(i, 1)));
  return h.mismatch();
}

TEST(Checksums, EveryAlgorithmVerifiesItsDigestAndRefusesAnother) {
  // "hello world": CRC-32 0x0d4a1185, CRC-32C 0xc99465aa, SHA-1 2aae6c35...,
  // SHA-256 b94d27b9...; CRC-64/NVME computed by crc64_nvme (checked above).
  const std::string body = "hello world";
  const std::uint8_t crc32[] = {0x0d, 0x4a, 0x11, 0x85};
  const std::uint8_t crc32c[] = {0xc9, 0x94, 0x65, 0xaa};
  EXPECT_EQ(verify("x-amz-checksum-crc32", base64_encode(crc32), body), "");
  EXPECT_EQ(verify("X-Amz-Checksum-CRC32C", base64_encode(crc32c), body), "");
  EXPECT_EQ(verify("x-amz-checksum-sha1", "Kq5sNclPz7QV2+lfQIuc6R7oRu0=", body), "");
  EXPECT_EQ(verify("x-amz-checksum-sha256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=", body),
            "");
  const auto c64 = crc64_nvme(bytes(body));
  std::uint8_t be[8];
  for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(c64 >> (56 - 8 * i));
  EXPECT_EQ(verify("x-amz-checksum-crc64nvme", base64_encode(be), body), "");
  EXPECT_EQ(verify("x-amz-checksum-crc32", "AAAAAA==", body), "x-amz-checksum-crc32");
  EXPECT_EQ(verify("x-amz-checksum-sha256", base64_encode(crc32c), body),
            "error: Value for x-amz-checksum-sha256 header is invalid.");
  EXPECT_EQ(verify("x-amz-checksum-md7", "AAAAAA==", body).substr(0, 40),
            "error: Value for x-amz-checksum-md7 head");
  EXPECT_EQ(verify("x-amz-checksum-crc32", "not base64!", body),
            "error: Value for x-amz-checksum-crc32 header is invalid.");
}

TEST(Checksums, TrailerAlgorithmsAreComputedToBeStored) {
  auto c = header_checksums::from({}, {"x-amz-checksum-crc32", "x-amz-checksum-unknown"});
  ASSERT_TRUE(std::holds_alternative<header_checksums>(c));
  auto& h = std::get<header_checksums>(c);
  h.update(bytes("hello world"));
  EXPECT_EQ(h.mismatch(), "") << "nothing to compare: computed only";
  const auto r = h.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], (std::pair<std::string, std::string>{"x-amz-checksum-crc32", "DUoRhQ=="}));
}

TEST(Checksums, OtherChecksumHeadersAreNotChecksums) {
  auto c = header_checksums::from({{"x-amz-checksum-algorithm", "CRC32"},
                                   {"x-amz-checksum-mode", "ENABLED"},
                                   {"x-amz-checksum-type", "FULL_OBJECT"},
                                   {"content-type", "text/plain"}});
  ASSERT_TRUE(std::holds_alternative<header_checksums>(c));
  EXPECT_TRUE(std::get<header_checksums>(c).empty());
}

}  // namespace
}  // namespace cairn::s3
