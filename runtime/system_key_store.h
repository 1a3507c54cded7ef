// runtime/system_key_store.h — the key manager's store in the system shard
// (ADR 0006): every node sees the same tenant keys. A key_ready becomes one
// batch command (one Raft entry, applied atomically: KS1); records are
// key-value pairs `key/<hex of the 17-byte record id>` -> the wrapped key.
//
// Owner: the key manager actor (its only caller), which runs detached: the
// store waits for the system shard's reply on that thread. Not thread-safe.
//
// Contract: KS1-KS3 (actors/keys/key_store.h). apply() returns once the
// batch is committed by a majority of the system shard's voters and applied
// by the local replica (the shard actor replies then); a refusal or a
// timeout throws key_store_error (the key manager then stops, KA2).
// load_all() reads the local replica, which may lag the leader: the key
// manager reloads when asked for a tenant or epoch it does not know
// (key_manager_parts::reload_on_miss), so records another node wrote are
// found once they reach this replica.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>

#include "actors/keys/key_store.h"

namespace cairn::runtime {

inline constexpr std::string_view key_record_prefix = "key/";

class system_key_store final : public keys::key_store {
 public:
  system_key_store(caf::actor_system& sys, caf::actor system_shard,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// The system shard replica found when needed (null while this node has
  /// none: load_all() then returns nothing, apply() waits up to `timeout`).
  system_key_store(caf::actor_system& sys, std::function<caf::actor()> system_shard,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

  std::vector<keys::key_record> load_all() override;
  void apply(const keys::key_ready& ready) override;

 private:
  caf::actor shard_or_wait();

  caf::actor_system& sys_;
  std::function<caf::actor()> shard_;
  std::chrono::milliseconds timeout_;
};

/// The system shard key of a record id (exposed for tests).
std::string system_key_of(const keys::key_record_id& id);

}  // namespace cairn::runtime
