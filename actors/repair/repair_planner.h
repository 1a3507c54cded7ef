// actors/repair/repair_planner.h — what to rebuild for a stripe, and where.
//
// Owner: pure library (no I/O, no clock, no randomness); used by the repair
// actors of the runtime and by the simulator's stripe workload. Thread-safe.
//
// Input: a stripe's stored assignment (index -> device, from its metadata),
// the health of each shard as last observed (a read or scrub), and the
// cluster view. Output: one rebuild per unhealthy shard: the k source
// shards to read and the device to write the rebuilt shard to. Execution
// order (the executor's contract, docs/chunk.md "Repair"): read the sources,
// reconstruct, write the new shard and wait for its sync, switch the
// stripe's metadata to it, and only then retire the old copy.
//
// Invariants:
//  RP1. A plan never targets a device that holds another shard of the
//       stripe, and never lists a shard that is not good as a source.
//  RP2. A stripe with fewer than k good shards is reported unrecoverable,
//       never "repaired" from what is left.
//  RP3. A good shard is never in a plan (repair never discards or rewrites
//       a good copy); the last good copy of an index is kept until its
//       replacement is written and the metadata points at it (executor).
//  RP4. A shard that is corrupt or missing on a device that is still `in`
//       is rewritten in place; one on a failed, out or unknown device moves
//       to the device placement::replace() names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actors/placement/placement.h"

namespace cairn::repair {

enum class shard_health : std::uint8_t {
  good,
  missing,        // the device answered "not found"
  corrupt,        // the device (CRC) or the reader (GCM tag) rejected it
  device_failed,  // the device is gone or failed
};

struct stripe_state {
  placement::stripe_key key;
  std::uint32_t data_shards = 0;     // k
  placement::shard_devices devices;  // index -> device (metadata)
  std::vector<shard_health> health;  // index -> last observation
};

struct shard_rebuild {
  std::uint32_t index = 0;
  std::vector<std::uint32_t> sources;  // k good shard indexes, ascending
  placement::device_id target;
  bool in_place = false;  // target is the shard's current device
};

struct stripe_plan {
  enum class verdict : std::uint8_t { healthy, repair, unrecoverable, no_target };
  verdict outcome = verdict::healthy;
  std::vector<shard_rebuild> rebuilds;
  std::string reason;  // for unrecoverable / no_target, with the numbers
};

stripe_plan plan_stripe(const placement::cluster_view& view, const stripe_state& stripe);

/// Progress of a repair pass, for logs, metrics and `cairn admin`.
struct repair_progress {
  std::uint64_t stripes_seen = 0;
  std::uint64_t stripes_healthy = 0;
  std::uint64_t stripes_degraded = 0;
  std::uint64_t stripes_unrecoverable = 0;
  std::uint64_t shards_planned = 0;
  std::uint64_t shards_rebuilt = 0;
  void count(const stripe_plan& plan);
  /// "repair: 120/400 stripes seen, 3 degraded, 0 unrecoverable, 4/5 shards rebuilt"
  std::string render() const;
};

}  // namespace cairn::repair
