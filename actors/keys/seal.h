// actors/keys/seal.h — the data-path formats: chunk ids, per-chunk keys and
// sealed shards (docs/keys.md has the byte tables).
//
// Owner: pure library (no I/O, no state); called by the gateways' write
// and read pipelines and by repair, with keys the key manager hands out.
// Thread-safe.
//
//   chunk id   = HMAC-SHA256(dedup key, plaintext chunk)
//   chunk key  = HKDF-SHA256(ikm = data key of epoch E,
//                            salt = "cairn/chunk-key/v1",
//                            info = chunk id || be32(scheme id)), 32 bytes
//   nonce      = be32(shard index) || 8 zero bytes
//   AD         = "cairn/shard/v1" || chunk id || be32(shard index)
//                || be32(scheme id) || be64(epoch)
//   sealed     = AES-256-GCM(chunk key, nonce, AD, shard) = ciphertext || tag
//
// Invariants (numbers as in docs/keys.md):
//  K4. The chunk key is unique per (tenant data key, chunk id, scheme id):
//      the scheme is in the derivation because one chunk encoded under two
//      schemes has different shard i contents.
//  K5. Under one chunk key each shard index is sealed with one plaintext
//      only, so the fixed per-index nonce is never used for two different
//      messages; re-sealing the same shard gives the same bytes (dedup,
//      repair). This rests on shard i being a function of (chunk plaintext,
//      scheme id) alone: a change to a scheme's shard layout must take a new
//      scheme id.
//  K6. open_shard() returns plaintext only if chunk id, scheme, shard index
//      and epoch are the ones the shard was sealed with and no byte of the
//      sealed shard changed; a bad shard is found by its own tag.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "actors/keys/crypto.h"
#include "actors/keys/secret_bytes.h"
#include "actors/keys/types.h"

namespace cairn::keys {

inline constexpr std::size_t tenant_key_bytes = 32;
inline constexpr std::size_t chunk_key_bytes = aes256_key_bytes;
inline constexpr std::string_view chunk_key_salt = "cairn/chunk-key/v1";
inline constexpr std::string_view shard_associated_data_label = "cairn/shard/v1";
inline constexpr std::size_t chunk_key_info_bytes = 32 + 4;
inline constexpr std::size_t shard_associated_data_bytes =
    shard_associated_data_label.size() + 32 + 4 + 4 + 8;
static_assert(shard_associated_data_bytes == 62);
static_assert(chunk_key_info_bytes <= hkdf_info_bytes_max);

/// Where a shard belongs: everything its seal is bound to.
struct shard_address {
  chunk_id chunk{};
  std::uint32_t scheme = 0;  // cairn::chunk::scheme_id
  std::uint32_t index = 0;   // 0 .. k + m - 1
  key_epoch epoch;           // the data key epoch of the chunk key
  friend bool operator==(const shard_address&, const shard_address&) = default;
};

/// REQUIRES: dedup_key.size() == tenant_key_bytes.
chunk_id chunk_id_of(const secret_bytes& dedup_key, std::span<const std::uint8_t> plaintext);
/// A chunk id deduplicated only within `scope` (a namespace shard, so that
/// shard alone counts its references and may collect it; ADR 0007):
/// HMAC-SHA256(dedup key, "cairn/scope" || be64(scope) || plaintext).
/// Scope 0 is the unscoped id above.
/// REQUIRES: dedup_key.size() == tenant_key_bytes.
chunk_id chunk_id_of(const secret_bytes& dedup_key, std::uint64_t scope,
                     std::span<const std::uint8_t> plaintext);

/// REQUIRES: data_key.size() == tenant_key_bytes.
secret_bytes derive_chunk_key(const secret_bytes& data_key, const chunk_id& chunk,
                              std::uint32_t scheme);

/// The HKDF info: chunk id || be32(scheme).
std::array<std::uint8_t, chunk_key_info_bytes> chunk_key_info(const chunk_id& chunk,
                                                              std::uint32_t scheme);
std::array<std::uint8_t, gcm_nonce_bytes> shard_nonce(std::uint32_t shard_index);
std::array<std::uint8_t, shard_associated_data_bytes> shard_associated_data(
    const shard_address& address);

/// Seals one shard into `sealed_out` (gcm_sealed_bytes(shard.size()) bytes).
/// REQUIRES: chunk_key.size() == chunk_key_bytes; the chunk key was derived
///           for address.chunk and address.scheme from the data key of
///           address.epoch (K4, K5).
void seal_shard(const secret_bytes& chunk_key, const shard_address& address,
                std::span<const std::uint8_t> shard, std::span<std::uint8_t> sealed_out);
std::vector<std::uint8_t> seal_shard(const secret_bytes& chunk_key, const shard_address& address,
                                     std::span<const std::uint8_t> shard);

/// Opens one sealed shard into `shard_out` (sealed.size() - 16 bytes); on
/// any status but ok, shard_out is cleansed (K6, C1).
[[nodiscard]] open_status open_shard(const secret_bytes& chunk_key, const shard_address& address,
                                     std::span<const std::uint8_t> sealed,
                                     std::span<std::uint8_t> shard_out);
opened open_shard(const secret_bytes& chunk_key, const shard_address& address,
                  std::span<const std::uint8_t> sealed);

}  // namespace cairn::keys
