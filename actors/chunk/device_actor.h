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
//   (stat, key)                          -> (uint8 shard_state; 0 = not stored)
//   (list, after_key, uint32 max)        -> (std::string) up to max (at most
//                                           list_entries_max) shards after
//                                           after_key ("" = from the start),
//                                           list_entry_bytes each
//   (describe)                           -> (std::string JSON) geometry,
//                                           recovery, usage, counters
// An optional observer hears device_events (a corrupt shard, the device
// failing, capacity thresholds crossed) and fresh device_stats after each
// operation: the node turns them into its event log and /metrics.
// Time for the recycle bin comes from the `clock` given at spawn (the
// simulator passes a virtual one).
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
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
using list_atom = caf::atom_constant<caf::atom("list")>;
using stat_atom = caf::atom_constant<caf::atom("stat")>;

/// One entry of a (list) reply: the 40-byte key, then the shard_state.
inline constexpr std::size_t list_entry_bytes = 41;
/// Most entries one (list) reply carries.
inline constexpr std::uint32_t list_entries_max = 4096;

inline constexpr std::size_t shard_key_bytes = 40;
std::string encode_shard_key(const shard_key& key);
std::optional<shard_key> decode_shard_key(const std::string& bytes);

/// Something an operator must hear about (the node's event log).
struct device_event {
  enum class kind : std::uint8_t {
    /// A shard failed its CRC (or the read failed): never returned, marked
    /// for repair (the read is served from parity by the caller).
    corrupt_shard,
    /// The device failed an I/O and stopped (fail-stop); its shards need
    /// repair elsewhere.
    device_failed,
    /// Usage crossed the warn threshold (95%).
    capacity_warning,
    /// A write was refused: the device is full (99%).
    capacity_refused,
  };
  kind what = kind::corrupt_shard;
  std::uint64_t device_id = 0;
  /// The shard concerned (corrupt_shard).
  std::optional<shard_key> key;
};
std::string_view to_string(device_event::kind k);

/// A device's figures for /metrics, published after every operation.
struct device_stats {
  std::uint64_t device_id = 0;
  device_counters counters;
  std::uint64_t segment_bytes = 0;
  std::uint64_t segment_count = 0;
  std::uint64_t segments_in_use = 0;
  bool above_warn_threshold = false;
  bool failed = false;
};

/// The device actor's owner hears events and figures through this. Called
/// on the actor's thread: implementations must be thread-safe and quick.
class device_observer {
 public:
  virtual ~device_observer() = default;
  virtual void on_event(const device_event& event) = 0;
  virtual void on_stats(const device_stats& stats) = 0;
};

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
  /// Optional; must outlive the actor.
  std::shared_ptr<device_observer> observer;
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
  /// What the observer was last told (events fire on transitions).
  bool reported_failed = false;
  bool reported_warn = false;
  bool reported_refusing = false;
  std::uint64_t refused_seen = 0;
  static const char* name;
};

caf::behavior device_actor(caf::stateful_actor<device_actor_state>* self,
                           std::shared_ptr<device_store> store, device_actor_options options);

/// JSON description of a store (for the admin API and tests).
std::string describe_device_json(const device_store& store);

}  // namespace cairn::chunk
