// actors/keys/internal_key_provider.h — the built-in key_provider: wraps
// tenant keys with AES-256-GCM under a 32-byte node master key.
//
// Owner: the key manager actor's host (the runtime loads the master key from
// the node's data directory; tests and the simulator make one from a seed).
// Not thread-safe: the random source it draws nonces from has one owner.
//
// Wrapped format (61 bytes for a 32-byte key):
//   [0]        format version (1)
//   [1, 13)    nonce, 12 random bytes from the injected random_source
//   [13, n-16) ciphertext (the key's length)
//   [n-16, n)  GCM tag
// Associated data (30 bytes): "cairn/wrap/v1" || be64(tenant) || purpose
//   (1 byte) || be64(epoch).
//
// Invariants: the key_provider contract KP1-KP5, and
//  IK1. Nonces are random, 96 bits: safe for up to 2^32 wraps under one
//       master key (NIST SP 800-38D 8.3); one wrap per tenant key is many
//       orders of magnitude below that (tenants_max * epochs_per_tenant_max
//       in key_manager.h).
//  IK2. The master key is held only in a secret_bytes and never copied out.
#pragma once

#include <array>
#include <string_view>

#include "actors/keys/crypto.h"
#include "actors/keys/key_provider.h"
#include "actors/keys/random_source.h"

namespace cairn::keys {

class internal_key_provider final : public key_provider {
 public:
  static constexpr std::size_t master_key_bytes = aes256_key_bytes;
  static constexpr std::uint8_t format_version = 1;
  static constexpr std::string_view associated_data_label = "cairn/wrap/v1";
  static constexpr std::size_t associated_data_bytes = associated_data_label.size() + 8 + 1 + 8;
  static constexpr std::size_t wrapped_overhead_bytes = 1 + gcm_nonce_bytes + gcm_tag_bytes;
  /// Longest key it wraps (tenant keys are 32 bytes).
  static constexpr std::size_t key_bytes_max = 64;

  /// REQUIRES: master_key.size() == master_key_bytes. `random` must outlive
  /// the provider.
  internal_key_provider(secret_bytes master_key, random_source& random);

  /// REQUIRES: 1 <= key.size() <= key_bytes_max.
  std::vector<std::uint8_t> wrap(const wrap_context& context,
                                 std::span<const std::uint8_t> key) override;
  std::optional<secret_bytes> unwrap(const wrap_context& context,
                                     std::span<const std::uint8_t> wrapped) override;

  static std::array<std::uint8_t, associated_data_bytes> associated_data(
      const wrap_context& context);

 private:
  secret_bytes master_key_;
  random_source& random_;
};

}  // namespace cairn::keys
