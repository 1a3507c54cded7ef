// sim/sim_network.h — the simulated network between replicas: every frame
// becomes a delivery event at a virtual time chosen from the seed, or is
// lost; partitions (symmetric or one-way) block links.
//
// Owner: the simulator. Bounded: at most `in_flight_max` frames wait for
// delivery; beyond that, frames are dropped (a full socket buffer).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>

#include "actors/shard/env.h"

namespace cairn::sim {

struct network_faults {
  double loss_rate = 0;
  double duplicate_rate = 0;
  /// Delivery delay in microseconds: base + uniform jitter (jitter reorders).
  std::uint64_t delay_base_us = 500;
  std::uint64_t delay_jitter_us = 1500;
};

class sim_network {
 public:
  using schedule_fn = std::function<void(std::uint64_t delay_us, raft::node_id from,
                                         raft::node_id to, raft::bytes frame)>;

  sim_network(std::uint64_t seed, schedule_fn schedule)
      : random_(seed), schedule_(std::move(schedule)) {}

  void set_faults(const network_faults& f) { faults_ = f; }
  void block(raft::node_id from, raft::node_id to) { blocked_.insert({from.value, to.value}); }
  void unblock(raft::node_id from, raft::node_id to) { blocked_.erase({from.value, to.value}); }
  void heal() { blocked_.clear(); }
  bool is_blocked(raft::node_id from, raft::node_id to) const {
    return blocked_.count({from.value, to.value}) != 0;
  }
  void send(raft::node_id from, raft::node_id to, raft::bytes frame);

  std::size_t in_flight = 0;
  std::size_t in_flight_max = 20'000;
  std::uint64_t sent = 0, lost = 0, duplicated = 0;

  /// The per-replica endpoint handed to a replica's environment.
  class endpoint final : public shard::network {
   public:
    endpoint(sim_network& net, raft::node_id self) : net_(net), self_(self) {}
    void send(raft::node_id to, raft::bytes frame) override {
      net_.send(self_, to, std::move(frame));
    }

   private:
    sim_network& net_;
    raft::node_id self_;
  };

 private:
  bool chance(double p);

  raft::seeded_random random_;
  schedule_fn schedule_;
  network_faults faults_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> blocked_;
};

}  // namespace cairn::sim
