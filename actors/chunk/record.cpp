// actors/chunk/record.cpp — see record.h; byte tables in docs/chunk.md.
#include "actors/chunk/record.h"

#include <isa-l/crc.h>

#include <cstring>

#include "actors/common/assert.h"

namespace cairn::chunk {
namespace {

constexpr std::array<std::uint8_t, 8> record_magic{'C', 'A', 'I', 'R', 'N', 'R', 'E', 'C'};
constexpr std::array<std::uint8_t, 8> superblock_magic{'C', 'A', 'I', 'R', 'N', 'S', 'B', '1'};

// Record header byte offsets.
constexpr std::size_t rh_version = 8, rh_type = 10, rh_flags = 11, rh_scheme = 12, rh_index = 16,
                      rh_payload_bytes = 20, rh_sequence = 24, rh_epoch = 32, rh_chunk = 40,
                      rh_timestamp = 72, rh_payload_crc = 80, rh_segment_stamp = 88,
                      rh_header_crc = record_header_bytes - 4;
static_assert(rh_segment_stamp + 8 <= rh_header_crc);

// Superblock byte offsets.
constexpr std::size_t sb_version = 8, sb_block_bytes = 12, sb_uuid = 16, sb_device = 32,
                      sb_node = 40, sb_capacity = 48, sb_segment_bytes = 56, sb_segment_count = 64,
                      sb_data_offset = 72, sb_generation = 80, sb_clean = 88, sb_last_sequence = 96,
                      sb_crc = block_bytes - 4;

template <typename T>
void put(std::span<std::uint8_t> out, std::size_t at, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[at + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
}

template <typename T>
T get(std::span<const std::uint8_t> in, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<std::uint64_t>(in[at + i]) << (8 * i);
  return static_cast<T>(v);
}

bool valid_type(std::uint8_t t) {
  return t >= 1 && t <= 4;
}

}  // namespace

std::string_view to_string(format_error e) {
  switch (e) {
    case format_error::none:
      return "ok";
    case format_error::bad_magic:
      return "bad magic";
    case format_error::bad_version:
      return "unknown format version";
    case format_error::bad_header_crc:
      return "header CRC mismatch";
    case format_error::bad_field:
      return "field out of range";
    case format_error::bad_payload_crc:
      return "payload CRC mismatch";
  }
  return "?";
}

std::uint32_t crc32c(std::span<const std::uint8_t> bytes, std::uint32_t seed) {
  if (bytes.empty()) return seed;
  return crc32_iscsi(const_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                     seed);
}

void encode_record_header(record_header h, std::span<const std::uint8_t> payload,
                          std::span<std::uint8_t> out) {
  CAIRN_ASSERT(out.size() >= record_header_bytes);
  CAIRN_ASSERT(payload.size() == h.payload_bytes && h.payload_bytes <= record_payload_bytes_max);
  auto header = out.first(record_header_bytes);
  std::memset(header.data(), 0, header.size());
  std::memcpy(header.data(), record_magic.data(), record_magic.size());
  put<std::uint16_t>(header, rh_version, record_format_version);
  put<std::uint8_t>(header, rh_type, static_cast<std::uint8_t>(h.type));
  put<std::uint8_t>(header, rh_flags, 0);
  put<std::uint32_t>(header, rh_scheme, h.key.scheme);
  put<std::uint32_t>(header, rh_index, h.key.index);
  put<std::uint32_t>(header, rh_payload_bytes, h.payload_bytes);
  put<std::uint64_t>(header, rh_sequence, h.sequence);
  put<std::uint64_t>(header, rh_epoch, h.epoch);
  std::memcpy(header.data() + rh_chunk, h.key.chunk.data(), h.key.chunk.size());
  put<std::uint64_t>(header, rh_timestamp, h.timestamp_ms);
  put<std::uint32_t>(header, rh_payload_crc, crc32c(payload));
  put<std::uint64_t>(header, rh_segment_stamp, h.segment_stamp);
  put<std::uint32_t>(header, rh_header_crc, crc32c(header.first(rh_header_crc)));
}

void encode_record(const record_header& h, std::span<const std::uint8_t> payload,
                   std::span<std::uint8_t> out) {
  const std::uint64_t total = record_blocks(payload.size()) * block_bytes;
  CAIRN_ASSERT_MSG(out.size() == total, "record buffer must be whole blocks");
  encode_record_header(h, payload, out);
  if (!payload.empty())
    std::memcpy(out.data() + record_header_bytes, payload.data(), payload.size());
  const std::uint64_t used = record_header_bytes + payload.size();
  std::memset(out.data() + used, 0, total - used);
}

format_error decode_record_header(std::span<const std::uint8_t> block, record_header& out) {
  if (block.size() < record_header_bytes) return format_error::bad_field;
  if (std::memcmp(block.data(), record_magic.data(), record_magic.size()) != 0)
    return format_error::bad_magic;
  if (get<std::uint32_t>(block, rh_header_crc) != crc32c(block.first(rh_header_crc)))
    return format_error::bad_header_crc;
  if (get<std::uint16_t>(block, rh_version) != record_format_version)
    return format_error::bad_version;
  const auto type = get<std::uint8_t>(block, rh_type);
  const auto payload_bytes = get<std::uint32_t>(block, rh_payload_bytes);
  if (!valid_type(type) || get<std::uint8_t>(block, rh_flags) != 0 ||
      payload_bytes > record_payload_bytes_max)
    return format_error::bad_field;
  record_header h;
  h.type = static_cast<record_type>(type);
  h.key.scheme = get<std::uint32_t>(block, rh_scheme);
  h.key.index = get<std::uint32_t>(block, rh_index);
  h.payload_bytes = payload_bytes;
  h.sequence = get<std::uint64_t>(block, rh_sequence);
  h.epoch = get<std::uint64_t>(block, rh_epoch);
  std::memcpy(h.key.chunk.data(), block.data() + rh_chunk, h.key.chunk.size());
  h.timestamp_ms = get<std::uint64_t>(block, rh_timestamp);
  h.payload_crc = get<std::uint32_t>(block, rh_payload_crc);
  h.segment_stamp = get<std::uint64_t>(block, rh_segment_stamp);
  out = h;
  return format_error::none;
}

format_error check_payload(const record_header& h, std::span<const std::uint8_t> payload) {
  if (payload.size() != h.payload_bytes) return format_error::bad_field;
  return crc32c(payload) == h.payload_crc ? format_error::none : format_error::bad_payload_crc;
}

void encode_superblock(const superblock& sb, std::span<std::uint8_t> block) {
  CAIRN_ASSERT(block.size() == block_bytes);
  std::memset(block.data(), 0, block.size());
  std::memcpy(block.data(), superblock_magic.data(), superblock_magic.size());
  put<std::uint16_t>(block, sb_version, superblock_format_version);
  put<std::uint32_t>(block, sb_block_bytes, block_bytes);
  std::memcpy(block.data() + sb_uuid, sb.device_uuid.data(), sb.device_uuid.size());
  put<std::uint64_t>(block, sb_device, sb.device_id);
  put<std::uint64_t>(block, sb_node, sb.node_id);
  put<std::uint64_t>(block, sb_capacity, sb.capacity_bytes);
  put<std::uint64_t>(block, sb_segment_bytes, sb.segment_bytes);
  put<std::uint64_t>(block, sb_segment_count, sb.segment_count);
  put<std::uint64_t>(block, sb_data_offset, sb.data_offset);
  put<std::uint64_t>(block, sb_generation, sb.generation);
  put<std::uint8_t>(block, sb_clean, sb.clean_shutdown ? 1 : 0);
  put<std::uint64_t>(block, sb_last_sequence, sb.last_sequence);
  put<std::uint32_t>(block, sb_crc, crc32c(block.first(sb_crc)));
}

format_error decode_superblock(std::span<const std::uint8_t> block, superblock& out) {
  if (block.size() != block_bytes) return format_error::bad_field;
  if (std::memcmp(block.data(), superblock_magic.data(), superblock_magic.size()) != 0)
    return format_error::bad_magic;
  if (get<std::uint32_t>(block, sb_crc) != crc32c(block.first(sb_crc)))
    return format_error::bad_header_crc;
  if (get<std::uint16_t>(block, sb_version) != superblock_format_version)
    return format_error::bad_version;
  superblock sb;
  std::memcpy(sb.device_uuid.data(), block.data() + sb_uuid, sb.device_uuid.size());
  sb.device_id = get<std::uint64_t>(block, sb_device);
  sb.node_id = get<std::uint64_t>(block, sb_node);
  sb.capacity_bytes = get<std::uint64_t>(block, sb_capacity);
  sb.segment_bytes = get<std::uint64_t>(block, sb_segment_bytes);
  sb.segment_count = get<std::uint64_t>(block, sb_segment_count);
  sb.data_offset = get<std::uint64_t>(block, sb_data_offset);
  sb.generation = get<std::uint64_t>(block, sb_generation);
  sb.clean_shutdown = get<std::uint8_t>(block, sb_clean) != 0;
  sb.last_sequence = get<std::uint64_t>(block, sb_last_sequence);
  // The geometry must be self-consistent, or offsets computed from it could
  // point outside the device.
  if (get<std::uint32_t>(block, sb_block_bytes) != block_bytes ||
      sb.capacity_bytes < 3 * block_bytes || sb.segment_bytes == 0 ||
      sb.segment_bytes % block_bytes != 0 || sb.data_offset % block_bytes != 0 ||
      sb.segment_count == 0 || sb.data_offset < block_bytes ||
      sb.segment_count > (sb.capacity_bytes - sb.data_offset) / sb.segment_bytes ||
      sb.data_offset + sb.segment_count * sb.segment_bytes >
          backup_superblock_offset(sb.capacity_bytes))
    return format_error::bad_field;
  out = sb;
  return format_error::none;
}

std::uint64_t primary_superblock_offset() {
  return 0;
}

std::uint64_t backup_superblock_offset(std::uint64_t capacity_bytes) {
  return (capacity_bytes / block_bytes - 1) * block_bytes;
}

std::optional<superblock> plan_device(std::uint64_t capacity_bytes, std::uint64_t segment_bytes) {
  if (segment_bytes == 0 || segment_bytes % block_bytes != 0) return std::nullopt;
  if (capacity_bytes < 3 * block_bytes) return std::nullopt;
  superblock sb;
  sb.capacity_bytes = capacity_bytes;
  sb.segment_bytes = segment_bytes;
  sb.data_offset = block_bytes;
  const std::uint64_t usable = backup_superblock_offset(capacity_bytes) - sb.data_offset;
  sb.segment_count = usable / segment_bytes;
  if (sb.segment_count == 0) return std::nullopt;
  return sb;
}

}  // namespace cairn::chunk
