// sim/checkers.h — invariant checkers run on every simulator step. Each
// checker's name is the name of an invariant in tla/*.cfg; a test fails if
// a spec names an invariant that has no checker here (tests/tla).
//
// Owner: the simulator. Checkers only observe; a violation is recorded with
// the checker's name and a description, and the run fails.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/raft/core.h"
#include "sim/sim_disk.h"

namespace cairn::sim {

/// What a checker may look at between steps.
struct replica_probe {
  raft::node_id id;
  const raft::core* core = nullptr;  // null while the replica is down
  const sim_disk* disk = nullptr;
  std::uint64_t incarnation = 0;
};

struct cluster_view {
  std::vector<replica_probe> replicas;
  /// Membership as the most recent leader (highest term) sees it; both
  /// halves during a joint configuration.
  std::vector<raft::node_id> voters_incoming;
  std::vector<raft::node_id> voters_outgoing;
};

class checker {
 public:
  virtual ~checker() = default;
  virtual std::string_view name() const = 0;
  virtual void on_ready(raft::node_id id, const raft::core& core, const raft::ready& rd) {}
  virtual void on_apply(raft::node_id id, raft::log_index index, raft::term_t term,
                        std::uint64_t fingerprint) {}
  virtual void on_restore(raft::node_id id, raft::log_index index, std::uint64_t fingerprint) {}
  /// After every simulator step, with the whole cluster in view.
  virtual void on_step(const cluster_view& view) {}
  /// A replica crashed (its volatile state is gone).
  virtual void on_crash(raft::node_id id) {}

  const std::optional<std::string>& violation() const { return violation_; }

 protected:
  void fail(std::string what) {
    if (!violation_) violation_ = std::move(what);
  }

 private:
  std::optional<std::string> violation_;
};

/// Every checker, in a fixed order.
std::vector<std::unique_ptr<checker>> make_checkers();

}  // namespace cairn::sim
