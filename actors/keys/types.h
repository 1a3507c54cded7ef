// actors/keys/types.h — value types of the key subsystem: tenant ids, key
// epochs, chunk ids, key purposes.
//
// Owner: shared by everything in actors/keys and its callers (gateways,
// chunk devices). Plain values; safe to copy between threads.
//
// Strong types keep a tenant id from being passed as an epoch:
// `tenant_id{3} == key_epoch{3}` does not compile.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string_view>

namespace cairn::keys {

/// A tenant, as the namespace names it. Enters the wrapping associated data
/// and the persisted record keys as 8 big-endian bytes.
struct tenant_id {
  std::uint64_t value = 0;
  constexpr tenant_id() = default;
  constexpr explicit tenant_id(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(tenant_id, tenant_id) = default;
};

/// A generation of a tenant's data key. Data epochs count from 1; epoch 0
/// names no data key (the dedup key's records carry it). The chunk record
/// header carries the epoch a shard was sealed under.
struct key_epoch {
  std::uint64_t value = 0;
  constexpr key_epoch() = default;
  constexpr explicit key_epoch(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(key_epoch, key_epoch) = default;
};

inline constexpr key_epoch no_epoch{0};
inline constexpr key_epoch first_epoch{1};

/// HMAC-SHA256(tenant dedup key, chunk plaintext). The same type as
/// cairn::chunk::chunk_id (actors/chunk/record.h).
using chunk_id = std::array<std::uint8_t, 32>;

/// What a stored tenant key is for. Persisted (record keys and wrapping
/// associated data): never renumber.
enum class key_purpose : std::uint8_t {
  /// The key of chunk ids; one per tenant, never rotated.
  dedup = 1,
  /// A data key: one per epoch; per-chunk keys derive from it.
  data = 2,
  /// Not a key: the mark a shredded tenant leaves (empty value).
  shred_mark = 3,
  /// Not a stored key: the wrapping of an S3 access key's secret in the
  /// catalog (ADR 0006), bound to its key id through the epoch field.
  access_secret = 4,
};
std::string_view to_string(key_purpose p);

}  // namespace cairn::keys
