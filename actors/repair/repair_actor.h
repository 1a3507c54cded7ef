// actors/repair/repair_actor.h — the repair actor: runs repair passes over
// a set of chunk device actors, executing the pure planner's plans
// (repair_planner.h): read k good shards, rebuild the missing or bad ones,
// write each to the device placement chose, read it back, and only then
// retire the old copy. Progress is published for `cairn admin repair`,
// /v1/repair and /metrics.
//
// Owner: the node's chunk service spawns one (`detached`: it waits on
// device replies one at a time, never on a hot path) and tells it the
// device set; tests spawn it over their own devices.
//
// Where a stripe lives: until the namespace keeps stripe metadata (issue
// 5), the devices' own inventories are the metadata: a pass lists every
// live device (list_atom), one slice of the chunk-id space at a time (the
// first byte: 256 slices, so memory is bounded by one slice's stripes), and
// an index found on no live device is taken to be on the device placement
// would put it on (a failed one, when that device is lost).
//
// Messages:
//   (repair_start)                  -> (): starts a pass now (or after the
//                                      running one: passes never overlap)
//   (repair_devices, devices_ptr)   -> (): the device set for the next pass
// The node reads progress from the shared repair_status (mutex).
//
// Invariants (docs/chunk.md, "Repair"; RP1-RP4 are the planner's):
//  RA1. A rebuilt shard is written and read back before the old copy is
//       retired (RepairKeepsLastGoodCopy); a plan whose sources fail to
//       read is dropped for this pass, never executed from fewer than k.
//  RA2. A stripe with any shard in the recycle bin is never repaired: a
//       delete in progress is not undone (DeletedNeverResurrected).
//  RA3. Rebuilt bytes are parity-consistent sealed shards (ADR 0004): the
//       repair actor holds no keys and never sees plaintext.
//  RA4. Memory per pass: one slice's inventory plus one stripe's shards.
#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/placement/placement.h"
#include "actors/repair/repair_planner.h"

namespace cairn::repair {

struct repair_device {
  placement::device_id id;
  placement::node_id node;
  caf::actor actor;  // null while the device is failed or gone
  std::uint64_t capacity_bytes = 0;
  std::uint64_t free_bytes = 0;
  placement::device_state state = placement::device_state::in;
};
using repair_devices = std::shared_ptr<const std::vector<repair_device>>;

struct repair_status {
  bool running = false;
  std::uint64_t passes_started = 0;
  std::uint64_t passes_finished = 0;
  /// Of the running (or last) pass.
  std::uint32_t slices_done = 0;
  static constexpr std::uint32_t slices = 256;
  repair_progress progress;
  std::uint64_t bytes_rebuilt = 0;
  std::uint64_t rebuild_failures = 0;
  /// Totals over all passes.
  std::uint64_t shards_rebuilt_total = 0;
  std::uint64_t bytes_rebuilt_total = 0;
};

/// Shared between the actor (writer) and the node (reader).
struct repair_shared {
  /// Set by the owner before it stops the actor: a running pass ends at
  /// the next stripe.
  std::atomic<bool> stop{false};
  mutable std::mutex mutex;
  repair_status status;
  /// Called for notable outcomes ("repair_pass_finished", "shard_rebuilt",
  /// "stripe_unrecoverable"): kind, message. Thread-safe; may be empty.
  std::function<void(const std::string&, const std::string&)> on_event;
  repair_status snapshot() const {
    std::lock_guard lock(mutex);
    return status;
  }
};

using repair_start_atom = caf::atom_constant<caf::atom("rstart")>;
using repair_devices_atom = caf::atom_constant<caf::atom("rdevices")>;

void repair_actor(caf::blocking_actor* self, std::shared_ptr<repair_shared> shared);

}  // namespace cairn::repair

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::repair::repair_devices)
