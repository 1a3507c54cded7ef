// actors/chunk/device_actor.h — the chunk device actor: a thin CAF wrapper
// that turns messages into calls on one device_store (device_store.h).
//
// Owner: spawned by the node runtime (one per device, `detached`: the store
// does blocking, synced I/O) or by tests. The actor holds no storage
// decisions; it batches: appends already in its mailbox share one write and
// one sync (it sends itself one `flush` per batch, as the shard actor does).
//
// Messages (CAF 0.17 atoms, built-in types only so nothing needs
// registering). A shard key travels as its 40-byte encoding
// (encode_shard_key), payloads as std::string bytes.
//   (put, key, uint64 epoch, payload)    -> (uint8 device_status)
//   (get, key)                           -> (uint8 status, payload, uint64 epoch)
//   (delete, key)                        -> (uint8 status)  into the recycle bin
//   (restore, key)                       -> (uint8 status)
//   (maintain)                           -> ()  purge + one compaction step;
//                                              the actor also sends it to
//                                              itself every maintain_interval
//   (close)                              -> (uint8 status) queued puts, then a
//                                           clean close; afterwards every
//                                           request answers io_error. Owners
//                                           that release the block device and
//                                           index must close first (the exit
//                                           handler closes too, but runs after
//                                           the actor is reported down)
//   (describe)                           -> (std::string JSON) geometry,
//                                           recovery, usage, counters
// Time for the recycle bin comes from the `clock` given at spawn (the
// simulator passes a virtual one).
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/chunk/device_store.h"

namespace cairn::chunk {

using put_atom = caf::atom_constant<caf::atom("put")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using maintain_atom = caf::atom_constant<caf::atom("maintain")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using maintain_timer_atom = caf::atom_constant<caf::atom("mtimer")>;
using close_atom = caf::atom_constant<caf::atom("close")>;

inline constexpr std::size_t shard_key_bytes = 40;
std::string encode_shard_key(const shard_key& key);
std::optional<shard_key> decode_shard_key(const std::string& bytes);

struct device_actor_options {
  /// Appends taken into one batch at most (bounds memory per batch).
  std::size_t batch_appends_max = 64;
  std::uint64_t batch_bytes_max = 64ull << 20;
  std::chrono::milliseconds maintain_interval{1000};
  /// Compaction copies at most this much per maintain step.
  std::uint64_t compaction_step_bytes = 8ull << 20;
  std::size_t purge_step_max = 1024;
  /// Milliseconds since the epoch (recycle-bin timestamps).
  std::function<std::uint64_t()> clock;
};

/// Owns the block device and index through the store's lifetime; they must
/// outlive the actor. The store is closed cleanly when the actor exits.
struct device_actor_state {
  std::shared_ptr<device_store> store;
  device_actor_options options;
  struct pending_put {
    shard_key key;
    std::uint64_t epoch;
    std::string payload;
    caf::response_promise reply;
  };
  std::vector<pending_put> pending;
  std::uint64_t pending_bytes = 0;
  bool flush_scheduled = false;
  static const char* name;
};

caf::behavior device_actor(caf::stateful_actor<device_actor_state>* self,
                           std::shared_ptr<device_store> store, device_actor_options options);

/// JSON description of a store (for the admin API and tests).
std::string describe_device_json(const device_store& store);

}  // namespace cairn::chunk
