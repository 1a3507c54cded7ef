// actors/raft/conf_change.cpp — see conf_change.h.
#include "actors/raft/conf_change.h"

#include <algorithm>

namespace cairn::raft {
namespace {

void sorted_insert(std::vector<node_id>& v, node_id id) {
  auto it = std::lower_bound(v.begin(), v.end(), id);
  if (it == v.end() || *it != id) v.insert(it, id);
}

void sorted_erase(std::vector<node_id>& v, node_id id) {
  auto it = std::lower_bound(v.begin(), v.end(), id);
  if (it != v.end() && *it == id) v.erase(it);
}

bool sorted_contains(const std::vector<node_id>& v, node_id id) {
  return std::binary_search(v.begin(), v.end(), id);
}

}  // namespace

std::string conf_changer::check(const progress_tracker& t) {
  for (auto id : t.voters.ids()) {
    if (!t.nodes.count(id)) return "voter without progress";
  }
  for (auto id : t.learners) {
    if (!t.nodes.count(id)) return "learner without progress";
    if (t.voters.contains(id)) return "node is both voter and learner";
    if (!t.nodes.at(id).is_learner) return "learner progress not marked learner";
  }
  for (auto id : t.learners_next) {
    if (!t.voters.outgoing.contains(id)) return "learner_next not an outgoing voter";
    if (t.nodes.at(id).is_learner) return "learner_next marked learner early";
  }
  if (!t.voters.is_joint()) {
    if (!t.learners_next.empty()) return "learners_next outside joint config";
    if (t.auto_leave) return "auto_leave outside joint config";
  }
  for (const auto& [id, pr] : t.nodes) {
    if (!t.voters.contains(id) && !sorted_contains(t.learners, id)) return "progress of non-member";
    if (pr.is_learner != sorted_contains(t.learners, id)) return "learner flag mismatch";
  }
  return {};
}

void conf_changer::init_progress(progress_tracker& t, node_id id, bool learner) const {
  auto [it, inserted] = t.nodes.try_emplace(id, last_index_ + 1, t.inflight_messages_max(),
                                            t.inflight_bytes_max(), learner);
  (void)inserted;
  // A new member counts as active so that check-quorum does not depose a
  // leader before the newcomer had a chance to answer.
  it->second.recent_active = true;
}

void conf_changer::make_voter(progress_tracker& t, node_id id) const {
  auto it = t.nodes.find(id);
  if (it == t.nodes.end()) {
    init_progress(t, id, false);
  } else {
    it->second.is_learner = false;
  }
  sorted_erase(t.learners, id);
  sorted_erase(t.learners_next, id);
  t.voters.incoming.insert(id);
}

void conf_changer::make_learner(progress_tracker& t, node_id id) const {
  auto it = t.nodes.find(id);
  if (it == t.nodes.end()) {
    init_progress(t, id, true);
    sorted_insert(t.learners, id);
    return;
  }
  if (it->second.is_learner) return;
  t.voters.incoming.erase(id);
  if (t.voters.outgoing.contains(id)) {
    // Still a voter of the outgoing half: becomes a learner on leave (C3).
    sorted_insert(t.learners_next, id);
  } else {
    it->second.is_learner = true;
    sorted_insert(t.learners, id);
  }
}

void conf_changer::remove(progress_tracker& t, node_id id) const {
  if (!t.nodes.count(id)) return;
  t.voters.incoming.erase(id);
  sorted_erase(t.learners, id);
  sorted_erase(t.learners_next, id);
  if (!t.voters.outgoing.contains(id)) t.nodes.erase(id);
}

std::string conf_changer::apply(const std::vector<conf_change_single>& changes,
                                progress_tracker& t) const {
  for (const auto& c : changes) {
    if (c.node.is_none()) return "conf change names node 0";
    switch (c.kind) {
      case conf_change_kind::add_voter:
        make_voter(t, c.node);
        break;
      case conf_change_kind::add_learner:
        make_learner(t, c.node);
        break;
      case conf_change_kind::remove_node:
        remove(t, c.node);
        break;
    }
  }
  if (t.voters.incoming.empty()) return "removing all voters";  // C4
  return check(t);
}

std::string conf_changer::enter_joint(bool auto_leave,
                                      const std::vector<conf_change_single>& changes,
                                      progress_tracker& out) const {
  if (tracker_.voters.is_joint()) return "already in a joint configuration";  // C1
  if (tracker_.voters.incoming.empty()) return "cannot enter joint from an empty configuration";
  progress_tracker t = tracker_;
  t.voters.outgoing = t.voters.incoming;
  if (auto err = apply(changes, t); !err.empty()) return err;
  t.auto_leave = auto_leave;
  if (auto err = check(t); !err.empty()) return err;
  out = std::move(t);
  return {};
}

std::string conf_changer::leave_joint(progress_tracker& out) const {
  if (!tracker_.voters.is_joint()) return "not in a joint configuration";
  progress_tracker t = tracker_;
  for (auto id : t.learners_next) {  // C3
    sorted_insert(t.learners, id);
    t.nodes.at(id).is_learner = true;
  }
  t.learners_next.clear();
  for (auto id : t.voters.outgoing.ids()) {
    if (!t.voters.incoming.contains(id) && !sorted_contains(t.learners, id)) t.nodes.erase(id);
  }
  t.voters.outgoing = majority_config{};
  t.auto_leave = false;
  if (auto err = check(t); !err.empty()) return err;
  out = std::move(t);
  return {};
}

std::string conf_changer::simple(const std::vector<conf_change_single>& changes,
                                 progress_tracker& out) const {
  if (tracker_.voters.is_joint()) return "cannot apply a simple change in a joint configuration";
  progress_tracker t = tracker_;
  if (auto err = apply(changes, t); !err.empty()) return err;
  // C2: symmetric difference of the voter sets is at most one.
  std::size_t diff = 0;
  for (auto id : t.voters.incoming.ids()) diff += tracker_.voters.incoming.contains(id) ? 0 : 1;
  for (auto id : tracker_.voters.incoming.ids()) diff += t.voters.incoming.contains(id) ? 0 : 1;
  if (diff > 1) return "more than one voter changed without joint consensus";
  out = std::move(t);
  return {};
}

progress_tracker conf_changer::restore(const conf_state& cs, log_index last_index,
                                       std::size_t inflight_messages_max,
                                       std::uint64_t inflight_bytes_max) {
  progress_tracker t(inflight_messages_max, inflight_bytes_max);
  t.voters.incoming = majority_config(cs.voters);
  t.voters.outgoing = majority_config(cs.voters_outgoing);
  t.learners = cs.learners;
  std::sort(t.learners.begin(), t.learners.end());
  t.learners_next = cs.learners_next;
  std::sort(t.learners_next.begin(), t.learners_next.end());
  t.auto_leave = cs.auto_leave;
  for (auto id : t.voters.ids()) {
    auto [it, _] =
        t.nodes.try_emplace(id, last_index + 1, inflight_messages_max, inflight_bytes_max, false);
    it->second.recent_active = true;
  }
  for (auto id : t.learners) {
    auto [it, _] =
        t.nodes.try_emplace(id, last_index + 1, inflight_messages_max, inflight_bytes_max, true);
    it->second.is_learner = true;
    it->second.recent_active = true;
  }
  return t;
}

}  // namespace cairn::raft
