// actors/keys/key_provider.h — the interface between the key manager and
// whatever holds the key that wraps tenant keys: the internal provider (a
// node master key, internal_key_provider.h) now, an external KMS (Vault
// transit, a cloud KMS, an HSM) later.
//
// Owner: the key manager core calls it; the host (key manager actor)
// constructs the provider and keeps it alive. Implementations say whether
// they are thread-safe; the core calls from one thread.
//
// Contract (every implementation):
//  KP1. unwrap(c, wrap(c, k)) returns k, for as long as the provider's
//       master key exists.
//  KP2. unwrap(c', wrap(c, k)) with c' != c is refused: the wrapping is
//       bound to tenant, purpose and epoch, so a record copied under another
//       tenant's id (or another epoch's) does not unwrap.
//  KP3. Any change to the wrapped bytes is refused (authenticated
//       encryption), never unwrapped to a different key.
//  KP4. wrap() output never contains the key in the clear (KR2).
//  KP5. A refusal is the return value nullopt; an exception means the
//       provider itself failed (KMS unreachable, OpenSSL failure) and the
//       call may be retried. Neither leaves key bytes behind in buffers the
//       provider owns.
//
// An external KMS implements wrap as "encrypt this key with context c"
// (Vault transit: encrypt with the context as `context`/associated data)
// and unwrap as "decrypt"; it keeps the master key itself, so destroying the
// KMS key (or the tenant's KMS key, with one per tenant) is the real
// crypto-shred (docs/keys.md, "Shred and its limits").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "actors/keys/secret_bytes.h"
#include "actors/keys/types.h"

namespace cairn::keys {

/// What a wrapping is bound to (KP2).
struct wrap_context {
  tenant_id tenant;
  key_purpose purpose = key_purpose::data;
  key_epoch epoch;
  friend bool operator==(const wrap_context&, const wrap_context&) = default;
};

class key_provider {
 public:
  virtual ~key_provider() = default;
  /// The wrapped form of `key` for `context`, at most wrapped_key_bytes_max
  /// bytes (key_record.h).
  virtual std::vector<std::uint8_t> wrap(const wrap_context& context,
                                         std::span<const std::uint8_t> key) = 0;
  /// The key inside `wrapped`, or nullopt if `wrapped` is not a wrapping for
  /// `context` under this provider's master key (KP2, KP3, KP5).
  virtual std::optional<secret_bytes> unwrap(const wrap_context& context,
                                             std::span<const std::uint8_t> wrapped) = 0;
};

}  // namespace cairn::keys
