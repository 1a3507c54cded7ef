// runtime/chunk_collector.h — the chunk collector (ADR 0007): deletes from
// the devices the chunks that no object version or upload part references
// any more, as the namespace's garbage queue lists them (NS8).
//
// Owner: the node (runtime/node.cpp) spawns one per node; it works on the
// data shards whose Raft leader is this node. A detached blocking actor
// that wakes every `interval` (or on (collect_now)), and per shard:
//   1. reads the garbage queue (a linearizable namespace read),
//   2. proposes collect_begin for a batch: the namespace marks them and
//      refuses any write naming them meanwhile (chunk_collecting),
//   3. sends (delete) for every shard index of every granted chunk to the
//      node's devices (into their recycle bins: restorable until purge),
//   4. proposes collect_end for the chunks every device answered for, and
//      collect_abort for the others (retried on a later pass).
// On its first pass over a shard it aborts marks left by a collector that
// stopped mid-batch.
//
// Invariants:
//  GC1. A device delete is sent only for a chunk this collector's
//       collect_begin was granted (so no version names it, NS8).
//  GC2. A chunk leaves the garbage queue only after every device answered
//       its deletes (ok or not_found); otherwise it stays queued.
//  GC3. Bounded: at most `batch` chunks per shard per pass, every request
//       with a timeout.
#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "gateways/common/chunk_pipeline.h"

namespace cairn::runtime {

using collect_now_atom = caf::atom_constant<caf::atom("gcnow")>;
using collector_stop_atom = caf::atom_constant<caf::atom("gcstop")>;

struct collector_options {
  std::chrono::milliseconds interval{1000};
  /// A chunk is collected once it has been garbage this long.
  std::chrono::milliseconds grace{5000};
  std::size_t batch = 256;
  std::chrono::milliseconds timeout{30'000};
};

/// What the node's /metrics shows.
struct collector_stats {
  std::atomic<std::uint64_t> passes{0};
  std::atomic<std::uint64_t> chunks_collected{0};
  std::atomic<std::uint64_t> shard_deletes{0};
  std::atomic<std::uint64_t> chunks_retried{0};
  /// Garbage chunks seen in the last pass (all led shards).
  std::atomic<std::uint64_t> pending{0};
};

struct collector_backend {
  /// The data shards whose leader is this node: (shard id, its actor).
  std::function<std::vector<std::pair<std::uint64_t, caf::actor>>()> led_data_shards;
  std::function<std::shared_ptr<const gateway::device_directory>()> devices;
  std::function<std::int64_t()> clock;
};

/// Spawns the collector; stop it with (collector_stop) before the actor
/// system goes.
caf::actor spawn_chunk_collector(caf::actor_system& sys, collector_backend backend,
                                 collector_options options, std::shared_ptr<collector_stats> stats);

}  // namespace cairn::runtime
