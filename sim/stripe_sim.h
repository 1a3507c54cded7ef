// sim/stripe_sim.h — the chunk layer under simulation: erasure-coded,
// sealed stripes on simulated devices, with device faults, crashes, repair,
// deletes and compaction, checked on every step against the invariants of
// tla/StripeDurability.tla.
//
// Owner: the simulator (cairn-sim --stripes). Deterministic: every choice
// comes from the seed; the same seed gives the same trace hash.
//
// One run: 8 devices on 4 nodes, a scheme drawn from the seed (replication
// 3x, RS 4+2 or RS 5+2), and a swarm fault profile drawn from the seed. For
// the first two thirds of the steps a workload writes, reads, deletes and
// restores stripes while faults hit: bit flips inside stored shards, read
// errors, crashes that tear unsynced writes, lost devices. Faults are
// budgeted: a stripe never has more than m bad shards at once, because that
// is what the code promises to survive. Repair scrubs and rebuilds
// throughout; in the last third faults stop and repair must bring every
// stripe back to full redundancy.
//
// Checkers (names as the spec's invariants):
//   AckedStripeReadable    an acknowledged live stripe with at most m bad
//                          shards reads back
//   NoCorruptRead          a read returns the acknowledged bytes or fails;
//                          repair writes exactly the shard's bytes
//   RepairKeepsLastGoodCopy  repair never lowers a stripe's good shards and
//                          retires an old copy only after the new one reads
//                          back
//   DeletedNeverResurrected  no shard of a purged stripe is ever readable
//   RepairRestoresRedundancy after faults stop, every live stripe has all
//                          k + m shards good by the end of the run
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::sim {

struct stripe_sim_options {
  std::uint64_t seed = 1;
  std::uint64_t steps = 600;
  bool faults = true;
};

struct stripe_sim_result {
  bool ok = true;
  std::string failure;  // "<checker>: what happened", empty when ok
  std::uint64_t trace_hash = 0;
  std::string scheme;
  std::uint64_t stripes_written = 0;
  std::uint64_t reads_ok = 0;
  std::uint64_t reads_degraded = 0;
  std::uint64_t shards_corrupted = 0;
  std::uint64_t read_errors_injected = 0;
  std::uint64_t crashes = 0;
  std::uint64_t devices_lost = 0;
  std::uint64_t shards_rebuilt = 0;
  std::uint64_t stripes_purged = 0;
  std::uint64_t segments_compacted = 0;
  std::uint64_t writes_misdirected = 0;
  std::uint64_t slow_periods = 0;
  /// Reads that had to wait for a slow device (fewer than k fast shards).
  std::uint64_t reads_waited_on_slow = 0;
};

stripe_sim_result run_stripe_sim(const stripe_sim_options& options);

/// The checkers above, one name each (also printed by --list-checkers).
std::vector<std::string> stripe_checker_names();

}  // namespace cairn::sim
