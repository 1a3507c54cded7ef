// sim/simulator.h — the deterministic simulator: runs 3 or 5 shard-replica
// actors (the production actors/shard code) under CAF's test_coordinator
// with virtual time, a simulated network and simulated disks, injects
// faults drawn from the seed (swarm testing), runs a client workload, and
// checks invariants on every step and linearizability at the end.
//
// Owner: cairn-sim and the simulation tests. Single-threaded. Same options,
// same trace hash (docs/sim.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::sim {

/// A fault placed at a chosen tick (property-based tests generate these).
enum class scripted_fault_kind : std::uint8_t {
  crash,           // crash `node`; it restarts `duration_ticks` later
  isolate,         // cut `node` off in both directions for `duration_ticks`
  deafen,          // `node` sends but receives nothing for `duration_ticks`
  fsync_fail,      // the next fsync of `node` fails (the replica fail-stops)
  crash_leader,    // as crash, on whichever replica leads at that moment
  isolate_leader,  // as isolate, on whichever replica leads at that moment
};

struct scripted_fault {
  scripted_fault_kind kind = scripted_fault_kind::crash;
  std::uint64_t at_tick = 0;
  std::uint64_t node = 1;  // 1-based
  std::uint64_t duration_ticks = 0;
};

struct sim_options {
  std::uint64_t seed = 1;
  std::size_t replicas = 3;
  /// Simulated ticks with faults enabled; a healing phase follows.
  std::uint64_t ticks = 3000;
  std::uint64_t tick_us = 10'000;  // 10 ms ticks
  /// After faults heal, the cluster must commit a new write and converge
  /// within this many ticks (the liveness bound).
  std::uint64_t heal_ticks_max = 1000;
  std::size_t clients = 4;
  /// Random swarm faults (chaos rounds, loss, disk errors...).
  bool faults = true;
  /// Faults at chosen ticks, applied in addition to (or, with faults =
  /// false, instead of) the random ones.
  std::vector<scripted_fault> schedule;
  /// Test-only mutation: every disk acknowledges fsync without persisting.
  bool lying_disks = false;
  /// Checkers to skip (tests of the checkers themselves).
  std::vector<std::string> disabled_checkers;
  bool verbose = false;
};

struct sim_report {
  bool ok = true;
  std::string failure;
  std::uint64_t trace_hash = 0;
  std::uint64_t simulated_ticks = 0;
  std::uint64_t events = 0;
  std::uint64_t simulated_us = 0;
  std::string fault_profile;
  std::uint64_t ops_ok = 0, ops_failed = 0, ops_unknown = 0;
  std::uint64_t crashes = 0, partitions = 0, fsync_failures = 0, membership_changes = 0;
  std::uint64_t committed_index = 0;
  std::uint64_t heal_ticks = 0;  // ticks from heal to convergence
  std::uint64_t frames_sent = 0, frames_lost = 0;
  std::uint64_t messages_rejected = 0;
  std::string final_membership;  // voters (and learners) as the final leader sees them
};

sim_report run_simulation(const sim_options& opts);

/// Names of the invariant checkers (as in tla/*.cfg), in a fixed order.
std::vector<std::string> checker_names();

}  // namespace cairn::sim
