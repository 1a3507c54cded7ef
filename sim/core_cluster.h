// sim/core_cluster.h — a cluster of pure Raft cores wired together in
// memory, with no actors, threads or clock.
//
// Owner: tests, the exhaustive explorer and the core benchmark. A harness,
// not a product: messages go into one FIFO per destination (or are handed
// to the caller), Ready is carried out at once with perfect storage.
// The CAF-based simulator (sim/simulator.h) is the one with faults.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "actors/raft/core.h"

namespace cairn::sim {

/// What one replica persisted: enough to rebuild the core after a crash.
struct memory_storage {
  raft::hard_state hard;
  raft::snapshot snap;
  raft::log_index offset;
  raft::term_t offset_term;
  std::vector<raft::entry> entries;  // offset+1 ...
  raft::conf_state initial_conf;

  void persist(const raft::ready& rd);
  raft::restored_state restore() const;
};

class core_cluster {
 public:
  /// Voters 1..n; `configure` may adjust each node's config.
  core_cluster(std::size_t n, std::uint64_t seed,
               std::function<void(raft::config&)> configure = {});

  raft::core& node(std::uint64_t id) { return *nodes_.at(raft::node_id{id}).core; }
  std::vector<raft::node_id> ids() const;

  /// Carries out every pending Ready of every node; sent messages are
  /// queued (or dropped if `drop` says so).
  void process_ready();
  /// Delivers queued messages until none are left (bounded by `steps_max`).
  /// Returns the number delivered.
  std::size_t deliver_all(std::size_t steps_max = 1'000'000);
  void tick_all();
  /// Elects node `id` (campaign + deliver).
  void elect(std::uint64_t id);
  raft::node_id leader() const;

  /// Messages waiting for delivery, in send order.
  std::deque<raft::message>& queue() { return queue_; }
  /// Crashes a node (keeps its storage) and restarts it.
  void restart(std::uint64_t id);
  /// Adds a node with an empty log (to join through a conf change).
  void add_node(std::uint64_t id, raft::conf_state initial);
  void isolate(std::uint64_t id, bool isolated) { isolated_[raft::node_id{id}] = isolated; }

  /// Applied normal entries per node, in order.
  const std::vector<raft::entry>& applied(std::uint64_t id) const {
    return nodes_.at(raft::node_id{id}).applied;
  }
  const std::vector<raft::read_state>& reads(std::uint64_t id) const {
    return nodes_.at(raft::node_id{id}).reads;
  }
  std::uint64_t delivered() const { return delivered_; }

 private:
  struct replica {
    raft::config cfg;
    memory_storage storage;
    std::unique_ptr<raft::core> core;
    std::vector<raft::entry> applied;
    std::vector<raft::read_state> reads;
  };
  void handle_ready(replica& r);

  std::map<raft::node_id, replica> nodes_;
  std::map<raft::node_id, bool> isolated_;
  std::deque<raft::message> queue_;
  std::function<void(raft::config&)> configure_;
  std::uint64_t seed_;
  std::uint64_t delivered_ = 0;
};

}  // namespace cairn::sim
