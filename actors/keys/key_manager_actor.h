// actors/keys/key_manager_actor.h — the key manager actor: a thin CAF host
// for the pure key_manager core (key_manager.h) and its key_store. One per
// node; gateway sessions ask it for the keys they seal and open chunks with.
//
// Owner: spawned by the node runtime (runtime/chunk_service.h) with an
// LMDB store and the internal provider under the node master key
// (runtime/master_key_file.h), or by tests with a memory store. `detached`:
// every state change syncs its store before the reply.
//
// Messages (CAF 0.17 atoms; tenant ids and epochs as uint64, errors as the
// uint8 of key_error):
//   (tenant_create, tenant)        -> (uint8 error)
//   (rotate, tenant)               -> (uint8 error, uint64 new epoch)
//   (shred, tenant)                -> (uint8 error); then every actor that
//                                     was granted keys of the tenant gets
//                                     (key_revoked, tenant) and must drop them
//   (grant, tenant, uint64 epoch)  -> (uint8 error, key_grant_ptr): the
//                                     dedup key and the data key of `epoch`
//                                     (0: the current epoch). The sender is
//                                     remembered as a holder (see shred)
//   (secret_wrap, tenant, key id, secret_ptr)
//                                  -> (uint8 error, std::string wrapped): an
//                                     S3 access key's secret for the catalog
//   (secret_unwrap, tenant, key id, std::string wrapped)
//                                  -> (uint8 error, secret_ptr)
//   (describe)                     -> (std::string JSON): tenants with state
//                                     and epochs, counters; no key material
//
// Invariants (docs/keys.md):
//  KA1. A reply to a state change is sent only after its records are
//       durable (the core's ready() applied to the store and advance()d),
//       so a key handed out is never one a crash could lose (K2).
//  KA2. A store failure stops the actor (fail-stop, exit reason
//       key_store_failed): it never replies "ok" for a change it could not
//       persist, and never serves keys after one.
//  KA3. Key material leaves only in key_grant and secret_ptr values (and
//       wrapped), never in a log line,
//       a JSON description or an error message.
//  KA4. With a shared store (reload_on_miss), a tenant or epoch unknown to
//       the core is looked up in the store again (once at once, once more
//       after reload_delay, for a replica that lags) before the caller
//       hears unknown_tenant/unknown_epoch; a state change reloads first, so
//       it builds on what other nodes wrote. A reload that fails (store
//       unreadable, records that do not unwrap) keeps the current core.
//       Limit: two nodes changing the SAME tenant at the same moment are
//       not serialised (the batch is not conditional); tenant ids come from
//       the catalog, so creations never collide, and rotation/shred are
//       admin operations.
#pragma once

#include <caf/all.hpp>
#include <memory>
#include <set>
#include <string>

#include "actors/keys/key_manager.h"
#include "actors/keys/key_store.h"

namespace cairn::keys {

/// A holder's copy of one tenant's keys (secret_bytes cleanse on release).
struct key_grant {
  tenant_id tenant;
  key_epoch epoch;
  secret_bytes dedup_key;
  secret_bytes data_key;
};
using key_grant_ptr = std::shared_ptr<const key_grant>;
/// An access key's secret in flight between actors (cleansed on release).
using secret_ptr = std::shared_ptr<const secret_bytes>;

using tenant_create_atom = caf::atom_constant<caf::atom("tcreate")>;
using rotate_atom = caf::atom_constant<caf::atom("rotate")>;
using shred_atom = caf::atom_constant<caf::atom("shred")>;
using grant_atom = caf::atom_constant<caf::atom("grant")>;
using key_revoked_atom = caf::atom_constant<caf::atom("krevoked")>;
using key_describe_atom = caf::atom_constant<caf::atom("kdescribe")>;
using secret_wrap_atom = caf::atom_constant<caf::atom("swrap")>;
using secret_unwrap_atom = caf::atom_constant<caf::atom("sunwrap")>;

/// The exit reason of KA2 (as a caf::error with this code in the
/// key manager's category).
enum class key_actor_exit : std::uint8_t { key_store_failed = 1 };
caf::error make_key_store_failed(const std::string& what);

struct key_manager_parts {
  std::unique_ptr<key_store> store;
  std::unique_ptr<key_provider> provider;
  /// New tenant keys and (for the internal provider) nonces.
  std::unique_ptr<random_source> random;
  key_manager_config config;
  /// Set by load_key_manager().
  std::unique_ptr<key_manager> core;
  /// The store is shared with other nodes' key managers (the system shard,
  /// ADR 0006): reload it before a state change, and when asked about a
  /// tenant or epoch this core does not know (KA4).
  bool reload_on_miss = false;
};

struct key_manager_actor_state {
  /// Owns the store, provider and random source the core refers to.
  std::shared_ptr<key_manager_parts> parts;
  /// Actors granted keys, by tenant (told on shred).
  std::map<tenant_id, std::set<caf::actor_addr>> holders;
  std::uint64_t grants = 0;
  std::uint64_t store_syncs = 0;
  std::uint64_t reloads = 0;
  static const char* name;
};

/// Loads parts.core from the store; throws key_store_error (store unreadable)
/// or std::runtime_error (records malformed, or not wrapped under this
/// provider's master key: the wrong master key file) before spawning, so
/// the node refuses to start with a clear reason.
void load_key_manager(key_manager_parts& parts);

/// REQUIRES: load_key_manager(*parts) succeeded.
caf::behavior key_manager_actor(caf::stateful_actor<key_manager_actor_state>* self,
                                std::shared_ptr<key_manager_parts> parts);

}  // namespace cairn::keys

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::keys::key_grant_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::keys::secret_ptr)
