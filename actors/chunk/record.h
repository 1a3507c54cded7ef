// actors/chunk/record.h — the on-device formats of a chunk device: records
// (a fixed header, a payload, padding to 4 KiB) and the two superblocks.
//
// Owner: pure library (no I/O); the device core (device_store) encodes and
// decodes through it, the corruption tests and the fuzzer read it too.
// Formats are little-endian, fixed, versioned (docs/chunk.md has the byte
// tables). Every header and superblock carries a CRC32C (ISA-L) of itself;
// every payload a CRC32C in its header.
//
// Invariants:
//  RF1. decode_record_header() accepts a block only if magic, version,
//       type, lengths and the header CRC all check; anything else is an
//       error value, never an exception or an assertion (device bytes are
//       untrusted input).
//  RF2. A record occupies record_blocks(payload_bytes) whole blocks; its
//       payload starts at byte record_header_bytes of its first block.
//  RF3. decode_superblock() accepts a block only if its magic, version and
//       CRC check; of two valid superblocks the higher generation wins.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace cairn::chunk {

inline constexpr std::uint64_t block_bytes = 4096;
inline constexpr std::uint64_t record_header_bytes = 128;
inline constexpr std::uint16_t record_format_version = 1;
inline constexpr std::uint16_t superblock_format_version = 1;
/// Largest payload one record holds (one shard of a 4 MiB chunk under
/// replication, with room to spare).
inline constexpr std::uint32_t record_payload_bytes_max = 16u << 20;

using chunk_id = std::array<std::uint8_t, 32>;

enum class record_type : std::uint8_t {
  shard = 1,           // a shard's bytes
  delete_mark = 2,     // the shard moved to the recycle bin at timestamp_ms
  restore = 3,         // the shard came back out of the recycle bin
  segment_header = 4,  // first record of every opened segment
};

/// Identifies one stored shard: which chunk, which EC scheme, which shard.
struct shard_key {
  chunk_id chunk{};
  std::uint32_t scheme = 0;
  std::uint32_t index = 0;
  friend auto operator<=>(const shard_key&, const shard_key&) = default;
};

struct record_header {
  record_type type = record_type::shard;
  shard_key key;
  std::uint32_t payload_bytes = 0;
  /// Device-wide, strictly increasing in the order records are first
  /// written; kept when compaction copies a record (newest sequence wins).
  std::uint64_t sequence = 0;
  /// Key epoch the payload was sealed under; for segment_header records the
  /// segment's open sequence.
  std::uint64_t epoch = 0;
  std::uint64_t timestamp_ms = 0;
  std::uint32_t payload_crc = 0;
  /// The open sequence of the segment the record was written into. A
  /// segment is reused without being erased: replay stops at the first
  /// record whose stamp differs from the segment header's, so records left
  /// from an earlier life of the segment are never taken for new ones.
  std::uint64_t segment_stamp = 0;
  friend bool operator==(const record_header&, const record_header&) = default;
};

enum class format_error : std::uint8_t {
  none,
  bad_magic,        // not a record / superblock at all (e.g. free space)
  bad_version,      // a format this build cannot read
  bad_header_crc,   // torn or corrupted header
  bad_field,        // a type or length out of range
  bad_payload_crc,  // torn or corrupted payload
};
std::string_view to_string(format_error e);

std::uint32_t crc32c(std::span<const std::uint8_t> bytes, std::uint32_t seed = 0);

/// Whole blocks a record of `payload_bytes` occupies (RF2).
inline std::uint64_t record_blocks(std::uint64_t payload_bytes) {
  return (record_header_bytes + payload_bytes + block_bytes - 1) / block_bytes;
}

/// Writes the header (with both CRCs: `payload` is hashed here) into the
/// first record_header_bytes of `out`.
void encode_record_header(record_header h, std::span<const std::uint8_t> payload,
                          std::span<std::uint8_t> out);

/// Lays a whole record (header, payload, zero padding) into `out`, which
/// must be record_blocks(payload.size()) * block_bytes long.
void encode_record(const record_header& h, std::span<const std::uint8_t> payload,
                   std::span<std::uint8_t> out);

/// Parses the header at the start of `block` (RF1). Does not check the
/// payload: see check_payload.
format_error decode_record_header(std::span<const std::uint8_t> block, record_header& out);

/// Checks a payload against its header's CRC and length.
format_error check_payload(const record_header& h, std::span<const std::uint8_t> payload);

struct superblock {
  std::array<std::uint8_t, 16> device_uuid{};
  std::uint64_t device_id = 0;
  std::uint64_t node_id = 0;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t segment_bytes = 0;
  std::uint64_t segment_count = 0;
  std::uint64_t data_offset = 0;    // first byte of segment 0
  std::uint64_t generation = 0;     // +1 on every superblock write
  bool clean_shutdown = false;      // L0: set on clean close, cleared on open
  std::uint64_t last_sequence = 0;  // highest record sequence at clean close
  friend bool operator==(const superblock&, const superblock&) = default;
};

/// One block.
void encode_superblock(const superblock& sb, std::span<std::uint8_t> block);
format_error decode_superblock(std::span<const std::uint8_t> block, superblock& out);

/// Where the two copies live: block 0 and the last whole block of the device.
std::uint64_t primary_superblock_offset();
std::uint64_t backup_superblock_offset(std::uint64_t capacity_bytes);

/// Geometry of a fresh device: segments between the two superblocks.
/// Returns nullopt if not even one segment fits.
std::optional<superblock> plan_device(std::uint64_t capacity_bytes, std::uint64_t segment_bytes);

}  // namespace cairn::chunk
