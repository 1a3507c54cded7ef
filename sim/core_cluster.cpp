// sim/core_cluster.cpp — see core_cluster.h.
#include "sim/core_cluster.h"

#include <ostream>

#include "actors/common/assert.h"
#include "actors/raft/codec.h"

namespace cairn::raft {

std::ostream& operator<<(std::ostream& os, const shared_bytes& b) {
  return os << b.str();
}

}  // namespace cairn::raft

namespace cairn::sim {

using namespace cairn::raft;

void memory_storage::persist(const ready& rd) {
  if (rd.snap) {
    snap = *rd.snap;
    offset = snap.metadata.index;
    offset_term = snap.metadata.term;
    entries.clear();
  }
  if (rd.compaction) {
    snap = rd.compaction->snap;
    while (!entries.empty() && entries.front().index <= rd.compaction->compact_index) {
      entries.erase(entries.begin());
    }
    if (rd.compaction->compact_index > offset) {
      offset = rd.compaction->compact_index;
      offset_term = rd.compaction->compact_term;
    }
  }
  if (!rd.entries.empty()) {
    const log_index first = rd.entries.front().index;
    while (!entries.empty() && entries.back().index >= first) entries.pop_back();
    for (const auto& e : rd.entries) entries.push_back(e);
  }
  if (rd.hard) hard = *rd.hard;
}

restored_state memory_storage::restore() const {
  restored_state st;
  st.hard = hard;
  st.snap = snap;
  st.log_offset = offset;
  st.log_offset_term = offset_term;
  st.entries = entries;
  st.initial_conf = initial_conf;
  return st;
}

core_cluster::core_cluster(std::size_t n, std::uint64_t seed,
                           std::function<void(config&)> configure)
    : configure_(std::move(configure)), seed_(seed) {
  conf_state cs;
  for (std::uint64_t i = 1; i <= n; ++i) cs.voters.push_back(node_id{i});
  for (std::uint64_t i = 1; i <= n; ++i) add_node(i, cs);
}

void core_cluster::add_node(std::uint64_t id, conf_state initial) {
  replica r;
  r.cfg.id = node_id{id};
  r.cfg.random_seed = seed_;
  if (configure_) configure_(r.cfg);
  r.storage.initial_conf = std::move(initial);
  r.core = std::make_unique<core>(r.cfg, r.storage.restore());
  nodes_.insert_or_assign(node_id{id}, std::move(r));
}

std::vector<node_id> core_cluster::ids() const {
  std::vector<node_id> out;
  for (const auto& [id, _] : nodes_) out.push_back(id);
  return out;
}

void core_cluster::handle_ready(replica& r) {
  while (r.core->has_ready()) {
    ready rd = r.core->get_ready();
    r.storage.persist(rd);
    for (auto& om : rd.messages) {
      if (isolated_[om.msg.from] || isolated_[om.msg.to]) continue;
      queue_.push_back(std::move(om.msg));
    }
    if (rd.snap) r.applied.clear();
    for (const auto& e : rd.committed_entries) {
      if (e.type == entry_type::conf_change) {
        if (auto cc = decode_conf_change(e.data)) r.core->apply_conf_change(*cc);
      } else {
        r.applied.push_back(e);
      }
    }
    for (auto& rs : rd.read_states) r.reads.push_back(rs);
    r.core->advance(rd);
  }
}

void core_cluster::process_ready() {
  for (auto& [id, r] : nodes_) handle_ready(r);
}

std::size_t core_cluster::deliver_all(std::size_t steps_max) {
  std::size_t n = 0;
  process_ready();
  while (!queue_.empty() && n < steps_max) {
    message m = std::move(queue_.front());
    queue_.pop_front();
    auto it = nodes_.find(m.to);
    if (it == nodes_.end()) continue;
    it->second.core->step(m);
    ++n;
    ++delivered_;
    handle_ready(it->second);
  }
  return n;
}

void core_cluster::tick_all() {
  for (auto& [id, r] : nodes_) {
    r.core->tick();
    handle_ready(r);
  }
}

void core_cluster::elect(std::uint64_t id) {
  node(id).campaign();
  deliver_all();
}

node_id core_cluster::leader() const {
  node_id best;
  term_t best_term{0};
  for (const auto& [id, r] : nodes_) {
    if (r.core->state() == role::leader && r.core->term() >= best_term) {
      best = id;
      best_term = r.core->term();
    }
  }
  return best;
}

void core_cluster::restart(std::uint64_t id) {
  replica& r = nodes_.at(node_id{id});
  r.core = std::make_unique<core>(r.cfg, r.storage.restore());
  r.applied.clear();
  r.reads.clear();
}

}  // namespace cairn::sim
