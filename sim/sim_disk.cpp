// sim/sim_disk.cpp — see sim_disk.h.
#include "sim/sim_disk.h"

namespace cairn::sim {

using namespace cairn::raft;

sim_disk::sim_disk(conf_state initial, std::uint64_t seed) : random_(seed) {
  durable_.initial_conf = std::move(initial);
}

bool sim_disk::chance(double p) {
  if (p <= 0) return false;
  return static_cast<double>(random_.next() >> 11) / static_cast<double>(1ULL << 53) < p;
}

restored_state sim_disk::load() {
  return durable_.restore();
}

shard::io_status sim_disk::write(const ready& rd) {
  if (chance(faults_.write_error_rate)) {
    failed_ = true;
    return shard::io_status::failed;
  }
  // Keep only what persistence needs.
  ready copy;
  copy.hard = rd.hard;
  copy.entries = rd.entries;
  copy.snap = rd.snap;
  copy.compaction = rd.compaction;
  unsynced_.push_back(std::move(copy));
  return shard::io_status::ok;
}

shard::io_status sim_disk::sync() {
  if (fail_next_sync_ || chance(faults_.fsync_error_rate)) {
    fail_next_sync_ = false;
    // After a failed fsync the page cache state is unknown (fsyncgate):
    // the replica stops, and crash() decides what survived.
    failed_ = true;
    return shard::io_status::failed;
  }
  if (faults_.lying_fsync) return shard::io_status::ok;  // nothing became durable
  for (const auto& rd : unsynced_) durable_.persist(rd);
  unsynced_.clear();
  return shard::io_status::ok;
}

void sim_disk::crash() {
  if (!unsynced_.empty() && chance(faults_.torn_write_rate)) {
    // A prefix of the writes reached the platter; the last of them torn
    // mid-way: only a prefix of its entries, and not its hard state.
    const std::size_t keep = random_.below(unsynced_.size());
    for (std::size_t i = 0; i < keep; ++i) durable_.persist(unsynced_[i]);
    ready torn = unsynced_[keep];
    torn.hard.reset();
    if (!torn.entries.empty()) torn.entries.resize(random_.below(torn.entries.size() + 1));
    if (!torn.snap && !torn.compaction) durable_.persist(torn);
  }
  unsynced_.clear();
}

log_index sim_disk::durable_last_index() const {
  if (!durable_.entries.empty()) return durable_.entries.back().index;
  return durable_.offset;
}

bool sim_disk::durable_has(log_index index, term_t term) const {
  if (index <= durable_.offset) {
    // Covered by the compaction point or snapshot: committed entries only.
    return index == durable_.offset ? durable_.offset_term == term : true;
  }
  if (durable_.entries.empty()) return false;
  const auto& first = durable_.entries.front();
  if (index < first.index || index > durable_.entries.back().index) return false;
  return durable_.entries[index.value - first.index.value].term == term;
}

}  // namespace cairn::sim
