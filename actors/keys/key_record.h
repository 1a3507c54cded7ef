// actors/keys/key_record.h — what the key manager persists: one record per
// wrapped tenant key, and a mark per shredded tenant; and the byte form of
// a record's id, used as its key in the node's store (LMDB).
//
// Owner: pure library; the key manager core produces and consumes records,
// the key manager actor (later) stores them. Plain values.
//
// Record key (17 bytes, big-endian, so that a store sorted by key keeps
// each tenant's records together, dedup before data, epochs ascending):
//   [0, 8)   tenant id
//   [8]      purpose (1 dedup, 2 data, 3 shred mark)
//   [9, 17)  epoch (0 for dedup and shred mark; >= 1 for data)
// Record value: the wrapped key as the key provider returned it (the shred
// mark: empty).
//
// Invariants:
//  KR1. decode_record_id() accepts exactly the outputs of
//       encode_record_id() of well-formed ids (well_formed()).
//  KR2. A record never holds a tenant key in the clear: only what
//       key_provider::wrap() returned.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "actors/keys/types.h"

namespace cairn::keys {

inline constexpr std::size_t record_id_bytes = 17;
/// Larger than any provider's wrapping of a 32-byte key (the internal one
/// takes 61 bytes; KMS ciphertext blobs a few hundred).
inline constexpr std::size_t wrapped_key_bytes_max = 4096;

struct key_record_id {
  tenant_id tenant;
  key_purpose purpose = key_purpose::data;
  key_epoch epoch;
  friend auto operator<=>(const key_record_id&, const key_record_id&) = default;
};

/// Dedup keys and shred marks carry epoch 0; data keys an epoch >= 1.
bool well_formed(const key_record_id& id);

struct key_record {
  key_record_id id;
  std::vector<std::uint8_t> wrapped;
  friend bool operator==(const key_record&, const key_record&) = default;
};

/// REQUIRES: well_formed(id).
std::array<std::uint8_t, record_id_bytes> encode_record_id(const key_record_id& id);
/// nullopt unless `bytes` is the encoding of a well-formed id (KR1).
std::optional<key_record_id> decode_record_id(std::span<const std::uint8_t> bytes);

}  // namespace cairn::keys
