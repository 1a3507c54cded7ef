// actors/chunk/stripe_codec.h — one chunk to its stored shards and back:
// seal the k data pieces, then parity over the sealed shards (ADR 0004);
// read back with data shards first, parity only where a data shard is
// missing or fails its tag.
//
// Owner: pure library (no I/O); used by the gateways' write and read
// pipelines, the simulator and the corruption tests. Thread-safe.
//
// Invariants:
//  SC1. decode() returns the encoded plaintext or nothing: every data shard
//       is authenticated by its GCM tag, rebuilt or not.
//  SC2. decode() succeeds whenever at least k of the given shards are the
//       encoded ones, whatever the others hold (missing, or any bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "actors/chunk/erasure_code.h"
#include "actors/keys/seal.h"

namespace cairn::chunk {

struct stripe_identity {
  keys::chunk_id chunk{};
  std::uint64_t epoch = 0;  // data key epoch of the chunk key
};

using stored_shards = std::vector<std::vector<std::uint8_t>>;

/// The width() shards of a chunk: k sealed data shards, m parity shards.
stored_shards encode_stripe(const erasure_coder& coder, const keys::secret_bytes& chunk_key,
                            const stripe_identity& id, std::span<const std::uint8_t> plaintext);

struct decode_report {
  std::uint32_t shards_used = 0;
  std::uint32_t rebuilt = 0;   // data shards rebuilt from parity
  std::uint32_t rejected = 0;  // shards given but failing their tag
};

/// `shards`: index -> bytes read (nullopt: missing or unreadable).
std::optional<std::vector<std::uint8_t>> decode_stripe(
    const erasure_coder& coder, const keys::secret_bytes& chunk_key, const stripe_identity& id,
    std::uint64_t chunk_bytes, const std::vector<std::optional<std::vector<std::uint8_t>>>& shards,
    decode_report* report = nullptr);

/// The same over views of the bytes read (no copy of the shards: the
/// gateway's read path hands in the device replies as they came).
using shard_view = std::optional<std::span<const std::uint8_t>>;
std::optional<std::vector<std::uint8_t>> decode_stripe(
    const erasure_coder& coder, const keys::secret_bytes& chunk_key, const stripe_identity& id,
    std::uint64_t chunk_bytes, std::span<const shard_view> shards, decode_report* report = nullptr);

}  // namespace cairn::chunk
