// actors/shard/env.h — the environment a shard replica acts through: its
// disk, the network to its peers, randomness, a log sink and an observer.
//
// Owner: implemented by runtime/ (real files, TCP, spdlog) and by sim/
// (simulated disks that lose unsynced writes, a faulty network, checkers).
// The replica actor holds plain pointers; the host keeps the objects alive
// longer than the actor.
//
// Time is not here on purpose: a replica is driven by tick messages sent by
// its node's ticker (runtime/: a timer; sim/: virtual time), so one ticker
// serves every shard of a node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "actors/raft/core.h"

namespace cairn::shard {

enum class io_status : std::uint8_t { ok, failed };

/// Durable storage of one replica's Raft state (log, hard state, snapshot).
class disk {
 public:
  virtual ~disk() = default;
  /// What survived; called once when the replica starts.
  virtual raft::restored_state load() = 0;
  /// Writes the Ready's snapshot or compaction, entries (replacing any
  /// stored entries from the first new index on) and hard state. Not
  /// durable until sync() returns ok.
  virtual io_status write(const raft::ready& rd) = 0;
  /// Makes every write so far durable. A failure is fatal for the replica
  /// (it stops and is restarted from what is durable: never retry fsync).
  virtual io_status sync() = 0;
  /// Whether new client writes may be proposed. A store that is nearly
  /// full refuses them (with `why`) and keeps its reserve for Raft's own
  /// traffic, so what was acknowledged stays replicated and the replica
  /// recovers by itself when space returns.
  virtual bool accepting_writes(std::string& why) const { return true; }
};

/// Sends an encoded Raft frame to a peer replica of the same shard. Best
/// effort: frames may be lost, duplicated, delayed or reordered.
class network {
 public:
  virtual ~network() = default;
  virtual void send(raft::node_id to, raft::bytes frame) = 0;
};

class random_source {
 public:
  virtual ~random_source() = default;
  virtual std::uint64_t next() = 0;
};

enum class log_level : std::uint8_t { debug, info, warn, error };

class log_sink {
 public:
  virtual ~log_sink() = default;
  virtual void log(log_level level, std::string_view what) = 0;
};

/// Sees every carried-out Ready; the simulator's checkers hang off this.
class replica_observer {
 public:
  virtual ~replica_observer() = default;
  /// After the Ready was persisted, sent and applied, before advance().
  virtual void on_ready(raft::node_id id, const raft::core& core, const raft::ready& rd) = 0;
  /// After applying the entry at `index`; `fingerprint` is the state
  /// machine's fingerprint afterwards.
  virtual void on_apply(raft::node_id id, raft::log_index index, raft::term_t term,
                        std::uint64_t fingerprint) = 0;
  /// After restoring the state machine from a snapshot.
  virtual void on_restore(raft::node_id id, raft::log_index index, std::uint64_t fingerprint) = 0;
};

/// Whether a peer node is up, as the host's transport sees it (node-level
/// liveness: one ping per node pair instead of heartbeats per shard).
class peer_liveness {
 public:
  virtual ~peer_liveness() = default;
  virtual bool alive(raft::node_id node) const = 0;
};

struct replica_summary;

/// Receives a summary of the replica after every batch of work (for the
/// host's admin API and metrics, without asking the actor).
class status_sink {
 public:
  virtual ~status_sink() = default;
  virtual void publish(const replica_summary& s) = 0;
};

struct environment {
  disk* storage = nullptr;
  network* net = nullptr;
  random_source* random = nullptr;
  log_sink* log = nullptr;
  replica_observer* observer = nullptr;  // may be null
  /// With liveness, a replica asks for ticks only when it needs them
  /// (replica::wants_ticks); without (the simulator), it always ticks.
  const peer_liveness* liveness = nullptr;  // may be null
  status_sink* status = nullptr;            // may be null
};

}  // namespace cairn::shard
