// actors/keys/key_manager.h — the pure core of the key manager: each
// tenant's dedup key and data keys (one per epoch), wrapped through a
// key_provider, rotated by epoch, crypto-shredded on request.
//
// Owner: exactly one host (the key manager actor, the simulator, a test).
// Not thread-safe; the host serialises every call.
//
// Shape (as the Raft core): create_tenant(), rotate() and shred() change
// state; ready() hands out the records to persist and delete; the host
// writes them in ONE atomic transaction, syncs it, and acknowledges with
// advance(). A new key is handed out only after advance(): a chunk sealed
// under a key that a crash could lose would be lost with it. load()
// rebuilds the core from the persisted records after a restart.
//
// No clock, I/O, threads or global randomness inside: new keys come from the
// injected random_source, wrapping from the injected key_provider. The same
// seed and the same calls give the same records.
//
// Invariants (numbers as in docs/keys.md; K4-K6 are in seal.h):
//  K1. Tenant keys leave the core only (a) wrapped, in records, and (b) as
//      copies to callers that asked for them; a record never holds a key in
//      the clear (KR2).
//  K2. Every key handed out (or used for a chunk id or chunk key) has a
//      durable record: its put was in a ready() that has been advance()d.
//  K3. A live tenant has exactly one dedup key and at least one data epoch;
//      epochs only grow; current_epoch() is the newest durable one.
//  K7. After shred(t), every call about t fails with tenant_shredded, the
//      core holds no key material of t (cached keys are cleansed, wrapped
//      bytes dropped), and the next ready() deletes every record of t that
//      was or may be persisted and puts a shred mark; load() of records with
//      a shred mark yields a shredded tenant (and deletes leftovers).
//  K8. A ready() never puts and deletes the same record id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "actors/keys/key_provider.h"
#include "actors/keys/key_record.h"
#include "actors/keys/random_source.h"
#include "actors/keys/seal.h"
#include "actors/keys/secret_bytes.h"
#include "actors/keys/types.h"

namespace cairn::keys {

enum class key_error : std::uint8_t {
  none,
  unknown_tenant,
  tenant_exists,
  /// The tenant was crypto-shredded; its keys are gone for good.
  tenant_shredded,
  unknown_epoch,
  /// The key exists but its record is not durable yet (advance() pending).
  not_durable,
  /// The provider refused a stored record: tampered, or wrapped under
  /// another master key.
  unwrap_failed,
  tenants_max_reached,
  epochs_max_reached,
  /// load(): a malformed, duplicate or incomplete record set.
  bad_record,
};
std::string_view to_string(key_error e);

template <class T>
struct key_result {
  key_error error = key_error::none;
  T value{};
  bool ok() const { return error == key_error::none; }
};

struct key_manager_config {
  /// Tenants the core tracks, shredded ones included (their marks stay).
  std::size_t tenants_max = std::size_t{1} << 20;
  /// Data key epochs per tenant: rotation is an operator's act, rare.
  std::uint64_t epochs_per_tenant_max = std::uint64_t{1} << 16;
};

/// Effects of one ready(): apply all of it in one atomic transaction (puts
/// insert or overwrite by id), sync, then advance().
struct key_ready {
  std::vector<key_record> puts;
  std::vector<key_record_id> deletes;
  bool empty() const { return puts.empty() && deletes.empty(); }
};

enum class tenant_state : std::uint8_t {
  unknown,
  /// Created, records not durable yet.
  pending,
  active,
  shredded,
};

class key_manager {
 public:
  /// `provider` and `random` must outlive the core.
  key_manager(key_manager_config config, key_provider& provider, random_source& random);
  key_manager(const key_manager&) = delete;
  key_manager& operator=(const key_manager&) = delete;

  // --- state changes; effects leave through ready() ---------------------------

  /// Rebuilds the core from persisted records (any order). Keys are
  /// unwrapped lazily, on first use. Leftover records of a shredded tenant
  /// are queued for deletion. On error the core stays empty.
  /// REQUIRES: a fresh core (nothing loaded, created or queued).
  [[nodiscard]] key_error load(std::span<const key_record> records);

  /// A new tenant with a dedup key and data epoch 1 (usable after advance()).
  [[nodiscard]] key_error create_tenant(tenant_id tenant);

  /// A new data epoch (usable after advance()); returns its number. New
  /// chunks then use it; older epochs stay readable.
  [[nodiscard]] key_result<key_epoch> rotate(tenant_id tenant);

  /// Crypto-shred (K7). Fails only for an unknown or already shredded tenant.
  [[nodiscard]] key_error shred(tenant_id tenant);

  // --- effects -------------------------------------------------------------------

  bool has_ready() const;
  /// Hands out the queued effects (and marks them in flight).
  /// REQUIRES: no ready() outstanding (advance() since the last one).
  key_ready ready();
  /// The last ready() is durable.
  /// REQUIRES: a ready() outstanding.
  void advance();

  // --- keys (only durable ones, K2) --------------------------------------------

  tenant_state state_of(tenant_id tenant) const;
  /// The epoch new chunks are sealed under.
  key_result<key_epoch> current_epoch(tenant_id tenant) const;
  /// Every durable data epoch, ascending.
  key_result<std::vector<key_epoch>> epochs(tenant_id tenant) const;

  key_result<chunk_id> chunk_id_of(tenant_id tenant, std::span<const std::uint8_t> plaintext);
  key_result<secret_bytes> chunk_key(tenant_id tenant, key_epoch epoch, const chunk_id& chunk,
                                     std::uint32_t scheme);
  /// Copies of tenant keys for a caller that computes chunk ids / chunk keys
  /// itself (a gateway session). A later shred() cannot reach such copies:
  /// the host must tell their holders to drop them.
  key_result<secret_bytes> dedup_key(tenant_id tenant);
  key_result<secret_bytes> data_key(tenant_id tenant, key_epoch epoch);

  /// An S3 access key's secret wrapped for the catalog (ADR 0006, CT4),
  /// bound to the tenant and to the key id (KP2): a wrapped secret copied
  /// to another key id or tenant does not unwrap. Only for an active tenant.
  key_result<std::vector<std::uint8_t>> wrap_access_secret(tenant_id tenant,
                                                           std::string_view key_id,
                                                           std::span<const std::uint8_t> secret);
  key_result<secret_bytes> unwrap_access_secret(tenant_id tenant, std::string_view key_id,
                                                std::span<const std::uint8_t> wrapped);

  /// Cleanses every unwrapped key kept in memory (they are unwrapped again
  /// on next use): a bound on key material in memory for an idle tenant.
  void forget_cached_keys(tenant_id tenant);
  std::size_t cached_key_count() const;
  std::size_t tenant_count() const { return tenants_.size(); }
  /// Every tenant the core tracks (shredded ones included), ascending.
  std::vector<tenant_id> tenants() const;

  /// Checks K3, K7, K8 and the bookkeeping K2 rests on (every queued put
  /// is a pending record; a key without a durable record stays in memory)
  /// over the whole core; O(tenants + epochs). Every state change checks
  /// the tenant it touched. K1 and K2 themselves are checked by the tests.
  void check_invariants() const;

 private:
  enum class record_state : std::uint8_t { pending, in_flight, durable };

  struct stored_key {
    std::vector<std::uint8_t> wrapped;
    record_state state = record_state::pending;
    /// Empty until unwrapped (or created here).
    secret_bytes cached;
  };

  struct tenant_keys {
    bool shredded = false;
    stored_key dedup;
    std::map<key_epoch, stored_key> data;
  };

  // The tenant's keys, or the error for a call about it.
  key_result<tenant_keys*> live_tenant(tenant_id tenant);
  key_result<const tenant_keys*> live_tenant(tenant_id tenant) const;
  // The unwrapped key of a durable record (unwrapping it on first use).
  key_result<const secret_bytes*> data_key_ref(tenant_id tenant, key_epoch epoch);
  key_result<const secret_bytes*> usable_key(tenant_id tenant, key_purpose purpose, key_epoch epoch,
                                             stored_key& key);
  stored_key new_key(const wrap_context& context);
  void queue_put(const key_record_id& id, const std::vector<std::uint8_t>& wrapped);
  void check_tenant(tenant_id tenant, const tenant_keys& keys) const;

  key_manager_config config_;
  key_provider& provider_;
  random_source& random_;
  std::map<tenant_id, tenant_keys> tenants_;
  key_ready queued_;
  std::optional<key_ready> in_flight_;
};

}  // namespace cairn::keys
