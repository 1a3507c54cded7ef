// sim/checkers.cpp — see checkers.h. One class per invariant; the numbers
// in comments refer to docs/sim.md.
#include "sim/checkers.h"

#include <algorithm>
#include <functional>

namespace cairn::sim {

using namespace cairn::raft;

namespace {

std::string str(const char* a, std::uint64_t x) {
  return std::string(a) + std::to_string(x);
}

std::uint64_t hash_bytes(const bytes& b) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : b) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

/// ElectionSafety: at most one leader per term (§5.2).
class election_safety final : public checker {
 public:
  std::string_view name() const override { return "ElectionSafety"; }
  void on_ready(node_id id, const core& c, const ready&) override {
    if (c.state() != role::leader) return;
    auto [it, inserted] = leader_of_term_.emplace(c.term().value, id.value);
    if (!inserted && it->second != id.value) {
      fail(str("two leaders in term ", c.term().value) + ": nodes " + std::to_string(it->second) +
           " and " + std::to_string(id.value));
    }
  }

 private:
  std::map<std::uint64_t, std::uint64_t> leader_of_term_;
};

/// LeaderAppendOnly: a leader never overwrites or deletes its entries.
class leader_append_only final : public checker {
 public:
  std::string_view name() const override { return "LeaderAppendOnly"; }
  void on_ready(node_id id, const core& c, const ready& rd) override {
    auto& t = track_[id.value];
    if (c.state() != role::leader) {
      t = {};
      return;
    }
    if (t.term != c.term().value) {
      t.term = c.term().value;
      t.last = rd.entries.empty() ? c.log().last_index().value : rd.entries.front().index.value - 1;
    }
    if (!rd.entries.empty() && rd.entries.front().index.value != t.last + 1) {
      fail(str("leader ", id.value) +
           str(" rewrote its log at index ", rd.entries.front().index.value) +
           str(" in term ", t.term));
    }
    t.last = c.log().last_index().value;
  }
  void on_crash(node_id id) override { track_.erase(id.value); }

 private:
  struct leadership {
    std::uint64_t term = 0;
    std::uint64_t last = 0;
  };
  std::map<std::uint64_t, leadership> track_;
};

/// LogMatching: same (index, term) means same entry and same prefix. By
/// induction it is enough that every (index, term) always carries the same
/// payload and follows the same previous term.
class log_matching final : public checker {
 public:
  std::string_view name() const override { return "LogMatching"; }
  void on_ready(node_id id, const core& c, const ready& rd) override {
    for (const auto& e : rd.entries) {
      auto prev = c.log().term(e.index - 1);
      const std::uint64_t h = hash_bytes(e.data) ^ static_cast<std::uint64_t>(e.type);
      auto key = std::make_pair(e.index.value, e.term.value);
      auto it = seen_.find(key);
      if (it == seen_.end()) {
        seen_.emplace(key, record{h, prev ? prev->value : ~0ULL});
        continue;
      }
      if (it->second.payload != h) {
        fail(str("entry ", e.index.value) + str(" of term ", e.term.value) +
             str(" differs on node ", id.value));
      }
      if (prev && it->second.prev_term != ~0ULL && it->second.prev_term != prev->value) {
        fail(str("entry ", e.index.value) + str(" of term ", e.term.value) +
             str(" follows a different previous term on node ", id.value));
      }
    }
  }

 private:
  struct record {
    std::uint64_t payload;
    std::uint64_t prev_term;
  };
  std::map<std::pair<std::uint64_t, std::uint64_t>, record> seen_;
};

/// Remembers every committed (index, term); shared by the checkers below.
struct committed_history {
  std::map<std::uint64_t, std::uint64_t> term_at;  // index -> term
  std::uint64_t max_index = 0;

  void observe(const cluster_view& view, const std::function<void(std::string)>& fail) {
    for (const auto& r : view.replicas) {
      if (!r.core) continue;
      const auto& log = r.core->log();
      for (std::uint64_t i = std::max(max_index, log.offset().value) + 1;
           i <= log.committed().value; ++i) {
        auto t = log.term(log_index{i});
        if (!t) continue;
        auto [it, inserted] = term_at.emplace(i, t->value);
        if (!inserted && it->second != t->value) {
          fail(str("index ", i) + " committed with two terms");
        }
      }
      max_index = std::max(max_index, log.committed().value);
    }
  }
};

/// LeaderCompleteness: a leader's log holds every committed entry (§5.4).
class leader_completeness final : public checker {
 public:
  std::string_view name() const override { return "LeaderCompleteness"; }
  void on_step(const cluster_view& view) override {
    history_.observe(view, [this](std::string s) { fail(std::move(s)); });
    for (const auto& r : view.replicas) {
      if (!r.core || r.core->state() != role::leader) continue;
      const std::uint64_t term = r.core->term().value;
      if (checked_[r.id.value] == term) continue;  // checked when it took office
      checked_[r.id.value] = term;
      const auto& log = r.core->log();
      for (auto it = history_.term_at.upper_bound(log.offset().value); it != history_.term_at.end();
           ++it) {
        auto t = log.term(log_index{it->first});
        if (!t || t->value != it->second) {
          fail(str("leader ", r.id.value) + str(" of term ", term) +
               str(" lacks committed entry ", it->first));
          return;
        }
      }
    }
  }

 private:
  committed_history history_;
  std::map<std::uint64_t, std::uint64_t> checked_;
};

/// StateMachineSafety: no two replicas apply different entries at an index,
/// and they reach the same state machine fingerprint after it.
class state_machine_safety final : public checker {
 public:
  std::string_view name() const override { return "StateMachineSafety"; }
  void on_apply(node_id id, log_index index, term_t term, std::uint64_t fp) override {
    auto [it, inserted] = applied_.emplace(index.value, std::make_pair(term.value, fp));
    if (!inserted && it->second != std::make_pair(term.value, fp)) {
      fail(str("node ", id.value) +
           str(" applied a different entry or state at index ", index.value));
    }
  }
  void on_restore(node_id id, log_index index, std::uint64_t fp) override {
    auto it = applied_.find(index.value);
    if (it != applied_.end() && it->second.second != fp) {
      fail(str("node ", id.value) +
           str(" restored a snapshot whose state differs at index ", index.value));
    }
  }

 private:
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> applied_;
};

/// CommittedIsDurable: every committed entry is fsync'd on a quorum of the
/// configuration it was committed in. A conf change takes effect when it is
/// applied, possibly in the same step as the commit that is observed, so
/// the configuration of the previous step is accepted too.
class committed_is_durable final : public checker {
 public:
  std::string_view name() const override { return "CommittedIsDurable"; }
  void on_step(const cluster_view& view) override {
    history_.observe(view, [this](std::string s) { fail(std::move(s)); });
    if (history_.max_index != 0 && history_.max_index != checked_index_) {
      // Log Matching makes the highest committed entry enough: a durable
      // log holding it holds the prefix.
      const std::uint64_t i = history_.max_index;
      auto it = history_.term_at.find(i);
      if (it != history_.term_at.end()) {
        auto durable_on = [&](const std::vector<node_id>& ids) {
          std::size_t n = 0;
          for (const auto& r : view.replicas) {
            if (std::find(ids.begin(), ids.end(), r.id) == ids.end()) continue;
            if (r.disk && r.disk->durable_has(log_index{i}, term_t{it->second})) ++n;
          }
          return n;
        };
        auto quorum_of = [&](const std::vector<node_id>& in, const std::vector<node_id>& out) {
          return durable_on(in) >= in.size() / 2 + 1 &&
                 (out.empty() || durable_on(out) >= out.size() / 2 + 1);
        };
        const bool now = quorum_of(view.voters_incoming, view.voters_outgoing);
        const bool before = !prev_in_.empty() && quorum_of(prev_in_, prev_out_);
        if (!now && !before) {
          fail(str("committed index ", i) +
               str(" is durable on only ", durable_on(view.voters_incoming)) +
               str(" of ", view.voters_incoming.size()) + " voters");
        }
      }
      checked_index_ = i;
    }
    prev_in_ = view.voters_incoming;
    prev_out_ = view.voters_outgoing;
  }

 private:
  committed_history history_;
  std::uint64_t checked_index_ = 0;
  std::vector<node_id> prev_in_, prev_out_;
};

/// MonotonicTerm: a replica's term never decreases, across restarts too.
class monotonic_term final : public checker {
 public:
  std::string_view name() const override { return "MonotonicTerm"; }
  void on_step(const cluster_view& view) override {
    for (const auto& r : view.replicas) {
      if (!r.core) continue;
      auto& last = term_[r.id.value];
      if (r.core->term().value < last) fail(str("term of node ", r.id.value) + " decreased");
      last = r.core->term().value;
    }
  }

 private:
  std::map<std::uint64_t, std::uint64_t> term_;
};

/// MonotonicCommit: within an incarnation the commit index never
/// decreases; across the cluster the committed prefix only grows.
class monotonic_commit final : public checker {
 public:
  std::string_view name() const override { return "MonotonicCommit"; }
  void on_step(const cluster_view& view) override {
    for (const auto& r : view.replicas) {
      if (!r.core) continue;
      auto& last = commit_[r.id.value];
      if (last.first == r.incarnation && r.core->log().committed().value < last.second) {
        fail(str("commit index of node ", r.id.value) + " decreased");
      }
      last = {r.incarnation, r.core->log().committed().value};
    }
  }

 private:
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> commit_;
};

/// AppliedLeqCommittedLeqDurable: applied <= committed <= persisted <=
/// durable on disk, on every replica between steps.
class applied_committed_durable final : public checker {
 public:
  std::string_view name() const override { return "AppliedLeqCommittedLeqDurable"; }
  void on_step(const cluster_view& view) override {
    for (const auto& r : view.replicas) {
      if (!r.core) continue;
      const auto& log = r.core->log();
      if (log.applied() > log.committed())
        fail(str("node ", r.id.value) + " applied beyond commit");
      if (log.committed() > log.persisted())
        fail(str("node ", r.id.value) + " committed beyond its persisted log");
      if (r.disk && log.persisted() > r.disk->durable_last_index()) {
        fail(str("node ", r.id.value) + " believes entries durable that the disk does not hold");
      }
    }
  }
};

}  // namespace

std::vector<std::unique_ptr<checker>> make_checkers() {
  std::vector<std::unique_ptr<checker>> v;
  v.push_back(std::make_unique<election_safety>());
  v.push_back(std::make_unique<leader_append_only>());
  v.push_back(std::make_unique<log_matching>());
  v.push_back(std::make_unique<leader_completeness>());
  v.push_back(std::make_unique<state_machine_safety>());
  v.push_back(std::make_unique<committed_is_durable>());
  v.push_back(std::make_unique<monotonic_term>());
  v.push_back(std::make_unique<monotonic_commit>());
  v.push_back(std::make_unique<applied_committed_durable>());
  return v;
}

}  // namespace cairn::sim
