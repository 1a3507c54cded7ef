// tests/actors/chunk/record_test.cpp — the on-device record and superblock
// formats (invariants RF1-RF3 in actors/chunk/record.h): round trips, and
// every corruption is an error value, never accepted data.
#include "actors/chunk/record.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <vector>

namespace cairn::chunk {
namespace {

record_header sample_header(std::uint32_t payload_bytes) {
  record_header h;
  h.type = record_type::shard;
  for (std::size_t i = 0; i < h.key.chunk.size(); ++i)
    h.key.chunk[i] = static_cast<std::uint8_t>(i * 7);
  h.key.scheme = 0x0402;
  h.key.index = 5;
  h.payload_bytes = payload_bytes;
  h.sequence = 123456789;
  h.epoch = 3;
  h.timestamp_ms = 0;
  h.segment_stamp = 41;
  return h;
}

TEST(RecordFormat, KnownCrc32cValue) {
  // CRC-32C (Castagnoli) of "123456789" is 0xE3069283 (RFC 3720 check value).
  const std::string s = "123456789";
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  EXPECT_EQ(crc32c(bytes, 0xffffffff) ^ 0xffffffff, 0xE3069283u);
}

TEST(RecordFormat, ARecordIsWholeBlocksWithThePayloadAfterTheHeader) {
  EXPECT_EQ(record_blocks(0), 1u);
  EXPECT_EQ(record_blocks(block_bytes - record_header_bytes), 1u);
  EXPECT_EQ(record_blocks(block_bytes - record_header_bytes + 1), 2u);
  std::vector<std::uint8_t> payload(5000, 0xab);
  auto h = sample_header(5000);
  std::vector<std::uint8_t> out(record_blocks(5000) * block_bytes, 0xff);
  encode_record(h, payload, out);
  record_header back;
  ASSERT_EQ(decode_record_header(out, back), format_error::none);
  h.payload_crc = back.payload_crc;
  EXPECT_EQ(back, h);
  std::span<const std::uint8_t> stored(out.data() + record_header_bytes, 5000);
  EXPECT_EQ(check_payload(back, stored), format_error::none);
  EXPECT_EQ(out.back(), 0);  // padding is zeros
}

TEST(RecordFormat, FreeSpaceIsNotARecord) {
  std::vector<std::uint8_t> zeros(block_bytes, 0);
  record_header h;
  EXPECT_EQ(decode_record_header(zeros, h), format_error::bad_magic);
}

// RF1: flipping any single bit of a header is detected.
TEST(RecordFormat, EveryHeaderBitFlipIsDetected) {
  std::vector<std::uint8_t> payload(100, 0x5a);
  std::vector<std::uint8_t> out(block_bytes);
  encode_record(sample_header(100), payload, out);
  for (std::size_t bit = 0; bit < record_header_bytes * 8; ++bit) {
    auto copy = out;
    copy[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    record_header h;
    EXPECT_NE(decode_record_header(copy, h), format_error::none) << "bit " << bit;
  }
}

RC_GTEST_PROP(RecordFormatProperty, PayloadCorruptionIsDetected, ()) {
  const auto payload = *rc::gen::container<std::vector<std::uint8_t>>(
      *rc::gen::inRange<std::size_t>(1, 20'000), rc::gen::arbitrary<std::uint8_t>());
  auto h = sample_header(static_cast<std::uint32_t>(payload.size()));
  std::vector<std::uint8_t> out(record_blocks(payload.size()) * block_bytes);
  encode_record(h, payload, out);
  const auto at = *rc::gen::inRange<std::size_t>(0, payload.size());
  const auto flip = *rc::gen::inRange<int>(1, 256);
  out[record_header_bytes + at] ^= static_cast<std::uint8_t>(flip);
  record_header back;
  RC_ASSERT(decode_record_header(out, back) == format_error::none);
  RC_ASSERT(check_payload(back, std::span<const std::uint8_t>(out).subspan(record_header_bytes,
                                                                           payload.size())) ==
            format_error::bad_payload_crc);
}

TEST(RecordFormat, OutOfRangeFieldsAreRejectedEvenWithAValidCrc) {
  // A header written by a buggy or hostile encoder: valid CRC, bad type.
  std::vector<std::uint8_t> out(block_bytes);
  encode_record(sample_header(0), {}, out);
  out[10] = 9;  // type
  const std::uint32_t crc =
      crc32c(std::span<const std::uint8_t>(out).first(record_header_bytes - 4));
  for (int i = 0; i < 4; ++i)
    out[record_header_bytes - 4 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  record_header h;
  EXPECT_EQ(decode_record_header(out, h), format_error::bad_field);
}

TEST(Superblock, RoundTripAndGeometry) {
  auto sb = plan_device(64 << 20, 1 << 20);
  ASSERT_TRUE(sb);
  EXPECT_EQ(sb->data_offset, block_bytes);
  EXPECT_EQ(sb->segment_count, 63u);  // 64 MiB minus two superblock blocks
  sb->device_id = 7;
  sb->node_id = 2;
  sb->generation = 9;
  sb->clean_shutdown = true;
  sb->last_sequence = 77;
  sb->device_uuid[3] = 0x42;
  std::vector<std::uint8_t> block(block_bytes);
  encode_superblock(*sb, block);
  superblock back;
  ASSERT_EQ(decode_superblock(block, back), format_error::none);
  EXPECT_EQ(back, *sb);
  EXPECT_EQ(backup_superblock_offset(64 << 20), (64u << 20) - block_bytes);
  EXPECT_FALSE(plan_device(8192, 4096));
  EXPECT_FALSE(plan_device(1 << 20, 1000));
}

TEST(Superblock, CorruptionAndImpossibleGeometryAreRejected) {
  auto sb = *plan_device(16 << 20, 1 << 20);
  std::vector<std::uint8_t> block(block_bytes);
  encode_superblock(sb, block);
  for (std::size_t at : {0ul, 9ul, 40ul, 88ul, 2000ul, block_bytes - 1}) {
    auto copy = block;
    copy[at] ^= 0x10;
    superblock back;
    EXPECT_NE(decode_superblock(copy, back), format_error::none) << "byte " << at;
  }
  sb.segment_count = 1000;  // more segments than the device holds
  encode_superblock(sb, block);
  superblock back;
  EXPECT_EQ(decode_superblock(block, back), format_error::bad_field);
}

}  // namespace
}  // namespace cairn::chunk
