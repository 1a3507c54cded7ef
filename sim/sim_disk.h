// sim/sim_disk.h — a simulated disk for one replica: writes land in a
// volatile cache and become durable on sync(); a crash loses the volatile
// part, possibly keeping a torn prefix of it; write and fsync errors are
// injected at the seed's rates.
//
// Owner: the simulator (one per replica, outliving the replica's actor).
// Invariants:
//  D1. durable() only changes in sync() and crash().
//  D2. After crash(), the durable state is the state at the last
//      successful sync plus a prefix (in write order) of later writes.
#pragma once

#include <vector>

#include "actors/shard/env.h"
#include "sim/core_cluster.h"

namespace cairn::sim {

struct disk_faults {
  double write_error_rate = 0;
  double fsync_error_rate = 0;
  /// On crash, probability that a prefix of unsynced writes survives.
  double torn_write_rate = 0;
  /// A broken disk whose fsync reports success without making anything
  /// durable. Never drawn by swarm profiles: tests use it to show that the
  /// checkers catch lost acknowledged writes.
  bool lying_fsync = false;
};

class sim_disk final : public shard::disk {
 public:
  sim_disk(raft::conf_state initial, std::uint64_t seed);

  raft::restored_state load() override;
  shard::io_status write(const raft::ready& rd) override;
  shard::io_status sync() override;

  /// The machine lost power: unsynced writes vanish (or survive torn).
  void crash();
  void set_faults(const disk_faults& f) { faults_ = f; }
  /// The next sync() fails (a scripted fault).
  void fail_next_sync() { fail_next_sync_ = true; }
  /// A failed fsync or write was reported; the replica will stop.
  bool failed() const { return failed_; }
  void clear_failed() { failed_ = false; }

  const memory_storage& durable() const { return durable_; }
  /// Last durable log index (entries or snapshot).
  raft::log_index durable_last_index() const;
  /// Whether the durable state holds (index, term).
  bool durable_has(raft::log_index index, raft::term_t term) const;

 private:
  bool chance(double p);

  memory_storage durable_;
  std::vector<raft::ready> unsynced_;
  disk_faults faults_;
  raft::seeded_random random_;
  bool failed_ = false;
  bool fail_next_sync_ = false;
};

}  // namespace cairn::sim
